"""One feature's page (`/drift/<feature>`, issue 13) through HTTP on SQLite and PostgreSQL:
the reference (the production version's training profile) and the newest run's rows on the
same bins or categories, as a chart and a table of the same numbers; and what it says of a
column without a reference, without recent rows, all missing, of a thousand categories, with
a hostile name, recorded before histograms, or unknown (a 404 page)."""

from __future__ import annotations

import html
import json
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from pipeline.drift.column_profile import CategoricalProfile, fit_numeric
from pipeline.drift.histogram import histogram
from pipeline.run import run_once
from pipeline.settings import Settings
from pipeline.storage import db, tables, tokens
from pipeline.tools.sampledata import write_sample_data
from tests.browser import NARROW, horizontal_overflow
from tests.conftest import copy_project, reset_pg
from tests.test_api import build_project, make_app

HOSTILE = "a/b <script>alert(1)</script> ?#%&\"'" + "z" * 120  # and one long word


def _drifted_run(settings: Settings, batches: Path) -> Settings:
    write_sample_data(batches, batches=2, rows=300, drift_from=2, test_rows=200)
    shutil.copy(batches / "sourcedata" / "clients_batch_02.csv", settings.path("paths.source"))
    run_once(settings)
    return settings


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def project(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, built_project: Path
) -> Iterator[tuple[Settings, str]]:
    """A project with two real runs (the second drifted, so drift was measured), a token."""
    if request.param == "sqlite":
        settings = copy_project(built_project, tmp_path_factory.mktemp("feature"))
    else:
        url = request.getfixturevalue("pg_database")
        reset_pg(url)
        settings = build_project(tmp_path_factory.mktemp("feature-pg"), url)
    _drifted_run(settings, tmp_path_factory.mktemp("batches"))
    engine = db.make_engine(settings.database_url)
    try:
        yield settings, tokens.create(engine, "feature", "read")[1]
    finally:
        engine.dispose()


def _get(project: tuple[Settings, str], url: str) -> tuple[int, str]:
    settings, token = project
    with make_app(settings) as app:
        answer = app.test_client().get(
            url, headers={"Authorization": f"Bearer {token}", "Accept": "text/html"}
        )
        return answer.status_code, answer.get_data(as_text=True)


def _chart(page: str, chart_id: str) -> dict[str, Any]:
    found = re.search(rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', page)
    assert found, f"no chart {chart_id}"
    return json.loads(found.group(1))


def _table(page: str) -> list[list[str]]:
    body = page.split('id="histogram-table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)] for r in rows]


def _summary(settings: Settings) -> Any:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            s = tables.drift_summaries
            return conn.execute(sa.select(s).order_by(s.c.created_at.desc())).first()
    finally:
        engine.dispose()


def test_a_numeric_feature_shows_both_sides_on_the_same_bins(
    project: tuple[Settings, str],
) -> None:
    status, page = _get(project, "/drift/lastmonth_activity?range=month")
    assert status == 200 and "Histogram: reference and recent" in page
    chart = _chart(page, "histogram")
    table = _table(page)
    # The chart's bars are the table's rows, in order, with the same shares.
    assert chart["labels"] == [r[0] for r in table]
    assert [d["label"] for d in chart["datasets"]] == [
        "reference (training, v1)",
        "recent (newest run)",
    ]
    reference, recent = (d["data"] for d in chart["datasets"])
    assert [f"{v:.3f}" for v in reference] == [r[2] for r in table]
    assert [f"{v:.3f}" for v in recent] == [r[4] for r in table]
    # Every row of a side is in a bar or is missing: the counts add up to the side's rows.
    summary = _summary(project[0])
    ref_rows = sum(int(r[1].replace(",", "")) for r in table)
    new_rows = sum(int(r[3].replace(",", "")) for r in table)
    assert new_rows == summary.current_rows and ref_rows == summary.reference_rows
    assert sum(reference) == pytest.approx(1, abs=1e-4)
    assert sum(recent) == pytest.approx(1, abs=1e-4)
    assert table[-1][0] == "(missing)"  # about 1.5 % of this column is left blank
    assert "Drift of lastmonth_activity" in page and _chart(page, "effect")["labels"]


def test_a_categorical_feature_shows_its_category_shares(project: tuple[Settings, str]) -> None:
    status, page = _get(project, "/drift/region?range=month")
    assert status == 200 and "Category shares: reference and recent" in page
    labels = _chart(page, "histogram")["labels"]
    assert set(labels) == {"north", "south", "west", "east"}
    _, prediction = _get(project, "/drift/__prediction__?range=month")
    assert "Drift of prediction" in prediction and _chart(prediction, "histogram")["labels"]


def test_an_unknown_feature_is_the_apps_404_page(project: tuple[Settings, str]) -> None:
    status, page = _get(project, "/drift/no_such_column?range=month")
    assert status == 404
    assert "<h1>Not found</h1>" in page
    assert "no drift result of column 'no_such_column'" in html.unescape(page)


# --- the cases a real run rarely makes, recorded with the engine's own documents -------------

RUN = "c" * 32


def _numeric(values: list[float]) -> Any:
    return fit_numeric(np.array(values, dtype=np.float64), 1000, 101, psi_bins=4)


CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    # column: (kind, status, details)
    HOSTILE: ("categorical", "ok", {"histogram": histogram(
        "categorical", CategoricalProfile(4, 0, ("<b>x</b>", "y"), np.array([3, 1])),
        np.array(["<b>x</b>", "</script><script>alert(2)</script>", "w" * 300], dtype=object))}),
    "only_new": ("numeric", "new_column", {"histogram": histogram(
        "numeric", None, np.array([1.0, 2.0, 3.0]))}),
    "gone": ("numeric", "missing_in_new", {"histogram": histogram(
        "numeric", _numeric([1.0, 2.0, 3.0]), None)}),
    "empty": ("numeric", "all_missing", {"histogram": histogram(
        "numeric", _numeric([1.0, 2.0]), np.array([np.nan, np.nan, np.nan]))}),
    "many": ("categorical", "ok", {"histogram": histogram(
        "categorical", None, np.array([f"c{i:04d}" for i in range(1000)], dtype=object))}),
    "legacy": ("numeric", "ok", {"distribution": {
        "labels": ["≤ 1", "> 1"], "reference": [0.5, 0.5], "current": [0.25, 0.75]}}),
    "bare": ("numeric", "ok", {}),
}  # fmt: skip


@pytest.fixture(scope="module")
def recorded(project: tuple[Settings, str]) -> tuple[Settings, str]:
    """The project, with one more run that recorded these columns' results."""
    settings, _ = project
    now = datetime.now(UTC)  # after the real runs: the newest run of the day
    engine = db.make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(tables.runs.insert().values(
                id=RUN, kind="run", started_at=now, finished_at=now, status="succeeded",
                new_files=1, rows_ingested=3, production_version=1))  # fmt: skip
            conn.execute(tables.drift_summaries.insert().values(
                run_id=RUN, model_version=1, dataset_drift=False, drifted_share=0.0,
                reference_rows=4, current_rows=3, thresholds={}, created_at=now))  # fmt: skip
            for column, (kind, status, details) in CASES.items():
                conn.execute(tables.drift_results.insert().values(
                    run_id=RUN, column_name=column, kind=kind, test="ks", status=status,
                    drifted=False, details=details))  # fmt: skip
    finally:
        engine.dispose()
    return project


def test_a_hostile_name_is_linked_reached_and_escaped(recorded: tuple[Settings, str]) -> None:
    _, drift = _get(recorded, "/drift?range=day")
    links = re.findall(r'<a href="(/drift/[^"?]*)\?range=day">', drift)
    hostile = [link for link in links if "script" in link]
    assert len(hostile) == 1  # the heatmap links it, quoted
    assert "%3Cscript%3E" in hostile[0] and "%3F%23%25" in hostile[0]
    status, page = _get(recorded, html.unescape(hostile[0]) + "?range=day")
    assert status == 200
    assert "<script>alert" not in page and "</script><script>alert(2)" not in page
    assert f"Drift of {HOSTILE}</h1>" in html.unescape(page)
    chart = _chart(page, "histogram")  # its JSON's < and > are escaped: the script stays shut
    assert "</script><script>alert(2)</script>" in chart["labels"]
    assert [r[0] for r in _table(page)] == chart["labels"]


@pytest.mark.parametrize(
    ("column", "says", "sides"),
    [
        ("only_new", "The training rows of v1 have no column only_new.", ["—", "1"]),
        ("gone", "The newest run's new rows have no column gone.", ["1", "—"]),
        ("empty", "All 3 values of the newest run's new rows are missing.", ["1", "0"]),
        ("many", "990 less frequent categories are grouped as others.", ["—", "1"]),
        ("legacy", "This run recorded the shares on the reference's PSI bins only.", ["—", "—"]),
    ],
)
def test_what_the_page_says_of_a_side_that_is_missing_or_odd(
    recorded: tuple[Settings, str], column: str, says: str, sides: list[str]
) -> None:
    status, page = _get(recorded, f"/drift/{column}?range=day")
    assert status == 200 and says in html.unescape(page)
    first = _table(page)[0]
    assert [first[1], first[3]] == sides  # reference rows, recent rows of the first bar
    labels = _chart(page, "histogram")["labels"]
    assert len(labels) == len(_table(page)) <= 23  # 20 bins, 2 open ones and missing at most


def test_a_run_with_no_distribution_says_so(recorded: tuple[Settings, str]) -> None:
    status, page = _get(recorded, "/drift/bare?range=day")
    assert status == 200 and "This run recorded no distribution of the column." in page
    assert 'id="histogram-data"' not in page and "No distribution recorded for this run." in page


@pytest.mark.browser
def test_a_hostile_name_draws_and_fits_a_phone(
    recorded: tuple[Settings, str],
    live_server: Callable[..., Any],
    page_for: Callable[..., Any],
) -> None:
    settings, token = recorded
    with live_server(settings) as base:
        page = page_for(base, token=token, width=NARROW)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
        page.goto("/drift?range=day")
        page.locator("table.heatmap a", has_text="script").click()
        page.wait_for_function("() => typeof Chart !== 'undefined'")
        assert page.locator("h1").inner_text() == f"Drift of {HOSTILE}"
        labels = page.evaluate("() => Chart.getChart(document.getElementById('histogram'))"
                               ".data.labels")  # fmt: skip
        assert "w" * 300 in labels and "</script><script>alert(2)</script>" in labels
        assert horizontal_overflow(page) == 0
        assert errors == []
