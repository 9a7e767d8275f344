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

REPO = Path(__file__).resolve().parent.parent
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
    name = f"riskwatch_test_{uuid.uuid4().hex[:10]}"
    admin_engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin_engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


def reset_pg(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder with a riskwatch.toml that keeps runs quick and offline."""
    (tmp_path / "sourcedata").mkdir()
    (tmp_path / "riskwatch.toml").write_text(
        "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"
    )
    return tmp_path


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
