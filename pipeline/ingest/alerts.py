"""Tell a chat channel about a bad data file: one JSON message, POSTed to a webhook.

Standard library only (urllib, no Flask, pandas or numpy): the ingestion step calls this for a
file whose problems reach the criticality set in the settings, and a webhook that is slow, dead
or wrong must never fail or stall that step (issue 3, item 6). So `send` never raises: every
failure comes back in a `Delivery` and is logged on the "riskwatch" logger.

The webhook URL is a secret (Slack and Teams put the token in the path), so logs and errors
name only its scheme, host and port.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("riskwatch")

CRITICALITY_ORDER = ("low", "medium", "high")

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# How much of a webhook's answer is kept for the error message.
_BODY_BYTES = 2048
_CARD_COLOR = {"low": "Default", "medium": "Warning", "high": "Attention"}


def at_least(criticality: str | None, minimum: str) -> bool:
    """Whether `criticality` is `minimum` or worse; None (no problem at all) never is."""
    if minimum not in CRITICALITY_ORDER:
        raise ValueError(
            f"unknown minimum criticality {minimum!r}: expected one of low, medium, high"
        )
    if criticality is None:
        return False
    if criticality not in CRITICALITY_ORDER:
        raise ValueError(f"unknown criticality {criticality!r}: expected one of low, medium, high")
    return CRITICALITY_ORDER.index(criticality) >= CRITICALITY_ORDER.index(minimum)


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
        if self.criticality not in CRITICALITY_ORDER:
            raise ValueError(
                f"unknown criticality {self.criticality!r}: expected one of low, medium, high"
            )
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


@dataclass(frozen=True)
class Delivery:
    """What became of one alert: delivered or not, after how many attempts, and why not."""

    delivered: bool
    attempts: int
    status_code: int | None
    error: str | None
    seconds: float


@dataclass
class _Outcome:
    """One attempt's result."""

    status: int | None = None
    error: str | None = None
    retry: bool = False
    retry_after: float | None = None


class _Watch:
    """The connections one attempt opens, so a timer can cut them at the attempt's end.

    A socket timeout bounds each read, not the whole answer: a server that drips a byte now
    and then would hold an attempt open for ever. Shutting the socket down from the timer
    ends the blocked read at once.
    """

    def __init__(self) -> None:
        self.cut_off = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def connection_class(
        self, base: type[http.client.HTTPConnection]
    ) -> type[http.client.HTTPConnection]:
        """`base`, remembering each socket it connects (urllib drops its own reference to it
        once the headers are in, while the body is still to be read)."""
        watch = self

        class Watched(base):  # type: ignore[valid-type,misc]
            def connect(self) -> None:
                super().connect()
                watch.add(self.sock)

        return Watched

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.cut_off:
                _shutdown(sock)

    def cut(self) -> None:
        with self._lock:
            self.cut_off = True
            for sock in self._sockets:
                _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    # The plain socket's shutdown, also for TLS: SSLSocket.shutdown would drop the TLS state
    # under the reading thread's feet.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, watch: _Watch) -> None:
        super().__init__()
        self._watch = watch

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(self._watch.connection_class(http.client.HTTPConnection), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, watch: _Watch) -> None:
        super().__init__()
        self._watch = watch

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(
            self._watch.connection_class(http.client.HTTPSConnection), req, context=self._context
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without the body; a webhook that
    # redirects is misconfigured, and the answer says so (HTTP 3xx, not retried).
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def target(url: str) -> str:
    """What may be logged or stored of a webhook URL: scheme, host and port, no secret path."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _url_problem(url: Any) -> str | None:
    if not isinstance(url, str) or not url:
        return "no webhook URL"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return f"the webhook URL must start with http:// or https://, not {parts.scheme!r}"
    if not parts.hostname:
        return "the webhook URL has no host"
    try:
        parts.port  # noqa: B018 -- raises for a port that is not a number
    except ValueError:
        return "the webhook URL has an invalid port"
    return None


def _retry_after(value: str | None) -> float | None:
    """A Retry-After header in seconds; None for absent, negative or an HTTP date."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds < float("inf") else None


def _snippet(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return text[:200] or "(empty answer)"


def _attempt(url: str, body: bytes, timeout: float, where: str) -> _Outcome:
    """POST once, within `timeout` seconds in all; never raises."""
    watch = _Watch()
    proxies = {} if urllib.parse.urlsplit(url).hostname in _LOOPBACK else None
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        _NoRedirect(),
        _HTTPHandler(watch),
        _HTTPSHandler(watch),
    )
    req = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", "User-Agent": "riskwatch-alerts"},
        method="POST",
    )
    timer = threading.Timer(timeout, watch.cut)
    timer.daemon = True
    timer.start()
    try:
        try:
            with opener.open(req, timeout=timeout) as resp:
                status, raw, headers = resp.status, resp.read(_BODY_BYTES), resp.headers
        except urllib.error.HTTPError as exc:  # an answer, with an error status
            try:
                status, raw, headers = exc.code, exc.read(_BODY_BYTES), exc.headers
            finally:
                exc.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, ConnectionRefusedError):
            error = f"connection refused by {where}"
        elif isinstance(reason, ssl.SSLCertVerificationError):
            # A certificate that does not verify will not verify a second later either.
            return _Outcome(error=f"TLS certificate of {where} not trusted: {reason}")
        elif watch.cut_off or isinstance(reason, TimeoutError):
            error = f"no answer from {where} within {timeout:.2f} s"
        else:
            error = f"no answer from {where}: {type(reason).__name__}: {reason}"
        return _Outcome(error=error, retry=True)
    finally:
        timer.cancel()
        timer.join()
    if watch.cut_off:
        # Cut mid-answer: what was read (even a 200 status line) is not a whole answer.
        return _Outcome(error=f"no answer from {where} within {timeout:.2f} s", retry=True)

    # Legacy Teams connectors answer a throttled request with 200 and this text in the body:
    # connectors-using.md ("Rate limiting for connectors"), cited in `message`.
    if 200 <= status < 300 and b"Microsoft Teams endpoint returned HTTP error 429" in raw:
        status = 429
    if 200 <= status < 300:
        return _Outcome(status=status)
    return _Outcome(
        status=status,
        error=f"HTTP {status} from {where}: {_snippet(raw)}",
        retry=status == 429 or status >= 500,
        retry_after=_retry_after(headers.get("Retry-After") if headers else None),
    )


def send(
    url: str,
    alert: Alert,
    *,
    timeout: float = 5.0,
    retries: int = 3,
    backoff: float = 0.5,
    deadline: float = 15.0,
    sleep: Callable[[float], object] = time.sleep,
) -> Delivery:
    """POST `message(alert)` to the webhook at `url`; never raises, never outlasts `deadline`.

    Retries (at most `retries` times) after no answer, a timeout, HTTP 429 or 5xx, waiting
    `backoff * 2**n` seconds before retry n+1, or the answer's numeric Retry-After. Other
    answers (2xx, 3xx, 4xx) are final. Each attempt gets `timeout` seconds, or what is left of
    `deadline` if that is less; a wait that would end past the deadline is not begun.
    """
    start = time.monotonic()
    file_name = getattr(alert, "file_name", "?")

    def give_up(attempts: int, status: int | None, error: str) -> Delivery:
        seconds = time.monotonic() - start
        log.warning(
            "alert for %r not delivered (%d attempt(s), %.2f s): %s",
            file_name,
            attempts,
            seconds,
            error,
        )
        return Delivery(False, attempts, status, error, seconds)

    problem = _url_problem(url)
    if problem is not None:
        log.warning("alert for %r not sent: %s", file_name, problem)
        return Delivery(False, 0, None, problem, 0.0)
    where = target(url)
    try:
        # ASCII JSON: non-ASCII names travel as \u escapes, and so do lone surrogates (an
        # undecodable byte in a file name), which UTF-8 could not encode at all.
        body = json.dumps(message(alert), ensure_ascii=True).encode("ascii")
    except Exception as exc:  # a malformed alert is reported, not raised: see the docstring
        return give_up(0, None, f"the alert cannot be written as JSON: {exc}")
    try:
        usable = timeout > 0 and deadline > 0 and backoff >= 0 and int(retries) == retries
    except (TypeError, ValueError):
        usable = False
    if not usable:
        return give_up(
            0, None, "timeout and deadline must be > 0, backoff >= 0 and retries a whole number"
        )

    attempts = 0
    outcome = _Outcome()
    retries = max(int(retries), 0)
    for n in range(retries + 1):
        left = deadline - (time.monotonic() - start)
        if left <= 0:
            return give_up(
                attempts,
                outcome.status,
                f"{outcome.error or 'no attempt made'}; the {deadline:g} s deadline has passed",
            )
        attempts += 1
        try:
            outcome = _attempt(url, body, min(timeout, left), where)
        except Exception as exc:  # a bug here must not fail the run either
            outcome = _Outcome(error=f"unexpected {type(exc).__name__}: {exc}")
        if outcome.error is None:
            seconds = time.monotonic() - start
            log.info(
                "alert for %r delivered to %s (HTTP %s, attempt %d, %.2f s)",
                file_name,
                where,
                outcome.status,
                attempts,
                seconds,
            )
            return Delivery(True, attempts, outcome.status, None, seconds)
        if not outcome.retry or n == retries:
            break
        wait = outcome.retry_after if outcome.retry_after is not None else backoff * 2**n
        left = deadline - (time.monotonic() - start)
        if wait >= left:
            return give_up(
                attempts,
                outcome.status,
                f"{outcome.error}; the next attempt (in {wait:g} s) would pass "
                f"the {deadline:g} s deadline",
            )
        log.info(
            "alert for %r: attempt %d failed (%s); retrying in %.2f s",
            file_name,
            attempts,
            outcome.error,
            wait,
        )
        sleep(wait)
    return give_up(attempts, outcome.status, outcome.error or "no attempt made")
