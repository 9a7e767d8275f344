"""Database access: one engine per URL, the schema check, and migrations (sql/)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pipeline.errors import DatabaseNotReady, RiskwatchError
from pipeline.storage import tables

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine.interfaces import DBAPIConnection
    from sqlalchemy.pool import ConnectionPoolEntry

# The migrations are the top-level package `sql` (the design card fixes the folder's name); the
# wheel installs it next to `pipeline`, and the editable install maps it to the checkout.
MIGRATIONS_PACKAGE = "sql"


def migrations_dir() -> Path:
    """Return the folder of the Alembic scripts, wherever the `sql` package is installed."""
    spec = importlib.util.find_spec(MIGRATIONS_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise RiskwatchError(
            f"riskwatch is installed without its migrations (package {MIGRATIONS_PACKAGE!r}): "
            "reinstall it"
        )
    return Path(locations[0])


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
    return sa.create_engine(url, pool_pre_ping=True)


@contextmanager
def opened(url: str, *, check: bool = True) -> Iterator[sa.Engine]:
    """An engine on `url`, its schema checked first unless `check` is False; disposed after.

    The one way the CLI, the run and the tools open the database for a piece of work.
    """
    engine = make_engine(url)
    try:
        if check:
            check_schema(engine)
        yield engine
    finally:
        engine.dispose()


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def check_schema(engine: sa.Engine) -> None:
    """Raise DatabaseNotReady unless the database is at this code's schema revision."""
    try:
        revision = current_revision(engine)
    except sa.exc.OperationalError as exc:
        raise DatabaseNotReady(f"cannot open the database: {exc.orig}") from exc
    if revision != tables.SCHEMA_REVISION:
        found = "no riskwatch schema" if revision is None else f"schema revision {revision}"
        raise DatabaseNotReady(
            f"the database has {found}; this riskwatch needs revision "
            f"{tables.SCHEMA_REVISION}: run `riskwatch db upgrade`"
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
