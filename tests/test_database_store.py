"""registry.store = "database": model versions, the production pointer and the reports in the
database, so a web process and a cron process that share only the database share one state
(issue 11: Heroku's dynos each have a disk of their own, lost at every restart).

The registry's guarantees hold there as with files: the bytes loaded are the bytes checked, a
tampered artifact is refused, versions are never reused, rollback verifies before switching.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app import create_app
from pipeline.errors import ModelIntegrityError
from pipeline.model import registry
from pipeline.run import run_once
from pipeline.settings import Settings, load_settings
from pipeline.storage import blobs, db, tables
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import reset_pg
from tests.test_api import CONFIG, RECORD
from tests.test_procfile import _call, stop, wait_for_health, web_process

STORE = '\n[registry]\nstore = "database"\n'


def _cron_project(root: Path, database_url: str) -> Settings:
    """A cron process's folder: the sample data, and one whole run on the shared database."""
    write_sample_data(root, batches=1, rows=300, test_rows=200)
    (root / "riskwatch.toml").write_text(CONFIG + STORE)
    settings = load_settings(
        root / "riskwatch.toml", environ={}, overrides={"database.url": database_url}
    )
    engine = db.make_engine(database_url)
    db.upgrade(engine)
    engine.dispose()
    summary = run_once(settings)
    assert summary["status"] == "succeeded", summary
    return settings


@pytest.fixture
def cron(database_url: str, tmp_path: Path) -> Any:
    settings = _cron_project(tmp_path / "cron", database_url)
    engine = db.make_engine(database_url)
    yield settings, engine
    engine.dispose()


def _stored(engine: sa.Engine, area: str) -> list[str]:
    with engine.connect() as conn:
        return blobs.paths(conn, area)


def test_a_run_keeps_the_registry_and_its_reports_in_the_database(cron: Any) -> None:
    settings, engine = cron
    assert not settings.path("paths.models").exists(), "nothing of the registry on disk"
    assert registry.production_version(settings, engine) == 1
    assert registry.production_version(settings) == 1  # an engine of its own when given none
    assert set(_stored(engine, blobs.MODELS)) >= {"1/model.joblib", "1/metadata.json"}
    reports = _stored(engine, blobs.REPORTS)
    assert any(p.endswith(".pdf") for p in reports) and any(p.endswith(".html") for p in reports)
    loaded = registry.load(engine, settings, 1)
    with engine.connect() as conn:
        stored = blobs.get(conn, blobs.MODELS, "1/model.joblib")
    assert stored is not None and loaded.sha256 == hashlib.sha256(stored).hexdigest()
    meta = registry.metadata(settings, 1, engine)
    assert meta is not None and meta["sha256"] == loaded.sha256
    assert meta["files"], "the drift profile is an extra file of the version"
    for name in meta["files"]:
        assert registry.read_extra(settings, 1, name, engine)


def test_a_tampered_stored_artifact_is_refused(cron: Any) -> None:
    settings, engine = cron
    t = tables.stored_files
    with engine.begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.area == blobs.MODELS, t.c.path == "1/model.joblib")
            .values(data=b"not the model")
        )
    with pytest.raises(ModelIntegrityError, match="does not match the SHA-256"):
        registry.load(engine, settings, 1)
    # Both the stored hash and the bytes changed together: the registry's own record refuses.
    forged = b"forged"
    with engine.begin() as conn:
        conn.execute(
            sa.update(t)
            .where(t.c.area == blobs.MODELS, t.c.path == "1/model.joblib")
            .values(data=forged, sha256=hashlib.sha256(forged).hexdigest())
        )
    with pytest.raises(ModelIntegrityError, match="refusing to load a modified or partial"):
        registry.load(engine, settings, 1)


def test_versions_deploy_and_roll_back_in_the_database(cron: Any) -> None:
    settings, engine = cron
    production = registry.load(engine, settings, 1)
    version = registry.register(
        engine,
        settings,
        production.model,
        features=production.features,
        metric=production.metric,
        holdout_score=0.5,
        train_rows=1,
        holdout_rows=1,
        training_files=[],
        run_id=None,
        extra_files={"note.txt": b"v2"},
    )
    assert version == 2
    registry.deploy(engine, settings, 2, kind="manual", reason="test", run_id=None)
    assert registry.production_version(settings, engine) == 2
    assert registry.read_extra(settings, 2, "note.txt", engine) == b"v2"
    assert registry.rollback(engine, settings, None, reason="back", run_id=None) == 1
    assert registry.production_version(settings, engine) == 1
    assert registry.reconcile(engine, settings, None) == 1  # the deployment is the pointer
    assert not settings.path("paths.models").exists()


def test_materialise_writes_the_stored_versions_as_files_for_the_snapshot(cron: Any) -> None:
    settings, engine = cron
    assert registry.materialise(engine, settings) >= 2
    root = settings.path("paths.models")
    files = settings.with_values(registry__store="files")
    assert registry.production_version(files) == 1
    assert registry.load(engine, files, 1).sha256 == registry.load(engine, settings, 1).sha256
    assert registry.materialise(engine, settings) == 0  # written once
    assert (root / "1" / registry.METADATA).is_file()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_web_process_serves_what_a_cron_process_on_another_disk_promoted(
    pg_database: str, tmp_path: Path
) -> None:
    """Two folders, as two Heroku dynos would have, one PostgreSQL database: the cron process
    runs and promotes; the Procfile's web command, set up by environment variables only, serves
    that model, its reports and its quality pages."""
    reset_pg(pg_database)
    _cron_project(tmp_path / "cron", pg_database)
    web = tmp_path / "web"
    web.mkdir()
    (web / "riskwatch.toml").write_text(CONFIG)  # no [registry]: the environment says it
    log = tmp_path / "gunicorn.log"
    env = {
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": pg_database.replace("postgresql+psycopg://", "postgres://"),
        "RISKWATCH_CONFIG": str(web / "riskwatch.toml"),
        "RISKWATCH_REGISTRY__STORE": "database",
    }
    port, server = web_process(env, log)
    base = f"http://127.0.0.1:{port}"
    try:
        status, health = wait_for_health(server, port, log)
        assert status == 200 and health["production_version"] == 1, health
        status, body = _call(base + "/prediction", [RECORD])
        assert status == 200 and body["model_version"] == 1, body
        status, runs = _call(base + "/runs")
        run_id = runs["runs"][0]["id"]
        settings = load_settings(web / "riskwatch.toml", environ={**os.environ, **env})
        app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
        client = app.test_client()
        pdf = client.get(f"/runs/{run_id}/report.pdf")
        assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF"), pdf.data[:200]
        engine = db.make_engine(settings.database_url)
        with engine.connect() as conn:
            file_id = conn.execute(sa.select(sa.func.min(tables.quality_files.c.id))).scalar()
        engine.dispose()
        page = client.get(f"/quality/{file_id}.html")
        assert page.status_code == 200 and b"<html" in page.data.lower()
        app.extensions["riskwatch"].engine.dispose()
    finally:
        stop(server)
    assert not (web / "models").exists() and not (web / "reports").exists()
