"""The run page, the predict page and /docs in a real browser on PostgreSQL (issue 13): one
project with a real run on PostgreSQL for the whole module, one live server, one signed-in
browser context. The run page says its run and opens its reports; the predict page, signed in
at the /signin form, stores its predictions as `webapp`, sends a value outside a learned range
the contract does not enforce and keeps back one outside a range it enforces, takes a category
typed outside a list not enforced and offers only a select where the list is enforced; /docs
draws every operation of /openapi.json with nothing asked of any host but the app's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from pipeline.ingest.contract import from_toml
from pipeline.report import verdict
from pipeline.settings import Settings
from pipeline.storage import db, page_reads, tables, tokens, users
from tests.browser import NARROW, horizontal_overflow, serve
from tests.conftest import PgDatabases, copy_pg_project
from tests.run_page_data import real_run
from tests.test_api import RECORD
from tests.test_predict_pages import CHOSEN, OFFERED, enforce_columns
from tests.test_signin import PASSWORD, web_settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

HINTED, BOUNDED = "lastyear_activity", "years_as_client"  # enforce = false, then made true


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    built_pg_project: tuple[Path, str],
    pg_databases: PgDatabases,
) -> Settings:
    """A real run on PostgreSQL; tokens required; a predict user; one range and one category
    list enforced."""
    target = tmp_path_factory.mktemp("browser-pg")
    settings = web_settings(copy_pg_project(built_pg_project, target, pg_databases))
    engine = db.make_engine(settings.database_url)
    try:
        users.add(engine, "pg-user", "predict", PASSWORD, 12)
        tokens.create(engine, "pg-admin", "admin")  # auth.required wants one token to exist
    finally:
        engine.dispose()
    enforce_columns(settings, [BOUNDED, CHOSEN])
    return settings


@pytest.fixture(scope="module")
def base_url(project: Settings) -> Iterator[str]:
    with serve(project) as base:
        yield base


@pytest.fixture(scope="module")
def signed_in(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    """One browser context for the module, signed in at the /signin form with a password."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto("/signin?next=/runs")
        page.get_by_label("Name").fill("pg-user")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base_url + "/runs")
        page.close()
        yield context
    finally:
        context.close()


@pytest.fixture
def page(signed_in: BrowserContext) -> Iterator[Page]:
    opened = signed_in.new_page()
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


def _stored(settings: Settings, key: str) -> list[dict[str, Any]]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            p = tables.predictions
            query = sa.select(p.c.source, p.c.features).where(p.c.row_key == json.dumps([key]))
            return [dict(r._mapping) for r in conn.execute(query)]
    finally:
        engine.dispose()


def test_the_run_page_says_its_run_and_opens_its_reports(project: Settings, page: Page) -> None:
    run = real_run(project)
    page.goto("/runs")
    page.locator(f'a[title="{run["id"]}"]').click()
    page.wait_for_url(f"**/runs/{run['id']}")
    assert page.locator("#verdict").inner_text() == verdict.verdict(run["summary"], "run")
    steps = page.locator("table.timings tbody tr td[data-label=Step]").all_inner_texts()
    assert len(steps) == 8 and "Total of the steps" not in steps
    pdf = page.get_by_role("link", name="PDF report").get_attribute("href")
    assert pdf == f"/runs/{run['id']}/report.pdf"
    answer = page.request.get(pdf)  # the browser's own cookie
    assert answer.status == 200 and answer.body().startswith(b"%PDF-")
    link = page.get_by_role("link", name="quality report")
    file_id = int((link.get_attribute("href") or "").removeprefix("/quality/").split(".")[0])
    with page.expect_navigation() as opened:
        link.click()
    assert opened.value is not None and opened.value.status == 200
    assert _file_name(project, file_id) in page.locator("body").inner_text()
    page.set_viewport_size({"width": NARROW, "height": 800})
    page.goto(f"/runs/{run['id']}")
    assert horizontal_overflow(page) == 0


def _file_name(settings: Settings, file_id: int) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            q = tables.quality_files
            return str(conn.execute(sa.select(q.c.file_name).where(q.c.id == file_id)).scalar_one())
    finally:
        engine.dispose()


def _input(page: Page, name: str) -> Any:
    return page.locator(f'#predict-form [name="{name}"]')


def _fill(page: Page, key: str, **values: str) -> None:
    """The one-sample form filled with RECORD's values, some replaced."""
    _input(page, "corporation").fill(key)
    for name, value in {**{k: str(v) for k, v in RECORD.items()}, **values}.items():
        field = _input(page, name)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        elif name != "corporation":
            field.fill(value)


def test_the_predict_page_stores_webapp_and_a_range_not_enforced_is_a_hint(
    project: Settings, page: Page
) -> None:
    answer = page.goto("/predict")
    assert answer is not None and answer.status == 200
    hinted, bounded = _input(page, HINTED), _input(page, BOUNDED)
    rules = from_toml(_contract_text(project)).columns
    assert rules[HINTED].enforce is False and rules[BOUNDED].enforce is True
    assert hinted.get_attribute("max") is None and hinted.get_attribute("min") == "0.0"
    assert float(bounded.get_attribute("max") or "nan") == rules[BOUNDED].max
    assert float(bounded.get_attribute("min") or "nan") == rules[BOUNDED].min
    above = str((rules[HINTED].max or 0) * 10)
    hint = page.locator(f"#{hinted.get_attribute('aria-describedby')}").inner_text()
    assert hint.endswith(", not enforced")
    _fill(page, "pg-hinted", **{HINTED: above})
    page.get_by_role("button", name="Predict", exact=True).click()
    page.locator("#one-prediction").wait_for()
    assert page.locator("#one-prediction").inner_text() in {"0", "1"}
    stored = _stored(project, "pg-hinted")
    assert [r["source"] for r in stored] == ["webapp"]  # signed in by the session
    assert stored[0]["features"][HINTED] == float(above)
    # Outside the enforced range: the browser keeps the form back, nothing is sent.
    too_big = str((rules[BOUNDED].max or 0) + 1)
    page.goto("/predict")
    _fill(page, "pg-bounded", **{BOUNDED: too_big})
    page.get_by_role("button", name="Predict", exact=True).click()
    assert page.locator("#one-result").inner_text() == ""
    assert _input(page, BOUNDED).evaluate("e => e.validity.rangeOverflow")
    assert page.evaluate("document.getElementById('predict-form').checkValidity()") is False
    assert _stored(project, "pg-bounded") == []


def test_a_category_not_in_a_list_not_enforced_is_typed_and_stored(
    project: Settings, page: Page
) -> None:
    page.goto("/predict")
    rules = from_toml(_contract_text(project)).columns
    assert rules[OFFERED].enforce is False and rules[CHOSEN].enforce is True
    offered = page.get_by_label(OFFERED)  # the label names the input
    assert offered.evaluate("e => [e.tagName, e.type]") == ["INPUT", "text"]
    known = offered.evaluate("e => Array.from(e.list.options, o => o.value)")
    assert known == list(rules[OFFERED].categories or ())
    hint = page.locator(f"#{offered.get_attribute('aria-describedby')}").inner_text()
    assert hint == f"{len(known)} known, not enforced: another may be typed"
    # The enforced list: a select of its categories alone, nothing to type.
    chosen = page.get_by_label(CHOSEN)
    assert chosen.evaluate("e => e.tagName") == "SELECT"
    values = chosen.evaluate("e => Array.from(e.options, o => o.value)")
    assert values == ["", *(rules[CHOSEN].categories or ())]
    unknown = "shipbuilding"
    assert unknown not in known
    _fill(page, "pg-unknown", **{OFFERED: "finance"})
    # By keyboard: the input cleared and typed into, the form sent with Enter.
    offered.fill("")
    offered.press_sequentially(unknown)
    offered.press("Enter")
    page.locator("#one-prediction").wait_for()
    assert page.locator("#one-prediction").inner_text() in {"0", "1"}
    stored = _stored(project, "pg-unknown")
    assert [r["source"] for r in stored] == ["webapp"]
    assert stored[0]["features"][OFFERED] == unknown
    assert stored[0]["features"][CHOSEN] == RECORD[CHOSEN]


def _contract_text(settings: Settings) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return page_reads.contract_text(conn, 1) or ""
    finally:
        engine.dispose()


def _only_loopback(route: Any) -> None:
    """Let a request to the app through, and refuse one to any other host."""
    if urlsplit(route.request.url).hostname == "127.0.0.1":
        route.continue_()
    else:
        route.abort()


def test_docs_draws_every_operation_offline(base_url: str, page: Page) -> None:
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    # Anything for another host would be refused here (and listed above): nothing may need it.
    page.route("**/*", _only_loopback)
    page.goto("/docs")
    document = page.request.get("/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    }
    blocks = page.locator(".opblock-summary")
    blocks.first.wait_for()
    drawn = {
        (
            block.locator(".opblock-summary-method").inner_text(),
            block.locator(".opblock-summary-path").get_attribute("data-path"),
        )
        for block in blocks.all()
    }
    assert drawn == operations and len(operations) >= 30
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("riskwatch")
    hosts = {urlsplit(url).hostname for url in asked}
    assert hosts == {"127.0.0.1"}, asked
    assert any(url.endswith("/openapi.json") for url in asked)
