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
    for text in ("{", "[]", '{"format": 99}', '{"format": 1}', ""):
        (folder / "manifest.json").write_text(text)
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
