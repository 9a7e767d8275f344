"""Shared fixtures: a fresh project folder, real SQLite and real PostgreSQL databases."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

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
def pg_database() -> Iterator[str]:
    """A PostgreSQL database of its own for this test session, dropped at the end."""
    admin = ensure_postgres()
    # A random name: each xdist worker (each session) has a database of its own.
    name = f"riskwatch_test_{uuid.uuid4().hex[:10]}"
    url = create_pg(admin, name)
    try:
        yield url
    finally:
        drop_pg(admin, name)


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
def database_url(request: pytest.FixtureRequest, project: Path) -> str:
    """A migrated, empty database: SQLite in the project folder, then a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{project / 'riskwatch.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        reset_pg(url)
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    return url


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def predicting(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, built_project: Path
) -> Settings:
    """A project with a production model, on SQLite or PostgreSQL."""
    from tests.test_api import build_project

    if request.param == "sqlite":
        return copy_project(built_project, tmp_path_factory.mktemp("cap"))
    url = request.getfixturevalue("pg_database")
    reset_pg(url)
    return build_project(tmp_path_factory.mktemp("cap-pg"), url)
