"""The run lock: two runs never overlap; the second learns who holds it and leaves.

Two parts. `RunLock`, a file lock (`paths.lock`), keeps apart the runs of one machine. A file
lock is on one machine's disk, though: on Heroku each dyno has its own, so two processes on
different machines sharing one PostgreSQL database could both run, and the second would mark
the live first one interrupted. On PostgreSQL a run therefore also takes `DatabaseLock`, a
session-level advisory lock with riskwatch's fixed key, on a connection of its own that it
holds for its whole life: the server releases it when that connection closes, as the kernel
releases the file lock when its holder dies. SQLite (one machine: a file on a local disk) keeps
the file lock only.

The lock's connection comes from `pipeline.storage.db.make_engine`, with libpq's TCP keepalives:
a holder whose machine vanished without closing its socket loses the session (and the lock)
within about a minute and a half, not the two hours of the server's own keepalive. A run that
finds the lock held is told since when the holder's session has been connected and how to end
it (`pg_terminate_backend`) if it is stale. The lock can still be lost mid-run (a server
restart, `idle_session_timeout`, a network cut): the run checks `held()` before each step,
before recording its work and its end, and right before it deploys (pipeline.run.record).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pipeline.errors import LockHeld, RiskwatchError

if TYPE_CHECKING:  # the no-op tick imports this module; SQLAlchemy comes with the engine
    import sqlalchemy as sa

__all__ = ["DATABASE_LOCK_KEY", "DatabaseLock", "DatabaseLockHeld", "LockHeld", "RunLock"]

# riskwatch's key for pg_try_advisory_lock(bigint): the bytes "riskwatc". Every riskwatch of
# one database uses it, whatever machine it runs on.
DATABASE_LOCK_KEY = int.from_bytes(b"riskwatc", "big")  # 8244247498279973987


class RunLock:
    """An exclusive, non-blocking flock; the kernel releases it when the holder dies."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown holder"
            os.close(fd)
            raise LockHeld(self.path, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} since {datetime.now(UTC).isoformat()}".encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class DatabaseLockHeld(LockHeld):
    """Another riskwatch process, on this machine or another, holds the database's run lock.

    A LockHeld like the file lock's: not a failure, exit 0, saying so."""

    def __init__(self, where: str, holder: str, pid: int | None = None) -> None:
        stale = (
            ""
            if pid is None
            else f"; if that session is stale (its machine gone without closing it), end it "
            f"with SELECT pg_terminate_backend({pid})"
        )
        RiskwatchError.__init__(
            self,
            f"another riskwatch run holds the lock of the database {where} (PostgreSQL advisory "
            f"lock {DATABASE_LOCK_KEY}, held by {holder}){stale}; exiting",
        )
        self.path = Path(where)
        self.where = where
        self.holder = holder
        self.pid = pid


class DatabaseLockLost(RiskwatchError):
    """The connection holding the database's run lock closed mid-run (the server restarted, the
    network was cut) and the lock could not be taken back as it was: another run may have
    started, so this one stops."""


def _holder_name() -> str:
    """What the lock's connection is called (PostgreSQL's application_name, at most 63 bytes):
    who holds it, for the run that finds it held."""
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"riskwatch pid {os.getpid()} {since} {socket.gethostname()}"[:63]


# The holder's session, found by the lock's key (a bigint key: classid, objid, objsubid 1).
_HOLDER = """
SELECT a.pid, a.application_name, a.client_addr, a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.classid = :high AND l.objid = :low
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


class DatabaseLock:
    """On PostgreSQL, the database's run lock: `pg_try_advisory_lock` on a connection of its
    own, taken out of the engine's pool (so that closing it ends the session, which releases
    the lock, instead of handing a locked session back to the pool). Nothing on SQLite."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._conn: sa.Connection | None = None

    @property
    def applies(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def __enter__(self) -> DatabaseLock:
        if self.applies:
            self._take()
        return self

    def _take(self) -> None:
        import sqlalchemy as sa

        conn = self.engine.connect()
        conn.detach()  # closed for real on close: the session, and its lock, end with it
        try:
            conn.execute(sa.text("SELECT set_config('application_name', :n, false)"),
                         {"n": _holder_name()})  # fmt: skip
            got = conn.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": DATABASE_LOCK_KEY}
            ).scalar()
            holder, pid = (None, None) if got else self._holder(conn)
            conn.commit()  # idle, not idle in a transaction, for the run's whole life
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            where = self.engine.url.render_as_string(hide_password=True)
            raise DatabaseLockHeld(where, holder or "unknown holder", pid)
        self._conn = conn

    @staticmethod
    def _holder(conn: sa.Connection) -> tuple[str | None, int | None]:
        """Who holds the lock, and its session's pid (None, None if it cannot be seen)."""
        import sqlalchemy as sa

        high, low = DATABASE_LOCK_KEY >> 32, DATABASE_LOCK_KEY & 0xFFFFFFFF
        row = conn.execute(sa.text(_HOLDER), {"high": high, "low": low}).first()
        if row is None:
            return None, None  # released meanwhile, or a session this role may not see
        name = row.application_name or "a session that did not name itself"
        start = row.backend_start
        since = "" if start is None else f", connected since {start:%Y-%m-%dT%H:%M:%S%z}"
        addr = "" if row.client_addr is None else f" from {row.client_addr}"
        return f"{name}: PostgreSQL session {row.pid}{addr}{since}", row.pid

    def held(self) -> bool:
        """True while the lock's connection is alive and holds the lock (always on SQLite)."""
        if not self.applies:
            return True
        if self._conn is None:
            return False
        import sqlalchemy as sa

        high, low = DATABASE_LOCK_KEY >> 32, DATABASE_LOCK_KEY & 0xFFFFFFFF
        query = sa.text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND pid = pg_backend_pid() AND objsubid = 1 AND classid = :high AND objid = :low"
        )
        try:
            found = self._conn.execute(query, {"high": high, "low": low}).scalar()
            self._conn.commit()
        except sa.exc.DBAPIError:
            self._release()
            return False
        return bool(found)

    def take_again(self) -> None:
        """After `held()` said no: take the lock on a new connection, or raise DatabaseLockHeld
        (another run has it) or the database's error (it cannot be reached)."""
        self._release()
        self._take()

    def _release(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            with contextlib.suppress(Exception):  # a connection lost: the lock went with it
                conn.close()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._release()
