"""Labels written and looked up many at a time (`storage.label_bulk`, `storage.label_writes`),
on SQLite and PostgreSQL: what goes in through the driver reads back through SQLAlchemy as it
was written (text, times, NULLs), the updates of a join land on the labels they name, and the
look-ups by thousands of keys (one JSON parameter) find exactly the keys asked for, whatever
characters they hold, through the index.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pipeline.storage import label_bulk, label_writes, tables
from pipeline.storage.label_tables import labels
from pipeline.storage.text import storable, storable_texts
from tests.conftest import query_plans

RUN = "cd" * 16
NOW = datetime(2026, 11, 30, 8, 15, 0, 123456, tzinfo=UTC)
# Keys as the predictions store them (a JSON list of the ids), with what hostile files hold.
ODD = ['["a\\"b"]', '["back\\\\slash"]', '["ünï\\u00e7ødé"]', '["x,y}{"]', '["\\\\x00"]', '[""]']


def _keys(n: int) -> list[str]:
    return [json.dumps([f"K{i:07d}"]) for i in range(n)] + ODD


@pytest.fixture
def stored(engine: sa.Engine) -> tuple[sa.Engine, int, list[str]]:
    """12,006 labels of one file: every other one with an observed time, some duplicates."""
    with engine.begin() as conn:
        conn.execute(tables.runs.insert().values(id=RUN, kind="run", started_at=NOW, status="ok"))
    keys = _keys(12_000)
    n = len(keys)
    observed = [NOW - timedelta(days=i % 40, microseconds=i) if i % 2 else None for i in range(n)]
    rows = {
        "row_number": list(range(n)),
        "row_key": keys,
        "label": [str(i % 3) for i in range(n)],
        "observed_at": observed,
        "received_at": [NOW] * n,
        "status": ["duplicate" if i % 7 == 0 else "pending" for i in range(n)],
        "reason": ["again" if i % 7 == 0 else None for i in range(n)],
    }
    file = {"sha256": "e" * 64, "name": "late.csv", "size_bytes": 1, "status": "taken"}
    file |= {"rows_read": n, "rows_valid": n, "rows_invalid": 0, "invalid_by_type": {}}
    file["received_at"] = NOW
    file_id = label_writes.record_label_file(engine, RUN, file, rows)
    return engine, file_id, keys


def test_labels_written_through_the_driver_read_back_as_written(stored) -> None:
    engine, file_id, keys = stored
    with engine.connect() as conn:
        got = conn.execute(sa.select(labels).order_by(labels.c.row_number)).all()
    assert len(got) == len(keys)
    for i in (0, 1, 2, 7, 11_999, len(keys) - 1):
        row = got[i]
        assert (row.run_id, row.label_file_id, row.row_number) == (RUN, file_id, i)
        assert (row.row_key, row.label) == (keys[i], str(i % 3))
        want = NOW - timedelta(days=i % 40, microseconds=i) if i % 2 else None
        assert row.observed_at == want  # to the microsecond, aware, UTC
        assert row.received_at == NOW
        assert (row.status, row.reason) == (
            ("duplicate", "again") if i % 7 == 0 else ("pending", None)
        )


def test_a_look_up_by_thousands_of_keys_finds_exactly_them(stored) -> None:
    engine, _, keys = stored
    asked = keys[::3] + ODD + ['["not there"]']
    with engine.connect() as conn:
        found = label_writes.label_keys(conn, asked)
    want = {k for i, k in enumerate(keys) if k in set(asked) and i % 7 != 0}  # duplicates: no
    assert {k for k, _, _ in found} == want
    assert all(k in {x for x, _, _ in found} for k in ODD if keys.index(k) % 7)


def test_the_look_up_goes_through_the_index(stored) -> None:
    engine, _, keys = stored
    plans = query_plans(engine, lambda conn: label_writes.label_keys(conn, keys[:50]))
    assert plans
    # A look-up of the keys in the index: not a scan of the table, nor of the whole index.
    looked_up = (
        "Index Cond: (row_key = ANY"
        if engine.dialect.name == "postgresql"
        else "SEARCH labels USING INDEX ix_labels_row_key (row_key=?)"
    )
    for plan in plans:
        assert looked_up in plan, plan
        assert "SCAN labels" not in plan and "Seq Scan on labels" not in plan, plan


def test_a_join_updates_the_labels_it_names_and_only_them(stored) -> None:
    engine, _, _ = stored
    with engine.connect() as conn:
        ids = conn.execute(sa.select(labels.c.id).order_by(labels.c.row_number)).scalars().all()
    picked = ids[1:9000:2]
    n = len(picked)
    start = datetime(2026, 11, 29, tzinfo=UTC)
    updates = {
        "id": picked,
        "status": ["joined" if i % 4 else "conflict" for i in range(n)],
        "reason": [None if i % 4 else "labels 'it''s' \\ disagree" for i in range(n)],
        "prediction_id": [10**10 + i if i % 5 else None for i in range(n)],  # beyond 32 bits
        "model_version": [2] * n,
        "file_id": [None] * n,
        "file_row": [None] * n,
        "period_start": [start if i % 5 else None for i in range(n)],
    }
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(id="ef" * 16, kind="run", started_at=NOW, status="ok")
        )
        label_bulk.update_labels(conn, "ef" * 16, NOW, 77, updates)  # 77: the joined file
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(sa.select(labels))}
    for i, label_id in enumerate(picked):
        r = rows[label_id]
        assert r.status == updates["status"][i] and r.reason == updates["reason"][i]
        assert r.prediction_id == updates["prediction_id"][i]
        assert r.period_start == updates["period_start"][i]
        assert (r.resolved_run_id, r.resolved_at, r.model_version) == ("ef" * 16, NOW, 2)
        assert r.joined_file_id == (77 if r.status == "joined" else None)
    untouched = set(ids) - set(picked)
    assert all(rows[i].resolved_run_id is None for i in untouched)
    assert {rows[i].status for i in untouched} == {"pending", "duplicate"}


def test_columns_of_different_lengths_are_refused_and_nothing_is_written(stored) -> None:
    engine, file_id, _ = stored
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(labels)).scalar()
    rows = {c: ["x"] * 3 for c in label_bulk.LABEL_COLUMNS}
    rows |= {"row_number": [0, 1, 2], "observed_at": [None] * 3, "received_at": [NOW] * 2}
    with (
        pytest.raises(ValueError, match="received_at has 2 values, not 3"),
        engine.begin() as conn,
    ):
        label_bulk.insert_labels(conn, RUN, file_id, rows)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(labels)).scalar() == before


def test_storable_texts_escapes_what_no_database_takes_and_keeps_the_rest() -> None:
    plain = ["a", None, "b", 3]
    assert storable_texts(plain) is plain  # nothing to escape: the list itself
    odd = ["a\x00b", None, "c\udcff", "fine", 4]
    assert (
        storable_texts(odd)
        == [storable(v) for v in odd]
        == [
            "a\\x00b",
            None,
            "c\\udcff",
            "fine",
            4,
        ]
    )


def test_migration_0021_drops_the_labels_foreign_keys_and_keeps_the_labels(stored) -> None:
    from pipeline.storage import db

    engine, _, keys = stored

    def referred() -> set[tuple[str, str]]:
        found = sa.inspect(engine).get_foreign_keys("labels")
        return {(k["constrained_columns"][0], k["referred_table"]) for k in found}

    assert referred() == set()
    db.downgrade(engine, "0020")
    assert referred() == {
        ("run_id", "runs"),
        ("label_file_id", "label_files"),
        ("file_id", "ingested_files"),
        ("resolved_run_id", "runs"),
        ("joined_file_id", "ingested_files"),
    }
    assert db.upgrade(engine) == tables.SCHEMA_REVISION == "0021"
    assert referred() == set()
    with engine.connect() as conn:
        kept = conn.execute(sa.select(labels.c.row_key).order_by(labels.c.row_number)).scalars()
        assert list(kept) == keys
    assert {fk["referred_table"] for fk in sa.inspect(engine).get_foreign_keys("label_files")} == {
        "runs"
    }
