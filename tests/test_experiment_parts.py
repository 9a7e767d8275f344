"""The parts of the DVC experiments that need no DVC: the snapshot (deterministic, in step with
the state, refusing a broken manifest), the window chosen from it, provenance, the stages'
errors and plots, and a tick without .dvc/. The real `dvc` runs in test_dvc_experiments.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from pipeline.errors import DataError, ToolError
from pipeline.experiments.evaluate_stage import _plots
from pipeline.infra.files import sha256_of
from pipeline.model import registry
from pipeline.run.record import Run
from pipeline.run.snapshot_step import refresh, snapshot_dir
from pipeline.run.training_data import training_data
from pipeline.settings import load_settings
from pipeline.settings.provenance import fingerprint, provenance, training_settings
from pipeline.storage import db, snapshot
from tests.conftest import copy_project
from tests.e2e import invoke


@pytest.fixture
def live(built_project: Path, tmp_path: Path):
    settings = copy_project(built_project, tmp_path / "project")
    engine = db.make_engine(settings.database_url)
    yield settings, engine
    engine.dispose()


def test_snapshot_is_the_same_bytes_when_nothing_changed_and_follows_the_state(live) -> None:
    settings, engine = live
    folder = snapshot_dir(settings)
    first = refresh(engine, settings)
    assert first["dvc"] is False and first["tracked"] is None  # no .dvc/: written, not tracked
    manifest = (folder / "manifest.json").read_bytes()
    again = snapshot.write(engine, settings, folder, pointer=registry.POINTER)
    assert (folder / "manifest.json").read_bytes() == manifest
    assert again.added == 0 and again.removed == 0
    # Hard links, not copies: the snapshot costs no disk for the data.
    row = json.loads(manifest)["ingested_files"][0]
    assert "processed_run_id" not in row  # filled in by a later run: not what the data is
    live_file = settings.path("paths.ingested") / row["data_path"]
    assert (folder / "ingested" / row["data_path"]).samefile(live_file)
    assert (folder / "models" / "production.json").is_file()
    # A file left in the snapshot that the state no longer has is removed.
    stray = folder / "models" / "9" / "model.joblib"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"not a model")
    assert snapshot.write(engine, settings, folder, pointer=registry.POINTER).removed == 1
    assert not stray.parent.exists()


def test_the_window_from_the_snapshot_is_the_window_from_the_database(live) -> None:
    from pipeline.experiments.train_stage import snapshot_run

    settings, engine = live
    snapshot.write(engine, settings, snapshot_dir(settings), pointer=registry.POINTER)
    for window in ("all", "files:1", "rows:50", "runs:1", "days:1"):
        s = settings.with_values(training__window=window)
        from_db = training_data(Run(s, engine, "test"))
        from_snapshot = training_data(snapshot_run(s))
        assert from_snapshot.files == from_db.files
        assert from_snapshot.frame.equals(from_db.frame)


def test_a_broken_snapshot_is_a_clear_error(live, tmp_path: Path) -> None:
    settings, engine = live
    with pytest.raises(DataError, match="riskwatch experiments snapshot"):
        snapshot.open_manifest(tmp_path / "nothing")
    folder = snapshot_dir(settings)
    snapshot.write(engine, settings, folder, pointer=registry.POINTER)
    good = json.loads((folder / "manifest.json").read_text())
    row = good["ingested_files"][0]
    hostile = [
        {**good, "ingested_files": "abc"},
        {**good, "ingested_files": [5]},
        {**good, "ingested_files": [{"bogus": 1}]},
        {**good, "ingested_files": [{**row, "ingested_at": "yesterday"}]},
        {**good, "ingested_files": [{**row, "ingested_at": 5}]},
        {**good, "ingested_files": [{**row, "ingested_at": "2026-01-01T00:00:00"}]},
        {**good, "ingested_files": [row, row]},
        {**good, "model_versions": {"version": 1}},
    ]
    texts = [json.dumps(h) for h in hostile]
    for text in ("{", "[]", '{"format": 99}', '{"format": 1}', "", "7", *texts):
        (folder / "manifest.json").write_text(text)
        with pytest.raises(DataError, match="not a riskwatch snapshot manifest"):
            snapshot.open_manifest(folder)
    (folder / "manifest.json").write_bytes(b"\xff\xfe{")
    with pytest.raises(DataError, match="not a riskwatch snapshot manifest"):
        snapshot.open_manifest(folder)
    # A Parquet file gone from the live data: named, not a traceback.
    shutil.rmtree(folder)
    for parquet in settings.path("paths.ingested").rglob("*.parquet"):
        parquet.unlink()
    with pytest.raises(DataError, match=r"Parquet file .* is missing"):
        snapshot.write(engine, settings, folder, pointer=registry.POINTER)


def test_train_stage_without_a_snapshot_fails_with_what_to_do(live) -> None:
    settings, _ = live
    proc = invoke(settings.base_dir, "experiments", "train")
    assert proc.returncode == 1
    assert "riskwatch experiments snapshot" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = invoke(settings.base_dir, "experiments", "evaluate")
    assert proc.returncode == 1 and "run the train stage first" in proc.stderr


def test_provenance_names_the_experiment_only_while_the_settings_are_its(tmp_path: Path) -> None:
    (tmp_path / "riskwatch.toml").write_text("[model]\nparams = { C = 2.0 }\n")
    settings = load_settings(tmp_path / "riskwatch.toml", environ={})
    plain = provenance(settings)
    assert plain["experiment"] is None
    assert plain["settings"]["model.params"] == {"C": 2.0}
    assert plain["settings_sha256"] == fingerprint(training_settings(settings))
    assert "paths.source" not in plain["settings"]  # where files are is not how a model trains
    record = tmp_path / "experiments" / "experiment.json"
    record.parent.mkdir()
    record.write_text(json.dumps({"name": "c-two", "settings_sha256": plain["settings_sha256"]}))
    assert provenance(settings)["experiment"]["name"] == "c-two"
    other = settings.with_values(model__params={"C": 3.0})
    assert provenance(other)["experiment"] is None
    assert provenance(other)["differs_from_experiment"] == "c-two"
    for junk in ("", "{", "[1]", '{"settings_sha256": 5}', "\x00\xff"):
        record.write_text(junk)
        assert provenance(settings)["experiment"] is None


def test_plots_for_each_task(tmp_path: Path) -> None:
    y = np.array([0, 1, 1, 0, 1])
    assert _plots(tmp_path / "c", "classification", y, y, np.linspace(0, 1, 5)) == [
        "confusion.csv",
        "precision_recall.csv",
        "roc.csv",
    ]
    three = np.array([0, 1, 2, 2])
    assert _plots(tmp_path / "m", "classification", three, three, None) == ["confusion.csv"]
    regression = _plots(
        tmp_path / "r", "regression", np.array([1.0, 2.0]), np.array([1.5, 1.0]), None
    )
    assert regression == ["residuals.csv"]
    assert (tmp_path / "r" / "residuals.csv").read_text().splitlines() == [
        "predicted,actual,residual",
        "1.5,1.0,-0.5",
        "1.0,2.0,1.0",
    ]


def test_experiments_summary_outside_a_dvc_project_says_so(live) -> None:
    settings, _ = live
    proc = invoke(settings.base_dir, "experiments", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dvc"] is False and "riskwatch experiments init" in doc["note"]
    assert [v["version"] for v in doc["versions"]] == [1]
    assert doc["versions"][0]["settings_sha256"] == provenance(settings)["settings_sha256"]


def test_experiments_init_outside_git_says_what_to_do(live) -> None:
    settings, _ = live
    proc = invoke(settings.base_dir, "experiments", "init")
    assert proc.returncode == 1
    assert "not in a git repository" in proc.stderr and "git init" in proc.stderr
    assert not (settings.base_dir / ".dvc").exists()


def test_a_tick_without_dvc_is_unchanged_whatever_the_setting(built_project: Path, tmp_path):
    from pipeline.tools.sampledata import write_sample_data

    settings = copy_project(built_project, tmp_path / "project")
    toml = settings.base_dir / "riskwatch.toml"
    toml.write_text(toml.read_text() + '\n[experiments]\nsnapshot = "tick"\n')
    write_sample_data(tmp_path / "more", batches=2, rows=120, test_rows=10, seed=11)
    newest = sorted((tmp_path / "more" / "sourcedata").glob("*.csv"))[-1]
    shutil.copy2(newest, settings.path("paths.source") / "later.csv")
    proc = invoke(settings.base_dir, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["new_files"] == 1
    assert "snapshot" not in summary and "snapshot" not in summary["timings"]
    assert not (settings.base_dir / "experiments").exists()


def test_dvc_missing_is_a_tool_error(monkeypatch, tmp_path: Path) -> None:
    from pipeline.infra import dvc

    monkeypatch.setattr(dvc, "executable", lambda name: None)
    with pytest.raises(ToolError, match="dvc is not installed"):
        dvc.run("dvc", ["status"], tmp_path)


def test_the_repository_dvc_yaml_is_the_one_riskwatch_ships() -> None:
    from pipeline.experiments.setup import pipeline_text

    repo = Path(__file__).resolve().parents[1]
    assert (repo / "dvc.yaml").read_text() == pipeline_text()


def test_experiments_init_sets_up_a_git_project_that_has_no_dvc_yet(live, tmp_path: Path):
    import subprocess
    import tomllib

    settings, _ = live
    root = settings.base_dir
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    before = (root / "riskwatch.toml").read_text()
    remote = tmp_path / "remote"
    env = {"experiments.remote": str(remote)}
    (root / "riskwatch.toml").write_text(
        before + f'\n[experiments]\nremote = "{env["experiments.remote"]}"\n'
    )
    proc = invoke(root, "experiments", "init", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["dvc_initialised"] and doc["dvc_yaml_written"]
    assert "[training]" in doc["settings_added"] and "paths.test_data" in doc["settings_added"]
    assert (root / ".dvc").is_dir() and (root / "dvc.yaml").is_file() and remote.is_dir()
    assert str(remote) in (root / ".dvc" / "config.local").read_text()
    assert "analytics = false" in (root / ".dvc" / "config").read_text()
    assert 'type = "hardlink,copy"' in (root / ".dvc" / "config").read_text()
    settings_doc = tomllib.loads((root / "riskwatch.toml").read_text())
    assert settings_doc["training"] == {} and settings_doc["paths"]["test_data"]
    # Twice is harmless: nothing more to do.
    again = json.loads(invoke(root, "experiments", "init", "--json").stdout)
    assert not again["dvc_initialised"] and again["settings_added"] == []


def _drop_new_batch(settings, tmp_path: Path) -> None:
    from pipeline.tools.sampledata import write_sample_data

    write_sample_data(tmp_path / "more", batches=2, rows=120, test_rows=10, seed=11)
    newest = sorted((tmp_path / "more" / "sourcedata").glob("*.csv"))[-1]
    shutil.copy2(newest, settings.path("paths.source") / "later.csv")


@pytest.mark.parametrize("failure", ["dvc", "database"])
def test_a_failing_tick_snapshot_is_a_warning_not_a_failed_tick(
    built_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    import sqlalchemy as sa

    settings = copy_project(built_project, tmp_path / "project")
    toml = settings.base_dir / "riskwatch.toml"
    toml.write_text(toml.read_text() + '\n[experiments]\nsnapshot = "tick"\n')
    (settings.base_dir / ".dvc").mkdir()  # a DVC project to the tick, which dvc itself refuses
    if failure == "database":

        def broken(*args: object, **kwargs: object) -> None:
            raise sa.exc.OperationalError("SELECT", {}, Exception("database is locked"))

        monkeypatch.setattr(snapshot, "write", broken)
    _drop_new_batch(settings, tmp_path)
    proc = invoke(settings.base_dir, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["status"] == "succeeded" and summary["new_files"] == 1
    expected = "ToolError" if failure == "dvc" else "OperationalError"
    assert summary["snapshot"]["error"].startswith(expected), summary["snapshot"]
    assert "snapshot not refreshed" in proc.stderr


@pytest.mark.parametrize("remote", ["riskwatch.toml", "ingesteddata/remote", "."])
def test_a_bad_experiments_remote_fails_init_before_anything_changes(live, remote: str) -> None:
    import subprocess

    settings, _ = live
    root = settings.base_dir
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    toml = root / "riskwatch.toml"
    toml.write_text(toml.read_text() + f'\n[experiments]\nremote = "{remote}"\n')
    before = toml.read_text()
    proc = invoke(root, "experiments", "init")
    assert proc.returncode == 2, proc.stderr
    assert "experiments.remote" in proc.stderr and "Traceback" not in proc.stderr
    assert not (root / ".dvc").exists() and not (root / "dvc.yaml").exists()
    assert toml.read_text() == before


def test_versions_without_a_fingerprint_are_not_given_an_experiment(
    live, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A version from before provenance was recorded, and an experiment whose parameters are
    not valid settings: neither has a fingerprint, and they are not matched to each other."""
    import sqlalchemy as sa

    from pipeline.experiments import summary as summary_module
    from pipeline.infra import dvc
    from pipeline.storage import tables

    settings, engine = live
    with engine.begin() as conn:
        conn.execute(sa.update(tables.model_versions).values(provenance=None))
    bad = {"kind": "experiment", "name": "bad-exp", "settings_sha256": None}
    monkeypatch.setattr(dvc, "initialised", lambda root: True)
    monkeypatch.setattr(summary_module, "experiments", lambda s: [dict(bad)])
    monkeypatch.setattr(summary_module, "_uncommitted_settings", lambda s: False)
    doc = summary_module.summary(settings)
    assert doc["versions"][0]["experiment"] is None
    assert doc["experiments"][0]["versions"] == []


def test_snapshot_of_each_database_holds_its_rows_and_its_production_model(settings, engine):
    """SQLite and PostgreSQL: times, JSON columns and the window come back from the manifest as
    the database has them, and the production model loads from the snapshot, checked."""
    import sqlalchemy as sa

    from pipeline.experiments.train_stage import snapshot_production, snapshot_run
    from pipeline.run import run_once
    from pipeline.storage import tables
    from pipeline.tools.sampledata import write_sample_data

    write_sample_data(settings.base_dir, batches=2, rows=150, test_rows=50)
    run_once(settings)
    snapshot.write(engine, settings, snapshot_dir(settings), pointer=registry.POINTER)
    run = snapshot_run(settings)
    for table, key in ((tables.ingested_files, "id"), (tables.model_versions, "version")):
        wanted = [c for c in table.columns if c.name != "processed_run_id"]
        query = sa.select(*wanted).order_by(table.c[key])
        with engine.connect() as live_conn, run.engine.connect() as snap_conn:
            live_rows = [r._asdict() for r in live_conn.execute(query)]
            if table is tables.ingested_files:
                live_rows = [r for r in live_rows if r["status"] == "ingested"]
            assert [r._asdict() for r in snap_conn.execute(query)] == live_rows
    assert training_data(run).frame.equals(training_data(Run(settings, engine, "t")).frame)
    version, champion, error = snapshot_production(run)
    assert (version, error) == (1, None) and champion is not None


def test_a_stage_fails_while_a_run_holds_the_lock(live) -> None:
    """A tick may be rewriting the snapshot: the stage does not read it then, and says why."""
    from pipeline.infra.lock import RunLock

    settings, engine = live
    snapshot.write(engine, settings, snapshot_dir(settings), pointer=registry.POINTER)
    with RunLock(settings.path("paths.lock")):
        proc = invoke(settings.base_dir, "experiments", "train")
    assert proc.returncode == 1
    assert "run the experiment again" in proc.stderr and "Traceback" not in proc.stderr
    assert not (settings.base_dir / "experiments" / "metrics.json").exists()
    assert invoke(settings.base_dir, "experiments", "train").returncode == 0


def test_train_stage_without_a_holdout_says_what_the_cron_job_would_record_and_do(live):
    settings, engine = live
    snapshot.write(engine, settings, snapshot_dir(settings), pointer=registry.POINTER)
    import tomlkit

    toml = settings.base_dir / "riskwatch.toml"
    doc = tomlkit.parse(toml.read_text())
    doc.setdefault("split", tomlkit.table())["holdout_fraction"] = 0
    toml.write_text(tomlkit.dumps(doc))
    proc = invoke(settings.base_dir, "experiments", "train", "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["holdout_rows"] == 0 and metrics["challenger"] is None
    assert metrics["recorded"]["source"] == "test"  # the test file's score, as the retrain's
    assert metrics["would_promote"] is True  # deployed without comparison, as the cron job would
    assert metrics["production"] == {"version": 1, "note": "no holdout to compare on"}


class _RaisesOnLoad:
    """Unpickles by calling int("not an int"): a ValueError, as scikit-learn raises for a model
    pickled by an incompatible release."""

    def __reduce__(self) -> tuple:
        return (int, ("not an int",))


def test_a_production_model_that_cannot_be_unpickled_is_reported_not_a_traceback(live) -> None:
    import hashlib
    import pickle

    settings, engine = live
    folder = snapshot_dir(settings)
    snapshot.write(engine, settings, folder, pointer=registry.POINTER)
    artifact = folder / "models" / "1" / "model.joblib"
    artifact.unlink()  # a hard link to the live artifact: replaced, never written through
    data = pickle.dumps(_RaisesOnLoad())
    artifact.write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["model_versions"][0]["sha256"] = hashlib.sha256(data).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    proc = invoke(settings.base_dir, "experiments", "train", "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["production"]["version"] == 1
    assert "invalid literal" in metrics["production"]["error"]
    assert metrics["would_promote"] is None  # the gate's answer is unknown without the champion
    proc = invoke(settings.base_dir, "experiments", "evaluate", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "invalid literal" in json.loads(proc.stdout)["production"]["error"]
    # The live artifact is untouched.
    live_artifact = settings.path("paths.models") / "1" / "model.joblib"
    assert registry.load(engine, settings, 1).sha256 == sha256_of(live_artifact)


def test_init_ignores_experiments_remote_when_the_project_has_a_default_remote(
    live, tmp_path: Path
) -> None:
    import subprocess

    settings, _ = live
    root = settings.base_dir
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    toml = root / "riskwatch.toml"
    base = toml.read_text()
    toml.write_text(base + f'\n[experiments]\nremote = "{tmp_path / "remote"}"\n')
    assert invoke(root, "experiments", "init").returncode == 0
    toml.write_text(base + '\n[experiments]\nremote = "riskwatch.toml"\n')  # would be refused
    proc = invoke(root, "experiments", "init", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["remote"] == "riskwatch"
