"""The predictions schema (migrations 0012, 0015) and its writer, on SQLite and PostgreSQL: old
rows keep their features, a file's predictions and its mark are written exactly once (a file a
transaction on PostgreSQL, a batch a transaction on SQLite), API writes never wait for a file,
and pages show rows in the order they became visible."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
    before = tables.utcnow()
    assert predictions.record_file(engine, who, iter([_batch(0, 3), _batch(3, 4)])) == 7
    t, s = tables.predictions, tables.prediction_segments
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.row_number)).all()
        assert predictions.is_marked(conn, file_id, 1)
        mark = conn.execute(sa.select(tables.prediction_marks)).one()
        segments = {r.id: r for r in conn.execute(sa.select(s))}
        cells = conn.execute(sa.select(tables.prediction_cells)).all()
    assert mark.rows == 7 and mark.run_id == RUN and mark.complete
    assert [r.row_number for r in rows] == list(range(7))
    assert rows[1].row_key == '["c1, \\"q\\""]' and rows[1].label == "1"
    assert rows[1].probabilities == {"0": 0.5, "1": 0.5} and rows[1].features is None
    assert rows[0].event_time is None and rows[1].event_time == WHEN
    assert {r.source for r in rows} == {"scheduled"}
    # What every row of a transaction shares is its segment's: one per batch on SQLite (a
    # commit each), one for the file on PostgreSQL; the time is the commit's, not the file's.
    assert len(segments) == (2 if engine.dialect.name == "sqlite" else 1)
    assert {r.created_at for r in rows} == {None} and {r.run_id for r in rows} == {None}
    for r in rows:
        seg = segments[r.segment_id]
        assert seg.first_id <= r.id <= seg.last_id and seg.file_id == file_id
        assert seg.run_id == RUN and seg.created_at >= before
    assert sum(seg.rows for seg in segments.values()) == 7
    # Health counted as the rows were written: by event day, class and P(positive) bin.
    assert sum(c.n for c in cells) == 7
    assert sum(c.n for c in cells if c.label == "1") == 3 and {c.bin for c in cells} == {2, 7}


def test_a_failed_file_is_predicted_again_from_where_it_stopped_exactly_once(
    engine: sa.Engine,
) -> None:
    """PostgreSQL: a file is one transaction, a failure leaves nothing of it. SQLite: a batch is
    one transaction (API writes wait for a batch, not a file), the mark counts the rows stored
    with them, and the next writer goes on from there."""
    with engine.begin() as conn:
        file_id = _seed(conn)
    who = predictions.FileRun(file_id=file_id, model_version=1, run_id=RUN, created_at=WHEN)

    def batches():
        yield _batch(0, 5)
        raise RuntimeError("killed mid-file")

    def stored() -> list[int]:
        t = tables.predictions
        with engine.connect() as conn:
            return list(conn.execute(sa.select(t.c.row_number).order_by(t.c.row_number)).scalars())

    with pytest.raises(RuntimeError, match="mid-file"):
        predictions.record_file(engine, who, batches())
    per_batch = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        assert not predictions.is_marked(conn, file_id, 1)
        first = predictions.resume_row(conn, file_id, 1)
    assert first == (5 if per_batch else 0) and stored() == list(range(first))
    if per_batch:  # the rows stored are never written twice
        with pytest.raises(predictions.PredictionsError, match="starts at row 0, not at 5"):
            predictions.record_file(engine, who, iter([_batch(0, 5)]))
    assert predictions.record_file(engine, who, iter([_batch(first, 8 - first)])) == 8 - first
    assert stored() == list(range(8))
    with pytest.raises(sa.exc.IntegrityError):  # the mark's key: never twice per version
        predictions.record_file(engine, who, iter([_batch(0, 5)]))
    assert stored() == list(range(8))
    with engine.connect() as conn:
        assert predictions.is_marked(conn, file_id, 1)


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


def test_api_writes_go_on_while_a_file_is_predicted_and_pages_show_rows_as_they_came(
    engine: sa.Engine, tmp_path: Path
) -> None:
    """Between two batches of a file, an API prediction is stored by another connection that
    may not wait for a lock at all (SQLite: a busy timeout of 0; each batch is its own
    transaction), and a reader polling newest first, which saw that prediction as the newest,
    then finds every prediction stored since by reading back to it: a scheduled row's time is
    when its batch (SQLite) or file (PostgreSQL) was committed, not when the file began."""
    from pipeline.infra import failpoints

    with engine.begin() as conn:
        file_id = _seed(conn)
    who = predictions.FileRun(file_id=file_id, model_version=1, run_id=RUN, created_at=WHEN)
    url = engine.url
    other = sa.create_engine(
        url, connect_args={"timeout": 0} if engine.dialect.name == "sqlite" else {}
    )
    seen: dict[str, Any] = {}

    def first_page() -> list[dict[str, Any]]:
        with engine.connect() as conn:
            return predictions.page(conn, tmp_path, predictions.PageQuery(limit=1000)).predictions

    def between_batches() -> None:
        if seen:
            return
        row = {"source": "api", "model_version": 1, "features": {"a": 1}, "prediction": 1.0}
        predictions.record(other, [row])  # never waits for the file (SQLite: cannot wait)
        page = first_page()
        seen["ids"] = {p["id"] for p in page}
        seen["newest"] = (page[0]["created_at"], page[0]["id"])
        assert page[0]["source"] == "api"

    try:
        with failpoints.hooked("predict.after_batch", between_batches):
            predictions.record_file(engine, who, iter([_batch(0, 3), _batch(3, 4)]))
    finally:
        other.dispose()
    everything = first_page()
    assert len(everything) == 8 and len({p["id"] for p in everything}) == 8
    newer = {p["id"] for p in everything if (p["created_at"], p["id"]) > seen["newest"]}
    assert seen["ids"] | newer == {p["id"] for p in everything}  # nothing missed
    scheduled_after = {p["id"] for p in everything if p["source"] == "scheduled"} & newer
    # SQLite: the second batch came after the API row; PostgreSQL: the whole file did.
    assert len(scheduled_after) == (4 if engine.dialect.name == "sqlite" else 7)
    assert [p["file"]["row_number"] for p in everything if p["source"] == "scheduled"] == [
        6, 5, 4, 3, 2, 1, 0
    ]  # fmt: skip


def _predictions_0014() -> sa.Table:
    """The predictions table as migration 0014 left it (the columns the test writes)."""
    return sa.Table(
        "predictions",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("created_at", tables.UTCDateTime),
        sa.Column("run_id", sa.String(32)),
        sa.Column("source", sa.String(20)),
        sa.Column("model_version", sa.Integer),
        sa.Column("file_id", sa.Integer),
        sa.Column("row_number", sa.Integer),
        sa.Column("features", sa.JSON),
        sa.Column("row_key", sa.Text),
        sa.Column("event_time", tables.UTCDateTime),
        sa.Column("prediction", sa.Float),
        sa.Column("label", sa.Text),
        sa.Column("probability", sa.Float),
        sa.Column("probabilities", sa.JSON),
    )


def test_the_upgrade_from_0014_segments_the_scheduled_rows_stored(
    database_url: str, tmp_path: Path
) -> None:
    """Two files predicted before 0015 (at two times) and an API prediction: after the upgrade
    each file is a segment of its rows with their time and counts, and pages, the label join's
    lookup and prediction health read them as before."""
    from pipeline.monitor import bin_edges
    from pipeline.storage import health, label_writes

    engine = db.make_engine(database_url)
    later = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    try:
        db.downgrade(engine, "0014")
        with engine.begin() as conn:
            first = _seed(conn)
            second = int(
                conn.execute(
                    tables.ingested_files.insert().values(
                        run_id=RUN,
                        sha256="e" * 64,
                        name="b.csv",
                        size_bytes=1,
                        status="ingested",
                        ingested_at=WHEN,
                    )
                ).inserted_primary_key[0]
            )
            old = _predictions_0014()
            rows = [
                {
                    "created_at": at,
                    "run_id": RUN,
                    "source": "scheduled",
                    "model_version": 1,
                    "file_id": file_id,
                    "row_number": r,
                    "row_key": f'["{file_id}-{r}"]',
                    "event_time": WHEN if r else None,
                    "prediction": float(r % 2),
                    "label": str(r % 2),
                    "probability": 0.05 + 0.3 * r,
                    "probabilities": {"0": 0.95 - 0.3 * r, "1": 0.05 + 0.3 * r},
                }
                for file_id, at in ((first, WHEN), (second, later))
                for r in range(3)
            ]
            conn.execute(old.insert(), rows)
            conn.execute(
                old.insert().values(
                    created_at=later, source="api", model_version=1, features={"a": 2},
                    prediction=1.0, label="1", probability=0.9, row_key='["api"]',
                )
            )  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO prediction_marks (file_id, model_version, run_id, rows, "
                    "predicted_at) VALUES (:f, 1, :r, 3, :t)"
                ),
                [{"f": f, "r": RUN, "t": "2026-12-01 09:30:00"} for f in (first, second)],
            )
        db.upgrade(engine)
        with engine.connect() as conn:
            segments = conn.execute(
                sa.select(tables.prediction_segments).order_by(tables.prediction_segments.c.id)
            ).all()
            assert [(s.file_id, s.created_at, s.rows, s.first_row) for s in segments] == [
                (first, WHEN, 3, 0),
                (second, later, 3, 0),
            ]
            assert predictions.is_marked(conn, first, 1) and predictions.is_marked(conn, second, 1)
            page = predictions.page(conn, tmp_path, predictions.PageQuery(limit=100)).predictions
            assert [(p["source"], p["created_at"]) for p in page] == [
                ("api", later.isoformat()),
                *[("scheduled", later.isoformat())] * 3,
                *[("scheduled", WHEN.isoformat())] * 3,
            ]
            assert page[1]["file"]["row_number"] == 2 and page[1]["ids"] == [f"{second}-2"]
            assert page[1]["probabilities"] == {"0": 0.95 - 0.6, "1": 0.05 + 0.6}
            found = label_writes.predictions_of(conn, [f'["{first}-1"]'])
            assert [(r.created_at, r.file_id, r.row_number) for r in found] == [(WHEN, first, 1)]
            cells = health.health_cells(
                conn,
                start=None,
                end=None,
                by_event_time=False,
                inner_edges=bin_edges()[1:-1],
                source="scheduled",
            )
            assert sum(c["n"] for c in cells) == 6
            # A row in each bin per file; the files on two days (their segments' times).
            assert sorted((c["day"].day, c["bin"], c["n"]) for c in cells) == [
                (1, 0, 1), (1, 3, 1), (1, 6, 1), (2, 0, 1), (2, 3, 1), (2, 6, 1)
            ]  # fmt: skip
        # A file written since (its {class: p} said by its segment), then back to 0014: its
        # rows get their time, run and {class: p} back.
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM prediction_marks WHERE file_id = :f"), {"f": first})
        who = predictions.FileRun(first, 1, RUN, WHEN, stamp=later)
        batch = predictions.Batch(
            row_numbers=[0], predictions=[1.0], labels=["1"], probability=[0.75], classes=["0", "1"]
        )
        predictions.record_file(engine, who, iter([batch]))
        db.downgrade(engine, "0014")
        with engine.connect() as conn:
            back = conn.execute(
                sa.select(_predictions_0014()).where(sa.text("probability = 0.75"))
            ).one()
        assert back.created_at == later and back.run_id == RUN and back.file_id == first
        assert back.probabilities == {"0": 0.25, "1": 0.75}
        db.upgrade(engine)
    finally:
        engine.dispose()


def test_pages_walk_every_segment_once_newest_first(engine: sa.Engine, tmp_path: Path) -> None:
    """A file in 25 batches (25 segments on SQLite, more than a page reads at once) with API
    predictions between them: pages of 3 by cursor give every prediction once, newest first."""
    from pipeline.infra import failpoints

    with engine.begin() as conn:
        file_id = _seed(conn)
    who = predictions.FileRun(file_id=file_id, model_version=1, run_id=RUN, created_at=WHEN)
    api = {"source": "api", "model_version": 1, "features": {"a": 1}, "prediction": 0.0}
    with failpoints.hooked("predict.after_batch", lambda: predictions.record(engine, [api])):
        predictions.record_file(engine, who, (_batch(i * 2, 2) for i in range(25)))
    got: list[dict[str, Any]] = []
    cursor = None
    with engine.connect() as conn:
        while True:
            after = None if cursor is None else predictions.decode_cursor(cursor)
            page = predictions.page(conn, tmp_path, predictions.PageQuery(limit=3, after=after))
            got += page.predictions
            cursor = page.next_cursor
            if cursor is None:
                break
        total = conn.execute(sa.select(sa.func.count()).select_from(tables.predictions)).scalar()
    assert total == 75 and len(got) == 75 and len({p["id"] for p in got}) == 75
    order = [(p["created_at"], p["id"]) for p in got]
    assert order == sorted(order, reverse=True)
    scheduled = [p["file"]["row_number"] for p in got if p["source"] == "scheduled"]
    assert scheduled == list(range(49, -1, -1))
