"""First contact (issue 9, point 8): a new database is created on first use, an older or foreign
one is refused, an unreachable one has its own exit code, and a bad model.estimator or a
missing inbox stops riskwatch at start, naming what is wrong. On SQLite and a real PostgreSQL.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.errors import DatabaseUnreachable
from pipeline.storage import db, tables
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import reset_pg
from tests.e2e import cli, count, drop, invoke

pytestmark = pytest.mark.slow

CREATED = "had no tables: created riskwatch's schema"
NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/riskwatch"  # nothing listens on port 1


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=1, rows=300, test_rows=100)
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def fresh_url(request: pytest.FixtureRequest, project: Path) -> str:
    """A database with nothing in it: a SQLite path whose folder does not exist yet, or an
    empty PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{project / 'state' / 'riskwatch.db'}"
    url: str = request.getfixturevalue("pg_database")
    reset_pg(url)
    return url


def _table_names(url: str) -> list[str]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _with_inbox_file(project: Path, batches: Path) -> None:
    (project / "testdata").mkdir(exist_ok=True)
    (project / "testdata" / "testdata.csv").write_bytes(
        (batches / "testdata" / "testdata.csv").read_bytes()
    )
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")


def test_a_first_run_creates_the_database_without_db_upgrade(
    project: Path, batches: Path, fresh_url: str
) -> None:
    _with_inbox_file(project, batches)
    first = invoke(project, "run", "--json", database_url=fresh_url)
    assert first.returncode == 0, first.stderr
    assert CREATED in first.stderr
    summary = json.loads(first.stdout)
    assert summary["status"] == "succeeded" and summary["production_version"] == 1
    engine = db.make_engine(fresh_url)
    try:
        assert db.current_revision(engine) == tables.SCHEMA_REVISION
    finally:
        engine.dispose()
    again = invoke(project, "run", "--json", database_url=fresh_url)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "noop"
    assert CREATED not in again.stderr  # said once, when it happened


def test_status_on_a_new_database_says_none_not_vnone(project: Path, fresh_url: str) -> None:
    status = invoke(project, "status", database_url=fresh_url)
    assert status.returncode == 0, status.stderr
    assert CREATED in status.stderr
    assert status.stdout.startswith("production model: none\n")
    tick = invoke(project, "run", database_url=fresh_url)  # an empty inbox: a no-op
    assert tick.returncode == 0, tick.stderr
    assert "production model: none" in tick.stdout
    listed = invoke(project, "runs", database_url=fresh_url)
    assert " prod=none" in listed.stdout
    assert "vNone" not in status.stdout + tick.stdout + listed.stdout


def test_an_older_revision_is_refused_and_left_as_it_is(project: Path, fresh_url: str) -> None:
    engine = db.make_engine(fresh_url)
    try:
        db.upgrade(engine, "0001")
        proc = invoke(project, "run", database_url=fresh_url)
        assert proc.returncode == 3
        assert "the database has schema revision 0001" in proc.stderr
        assert "run `riskwatch db upgrade`" in proc.stderr
        assert db.current_revision(engine) == "0001"
        assert count(fresh_url, "runs") == 0
    finally:
        engine.dispose()


def test_another_applications_database_is_refused_not_filled(project: Path, fresh_url: str) -> None:
    engine = db.make_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()
    proc = invoke(project, "run", database_url=fresh_url)
    assert proc.returncode == 3
    assert "holds 1 table(s) of something else (invoices) and no riskwatch schema" in proc.stderr
    assert "riskwatch will not create its tables among them" in proc.stderr
    assert _table_names(fresh_url) == ["invoices"]
    # `db upgrade` is how a person says "here, on purpose".
    assert invoke(project, "db", "upgrade", database_url=fresh_url).returncode == 0
    assert invoke(project, "run", database_url=fresh_url).returncode == 0


def test_the_app_never_creates_the_schema(project: Path, fresh_url: str) -> None:
    from app import create_app
    from pipeline.settings import load_settings

    settings = load_settings(
        project / "riskwatch.toml", environ={}, overrides={"database.url": fresh_url}
    )
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        response = app.test_client().get("/health")
    finally:
        app.extensions["riskwatch"].engine.dispose()
    assert response.status_code == 503
    assert "riskwatch db upgrade" in response.get_json()["error"]
    assert "alembic_version" not in _table_names(fresh_url)


def test_an_unreachable_postgresql_exits_5_in_a_real_process(project: Path) -> None:
    proc = cli(project, "run", database_url=NOWHERE, timeout=60)
    assert proc.returncode == 5 == DatabaseUnreachable.exit_code
    assert proc.stderr.startswith(f"riskwatch: error: cannot reach the database {NOWHERE}: ")
    assert "Traceback" not in proc.stderr and "riskwatch db upgrade" not in proc.stderr
    # `db upgrade` says the same, rather than a traceback.
    upgrade = invoke(project, "db", "upgrade", database_url=NOWHERE)
    assert upgrade.returncode == 5
    assert "cannot reach the database" in upgrade.stderr


def test_an_unopenable_sqlite_path_is_unreachable_too(project: Path) -> None:
    (project / "a-folder").mkdir()
    proc = invoke(project, "status", database_url=f"sqlite:///{project / 'a-folder'}")
    assert proc.returncode == 5
    assert f"cannot reach the database sqlite:///{project / 'a-folder'}: " in proc.stderr
    assert "unable to open database file" in proc.stderr


def test_the_app_answers_503_when_the_database_is_unreachable(project: Path) -> None:
    from app import create_app
    from pipeline.settings import load_settings

    settings = load_settings(
        project / "riskwatch.toml", environ={}, overrides={"database.url": NOWHERE}
    )
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        client = app.test_client()
        health, runs, index = client.get("/health"), client.get("/runs"), client.get("/")
    finally:
        app.extensions["riskwatch"].engine.dispose()
    for response in (health, runs):
        assert response.status_code == 503
        assert response.get_json()["error"].startswith("cannot reach the database")
    assert index.status_code == 503
    assert "cannot reach the database" in index.get_data(as_text=True)


@pytest.mark.parametrize(
    ("estimator", "message"),
    [
        (
            "sklearn.linear_model.LogisticRegresion",
            "setting 'model.estimator': cannot import 'sklearn.linear_model.LogisticRegresion'",
        ),
        (
            "sklaern.linear_model.LogisticRegression",
            "setting 'model.estimator': cannot import 'sklaern.linear_model.LogisticRegression'"
            " (no module 'sklaern')",
        ),
        ("LogisticRegression", "setting 'model.estimator': expected an import path"),
        ("sklearn.linear_model", "setting 'model.estimator': 'sklearn.linear_model' is not an"),
    ],
)
def test_a_bad_estimator_fails_at_start_before_anything_is_ingested(
    project: Path, batches: Path, fresh_url: str, estimator: str, message: str
) -> None:
    settings_file = project / "riskwatch.toml"
    settings_file.write_text(settings_file.read_text() + f'\n[model]\nestimator = "{estimator}"\n')
    _with_inbox_file(project, batches)
    for command in ("run", "train"):
        proc = invoke(project, command, database_url=fresh_url)
        assert proc.returncode == 2, proc.stderr
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr
    if "." in estimator and not estimator.startswith("sklaern"):
        # Caught when the run has work, before ingestion: the run is recorded as failed.
        assert count(fresh_url, "ingested_files") == 0
        [failed] = [r for r in _runs(fresh_url) if r[0] == "run"]
        assert failed[1] == "failed" and "model.estimator" in failed[2]


def _runs(url: str) -> list[tuple[str, str, str]]:
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT kind, status, error FROM runs ORDER BY started_at")
            return [(r.kind, r.status, r.error) for r in conn.execute(query)]
    finally:
        engine.dispose()


@pytest.mark.parametrize("how", ["missing", "a-file"])
def test_a_missing_inbox_is_an_error_naming_the_path(
    project: Path, fresh_url: str, how: str
) -> None:
    inbox = project / "sourcedata"
    inbox.rmdir()
    if how == "a-file":
        inbox.write_text("not a folder")
    proc = invoke(project, "run", database_url=fresh_url)
    assert proc.returncode == 2
    what = "does not exist" if how == "missing" else "is not a folder"
    assert f"setting 'paths.source': the inbox {inbox} {what}" in proc.stderr
    assert invoke(project, "ingest", database_url=fresh_url).returncode == 2
    runs = _runs(fresh_url)
    assert [(kind, status) for kind, status, _ in runs] == [("run", "failed"), ("ingest", "failed")]
    assert all(str(inbox) in error for _, _, error in runs)


def test_settings_that_do_not_fit_the_first_data_fail_the_run_and_keep_the_files_new(
    tmp_path: Path,
) -> None:
    """A data.features entry that no file has: the run fails saying so, and nothing is
    quarantined, so the files are taken once the settings are fixed."""
    from pipeline.tools.sampledata import write_sample_data
    from tests.e2e import invoke

    sample = tmp_path / "sample"
    write_sample_data(sample, batches=1, rows=200, test_rows=50)
    project = tmp_path / "project"
    (project / "sourcedata").mkdir(parents=True)
    (project / "sourcedata" / "b.csv").write_bytes(
        (sample / "sourcedata" / "clients_batch_01.csv").read_bytes()
    )
    toml = project / "riskwatch.toml"
    base = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"
    toml.write_text(base + '\n[data]\nfeatures = ["no_such_column"]\n')
    failed = invoke(project, "run")
    assert failed.returncode != 0
    assert "no_such_column" in failed.stderr
    assert not [p for p in (project / "ingesteddata").rglob("*") if p.is_file()]
    toml.write_text(base)
    fixed = invoke(project, "run", "--json")
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["rows_ingested"] == 200
