"""The HTML index: runs with links to their reports and records; hostile text is escaped."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.settings import Settings
from pipeline.storage import db, tables
from tests.conftest import copy_project
from tests.test_api import empty_project, make_app


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    return copy_project(built_project, tmp_path_factory.mktemp("pages"))


def _run_ids(settings: Settings) -> list[str]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(tables.runs.c.id)).scalars())
    finally:
        engine.dispose()


def test_index_lists_runs_with_links_to_reports_and_records(project: Settings) -> None:
    [run_id] = _run_ids(project)
    with make_app(project) as app:
        client = app.test_client()
        response = client.get("/")
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert "Production model:" in html and "<strong>v1</strong>" in html
        assert f'href="/runs/{run_id}/report.pdf"' in html
        assert f'href="/runs/{run_id}"' in html
        assert run_id[:12] in html
        assert "succeeded" in html and ">300<" in html  # status and rows ingested
        assert 'href="/static/style.css"' in html

        # The links work.
        with client.get(f"/runs/{run_id}/report.pdf") as pdf:
            assert pdf.data.startswith(b"%PDF")
        assert client.get(f"/runs/{run_id}").get_json()["id"] == run_id
        with client.get("/static/style.css") as css:
            assert css.status_code == 200 and css.mimetype == "text/css"


def test_index_escapes_hostile_text(tmp_path: Path) -> None:
    settings = empty_project(tmp_path, migrate=True)
    engine = db.make_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(
                id="<img src=x onerror=alert(1)>",
                kind="<b>run</b>",
                started_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
                status="failed",
                error='<script>alert("pwned")</script> & more',
            )
        )
    engine.dispose()
    with make_app(settings) as app:
        html = app.test_client().get("/").get_data(as_text=True)
    assert "<script>" not in html and "<img src=x" not in html and "<b>run</b>" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; more" in html
    assert "&lt;b&gt;run&lt;/b&gt;" in html
    assert "2026-01-02 03:04:05" in html
    assert "none deployed yet" in html


def test_index_without_runs(tmp_path: Path) -> None:
    with make_app(empty_project(tmp_path, migrate=True)) as app:
        response = app.test_client().get("/")
    assert response.status_code == 200
    assert "No runs yet." in response.get_data(as_text=True)


def test_index_says_what_to_do_when_the_database_is_not_migrated(tmp_path: Path) -> None:
    with make_app(empty_project(tmp_path, migrate=False)) as app:
        response = app.test_client().get("/")
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "riskwatch db upgrade" in response.get_data(as_text=True)
