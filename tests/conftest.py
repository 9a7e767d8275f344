"""Shared fixtures: a fresh project folder, real SQLite and real PostgreSQL databases."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.settings import Settings, load_settings
from pipeline.storage import db

pytest_plugins = ["tests.browser"]  # the browser fixtures: Playwright on Debian's chromium

REPO = Path(__file__).resolve().parent.parent


def pytest_configure(config: pytest.Config) -> None:
    """Subprocesses (the console script, gunicorn, scripts) import this checkout's code.

    The environment's editable install points at one checkout; a second worktree sharing that
    environment would otherwise test its own code in-process and another tree's in subprocesses.
    """
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
    )


PG_ADMIN_URL = os.environ.get(
    "RISKWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _pg_up(url: str) -> bool:
    engine = sa.create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return True
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def ensure_postgres() -> str:
    """Return the admin URL of a running PostgreSQL, starting the local cluster when it is down.

    In CI (CI=true) a PostgreSQL that cannot be reached fails the test; elsewhere it skips.
    """
    if _pg_up(PG_ADMIN_URL):
        return PG_ADMIN_URL
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if versions and shutil.which("pg_ctlcluster"):
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"],
            check=False,
            capture_output=True,
        )
        for _ in range(30):
            if _pg_up(PG_ADMIN_URL):
                return PG_ADMIN_URL
            time.sleep(0.5)
    message = f"PostgreSQL is not reachable at {PG_ADMIN_URL} and could not be started"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_database(pg_databases: PgDatabases) -> str:
    """A PostgreSQL database of its own for this test session, dropped at the end."""
    return pg_databases.new()


class PgDatabases:
    """The PostgreSQL databases of one test session (one xdist worker): made on demand, each
    with a name of its own, and all dropped when the session ends."""

    def __init__(self, admin: str) -> None:
        self.admin = admin
        # A random prefix: each xdist worker (each session) has databases of its own.
        self.prefix = f"riskwatch_test_{uuid.uuid4().hex[:10]}"
        self.names: list[str] = []

    def new(self, template: str | None = None) -> str:
        """Create a database (empty, or a copy of the database `template`); return its URL."""
        name = f"{self.prefix}_{len(self.names)}"
        self.names.append(name)
        return create_pg(self.admin, name, template)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        drop_pg(self.admin, name)
        self.names.remove(name)

    def drop_all(self) -> None:
        for name in reversed(self.names):
            drop_pg(self.admin, name)
        self.names.clear()


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PgDatabases]:
    databases = PgDatabases(ensure_postgres())
    try:
        yield databases
    finally:
        databases.drop_all()


def db_name(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def pg_migrated(pg_databases: PgDatabases) -> str:
    """The name of a migrated, empty PostgreSQL database: the template each test's copy is made
    from (copying a template is several times quicker than running every migration again)."""
    url = pg_databases.new()
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return db_name(url)


@pytest.fixture(scope="session")
def sqlite_migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite database file: the template each test's copy is made from."""
    path = tmp_path_factory.mktemp("migrated") / "riskwatch.db"
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    engine.dispose()
    return path


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a SQLite database through SQLite's backup API (whatever its journal holds)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def create_pg(admin: str, name: str, template: str | None = None) -> str:
    """Create the database `name` (empty, or a copy of `template`); return its URL."""
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            if template is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            else:
                # A template database must have no session open while it is copied.
                conn.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = :t AND pid <> pg_backend_pid()"
                    ),
                    {"t": template},
                )
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        engine.dispose()
    return admin.rsplit("/", 1)[0] + "/" + name


def drop_pg(admin: str, name: str) -> None:
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def reset_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


# Settings that keep runs quick and offline.
QUICK_SETTINGS = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder with a riskwatch.toml that keeps runs quick and offline."""
    (tmp_path / "sourcedata").mkdir()
    (tmp_path / "riskwatch.toml").write_text(QUICK_SETTINGS)
    return tmp_path


@pytest.fixture(scope="session")
def built_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project that had one real run on SQLite, built once per session (per xdist worker).

    It is a template, never used in place: each module takes its own copy (`copy_project`),
    since the tests that read it also add predictions, calls and tokens.
    """
    from tests.test_api import build_project

    root = tmp_path_factory.mktemp("built")
    build_project(root)
    return root


def copy_project(template: Path, target: Path) -> Settings:
    """A copy of the project folder `template` in `target`, and its settings.

    Paths in the database and the registry are relative to the project folder, so the copy is
    a project of its own: its database, models and reports.
    """
    shutil.copytree(template, target, dirs_exist_ok=True)
    return load_settings(target / "riskwatch.toml", environ={})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, project: Path) -> Iterator[str]:
    """A migrated, empty database: SQLite in the project folder, then a real PostgreSQL."""
    if request.param == "sqlite":
        copy_sqlite(request.getfixturevalue("sqlite_migrated"), project / "riskwatch.db")
        yield f"sqlite:///{project / 'riskwatch.db'}"
        return
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    url = databases.new(template=request.getfixturevalue("pg_migrated"))
    yield url
    databases.drop(url)


@pytest.fixture
def settings(project: Path, database_url: str) -> Settings:
    return load_settings(
        project / "riskwatch.toml", environ={}, overrides={"database.url": database_url}
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[sa.Engine]:
    engine = db.make_engine(settings.database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def built_pg_project(
    tmp_path_factory: pytest.TempPathFactory, pg_databases: PgDatabases
) -> tuple[Path, str]:
    """`built_project` on PostgreSQL: its folder and the name of its database, built once per
    session and used only as a template (`copy_pg_project`)."""
    from tests.test_api import build_project

    root = tmp_path_factory.mktemp("built-pg")
    url = pg_databases.new()
    build_project(root, url)
    return root, db_name(url)


def copy_pg_project(built: tuple[Path, str], target: Path, databases: PgDatabases) -> Settings:
    """A copy of the PostgreSQL project `built`: its folder, and a database of its own."""
    root, template = built
    shutil.copytree(root, target, dirs_exist_ok=True)
    url = databases.new(template=template)
    return load_settings(target / "riskwatch.toml", environ={}, overrides={"database.url": url})


@pytest.fixture
def pg_project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A copy of the built PostgreSQL project for one test, its database dropped after it."""
    databases: PgDatabases = request.getfixturevalue("pg_databases")
    settings = copy_pg_project(
        request.getfixturevalue("built_pg_project"), tmp_path_factory.mktemp("cap-pg"), databases
    )
    yield settings
    databases.drop(settings.database_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def predicting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, built_project: Path
) -> Settings:
    """A project with a production model, on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        return copy_project(built_project, tmp_path_factory.mktemp("cap"))
    return request.getfixturevalue("pg_project")


# A module's own copies of the built projects (one per database), shared by its tests: a
# module that needs more in them overrides these fixtures with its own.
@pytest.fixture(scope="module")
def sqlite_project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    return copy_project(built_project, tmp_path_factory.mktemp("sqlite-project"))


@pytest.fixture(scope="module")
def postgres_project(
    tmp_path_factory: pytest.TempPathFactory,
    built_pg_project: tuple[Path, str],
    pg_databases: PgDatabases,
) -> Settings:
    target = tmp_path_factory.mktemp("postgres-project")
    return copy_pg_project(built_pg_project, target, pg_databases)


def query_plans(engine: sa.Engine, read: Callable[[sa.Connection], Any]) -> list[str]:
    """Run `read`, then the query plan of each SELECT it ran (PostgreSQL with sequential
    scans off: on a table this small it would rather read it whole, which says nothing of
    whether the index serves the query)."""
    ran: list[tuple[str, Any]] = []

    def seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            ran.append((statement, params))

    with engine.connect() as conn:
        sa.event.listen(conn, "before_cursor_execute", seen)
        read(conn)
        sa.event.remove(conn, "before_cursor_execute", seen)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        plans = []
        postgres = engine.dialect.name == "postgresql"
        if postgres:
            cursor.execute("SET enable_seqscan = off")
        for statement, params in ran:
            cursor.execute(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + statement, params)
            plans.append(" | ".join(str(row[0] if postgres else row[3]) for row in cursor))
        conn.rollback()
    assert plans, "the read ran no query"
    return plans
