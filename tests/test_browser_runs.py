"""The run and model pages in a real browser (issue 13 points 4, 5, 12 and 13): real data, a
filter that changes the list, rollback asked for and confirmed, no sideways scrolling at 390 px,
and the run page drawing the PDF's charts from the PDF's series."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.run import run_once
from pipeline.settings import Settings
from pipeline.tools.sampledata import write_sample_data
from tests.browser import NARROW, horizontal_overflow
from tests.conftest import copy_project
from tests.run_page_data import add_runs, add_version_two, fake_id, production, real_run
from tests.test_auth import new_token
from tests.test_run_charts import canvases, pdf_series

pytestmark = pytest.mark.browser


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Settings:
    settings = copy_project(built_project, tmp_path / "project")
    add_runs(settings, [("failed", "ingest"), ("noop", "run"), ("succeeded", "score")])
    add_version_two(settings)
    return settings


def _rows(page: Any) -> list[str]:
    return [x.get_attribute("title") for x in page.locator("table.runs td[data-label=Run] a").all()]


def test_the_runs_page_filters_and_opens_a_run(
    project: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    token = new_token(project, "browser", "read")
    real = real_run(project)["id"]
    with live_server(project) as base:
        page = page_for(base, token=token)
        answer = page.goto("/runs")
        assert answer is not None and answer.status == 200
        assert _rows(page) == [real, fake_id(3), fake_id(1)]  # the no-op tick hidden
        page.select_option("#f-status", "failed")
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**/runs?status=failed**")
        assert _rows(page) == [fake_id(1)]
        page.goto("/runs")
        page.get_by_label("show ticks with nothing to do").check()
        page.get_by_role("button", name="Show").click()
        page.wait_for_url("**quiet=show**")
        assert _rows(page) == [real, fake_id(3), fake_id(2), fake_id(1)]
        page.locator(f'a[title="{real}"]').click()
        page.wait_for_url(f"**/runs/{real}")
        assert (
            page.locator("#verdict")
            .inner_text()
            .startswith("First model trained and deployed as v1")
        )
        assert page.get_by_role("link", name="quality report").count() == 1
        assert page.get_by_role("link", name="PDF report").count() == 1


def test_rollback_asks_for_confirmation_in_a_browser(
    project: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    token = new_token(project, "browser-admin", "admin")
    with live_server(project) as base:
        page = page_for(base, token=token)
        page.goto("/models")
        page.get_by_role("link", name="Roll back to v1…").click()
        page.wait_for_url("**/models/rollback?to=1")
        assert page.locator("h1").inner_text() == "Roll back from v2 to v1?"
        assert production(project) == 2  # asked, not done
        page.get_by_label("Reason").fill("v2 misbehaves")
        page.get_by_role("button", name="Roll back to v1").click()
        page.get_by_text("Rolled back from v2 to v1.").wait_for()
        assert production(project) == 1


def test_the_pages_do_not_scroll_sideways_at_a_phones_width(
    project: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    token = new_token(project, "browser-narrow", "admin")
    real = real_run(project)["id"]
    urls = [
        "/runs?quiet=show",
        f"/runs/{real}",
        "/models",
        "/models/1",
        "/models/compare?a=1&b=2",
        "/models/rollback?to=1",
        "/runs?status=bogus",
    ]
    with live_server(project) as base:
        page = page_for(base, token=token, width=NARROW)
        for url in urls:
            page.goto(url)
            assert horizontal_overflow(page) == 0, url


DRAWN = (
    "() => Array.from(document.querySelectorAll('canvas[data-chart]'))"
    ".filter(c => Chart.getChart(c) && c.width > 0 && c.height > 0).map(c => c.id)"
)
# A canvas drawn on: some pixel is not transparent.
PAINTED = (
    "id => { const c = document.getElementById(id); const d = c.getContext('2d')"
    ".getImageData(0, 0, c.width, c.height).data; for (let i = 3; i < d.length; i += 4)"
    " { if (d[i]) return true; } return false; }"
)


@pytest.fixture(scope="module")
def drifted_run(
    tmp_path_factory: pytest.TempPathFactory, built_project: Path
) -> tuple[Settings, str, str]:
    """The built project and a second real run on drifted data: the PDF's every chart."""
    settings = copy_project(built_project, tmp_path_factory.mktemp("run-charts"))
    batches = tmp_path_factory.mktemp("batches")
    write_sample_data(batches, batches=2, rows=300, drift_from=2, test_rows=200)
    shutil.copy(batches / "sourcedata" / "clients_batch_02.csv", settings.path("paths.source"))
    run_id = run_once(settings)["run_id"]
    return settings, run_id, new_token(settings, "browser-charts", "read")


def test_the_run_page_draws_the_pdfs_charts_and_fits_a_phone(
    drifted_run: tuple[Settings, str, str],
    live_server: Callable[..., Any],
    page_for: Callable[..., Any],
) -> None:
    settings, run_id, token = drifted_run
    series = pdf_series(settings, run_id)
    expected = set(canvases(series))
    with live_server(settings) as base:
        errors: list[str] = []
        for width in (1280, NARROW):
            page = page_for(base, token=token, width=width)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            answer = page.goto(f"/runs/{run_id}")
            assert answer is not None and answer.status == 200
            page.wait_for_function("() => typeof Chart !== 'undefined'")
            drawn = set(page.evaluate(DRAWN))
            assert drawn == expected, (drawn, expected, errors)
            assert all(page.evaluate(PAINTED, name) for name in drawn)
            assert errors == []
            assert horizontal_overflow(page) == 0, width
            # What Chart.js drew is the series the PDF draws.
            steps = page.evaluate(
                "() => Chart.getChart(document.getElementById('chart-steps')).data.datasets[0].data"
            )
            assert steps == series["steps"]["values"]
            # The estimate's legend swatches are its own colour, not its first period's.
            swatches = page.evaluate(
                "() => Chart.getChart(document.getElementById('chart-estimates'))"
                ".legend.legendItems.map(item => item.fillStyle)"
            )
            reliable = series["estimates"]["legend"][0][1]
            assert swatches[:2] == [reliable, reliable], swatches
