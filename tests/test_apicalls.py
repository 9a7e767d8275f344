"""`riskwatch apicalls` against a real running app: the returns in a file and the database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
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


@pytest.fixture
def server(project: Settings) -> Iterator[str]:
    """The app served over real HTTP on loopback, by werkzeug in a thread."""
    with make_app(project) as app:
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{httpd.server_port}"
        finally:
            httpd.shutdown()
            thread.join(10)
            httpd.server_close()


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
