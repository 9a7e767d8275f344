"""Group commit: the writes of requests that arrive together share one transaction.

A request that stores something (POST /prediction: its client's counters and its predictions)
hands its work to the worker's committer thread and waits until that work is committed; only
then does it answer, so every answered prediction is stored durably. The committer takes every
piece of work waiting when it starts a transaction, runs them in arrival order, and commits
once. Under load, a commit (an fsync on SQLite and PostgreSQL) and the database's write lock
are shared by all the requests one worker has in flight instead of taken by each; alone, a
request pays one commit, as it would without the committer.

A piece of work is a function of the connection, or a `Batched` piece: the pieces of one such
class that wait side by side are run by one call (one query for them all, not one each). A
piece must not raise for a refusal (it returns an outcome instead, for the request to act on).
An error rolls the whole transaction back; each of its pieces is then run again in a
transaction of its own, so only the piece that fails gets the error, with nothing of it
stored; an error of the database itself (locked, unreachable) goes to every request of the
batch at once.

The committer keeps its connection from one transaction to the next while work keeps coming
(closed after IDLE_SECONDS without any, and after an error): a connection taken from the pool
is pinged first, a round trip per transaction to PostgreSQL. So a server that ends the kept
connection (a restart) fails the one batch that finds it gone, which stores nothing; the next
is served on a new connection.

On a SQLite file, the log is checkpointed by a thread of the worker after its commits
(app.wal_checkpoints), not in the commit that fills it: none of the requests waits for it.
And the committers of all the workers on it take turns through a lock file beside
it (`<database>-commit-lock`, flock): a worker waiting for another's transaction sleeps until
that one commits, instead of polling SQLite's write lock in its busy handler, whose sleeps
(up to 100 ms each) were the requests' p99 under 16 clients (bench/README.md).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import queue
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from app.wal_checkpoints import Checkpointer

try:
    import fcntl
except ImportError:  # pragma: no cover - not on Windows: SQLite's own busy handler then
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("riskwatch")

T = TypeVar("T")
MAX_BATCH = 64  # pieces of work in one transaction, at most
# The committer keeps its connection between batches while work comes, and closes it after
# this long without any: the pool pings a connection as it hands it out (a round trip to
# PostgreSQL, a tenth of a 100-record request's time when paid per batch).
IDLE_SECONDS = 0.5


class Batched:
    """A piece of work run together with the pieces of its own class that wait beside it."""

    @classmethod
    def run_batch(cls, conn: sa.Connection, pieces: Sequence[Any]) -> list[object]:
        """The outcome of each of `pieces` (all of this class), in their order."""
        raise NotImplementedError


Work = Callable[[sa.Connection], Any] | Batched


def lock_path(engine: sa.Engine) -> Path | None:
    """The commit lock file of a SQLite database file; None for anything else."""
    name = engine.url.database
    if engine.dialect.name != "sqlite" or not name or name == ":memory:" or fcntl is None:
        return None
    return Path(f"{name}-commit-lock")


class Committer:
    """One worker's committer thread over `engine`, started on the first piece of work (so in
    the process that serves: gunicorn forks its workers before they take requests)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._waiting: queue.SimpleQueue[tuple[Work, Future]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()
        self._lock_path = lock_path(engine)
        self._lock_fd: int | None = None
        self._conn: sa.Connection | None = None  # kept between batches (IDLE_SECONDS)
        # A SQLite file's log is checkpointed by a thread of its own, not in a commit.
        self._checkpoints = Checkpointer(engine) if self._lock_path is not None else None
        self._using = threading.Lock()  # held while the kept connection is in use
        _COMMITTERS.add(self)
        self.transactions = 0  # committed, for the tests and the benchmark

    def run(self, work: Callable[[sa.Connection], T] | Batched) -> T:
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
            try:
                first = self._waiting.get(timeout=None if self._conn is None else IDLE_SECONDS)
            except queue.Empty:
                with self._using:
                    self._release()
                continue
            batch = [first]
            try:
                # The turn first, then the batch: what arrived while this worker waited for
                # the other workers' transactions joins it, instead of waiting for one more
                # commit (1 x 16 on SQLite: half the committer's time was that wait).
                with self._turn():
                    while len(batch) < MAX_BATCH:
                        try:
                            batch.append(self._waiting.get_nowait())
                        except queue.Empty:
                            break
                    with self._using:
                        self._commit(batch)
            except BaseException as exc:  # the turn's own lock failed: nothing ran
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """This worker's turn at the SQLite file (see the module's docstring); nothing else."""
        if self._lock_path is None:
            yield
            return
        if self._lock_fd is None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _connection(self) -> sa.Connection:
        """The committer's connection: the one it kept, or one from the pool (pinged)."""
        if self._conn is None:
            conn = self.engine.connect()
            if self._checkpoints is not None:
                conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")  # app.wal_checkpoints
                conn.commit()
            self._conn = conn
        return self._conn

    def _release(self) -> None:
        """Close the kept connection, whatever state it is in (after an error, or idle). Closed,
        not given back to the pool: the engine may have been disposed since it was taken, and
        a pool gone would drop it unclosed."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
            with contextlib.suppress(Exception):
                conn.close()

    def _commit(self, batch: list[tuple[Work, Future]]) -> None:
        """Run `batch` in one transaction, in this worker's turn (`_loop` holds it)."""
        try:
            conn = self._connection()
            with conn.begin():
                if self._lock_path is not None:
                    # The write lock now, so the batch's reads (a token's revocation) and its
                    # writes are one snapshot: SQLite would begin at the first write.
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                results = _run_all(conn, [work for work, _ in batch])
        except Exception as exc:
            self._release()  # the next transaction gets a connection the pool has checked
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
            self._release()
            for _, done in batch:  # the thread goes on serving the next (it never dies with
                done.set_exception(exc)  # pieces queued behind it and no one to run them)
            return
        self.transactions += 1
        if self._checkpoints is not None:
            self._checkpoints.nudge()
        for (_, done), result in zip(batch, results, strict=True):
            done.set_result(result)


# Every committer of this process, for their kept connections to be closed as it exits (a
# daemon thread is stopped where it is, and its connection would be left open to the end).
_COMMITTERS: weakref.WeakSet[Committer] = weakref.WeakSet()


@atexit.register
def _close_kept() -> None:
    for committer in list(_COMMITTERS):
        if committer._using.acquire(timeout=1):  # not in the middle of a batch
            try:
                committer._release()
            finally:
                committer._using.release()


def _run_all(conn: sa.Connection, pieces: list[Work]) -> list[object]:
    """Every piece's outcome, in order; consecutive Batched pieces of one class in one call."""
    results: list[object] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        if not isinstance(piece, Batched):
            results.append(piece(conn))
            i += 1
            continue
        j = i + 1
        while j < len(pieces) and type(pieces[j]) is type(piece):
            j += 1
        results.extend(type(piece).run_batch(conn, pieces[i:j]))  # one each: zip checks
        i = j
    return results
