"""The overview at /: the production model, the last run's record, hostile text escaped, and
what to do without a database (the dashboards themselves: tests/test_dashboards.py)."""

from __future__ import annotations

import html as html_module
import re
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


def _verdict(page: str) -> str:
    """The sentence a page shows in its element with id `verdict`, unescaped."""
    found = re.search(r'id="verdict">([^<]+)</', page)
    assert found is not None, "no verdict on the page"
    return html_module.unescape(found.group(1))


def _run_ids(settings: Settings) -> list[str]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(tables.runs.c.id)).scalars())
    finally:
        engine.dispose()


def test_the_overview_names_the_production_model_and_links_the_last_run(
    project: Settings,
) -> None:
    [run_id] = _run_ids(project)
    with make_app(project) as app:
        client = app.test_client()
        response = client.get("/")
        assert response.status_code == 200
        assert response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert "Production model:" in html and "<strong>v1</strong>" in html
        assert f'href="/runs/{run_id}"' in html
        # The last run's sentence is the run page's (and the PDF's): pipeline.report.verdict.
        overview_says = _verdict(html)
        assert overview_says.startswith("First model trained and deployed as v1")
        run_page = client.get(f"/runs/{run_id}", headers={"Accept": "text/html"})
        assert overview_says == _verdict(run_page.get_data(as_text=True))
        assert 'href="/static/style.css"' in html
        assert 'src="/static/vendor/chart.js/chart.umd.min.js"' in html
        assert 'src="/static/js/charts.js"' in html
        # Nav links to every dashboard; no inline handler anywhere.
        for path in ('href="/quality?range=week"', 'href="/drift?range=week"'):
            assert path in html
        assert " onclick=" not in html and " onload=" not in html
        assert client.get(f"/runs/{run_id}").get_json()["id"] == run_id
        for static in ("/static/style.css", "/static/js/charts.js"):
            with client.get(static) as answer:
                assert answer.status_code == 200


def test_the_overview_escapes_hostile_text(tmp_path: Path) -> None:
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
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>run</b>" not in html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; more" in html
    assert "The &lt;b&gt;run&lt;/b&gt; run failed: &lt;script&gt;" in html  # the run page's words
    assert "(2026-01-02 03:04 UTC)" in html
    assert "none deployed yet" in html


def test_the_overview_without_runs(tmp_path: Path) -> None:
    with make_app(empty_project(tmp_path, migrate=True)) as app:
        response = app.test_client().get("/")
    assert response.status_code == 200
    assert "No run has done anything yet" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/quality", "/drift"])
def test_a_page_says_what_to_do_when_the_database_is_not_migrated(
    tmp_path: Path, path: str
) -> None:
    with make_app(empty_project(tmp_path, migrate=False)) as app:
        response = app.test_client().get(path)
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert "riskwatch db upgrade" in response.get_data(as_text=True)
