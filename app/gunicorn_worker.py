"""gunicorn's threaded worker with total read deadlines and JSON error pages (gunicorn 27).

gthread hands each request to a thread that reads the request line, the headers and the body
from a blocking socket with no deadline of its own: a client trickling a byte now and then, or
announcing a Content-Length it never sends, holds that thread for as long as it likes. This
worker gives each connection's socket a total deadline, counted from the moment a thread takes
the request: HEADER_SECONDS for the request line and headers, then `api.body_timeout_seconds`
for the body, from when the headers are parsed. The socket read that would pass a deadline
raises `BodyDeadline`, answered as a 408 in the one error shape (by the app's error handler
for the body, by `handle_error` here for the headers), and the connection is closed.

The errors gunicorn answers itself (400 for a bad request line or header, 414, 431, 501 ...)
come back in the one error shape too: gunicorn's own handler decides the status and logs as
usual, and the HTML page it writes is caught and replaced by JSON.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
import socket
import time
from typing import Any

from gunicorn import util
from gunicorn.workers import gthread

from app.request_body import BodyDeadline

# Request line and headers are a few hundred bytes: a client that cannot send them in 10 s is
# not a client we wait for (gunicorn's own pre-read wait for the first byte is 5 s).
HEADER_SECONDS = 10.0
# Used when the app does not say (it always does: create_app sets RISKWATCH_BODY_TIMEOUT).
DEFAULT_BODY_SECONDS = 10.0

_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")
_HTML_MESSAGE = re.compile(rb"</h1>(.*)</body>", re.DOTALL)


class DeadlineSocket:
    """A client socket whose blocking reads end at `deadline` (time.monotonic()), if set.

    Everything but recv and recv_into is the socket's own. A read that a caller bounded with a
    timeout of its own (gunicorn's drain of an unread body) keeps the shorter of the two and
    raises the usual TimeoutError, which that caller handles.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline: float | None = None
        self.what = "headers"
        self.seconds = HEADER_SECONDS
        self.setting: str | None = None

    def __getattr__(self, name: str) -> Any:  # the socket's own attributes
        return getattr(self._sock, name)

    def start(self, what: str, seconds: float, setting: str | None = None) -> None:
        self.deadline = time.monotonic() + seconds
        self.what, self.seconds, self.setting = what, seconds, setting

    def recv(self, size: int, flags: int = 0) -> bytes:
        return self._bounded(self._sock.recv, size, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        return self._bounded(self._sock.recv_into, buffer, nbytes, flags)

    def _bounded(self, read: Any, *args: Any) -> Any:
        prior = self._sock.gettimeout()
        if self.deadline is None or prior == 0.0:  # no deadline, or a non-blocking read
            return read(*args)
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            if prior is None:
                raise BodyDeadline(self.what, self.seconds, self.setting)
            raise TimeoutError("timed out")  # as the socket itself says it
        self._sock.settimeout(remaining if prior is None else min(prior, remaining))
        try:
            return read(*args)
        except TimeoutError:
            if prior is None:  # the deadline, not the caller's own timeout
                raise BodyDeadline(self.what, self.seconds, self.setting) from None
            raise
        finally:
            self._sock.settimeout(prior)


class ThreadWorker(gthread.ThreadWorker):
    """gthread with read deadlines and JSON error pages (the module docstring says how)."""

    body_seconds = DEFAULT_BODY_SECONDS

    def load_wsgi(self) -> None:
        super().load_wsgi()
        config = getattr(self.wsgi, "config", None) or {}
        self.body_seconds = float(config.get("RISKWATCH_BODY_TIMEOUT", DEFAULT_BODY_SECONDS))

    def handle(self, conn: Any) -> Any:
        if not conn.initialized and not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock)  # before the parser is made from it
        if isinstance(conn.sock, DeadlineSocket):
            conn.sock.start("line and headers", HEADER_SECONDS)
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        if isinstance(conn.sock, DeadlineSocket):
            conn.sock.start("body", self.body_seconds, "api.body_timeout_seconds")
        return super().handle_request(req, conn)

    def _keepalive_after(self, conn: Any, keepalive: Any) -> bool:
        # gunicorn drains a body the app did not read after the answer went out; a malformed
        # chunk found there would make gunicorn write a second answer (its 400) on the same
        # connection. The answer was given: the connection just closes.
        try:
            return bool(super()._keepalive_after(conn, keepalive))
        except Exception as exc:  # gunicorn's parse errors, BodyDeadline: any, the same way
            self.log.debug("Closing connection: its unread body is malformed (%s)", exc)
            return False

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, BodyDeadline):
            self.log.warning("Request from ip=%s timed out: %s", (addr or ("",))[0], exc)
            _send(client, 408, "Request Timeout", str(exc.description))
            return
        page = _Captured()
        super().handle_error(req, page, addr, exc)  # gunicorn's status, message and logging
        status = _STATUS_LINE.match(page.data)
        if status is None:  # not the page gunicorn 27 writes: pass it on as it is
            util.write_nonblock(client, page.data)
            return
        code, reason = int(status[1]), status[2].decode("latin-1")
        found = _HTML_MESSAGE.search(page.data)
        detail = html.unescape(found[1].decode("latin-1")).strip() if found else ""
        if detail:
            message = f"{reason}: {detail}"
        else:
            message = "internal server error" if code >= 500 else reason
        _send(client, code, reason, message)


class _Captured:
    """Stands in for the client socket while gunicorn writes its HTML error page."""

    def __init__(self) -> None:
        self.data = b""

    def gettimeout(self) -> float:
        return 0.0  # util.write_nonblock then writes at once, with no blocking toggles

    def sendall(self, data: bytes) -> None:
        self.data += data


def _send(client: Any, code: int, reason: str, message: str) -> None:
    """Write an error in the one error shape and let the connection close."""
    body = json.dumps({"ok": False, "error": message[:500], "status": code}).encode()
    head = (
        f"HTTP/1.1 {code} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    with contextlib.suppress(OSError):  # the client is gone; gunicorn's own handler does so too
        util.write_nonblock(client, head.encode("latin-1") + body)
