"""Database access: one engine per URL, the schema check, migrations (sql/), and what a lost
connection or a file that is not a database becomes (`as_riskwatch_error`)."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import DatabaseNotReady, DatabaseUnreachable, RiskwatchError
from pipeline.storage import tables

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

# The migrations are the folder `sql/` (the design card fixes its name), a package of its own
# that the wheel installs beside `pipeline`, as the checkout has it.
MIGRATIONS_FOLDER = "sql"

# A PostgreSQL host that drops packets would hold a cron tick forever: libpq waits without end
# unless told (a `connect_timeout` in the URL's query wins over this).
PG_CONNECT_TIMEOUT_SECONDS = 10

# libpq's TCP keepalives on every PostgreSQL connection (each one set in the URL's query wins):
# a client whose machine vanished without closing its socket (the run lock's holder among them)
# is found dead by the server in 30 + 3 x 10 s, not after the kernel's two hours, so its
# session and its advisory lock end with it.
PG_KEEPALIVES: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}

log = logging.getLogger("riskwatch")


def migrations_dir() -> Path:
    """Return the folder of the Alembic scripts: `sql/` beside the `pipeline` package.

    Found by path, not by import, so that no other `sql` on `sys.path` (a folder in the working
    directory, another distribution's package) can stand in for riskwatch's migrations.
    """
    package_root = Path(__file__).resolve().parents[2]  # what holds pipeline/ (and sql/)
    folder = package_root / MIGRATIONS_FOLDER
    if not (folder / "env.py").is_file() or not (folder / "versions").is_dir():
        raise RiskwatchError(
            f"riskwatch is installed without its migrations (no {folder}/env.py): reinstall it"
        )
    return folder


def make_engine(url: str) -> sa.Engine:
    """Create an engine; SQLite gets WAL and a busy timeout so the app can read during a run."""
    if url.startswith("sqlite"):
        path = url.split("sqlite:///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(
            dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry
        ) -> None:  # pragma: no cover - exercised by every test
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    connect_args: dict[str, int] = {}
    if url.startswith("postgresql"):
        query = sa.make_url(url).query
        wanted = {"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS, **PG_KEEPALIVES}
        connect_args = {key: value for key, value in wanted.items() if key not in query}
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


@contextmanager
def driver_cursor(conn: sa.Connection) -> Iterator[Any]:  # the driver's cursor: untyped
    """A cursor of the driver itself, in `conn`'s transaction, closed after: for the few hot
    statements of the API (a request's counters, its rows) that are sent as they are, without
    SQLAlchemy's per-statement work (the SQL is written for both databases' parameter marks)."""
    raw = conn.connection.driver_connection
    if raw is None:
        raise RiskwatchError("the connection has no driver connection (it was closed)")
    dbapi = conn.dialect.loaded_dbapi
    cursor = raw.cursor()
    try:
        yield cursor
    except dbapi.Error as exc:
        # As SQLAlchemy raises it (OperationalError, IntegrityError, ...): the callers, the
        # committer's "a database error fails the whole batch" among them, know only those; a
        # lost connection is invalidated, so the pool never hands it out again.
        lost = conn.dialect.is_disconnect(exc, raw, cursor)
        if lost:
            conn.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            None, None, exc, dbapi.Error, connection_invalidated=lost, dialect=conn.dialect
        ) from exc
    finally:
        with suppress(dbapi.Error):  # a lost connection's cursor may not close cleanly
            cursor.close()


@contextmanager
def opened(url: str, *, check: bool = True) -> Iterator[sa.Engine]:
    """An engine on `url`, its schema checked first unless `check` is False; disposed after.

    The one way the CLI, the run and the tools open the database for a piece of work, so a
    database with no tables yet is initialised here (`check_schema(initialise=True)`). With
    `check` False (`riskwatch db upgrade`), only that it can be reached is checked.
    """
    engine = make_engine(url)
    try:
        if check:
            check_schema(engine, initialise=True)
        else:
            _inspect(engine)
        yield engine
    finally:
        engine.dispose()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(engine: sa.Engine, *, initialise: bool = False) -> None:
    """Raise DatabaseNotReady unless the database is at this code's schema revision.

    With `initialise`, a database that holds no tables at all (a new SQLite file, an empty
    PostgreSQL database) is first migrated to head, as MLflow does on first use (issue 9):
    the commands that open the database for work ask for it; the app, which only reads, does
    not. A database at another revision is refused, and so is one holding another application's
    tables without riskwatch's: riskwatch does not create its tables among someone else's.
    """
    revision, others = _inspect(engine)
    if revision == tables.SCHEMA_REVISION:
        return
    if revision is None and not others and initialise:
        _initialise(engine)
        return
    if revision is None and others:
        shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
        raise DatabaseNotReady(
            f"the database {_where(engine)} holds {len(others)} table(s) of something else "
            f"({shown}) and no riskwatch schema: riskwatch will not create its tables among "
            "them; point database.url (or DATABASE_URL) at an empty database, or run "
            "`riskwatch db upgrade` to create them there on purpose"
        )
    found = "no riskwatch schema" if revision is None else f"schema revision {revision}"
    raise DatabaseNotReady(
        f"the database has {found}; this riskwatch needs revision "
        f"{tables.SCHEMA_REVISION}: run `riskwatch db upgrade`"
    )


def _where(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _inspect(engine: sa.Engine) -> tuple[str | None, list[str]]:
    """The database's riskwatch revision (None without one) and its other tables, sorted.

    Raise DatabaseUnreachable when it cannot be connected to at all.
    """
    try:
        with engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
            revision = None
            if "alembic_version" in names:
                query = sa.text("SELECT version_num FROM alembic_version")
                revision = conn.execute(query).scalar()
    except (sa.exc.DBAPIError, sqlite3.Error) as exc:
        mapped = as_riskwatch_error(exc, engine.url)
        if mapped is None:
            raise
        raise mapped from exc
    return revision, sorted(n for n in names if n != "alembic_version")


def _initialise(engine: sa.Engine) -> None:
    """Migrate an empty database to head, saying so; another process may be doing the same."""
    try:
        revision = upgrade(engine)
    except sa.exc.DBAPIError:
        if _inspect(engine)[0] != tables.SCHEMA_REVISION:  # not a twin that got there first
            raise
        return
    log.info(
        "the database %s had no tables: created riskwatch's schema (revision %s)",
        _where(engine),
        revision,
    )


def _alembic_config(engine: sa.Engine, connection: sa.Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> str:
    """Apply migrations up to `revision`; return the revision the database is at."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(engine, conn), revision)
    return current_revision(engine) or ""


def downgrade(engine: sa.Engine, revision: str) -> str:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_alembic_config(engine, conn), revision)
    return current_revision(engine) or ""


# SQLite's words for a file that is not a database (or one it cannot decrypt).
_NOT_SQLITE = ("file is not a database", "file is encrypted or is not a database")


def _driver_errors() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """The drivers' classes for (a connection lost or never made, any error of theirs), of the
    drivers this process has loaded (none is imported here)."""
    lost: list[type[BaseException]] = [sqlite3.OperationalError, sqlite3.InterfaceError]
    every: list[type[BaseException]] = [sqlite3.Error]
    for name in ("psycopg", "psycopg2"):
        module = sys.modules.get(name)
        if module is not None:
            lost += [module.OperationalError, module.InterfaceError]
            every.append(module.Error)
    return tuple(lost), tuple(every)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())  # psycopg's reasons span lines


def as_riskwatch_error(
    exc: BaseException, url: sa.URL | str | None = None, doing: str = ""
) -> RiskwatchError | None:
    """What a database error means for the user, or None when it is not one of these:

    - the connection lost mid-work, or never made (server stopped or unreachable, a socket
      closed, SQLite's file gone or locked): DatabaseUnreachable (exit 5);
    - a SQLite database.url that is not a database file: DatabaseNotReady (exit 3).

    `exc` must be SQLAlchemy's or a driver's error; its chain is searched, and the reason is
    the first loss in it (a failure to record a failure has the first one in its context): one
    line, without the SQL statement or its parameters; `url` (password hidden) and `doing` say
    where and when.
    """
    lost, every = _driver_errors()
    if not isinstance(exc, (sa.exc.SQLAlchemyError, *every)):
        return None
    where = ""
    if url is not None:
        where = " " + sa.make_url(url).render_as_string(hide_password=True)
    seen: set[int] = set()
    first_loss: BaseException | None = None
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        orig: BaseException = current
        if isinstance(current, sa.exc.DBAPIError) and current.orig is not None:
            orig = current.orig
        if isinstance(orig, sqlite3.DatabaseError) and str(orig) in _NOT_SQLITE:
            return DatabaseNotReady(
                f"the database{where} is not an SQLite database ({orig}): riskwatch will not "
                "touch it; point database.url (or DATABASE_URL) at riskwatch's database, or at a "
                "new file"
            )
        invalidated = isinstance(current, sa.exc.DBAPIError) and current.connection_invalidated
        if invalidated or isinstance(
            current, (sa.exc.OperationalError, sa.exc.InterfaceError, *lost)
        ):
            first_loss = orig
        current = current.__cause__ or current.__context__
    if first_loss is None:
        return None
    if doing:
        return DatabaseUnreachable(
            f"lost the connection to the database{where}{doing}: {_one_line(first_loss)}"
        )
    return DatabaseUnreachable(f"cannot reach the database{where}: {_one_line(first_loss)}")
