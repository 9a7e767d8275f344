"""A SQLite file's WAL checkpoints, off the requests' path (the committer's, app.commits).

SQLite copies its write-ahead log back into the database file when a commit leaves the log at
1,000 pages or more (`wal_autocheckpoint`), in the committing connection, before that commit
returns: one commit in about fifty of 100 predictions waits for it, and it was the p99 of
those requests (4.8 ms against 2.1 ms at the 99th percentile of a commit of 100 rows, measured
alone; bench/README.md). The committer's connection turns that off, and this thread of the
worker checkpoints instead, PASSIVE (it takes no lock from writers or readers, and copies what
it can), a little after commits happened: a commit waits for none.

Every other connection to the file (the runs, the CLI, the other workers' reads) keeps
SQLite's own checkpoints, so the log is checkpointed even if this thread cannot be (its
failure is logged, and it tries again at the next commit).
"""

from __future__ import annotations

import logging
import threading
import time

import sqlalchemy as sa

log = logging.getLogger("riskwatch")

# How long after a commit the log is checkpointed: the commits of that time share one.
DELAY_SECONDS = 0.1


class Checkpointer:
    """One worker's checkpoints of a SQLite file's log; `nudge()` after each commit."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._committed = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.checkpoints = 0  # made, for the tests

    def nudge(self) -> None:
        """A commit happened: checkpoint soon (starts the thread on the first one)."""
        self._committed.set()
        if self._thread is None or not self._thread.is_alive():
            with self._start:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._loop, name="riskwatch-checkpoints", daemon=True
                    )
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            self._committed.wait()
            time.sleep(DELAY_SECONDS)
            self._committed.clear()  # what committed until now, this checkpoint copies
            try:
                with self.engine.connect() as conn:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
            except Exception as exc:  # the next commit tries again; other connections checkpoint
                log.warning("checkpoint of the SQLite log failed: %s", exc)
