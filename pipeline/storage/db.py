"""Database access: one engine per URL, the schema check, and migrations (sql/)."""

from __future__ import annotations

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

# The migrations are the folder `sql/` (the design card fixes its name), a package of its own
# that the wheel installs beside `pipeline`, as the checkout has it.
MIGRATIONS_FOLDER = "sql"


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
