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


def test_the_web_command_serves_the_api(project: Settings, tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEB_CONCURRENCY")}
    env.update(
        PORT=str(port),
        RISKWATCH_CONFIG=str(project.source),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["bash", "-c", procfile()["web"]],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, f"gunicorn exited:\n{log.read_text()}"
            try:
                status, health = _call(base + "/health")
                break
            except OSError:
                assert time.monotonic() < deadline, f"no answer in 30 s:\n{log.read_text()}"
                time.sleep(0.1)
        assert status == 200
        assert health == {
            "ok": True,
            "database": "ok",
            "schema": tables.SCHEMA_REVISION,
            "production_version": 1,
        }

        # Every worker gunicorn boots loads the model in its post_worker_init hook, which runs
        # before that worker accepts a connection: its first prediction finds the model loaded.
        # (/health may come from one worker while the other is still loading: wait for both.)
        deadline = time.monotonic() + 60
        while not _all_warmed(log.read_text()):
            assert time.monotonic() < deadline, f"workers not warmed in 60 s:\n{log.read_text()}"
            time.sleep(0.1)

        status, body = _call(base + "/prediction", {"records": [RECORD, RECORD]})
        assert status == 200, body
        assert len(body["predictions"]) == 2 and body["model_version"] == 1

        status, body = _call(base + "/prediction", [{"industry": "finance"}])
        assert status == 400 and body["ok"] is False and body["column"]
    finally:
        stop(server)
    text = log.read_text()
    assert server.returncode == 0, text
    assert "Shutting down: Master" in text
    assert '"POST /prediction HTTP/1.1" 200' in text  # the access log goes to stdout
