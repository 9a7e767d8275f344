"""A tick whose only news is a labels file, through `riskwatch run` (SQLite and PostgreSQL): not a
no-op; the labels are joined to the production model's predictions of unlabelled rows; the
joined rows are scored by production (they count for the retrain policy); every count is in
`run --json`, in the run's record and in its PDF; the next tick is a no-op again.

The unlabelled rows are an ingested file written here as the gate keeps rows without a label
(issue 12, point 1), predicted with the production model and recorded as the scheduled
prediction step records them (`pipeline.predictions.record_file`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
import sqlalchemy as sa

from pipeline import predictions
from pipeline.model import registry
from pipeline.model.estimator import predict
from pipeline.settings import Settings, load_settings
from pipeline.storage import db, tables
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import invoke, rows, run_json

CONFIG = (
    "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"
    "tolerance = 1.0\n"
)
N = 80  # unlabelled rows, all labelled later


def _unlabelled(settings: Settings, engine: sa.Engine) -> pd.DataFrame:
    """An ingested file of N rows without labels, predicted by production; its true labels."""
    base = settings.path("paths.ingested")
    with engine.connect() as conn:
        first = conn.execute(sa.select(tables.ingested_files)).first()
    frame = pd.read_parquet(base / first.data_path).head(N).copy()
    truth = frame[["corporation", "exited"]].copy()
    frame["corporation"] = [f"U{i}" for i in range(N)]
    truth["corporation"] = frame["corporation"]
    frame["exited"] = np.nan
    frame.to_parquet(base / "data/unlabelled.parquet", index=False)
    with engine.begin() as conn:
        file_id = conn.execute(
            tables.ingested_files.insert().values(
                run_id=first.run_id,
                sha256="u" * 64,
                name="unlabelled.csv",
                size_bytes=1,
                status="ingested",
                rows=N,
                data_path="data/unlabelled.parquet",
                ingested_at=datetime.now(UTC),
                processed_run_id=first.run_id,
            )
        ).inserted_primary_key[0]
    loaded = registry.load_production(engine, settings)
    pred, proba = predict(loaded.model, loaded.features, frame)
    batch = predictions.Batch(
        row_numbers=list(range(N)),
        predictions=[float(p) for p in pred],
        labels=[str(int(p)) for p in pred],
        probability=[float(p) for p in proba],
        row_keys=[json.dumps([c]) for c in frame["corporation"]],
    )
    who = predictions.FileRun(file_id, loaded.version, first.run_id, datetime.now(UTC))
    predictions.record_file(engine, who, iter([batch]))
    truth["pred"] = pred.astype(int)
    return truth


def test_a_tick_whose_only_news_is_a_labels_file(project: Path, database_url: str):
    write_sample_data(project, batches=1, rows=300, test_rows=100)
    (project / "riskwatch.toml").write_text(CONFIG)
    settings = load_settings(
        project / "riskwatch.toml", environ={}, overrides={"database.url": database_url}
    )
    first = run_json(project, database_url)
    assert first["production_version"] == 1
    engine = db.make_engine(database_url)
    try:
        truth = _unlabelled(settings, engine)
    finally:
        engine.dispose()
    (project / "labels").mkdir()
    lines = [f"{c},{int(y)}" for c, y in zip(truth.corporation, truth.exited, strict=True)]
    (project / "labels" / "outcomes.csv").write_text(
        "corporation,exited\n" + "\n".join(lines) + "\nU0,9\nNOBODY,1\n"
    )
    summary = run_json(project, database_url)
    assert summary["status"] == "succeeded" and summary["new_files"] == 0
    done = summary["labels"]
    assert (done["received"], done["joined"], done["rows_invalid"]) == (N + 1, N, 1)
    assert done["pending"] == 1  # NOBODY: waits for a prediction
    score = summary["score"]  # production scored on the joined rows: what the policy reads
    assert score["n_rows"] == N and score["model_version"] == 1
    from sklearn.metrics import f1_score

    expected = f1_score(truth.exited.astype(int), truth.pred)
    assert score["value"] == pytest_approx(expected)
    # Drift is measured on rows new to the inbox; the joined rows were measured with their file.
    assert summary["drift"]["status"] == "not_tested"
    assert summary["drift"]["reason"].startswith("no new rows from the inbox")
    assert rows(
        database_url,
        f"SELECT count(*) AS n FROM drift_summaries WHERE run_id = '{summary['run_id']}'",
    ) == [{"n": 0}]  # never counted in drift.persistence
    [perf] = done["realised"]
    assert perf["value"] == pytest_approx(expected) and perf["n_rows"] == N
    [record] = rows(database_url, f"SELECT summary FROM runs WHERE id = '{summary['run_id']}'")
    stored = record["summary"]
    stored = json.loads(stored) if isinstance(stored, str) else stored
    assert stored["labels"]["joined"] == N and stored["labels"]["invalid_by_type"] == {
        "invalid_label": 1
    }
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(summary["report"]).pages)
    assert "Labels that arrived later" in text and "Joined to their predictions" in text
    again = run_json(project, database_url)
    assert again["status"] == "noop"
    # The joined rows were predicted in their own file: the predictions never take them again.
    for args in (("predict",), ("predict", "--backfill")):
        proc = invoke(project, *args, "--json", database_url=database_url)
        assert proc.returncode == 0, proc.stderr
    marked = rows(
        database_url,
        "SELECT count(*) AS n FROM prediction_marks m JOIN ingested_files f ON f.id = m.file_id "
        "WHERE f.kind = 'labels'",
    )
    assert marked == [{"n": 0}]
    # A labels run says which version was in production, as every kind of run does.
    proc = invoke(project, "labels", "--json", database_url=database_url)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["production_version"] == 1


def pytest_approx(value: float):
    import pytest

    return pytest.approx(value, abs=1e-12)


def test_a_failed_labels_step_is_a_line_of_the_tick_not_a_traceback(
    project: Path, monkeypatch
) -> None:
    """The labels step fails on something of the data (the tick goes on): `riskwatch run`
    prints why and exits 0."""
    from pipeline.run import tick

    write_sample_data(project, batches=1, rows=300, test_rows=100)
    (project / "riskwatch.toml").write_text(CONFIG)

    def fails(*args: object, **kwargs: object) -> None:
        raise ValueError("a join that cannot be made")

    monkeypatch.setattr(tick, "labels_step", fails)
    done = invoke(project, "run")
    assert done.returncode == 0, done.stderr
    assert "labels: failed, the labels wait for the next tick: ValueError: a join" in done.stdout
