"""A file one version began and did not finish (SQLite writes a batch per transaction) and
another version then predicts: the abandoned rows go, the file is predicted whole once, and a
rolled-back version does not come back to it (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline import predictions
from pipeline.infra import failpoints
from pipeline.storage import db, tables
from tests.test_predictions_store import RUN, WHEN, _batch, _seed


class Killed(Exception):
    pass


def _boom() -> None:
    raise Killed


def test_a_file_abandoned_by_one_version_is_predicted_whole_once_by_the_next(
    database_url: str, tmp_path: Path
) -> None:
    engine = db.make_engine(database_url)
    try:
        with engine.begin() as conn:
            file_id = _seed(conn)
            mv = tables.model_versions
            row = conn.execute(sa.select(mv).where(mv.c.version == 1)).one()._mapping
            conn.execute(mv.insert().values(**{**row, "version": 2}))
            conn.execute(
                tables.ingested_files.update().values(data_path="x.parquet", kind="source", rows=7)
            )
        v1 = predictions.FileRun(file_id, 1, RUN, WHEN)
        with pytest.raises(Killed), failpoints.hooked("predict.after_batch", _boom):
            predictions.record_file(engine, v1, iter([_batch(0, 3), _batch(3, 4)]))
        v2 = predictions.FileRun(file_id, 2, RUN, WHEN)
        with engine.connect() as conn:
            assert [r.id for r in predictions.unpredicted(conn, 2)] == [file_id]
        assert predictions.record_file(engine, v2, iter([_batch(0, 3), _batch(3, 4)])) == 7
        p, m = tables.predictions, tables.prediction_marks
        with engine.connect() as conn:
            counts = conn.execute(
                sa.select(p.c.model_version, sa.func.count()).group_by(p.c.model_version)
            ).all()
            marks = conn.execute(sa.select(m.c.model_version, m.c.rows, m.c.complete)).all()
            page = predictions.page(conn, tmp_path, predictions.PageQuery(limit=100)).predictions
            rolled_back = predictions.unpredicted(conn, 1)
        assert [tuple(c) for c in counts] == [(2, 7)]  # v1's first batch is gone
        assert [tuple(r) for r in marks] == [(2, 7, True)]
        assert sorted(x["file"]["row_number"] for x in page) == list(range(7))
        assert rolled_back == []  # v1 in production again does not predict the file twice
    finally:
        engine.dispose()
