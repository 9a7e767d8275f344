"""A SQLite file's log is checkpointed off the requests' path (app.wal_checkpoints): the
committer's connection never checkpoints in a commit, a thread of the worker does after the
commits, the log does not grow without bound, and nothing committed is lost."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import wal_checkpoints
from app.commits import Committer
from pipeline.storage import db


def _wal_pages(path: Path) -> int:
    """The log's size in pages (of 4,096 bytes; 0 when there is none)."""
    wal = Path(f"{path}-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


def _fill(conn: sa.Connection, i: int) -> int:
    conn.exec_driver_sql("INSERT INTO filler (i, text) VALUES (?, ?)", (i, "x" * 20_000))
    return i


def test_the_log_is_checkpointed_by_the_workers_thread_not_in_a_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(wal_checkpoints, "DELAY_SECONDS", 0.05)
    path = tmp_path / "riskwatch.db"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE filler (i INTEGER, text TEXT)")
        committer = Committer(engine)
        auto = committer.run(lambda conn: conn.exec_driver_sql("PRAGMA wal_autocheckpoint"))
        assert auto.scalar() == 0  # type: ignore[attr-defined]
        checkpointer = committer._checkpoints
        assert checkpointer is not None
        sizes = []
        for i in range(400):  # about 2,000 pages: twice what SQLite checkpoints at
            assert committer.run(lambda conn, i=i: _fill(conn, i)) == i
            if i % 50 == 49:
                time.sleep(0.3)  # the thread's turn
                sizes.append(_wal_pages(path))
        assert checkpointer.checkpoints >= 1
        # Checkpointed, the log restarts from its beginning: its file stays at a few hundred
        # pages (the most written between two checkpoints), where without any it holds 2,000.
        assert max(sizes) < 1_600, sizes
        with engine.connect() as conn:
            stored = conn.exec_driver_sql("SELECT count(*), sum(i) FROM filler").one()
        assert tuple(stored) == (400, sum(range(400)))
    finally:
        engine.dispose()


def test_a_checkpoint_that_fails_is_logged_and_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(wal_checkpoints, "DELAY_SECONDS", 0.01)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'riskwatch.db'}")
    try:
        checkpointer = wal_checkpoints.Checkpointer(engine)
        calls = []
        real = engine.connect

        def flaky() -> sa.Connection:
            calls.append(1)
            if len(calls) == 1:
                raise sa.exc.OperationalError("PRAGMA", {}, Exception("disk I/O error"))
            return real()

        monkeypatch.setattr(engine, "connect", flaky)
        with caplog.at_level(logging.WARNING, logger="riskwatch"):
            checkpointer.nudge()
            deadline = time.monotonic() + 10
            while not caplog.records and time.monotonic() < deadline:
                time.sleep(0.01)
            checkpointer.nudge()
            while checkpointer.checkpoints < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert "checkpoint of the SQLite log failed" in caplog.text
        assert checkpointer.checkpoints == 1 and len(calls) == 2
    finally:
        engine.dispose()


def test_no_checkpointer_where_there_is_no_sqlite_file() -> None:
    assert Committer(sa.create_engine("sqlite://"))._checkpoints is None
    assert Committer(sa.create_engine("postgresql+psycopg://127.0.0.1/x"))._checkpoints is None
