"""The predict and past-predictions pages in a real browser (chromium, a live server, a project
with a real run): the form and a hostile CSV file round-trip with per-row errors, the filters
change what is listed, and nothing scrolls sideways at 390 px."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.settings import Settings
from pipeline.storage import db, tables, tokens
from tests.browser import NARROW, horizontal_overflow
from tests.conftest import copy_project

pytestmark = pytest.mark.browser

FEATURES = (
    "lastmonth_activity,lastyear_activity,number_of_employees,years_as_client,"
    "support_tickets,industry,region"
)


@pytest.fixture
def project_with_a_run(built_project: Path, tmp_path: Path) -> Settings:
    return copy_project(built_project, tmp_path / "project")


def _token(settings: Settings, role: str) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        return tokens.create(engine, f"browser-{role}", role)[1]
    finally:
        engine.dispose()


@pytest.fixture
def predict_page(
    project_with_a_run: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> Iterator[tuple[Any, Callable[..., Any]]]:
    """The predict page with a predict token on a live server, and a maker of more pages."""
    token = _token(project_with_a_run, "predict")
    with live_server(project_with_a_run) as base:
        page = page_for(base, token=token)
        answer = page.goto("/predict")
        assert answer is not None and answer.status == 200

        def another(width: int = 1280) -> Any:
            more = page_for(base, token=token, width=width)
            more.goto("/predict")
            return more

        yield page, another


def _stored(settings: Settings) -> list[dict[str, Any]]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            p = tables.predictions
            query = sa.select(p.c.source, p.c.row_key, p.c.features).where(
                p.c.source.in_(["api", "webapp"])
            )
            return [dict(r._mapping) for r in conn.execute(query)]
    finally:
        engine.dispose()


def test_the_predict_form_round_trips(
    project_with_a_run: Settings, predict_page: tuple[Any, Callable[..., Any]]
) -> None:
    page, another = predict_page
    page.get_by_label("corporation").fill("form-1")
    page.get_by_label("lastmonth_activity").fill("86.7")
    page.get_by_label("lastyear_activity").fill("71.2")
    page.get_by_label("number_of_employees").fill("8")
    page.get_by_label("years_as_client").fill("8.4")
    page.get_by_label("support_tickets").fill("1")
    # The contract inference wrote enforces no category list: text inputs offering them.
    page.get_by_label("industry").fill("finance")
    page.get_by_label("region").fill("west")
    page.get_by_role("button", name="Predict", exact=True).click()
    prediction = page.locator("#one-prediction")
    prediction.wait_for()
    assert prediction.inner_text() in {"0", "1"}
    cells = page.locator("#one-probabilities tbody td.num").all_inner_texts()
    assert len(cells) == 2 and abs(sum(float(c) for c in cells) - 1) < 1e-3
    assert horizontal_overflow(another(NARROW)) == 0
    stored = [r for r in _stored(project_with_a_run) if r["row_key"] == '["form-1"]']
    assert len(stored) == 1 and stored[0]["source"] == "api"  # a bearer token: api
    assert stored[0]["features"]["industry"] == "finance"
    assert stored[0]["features"]["number_of_employees"] == 8


def test_html_validation_keeps_a_wrong_form_from_being_sent(
    project_with_a_run: Settings, predict_page: tuple[Any, Callable[..., Any]]
) -> None:
    page, _ = predict_page
    page.get_by_label("support_tickets").fill("1.5")  # an integer column
    page.get_by_role("button", name="Predict", exact=True).click()
    assert page.locator("#one-result").inner_text() == ""
    assert page.evaluate("document.getElementById('predict-form').checkValidity()") is False
    assert _stored(project_with_a_run) == []


HOSTILE = (
    "\ufeff"
    + "corporation,"
    + FEATURES
    + ",notes\r\n"
    + 'ok-1,86.7,71.2,8,8.4,1,finance,west,"a note, with a comma"\r\n'
    + "\r\n"
    + 'ok-2,1,2,3,4,0,"retail","north","a ""quoted"" note\r\nover two lines"\r\n'
    + "huge,1e400,71.2,8,8.4,1,finance,west,x\r\n"
    + "words,lots,71.2,8,8.4,1,finance,west,x\r\n"
    + "short,86.7,71.2\r\n"
    + "long,86.7,71.2,8,8.4,1,finance,west,x,extra\r\n"
    + "big,86.7,71.2,8,8.4,1,finance,"
    + "y" * 20_000
    + ",x\r\n"
    + "ok-3,86.7,71.2,8,8.4,1,technology,east,last line without an end"
)


def _upload(page: Any, name: str, text: str) -> None:
    page.set_input_files(
        "#csv-file", files=[{"name": name, "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.get_by_role("button", name="Predict the file").click()


def test_a_hostile_csv_round_trips_with_each_rows_error(
    project_with_a_run: Settings, predict_page: tuple[Any, Callable[..., Any]]
) -> None:
    page, another = predict_page
    _upload(page, "hostile.csv", HOSTILE)
    page.locator("#csv-summary").wait_for()
    assert page.locator("#csv-summary").inner_text() == "4 rows predicted, 4 refused."
    rows = page.locator("#csv-table tbody tr")
    texts = {
        rows.nth(i).locator("td").nth(0).inner_text(): rows.nth(i).inner_text()
        for i in range(rows.count())
    }
    assert set(texts) == {"2", "4", "6", "7", "8", "9", "10", "11"}  # the file's lines
    assert "feature column 'lastmonth_activity' must be a finite number" in texts["6"]
    assert "got str '1e400'" in texts["6"] and "got str 'lots'" in texts["7"]
    assert "3 values for the header's 9 columns" in texts["8"]
    assert "10 values for the header's 9 columns" in texts["9"]
    assert "retail" in texts["4"]
    error_rows = page.locator("#csv-table tbody tr.row-error")
    assert error_rows.count() == 4
    download = page.evaluate(
        "async () => (await fetch(document.getElementById('csv-download').href)).text()"
    )
    table = list(csv.DictReader(io.StringIO(download)))
    assert [r["line"] for r in table] == ["2", "4", "6", "7", "8", "9", "10", "11"]
    assert table[0]["industry"] == "finance" and table[0]["prediction"] in {"0", "1"}
    assert abs(float(table[0]["p_0"]) + float(table[0]["p_1"]) - 1) < 1e-3
    assert table[2]["error"].startswith("line 6: record ")
    narrow = another(NARROW)
    _upload(narrow, "hostile.csv", HOSTILE)
    narrow.locator("#csv-table").wait_for()
    assert horizontal_overflow(narrow) == 0
    stored = {r["row_key"]: r for r in _stored(project_with_a_run)}
    assert {'["ok-1"]', '["ok-2"]', '["ok-3"]', '["big"]'} <= stored.keys()
    assert '["huge"]' not in stored and '["short"]' not in stored


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("\ufeff\r\n\r\n", "The file is empty"),
        (FEATURES + "\r\n", "a header but no rows"),
        (FEATURES + '\n1,2,"open,4', "not valid CSV: line 2: a quoted field is not closed"),
        (FEATURES + '\n1,2x"y,3', "not valid CSV: line 2: a quote inside a field"),
        ("a,a\n1,2", "the column a is named twice"),
    ],
)
def test_a_file_that_is_not_a_table_is_refused_whole(
    project_with_a_run: Settings,
    predict_page: tuple[Any, Callable[..., Any]],
    text: str,
    message: str,
) -> None:
    page, _ = predict_page
    _upload(page, "bad.csv", text)
    alert = page.locator("#csv-status [role=alert]")
    alert.wait_for()
    assert message in alert.inner_text()
    assert _stored(project_with_a_run) == []


def test_wrong_columns_are_each_rows_error(
    project_with_a_run: Settings, predict_page: tuple[Any, Callable[..., Any]]
) -> None:
    page, _ = predict_page
    _upload(page, "wrong.csv", "age,income\n1,2\n3,4\n")
    page.locator("#csv-summary").wait_for()
    assert page.locator("#csv-summary").inner_text() == "0 rows predicted, 2 refused."
    errors = page.locator("#csv-table td.error").all_inner_texts()
    assert errors == [
        "line 2: record 0: feature column 'lastmonth_activity' is missing",
        "line 3: record 1: feature column 'lastmonth_activity' is missing",
    ]


def test_the_date_filters_and_the_source_change_what_is_listed(
    project_with_a_run: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    token = _token(project_with_a_run, "read")
    with live_server(project_with_a_run) as base:
        page = page_for(base, token=token)
        answer = page.goto("/past-predictions?limit=20")
        assert answer is not None and answer.status == 200
        sources = set(page.locator("#predictions td[data-label=Source]").all_inner_texts())
        assert sources  # the run's scheduled and diagnostics predictions
        page.get_by_label("Source").select_option("diagnostics")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**source=diagnostics**")
        listed = set(page.locator("#predictions td[data-label=Source]").all_inner_texts())
        assert listed == {"diagnostics"}
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
        page.get_by_label("From (UTC)").fill(tomorrow)
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(f"**start={tomorrow}**")
        assert page.locator("#none").is_visible()
        page.get_by_label("From (UTC)").fill("")
        yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
        page.get_by_label("To (UTC, inclusive)").fill(yesterday)
        page.get_by_role("button", name="Show").click()
        page.wait_for_url(f"**end={yesterday}**")
        assert page.locator("#none").is_visible()
        page.get_by_label("To (UTC, inclusive)").fill(datetime.now(UTC).date().isoformat())
        page.get_by_role("button", name="Show").click()
        page.wait_for_load_state()
        assert page.locator("#predictions tbody tr").count() > 0
        narrow = page_for(base, token=token, width=NARROW)
        narrow.goto("/past-predictions?limit=20")
        assert horizontal_overflow(narrow) == 0
        bad = narrow.goto("/past-predictions?model_version=zero")
        assert bad is not None and bad.status == 400
        assert "model_version" in narrow.locator("#problem").inner_text()
