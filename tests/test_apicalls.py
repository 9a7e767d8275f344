"""`riskwatch apicalls` against a real running app: the returns in a file and the database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.storage import db, tables
from pipeline.tools.apicalls import SameOriginAuthorization, call_all, check_token_transport
from tests.conftest import REPO, copy_project
from tests.e2e import invoke
from tests.test_api import make_app
from tests.test_auth import new_token

ENDPOINTS = [
    ("GET", "/health"),
    ("POST", "/prediction"),
    ("GET", "/scoring"),
    ("GET", "/summarystats"),
    ("GET", "/diagnostics"),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    return copy_project(built_project, tmp_path_factory.mktemp("apicalls"))


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """The app served over real HTTP on loopback, by werkzeug in a thread."""
    with make_app(settings) as app:
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_port}"
        finally:
            httpd.shutdown()
            thread.join(10)
            httpd.server_close()


@pytest.fixture
def server(project: Settings) -> Iterator[str]:
    with serving(project) as url:
        yield url


@pytest.fixture(scope="module")
def secret(project: Settings) -> str:
    """A predict token in the project's database."""
    return new_token(project, "apicalls", "predict")


@pytest.fixture
def guarded(project: Settings, secret: str) -> Iterator[str]:
    """The app over real HTTP with auth required: every call but /health needs the token."""
    with serving(project.with_values(auth__required="true")) as url:
        yield url


def dead_url() -> str:
    """A loopback URL on which nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _returns(settings: Settings, base_url: str) -> list[sa.Row]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            t = tables.api_returns
            query = sa.select(t).where(t.c.base_url == base_url).order_by(t.c.id)
            return list(conn.execute(query))
    finally:
        engine.dispose()


def test_calls_a_running_app_and_records_the_returns(project: Settings, server: str) -> None:
    result = call_all(project, server + "/")
    default_file = project.path("paths.reports") / "apireturns.json"
    assert result == {"calls": 5, "failed": 0, "file": str(default_file)}

    doc = json.loads(default_file.read_text())
    assert doc["base_url"] == server and doc["failed"] == 0
    calls = doc["calls"]
    assert [(c["method"], c["endpoint"]) for c in calls] == ENDPOINTS
    assert all(c["status_code"] == 200 and c["error"] is None for c in calls)
    assert calls[0]["body"]["ok"] is True
    prediction = calls[1]["body"]
    assert len(prediction["predictions"]) == 20 and prediction["model_version"] == 1
    assert calls[2]["body"]["model_version"] == 1
    assert calls[3]["body"]["rows"] and "steps" in calls[4]["body"]

    rows = _returns(project, server)
    assert [(r.method, r.endpoint, r.status_code, r.error) for r in rows] == [
        (m, e, 200, None) for m, e in ENDPOINTS
    ]
    assert [r.body for r in rows] == [c["body"] for c in calls]
    assert all(r.seconds > 0 and r.called_at.tzinfo is not None for r in rows)

    # The app serves them back, newest first.
    with make_app(project) as app:
        served = app.test_client().get("/apireturns?limit=5").get_json()["api_returns"]
    assert [r["endpoint"] for r in served] == [e for _, e in reversed(ENDPOINTS)]


def test_a_server_that_does_not_answer_is_recorded_not_a_crash(
    project: Settings, tmp_path: Path
) -> None:
    url = dead_url()
    out = tmp_path / "returns" / "dead.json"
    result = call_all(project, url, out, timeout=2)
    assert result == {"calls": 5, "failed": 5, "file": str(out)}
    calls = json.loads(out.read_text())["calls"]
    rows = _returns(project, url)
    assert len(calls) == len(rows) == 5
    for call, row in zip(calls, rows, strict=True):
        assert call["status_code"] is None and row.status_code is None and row.body is None
        assert row.error == call["error"]
        assert row.error.startswith(f"no answer from {url}:")
    assert not list(out.parent.glob(".*.tmp")), "written atomically, no temporary file left"


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://example.org", "http://", ""])
def test_a_bad_url_is_refused_before_any_call(project: Settings, url: str) -> None:
    with pytest.raises(ConfigError, match="expected an http:// or https:// URL"):
        call_all(project, url)


def test_the_entry_point_script_and_no_flask(project: Settings) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RISKWATCH_CONFIG"] = str(project.source)
    url = dead_url()
    proc = subprocess.run(
        [sys.executable, "apicalls.py", "--url", url],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr  # calls failed: a non-zero exit
    assert "5 calls, 5 failed" in proc.stdout
    assert len(_returns(project, url)) == 5

    code = "import sys, pipeline.tools.apicalls; print('flask' in sys.modules)"
    check = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert check.stdout.strip() == "False", check.stderr


def test_the_token_is_sent_to_an_app_that_requires_one(
    project: Settings, guarded: str, secret: str, tmp_path: Path
) -> None:
    # From the setting api.token (what RISKWATCH_TOKEN sets): every call answered.
    out = tmp_path / "with.json"
    result = call_all(project.with_values(api__token=secret), guarded, out)
    assert result["failed"] == 0, out.read_text()
    assert [c["status_code"] for c in json.loads(out.read_text())["calls"]] == [200] * 5

    # Without one: /health (public) answers, the others are 401s, recorded as failures.
    out = tmp_path / "without.json"
    assert call_all(project, guarded, out)["failed"] == 4
    calls = json.loads(out.read_text())["calls"]
    assert [c["status_code"] for c in calls] == [200, 401, 401, 401, 401]
    assert calls[1]["error"].startswith("HTTP 401: this route needs a token with role predict")

    # An explicit token wins over the setting.
    out = tmp_path / "wrong.json"
    wrong = call_all(project.with_values(api__token=secret), guarded, out, token="rw_wrong")
    assert wrong["failed"] == 4
    assert "unknown API token" in json.loads(out.read_text())["calls"][2]["error"]


@pytest.mark.parametrize("how", ["environment", "option"])
def test_the_entry_point_sends_riskwatch_token(
    project: Settings, guarded: str, secret: str, how: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RISKWATCH_TOKEN")}
    env["RISKWATCH_CONFIG"] = str(project.source)
    args = [sys.executable, "apicalls.py", "--url", guarded]
    if how == "environment":
        env["RISKWATCH_TOKEN"] = secret
    else:
        args += ["--token", secret]
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "5 calls, 0 failed" in proc.stdout
    rows = _returns(project, guarded)
    assert [r.status_code for r in rows[-5:]] == [200] * 5
    assert secret not in json.dumps([r.body for r in rows], default=str)


# --- the token stays with the app it is meant for ------------------------------------------


@contextmanager
def recording(redirect_to: str | None = None) -> Iterator[tuple[str, list[tuple[str, dict]]]]:
    """A real HTTP server on 127.0.0.1 that records each request's (method + path, headers).

    With `redirect_to`, it answers every request but those under /here/ with a 302 to that base
    URL plus the same path (and /health with a 302 to its own /here/health, the same origin);
    else it answers {"ok": true}.
    """
    seen: list[tuple[str, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append((f"{self.command} {self.path}", dict(self.headers.items())))
            if redirect_to is not None and not self.path.startswith("/here/"):
                own = f"http://127.0.0.1:{self.server.server_address[1]}"
                where = own + "/here/health" if self.path == "/health" else redirect_to + self.path
                self.send_response(302)
                self.send_header("Location", where)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        thread.join(10)
        httpd.server_close()


def test_a_redirect_to_another_port_gets_no_token(project: Settings, tmp_path: Path) -> None:
    """Two real servers: the first redirects to the second, which records what it got. urllib's
    own redirect handler would send the token on; here only the first origin sees it."""
    secret = "rw_secret_for_the_first_server_only"
    with recording() as (other, got), recording(redirect_to=other) as (first, asked):
        result = call_all(project, first, tmp_path / "returns.json", timeout=10, token=secret)
    assert result["failed"] == 0, (tmp_path / "returns.json").read_text()
    # The first server got the token on each call, and on the redirect to its own origin.
    assert [p for p, _ in asked] == [
        "GET /health",
        "GET /here/health",
        "POST /prediction",
        "GET /scoring",
        "GET /summarystats",
        "GET /diagnostics",
    ]
    assert all(h.get("Authorization") == f"Bearer {secret}" for _, h in asked), asked
    # The other one got every redirected call (a 302 turns a POST into a GET), and no token.
    assert [p for p, _ in got] == [
        "GET /prediction",
        "GET /scoring",
        "GET /summarystats",
        "GET /diagnostics",
    ]
    for path, headers in got:
        assert not {k.lower() for k in headers} & {"authorization"}, (path, headers)
        assert secret not in json.dumps(headers), path


@pytest.mark.parametrize(
    ("start", "target", "kept"),
    [
        ("https://api.example/x", "https://api.example/y", True),
        ("https://api.example/x", "https://API.example:443/y", True),
        ("http://127.0.0.1:8000/x", "http://127.0.0.1:8000/y", True),
        ("https://api.example/x", "http://api.example/y", False),  # a downgrade to plain http
        ("https://api.example/x", "https://api.example:8443/y", False),
        ("https://api.example/x", "https://evil.example/y", False),
        ("http://127.0.0.1:8000/x", "http://localhost:8000/y", False),
    ],
)
def test_authorization_follows_only_a_redirect_to_the_same_origin(
    start: str, target: str, kept: bool
) -> None:
    req = urllib.request.Request(start, headers={"Authorization": "Bearer t", "Accept": "x"})
    new = SameOriginAuthorization().redirect_request(req, None, 302, "Found", {}, target)
    assert new is not None and new.full_url == target
    assert new.has_header("Authorization") is kept
    assert new.get_header("Accept") == "x"  # the other headers follow as urllib's handler does


@pytest.mark.parametrize(
    "url",
    ["http://riskwatch.example.org", "http://10.0.0.5:8000", "http://[2001:db8::1]:8000/"],
)
def test_a_token_is_not_sent_over_plain_http_to_another_host(project: Settings, url: str) -> None:
    with pytest.raises(ConfigError, match=r"refusing to send the API token over plain http://"):
        call_all(project, url, token="rw_x")
    assert _returns(project, url.rstrip("/")) == []  # refused before any call
    check_token_transport(url, "rw_x", allow_http=True)  # allowed when told
    check_token_transport(url, "")  # no token: nothing to protect
    check_token_transport(url.replace("http://", "https://"), "rw_x")


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9",
                                 "http://127.0.0.2:9"])  # fmt: skip
def test_plain_http_to_this_machine_takes_a_token(url: str) -> None:
    check_token_transport(url, "rw_x")


def test_the_cli_refuses_a_token_over_plain_http_unless_allowed(project: Settings) -> None:
    url = "http://192.0.2.1:9"  # TEST-NET-1: documentation only, never answers
    env = {"RISKWATCH_TOKEN": "rw_from_the_environment"}
    refused = invoke(project.base_dir, "apicalls", "--url", url, env=env)
    assert refused.returncode == 2, refused.stderr
    assert "refusing to send the API token over plain http:// to 192.0.2.1" in refused.stderr
    assert "--allow-http-token" in refused.stderr and "Traceback" not in refused.stderr
    assert _returns(project, url) == []
    # Allowed: the calls are made (and get no answer from the documentation address).
    env["RISKWATCH_API__CALL_TIMEOUT_SECONDS"] = "0.5"
    allowed = invoke(project.base_dir, "apicalls", "--url", url, "--allow-http-token", env=env)
    assert allowed.returncode == 1, allowed.stderr
    assert "5 calls, 5 failed" in allowed.stdout
    assert len(_returns(project, url)) == 5
