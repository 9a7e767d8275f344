"""DVC experiments, for real: a temporary git repository made from the project, the real `dvc`
(`exp run`, `--queue` and `--run-all`, `exp show --json`, `exp apply`, `repro`, `push`, `pull`)
calling the real `riskwatch experiments train` and `evaluate`, and the cron job's gate after
`dvc exp apply`.

The project is built once per module (a run that trains v1 on two sample batches, `experiments
init`, a snapshot, a committed baseline); each test works on its own copy of it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomlkit

from tests.e2e import invoke

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = str(Path(sys.executable).parent)
# What the temporary repository takes from the project: its settings, pipeline and DVC files.
PROJECT_FILES = (
    "riskwatch.toml",
    "dvc.yaml",
    ".dvc/config",
    ".dvc/.gitignore",
    ".dvcignore",
    ".gitignore",
    "contract.toml",
)


def env_for(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RISKWATCH_CONFIG")}
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(root.parent / f"{root.name}-site"),
        GIT_CONFIG_NOSYSTEM="1",
        RISKWATCH_CONFIG=str(root / "riskwatch.toml"),
    )
    return env


def sh(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        list(args),
        cwd=root,
        env=env_for(root),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def rw(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`riskwatch ARGS` in this process (the stages themselves run as DVC's subprocesses)."""
    return invoke(root, *args, environ=env_for(root))


def commit(root: Path, message: str) -> None:
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", message)


def set_setting(root: Path, section: str, key: str, value: object) -> None:
    path = root / "riskwatch.toml"
    doc = tomlkit.parse(path.read_text())
    doc.setdefault(section, tomlkit.table())[key] = value
    path.write_text(tomlkit.dumps(doc))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.tools.sampledata import write_sample_data

    root = tmp_path_factory.mktemp("dvcproject") / "project"
    root.mkdir()
    for name in PROJECT_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, root / name)
    for folder in ("ingesteddata", "models"):
        (root / folder).mkdir()
        (root / folder / ".gitkeep").touch()
    write_sample_data(root, batches=4, rows=600, test_rows=400)
    later = root.parent / "later"  # the drifted batches, dropped after an experiment is applied
    later.mkdir()
    for batch in sorted((root / "sourcedata").glob("*.csv"))[2:]:
        batch.rename(later / batch.name)
    set_setting(root, "diagnostics", "outdated_packages", False)
    set_setting(root, "policy", "bootstrap_samples", 200)
    # Retrain on any drop of the metric: the drifted batch makes the next tick retrain.
    set_setting(root, "policy", "tolerance", 0.0)
    set_setting(root, "policy", "require_interval", False)
    set_setting(root, "experiments", "remote", str(root.parent / "remote"))
    sh(root, "git", "init", "-q")
    sh(root, "git", "config", "user.email", "tests@riskwatch.invalid")
    sh(root, "git", "config", "user.name", "riskwatch tests")
    proc = rw(root, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["production_version"] == 1
    proc = rw(root, "experiments", "init", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["remote"] == "riskwatch"
    proc = rw(root, "experiments", "snapshot", "--json")
    assert proc.returncode == 0, proc.stderr
    commit(root, "project with its snapshot")
    sh(root, "dvc", "repro")
    commit(root, "baseline experiment")
    return root


@pytest.fixture
def project(built: Path, tmp_path: Path) -> Path:
    """This test's own copy of the built repository (git, DVC cache and remote included)."""
    root = tmp_path / "project"
    shutil.copytree(built, root, symlinks=True)
    shutil.copytree(built.parent / "remote", tmp_path / "remote")
    shutil.copytree(built.parent / "later", tmp_path / "later")
    set_setting(root, "experiments", "remote", str(tmp_path / "remote"))
    sh(root, "dvc", "remote", "modify", "--local", "riskwatch", "url", str(tmp_path / "remote"))
    sh(root, "git", "checkout", "-q", "riskwatch.toml")  # the setting is local: keep git clean
    return root


def exp_show(root: Path) -> list[dict]:
    rows = json.loads(sh(root, "dvc", "exp", "show", "--json").stdout)
    return [rev for row in rows for group in row.get("experiments") or [] for rev in group["revs"]]


def exp_params(rev: dict) -> dict:
    return rev["data"]["params"]["riskwatch.toml"]["data"]


def exp_metrics(rev: dict) -> dict:
    return rev["data"]["metrics"]["experiments/metrics.json"]["data"]


def version_meta(root: Path, version: int) -> dict:
    return json.loads((root / "models" / str(version) / "metadata.json").read_text())


def test_exp_run_and_a_queued_grid_are_listed_with_params_and_metrics_beside_production(
    project: Path,
) -> None:
    sh(project, "dvc", "exp", "run", "-n", "c-low", "-S", "riskwatch.toml:model.params.C=0.01")
    sh(project, "dvc", "exp", "run", "-n", "c-high", "-S", "riskwatch.toml:model.params.C=10")
    sh(project, "dvc", "exp", "run", "--queue", "-S", "riskwatch.toml:model.params.C=0.1,3")
    sh(project, "dvc", "exp", "run", "--run-all", timeout=600)
    revs = exp_show(project)
    by_c = {exp_params(r)["model"]["params"]["C"]: r for r in revs}
    assert set(by_c) == {0.01, 10, 0.1, 3}
    assert {by_c[0.01]["name"], by_c[10]["name"]} == {"c-low", "c-high"}
    for rev in revs:
        assert rev["error"] is None
        m = exp_metrics(rev)
        assert m["metric"] == "f1"
        assert 0 <= m["challenger"]["f1"] <= 1
        assert m["production"]["version"] == 1  # the same production model beside each
        assert m["holdout_rows"] == 240  # 20 % of the two batches: the cron job's holdout
        assert isinstance(m["would_promote"], bool)
        ev = rev["data"]["metrics"]["experiments/evaluation.json"]["data"]
        assert ev["challenger"]["rows"] == 400 and "roc_auc" in ev["challenger"]
    # One production score on one holdout, whatever the experiment changed.
    assert len({exp_metrics(r)["production"]["f1"] for r in revs}) == 1
    assert len({exp_metrics(r)["challenger"]["f1"] for r in revs}) > 1
    # riskwatch's own summary: the same experiments, their changed settings, v1 matched.
    proc = rw(project, "experiments", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    listed = {e["name"]: e for e in doc["experiments"] if e["kind"] == "experiment"}
    assert listed["c-low"]["changed"] == {"model.params.C": 0.01}
    assert listed["c-high"]["challenger"] == exp_metrics(by_c[10])["challenger"]["f1"]
    baseline = next(e for e in doc["experiments"] if e["kind"] == "baseline")
    assert baseline["versions"] == [1]  # v1 was trained with the baseline's settings
    text = rw(project, "experiments").stdout
    assert "c-low" in text and "model.params.C=0.01" in text and "v1 (production)" in text


def test_applied_experiment_trains_the_next_tick_and_is_recorded(project: Path) -> None:
    # --temp: DVC runs it in a folder of its own (and names it there); the workspace is untouched.
    sh(
        project,
        "dvc",
        "exp",
        "run",
        "--temp",
        "-n",
        "stronger",
        "-S",
        "riskwatch.toml:model.params.C=5",
    )
    assert "C = 1.0" in (project / "riskwatch.toml").read_text()
    sh(project, "dvc", "exp", "apply", "stronger")
    doc = tomlkit.parse((project / "riskwatch.toml").read_text())
    assert doc["model"]["params"]["C"] == 5
    for batch in sorted((project.parent / "later").glob("*.csv")):
        shutil.copy2(batch, project / "sourcedata" / batch.name)
    proc = rw(project, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["decision"]["retrain"], summary["decision"]
    challenger = summary["promotion"]["challenger_version"]
    meta = version_meta(project, challenger)
    assert meta["params"]["C"] == 5
    prov = meta["provenance"]
    assert prov["settings"]["model.params"] == {"C": 5, "max_iter": 1000}
    assert prov["experiment"]["name"] == "stronger"
    record = json.loads((project / "experiments" / "experiment.json").read_text())
    assert prov["experiment"]["settings_sha256"] == record["settings_sha256"]
    assert prov["settings_sha256"] == record["settings_sha256"]
    # riskwatch experiments names the experiment the version came from.
    listed = json.loads(rw(project, "experiments", "--json").stdout)
    version = next(v for v in listed["versions"] if v["version"] == challenger)
    assert version["experiment"] == "stronger"
    assert listed["uncommitted_settings"] is True  # applied: riskwatch.toml is not git's
    status = json.loads(rw(project, "status", "--json").stdout)
    assert {v["version"]: v["experiment"] for v in status["model_versions"]}[
        challenger
    ] == "stronger"
    assert "experiment: stronger" in rw(project, "status").stdout


def test_a_worse_experiment_applied_is_not_promoted(project: Path) -> None:
    sh(project, "dvc", "exp", "run", "-n", "weak", "-S", "riskwatch.toml:model.params.C=0.0001")
    weak = next(r for r in exp_show(project) if r["name"] == "weak")
    assert exp_metrics(weak)["would_promote"] is False
    sh(project, "dvc", "exp", "apply", "weak")
    proc = rw(project, "train", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["promotion"]["promoted"] is False
    assert summary["production_version"] == 1
    meta = version_meta(project, summary["promotion"]["challenger_version"])
    assert meta["params"]["C"] == 0.0001
    assert meta["provenance"]["experiment"] is not None
    # Edited after applying: the version no longer claims the experiment.
    set_setting(project, "model", "metric", "accuracy")
    summary = json.loads(rw(project, "train", "--json").stdout)
    prov = version_meta(project, summary["promotion"]["challenger_version"])["provenance"]
    assert prov["experiment"] is None and "differs_from_experiment" in prov


def test_repro_twice_does_nothing_and_a_change_reruns_only_what_depends_on_it(
    project: Path,
) -> None:
    out = sh(project, "dvc", "repro").stdout
    assert "Running stage" not in out, out
    assert "Data and pipelines are up to date" in out
    # A setting that leaves the model as it was reruns train, and not evaluate: DVC finds the
    # same model in experiments/model.
    set_setting(project, "policy", "promote_margin", 0.01)
    out = sh(project, "dvc", "repro").stdout
    assert "Running stage 'train'" in out and "Running stage 'evaluate'" not in out, out
    # The test file: evaluate scores on it, and train (its recorded score without a holdout).
    test_file = project / "testdata" / "testdata.csv"
    lines = test_file.read_text().splitlines(keepends=True)
    test_file.write_text("".join(lines[:-50]))
    out = sh(project, "dvc", "repro").stdout
    assert "Running stage 'evaluate'" in out, out
    ev = json.loads((project / "experiments" / "evaluation.json").read_text())
    assert ev["challenger"]["rows"] == 350
    # A training setting reruns both.
    set_setting(project, "split", "holdout_fraction", 0.25)
    out = sh(project, "dvc", "repro").stdout
    assert "Running stage 'train'" in out and "Running stage 'evaluate'" in out, out
    assert json.loads((project / "experiments" / "metrics.json").read_text())["holdout_rows"] == 300
    assert "Running stage" not in sh(project, "dvc", "repro").stdout


def test_snapshot_is_pushed_and_pulled_through_the_local_remote(project: Path) -> None:
    data = project / "experiments" / "data"
    manifest = (data / "manifest.json").read_bytes()
    shutil.rmtree(data)
    shutil.rmtree(project / ".dvc" / "cache")
    sh(project, "dvc", "pull", "experiments/data.dvc")
    assert (data / "manifest.json").read_bytes() == manifest
    parquet = json.loads(manifest)["ingested_files"][0]["data_path"]
    assert (data / "ingested" / parquet).is_file()
    assert (data / "models" / "1" / "model.joblib").is_file()
    # The live registry and data were never DVC's: the production pointer is untouched.
    assert json.loads((project / "models" / "production.json").read_text())["version"] == 1


def test_dvc_exp_apply_never_changes_production(project: Path) -> None:
    """The experiments read the snapshot; checking out another one leaves the registry alone."""
    sh(project, "dvc", "exp", "run", "-n", "other", "-S", "riskwatch.toml:model.params.C=2")
    for batch in sorted((project.parent / "later").glob("*.csv"))[:1]:
        shutil.copy2(batch, project / "sourcedata" / batch.name)
    set_setting(project, "policy", "tolerance", 1.0)  # the tick only ingests and scores
    assert rw(project, "run").returncode == 0
    live = sorted(p.name for p in (project / "ingesteddata").rglob("*.parquet"))
    sh(project, "git", "checkout", "-q", "riskwatch.toml")
    sh(project, "dvc", "exp", "apply", "other")
    assert sorted(p.name for p in (project / "ingesteddata").rglob("*.parquet")) == live
    assert json.loads((project / "models" / "production.json").read_text())["version"] == 1
    assert len(live) == 3  # the third file, ingested after the snapshot, is still there


def test_tick_with_snapshot_on_tick_refreshes_and_tracks_it(project: Path) -> None:
    set_setting(project, "experiments", "snapshot", "tick")
    for batch in sorted((project.parent / "later").glob("*.csv"))[:1]:
        shutil.copy2(batch, project / "sourcedata" / batch.name)
    proc = rw(project, "run", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["snapshot"]["ingested_files"] == 3
    assert summary["snapshot"]["pushed"] is True
    assert "snapshot" in summary["timings"]
    manifest = json.loads((project / "experiments" / "data" / "manifest.json").read_text())
    assert len(manifest["ingested_files"]) == 3
    status = sh(project, "git", "status", "--porcelain").stdout
    assert "experiments/data.dvc" in status  # the new snapshot, for the user to commit


def test_the_snapshot_and_dvc_cache_share_the_live_files_on_disk(built: Path) -> None:
    """cache.type hardlink: the data is on disk once, whether live, in the snapshot or cached
    (the built repository itself: a copy of it would copy the files apart)."""
    manifest = json.loads((built / "experiments" / "data" / "manifest.json").read_text())
    live = built / "ingesteddata" / manifest["ingested_files"][0]["data_path"]
    snap = built / "experiments" / "data" / "ingested" / manifest["ingested_files"][0]["data_path"]
    cached = [p for p in (built / ".dvc" / "cache").rglob("*") if p.is_file()]
    assert snap.stat().st_ino == live.stat().st_ino
    assert live.stat().st_ino in {p.stat().st_ino for p in cached}
