"""Runs that die, overlap, or meet a tampered model; the CLI's errors and the cron script."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.infra.lock import RunLock
from pipeline.model import registry
from pipeline.settings import load_settings
from pipeline.storage import db
from pipeline.storage.db import make_engine
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS, REPO
from tests.e2e import RISKWATCH, cli, count, drop, invoke, rows, run_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=3, rows=500, test_rows=200)
    return out


@pytest.fixture
def ready(project: Path, batches: Path) -> Path:
    """A migrated SQLite project with the test file in place."""
    (project / "testdata").mkdir()
    shutil.copyfile(batches / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    assert invoke(project, "db", "upgrade").returncode == 0
    return project


def _db(project: Path) -> str:
    return f"sqlite:///{project / 'riskwatch.db'}"


def _assert_consistent(project: Path, expected_files: int) -> None:
    """Every inbox file taken exactly once; production is a complete, verified artifact."""
    url = _db(project)
    assert count(url, "ingested_files") == expected_files
    data = sorted((project / "ingesteddata" / "data").glob("*.parquet"))
    recorded = rows(url, "SELECT data_path FROM ingested_files WHERE status = 'ingested'")
    assert sorted(str(project / "ingesteddata" / r["data_path"]) for r in recorded) == [
        str(p) for p in data
    ]
    assert count(url, "ingested_files", "WHERE processed_run_id IS NULL") == 0
    assert count(url, "runs", "WHERE status = 'running'") == 0
    settings = load_settings(project / "riskwatch.toml", environ={})
    engine = make_engine(url)
    try:
        loaded = registry.load_production(engine, settings)
        assert loaded.model is not None
        last = rows(url, "SELECT to_version FROM deployments ORDER BY id DESC LIMIT 1")
        assert last[0]["to_version"] == loaded.version
    finally:
        engine.dispose()
    assert not list((project / "models").glob(".staging-*"))
    assert not [p for p in (project / "ingesteddata").rglob("*.tmp")]


def _first_model(project: Path, batches: Path) -> None:
    """Version 1, trained on two batches like the training data (a holdout of 200 rows)."""
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    assert run_json(project)["production_version"] == 1


@pytest.fixture(scope="module")
def first_model(tmp_path_factory: pytest.TempPathFactory, batches: Path) -> Path:
    """A migrated SQLite project with version 1 in production: a template, trained once."""
    project = tmp_path_factory.mktemp("first-model")
    (project / "sourcedata").mkdir()
    (project / "riskwatch.toml").write_text(QUICK_SETTINGS)
    (project / "testdata").mkdir()
    shutil.copyfile(batches / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    assert invoke(project, "db", "upgrade").returncode == 0
    _first_model(project, batches)
    return project


@pytest.fixture
def trained(first_model: Path, tmp_path: Path) -> Path:
    """A copy of the first-model project (folder and SQLite database) for one test to change."""
    project = tmp_path / "project"
    shutil.copytree(first_model, project)
    return project


FIRST_TICK_POINTS = [
    "after_file_written",
    "after_file_recorded",
    "after_fit",
    "after_model_written",
    "after_pointer_switch",
    "after_processed",
]
RETRAIN_TICK_POINTS = ["after_file_recorded", "after_model_written", "after_pointer_switch"]


@pytest.mark.parametrize("point", FIRST_TICK_POINTS)
def test_killed_first_tick_recovers(ready: Path, batches: Path, point: str):
    drop(ready, batches / "sourcedata" / "clients_batch_01.csv")
    drop(ready, batches / "sourcedata" / "clients_batch_02.csv")
    killed = cli(ready, "run", env={"RISKWATCH_FAILPOINT": point})
    assert killed.returncode == -9, killed.stderr

    after = run_json(ready)
    # Killed after the rows were processed, only the killed run's report was left to do.
    assert after["status"] == ("noop" if point == "after_processed" else "succeeded")
    # A version folder written but never recorded keeps its number: numbers are never reused.
    assert after["production_version"] == (2 if point == "after_model_written" else 1)
    _assert_consistent(ready, expected_files=2)
    assert run_json(ready)["status"] == "noop"
    died = rows(_db(ready), "SELECT status, error FROM runs ORDER BY started_at LIMIT 1")[0]
    assert died["status"] == "failed" and "interrupted" in died["error"]


@pytest.mark.parametrize("point", RETRAIN_TICK_POINTS)
def test_killed_retrain_tick_recovers(trained: Path, batches: Path, point: str):
    ready = trained
    drop(ready, batches / "sourcedata" / "clients_batch_03.csv")
    killed = cli(ready, "run", env={"RISKWATCH_FAILPOINT": point})
    assert killed.returncode == -9, killed.stderr

    after = run_json(ready)
    assert after["status"] == "succeeded"
    _assert_consistent(ready, expected_files=3)
    if point == "after_pointer_switch":
        # The killed run had already switched production; the next run records that.
        kinds = [r["kind"] for r in rows(_db(ready), "SELECT kind FROM deployments ORDER BY id")]
        assert kinds == ["initial", "recovered"]


def test_second_run_exits_zero_while_the_lock_is_held(ready: Path, batches: Path):
    drop(ready, batches / "sourcedata" / "clients_batch_01.csv")
    with RunLock(ready / ".riskwatch.lock"):
        proc = cli(ready, "run")
    assert proc.returncode == 0
    assert "another riskwatch run holds the lock" in proc.stderr
    assert f"pid {os.getpid()}" in proc.stderr
    assert count(_db(ready), "runs") == 0


def test_two_runs_started_at_once(ready: Path, batches: Path):
    drop(ready, batches / "sourcedata" / "clients_batch_01.csv")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RISKWATCH_CONFIG"] = str(ready / "riskwatch.toml")
    procs = [
        subprocess.Popen(
            [RISKWATCH, "run"],
            cwd=ready,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0]
    locked = [err for _, err in outs if "holds the lock" in err]
    assert len(locked) == 1
    assert count(_db(ready), "runs") == 1
    assert count(_db(ready), "ingested_files") == 1


def test_tampered_model_is_refused(ready: Path, batches: Path):
    drop(ready, batches / "sourcedata" / "clients_batch_01.csv")
    run_json(ready)
    artifact = ready / "models" / "1" / "model.joblib"
    with artifact.open("ab") as fh:
        fh.write(b"\0")
    proc = cli(ready, "score")
    assert proc.returncode == 4
    assert "refusing to load a modified or partial artifact" in proc.stderr
    drop(ready, batches / "sourcedata" / "clients_batch_02.csv")
    proc = invoke(ready, "run")
    assert proc.returncode == 4
    failed = rows(_db(ready), "SELECT status, error FROM runs ORDER BY started_at DESC LIMIT 1")[0]
    assert failed["status"] == "failed" and "SHA-256" in failed["error"]


def test_rollback_restores_the_previous_version(trained: Path, batches: Path):
    ready = trained
    drop(ready, batches / "sourcedata" / "clients_batch_03.csv")
    assert run_json(ready)["production_version"] == 2
    out = invoke(ready, "rollback", "--json", "--reason", "challenger misbehaves in production")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["production_version"] == 1
    last = rows(
        _db(ready),
        "SELECT from_version, to_version, kind, reason FROM deployments ORDER BY id DESC LIMIT 1",
    )[0]
    assert last == {
        "from_version": 2,
        "to_version": 1,
        "kind": "rollback",
        "reason": "challenger misbehaves in production",
    }
    assert cli(ready, "rollback", "--to", "9").returncode == 1


@pytest.mark.parametrize(
    ("toml", "code", "message"),
    [
        ("[model]\nmetric = 'mae'\n", 2, "'model.metric'"),
        ("[policy]\ntolerance = 'high'\n", 2, "'policy.tolerance': expected a finite number"),
        ("[nope]\nx = 1\n", 2, "unknown setting 'nope.x'"),
        ("[model\n", 2, "not valid TOML"),
    ],
)
def test_bad_settings_stop_at_start_with_the_key(project: Path, toml: str, code: int, message: str):
    (project / "riskwatch.toml").write_text(toml)
    proc = cli(project, "run")
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def _at_an_older_revision(project: Path) -> None:
    engine = db.make_engine(f"sqlite:///{project / 'riskwatch.db'}")
    db.upgrade(engine, "0001")
    engine.dispose()


def test_an_older_database_says_how_to_fix_it(project: Path):
    _at_an_older_revision(project)
    proc = cli(project, "run")
    assert proc.returncode == 3
    assert "riskwatch db upgrade" in proc.stderr


def test_cron_script_logs_and_passes_failures_on(project: Path, batches: Path):
    for name in ("execute_fullprocess.sh", "fullprocess.py"):
        shutil.copy(REPO / name, project / name)
    (project / ".venv").symlink_to(REPO / ".venv")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RISKWATCH_CONFIG"] = str(project / "riskwatch.toml")
    script = str(project / "execute_fullprocess.sh")

    _at_an_older_revision(project)
    failed = subprocess.run([script], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert failed.returncode == 3  # the database is at an older revision
    assert "run failed (exit 3)" in failed.stderr

    assert invoke(project, "db", "upgrade").returncode == 0
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    ok = subprocess.run([script], cwd="/", env=env, capture_output=True, text=True, timeout=180)
    assert ok.returncode == 0, ok.stderr
    [log] = (project / "logs").glob("riskwatch-*.log")
    text = log.read_text()
    assert "tick end, exit 3" in text and "tick end, exit 0" in text
    assert "report:" in text


def test_fullprocess_py_is_one_run(ready: Path, batches: Path):
    drop(ready, batches / "sourcedata" / "clients_batch_01.csv")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["RISKWATCH_CONFIG"] = str(ready / "riskwatch.toml")
    proc = subprocess.run(
        [str(REPO / ".venv" / "bin" / "python"), str(REPO / "fullprocess.py"), "--json"],
        cwd=ready,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["production_version"] == 1
