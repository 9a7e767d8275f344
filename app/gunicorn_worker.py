"""gunicorn's threaded worker with total read deadlines and JSON error pages (gunicorn 27).

gthread hands each request to a thread that reads the request line, the headers and the body
from a blocking socket with no deadline of its own: a client trickling a byte now and then, or
announcing a Content-Length it never sends, holds that thread for as long as it likes. This
worker gives each connection's socket a total deadline, counted from the moment a thread takes
the connection (gthread's wait, in that thread, of up to 5 s for a new connection's first byte
is part of it; a connection deferred to the poller after that wait starts afresh when a thread
takes it again): HEADER_SECONDS for the request line and headers, then `api.body_timeout_seconds`
for the body, from when the headers are parsed. The socket read that would pass a deadline
raises `BodyDeadline`, answered as a 408 in the one error shape (by the app's error handler
for the body, by `handle_error` here for the headers), and the connection is closed.

Writing the answer has a deadline too: a client that asks for a large answer (a run's PDF) and
never reads it would otherwise hold its thread until the kernel gives up on the connection
(gthread's heartbeat keeps such a worker alive). Each answer's blocking writes end
`api.response_timeout_seconds` after its first byte is written (the head); the write that would
pass it raises `WriteDeadline`, the worker logs it and resets the connection (no answer can be
sent then: the client is not reading), and the thread is free.

The errors gunicorn answers itself (400 for a bad request line or header, 414, 431, 501 ...)
come back in the one error shape too: gunicorn's own handler decides the status and logs as
usual, and the HTML page it writes is caught and replaced by JSON.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import selectors
import socket
import struct
import time
from typing import Any

from gunicorn import util
from gunicorn.workers import gthread

from app.request_body import BodyDeadline
from pipeline.errors import RiskwatchError

# Request line and headers are a few hundred bytes: a client that cannot send them in 10 s is
# not a client we wait for (gthread's own wait for a new connection's first byte, up to 5 s in
# the thread, is counted in it: the deadline starts before that wait).
HEADER_SECONDS = 10.0
# Used when the app does not say (it always does: create_app sets RISKWATCH_BODY_TIMEOUT).
DEFAULT_BODY_SECONDS = 10.0
# Used when the app has no riskwatch settings (it always has: api.response_timeout_seconds).
DEFAULT_RESPONSE_SECONDS = 30.0
RESPONSE_SETTING = "api.response_timeout_seconds"
# A send or receive that does not wait, on a blocking socket (Linux, the BSDs, macOS).
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
# Most bytes one os.sendfile call may move, as socket.sendfile does.
_SENDFILE_BLOCK = 1 << 30


class WriteDeadline(RiskwatchError, TimeoutError):
    """The answer was not written within its deadline: the client is not reading it.

    A riskwatch error (the one root), and a TimeoutError, so an OSError: gunicorn passes it on
    from its request handler without writing an error page or a traceback, and the worker
    closes the connection.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the answer was not written within {seconds:g} s (setting {RESPONSE_SETTING})"
        )


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] (\d{3}) ([^\r\n]*)\r\n")
_HTML_MESSAGE = re.compile(rb"</h1>(.*)</body>", re.DOTALL)


class DeadlineSocket:
    """A client socket whose blocking reads end at `deadline` (time.monotonic()), if set, and
    whose blocking writes end `write_seconds` after the first sendall or sendfile of an answer.

    Everything but recv, recv_into, send, sendall and sendfile is the socket's own. A read that
    a caller bounded with a timeout of its own (gunicorn's drain of an unread body) keeps the
    shorter of the two and raises the usual TimeoutError, which that caller handles; a write on
    a socket with a timeout of its own (gunicorn's non-blocking error pages) is the socket's.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self.deadline: float | None = None
        self.what = "headers"
        self.seconds = HEADER_SECONDS
        self.setting: str | None = None
        self.write_seconds: float | None = None
        self.write_deadline: float | None = None

    def __getattr__(self, name: str) -> Any:  # the socket's own attributes
        return getattr(self._sock, name)

    def start(self, what: str, seconds: float, setting: str | None = None) -> None:
        self.deadline = time.monotonic() + seconds
        self.what, self.seconds, self.setting = what, seconds, setting

    def arm_writes(self, seconds: float | None) -> None:
        """The next answer's writes end `seconds` after its first sendall or sendfile."""
        self.write_seconds, self.write_deadline = seconds, None

    def send(self, data: Any, flags: int = 0) -> int:
        # gunicorn's "100 Continue" comes before the answer: bounded, but not its clock's start.
        return int(self._written(self._sock.send, False, data, flags))

    def sendall(self, data: Any, flags: int = 0) -> None:
        if _DONTWAIT and not flags and self._sock.gettimeout() is None:
            # Most answers fit the socket's buffer: one non-blocking send, without setting a
            # timeout up and down around a poll (each of those calls lets another thread take
            # the GIL, then waits for it back). The answer's clock starts all the same, and a
            # spent one ends the write as `_written` does.
            deadline = self._write_clock(True)
            if deadline is None or time.monotonic() < deadline:
                try:
                    sent = self._sock.send(data, _DONTWAIT)
                except (BlockingIOError, InterruptedError):
                    sent = 0
                view = memoryview(data)
                if sent >= view.nbytes:
                    return
                data = view[sent:]  # the rest waits for the socket, within the deadline
        self._written(self._sock.sendall, True, data, flags)

    def sendfile(self, file: Any, offset: int = 0, count: int | None = None) -> int:
        if self.write_seconds is None or self._sock.gettimeout() is not None:
            return self._sock.sendfile(file, offset, count)
        # socket.sendfile's timeout bounds each wait, not the whole: a reader taking a few
        # bytes now and then would stretch it. This loop checks what is left before each wait.
        deadline = self._write_clock(True)
        assert deadline is not None
        total, out_fd, in_fd = 0, self._sock.fileno(), file.fileno()
        with selectors.PollSelector() as ready:
            ready.register(out_fd, selectors.EVENT_WRITE)
            self._sock.setblocking(False)
            try:
                while count is None or total < count:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not ready.select(remaining):
                        raise WriteDeadline(self.write_seconds)
                    block = _SENDFILE_BLOCK if count is None else count - total
                    try:
                        sent = os.sendfile(out_fd, in_fd, offset + total, block)
                    except BlockingIOError:
                        continue
                    if sent == 0:  # the end of the file
                        break
                    total += sent
            finally:
                self._sock.setblocking(True)
                if total:
                    file.seek(offset + total)  # as socket.sendfile leaves it
        return total

    def abort(self) -> None:
        """Reset the connection: its unsent bytes are dropped, and reads end at once."""
        with contextlib.suppress(OSError):
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self._sock.shutdown(socket.SHUT_RDWR)

    def _write_clock(self, starts: bool) -> float | None:
        """This write's deadline; `starts`: the answer's first byte starts its clock."""
        if self.write_seconds is None:
            return None
        if self.write_deadline is not None:
            return self.write_deadline
        deadline = time.monotonic() + self.write_seconds
        if starts:
            self.write_deadline = deadline
        return deadline

    def _written(self, write: Any, starts: bool, *args: Any) -> Any:
        if self._sock.gettimeout() is not None:  # non-blocking, or a caller's own timeout
            return write(*args)
        deadline = self._write_clock(starts)
        if deadline is None:
            return write(*args)
        assert self.write_seconds is not None
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WriteDeadline(self.write_seconds)
        self._sock.settimeout(remaining)  # sendall's timeout is a total (Python 3.5 on)
        try:
            return write(*args)
        except TimeoutError:
            raise WriteDeadline(self.write_seconds) from None
        finally:
            self._sock.settimeout(None)

    def recv(self, size: int, flags: int = 0) -> bytes:
        if self._ready(flags):
            with contextlib.suppress(BlockingIOError, InterruptedError):
                return self._sock.recv(size, _DONTWAIT)
        return self._bounded(self._sock.recv, size, flags)

    def recv_into(self, buffer: Any, nbytes: int = 0, flags: int = 0) -> int:
        if self._ready(flags):
            with contextlib.suppress(BlockingIOError, InterruptedError):
                return self._sock.recv_into(buffer, nbytes, _DONTWAIT)
        return self._bounded(self._sock.recv_into, buffer, nbytes, flags)

    def _ready(self, flags: int) -> bool:
        """Whether a read may first take what has arrived, without waiting (so without a
        timeout to set up): a blocking socket within its deadline. What has not arrived is
        waited for by `_bounded`, which enforces the deadline."""
        return bool(
            _DONTWAIT
            and not flags
            and self._sock.gettimeout() is None
            and (self.deadline is None or time.monotonic() < self.deadline)
        )

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
    response_seconds = DEFAULT_RESPONSE_SECONDS

    def load_wsgi(self) -> None:
        super().load_wsgi()
        config = getattr(self.wsgi, "config", None) or {}
        self.body_seconds = float(config.get("RISKWATCH_BODY_TIMEOUT", DEFAULT_BODY_SECONDS))
        state = (getattr(self.wsgi, "extensions", None) or {}).get("riskwatch")
        if state is not None:
            self.response_seconds = float(state.settings[RESPONSE_SETTING])

    def handle(self, conn: Any) -> Any:
        if not conn.initialized and not isinstance(conn.sock, DeadlineSocket):
            conn.sock = DeadlineSocket(conn.sock)  # before the parser is made from it
        if isinstance(conn.sock, DeadlineSocket):
            conn.sock.start("line and headers", HEADER_SECONDS)
            conn.sock.arm_writes(None)  # error pages are written non-blocking
        return super().handle(conn)

    def handle_request(self, req: Any, conn: Any) -> Any:
        if not isinstance(conn.sock, DeadlineSocket):
            return super().handle_request(req, conn)
        conn.sock.start("body", self.body_seconds, "api.body_timeout_seconds")
        conn.sock.arm_writes(self.response_seconds)
        try:
            return super().handle_request(req, conn)
        except WriteDeadline as exc:
            # The client is not reading: nothing more can reach it. Reset the connection (so
            # gunicorn's graceful close does not wait on it either) and free the thread.
            self.log.warning(
                "Answer to ip=%s cut off, connection closed: %s", (conn.client or ("",))[0], exc
            )
            conn.sock.abort()
            return False
        finally:
            conn.sock.arm_writes(None)

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
