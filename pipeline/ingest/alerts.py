"""Tell a chat channel about a bad data file: one JSON message, POSTed to a webhook.

Standard library only (urllib, no Flask, pandas or numpy): the ingestion step calls this for a
file whose problems reach the criticality set in the settings, and a webhook that is slow, dead
or wrong must never fail or stall that step (issue 3, item 6). So `send` never raises: every
failure comes back in a `Delivery` and is logged on the "riskwatch" logger.

This module says what an alert is and writes it (`Alert`, `at_least`, `message`); `webhook`
delivers it (attempts, retries, the deadline). `send`, `Delivery` and `target` are offered
from here, so callers need only this module.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.ingest.webhook import Delivery, deliver, not_delivered, target, url_problem
from pipeline.settings.table import default
from pipeline.vocabulary import CRITICALITIES, criticality_rank

__all__ = ["Alert", "Delivery", "at_least", "message", "post", "send", "target"]

log = logging.getLogger("riskwatch")

_LEVELS = ", ".join(CRITICALITIES)
_CARD_COLOR = {"low": "Default", "medium": "Warning", "high": "Attention"}


def at_least(criticality: str | None, minimum: str) -> bool:
    """Whether `criticality` is `minimum` or worse; None (no problem at all) never is."""
    if minimum not in CRITICALITIES:
        raise ValueError(f"unknown minimum criticality {minimum!r}: expected one of {_LEVELS}")
    if criticality is None:
        return False
    if criticality not in CRITICALITIES:
        raise ValueError(f"unknown criticality {criticality!r}: expected one of {_LEVELS}")
    return criticality_rank(criticality) >= criticality_rank(minimum)


@dataclass(frozen=True)
class Alert:
    """What one alert says about one file."""

    file_name: str
    criticality: str
    rows_read: int
    rows_invalid: int
    errors_by_type: dict[str, int]
    report_url: str | None
    run_id: str

    def __post_init__(self) -> None:
        if self.criticality not in CRITICALITIES:
            raise ValueError(f"unknown criticality {self.criticality!r}: expected one of {_LEVELS}")
        for name in ("rows_read", "rows_invalid"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a count (an int >= 0), got {value!r}")
        # A copy: the caller's dict may change after the alert is made; this one must not.
        object.__setattr__(self, "errors_by_type", dict(self.errors_by_type))


def _sorted_errors(errors: Mapping[str, int]) -> list[tuple[str, int]]:
    """Error types, most frequent first, then by name."""
    return sorted(errors.items(), key=lambda item: (-item[1], item[0]))


def _display(text: str) -> str:
    """`text` on one line: newlines, tabs and other unprintable characters shown as escapes."""
    # A file name with a newline would otherwise break the one-paragraph summary (and could
    # fake a second line in the channel); the exact name is in the "riskwatch" fields.
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
        for c in text
    )


def _slack_escape(text: str) -> str:
    # Slack reads &, < and > as control characters (links, @channel and user mentions), and
    # documents replacing them with HTML entities when they are meant literally:
    # https://api.slack.com/reference/surfaces/formatting ("Escaping text"). A file named
    # "<!channel>.csv" must not ping a whole channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_code(text: str) -> str:
    """`text` as Slack inline code (so * _ ~ in a file name stay literal), escaped."""
    shown = _slack_escape(_display(text))
    return shown if "`" in shown else f"`{shown}`"


def _is_web_url(url: str | None) -> bool:
    return url is not None and urllib.parse.urlsplit(url).scheme in ("http", "https")


def _slack_link(url: str, label: str) -> str:
    # Inside <url|label>, "|" and ">" end the URL; percent-encoding keeps it the same address.
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{safe}|{label}>"


def _summary(alert: Alert) -> tuple[str, str]:
    """The counts and the error types, as plain text: ('12 of 1,000 rows invalid', 'a: 3, ...')."""
    counts = f"{alert.rows_invalid:,} of {alert.rows_read:,} rows invalid"
    errors = ", ".join(f"{name}: {count:,}" for name, count in _sorted_errors(alert.errors_by_type))
    return counts, errors or "no error types recorded"


def _text(alert: Alert) -> str:
    """The one-paragraph summary in Slack mrkdwn (which legacy Teams connectors also show)."""
    counts, errors = _summary(alert)
    if alert.report_url is None:
        report = "no report"
    elif _is_web_url(alert.report_url):
        report = _slack_link(alert.report_url, "quality report")
    else:
        # Slack turns only web addresses into links; a file:// path is shown as it is.
        report = f"report: {_slack_code(alert.report_url)}"
    level = alert.criticality.upper()
    return (
        f"*{level}* data-quality alert for file {_slack_code(alert.file_name)}: "
        f"{counts} ({_slack_escape(_display(errors))}); {report}; "
        f"run {_slack_code(alert.run_id)}."
    )


def _card(alert: Alert) -> dict[str, Any]:
    """The Adaptive Card that Teams shows (incoming webhooks and Workflows)."""
    counts, errors = _summary(alert)
    file_name = _display(alert.file_name)
    facts = [
        {"title": "File", "value": file_name},
        {"title": "Criticality", "value": alert.criticality.upper()},
        {"title": "Rows read", "value": f"{alert.rows_read:,}"},
        {"title": "Rows invalid", "value": f"{alert.rows_invalid:,}"},
        *(
            {"title": name, "value": f"{count:,}"}
            for name, count in _sorted_errors(alert.errors_by_type)
        ),
        {"title": "Report", "value": _display(alert.report_url or "none")},
        {"title": "Run", "value": _display(alert.run_id)},
    ]
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "fallbackText": f"{alert.criticality.upper()} data-quality alert: {file_name}: {counts}",
        "body": [
            {
                "type": "TextBlock",
                "text": f"{alert.criticality.upper()}: data-quality problems in {file_name}",
                "weight": "Bolder",
                "size": "Medium",
                "color": _CARD_COLOR[alert.criticality],
                "wrap": True,
            },
            {"type": "TextBlock", "text": f"{counts} ({errors})", "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    # A button only for a web address: a file:// link opens nothing from a Teams client in
    # another place; the path is still in the "Report" fact.
    if _is_web_url(alert.report_url):
        card["actions"] = [
            {"type": "Action.OpenUrl", "title": "Open the quality report", "url": alert.report_url}
        ]
    return card


def message(alert: Alert) -> dict[str, Any]:
    """The JSON body that Slack and Microsoft Teams incoming webhooks both accept.

    - "text": Slack incoming webhooks post it as the message (mrkdwn); legacy Teams connectors
      show it too. Slack: https://docs.slack.dev/tools/java-slack-sdk/guides/incoming-webhooks
      (a JSON payload with "text" POSTed as application/json).
    - "type": "message" and "attachments": [Adaptive Card] is the shape Teams documents for
      cards sent to an incoming webhook ("type" must be "message", "contentType" must be
      application/vnd.microsoft.card.adaptive, "content" is the card): MicrosoftDocs/msteams-docs,
      msteams-platform/webhooks-and-connectors/how-to/connectors-using.md, "Send adaptive cards
      using an incoming webhook". Teams Workflows ("When a Teams webhook request is received")
      post attachments[0].content, the same card. Card elements (TextBlock, FactSet,
      Action.OpenUrl): https://adaptivecards.io/explorer/TextBlock.html.
    - "riskwatch": the same facts, unformatted, for any other receiver (exact file name).
    """
    return {
        "type": "message",
        "text": _text(alert),
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": _card(alert),
            }
        ],
        "riskwatch": {
            "file": alert.file_name,
            "criticality": alert.criticality,
            "rows_read": alert.rows_read,
            "rows_invalid": alert.rows_invalid,
            "errors_by_type": dict(_sorted_errors(alert.errors_by_type)),
            "report": alert.report_url,
            "run_id": alert.run_id,
        },
    }


def send(
    url: str,
    alert: Alert,
    *,
    timeout: float = default("alerts.timeout_seconds"),
    retries: int = default("alerts.retries"),
    backoff: float = 0.5,
    deadline: float = default("alerts.deadline_seconds"),
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """POST `message(alert)` to the webhook at `url`; never raises, never outlasts `deadline`.

    Retries (at most `retries` times) after no answer, a timeout, HTTP 429 or 5xx, waiting
    `backoff * 2**n` seconds before retry n+1, or the answer's numeric Retry-After. Other
    answers (2xx, 3xx, 4xx) are final. Each attempt gets `timeout` seconds, or what is left of
    `deadline` if that is less; a wait that would end past the deadline is not begun. The
    waits are `sleep`'s and the deadline is kept by `clock` (monotonic seconds).
    """
    start = clock()
    file_name = getattr(alert, "file_name", "?")
    problem = url_problem(url)
    if problem is not None:
        log.warning("alert for %r not sent: %s", file_name, problem)
        return Delivery(False, 0, None, problem, 0.0)
    try:
        # ASCII JSON: non-ASCII names travel as \u escapes, and so do lone surrogates (an
        # undecodable byte in a file name), which UTF-8 could not encode at all.
        body = json.dumps(message(alert), ensure_ascii=True).encode("ascii")
    except Exception as exc:  # a malformed alert is reported, not raised: see the docstring
        return not_delivered(
            file_name, start, 0, None, f"the alert cannot be written as JSON: {exc}", clock
        )
    return deliver(
        url,
        body,
        file_name,
        timeout=timeout,
        retries=retries,
        backoff=backoff,
        deadline=deadline,
        sleep=sleep,
        start=start,
        clock=clock,
    )


def post(
    url: str,
    body: dict[str, Any],
    what: str,
    *,
    timeout: float = default("alerts.timeout_seconds"),
    retries: int = default("alerts.retries"),
    deadline: float = default("alerts.deadline_seconds"),
) -> Delivery:
    """POST another kind of alert's JSON `body` (prediction health) as `send` does: the same
    retries, backoff and deadline; never raises. `what` names it in the log."""
    start = time.monotonic()
    problem = url_problem(url)
    if problem is not None:
        log.warning("alert for %r not sent: %s", what, problem)
        return Delivery(False, 0, None, problem, 0.0)
    data = json.dumps(body, ensure_ascii=True).encode("ascii")
    return deliver(
        url,
        data,
        what,
        timeout=timeout,
        retries=retries,
        backoff=0.5,
        deadline=deadline,
        sleep=time.sleep,
        start=start,
    )
