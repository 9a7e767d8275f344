"""Webhook alerts against real HTTP servers on 127.0.0.1: the message, retries and time bounds."""

from __future__ import annotations

import json
import logging
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipeline.ingest import webhook as webhook_module
from pipeline.ingest.alerts import Alert, Delivery, at_least, message, send, target
from tests.conftest import REPO

SECRET_PATH = "/services/T000/B000/s3cr3t-token"


@dataclass
class Reply:
    """How the test webhook answers one POST: "answer", "hang" (never) or "drip" (forever)."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "answer"


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class Webhook:
    """A scripted webhook: each POST takes the next reply; the last one repeats."""

    def __init__(self, replies: list[Reply]) -> None:
        self.replies = list(replies)
        self.received: list[Received] = []
        self.release = threading.Event()  # ends "hang" and "drip" replies at teardown
        self.url = ""
        self._lock = threading.Lock()

    def take(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


class _Server(ThreadingHTTPServer):
    hook: Webhook


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        hook = self.server.hook
        reply = hook.take(Received(self.command, self.path, dict(self.headers), body))
        if reply.mode == "hang":
            hook.release.wait(30)
            self.close_connection = True
            return
        if reply.mode == "drip":
            # A status line, then a header that never ends: a byte every 0.1 s, so no single
            # read ever waits long enough for a socket timeout.
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while not hook.release.wait(0.1):
                    self.wfile.write(b"a")
            except OSError:
                pass
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)
        self.close_connection = True


@pytest.fixture
def webhook() -> Iterator[Callable[..., Webhook]]:
    """Start a scripted webhook server on 127.0.0.1 (port 0); all are shut down at the end."""
    started: list[tuple[_Server, threading.Thread, Webhook]] = []

    def start(*replies: Reply) -> Webhook:
        hook = Webhook(list(replies) or [Reply()])
        server = _Server(("127.0.0.1", 0), _Handler)
        server.hook = hook
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.start()
        started.append((server, thread, hook))
        hook.url = f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
        return hook

    yield start
    for server, thread, hook in started:
        hook.release.set()
        server.shutdown()
        thread.join(10)
        server.server_close()  # also joins the request threads


class Sleeps:
    """A `sleep` that records the waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def dead_url() -> str:
    """A loopback URL on which nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}{SECRET_PATH}"


def make_alert(**changes: object) -> Alert:
    fields: dict = {
        "file_name": "customers_2024-05-01.csv",
        "criticality": "high",
        "rows_read": 1000,
        "rows_invalid": 13,
        "errors_by_type": {"missing_column": 1, "out_of_range": 12, "duplicate_id": 1},
        "report_url": "http://reports.example/quality/customers.html?run=ab12&file=3",
        "run_id": "ab12cd34",
    }
    fields.update(changes)
    return Alert(**fields)


# -- the message --------------------------------------------------------------------------


def test_the_receiver_gets_one_post_with_every_field(webhook: Callable[..., Webhook]) -> None:
    hook = webhook(Reply(200, b"ok"))
    alert = make_alert()

    delivery = send(hook.url, alert)

    assert delivery == Delivery(True, 1, 200, None, delivery.seconds)
    assert len(hook.received) == 1
    got = hook.received[0]
    assert (got.method, got.path) == ("POST", SECRET_PATH)
    assert got.headers["Content-Type"] == "application/json"
    body = got.json()
    assert body == message(alert)

    # The machine-readable fields, exact; error types most frequent first.
    assert body["riskwatch"] == {
        "file": "customers_2024-05-01.csv",
        "criticality": "high",
        "rows_read": 1000,
        "rows_invalid": 13,
        "errors_by_type": {"out_of_range": 12, "duplicate_id": 1, "missing_column": 1},
        "report": "http://reports.example/quality/customers.html?run=ab12&file=3",
        "run_id": "ab12cd34",
    }
    assert list(body["riskwatch"]["errors_by_type"]) == [
        "out_of_range",
        "duplicate_id",
        "missing_column",
    ]

    # Slack: one paragraph of mrkdwn with the level, file, counts, errors, link and run.
    text = body["text"]
    assert "\n" not in text
    assert text.startswith("*HIGH* data-quality alert for file `customers_2024-05-01.csv`: ")
    assert "13 of 1,000 rows invalid (out_of_range: 12, duplicate_id: 1, missing_column: 1)" in (
        text
    )
    # & in a link is escaped as Slack documents it.
    link = "<http://reports.example/quality/customers.html?run=ab12&amp;file=3|quality report>"
    assert link in text
    assert "run `ab12cd34`" in text

    # Teams: a message with one Adaptive Card attachment.
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert [element["type"] for element in card["body"]] == ["TextBlock", "TextBlock", "FactSet"]
    assert all(element["text"] for element in card["body"] if element["type"] == "TextBlock")
    assert card["body"][0]["text"] == "HIGH: data-quality problems in customers_2024-05-01.csv"
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts == {
        "File": "customers_2024-05-01.csv",
        "Criticality": "HIGH",
        "Rows read": "1,000",
        "Rows invalid": "13",
        "out_of_range": "12",
        "duplicate_id": "1",
        "missing_column": "1",
        "Report": "http://reports.example/quality/customers.html?run=ab12&file=3",
        "Run": "ab12cd34",
    }
    assert card["actions"] == [
        {
            "type": "Action.OpenUrl",
            "title": "Open the quality report",
            "url": "http://reports.example/quality/customers.html?run=ab12&file=3",
        }
    ]


@pytest.mark.parametrize(
    ("name", "shown_in_text", "shown_in_card"),
    [
        ('say "hi".csv', '`say "hi".csv`', 'say "hi".csv'),
        ("<!channel> & <@U123>.csv", "`&lt;!channel&gt; &amp; &lt;@U123&gt;.csv`", None),
        ("two\nlines\r\t.csv", r"`two\nlines\r\t.csv`", r"two\nlines\r\t.csv"),
        ("naïve 日本語 🚀.csv", "`naïve 日本語 🚀.csv`", "naïve 日本語 🚀.csv"),
        ("back`tick *bold*.csv", "back`tick *bold*.csv", "back`tick *bold*.csv"),
        ("bad-byte-\udcff.csv", r"`bad-byte-\udcff.csv`", r"bad-byte-\udcff.csv"),
        ("\u2028\x1b[31mred.csv", r"`\u2028\x1b[31mred.csv`", r"\u2028\x1b[31mred.csv"),
    ],
)
def test_hostile_file_names_survive_the_round_trip(
    webhook: Callable[..., Webhook], name: str, shown_in_text: str, shown_in_card: str | None
) -> None:
    hook = webhook(Reply())
    assert send(hook.url, make_alert(file_name=name, run_id=name)).delivered

    body = hook.received[0].json()
    assert body["riskwatch"]["file"] == name
    assert body["riskwatch"]["run_id"] == name
    text = body["text"]
    assert f"for file {shown_in_text}: " in text
    assert not any(c in text for c in "\n\r\u2028\x1b")
    assert "<!channel>" not in text and "<@U123>" not in text
    facts = {
        fact["title"]: fact["value"]
        for fact in body["attachments"][0]["content"]["body"][2]["facts"]
    }
    # Adaptive Cards do not read HTML, so < and & stay as they are there.
    assert facts["File"] == (shown_in_card or name)


def test_a_file_report_is_shown_not_linked_and_none_is_said() -> None:
    body = message(make_alert(report_url="file:///srv/riskwatch/reports/q|a>b.html"))
    assert "report: `file:///srv/riskwatch/reports/q|a&gt;b.html`" in body["text"]
    card = body["attachments"][0]["content"]
    assert "actions" not in card
    facts = {fact["title"]: fact["value"] for fact in card["body"][2]["facts"]}
    assert facts["Report"] == "file:///srv/riskwatch/reports/q|a>b.html"

    body = message(make_alert(report_url=None, errors_by_type={}))
    assert "; no report; " in body["text"]
    assert "(no error types recorded)" in body["text"]
    assert body["riskwatch"]["report"] is None
    assert "actions" not in body["attachments"][0]["content"]


def test_a_link_with_slack_delimiters_keeps_its_address() -> None:
    text = message(make_alert(report_url="https://r.example/a|b<c>d"))["text"]
    assert "<https://r.example/a%7Cb%3Cc%3Ed|quality report>" in text


def test_an_alert_refuses_an_unknown_criticality_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="unknown criticality 'urgent'"):
        make_alert(criticality="urgent")
    with pytest.raises(ValueError, match="rows_invalid must be a count"):
        make_alert(rows_invalid=-1)


def test_an_alert_keeps_its_own_copy_of_the_counts() -> None:
    errors = {"out_of_range": 2}
    alert = make_alert(errors_by_type=errors)
    errors["out_of_range"] = 99
    assert alert.errors_by_type == {"out_of_range": 2}


# -- retries -------------------------------------------------------------------------------


def test_two_500s_then_200_is_delivered_on_the_third_attempt(
    webhook: Callable[..., Webhook],
) -> None:
    hook = webhook(Reply(500, b"oops"), Reply(502, b"bad gateway"), Reply(200, b"ok"))
    sleeps = Sleeps()

    delivery = send(hook.url, make_alert(), backoff=0.5, sleep=sleeps)

    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (True, 3, 200)
    assert delivery.error is None
    assert sleeps.waits == [0.5, 1.0]  # backoff * 2**attempt
    assert len(hook.received) == 3
    assert len({r.body for r in hook.received}) == 1  # the same message each time


def test_500_for_ever_gives_up_after_retries_plus_one_within_the_deadline(
    webhook: Callable[..., Webhook], caplog: pytest.LogCaptureFixture
) -> None:
    hook = webhook(Reply(500, b"internal error"))
    sleeps = Sleeps()
    # The deadline's clock is the waits alone: the count cannot depend on the machine's load.
    clock = lambda: sum(sleeps.waits)  # noqa: E731
    t0 = time.monotonic()
    with caplog.at_level(logging.INFO, logger="riskwatch"):
        delivery = send(
            hook.url, make_alert(), retries=3, backoff=0.05, deadline=5.0, sleep=sleeps, clock=clock
        )
    elapsed = time.monotonic() - t0

    assert not delivery.delivered
    assert (delivery.attempts, delivery.status_code) == (4, 500)
    assert len(hook.received) == 4
    assert sleeps.waits == [0.05, 0.1, 0.2]
    port = urllib.parse.urlsplit(hook.url).port
    assert delivery.error == f"HTTP 500 from http://127.0.0.1:{port}: internal error"
    assert delivery.seconds == pytest.approx(0.35)
    assert elapsed < 10  # bounds a hang; not a speed test
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not delivered (4 attempt(s)" in warnings[0].getMessage()
    # The webhook's secret path is in no log line and no error.
    assert "s3cr3t" not in caplog.text and "s3cr3t" not in delivery.error


def test_404_is_not_retried(webhook: Callable[..., Webhook]) -> None:
    hook = webhook(Reply(404, b"no_team"), Reply(200))
    sleeps = Sleeps()

    delivery = send(hook.url, make_alert(), sleep=sleeps)

    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (False, 1, 404)
    assert delivery.error is not None and delivery.error.endswith(": no_team")
    assert sleeps.waits == [] and len(hook.received) == 1


def test_a_redirect_is_not_followed_nor_retried(webhook: Callable[..., Webhook]) -> None:
    target = webhook(Reply(200))
    hook = webhook(Reply(302, b"", {"Location": target.url}))

    delivery = send(hook.url, make_alert(), sleep=Sleeps())

    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (False, 1, 302)
    assert target.received == []


def test_429_waits_as_long_as_retry_after_says(webhook: Callable[..., Webhook]) -> None:
    hook = webhook(Reply(429, b"slow down", {"Retry-After": "3"}), Reply(200))
    sleeps = Sleeps()

    delivery = send(hook.url, make_alert(), backoff=0.5, deadline=15.0, sleep=sleeps)

    assert (delivery.delivered, delivery.attempts) == (True, 2)
    assert sleeps.waits == [3.0]


def test_429_without_a_numeric_retry_after_backs_off(webhook: Callable[..., Webhook]) -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    hook = webhook(Reply(429, b"", {"Retry-After": date}), Reply(503), Reply(200))
    sleeps = Sleeps()

    delivery = send(hook.url, make_alert(), backoff=0.25, sleep=sleeps)

    assert (delivery.delivered, delivery.attempts) == (True, 3)
    assert sleeps.waits == [0.25, 0.5]


def test_a_retry_after_past_the_deadline_is_not_waited_for(
    webhook: Callable[..., Webhook],
) -> None:
    hook = webhook(Reply(429, b"", {"Retry-After": "60"}), Reply(200))
    sleeps = Sleeps()

    delivery = send(hook.url, make_alert(), deadline=5.0, sleep=sleeps)

    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (False, 1, 429)
    assert sleeps.waits == []
    assert delivery.error is not None and "would pass the 5 s deadline" in delivery.error


def test_a_teams_connector_throttling_with_200_is_retried(
    webhook: Callable[..., Webhook],
) -> None:
    throttled = b"Microsoft Teams endpoint returned HTTP error 429 with ContextId ..."
    hook = webhook(Reply(200, throttled), Reply(200, b"1"))
    sleeps = Sleeps()

    delivery = send(hook.url, make_alert(), sleep=sleeps)

    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (True, 2, 200)
    assert sleeps.waits == [0.5]


# -- dead webhooks ---------------------------------------------------------------------------


def test_a_webhook_that_never_answers_is_bounded_by_the_deadline(
    webhook: Callable[..., Webhook],
) -> None:
    hook = webhook(Reply(mode="hang"))
    t0 = time.monotonic()

    delivery = send(hook.url, make_alert(), timeout=0.5, deadline=2.0, backoff=0.1)

    elapsed = time.monotonic() - t0
    assert not delivery.delivered and delivery.status_code is None
    assert delivery.error is not None and "no answer from http://127.0.0.1:" in delivery.error
    assert delivery.attempts >= 2 and len(hook.received) == delivery.attempts
    assert elapsed < 10  # bounds a hang; not a speed test


class AttemptClock:
    """A deadline clock that each attempt advances by exactly the time it was given.

    The attempts are real (a real socket, cut by the attempt's real timer); only the deadline's
    bookkeeping reads this clock, so how busy the machine is cannot change the count.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.given: list[float] = []
        real = webhook_module._safe_attempt

        def timed(url: str, body: bytes, timeout: float, where: str) -> object:
            try:
                return real(url, body, timeout, where)
            finally:
                self.given.append(timeout)
                self.now += timeout

        monkeypatch.setattr(webhook_module, "_safe_attempt", timed)

    def __call__(self) -> float:
        return self.now


def test_a_webhook_that_answers_a_byte_at_a_time_is_cut_at_the_deadline(
    webhook: Callable[..., Webhook], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each read gets a byte within 0.1 s, so only the attempt's own timer can end it.
    hook = webhook(Reply(mode="drip"))
    clock = AttemptClock(monkeypatch)
    t0 = time.monotonic()

    delivery = send(
        hook.url,
        make_alert(),
        timeout=0.5,
        deadline=1.5,
        backoff=0.1,
        sleep=Sleeps(),
        clock=clock,
    )

    elapsed = time.monotonic() - t0
    assert not delivery.delivered and delivery.status_code is None
    assert delivery.error is not None
    assert re.match(r"no answer from http://127\.0\.0\.1:\d+ within 0\.50 s", delivery.error)
    assert delivery.error.endswith("would pass the 1.5 s deadline")
    # Attempts at 0, 0.5 and 1.0 s, each cut after 0.5 s; no time is left for a fourth.
    assert clock.given == [0.5, 0.5, 0.5]
    assert delivery.attempts == 3 == len(hook.received)
    assert delivery.seconds == 1.5
    assert elapsed >= 1.5  # each real attempt ran until its own timer cut it
    assert elapsed < 10  # bounds a hang; not a speed test


def test_an_attempt_gets_only_what_is_left_of_the_deadline(
    webhook: Callable[..., Webhook], monkeypatch: pytest.MonkeyPatch
) -> None:
    hook = webhook(Reply(mode="drip"))
    clock = AttemptClock(monkeypatch)

    delivery = send(
        hook.url, make_alert(), timeout=0.5, deadline=0.8, backoff=0.0, sleep=Sleeps(), clock=clock
    )

    assert clock.given == [0.5, pytest.approx(0.3)]
    assert delivery.attempts == 2 == len(hook.received)
    assert delivery.error is not None
    assert "within 0.30 s" in delivery.error  # the second attempt was cut at what was left
    assert delivery.error.endswith("would pass the 0.8 s deadline")
    assert delivery.seconds == pytest.approx(0.8)


def test_a_closed_port_is_reported_as_refused() -> None:
    sleeps = Sleeps()
    delivery = send(dead_url(), make_alert(), retries=2, sleep=sleeps)

    assert (delivery.delivered, delivery.attempts, delivery.status_code) == (False, 3, None)
    assert delivery.error is not None
    assert delivery.error.startswith("connection refused by http://127.0.0.1:")
    assert sleeps.waits == [0.5, 1.0]


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://hooks.example/x", "must start with http:// or https://, not 'ftp'"),
        ("file:///etc/passwd", "must start with http:// or https://, not 'file'"),
        ("hooks.slack.com/services/x", "must start with http:// or https://, not ''"),
        ("", "no webhook URL"),
        ("http:///no-host", "has no host"),
        ("http://127.0.0.1:port/x", "invalid port"),
    ],
)
def test_a_url_that_is_not_http_is_refused_without_a_call(
    url: str, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="riskwatch"):
        delivery = send(url, make_alert(), sleep=Sleeps())
    assert delivery == Delivery(False, 0, None, delivery.error, 0.0)
    assert delivery.error is not None and error in delivery.error
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


# -- criticality and imports -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("criticality", "minimum", "expected"),
    [
        (None, "low", False),
        (None, "high", False),
        ("low", "low", True),
        ("low", "medium", False),
        ("low", "high", False),
        ("medium", "low", True),
        ("medium", "medium", True),
        ("medium", "high", False),
        ("high", "low", True),
        ("high", "medium", True),
        ("high", "high", True),
    ],
)
def test_at_least(criticality: str | None, minimum: str, expected: bool) -> None:
    assert at_least(criticality, minimum) is expected


def test_at_least_refuses_unknown_levels() -> None:
    with pytest.raises(ValueError, match="unknown minimum criticality 'severe'"):
        at_least("high", "severe")
    with pytest.raises(ValueError, match="unknown criticality 'HIGH'"):
        at_least("HIGH", "low")


def test_importing_alerts_loads_no_heavy_or_web_library() -> None:
    code = (
        "import sys, pipeline.ingest.alerts; "
        "print(sorted(m for m in ('flask', 'pandas', 'numpy', 'requests') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_target_keeps_no_secret_of_the_url() -> None:
    assert target("https://hooks.slack.com/services/T0/B0/s3cr3t?x=1") == "https://hooks.slack.com"
    assert target("http://127.0.0.1:8080/hook") == "http://127.0.0.1:8080"


# -- the delivery's parts, on their own ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "raw", "retry_after", "expected"),
    [
        (204, b"", None, (204, None, False)),
        (200, b"Microsoft Teams endpoint returned HTTP error 429", None, (429, "HTTP 429", True)),
        (503, b"busy", "7", (503, "HTTP 503", True)),
        (404, b"no such hook", None, (404, "HTTP 404", False)),
    ],
)
def test_an_answer_is_delivered_retried_or_final(
    status: int, raw: bytes, retry_after: str | None, expected: tuple
) -> None:
    from email.message import Message

    from pipeline.ingest.webhook import _answered

    headers = Message()
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    outcome = _answered(status, raw, headers, "http://h")
    error = outcome.error and outcome.error.split(" from ")[0]
    assert (outcome.status, error, outcome.retry) == expected
    assert outcome.retry_after == (float(retry_after) if retry_after else None)


def test_no_answer_is_retried_but_an_untrusted_certificate_is_not() -> None:
    import ssl

    from pipeline.ingest.webhook import _no_answer

    refused = _no_answer(ConnectionRefusedError(), False, 1.0, "http://h")
    assert (refused.error, refused.retry) == ("connection refused by http://h", True)
    cut = _no_answer(OSError("reset"), True, 1.5, "http://h")
    assert (cut.error, cut.retry) == ("no answer from http://h within 1.50 s", True)
    cert = _no_answer(ssl.SSLCertVerificationError("bad"), False, 1.0, "https://h")
    assert cert.retry is False and cert.error.startswith("TLS certificate of https://h")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "no webhook URL"),
        (None, "no webhook URL"),
        ("ftp://h/x", "the webhook URL must start with http:// or https://, not 'ftp'"),
        ("http:///x", "the webhook URL has no host"),
        ("http://h:port/x", "the webhook URL has an invalid port"),
        ("https://h/x", None),
    ],
)
def test_url_problem_names_what_is_wrong(url: object, problem: str | None) -> None:
    from pipeline.ingest.webhook import url_problem

    assert url_problem(url) == problem


@pytest.mark.parametrize(
    ("timeout", "retries", "backoff", "deadline", "usable"),
    [(1, 3, 0.5, 2, True), (0, 3, 0.5, 2, False), (1, 1.5, 0.5, 2, False), (1, "x", 0, 2, False)],
)
def test_delivery_parameters_are_checked(
    timeout: float, retries: object, backoff: float, deadline: float, usable: bool
) -> None:
    from pipeline.ingest.webhook import _usable

    assert _usable(timeout, retries, backoff, deadline) is usable  # type: ignore[arg-type]
