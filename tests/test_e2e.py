"""One cron tick after another, through the real CLI, on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline.tools.sampledata import write_sample_data
from tests.e2e import count, drop, invoke, rows, run_json, sha

pytestmark = pytest.mark.slow

SUMMARY_KEYS = {
    "run_id",
    "status",
    "new_files",
    "rows_ingested",
    "files_quarantined",
    "rows_quarantined",
    "score",
    "decision",
    "production_version",
    "report",
    "timings",
}


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batches 1-2 like the training data, batch 3 drifted; plus the labelled test file."""
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=3, rows=500, test_rows=300)
    return out


def _with_test_file(project: Path, batches: Path) -> None:
    (project / "testdata").mkdir(exist_ok=True)
    drop_to = project / "testdata" / "testdata.csv"
    drop_to.write_bytes((batches / "testdata" / "testdata.csv").read_bytes())


def _pdf_pages(path: str) -> int:
    return len(PdfReader(path).pages)


def _assert_metadata_matches_row(project: Path, database_url: str, version: int) -> None:
    """The version's metadata.json and its model_versions row carry the same holdout score."""
    meta = json.loads((project / "models" / str(version) / "metadata.json").read_text())
    (row,) = rows(
        database_url,
        "SELECT holdout_score, holdout_ci_low, holdout_ci_high, sha256 FROM model_versions"
        f" WHERE version = {version}",
    )
    assert row["holdout_score"] is not None
    assert meta["holdout_score"] == pytest.approx(row["holdout_score"], rel=1e-12)
    assert meta["holdout_ci"] == pytest.approx(
        [row["holdout_ci_low"], row["holdout_ci_high"]], rel=1e-12
    )
    assert meta["sha256"] == row["sha256"]


def test_four_ticks_train_keep_retrain_noop(project: Path, database_url: str, batches: Path):
    _with_test_file(project, batches)
    src = batches / "sourcedata"

    # Tick 1: the first model is trained and deployed as version 1.
    drop(project, src / "clients_batch_01.csv")
    t1 = run_json(project, database_url)
    assert t1.keys() >= SUMMARY_KEYS
    assert t1["status"] == "succeeded"
    assert (t1["new_files"], t1["rows_ingested"], t1["files_quarantined"]) == (1, 500, 0)
    assert t1["rows_quarantined"] == 0
    assert t1["decision"]["retrain"] is True
    assert t1["production_version"] == 1
    assert _pdf_pages(t1["report"]) >= 2
    _assert_metadata_matches_row(project, database_url, 1)

    # Tick 2: a batch like the training data; the model holds, no retrain.
    drop(project, src / "clients_batch_02.csv")
    t2 = run_json(project, database_url)
    assert t2["decision"]["retrain"] is False, t2["decision"]["reason"]
    assert t2["production_version"] == 1
    score = t2["score"]
    assert score["model_version"] == 1 and score["n_rows"] == 500
    assert score["ci_low"] <= score["value"] <= score["ci_high"]

    # Tick 3: a drifted batch; the model degraded, a challenger is trained and promoted.
    drop(project, src / "clients_batch_03.csv")
    t3 = run_json(project, database_url)
    assert t3["decision"]["retrain"] is True, t3["decision"]["reason"]
    assert "degraded" in t3["decision"]["reason"]
    assert t3["promotion"]["promoted"] is True
    assert t3["production_version"] == 2
    assert t3["score"]["value"] < t2["score"]["value"]
    _assert_metadata_matches_row(project, database_url, 2)
    assert t3["promotion"]["challenger"] == pytest.approx(
        json.loads((project / "models" / "2" / "metadata.json").read_text())["holdout_score"]
    )

    # Tick 4: nothing new: a recorded no-op without a report.
    t4 = run_json(project, database_url)
    assert t4["status"] == "noop" and t4["report"] is None and t4["production_version"] == 2
    assert (t4["files_quarantined"], t4["rows_quarantined"]) == (0, 0)

    runs = rows(database_url, "SELECT id, status, production_version FROM runs ORDER BY started_at")
    assert [r["status"] for r in runs] == ["succeeded", "succeeded", "succeeded", "noop"]
    assert [r["id"] for r in runs] == [t1["run_id"], t2["run_id"], t3["run_id"], t4["run_id"]]
    assert all(len(r["id"]) == 32 and int(r["id"], 16) >= 0 for r in runs)
    assert count(database_url, "ingested_files") == 3
    assert count(database_url, "model_versions") == 2
    deployments = rows(
        database_url, "SELECT from_version, to_version, kind FROM deployments ORDER BY id"
    )
    assert deployments == [
        {"from_version": None, "to_version": 1, "kind": "initial"},
        {"from_version": 1, "to_version": 2, "kind": "promote"},
    ]
    decisions = rows(database_url, "SELECT run_id, kind, outcome FROM decisions ORDER BY id")
    assert [(d["kind"], bool(d["outcome"])) for d in decisions] == [
        ("retrain", True),
        ("promote", True),
        ("retrain", False),
        ("retrain", True),
        ("promote", True),
    ]
    evidence = rows(database_url, "SELECT evidence FROM decisions WHERE kind = 'retrain'")[1]
    evidence = (
        evidence["evidence"]
        if isinstance(evidence["evidence"], dict)
        else json.loads(evidence["evidence"])
    )
    assert {
        "new_score",
        "production_metric",
        "ci_low",
        "ci_high",
        "n_rows",
        "tolerance",
    } <= evidence.keys()
    # Champion and challenger scored on the same holdout in tick 3.
    holdout = rows(
        database_url,
        f"SELECT role, n_rows FROM scores WHERE run_id = '{t3['run_id']}' AND dataset = 'holdout'",
    )
    assert sorted(r["role"] for r in holdout) == ["challenger", "champion"]
    assert len({r["n_rows"] for r in holdout}) == 1
    for run in (t1, t2, t3):
        rid = run["run_id"]
        assert count(database_url, "steps", f"WHERE run_id = '{rid}'") >= 3
        assert count(database_url, "feature_stats", f"WHERE run_id = '{rid}'") > 0
        assert count(database_url, "missing_values", f"WHERE run_id = '{rid}'") > 0
        assert count(database_url, "confusion_matrices", f"WHERE run_id = '{rid}'") >= 4
        on_test = f"WHERE run_id = '{rid}' AND source = 'diagnostics'"
        assert count(database_url, "predictions", on_test) == 300
        # Each tick's new file, predicted once by the production model of that tick (issue 12).
        # A scheduled prediction's run is its segment's.
        scheduled = f"p JOIN prediction_segments s ON s.id = p.segment_id WHERE s.run_id = '{rid}'"
        assert count(database_url, "predictions", scheduled) == 500
        assert count(database_url, "reports", f"WHERE run_id = '{rid}'") == 1
    stats = rows(database_url, f"SELECT * FROM feature_stats WHERE run_id = '{t2['run_id']}'")
    assert all(
        s["mean"] is not None and s["median"] is not None and s["std"] is not None for s in stats
    )

    status = json.loads(invoke(project, "status", "--json", database_url=database_url).stdout)
    assert status["production_version"] == 2
    assert [v["version"] for v in status["model_versions"]] == [1, 2]
    assert {f["name"] for f in status["ingested_files"]} == {
        "clients_batch_01.csv",
        "clients_batch_02.csv",
        "clients_batch_03.csv",
    }
    assert all(len(f["sha256"]) == 64 and f["rows"] == 500 for f in status["ingested_files"])
    listed = json.loads(invoke(project, "runs", "--json", database_url=database_url).stdout)
    assert [r["id"] for r in listed] == [t4["run_id"], t3["run_id"], t2["run_id"], t1["run_id"]]


def test_same_content_is_taken_once_and_a_changed_file_is_new(project: Path, batches: Path):
    _with_test_file(project, batches)
    src = batches / "sourcedata" / "clients_batch_01.csv"
    invoke(project, "db", "upgrade")
    drop(project, src)
    assert run_json(project)["new_files"] == 1
    drop(project, src, "renamed_copy.csv")
    assert run_json(project)["status"] == "noop"
    # A producer still writing: temporary names are never taken.
    partial = project / "sourcedata" / "clients_batch_02.csv.part"
    partial.write_bytes((batches / "sourcedata" / "clients_batch_02.csv").read_bytes()[:5000])
    assert run_json(project)["status"] == "noop"
    partial.unlink()
    # The same name with new content is a new file.
    target = project / "sourcedata" / "clients_batch_01.csv"
    lines = (batches / "sourcedata" / "clients_batch_02.csv").read_text().splitlines()
    target.write_text("\n".join(lines[:201]) + "\n")
    t = run_json(project)
    assert (t["new_files"], t["rows_ingested"]) == (1, 200)
    assert count(f"sqlite:///{project / 'riskwatch.db'}", "ingested_files") == 2


def test_young_files_wait_for_min_age(project: Path, batches: Path):
    with (project / "riskwatch.toml").open("a") as fh:
        fh.write("\n[data]\nmin_file_age_seconds = 3600\n")
    invoke(project, "db", "upgrade")
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    t = run_json(project)
    assert t["status"] == "noop"
    assert t["deferred"] == [{"name": "clients_batch_01.csv", "reason": "younger than 3600 s"}]


def test_bad_files_are_quarantined_and_the_good_one_ingested(project: Path, batches: Path):
    _with_test_file(project, batches)
    invoke(project, "db", "upgrade")
    inbox = project / "sourcedata"
    good = drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    (inbox / "binary.csv").write_bytes(bytes(range(256)) * 40)
    (inbox / "empty.csv").write_bytes(b"")
    text = (batches / "sourcedata" / "clients_batch_02.csv").read_text().splitlines()
    header = text[0].split(",")
    cut = header.index("exited")
    no_target = [",".join(c for i, c in enumerate(line.split(",")) if i != cut) for line in text]
    (inbox / "no_target.csv").write_text("\n".join(no_target) + "\n")
    before = {p.name: sha(p) for p in inbox.iterdir()}

    t = run_json(project)

    # A file without the target is inference data (issue 12): ingested, its rows unlabelled.
    assert (t["new_files"], t["files_quarantined"], t["rows_ingested"]) == (4, 2, 1000)
    assert (t["rows_labelled"], t["rows_unlabelled"]) == (500, 500)
    # The binary and the empty file have no rows to count.
    assert t["rows_quarantined"] == 0
    reasons = {q["name"]: q["reason"] for q in t["quarantined"]}
    assert "binary" in reasons["binary.csv"]
    assert "empty" in reasons["empty.csv"]
    assert "no_target.csv" not in reasons
    assert t["production_version"] == 1
    # The inbox is untouched; every bad file is kept, byte for byte, with its reason.
    assert {p.name: sha(p) for p in inbox.iterdir()} == before
    quarantine = project / "ingesteddata" / "quarantine"
    for name in ("binary.csv", "empty.csv"):
        [copy] = [p for p in quarantine.iterdir() if p.name.endswith("-" + name)]
        assert sha(copy) == before[name]
        assert reasons[name] in (copy.parent / (copy.name + ".reason.txt")).read_text()
    status = json.loads(invoke(project, "status", "--json").stdout)
    assert {q["name"] for q in status["quarantined_files"]} == {"binary.csv", "empty.csv"}
    assert good.exists()


def test_noop_tick_imports_neither_pandas_numpy_nor_sklearn(project: Path, batches: Path):
    _with_test_file(project, batches)
    invoke(project, "db", "upgrade")
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    run_json(project)
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        "    main(['run', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "mods = ('pandas', 'numpy', 'sklearn', 'matplotlib')\n"
        "heavy = sorted(m for m in mods if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    env = {"RISKWATCH_CONFIG": str(project / "riskwatch.toml"), "PATH": "/usr/bin:/bin"}
    env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # this checkout (conftest)
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status": "noop"' in proc.stdout
    assert "HEAVY=\n" in proc.stderr
