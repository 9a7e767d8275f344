"""The dashboards in a real browser (issue 13): chromium against a live server on a project
with two real runs (the second drifted), so every chart has data: each page draws its charts
(Chart.js reports them), the time-range control changes them, and 390 px scrolls no sideways;
a feature's page draws its reference and recent distributions."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.run import run_once
from pipeline.settings import Settings
from pipeline.storage import db, tokens
from pipeline.tools.sampledata import write_sample_data
from tests.browser import NARROW, horizontal_overflow
from tests.conftest import copy_project

pytestmark = pytest.mark.browser

DRAWN = "() => Array.from(document.querySelectorAll('canvas')).filter(c => Chart.getChart(c))" \
    ".map(c => c.id)"  # fmt: skip


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> tuple[Settings, str]:
    settings = copy_project(built_project, tmp_path_factory.mktemp("dash-browser"))
    batches = tmp_path_factory.mktemp("batches")
    write_sample_data(batches, batches=2, rows=300, drift_from=2, test_rows=200)
    shutil.copy(batches / "sourcedata" / "clients_batch_02.csv", settings.path("paths.source"))
    run_once(settings)
    engine = db.make_engine(settings.database_url)
    try:
        return settings, tokens.create(engine, "browser-dash", "read")[1]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("path", "charts"),
    [
        ("/", {"performance", "drift-share", "invalid-share", "predictions"}),
        ("/quality", {"rows", "invalid-share", "rejected"}),
        ("/drift", {"outputs", "classes", "probabilities"}),
        ("/drift/lastmonth_activity", {"histogram", "distribution", "effect"}),
        ("/drift/industry", {"histogram", "distribution", "effect"}),
    ],
)
def test_each_page_draws_its_charts_and_fits_a_phone(
    two_runs: tuple[Settings, str],
    live_server: Callable[..., Any],
    page_for: Callable[..., Any],
    path: str,
    charts: set[str],
) -> None:
    settings, token = two_runs
    with live_server(settings) as base:
        page = page_for(base, token=token)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        answer = page.goto(path)
        assert answer is not None and answer.status == 200
        page.wait_for_function("() => typeof Chart !== 'undefined'")
        assert charts <= set(page.evaluate(DRAWN))
        assert errors == []
        narrow = page_for(base, token=token, width=NARROW)
        narrow.goto(path)
        assert horizontal_overflow(narrow) == 0
        assert charts <= set(narrow.evaluate(DRAWN))


def test_the_time_range_control_changes_the_charts(
    two_runs: tuple[Settings, str], live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    settings, token = two_runs
    points = "() => Chart.getChart(document.getElementById('drift-share')).data.labels.length"
    with live_server(settings) as base:
        page = page_for(base, token=token)
        page.goto("/")
        assert page.evaluate(points) == 1  # the second run checked drift
        # A custom range long before any run: the form asks for it, the chart is gone.
        page.select_option("#range", "custom")
        page.fill("#from", "2020-01-01")
        page.fill("#to", "2020-01-31")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**range=custom**")
        assert page.locator("#drift-share").count() == 0
        assert "Nothing recorded in this range." in page.content()
        # The nav keeps the range; going back to the last month draws the run again.
        page.get_by_role("link", name="Drift", exact=True).click()
        page.wait_for_url("**/drift?range=custom**")
        page.select_option("#range", "month")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**range=month**")
        assert page.locator("table.heatmap tbody tr").count() >= 1
        feature = page.locator("table.heatmap tbody th a").first
        name = feature.inner_text()
        feature.click()
        page.wait_for_url(f"**/drift/{name}?range=month")
        page.wait_for_function("() => typeof Chart !== 'undefined'")
        assert {"histogram", "distribution", "effect"} <= set(page.evaluate(DRAWN))
        # Reference and recent, side by side: a bar per row of the table beside the chart.
        bars = "() => Chart.getChart(document.getElementById('histogram')).data"
        drawn = page.evaluate(bars)
        assert [d["label"] for d in drawn["datasets"]] == [
            "reference (training, v1)",
            "recent (newest run)",
        ]
        assert len(drawn["labels"]) == page.locator("#histogram-table tbody tr").count() > 1
        narrow = page_for(base, token=token, width=NARROW)
        narrow.goto(f"/drift/{name}?range=month")
        assert horizontal_overflow(narrow) == 0
