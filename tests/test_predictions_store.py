"""The predictions schema (migration 0012) and its writer, on SQLite and PostgreSQL: old rows
keep their features, a file's predictions and its mark are written together or not at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from pipeline import predictions
from pipeline.storage import db, tables

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
RUN = "a" * 32


def _seed(conn: sa.Connection) -> int:
    """A run, a model version and an ingested file; the file's id."""
    conn.execute(
        tables.runs.insert().values(id=RUN, kind="predict", started_at=WHEN, status="running")
    )
    conn.execute(
        tables.model_versions.insert().values(
            version=1,
            created_at=WHEN,
            artifact="1/model.joblib",
            sha256="0" * 64,
            estimator="x",
            params={},
            features={"numeric": ["a"], "categorical": []},
            metric="f1",
            train_rows=1,
            holdout_rows=1,
            training_files=[],
        )
    )
    return int(
        conn.execute(
            tables.ingested_files.insert().values(
                run_id=RUN,
                sha256="f" * 64,
                name="a.csv",
                size_bytes=1,
                status="ingested",
                ingested_at=WHEN,
            )
        ).inserted_primary_key[0]
    )


def _old_predictions() -> sa.Table:
    """The predictions table as migration 0010 left it (the columns the test writes)."""
    return sa.Table(
        "predictions",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", tables.UTCDateTime),
        sa.Column("source", sa.String(20)),
        sa.Column("model_version", sa.Integer),
        sa.Column("features", sa.JSON),
        sa.Column("prediction", sa.Float),
        sa.Column("probability", sa.Float),
    )


def test_the_migration_keeps_old_predictions_and_their_features(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        db.downgrade(engine, "0010")
        old = {
            "created_at": WHEN,
            "source": "api",
            "model_version": 1,
            "features": {"age": 41, "plan": "pro"},
            "prediction": 1.0,
            "probability": 0.8,
        }
        with engine.begin() as conn:
            conn.execute(_old_predictions().insert().values(**old))
        db.upgrade(engine)
        with engine.connect() as conn:
            row = conn.execute(sa.select(tables.predictions)).one()
        assert row.features == {"age": 41, "plan": "pro"} and row.source == "api"
        assert row.label == "1" and row.probability == 0.8 and row.file_id is None
    finally:
        engine.dispose()


def _batch(start: int, n: int) -> predictions.Batch:
    rows = range(start, start + n)
    return predictions.Batch(
        row_numbers=list(rows),
        predictions=[float(i % 2) for i in rows],
        labels=[str(i % 2) for i in rows],
        probability=[0.25 + 0.5 * (i % 2) for i in rows],
        probabilities=[predictions.probabilities_json([0, 1], [0.5, 0.5]) for _ in rows],
        row_keys=[f'["c{i}, \\"q\\""]' for i in rows],
        event_times=[WHEN if i % 3 else None for i in rows],
    )


def test_a_file_is_written_in_batches_with_its_mark(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        file_id = _seed(conn)
    who = predictions.FileRun(file_id=file_id, model_version=1, run_id=RUN, created_at=WHEN)
    assert predictions.record_file(engine, who, iter([_batch(0, 3), _batch(3, 4)])) == 7
    t = tables.predictions
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.row_number)).all()
        assert predictions.is_marked(conn, file_id, 1)
        mark = conn.execute(sa.select(tables.prediction_marks)).one()
    assert mark.rows == 7 and mark.run_id == RUN
    assert [r.row_number for r in rows] == list(range(7))
    assert rows[1].row_key == '["c1, \\"q\\""]' and rows[1].label == "1"
    assert rows[1].probabilities == {"0": 0.5, "1": 0.5} and rows[1].features is None
    assert rows[0].event_time is None and rows[1].event_time == WHEN
    assert {r.created_at for r in rows} == {WHEN} and {r.source for r in rows} == {"scheduled"}


def test_a_failed_file_leaves_neither_rows_nor_mark(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        file_id = _seed(conn)
    who = predictions.FileRun(file_id=file_id, model_version=1, run_id=RUN, created_at=WHEN)

    def batches():
        yield _batch(0, 5)
        raise RuntimeError("killed mid-file")

    with pytest.raises(RuntimeError, match="mid-file"):
        predictions.record_file(engine, who, batches())
    with engine.connect() as conn:
        assert not predictions.is_marked(conn, file_id, 1)
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(tables.predictions)).scalar() == 0
        )
    predictions.record_file(engine, who, iter([_batch(0, 5)]))
    with pytest.raises(sa.exc.IntegrityError):  # the mark's key: never twice per version
        predictions.record_file(engine, who, iter([_batch(0, 5)]))
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(tables.predictions)).scalar() == 5
        )


def test_a_batch_of_unequal_columns_is_refused(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        file_id = _seed(conn)
    who = predictions.FileRun(file_id=file_id, model_version=1, run_id=RUN, created_at=WHEN)
    bad = predictions.Batch(row_numbers=[0, 1], predictions=[1.0])
    with pytest.raises(predictions.PredictionsError, match="a batch of 2 rows has 1 predictions"):
        predictions.record_file(engine, who, iter([bad]))


def test_an_unknown_source_is_refused(engine: sa.Engine) -> None:
    row = {"source": "cron", "model_version": 1, "features": {}, "prediction": 1.0}
    with pytest.raises(predictions.PredictionsError, match="unknown prediction source 'cron'"):
        predictions.record(engine, [row])
