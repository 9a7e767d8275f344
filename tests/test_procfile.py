"""The Procfile: its `web:` command, run exactly as Heroku would, serves the app with gunicorn."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app import AppState, create_app, warm_up
from pipeline.model import registry
from pipeline.settings import Settings, load_settings
from pipeline.storage import db, tables
from tests.conftest import REPO, copy_project
from tests.test_api import RECORD


def procfile() -> dict[str, str]:
    lines = (REPO / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_procfile_has_web_and_release() -> None:
    proc = procfile()
    assert proc.keys() == {"web", "release"}
    assert proc["web"].startswith('gunicorn "app:create_app()" --bind 0.0.0.0:$PORT ')
    assert proc["release"] == "riskwatch db upgrade"
    assert proc["web"].endswith(" -c python:app.gunicorn_conf")  # workers load the model first


def test_a_warmed_up_app_does_not_load_the_model_on_its_first_request(
    project: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": project})
    assert warm_up(app) == "production model v1 loaded before the first request"
    assert state_of(app).model is not None and state_of(app).schema_ok

    def no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded on a request")

    monkeypatch.setattr(registry, "load", no_load)
    reply = app.test_client().post("/prediction", json=[RECORD])
    assert reply.status_code == 200, reply.json
    assert reply.json is not None and reply.json["model_version"] == 1


def test_a_worker_freezes_what_it_loaded_after_its_warm_up(project: Settings) -> None:
    """gunicorn's post_worker_init, in a process of its own (a frozen heap stays frozen): the
    model is loaded, then every object so far is out of the collector's rounds."""
    code = (
        "import gc, logging, sys, types\n"
        "from app import create_app, gunicorn_conf\n"
        "from pipeline.settings import load_settings\n"
        "settings = load_settings(sys.argv[1], environ={})\n"
        "app = create_app({'RISKWATCH_SETTINGS': settings})\n"
        "worker = types.SimpleNamespace(wsgi=app, log=logging.getLogger('w'), pid=0)\n"
        "assert gc.get_freeze_count() == 0\n"
        "gunicorn_conf.post_worker_init(worker)\n"
        "model = app.extensions['riskwatch'].model\n"
        "print(gc.get_freeze_count(), len(gc.get_objects()), model.version)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(project.source)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    frozen, tracked, version = (int(x) for x in done.stdout.split())
    assert version == 1 and frozen > 50_000 and tracked < frozen / 100, done.stdout


@pytest.mark.parametrize("broken", ["no model", "no database"])
def test_warm_up_without_a_model_or_database_lets_the_worker_boot(
    tmp_path: Path, broken: str
) -> None:
    (tmp_path / "sourcedata").mkdir()
    (tmp_path / "riskwatch.toml").write_text("")
    url = f"sqlite:///{tmp_path / 'riskwatch.db'}"
    if broken == "no model":
        engine = db.make_engine(url)
        db.upgrade(engine)
        engine.dispose()
    else:
        url = f"sqlite:///{tmp_path / 'missing' / 'riskwatch.db'}"  # its folder does not exist
    settings = load_settings(
        tmp_path / "riskwatch.toml", environ={}, overrides={"database.url": url}
    )
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    assert warm_up(app).startswith("production model not loaded (")
    assert state_of(app).model is None
    reply = app.test_client().post("/prediction", json=[RECORD])
    assert reply.status_code == 503, reply.json
    assert reply.json is not None and reply.json["ok"] is False


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    return copy_project(built_project, tmp_path_factory.mktemp("procfile"))


def state_of(app: Flask) -> AppState:
    return app.extensions["riskwatch"]


def _all_warmed(log: str) -> bool:
    """Each worker booted so far logged that it loaded model v1 before its first request."""
    booted = re.findall(r"Booting worker with pid: (\d+)", log)
    warmed = re.findall(
        r"riskwatch \(pid (\d+)\): production model v1 loaded before the first", log
    )
    return bool(booted) and sorted(warmed) == sorted(booted)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Loopback calls must not go through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(url: str, payload: Any = None) -> tuple[int, Any]:
    data = None if payload is None else json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with _opener.open(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop(proc: subprocess.Popen[bytes], grace: float = 20) -> None:
    """SIGTERM the server's process group, as Heroku does; SIGKILL what is left after `grace`."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)  # gunicorn's master stops its workers, then exits
    if proc.poll() is None or _group_alive(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


def web_process(env: Mapping[str, str], log: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """Start the Procfile's web: command as Heroku would (its own session, output to `log`) on
    a free port, with this environment (no DATABASE_URL or WEB_CONCURRENCY unless `env` says)."""
    port = _free_port()
    full = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEB_CONCURRENCY")}
    full.update(
        PORT=str(port),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{full.get('PATH', '')}",
    )
    full.update(env)
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["bash", "-c", procfile()["web"]],
            cwd=REPO,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return port, server


def wait_for_health(
    server: subprocess.Popen[bytes], port: int, log: Path, seconds: float = 60
) -> tuple[int, Any]:
    """/health's answer, once the server gives one; fails if gunicorn exits or stays silent."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, f"gunicorn exited:\n{log.read_text()}"
        try:
            return _call(f"http://127.0.0.1:{port}/health")
        except OSError:
            assert time.monotonic() < deadline, f"no answer in {seconds} s:\n{log.read_text()}"
            time.sleep(0.1)


@contextlib.contextmanager
def serving(
    settings: Settings, tmp_path: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """The Procfile's web: command, run as Heroku would, until every worker loaded model v1."""
    log = tmp_path / "gunicorn.log"
    port, server = web_process({"RISKWATCH_CONFIG": str(settings.source), **(env or {})}, log)
    try:
        wait_for_health(server, port, log, 30)
        # Every worker gunicorn boots loads the model in its post_worker_init hook, which runs
        # before that worker accepts a connection: its first prediction finds the model loaded.
        # (/health may come from one worker while the other is still loading: wait for both.)
        deadline = time.monotonic() + 60
        while not _all_warmed(log.read_text()):
            assert time.monotonic() < deadline, f"workers not warmed in 60 s:\n{log.read_text()}"
            time.sleep(0.1)
        yield port, server, log
    finally:
        stop(server)


def test_the_web_command_serves_the_api(project: Settings, tmp_path: Path) -> None:
    with serving(project, tmp_path) as (port, server, log):
        base = f"http://127.0.0.1:{port}"
        status, health = _call(base + "/health")
        assert status == 200
        assert health == {
            "ok": True,
            "database": "ok",
            "schema": tables.SCHEMA_REVISION,
            "production_version": 1,
        }

        status, body = _call(base + "/prediction", {"records": [RECORD, RECORD]})
        assert status == 200, body
        assert len(body["predictions"]) == 2 and body["model_version"] == 1

        status, body = _call(base + "/prediction", [{"industry": "finance"}])
        assert status == 400 and body["ok"] is False and body["column"]
    text = log.read_text()
    assert server.returncode == 0, text
    assert "Shutting down: Master" in text
    assert '"POST /prediction HTTP/1.1" 200' in text  # the access log goes to stdout
    assert "Using worker: app.gunicorn_worker.ThreadWorker" in text  # gthread, with deadlines
    assert "Control socket" not in text  # no socket in $HOME shared by every server started


# --- slow and hostile clients, against the real server ---------------------------------------

BODY_SECONDS = 2.0  # api.body_timeout_seconds of the hostile project: a quick test
MAX_BYTES = 4096  # api.max_request_bytes of the hostile project


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Iterator[int]:
    """The web: command serving a project with a short body deadline and a small body limit."""
    settings = copy_project(built_project, tmp_path_factory.mktemp("hostile"))
    with (settings.source).open("a") as f:
        f.write(
            f"\n[api]\nbody_timeout_seconds = {BODY_SECONDS}\nmax_request_bytes = {MAX_BYTES}\n"
        )
    settings = load_settings(settings.source, environ={})
    with serving(settings, tmp_path_factory.mktemp("hostile-log")) as (port, _server, _log):
        yield port


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return sock


def _answer(sock: socket.socket) -> tuple[int, dict[str, str], Any]:
    """Read one HTTP answer until the server closes the connection: status, headers, JSON."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def _assert_json_error(answer: tuple[int, dict[str, str], Any], status: int) -> str:
    code, headers, body = answer
    assert code == status, body
    assert headers["Content-Type"] == "application/json"
    assert body.keys() == {"ok", "error", "status"}
    assert body["ok"] is False and body["status"] == status and body["error"]
    return str(body["error"])


def _trickle(sock: socket.socket, stop_at: float) -> None:
    """Send a body one byte every 0.1 s until `stop_at` (or until the server hangs up)."""
    with contextlib.suppress(OSError):
        while time.monotonic() < stop_at:
            sock.sendall(b" ")
            time.sleep(0.1)


POST_HEAD = (
    "POST /prediction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    "Content-Length: {length}\r\n\r\n"
)


def test_slow_bodies_do_not_delay_health_and_end_in_a_408(hostile_server: int) -> None:
    import threading

    port = hostile_server
    slow = [_connect(port) for _ in range(2)]
    stop_at = time.monotonic() + BODY_SECONDS + 3
    for sock in slow:
        sock.sendall(POST_HEAD.format(length=MAX_BYTES - 10).encode() + b"[")
    threads = [threading.Thread(target=_trickle, args=(s, stop_at), daemon=True) for s in slow]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)  # both bodies are on their way, each holding a server thread
        for _ in range(5):
            started = time.monotonic()
            status, body = _call(f"http://127.0.0.1:{port}/health")
            took = time.monotonic() - started
            assert status == 200 and body["ok"] is True
            assert took < 1.0, f"/health took {took:.2f} s while two bodies trickled in"
            time.sleep(0.2)
        # The trickling clients are cut off at their deadline, with an answer in the one shape.
        for sock in slow:
            error = _assert_json_error(_answer(sock), 408)
            assert error == (
                f"the request body did not arrive within {BODY_SECONDS:g} s "
                "(setting api.body_timeout_seconds)"
            )
    finally:
        for sock in slow:
            sock.close()
        for t in threads:
            t.join()


def test_a_lying_content_length_is_a_json_408_not_a_held_worker(hostile_server: int) -> None:
    with _connect(hostile_server) as sock:
        sock.sendall(POST_HEAD.format(length=1000).encode() + b'[{"industry": ')
        error = _assert_json_error(_answer(sock), 408)  # then the server closes the connection
    assert "(setting api.body_timeout_seconds)" in error
    # The worker is free again: a whole request on the same server is answered.
    status, body = _call(f"http://127.0.0.1:{hostile_server}/prediction", [RECORD])
    assert status == 200, body


def test_a_chunked_body_over_the_limit_is_a_413(hostile_server: int) -> None:
    data = json.dumps([RECORD] * 40).encode()
    assert len(data) > MAX_BYTES
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (data[:3000], data[3000:]))
    with _connect(hostile_server) as sock:
        sock.sendall(
            b"POST /prediction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
        )
        error = _assert_json_error(_answer(sock), 413)
    assert (
        error
        == f"the request body is larger than {MAX_BYTES} bytes (setting api.max_request_bytes)"
    )


CHUNKED_HEAD = (
    b"POST /prediction HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize(
    ("request_bytes", "status", "says"),
    [
        (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "URI Too Long: "),
        (b"NOT A REQUEST LINE\r\n\r\n", 400, "Bad Request: "),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, "Bad Request: "),
        (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", 431, ""),
        (CHUNKED_HEAD + b"zz\r\n", 400, "the request body is malformed: "),  # read by the app
        (CHUNKED_HEAD.replace(b"Content-Type", b"X") + b"zz\r\n", 415, "expected Content"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n", 400, "Bad Request: "),
    ],
    ids=[
        "uri-too-long",
        "bad-request-line",
        "bad-header",
        "too-many-headers",
        "bad-chunk",
        "bad-chunk-unread",
        "bad-length",
    ],
)
def test_errors_gunicorn_answers_itself_are_in_the_one_shape(
    hostile_server: int, request_bytes: bytes, status: int, says: str
) -> None:
    with _connect(hostile_server) as sock:
        sock.sendall(request_bytes)
        error = _assert_json_error(_answer(sock), status)
    assert error.startswith(says)
    assert "<" not in error  # no HTML


def test_slow_headers_end_in_a_json_408(hostile_server: int) -> None:
    import threading

    from app.gunicorn_worker import HEADER_SECONDS

    with _connect(hostile_server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        sender = threading.Thread(
            target=_trickle, args=(sock, time.monotonic() + HEADER_SECONDS + 5), daemon=True
        )
        sender.start()
        error = _assert_json_error(_answer(sock), 408)
        # The sender stops at its next byte. The server may have reset the connection already
        # (it hung up after its 408, and the sender's bytes arrived after that): then the
        # socket is no longer connected, and the sender has stopped on its own error.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sender.join()
    assert error == f"the request line and headers did not arrive within {HEADER_SECONDS:g} s"


def test_a_deadline_socket_ends_a_trickle_at_its_deadline_not_per_read() -> None:
    """Each read waits at most what is left of the total: a byte every 0.1 s does not extend it."""
    import threading

    from app.gunicorn_worker import DeadlineSocket
    from app.request_body import BodyDeadline

    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        sock = DeadlineSocket(server_end)
        sock.start("line and headers", 0.5)
        stop_at = time.monotonic() + 3
        sender = threading.Thread(target=_trickle, args=(client_end, stop_at), daemon=True)
        sender.start()
        got = b""
        with pytest.raises(
            BodyDeadline, match=r"request line and headers did not arrive within 0\.5 s"
        ):
            while True:
                got += sock.recv(1024)
        assert got.strip(b" ") == b"" and 1 <= len(got) <= 10
        assert server_end.gettimeout() is None  # the socket is left blocking, as gunicorn had it
        # A read its caller bounds itself (gunicorn's drain) raises its own TimeoutError.
        server_end.settimeout(0.05)
        with pytest.raises(TimeoutError) as raised:
            sock.recv(1024)
            sock.recv(1024)
        assert not isinstance(raised.value, BodyDeadline)
        client_end.shutdown(socket.SHUT_WR)
        sender.join()


# --- answers nobody reads ---------------------------------------------------------------------

RESPONSE_SECONDS = 2.0  # api.response_timeout_seconds of the unread project: a quick test


@pytest.fixture(scope="module")
def unread_server(
    tmp_path_factory: pytest.TempPathFactory, built_project: Path
) -> Iterator[tuple[int, Path, str]]:
    """The web: command with ONE worker (8 threads) and a short write deadline: port, log, and
    the path of the built run's PDF report."""
    settings = copy_project(built_project, tmp_path_factory.mktemp("unread"))
    with (settings.source).open("a") as f:
        f.write(f"\n[api]\nresponse_timeout_seconds = {RESPONSE_SECONDS}\n")
    settings = load_settings(settings.source, environ={})
    from tests.test_api import _the_run

    pdf = f"/runs/{_the_run(settings)}/report.pdf"
    # The report is about 100 KB, which loopback's buffers take whole: pad it to more than
    # they hold (4 MB sending, the tiny window receiving) so that writing it blocks.
    (report,) = settings.path("paths.reports").rglob("*.pdf")
    with report.open("ab") as f:
        f.write(b"\n%" + b"x" * (8 << 20) + b"\n")
    folder = tmp_path_factory.mktemp("unread-log")
    with serving(settings, folder, {"WEB_CONCURRENCY": "1"}) as (port, _server, log):
        yield port, log, pdf


def _not_reading(port: int, path: str) -> socket.socket:
    """A connection that asks for `path` with a tiny receive window, and then never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)  # before connect: the window
    sock.connect(("127.0.0.1", port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return sock


def _closed_by_the_server(sock: socket.socket, seconds: float) -> int:
    """Read what the server sent until it closes or resets the connection: the bytes read."""
    got = 0
    sock.settimeout(seconds)
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            got += len(chunk)
    return got


def test_answers_nobody_reads_do_not_take_the_server_down(
    unread_server: tuple[int, Path, str],
) -> None:
    from app.gunicorn_conf import threads

    port, log, pdf = unread_server
    with _opener.open(f"http://127.0.0.1:{port}{pdf}", timeout=10) as whole:
        size = len(whole.read())  # a client that reads gets all of it
    assert whole.status == 200 and size > 8 << 20
    stuck = [_not_reading(port, pdf) for _ in range(threads + 2)]  # more than one worker has
    sent = time.monotonic()
    try:
        time.sleep(0.5)
        # Every thread of the only worker is writing an answer nobody reads: /health waits.
        with pytest.raises(TimeoutError):
            _opener.open(f"http://127.0.0.1:{port}/health", timeout=0.5)
        # The write deadline frees the threads: /health answers within a second after it.
        with _opener.open(f"http://127.0.0.1:{port}/health", timeout=RESPONSE_SECONDS + 1) as r:
            assert r.status == 200 and json.loads(r.read())["ok"] is True
        took = time.monotonic() - sent
        assert took < RESPONSE_SECONDS + 1.0, f"/health answered {took:.2f} s after"
        # The two that waited for a thread are cut off in their turn; each stuck connection is
        # closed by the server, its answer cut off.
        deadline = time.monotonic() + 2 * RESPONSE_SECONDS + 5
        while log.read_text().count("cut off, connection closed") < len(stuck):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        for sock in stuck:
            assert _closed_by_the_server(sock, 5) < size
    finally:
        for sock in stuck:
            sock.close()
    assert (
        f"[WARNING] Answer to ip=127.0.0.1 cut off, connection closed: the answer was not "
        f"written within {RESPONSE_SECONDS:g} s (setting api.response_timeout_seconds)"
        in log.read_text()
    )
    # The worker is well: a whole answer again.
    with _opener.open(f"http://127.0.0.1:{port}{pdf}", timeout=10) as whole:
        assert len(whole.read()) == size


def _sipping(sock: socket.socket, done: Any) -> None:
    """Read 4 KB every 0.05 s until `done` is set (10 s at most), then close: a reader that is
    never quite stuck."""
    stop_at = time.monotonic() + 10
    with contextlib.suppress(OSError):
        while time.monotonic() < stop_at and sock.recv(4096) and not done.wait(0.05):
            pass
    sock.close()


@pytest.mark.parametrize("how", ["sendall", "sendfile"])
def test_a_deadline_socket_ends_an_answer_at_its_total_deadline(tmp_path: Path, how: str) -> None:
    """A reader taking a little now and then does not stretch the write deadline (each wait
    would be short): the answer ends in WriteDeadline, not in a broken pipe once it closes."""
    import threading

    from app.gunicorn_worker import DeadlineSocket, WriteDeadline

    big = tmp_path / "big"
    with big.open("wb") as f:
        f.truncate(64 << 20)  # minutes of sipping
    server_end, client_end = socket.socketpair()
    with server_end:
        sock = DeadlineSocket(server_end)
        sock.arm_writes(0.5)
        sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")  # before the answer: not its clock's start
        assert sock.write_deadline is None
        done = threading.Event()
        reader = threading.Thread(target=_sipping, args=(client_end, done), daemon=True)
        reader.start()
        with pytest.raises(WriteDeadline, match=r"not written within 0\.5 s \(setting api\.resp"):
            if how == "sendall":
                sock.sendall(b"x" * (64 << 20))
            else:
                with big.open("rb") as f:
                    sock.sendfile(f, 0, 64 << 20)
        assert server_end.gettimeout() is None  # left blocking, as gunicorn had it
        with pytest.raises(WriteDeadline):  # the budget is spent: the next write ends at once
            sock.sendall(b"x")
        sock.arm_writes(None)  # no answer under way: writes are the socket's own
        done.set()
        reader.join()
