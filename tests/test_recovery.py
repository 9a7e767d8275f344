"""Runs that die, overlap, or meet a tampered model; the CLI's errors and the cron script."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.infra.lock import RunLock
from pipeline.model import registry
from pipeline.settings import load_settings
from pipeline.storage import db
from pipeline.storage.db import make_engine
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS, REPO
from tests.e2e import RISKWATCH, cli, count, drop, invoke, rows, run_json, sha

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

    proc = invoke(ready, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout)
    # Killed after the rows were processed, only the killed run's report was left to do.
    assert after["status"] == ("noop" if point == "after_processed" else "succeeded")
    # A version folder written but never recorded is moved aside, never adopted: no row,
    # deployment or pointer ever had its number, which the next version takes.
    assert after["production_version"] == 1
    if point == "after_model_written":
        [aside] = (ready / "models").glob(".unregistered-1-*")
        assert (aside / "model.joblib").is_file()
        [v1] = rows(_db(ready), "SELECT run_id FROM model_versions")
        assert v1["run_id"] == after["run_id"]  # the new run's own version 1
    if point == "after_processed":  # every step it began had finished
        assert "had died: stopped after its last step (finished: discover, ingest, " in proc.stderr
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


# Issue 11: runs tell the truth. A run is `succeeded` only once its report is written; a run
# killed or cut off from its database is found and marked by the next one, with what it did
# finish; a lost database is one line and exit 5; leftovers are cleaned up (a model folder that
# no row knows is moved aside, never adopted).


def _run(project: Path, run_id: str) -> dict:
    return rows(_db(project), f"SELECT * FROM runs WHERE id = '{run_id}'")[0]


def _dead_pid() -> int:
    """The id of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _stderr_is_log_lines_only(stderr: str) -> None:
    """Every line on stderr is one of riskwatch's: no traceback, no multi-line reason."""
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if not line.startswith("riskwatch: ")] == []


def test_killed_in_the_report_step_is_failed_and_the_next_run_writes_its_report(
    trained: Path, batches: Path
):
    drop(trained, batches / "sourcedata" / "clients_batch_03.csv")
    killed = cli(trained, "run", env={"RISKWATCH_FAILPOINT": "report_rendering"})
    assert killed.returncode == -9, killed.stderr
    [dead] = rows(_db(trained), "SELECT * FROM runs ORDER BY started_at DESC LIMIT 1")
    # Its work is recorded, but it is not `succeeded`: it has no report.
    assert dead["status"] == "running" and dead["rows_ingested"] == 500
    assert json.loads(dead["summary"])["status"] == "running"
    assert count(_db(trained), "reports", f"WHERE run_id = '{dead['id']}'") == 0
    [tmp] = (trained / "reports").glob(f".run-{dead['id']}.pdf.*.tmp")
    assert tmp.stat().st_size == 0  # the zero-byte PDF the issue found left behind

    proc = invoke(trained, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout)
    assert after["status"] == "noop"  # the dead run had done all the work but its report
    marked = _run(trained, dead["id"])
    assert marked["status"] == "failed"
    assert marked["error"].startswith("interrupted in its report step")
    assert "finished: discover, ingest, predict, health, labels, score" in marked["error"]
    assert marked["rows_ingested"] == 500  # what it finished is kept
    assert json.loads(marked["summary"])["status"] == "failed"
    assert "report …" in marked["log"]  # its log up to the step it died in
    steps = rows(_db(trained), f"SELECT name, status FROM steps WHERE run_id = '{dead['id']}'")
    assert steps[-1] == {"name": "report", "status": "failed"}
    assert f"run {dead['id']} (run) had died: stopped in its report step" in proc.stderr
    # The next run wrote the report the dead run should have written, and removed its
    # zero-byte temporary file, saying so.
    report = trained / "reports" / f"run-{dead['id']}.pdf"
    assert report.read_bytes().startswith(b"%PDF")
    assert after["recovered_reports"] == [str(report)]
    assert count(_db(trained), "reports", f"WHERE run_id = '{dead['id']}'") == 1
    assert not tmp.exists()
    assert f"removed reports/{tmp.name} (0 bytes)" in proc.stderr
    assert [c["path"] for c in after["cleanup"]] == [f"reports/{tmp.name}"]
    # A run that writes its report is `succeeded`, and only then.
    lines = (batches / "sourcedata" / "clients_batch_02.csv").read_text().splitlines(True)
    (trained / "sourcedata" / "again.csv").write_text("".join(lines[:-1]))  # new content
    ok = run_json(trained)
    assert ok["status"] == "succeeded" and _run(trained, ok["run_id"])["status"] == "succeeded"
    assert count(_db(trained), "reports", f"WHERE run_id = '{ok['run_id']}'") == 1


def test_a_version_folder_no_row_knows_is_moved_aside_even_when_it_verifies(
    ready: Path, batches: Path
):
    drop(ready, batches / "sourcedata" / "clients_batch_01.csv")
    drop(ready, batches / "sourcedata" / "clients_batch_02.csv")
    killed = cli(ready, "run", env={"RISKWATCH_FAILPOINT": "after_model_written"})
    assert killed.returncode == -9, killed.stderr
    written = (ready / "models" / "1" / "model.joblib").read_bytes()
    meta = json.loads((ready / "models" / "1" / "metadata.json").read_text())
    assert count(_db(ready), "model_versions") == 0
    dead = rows(_db(ready), "SELECT id FROM runs")[0]["id"]
    assert meta["run_id"] == dead  # complete, matching its metadata, naming the dead run

    proc = invoke(ready, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout)
    [aside] = (ready / "models").glob(".unregistered-1-*")
    assert (aside / "model.joblib").read_bytes() == written  # kept, never deleted
    assert "moved models/1 aside to models/.unregistered-1-" in proc.stderr
    assert "its files match its metadata.json" in proc.stderr
    assert "a folder on disk is never adopted" in proc.stderr
    assert "adopted" not in after["cleanup"][0]["action"]
    assert after["cleanup"][0]["action"].startswith("moved to .unregistered-1-")
    # The new run trained its own version 1 (the number was free), recorded and deployed.
    [v1] = rows(_db(ready), "SELECT version, run_id, artifact FROM model_versions")
    assert v1 == {"version": 1, "run_id": after["run_id"], "artifact": "1/model.joblib"}
    assert after["production_version"] == 1
    _assert_consistent(ready, expected_files=2)


def test_a_forged_version_folder_is_never_trusted(trained: Path):
    """Whoever can write models/ drops a version with its own model.joblib and a metadata.json
    that matches it and names a failed run: no row is ever recorded from it, so nothing loads
    it, even with the production pointer rewritten to name it."""
    import sqlalchemy as sa

    url = _db(trained)
    engine = make_engine(url)
    with engine.begin() as conn:  # a failed run, as any database has
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, kind, started_at, status) "
                "VALUES ('f' || hex(randomblob(15)), 'run', '2020-01-01 00:00:00', 'failed')"
            )
        )
    engine.dispose()
    [failed] = rows(url, "SELECT id FROM runs WHERE status = 'failed'")
    forged = trained / "models" / "2"
    shutil.copytree(trained / "models" / "1", forged)
    evil = b"\x80\x04an attacker's pickle"
    (forged / "model.joblib").write_bytes(evil)
    meta = json.loads((forged / "metadata.json").read_text())
    meta.update(version=2, run_id=failed["id"], sha256=sha(forged / "model.joblib"))
    meta["created_at"] = "2030-01-01T00:00:00+00:00"
    (forged / "metadata.json").write_text(json.dumps(meta))

    proc = invoke(trained, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "noop"
    assert "moved models/2 aside" in proc.stderr and "never adopted" in proc.stderr
    assert rows(url, "SELECT version FROM model_versions") == [{"version": 1}]
    evil_sha = hashlib.sha256(evil).hexdigest()
    assert count(url, "model_versions", f"WHERE sha256 = '{evil_sha}'") == 0

    # Put back, and production pointed at it: still no row, so every load refuses it.
    [aside] = (trained / "models").glob(".unregistered-2-*")
    aside.rename(forged)
    (trained / "models" / "production.json").write_text(json.dumps({"version": 2}))
    again = invoke(trained, "run", "--json")  # nothing new: it loads no model
    assert again.returncode == 0, again.stderr
    assert "models/2 is what production.json names, but no model_versions row knows it" in (
        again.stderr
    )
    assert "left in place (every load refuses it)" in again.stderr
    assert count(url, "model_versions") == 1
    score = cli(trained, "score")
    assert score.returncode != 0 and "model version 2 is not in the registry" in score.stderr


def test_an_unverifiable_version_folder_is_moved_aside(trained: Path, batches: Path):
    drop(trained, batches / "sourcedata" / "clients_batch_03.csv")
    killed = cli(trained, "run", env={"RISKWATCH_FAILPOINT": "after_model_written"})
    assert killed.returncode == -9, killed.stderr
    artifact = trained / "models" / "2" / "model.joblib"
    with artifact.open("ab") as fh:  # modified after it was written: never to be adopted
        fh.write(b"\0")
    tampered = artifact.read_bytes()

    proc = invoke(trained, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    [aside] = (trained / "models").glob(".unregistered-2-*")
    assert (aside / "model.joblib").read_bytes() == tampered  # kept, never deleted
    assert "moved models/2 aside to models/.unregistered-2-" in proc.stderr
    assert "does not match the SHA-256 in its metadata.json" in proc.stderr
    where = f"WHERE sha256 = '{sha(aside / 'model.joblib')}'"
    assert count(_db(trained), "model_versions", where) == 0
    _assert_consistent(trained, expected_files=3)


def test_leftovers_are_cleaned_up_with_a_log_line(trained: Path):
    dead = _dead_pid()
    alive = subprocess.Popen(["sleep", "60"])
    try:
        leftovers = {
            f"reports/.run-0123abcd.pdf.{dead}-abcd_123.tmp": b"",
            "reports/quality/.page.html.zz99zz99.tmp": b"<html",  # before names had the pid
            f"ingesteddata/data/{'a' * 64}.parquet": None,  # only to be sure the folder exists
            f"ingesteddata/data/.{'b' * 64}.parquet.{dead}-parquet_.tmp": b"PAR1\x15\x04",
            f"models/.production.json.{dead}-pointer_.tmp": b'{"vers',
            "models/.staging-0f0f0f0f/model.joblib": b"\x80\x04partial",
        }
        kept = {
            f"reports/.run-4567cdef.pdf.{alive.pid}-stillgo_.tmp": b"%PDF-1.4",  # a live writer
            "reports/notes.tmp": b"someone's file",  # not a temporary file of riskwatch's
            "ingesteddata/data/.hidden.txt": b"x",
        }
        for rel, data in {**leftovers, **kept}.items():
            if data is not None:
                (trained / rel).parent.mkdir(parents=True, exist_ok=True)
                (trained / rel).write_bytes(data)
        # A version folder no row knows, with no metadata: moved aside, never deleted.
        (trained / "models" / "7").mkdir()
        (trained / "models" / "7" / "model.joblib").write_bytes(b"not a model")

        proc = invoke(trained, "run", "--json")
        assert proc.returncode == 0, proc.stderr
        summary = json.loads(proc.stdout)
        assert summary["status"] == "noop"
        removed = [rel for rel, data in leftovers.items() if data is not None]
        for rel in removed:
            shown = rel.rsplit("/", 1)[0] if "/.staging-" in rel else rel
            assert not (trained / shown).exists(), rel
            assert f"removed {shown}" in proc.stderr
        assert f"process {dead}, which is gone" in proc.stderr
        assert "an earlier riskwatch never finished" in proc.stderr
        for rel, data in kept.items():
            assert (trained / rel).read_bytes() == data, rel
        [aside] = (trained / "models").glob(".unregistered-7-*")
        assert (aside / "model.joblib").read_bytes() == b"not a model"
        assert "it has no metadata.json" in proc.stderr
        actions = {c["path"]: c["action"] for c in summary["cleanup"]}
        assert len(actions) == 6 and actions["models/7"].startswith("moved to .unregistered-7-")
        stored = _run(trained, summary["run_id"])["log"]
        assert "removed models/.staging-0f0f0f0f" in stored and "moved models/7 aside" in stored
        # Nothing left: the next tick finds nothing to clean.
        again = run_json(trained)
        assert "cleanup" not in again
    finally:
        alive.kill()
        alive.wait()


def test_a_tick_lists_only_the_folders_atomic_writes_use(
    trained: Path, monkeypatch: pytest.MonkeyPatch
):
    """A tick's cleanup lists the folders where a run's atomic writes put temporary files,
    one level each: a deep tree of other folders under ingesteddata/ (all past ingestions'
    worth) is never walked, whatever it holds."""
    from pipeline.run import cleanup
    from pipeline.run.record import Run

    dead = _dead_pid()
    deep = trained / "ingesteddata" / "archive"
    for level in range(40):
        deep = deep / f"level{level}"
    deep.mkdir(parents=True)
    buried = deep / f".old.parquet.{dead}-abcd_123.tmp"  # not where a run writes: left alone
    buried.write_bytes(b"")
    left = trained / "ingesteddata" / "quarantine" / f".x-rows.parquet.{dead}-abcd_123.tmp"
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(b"PAR1")
    listed: list[Path] = []
    real_listdir, real_scandir = os.listdir, os.scandir

    def listdir(path: object = ".") -> list[str]:
        listed.append(Path(os.fsdecode(path)))  # type: ignore[arg-type]
        return real_listdir(path)  # type: ignore[arg-type]

    def scandir(path: object = ".") -> object:
        listed.append(Path(os.fsdecode(path)))  # type: ignore[arg-type]
        return real_scandir(path)  # type: ignore[arg-type]

    def walk(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("a tick walks no tree")

    settings = load_settings(trained / "riskwatch.toml", environ={})
    with db.opened(settings.database_url) as engine:
        monkeypatch.setattr(os, "listdir", listdir)
        monkeypatch.setattr(os, "scandir", scandir)
        monkeypatch.setattr(os, "walk", walk)
        done = cleanup.leftovers(Run(settings, engine, "run"))
        monkeypatch.undo()
    named = {
        trained / "reports",
        trained / "reports" / "quality",
        trained / "ingesteddata",
        trained / "ingesteddata" / "data",
        trained / "ingesteddata" / "quarantine",
        trained / "models",
    }
    assert listed and set(listed) <= named, sorted(set(listed) - named)
    assert [d["path"] for d in done] == [left.relative_to(trained).as_posix()]
    assert not left.exists() and buried.exists()


def _status_importing_nothing_heavy(project: Path) -> str:
    """`riskwatch status` in a fresh interpreter; its output, once sure it imported neither
    scikit-learn nor joblib."""
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        "    main(['status'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('HEAVY=' + ','.join(m for m in ('sklearn', 'joblib') if m in sys.modules))\n"
    )
    env = {"RISKWATCH_CONFIG": str(project / "riskwatch.toml"), "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # this checkout (conftest)
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=project, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY=\n" in proc.stdout
    return proc.stdout


def test_status_verifies_the_production_artifact(trained: Path):
    proc = invoke(trained, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    check = json.loads(proc.stdout)["production_artifact"]
    digest = sha(trained / "models" / "1" / "model.joblib")
    assert check == {
        "artifact": "1/model.joblib",
        "status": "verified",
        "sha256": digest,
        "recorded_sha256": digest,
    }
    text = invoke(trained, "status")
    assert f"production model: v1  (artifact verified: SHA-256 {digest[:12]}…" in text.stdout
    # Hashed, never unpickled: status imports no scikit-learn (nor joblib).
    assert "artifact verified" in _status_importing_nothing_heavy(trained)

    artifact = trained / "models" / "1" / "model.joblib"
    with artifact.open("ab") as fh:
        fh.write(b"\0")
    tampered = invoke(trained, "status", "--json")
    assert tampered.returncode == 4  # a model artifact failed its checksum
    doc = json.loads(tampered.stdout)  # the status is printed in full all the same
    assert doc["production_artifact"]["status"] == "modified"
    assert doc["production_artifact"]["sha256"] == sha(artifact) != digest
    assert tampered.stderr == (
        "riskwatch: error: production model v1: artifact modified (1/model.joblib); "
        "it would be refused at load\n"
    )
    assert "ARTIFACT MODIFIED: 1/model.joblib has SHA-256" in invoke(trained, "status").stdout
    artifact.unlink()
    missing = invoke(trained, "status")
    assert missing.returncode == 4 and "(ARTIFACT MISSING: 1/model.joblib)" in missing.stdout


def test_status_without_a_model_says_so(ready: Path):
    proc = invoke(ready, "status", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["production_version"] is None and doc["production_artifact"] is None
    assert _status_importing_nothing_heavy(ready).startswith("production model: none\n")


def _free_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("command", [["run"], ["status"], ["runs", "--json"], ["ingest"]])
def test_an_unreachable_database_is_one_line_and_exit_5(project: Path, command: list[str]):
    url = f"postgresql+psycopg://riskwatch@127.0.0.1:{_free_port()}/riskwatch"
    proc = invoke(project, *command, database_url=url)
    assert proc.returncode == 5
    if "--json" in command:  # what failed, for a script reading the JSON
        doc = json.loads(proc.stdout)
        assert doc["ok"] is False and doc["exit_code"] == 5
        assert doc["error"].startswith("cannot reach the database")
    else:
        assert proc.stdout == ""
    assert proc.stderr.startswith(
        "riskwatch: error: cannot reach the database postgresql+psycopg://riskwatch@127.0.0.1:"
    )
    assert "Connection refused" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "content",
    [b"name,age\nann,41\n", b"SQLite format 2\x00" + b"\x07" * 200, bytes(range(256)) * 8],
    ids=["csv", "bad-header", "binary"],
)
def test_a_database_url_that_is_not_sqlite_is_one_line_and_exit_3(project: Path, content: bytes):
    path = project / "riskwatch.db"
    path.write_bytes(content)
    for command in (["run"], ["status", "--json"], ["db", "upgrade"]):
        proc = cli(project, *command) if command == ["run"] else invoke(project, *command)
        assert proc.returncode == 3, (command, proc.stderr)
        assert proc.stderr == (
            f"riskwatch: error: the database sqlite:///{path} is not an SQLite database (file is "
            "not a database): riskwatch will not touch it; point database.url (or DATABASE_URL) "
            "at riskwatch's database, or at a new file\n"
        )
    assert path.read_bytes() == content


class _CutProxy:
    """A TCP proxy on 127.0.0.1 to the PostgreSQL server: to the client, the real thing. `cut`
    closes every connection and stops listening, as a server stopped or a network lost would
    (the shared server itself is never stopped)."""

    def __init__(self, host: str, port: int) -> None:
        import socket
        import threading

        self._target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        import socket
        import threading

        while not self._cut.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()
        self._listener.close()

    @staticmethod
    def _pump(src, dst) -> None:
        import socket

        with contextlib.suppress(OSError):
            while data := src.recv(65536):
                dst.sendall(data)
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cut(self, *, listen: bool = False) -> None:
        """Close every connection; and the listener, unless `listen` (a server restarted)."""
        import socket

        if not listen:
            self._cut.set()
            self._thread.join()  # the listener is closed: a new connection is refused
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("point", "step"), [("after_file_recorded", "ingest"), ("report_rendering", "report")]
)
def test_a_run_cut_off_from_postgresql_is_one_line_and_marked_by_the_next(
    project: Path, batches: Path, pg_database: str, point: str, step: str
):
    import sqlalchemy as sa

    from pipeline.infra.failpoints import hooked
    from tests.conftest import reset_pg

    reset_pg(pg_database)
    (project / "testdata").mkdir()
    shutil.copyfile(batches / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    real = sa.make_url(pg_database)
    proxy = _CutProxy(real.host or "127.0.0.1", real.port or 5432)
    through = real.set(port=proxy.port).render_as_string(hide_password=False)
    with hooked(point, proxy.cut):
        proc = invoke(project, "-q", "run", database_url=through)
    assert proc.returncode == 5, proc.stderr
    [line] = proc.stderr.splitlines()  # one line, no traceback
    assert line.startswith(
        f"riskwatch: error: lost the connection to the database {through} during run "
    )
    assert f", in its {step} step: " in line
    assert line.endswith("; the run could not record its end: the next run marks it failed")
    dead = line.split(" during run ", 1)[1].split(",", 1)[0]
    assert rows(pg_database, f"SELECT status FROM runs WHERE id = '{dead}'") == [
        {"status": "running"}  # it could not mark itself; never `succeeded`
    ]

    proc = invoke(project, "run", "--json", database_url=pg_database)
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout)
    [marked] = rows(pg_database, f"SELECT status, error FROM runs WHERE id = '{dead}'")
    assert marked["status"] == "failed"
    assert marked["error"].startswith(f"interrupted in its {step} step")
    assert count(pg_database, "ingested_files") == 2  # each file once
    assert count(pg_database, "ingested_files", "WHERE processed_run_id IS NULL") == 0
    assert after["production_version"] == 1
    if step == "report":  # its work was done: the next run wrote its report
        assert after["status"] == "noop"
        assert count(pg_database, "reports", f"WHERE run_id = '{dead}'") == 1
    else:
        assert after["status"] == "succeeded"
        assert count(pg_database, "reports", f"WHERE run_id = '{after['run_id']}'") == 1
    assert count(pg_database, "runs", "WHERE status = 'running'") == 0


@pytest.mark.postgres
def test_a_server_restart_between_statements_is_survived(
    project: Path, batches: Path, pg_database: str
):
    """Connections closed while none is in use: the pool's ping finds them dead and reconnects."""
    import sqlalchemy as sa

    from pipeline.infra.failpoints import hooked
    from tests.conftest import reset_pg

    reset_pg(pg_database)
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    real = sa.make_url(pg_database)
    proxy = _CutProxy(real.host or "127.0.0.1", real.port or 5432)
    through = real.set(port=proxy.port).render_as_string(hide_password=False)
    with hooked("after_file_recorded", lambda: proxy.cut(listen=True)):
        summary = run_json(project, database_url=through)
    proxy.cut()
    assert summary["status"] == "succeeded" and summary["new_files"] == 2
    assert count(pg_database, "runs", "WHERE status = 'succeeded'") == 1


def test_folders_named_with_other_digits_are_not_versions(trained: Path, batches: Path):
    """str.isdigit() is true of "²", "1²" and "٣" (int() refuses the first two, reads the last
    as 3): none is a version folder, none stops a tick, none is moved or counted."""
    odd = {name: trained / "models" / name for name in ("²", "1²", "٣", "１")}
    for folder in odd.values():
        folder.mkdir()
        (folder / "note.txt").write_text("someone's folder")
    drop(trained, batches / "sourcedata" / "clients_batch_03.csv")
    proc = invoke(trained, "run", "--json")  # retrains: the registry picks the next number
    assert proc.returncode == 0, proc.stderr
    after = json.loads(proc.stdout)
    assert after["status"] == "succeeded" and "cleanup" not in after
    recorded = rows(_db(trained), "SELECT version FROM model_versions ORDER BY version")
    versions = [r["version"] for r in recorded]
    assert versions == [1, 2]
    for folder in odd.values():
        assert (folder / "note.txt").read_text() == "someone's folder"
    assert not list((trained / "models").glob(".unregistered-*"))
    assert run_json(trained)["status"] == "noop"


@pytest.mark.parametrize(
    ("step", "finished", "said"),
    [
        ("ingest", ["discover"], "stopped in its ingest step (finished: discover)"),
        (None, [], "stopped before its first step (finished: no step)"),
        (
            None,
            ["discover", "ingest", "score", "diagnose", "report"],
            "stopped after its last step (finished: discover, ingest, score, diagnose, report)",
        ),
    ],
)
def test_a_dead_run_is_described_by_where_it_stopped(step, finished, said):
    from pipeline.run.record import _died

    dead = {"id": "x", "kind": "run", "step": step, "finished": finished}
    assert _died(dead) == f"{said}; marked failed"


def _on_postgresql(project: Path, batches: Path, pg_database: str) -> None:
    """A project on an empty PostgreSQL database (migrated), with one batch in its inbox."""
    from tests.conftest import reset_pg

    reset_pg(pg_database)
    assert invoke(project, "db", "upgrade", database_url=pg_database).returncode == 0
    (project / "testdata").mkdir()
    shutil.copyfile(batches / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")


@pytest.mark.postgres
def test_a_run_on_another_machine_holding_the_database_lock_is_left_alone(
    project: Path, batches: Path, pg_database: str
):
    """Another machine (its own lock file, here none at all) runs on the same database: this
    run finds the database's lock held, exits 0 saying so, and marks nothing interrupted."""
    import sqlalchemy as sa

    from pipeline.infra.lock import DatabaseLock

    _on_postgresql(project, batches, pg_database)
    engine = make_engine(pg_database)
    with engine.begin() as conn:  # the other machine's live run
        conn.execute(
            sa.text(
                "INSERT INTO runs (id, kind, started_at, status) "
                "VALUES ('0123456789abcdef0123456789abcdef', 'run', now(), 'running')"
            )
        )
    try:
        with DatabaseLock(engine):  # held by this process; the run is another, with its lock file
            proc = cli(project, "run", database_url=pg_database)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr.startswith("riskwatch: another riskwatch run holds the lock of the ")
        held_by = f"advisory lock 8244247498279973987, held by riskwatch pid {os.getpid()} "
        assert held_by in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
        assert not (project / ".riskwatch.lock").read_text()  # its file lock was free, and freed
        assert rows(pg_database, "SELECT id, status FROM runs") == [
            {"id": "0123456789abcdef0123456789abcdef", "status": "running"}
        ]
        assert count(pg_database, "ingested_files") == 0
        # The lock released (the other machine's run died without recording its end): the
        # next run marks it, and does the work.
        after = run_json(project, database_url=pg_database)
        assert after["status"] == "succeeded"
        [dead] = rows(pg_database, "SELECT status FROM runs WHERE id LIKE '0123%'")
        assert dead["status"] == "failed"
    finally:
        engine.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("taken_meanwhile", [False, True])
def test_a_lost_lock_connection_is_taken_again_or_the_run_stops(
    project: Path, batches: Path, pg_database: str, taken_meanwhile: bool
):
    """The connection holding the database's lock closes mid-run while the run's own reconnect
    (a server restart between statements): the next step takes the lock again; if another
    run took it meanwhile, this run stops (failed, exit 1), never running beside it."""
    import sqlalchemy as sa

    from pipeline.infra.failpoints import hooked
    from pipeline.infra.lock import DatabaseLock

    _on_postgresql(project, batches, pg_database)
    real = sa.make_url(pg_database)
    proxy = _CutProxy(real.host or "127.0.0.1", real.port or 5432)
    through = real.set(port=proxy.port).render_as_string(hide_password=False)
    other = make_engine(pg_database)
    holder = DatabaseLock(other)

    def restart() -> None:
        proxy.cut(listen=True)
        if taken_meanwhile:
            holder.__enter__()  # another machine's run, straight to the server

    try:
        with hooked("after_file_recorded", restart):
            proc = invoke(project, "run", "--json", database_url=through)
    finally:
        holder.__exit__(None, None, None)
        other.dispose()
        proxy.cut()
    [run] = rows(pg_database, "SELECT status, error, log FROM runs")
    if taken_meanwhile:
        assert proc.returncode == 1
        assert "the connection holding the database's run lock closed before the " in proc.stderr
        assert f"riskwatch pid {os.getpid()} " in proc.stderr and "this run stops" in proc.stderr
        assert run["status"] == "failed" and "DatabaseLockLost" in run["error"]
    else:
        assert proc.returncode == 0, proc.stderr
        assert run["status"] == "succeeded"
        assert "the lock is taken again (no other run took it meanwhile)" in run["log"]


@pytest.mark.postgres
def test_a_nul_in_a_log_line_is_stored_escaped_through_a_whole_run(
    project: Path, batches: Path, pg_database: str
):
    """Every write of the run's log and summary makes its text storable, the counts' too
    (`record_work`, before the report), on PostgreSQL, which refuses NUL in text."""
    import logging

    from pipeline.infra.failpoints import hooked

    _on_postgresql(project, batches, pg_database)
    name = os.fsdecode(b"caf\xe9 poison.csv")  # not UTF-8: a surrogate in the summary's name
    (project / "sourcedata" / name).write_text("corporation,exited\n")  # rejected whole
    seen: dict[str, object] = {}

    def quote_a_file() -> None:  # a line quoting what a file holds, as a reason may
        logging.getLogger("riskwatch").warning("a value from a file: 'a\x00b' and '\udcff'")

    def look() -> None:  # the report being written: what record_work stored
        seen.update(rows(pg_database, "SELECT status, summary, log FROM runs")[0])

    with hooked("after_processed", quote_a_file), hooked("report_rendering", look):
        proc = invoke(project, "run", "--json", database_url=pg_database)
    assert proc.returncode == 0, proc.stderr
    assert seen["status"] == "running"
    assert "a value from a file: 'a\\x00b' and '\\udcff'" in str(seen["log"])
    summary = seen["summary"] if isinstance(seen["summary"], dict) else json.loads(seen["summary"])
    [quarantined] = summary["quarantined"]
    assert quarantined["name"] == "caf\\xe9 poison.csv"
    [run] = rows(pg_database, "SELECT status, log FROM runs")
    assert run["status"] == "succeeded"
    assert "a value from a file: 'a\\x00b' and '\\udcff'" in run["log"]


@pytest.mark.postgres
def test_experiments_snapshot_takes_the_database_lock_too(
    project: Path, batches: Path, pg_database: str
):
    """The snapshot reads the database and the registry: no tick on any machine may change
    them under it, so it takes the run lock the runs take, the database's included."""
    from pipeline.infra.lock import DatabaseLock

    _on_postgresql(project, batches, pg_database)
    engine = make_engine(pg_database)
    try:
        with DatabaseLock(engine):
            proc = invoke(project, "experiments", "snapshot", database_url=pg_database)
        assert proc.returncode == 0, proc.stderr
        assert "another riskwatch run holds the lock of the database " in proc.stderr
        assert not (project / "experiments" / "data").exists()
        done = invoke(project, "experiments", "snapshot", database_url=pg_database)
        assert done.returncode == 0, done.stderr
        assert "holds the lock" not in done.stderr
        assert done.stdout.startswith("snapshot ")
    finally:
        engine.dispose()


def _lock_session(url: str) -> int:
    """The pid of the PostgreSQL session that holds the database's run lock."""
    import sqlalchemy as sa

    from pipeline.infra.lock import DATABASE_LOCK_KEY

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND objsubid = 1 AND classid = :high AND objid = :low AND database = "
                        "(SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"high": DATABASE_LOCK_KEY >> 32, "low": DATABASE_LOCK_KEY & 0xFFFFFFFF},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def _end_lock_session(url: str) -> None:
    """Cut the run lock's connection, as a server restart or idle_session_timeout would: its
    session ends (waited for), and the lock with it."""
    import sqlalchemy as sa

    pid = _lock_session(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ended = conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})
            assert ended.scalar() is True
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_lock_lost_in_the_report_step_never_ends_the_run_succeeded(
    project: Path, batches: Path, pg_database: str
):
    """The lock's connection closes while the report is written; a run on another machine
    takes the lock and marks this one failed. This run's end is not written over that mark:
    it stops (exit 1), the run failed as the other run said."""
    from pipeline.infra.failpoints import hooked
    from pipeline.infra.lock import DatabaseLock
    from pipeline.storage import writes

    _on_postgresql(project, batches, pg_database)
    other = make_engine(pg_database)
    holder = DatabaseLock(other)

    def lose() -> None:
        _end_lock_session(pg_database)
        holder.__enter__()  # another machine's run starts: it holds the lock, marks this one
        assert len(writes.mark_interrupted(other)) == 1

    try:
        with hooked("report_rendering", lose):
            proc = invoke(project, "run", "--json", database_url=pg_database)
    finally:
        holder.__exit__(None, None, None)
        other.dispose()
    assert proc.returncode == 1, proc.stderr
    said = "the connection holding the database's run lock closed before the run recorded its end"
    assert said in proc.stderr and "this run stops" in proc.stderr
    [run] = rows(pg_database, "SELECT status, error FROM runs")
    assert run["status"] == "failed"
    assert run["error"].startswith("interrupted in its report step"), run["error"]
    [report] = rows(pg_database, "SELECT status, detail FROM steps WHERE name = 'report'")
    assert report == {"status": "failed", "detail": "interrupted"}


@pytest.mark.postgres
def test_a_lock_lost_before_the_deploy_leaves_production_unchanged(
    project: Path, batches: Path, pg_database: str
):
    """The lock's connection closes while the first model trains, and another run takes it:
    the run stops right before its deploy; production stays as it was (none)."""
    from pipeline.infra.failpoints import hooked
    from pipeline.infra.lock import DatabaseLock

    _on_postgresql(project, batches, pg_database)
    other = make_engine(pg_database)
    holder = DatabaseLock(other)

    def lose() -> None:
        _end_lock_session(pg_database)
        holder.__enter__()

    try:
        with hooked("after_fit", lose):
            proc = invoke(project, "run", "--json", database_url=pg_database)
    finally:
        holder.__exit__(None, None, None)
        other.dispose()
    assert proc.returncode == 1, proc.stderr
    assert "closed before the deploy of version 1, and riskwatch pid " in proc.stderr
    assert count(pg_database, "deployments") == 0
    assert not (project / "models" / "production.json").exists()
    [run] = rows(pg_database, "SELECT status, error FROM runs")
    assert run["status"] == "failed" and run["error"].startswith("DatabaseLockLost: ")


@pytest.mark.postgres
def test_the_lock_held_message_names_the_holders_session_and_how_to_end_it(pg_database: str):
    import sqlalchemy as sa

    from pipeline.infra.lock import DatabaseLock, DatabaseLockHeld

    first, second = make_engine(pg_database), make_engine(pg_database)
    try:
        with DatabaseLock(first):
            pid = _lock_session(pg_database)
            with second.connect() as conn:
                start = conn.execute(
                    sa.text("SELECT backend_start FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": pid},
                ).scalar_one()
            with pytest.raises(DatabaseLockHeld) as held, DatabaseLock(second):
                pytest.fail("two holders at once")
        message = str(held.value)
        assert held.value.pid == pid
        assert f"PostgreSQL session {pid} " in message
        assert f"connected since {start:%Y-%m-%dT%H:%M:%S%z}" in message
        assert message.endswith(
            "; if that session is stale (its machine gone without closing it), end it with "
            f"SELECT pg_terminate_backend({pid}); exiting"
        )
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_postgresql_connections_carry_tcp_keepalives(pg_database: str):
    """Every connection of the engine, the run lock's included, asks libpq for TCP keepalives
    (a holder whose machine vanished loses its session in about 1.5 minutes, not 2 hours); a
    value set in the URL wins."""
    from pipeline.infra.lock import DatabaseLock

    expected = {"keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10"}
    expected["keepalives_count"] = "3"
    engine = make_engine(pg_database)
    try:
        with engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert {k: params.get(k) for k in expected} == expected
        with DatabaseLock(engine) as lock:
            assert lock._conn is not None
            raw = lock._conn.connection.dbapi_connection
            params = raw.info.get_parameters()  # type: ignore[union-attr]
        assert {k: params.get(k) for k in expected} == expected
    finally:
        engine.dispose()
    sep = "&" if "?" in pg_database else "?"
    engine = make_engine(f"{pg_database}{sep}keepalives_idle=45")
    try:
        with engine.connect() as conn:
            params = conn.connection.dbapi_connection.info.get_parameters()  # type: ignore[union-attr]
        assert {k: params.get(k) for k in expected} == {**expected, "keepalives_idle": "45"}
    finally:
        engine.dispose()


def test_a_run_that_fails_after_ingesting_records_what_it_ingested(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runs table and `runs --json` say how many files and rows a failed run took (they
    said 0, while `status` showed the file ingested)."""
    from pipeline.run import tick

    write_sample_data(project, batches=2, rows=300, test_rows=100)
    later = project / "sourcedata" / "clients_batch_02.csv"
    later.rename(project / "held.csv")
    assert run_json(project)["production_version"] == 1
    (project / "held.csv").rename(later)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the drift step broke")

    monkeypatch.setattr(tick, "_drift", broken)
    done = invoke(project, "run")
    assert done.returncode != 0 and "the drift step broke" in done.stderr
    url = f"sqlite:///{project / 'riskwatch.db'}"
    [failed] = rows(url, "SELECT * FROM runs WHERE status = 'failed'")
    assert (failed["new_files"], failed["rows_ingested"]) == (1, 300)
    assert failed["production_version"] == 1
