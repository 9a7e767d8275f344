"""Group commit: the writes of requests that arrive together share one transaction.

A request that stores something (POST /prediction: its client's counters and its predictions)
hands its work to the worker's committer thread and waits until that work is committed; only
then does it answer, so every answered prediction is stored durably. The committer takes every
piece of work waiting when it starts a transaction, runs them in arrival order, and commits
once. Under load, a commit (an fsync on SQLite and PostgreSQL) and the database's write lock
are shared by all the requests one worker has in flight instead of taken by each; alone, a
request pays one commit, as it would without the committer.

A piece of work is a function of the connection that must not raise for a refusal (it returns
an outcome instead, for the request to act on). An error rolls the whole transaction back; each
of its pieces is then run again in a transaction of its own, so only the piece that fails gets
the error, with nothing of it stored; an error of the database itself (locked, unreachable)
goes to every request of the batch at once.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

import sqlalchemy as sa

log = logging.getLogger("riskwatch")

T = TypeVar("T")
MAX_BATCH = 64  # pieces of work in one transaction, at most


class Committer:
    """One worker's committer thread over `engine`, started on the first piece of work (so in
    the process that serves: gunicorn forks its workers before they take requests)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._waiting: queue.SimpleQueue[tuple[Callable[[sa.Connection], object], Future]] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self.transactions = 0  # committed, for the tests and the benchmark

    def run(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work` in a shared transaction; return its result once that is committed."""
        done: Future[T] = Future()
        self._ensure_thread()
        self._waiting.put((work, done))
        return done.result()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="riskwatch-committer", daemon=True
                )
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[sa.Connection], object], Future]]) -> None:
        results: list[object] = []
        try:
            with self.engine.begin() as conn:
                for work, _ in batch:
                    results.append(work(conn))
        except Exception as exc:
            # A piece's own error (the database refused one of its rows): nothing of the batch
            # was stored, so each piece again, on its own. The database's trouble (locked,
            # gone, a failed commit) would fail them all again, and slowly: all get it now.
            if len(batch) > 1 and not isinstance(exc, sa.exc.OperationalError):
                for piece in batch:
                    self._commit([piece])
                return
            for _, done in batch:
                done.set_exception(exc)
            return
        except BaseException as exc:  # not an Exception (SystemExit): the requests get it, and
            for _, done in batch:  # the thread goes on serving the next (it never dies with
                done.set_exception(exc)  # pieces queued behind it and no one to run them)
            return
        self.transactions += 1
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)
