"""`riskwatch apicalls` against a real running app: the returns in a file and the database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.storage import db, tables
from pipeline.tools.apicalls import call_all
from tests.conftest import REPO, copy_project
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
