"""Deliver one JSON body to a webhook: bounded attempts, retries with back-off, a deadline.

Standard library only (urllib). Nothing here raises: every failure comes back in a `Delivery`
and is logged on the "riskwatch" logger, so a webhook that is slow, dead or wrong never fails
or stalls the run that sends to it. What is sent is built in `alerts`.

The webhook URL is a secret (Slack and Teams put the token in the path), so logs and errors
name only its scheme, host and port (`target`).
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from typing import IO

log = logging.getLogger("riskwatch")

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# How much of a webhook's answer is kept for the error message.
_BODY_BYTES = 2048


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
            self._watch.connection_class(http.client.HTTPSConnection),
            req,
            context=self._context,  # type: ignore[attr-defined]  # set by HTTPSHandler.__init__
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET without the body; a webhook that
    # redirects is misconfigured, and the answer says so (HTTP 3xx, not retried).
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
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


def url_problem(url: object) -> str | None:
    """Why `url` cannot be a webhook address, or None when it can."""
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
            with _opener(url, watch).open(req, timeout=timeout) as resp:
                status, raw, headers = resp.status, resp.read(_BODY_BYTES), resp.headers
        except urllib.error.HTTPError as exc:  # an answer, with an error status
            try:
                status, raw, headers = exc.code, exc.read(_BODY_BYTES), exc.headers
            finally:
                exc.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return _no_answer(exc, watch.cut_off, timeout, where)
    finally:
        timer.cancel()
        timer.join()
    if watch.cut_off:
        # Cut mid-answer: what was read (even a 200 status line) is not a whole answer.
        return _Outcome(error=f"no answer from {where} within {timeout:.2f} s", retry=True)
    return _answered(status, raw, headers, where)


def _opener(url: str, watch: _Watch) -> urllib.request.OpenerDirector:
    """An opener that never redirects, whose sockets `watch` can cut, direct to loopback."""
    proxies: dict[str, str] | None = (
        {} if urllib.parse.urlsplit(url).hostname in _LOOPBACK else None
    )
    return urllib.request.build_opener(
        urllib.request.ProxyHandler(proxies),
        _NoRedirect(),
        _HTTPHandler(watch),
        _HTTPSHandler(watch),
    )


def _no_answer(exc: Exception, cut_off: bool, timeout: float, where: str) -> _Outcome:
    """The outcome of an attempt that got no HTTP answer: retried, unless TLS cannot verify."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, ConnectionRefusedError):
        error = f"connection refused by {where}"
    elif isinstance(reason, ssl.SSLCertVerificationError):
        # A certificate that does not verify will not verify a second later either.
        return _Outcome(error=f"TLS certificate of {where} not trusted: {reason}")
    elif cut_off or isinstance(reason, TimeoutError):
        error = f"no answer from {where} within {timeout:.2f} s"
    else:
        error = f"no answer from {where}: {type(reason).__name__}: {reason}"
    return _Outcome(error=error, retry=True)


def _answered(status: int, raw: bytes, headers: Message | None, where: str) -> _Outcome:
    """The outcome of a whole HTTP answer: 2xx delivered; 429 and 5xx retried; others final."""
    # Legacy Teams connectors answer a throttled request with 200 and this text in the body:
    # connectors-using.md ("Rate limiting for connectors"), cited in `alerts.message`.
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


def not_delivered(
    file_name: str,
    start: float,
    attempts: int,
    status: int | None,
    error: str,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Log why the alert for `file_name` was given up and return its Delivery."""
    seconds = clock() - start
    log.warning(
        "alert for %r not delivered (%d attempt(s), %.2f s): %s",
        file_name,
        attempts,
        seconds,
        error,
    )
    return Delivery(False, attempts, status, error, seconds)


def _usable(timeout: float, retries: int, backoff: float, deadline: float) -> bool:
    """Whether the delivery parameters make sense (a wrong type is not usable either)."""
    try:
        return timeout > 0 and deadline > 0 and backoff >= 0 and int(retries) == retries
    except (TypeError, ValueError):
        return False


def deliver(
    url: str,
    body: bytes,
    file_name: str,
    *,
    timeout: float,
    retries: int,
    backoff: float,
    deadline: float,
    sleep: Callable[[float], object],
    start: float,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """POST `body` to `url` until it is taken, a final answer comes, or time runs out.

    `start` is the `clock()` the deadline counts from; `file_name` names the alert in the log.
    Retry and deadline rules: see `alerts.send`.
    """
    if not _usable(timeout, retries, backoff, deadline):
        return not_delivered(
            file_name,
            start,
            0,
            None,
            "timeout and deadline must be > 0, backoff >= 0 and retries a whole number",
            clock,
        )
    where = target(url)
    attempts = 0
    outcome = _Outcome()
    retries = max(int(retries), 0)
    for n in range(retries + 1):
        left = deadline - (clock() - start)
        if left <= 0:
            error = f"{outcome.error or 'no attempt made'}; the {deadline:g} s deadline has passed"
            return not_delivered(file_name, start, attempts, outcome.status, error, clock)
        attempts += 1
        outcome = _safe_attempt(url, body, min(timeout, left), where)
        if outcome.error is None:
            return _delivered(file_name, where, start, attempts, outcome.status, clock)
        if not outcome.retry or n == retries:
            break
        wait = outcome.retry_after if outcome.retry_after is not None else backoff * 2**n
        if wait >= deadline - (clock() - start):
            error = (
                f"{outcome.error}; the next attempt (in {wait:g} s) would pass "
                f"the {deadline:g} s deadline"
            )
            return not_delivered(file_name, start, attempts, outcome.status, error, clock)
        log.info(
            "alert for %r: attempt %d failed (%s); retrying in %.2f s",
            file_name,
            attempts,
            outcome.error,
            wait,
        )
        sleep(wait)
    return not_delivered(
        file_name, start, attempts, outcome.status, outcome.error or "no attempt made", clock
    )


def _delivered(
    file_name: str,
    where: str,
    start: float,
    attempts: int,
    status: int | None,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Log that the alert for `file_name` was taken and return its Delivery."""
    seconds = clock() - start
    log.info(
        "alert for %r delivered to %s (HTTP %s, attempt %d, %.2f s)",
        file_name,
        where,
        status,
        attempts,
        seconds,
    )
    return Delivery(True, attempts, status, None, seconds)


def _safe_attempt(url: str, body: bytes, timeout: float, where: str) -> _Outcome:
    """One attempt; even a bug in it comes back as an outcome (it must not fail the run)."""
    try:
        return _attempt(url, body, timeout, where)
    except Exception as exc:
        return _Outcome(error=f"unexpected {type(exc).__name__}: {exc}")
