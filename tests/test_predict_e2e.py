"""`riskwatch predict` and the run's predict step through the real CLI, on SQLite and PostgreSQL:
every ingested row predicted exactly once per model version, across SIGKILLs at every point of
the write; nothing to do is a `skipped` run that imports neither pandas nor scikit-learn;
`--backfill`; event times; the inbox and the ingested files never touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipeline.tools.sampledata import write_sample_data
from tests.e2e import cli, cli_env, count, drop, invoke, rows, run_json

pytestmark = pytest.mark.slow

# Small batches, so that a file is written in several and a kill can land between them.
SETTINGS = '\n[predict]\nbatch_rows = 70\n\n[data]\ntimestamp_column = "observed_at"\n'


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three sample batches with an event-time column (ISO text). Every row's is a time: the
    gate quarantines a row whose event time is not one (issue 12, point 1)."""
    out = tmp_path_factory.mktemp("predict-sample")
    write_sample_data(out, batches=3, rows=300, test_rows=100)
    for path in sorted((out / "sourcedata").glob("*.csv")):
        frame = pd.read_csv(path)
        stamps = pd.date_range("2026-11-01", periods=len(frame), freq="h", tz="UTC")
        frame.insert(1, "observed_at", [t.isoformat() for t in stamps])
        frame.to_csv(path, index=False)
    return out


@pytest.fixture
def ready(project: Path, database_url: str) -> tuple[Path, str]:
    (project / "riskwatch.toml").write_text((project / "riskwatch.toml").read_text() + SETTINGS)
    return project, database_url


def _predict(project: Path, url: str, *args: str) -> dict:
    proc = invoke(project, "predict", "--json", *args, database_url=url)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _exactly_once(url: str) -> None:
    """Every ingested row has one prediction per version that marked its file, and no more: a
    complete mark, every row of the file; an unfinished one (SQLite, a batch per transaction),
    its first `rows` rows, each once."""
    marks = rows(url, "SELECT file_id, model_version, rows, complete FROM prediction_marks")
    files = {r["id"]: r["rows"] for r in rows(url, "SELECT id, rows FROM ingested_files")}
    for m in marks:
        if m["complete"]:
            assert m["rows"] == files[m["file_id"]]
        got = rows(
            url,
            "SELECT count(*) AS n, count(DISTINCT row_number) AS d, "
            "coalesce(max(row_number), -1) AS last FROM predictions p "
            "JOIN prediction_segments s ON s.id = p.segment_id WHERE "
            f"s.file_id = {m['file_id']} AND s.model_version = {m['model_version']}",
        )[0]
        assert got["n"] == got["d"] == m["rows"] == got["last"] + 1
    scheduled = count(url, "predictions", "WHERE source = 'scheduled'")
    assert scheduled == sum(m["rows"] for m in marks)


def test_the_run_predicts_and_predict_then_skips(ready, batches: Path) -> None:
    project, url = ready
    inbox = drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    before = inbox.stat()
    first = run_json(project, url)
    assert first["production_version"] == 1
    assert first["predictions"]["rows"] == 300 and first["predictions"]["model_version"] == 1
    _exactly_once(url)
    skipped = _predict(project, url)
    assert skipped["status"] == "skipped" and skipped["reason"] == "no file to predict"
    recorded = f"SELECT status, kind, production_version FROM runs WHERE id = '{skipped['run_id']}'"
    assert rows(url, recorded) == [
        {"status": "skipped", "kind": "predict", "production_version": 1}
    ]
    assert inbox.stat().st_mtime_ns == before.st_mtime_ns and inbox.exists()
    parquet = next((project / "ingesteddata" / "data").glob("*.parquet"))
    stamp = parquet.stat().st_mtime_ns
    # The inferred contract names data.timestamp_column (kind timestamp): the ingested Parquet
    # holds UTC timestamps, and the predictions their rows' event times.
    assert '[columns.observed_at]\nkind = "timestamp"' in (project / "contract.toml").read_text()
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    assert invoke(project, "ingest", database_url=url).returncode == 0
    done = _predict(project, url)
    assert done["status"] == "succeeded" and done["rows"] == 300 and len(done["files"]) == 1
    assert _predict(project, url)["status"] == "skipped"
    assert parquet.stat().st_mtime_ns == stamp
    _exactly_once(url)
    times = rows(
        url,
        "SELECT row_number, event_time FROM predictions p JOIN prediction_segments s "
        "ON s.id = p.segment_id WHERE s.file_id = 2",
    )
    by_row = {r["row_number"]: r["event_time"] for r in times}
    assert str(by_row[5]).startswith("2026-11-01 05:00")
    assert str(by_row[0]).startswith("2026-11-01 00:00") and str(by_row[3]).startswith(
        "2026-11-01 03:00"
    )


def test_backfill_predicts_each_file_once_per_version(ready, batches: Path) -> None:
    project, url = ready
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    run_json(project, url)
    assert invoke(project, "train", database_url=url).returncode == 0
    versions = [
        r["version"] for r in rows(url, "SELECT version FROM model_versions ORDER BY version")
    ]
    assert versions == [1, 2]
    if (
        invoke(project, "status", "--json", database_url=url).stdout.count(
            '"production_version": 2'
        )
        == 0
    ):
        assert invoke(project, "rollback", "--to", "2", database_url=url).returncode == 0
    assert _predict(project, url)["status"] == "skipped"  # every file has a version's mark
    back = _predict(project, url, "--backfill")
    assert back["status"] == "succeeded" and back["model_version"] == 2 and back["rows"] == 600
    assert _predict(project, url, "--backfill")["status"] == "skipped"
    marks = rows(
        url, "SELECT model_version, count(*) AS n FROM prediction_marks GROUP BY model_version"
    )
    assert sorted((m["model_version"], m["n"]) for m in marks) == [(1, 2), (2, 2)]
    _exactly_once(url)


def test_nothing_to_predict_imports_neither_pandas_nor_sklearn(ready, batches: Path) -> None:
    project, url = ready
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    run_json(project, url)
    probe = (
        "import sys\n"
        "from pipeline.cli import main\n"
        "try:\n"
        "    main(['predict', '--json'])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = sorted(m for m in ('pandas', 'numpy', 'sklearn', 'pyarrow') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=project,
        env=cli_env(project, url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"status": "skipped"' in proc.stdout and "HEAVY=\n" in proc.stderr


KILL_POINTS = [
    "predict.after_mark",
    "predict.after_batch",
    "predict.before_commit",
    "predict.after_commit",
]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_a_killed_predict_never_duplicates_nor_loses_a_prediction(ready, batches, point) -> None:
    project, url = ready
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    run_json(project, url)
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    drop(project, batches / "sourcedata" / "clients_batch_03.csv")
    assert invoke(project, "ingest", database_url=url).returncode == 0
    killed = cli(project, "predict", database_url=url, env={"RISKWATCH_FAILPOINT": point})
    assert killed.returncode == -9, killed.stderr
    committed = count(url, "prediction_marks", "WHERE complete")
    assert committed == (2 if point == "predict.after_commit" else 1)
    _exactly_once(url)  # what the killed process left: whole files, or whole batches (SQLite)
    left = count(url, "predictions", "WHERE source = 'scheduled'")
    if not url.startswith("sqlite"):
        assert left == 300 * committed
    again = _predict(project, url)
    assert again["status"] == "succeeded"
    # On SQLite the batches committed before the kill are not predicted again.
    assert left + again["rows"] == 900
    _exactly_once(url)
    assert count(url, "prediction_marks", "WHERE complete") == 3
    assert count(url, "predictions", "WHERE source = 'scheduled'") == 900
    died = rows(url, "SELECT status FROM runs WHERE kind = 'predict' ORDER BY started_at")
    assert [d["status"] for d in died] == ["failed", "succeeded"]


def test_a_run_killed_in_its_predict_step_predicts_once_after(ready, batches: Path) -> None:
    project, url = ready
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    run_json(project, url)
    drop(project, batches / "sourcedata" / "clients_batch_02.csv")
    killed = cli(
        project, "run", database_url=url, env={"RISKWATCH_FAILPOINT": "predict.after_batch"}
    )
    assert killed.returncode == -9, killed.stderr
    left = count(url, "predictions", "WHERE source = 'scheduled'")  # SQLite: a batch stored
    assert left == (370 if url.startswith("sqlite") else 300)
    after = run_json(project, url)
    assert after["status"] == "succeeded" and after["predictions"]["rows"] == 600 - left
    assert count(url, "predictions", "WHERE source = 'scheduled'") == 600
    _exactly_once(url)
    assert os.path.exists(project / "sourcedata" / "clients_batch_02.csv")
