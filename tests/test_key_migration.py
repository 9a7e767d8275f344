"""Migration 0016: keys stored before it with an id written as an integer with a zero fraction
('["42.0"]') are rewritten as the code keys them now ('["42"]'), so a label still finds the
prediction it resolves; every other key is left as it is (SQLite and PostgreSQL)."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from pipeline.predictions import row_key
from pipeline.storage import db, tables

WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
MIGRATION = Path(__file__).parents[1] / "sql" / "versions" / "0016_whole_number_keys.py"


def _migration():
    spec = importlib.util.spec_from_file_location("m0016", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_upgrade_rewrites_whole_number_keys_and_nothing_else(database_url: str) -> None:
    stored = {
        '["42.0"]': '["42"]',
        '["acme","-7.00"]': '["acme","-7"]',
        '["007.0"]': '["7"]',
        '["00042"]': '["00042"]',  # leading zeros stay significant
        '["7.5"]': '["7.5"]',
        '["a.0"]': '["a.0"]',
        '["x","1.0e3"]': '["x","1.0e3"]',
        "not json .0": "not json .0",
    }
    engine = db.make_engine(database_url)
    try:
        db.downgrade(engine, "0015")
        with engine.begin() as conn:
            conn.execute(
                tables.predictions.insert(),
                [
                    {
                        "created_at": WHEN,
                        "source": "api",
                        "model_version": 1,
                        "features": {"x": 1},
                        "row_key": key,
                    }
                    for key in stored
                ],
            )
        assert db.upgrade(engine) == tables.SCHEMA_REVISION
        p = tables.predictions
        with engine.connect() as conn:
            after = list(conn.execute(sa.select(p.c.row_key).order_by(p.c.id)).scalars())
        assert after == list(stored.values())
    finally:
        engine.dispose()


def test_a_rewritten_key_is_the_key_the_code_writes() -> None:
    canonical = _migration().canonical
    for values in (["42.0"], ["acme", "-7.00"], ["007.0", "x"], ["0.0"], ["9" * 40 + ".0"]):
        old = '["' + '","'.join(values) + '"]'
        assert canonical(old) == row_key(values)
