"""The run's charts from one source (issue 13 point 12): `pipeline.report.chart_data` turns a
run's rows into each chart's series; the PDF draws them with reportlab and the run page with
Chart.js (`app.run_charts`). Each chart-data function on small literal data; the PDF's drawings
and the page's embedded documents made of the same series, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing

from app import run_charts
from pipeline.report import chart_data
from pipeline.report.charts import (
    ACCENT,
    BAD,
    BLUES,
    CRITICALITY_COLOURS,
    GREY_BAR,
    INK,
    MUTED,
    bar_chart,
    confusion_chart,
    distribution_chart,
)
from pipeline.report.estimates import estimate_chart
from pipeline.report.load import load_run, without_server_paths
from pipeline.report.pdf_doc import Doc
from pipeline.report.run_pdf import story
from pipeline.report.timeline import HOLDOUT, history_chart
from pipeline.run import run_once
from pipeline.settings import Settings
from pipeline.storage import db
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import PgDatabases, copy_pg_project, copy_project
from tests.run_page_data import BROWSER
from tests.test_api import make_app
from tests.test_auth import bearer, new_token

T0 = datetime(2026, 5, 6, 2, 0, tzinfo=UTC)


# -- each chart's series, on literal data ----------------------------------------------------


def test_steps_are_bars_in_their_order_coloured_by_status() -> None:
    series = chart_data.steps(
        [
            {"name": "ingest", "seconds": 0.5, "status": "succeeded"},
            {"name": "train", "seconds": 1.25, "status": "failed"},
            {"name": "report", "seconds": None, "status": "running"},
        ]
    )
    assert series is not None
    assert series["labels"] == ["ingest", "train", "report"]
    assert series["values"] == [0.5, 1.25, 0.0]
    assert series["colours"] == [ACCENT, BAD, GREY_BAR]
    assert series["notes"] == ["0.50 s", "1.25 s", "0.00 s"]
    # From 0 to 18% past the longest bar (room for its text), ticked at round numbers in it.
    assert series["x"] == {"min": 0.0, "max": pytest.approx(1.475), "ticks": [0.0, 0.5, 1.0],
                           "labels": ["0", "0.5", "1"]}  # fmt: skip
    assert chart_data.steps([]) is None


def test_quality_adds_rows_per_type_most_first_in_the_worst_criticality() -> None:
    issues = [
        {"level": "row", "error_type": "out_of_range", "count": 100, "criticality": "low"},
        {"level": "row", "error_type": "out_of_range", "count": 20, "criticality": "medium"},
        {"level": "row", "error_type": "invalid_label", "count": 3, "criticality": "high"},
        {"level": "file", "error_type": "missing_column", "count": 0, "criticality": "high"},
    ]
    series = chart_data.quality(issues)
    assert series is not None
    assert series["labels"] == ["out_of_range", "invalid_label"]
    assert series["values"] == [120.0, 3.0]
    assert series["levels"] == ["medium", "high"]
    assert series["colours"] == [CRITICALITY_COLOURS["medium"], CRITICALITY_COLOURS["high"]]
    assert series["notes"] == ["120", "3"] and series["whole"]
    assert all(t == int(t) for t in series["x"]["ticks"])  # counts: whole ticks
    assert chart_data.quality(issues[3:]) is None  # a file-level problem has no rows to count


def test_prediction_periods_chart_bins_or_classes_the_newest_six() -> None:
    hist = {"edges": [0.0, 0.5, 1.0], "counts": [7, 3]}
    periods = [
        {"period_start": f"2026-05-{d:02d}T00:00:00", "model_version": 1, "histogram": hist,
         "positive_label": "yes"}
        for d in range(1, 8)
    ] + [{"period_start": "2026-05-08T00:00:00", "model_version": 2,
          "class_counts": {"a": 4, "b": 1}},
         {"period_start": "2026-05-09", "model_version": 2}]  # fmt: skip
    found = chart_data.prediction_periods({"prediction_health": {"periods": periods}})
    # The newest six periods; the last has neither bins nor classes, so it has no chart.
    assert len(found) == 5
    assert found[0]["labels"] == ["0.0–0.5", "0.5–1.0"] and found[0]["values"] == [7.0, 3.0]
    assert found[0]["title"] == "predictions by P(yes), period 2026-05-04, v1"
    assert found[-1]["labels"] == ["a", "b"] and found[-1]["notes"] == ["4", "1"]
    assert found[-1]["title"] == "predictions per class, period 2026-05-08, v2"
    assert chart_data.prediction_periods(None) == chart_data.prediction_periods({}) == []


def _cells(version: int, dataset: str, counts: dict[tuple[str, str], int]) -> list[dict]:
    return [
        {"model_version": version, "dataset": dataset, "actual": a, "predicted": p, "count": n}
        for (a, p), n in counts.items()
    ]


def test_the_confusion_matrix_of_the_production_model_on_the_test_data_first() -> None:
    counts = {("0", "0"): 40, ("0", "1"): 2, ("1", "0"): 8, ("10", "10"): 10}
    cells = _cells(1, "new", counts) + _cells(2, "test", counts) + _cells(3, "test", counts)
    assert {c["model_version"] for c in chart_data.confusion_choice(cells, 2)} == {2}
    assert {c["model_version"] for c in chart_data.confusion_choice(cells, 9)} == {3}  # newest
    only_new = chart_data.confusion_choice(_cells(1, "new", counts), 1)
    assert {c["dataset"] for c in only_new} == {"new"}
    series = chart_data.confusion(chart_data.confusion_choice(cells, 2))
    assert series is not None
    assert series["labels"] == ["0", "1", "10"]  # numbers in numeric order
    assert series["counts"] == [[40, 2, 0], [8, 0, 0], [0, 0, 10]]
    assert series["top"] == 40 and series["total"] == 60
    assert series["title"] == "model v2 on the test data (60 rows)"
    assert series["colours"][0][0] == BLUES[-1] and series["colours"][1][1] == BLUES[0]
    assert series["ink"][0][0] == "#ffffff" and series["ink"][1][0] == INK
    assert chart_data.confusion([]) is None


def test_the_history_has_its_marks_deployments_and_axes() -> None:
    found = {
        "production": [(T0 + timedelta(days=i), 0.80 + 0.01 * i, 1) for i in range(4)],
        "holdout": [(T0, 0.86, 1), (T0 + timedelta(days=2), float("nan"), 2)],
        "deployments": [(T0, 1), (T0 + timedelta(days=2), 2)],
    }
    series = chart_data.history(found, "f1")
    assert series is not None
    assert [p["value"] for p in series["production"]] == pytest.approx([0.8, 0.81, 0.82, 0.83])
    assert series["holdout"] == [{"t": T0.timestamp(), "value": 0.86, "version": 1}]  # no NaN
    assert [(d["version"], d["label"]) for d in series["deployments"]] == [(1, "→ v1"), (2, "→ v2")]
    assert series["x"]["min"] < T0.timestamp() < (T0 + timedelta(days=3)).timestamp()
    assert [name for _, name in series["x"]["ticks"]][:2] == ["06 May 00:00", "06 May 12:00"]
    assert series["y"]["min"] <= 0.8 and series["y"]["max"] >= 0.86
    assert [name for name, _ in series["legend"]] == [
        "production model on new data",
        "recorded score at registration",
        "model version change",
    ]
    assert chart_data.history({"production": [], "holdout": [], "deployments": []}, "f1") is None


def test_the_estimates_per_period_of_the_metric() -> None:
    rows = [
        {"metric": "f1", "period": "day", "period_start": T0 + timedelta(days=i),
         "value": 0.8 - 0.05 * i, "ci_low": 0.75 - 0.05 * i, "ci_high": 0.85 - 0.05 * i,
         "reliable": i < 2, "realised_value": 0.79 if i == 0 else None}
        for i in range(3)
    ] + [{"metric": "auc", "period": "day", "period_start": T0, "value": 0.9, "ci_low": None,
          "ci_high": None, "reliable": True}]  # fmt: skip
    series = chart_data.estimates(rows, "f1")
    assert series is not None
    assert series["labels"] == ["06 May", "07 May", "08 May"]
    assert series["value"] == pytest.approx([0.8, 0.75, 0.7])
    assert series["realised"] == [0.79, None, None]
    assert series["colours"] == [ACCENT, ACCENT, GREY_BAR]
    assert series["x_title"] == "day (UTC)" and series["every"] == 1
    assert series["y"]["min"] <= 0.65 and series["y"]["max"] >= 0.85
    assert chart_data.estimates(rows, "accuracy") is None


def test_distributions_of_the_most_drifted_columns_first() -> None:
    def result(name: str, drifted: bool, effect: float | None, dist: bool = True) -> dict:
        details = {"distribution": {"labels": ["a", "b"], "reference": [0.9, 0.1],
                                    "current": [0.4]}} if dist else {}  # fmt: skip
        return {"column_name": name, "drifted": drifted, "effect_size": effect,
                "details": details}  # fmt: skip

    results = [result("x", False, 0.9), result("y", True, 0.1), result("z", True, 0.5),
               result("w", True, 0.7, dist=False), result("v", False, None),
               result("u", False, 0.05)]  # fmt: skip
    found = chart_data.drifted(results)
    assert [s["title"] for s in found] == ["z", "y", "x", "u"]  # four, drifted first
    assert found[0]["series"][0]["values"] == [0.9, 0.1]
    assert found[0]["series"][1]["values"] == [0.4, 0.0]  # a missing share is none
    assert found[0]["y"]["max"] >= 0.9 * 1.05


# -- the page's documents are the series -----------------------------------------------------


def test_bars_become_horizontal_bars_with_the_series_ticks_and_colours() -> None:
    series = chart_data.steps([{"name": "ingest", "seconds": 0.5, "status": "failed"}])
    assert series is not None
    doc = run_charts.bars(series)
    assert doc["horizontal"] and doc["kind"] == "bar" and doc["labels"] == ["ingest"]
    assert doc["datasets"] == [
        {"label": "seconds", "data": [0.5], "colours": [BAD], "tags": ["0.50 s"]}
    ]
    axis = {k: v for k, v in series["x"].items() if k != "labels"}
    assert doc["y"] == {**axis, "names": series["x"]["labels"], "title": "seconds"}
    assert run_charts.bar_rows(series) == [["ingest", "0.50 s"]]


def test_the_history_document_draws_each_deployment_as_a_dashed_line() -> None:
    found = {"production": [(T0, 0.8, 1)], "holdout": [], "deployments": [(T0, 1)]}
    series = chart_data.history(found, "f1")
    assert series is not None
    doc = run_charts.history(series)
    production, deployed = doc["datasets"]
    assert production["data"] == [{"x": T0.timestamp(), "y": 0.8}]
    assert production["colour"] == ACCENT
    y0, y1 = series["y"]["min"], series["y"]["max"]
    t = T0.timestamp()
    assert deployed["data"] == [{"x": t, "y": y0}, {"x": t, "y": y1}, {"x": t, "y": None}]
    assert deployed["dashed"] and deployed["gaps"] and deployed["colour"] == MUTED
    assert deployed["tags"] == ["", "→ v1", ""]  # the PDF's label, at the line's top
    assert doc["x"]["ticks"] == series["x"]["ticks"] and doc["y"]["ticks"] == series["y"]["ticks"]
    assert run_charts.history_rows(series) == [
        ["2026-05-06 02:00:00", "production model on new data", "v1", "0.8000"],
        ["2026-05-06 02:00:00", "deployed", "v1", ""],
    ]


def test_the_estimates_document_has_intervals_estimates_and_realised_values() -> None:
    rows = [{"metric": "f1", "period": "week", "period_start": T0, "value": 0.8, "ci_low": 0.7,
             "ci_high": 0.9, "reliable": False, "realised_value": 0.75}]  # fmt: skip
    series = chart_data.estimates(rows, "f1")
    assert series is not None
    interval, estimate, realised = run_charts.estimates(series)["datasets"]
    assert interval["data"] == [[0.7, 0.9]] and interval["colours"] == [GREY_BAR]
    assert estimate["data"] == [0.8] and realised["data"] == [0.75]
    assert realised["colour"] == HOLDOUT
    assert run_charts.estimate_rows(series) == [["06 May", "0.8000", "0.7000 to 0.9000",
                                                 "0.7500", "no"]]  # fmt: skip


# -- the PDF and the page draw the same series, on SQLite and PostgreSQL ---------------------


def pdf_series(settings: Settings, run_id: str) -> dict[str, Any]:
    """The series the PDF of `run_id` draws: the report's own read, paths and all."""
    engine = db.make_engine(settings.database_url)
    try:
        data = load_run(engine, run_id, settings["model.metric"])
    finally:
        engine.dispose()
    return chart_data.run_charts(without_server_paths(data, settings.base_dir))


def canvases(series: dict[str, Any]) -> dict[str, Any]:
    """The run page's canvas ids and the series each one draws."""
    out = {name: series[name] for name in ("history", "estimates", "quality", "steps")}
    out |= {f"drift-{i}": s for i, s in enumerate(series["drift"])}
    out |= {f"predictions-{i}": s for i, s in enumerate(series["predictions"])}
    return {f"chart-{name}": s for name, s in out.items() if s is not None}


DOCUMENTS = {"history": run_charts.history, "estimates": run_charts.estimates,
             "quality": run_charts.bars, "steps": run_charts.bars, "drift": run_charts.distribution,
             "predictions": run_charts.bars}  # fmt: skip


def _pdf_drawings(settings: Settings, run_id: str) -> list[str]:
    """Every chart of the run's PDF, as SVG text."""
    engine = db.make_engine(settings.database_url)
    try:
        data = without_server_paths(
            load_run(engine, run_id, settings["model.metric"]), settings.base_dir
        )
    finally:
        engine.dispose()
    found: list[Drawing] = []

    def walk(node: Any) -> None:
        if isinstance(node, Drawing):
            found.append(node)
        for part in getattr(node, "_content", None) or []:
            walk(part)
        for row in getattr(node, "_cellvalues", None) or []:
            for cell in row if isinstance(row, list) else [row]:
                walk(cell)

    for flowable in story(Doc(), data):
        walk(flowable)
    return [renderSVG.drawToString(d) for d in found]


DATABASES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=DATABASES)
def drifted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Settings, str]]:
    """A copy of the built project (SQLite or PostgreSQL) and a second real run on drifted data,
    which has every chart: history, estimates, drift, quality, predictions, steps."""
    target = tmp_path_factory.mktemp(f"run-charts-{request.param}")
    databases: PgDatabases | None = None
    if request.param == "sqlite":
        settings = copy_project(request.getfixturevalue("built_project"), target)
    else:
        databases = request.getfixturevalue("pg_databases")
        built = request.getfixturevalue("built_pg_project")
        settings = copy_pg_project(built, target, databases)
    batches = tmp_path_factory.mktemp("batches")
    write_sample_data(batches, batches=2, rows=300, drift_from=2, test_rows=200)
    shutil.copy(batches / "sourcedata" / "clients_batch_02.csv", settings.path("paths.source"))
    run_id = run_once(settings)["run_id"]
    yield settings, run_id
    if databases is not None:
        databases.drop(settings.database_url)


def _page(settings: Settings, run_id: str) -> str:
    token = new_token(settings, "run-charts", "read")
    with make_app(settings) as app:
        response = app.test_client().get(f"/runs/{run_id}", headers={**BROWSER, **bearer(token)})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _embedded(html: str) -> dict[str, Any]:
    found = re.findall(r'<script type="application/json" id="([\w-]+)-data">(.*?)</script>', html)
    return {name: json.loads(unescape(text)) for name, text in found}


def test_the_run_page_embeds_the_series_the_pdf_draws(drifted: tuple[Settings, str]) -> None:
    settings, run_id = drifted
    series = pdf_series(settings, run_id)
    expected = canvases(series)
    # The drifted run has every kind of chart the PDF draws.
    assert {"history", "estimates", "steps", "drift-0", "predictions-0"} <= {
        name.removeprefix("chart-") for name in expected
    }
    html = _page(settings, run_id)
    embedded = _embedded(html)
    assert set(embedded) == set(expected)
    for name, s in expected.items():
        make = DOCUMENTS[name.split("-")[1]]
        assert embedded[name] == json.loads(json.dumps(make(s))), name
        # The canvas is drawn from the document and the numbers are in a table below it.
        assert f'<canvas id="{name}" data-chart="{name}-data"' in html
        table = html.split(f'id="{name}-table"')[1].split("</table>")[0]
        assert table.count("<tr>") == 1 + len(s.get("labels") or []) or name == "chart-history"
    steps = embedded["chart-steps"]["datasets"][0]
    assert steps["data"] == series["steps"]["values"]
    assert steps["colours"] == series["steps"]["colours"]
    assert embedded["chart-steps"]["labels"] == series["steps"]["labels"]
    history = embedded["chart-history"]["datasets"][0]["data"]
    assert [p["y"] for p in history] == [p["value"] for p in series["history"]["production"]]
    # The confusion matrix: the PDF's heat map first, a table of its counts and blues.
    matrix = series["confusion"]
    assert matrix is not None
    heat = html.split('id="confusion-1"')[1].split("</table>")[0]
    counts = [int(n) for n in re.findall(r'data-count="(\d+)"', heat)]
    assert counts == [n for row in matrix["counts"] for n in row]
    assert f"background: {matrix['colours'][0][0]}" in heat
    assert f"Confusion matrix: {matrix['title']}" in html


def test_the_pdf_draws_the_series_the_page_embeds(drifted: tuple[Settings, str]) -> None:
    settings, run_id = drifted
    series = pdf_series(settings, run_id)
    drawn = _pdf_drawings(settings, run_id)
    doc = Doc()
    font = doc.sans
    ours = [
        doc.chart(confusion_chart(series["confusion"], font), max_width=doc.width * 0.62),
        history_chart(series["history"], font),
        estimate_chart(series["estimates"], font),
        *(doc.chart(distribution_chart(s, font), doc.width * 0.48) for s in series["drift"]),
        *(bar_chart(s, font) for s in series["predictions"]),
        bar_chart(series["steps"], font),
    ]
    if series["quality"] is not None:
        ours.append(bar_chart(series["quality"], font))
    for drawing in ours:
        assert renderSVG.drawToString(drawing) in drawn
    assert len(drawn) == len(ours)
