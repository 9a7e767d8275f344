"""The report's charts: reportlab drawings whose bars, labels and axes say what the data says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reportlab.graphics.shapes import Drawing, Group, Rect, String
from reportlab.lib.colors import HexColor

from pipeline.report import chart_data, plot
from pipeline.report.charts import BLUES, CRITICALITY_COLOURS, bar_chart, blue, confusion_chart
from pipeline.report.charts import distribution_chart as draw_distribution
from pipeline.report.timeline import history_chart as draw_history
from pipeline.report.timeline import time_ticks

T0 = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)


def shapes(node: Drawing | Group, kind: type) -> list:
    found = []
    for child in node.contents:
        if isinstance(child, Group):
            found += shapes(child, kind)
        elif isinstance(child, kind):
            found.append(child)
    return found


def texts(d: Drawing) -> list[str]:
    return [s.text for s in shapes(d, String)]


def _issues(bars: list[tuple[str, int, str]]) -> list[dict]:
    return [{"level": "row", "error_type": k, "count": n, "criticality": c} for k, n, c in bars]


def quality_chart(bars: list[tuple[str, int, str]]) -> Drawing:
    return bar_chart(chart_data.quality(_issues(bars)) or {})


def steps_chart(steps: list[dict]) -> Drawing:
    return bar_chart(chart_data.steps(steps) or {})


def confusion_chart_of(cells: list[dict], title: str) -> Drawing:
    return confusion_chart({**(chart_data.confusion(cells) or {}), "title": title})


def distribution_chart(column: str, dist: dict) -> Drawing:
    return draw_distribution(chart_data.distribution(column, dist))


def history_chart(history: dict, metric: str) -> Drawing:
    return draw_history(chart_data.history(history, metric) or {})


def filled(d: Drawing, colour: str) -> list[Rect]:
    return [r for r in shapes(d, Rect) if r.fillColor == HexColor(colour) and r.width > 0]


def test_quality_chart_draws_one_bar_per_type_to_scale_in_its_criticality_colour() -> None:
    d = quality_chart([("out_of_range", 120, "medium"), ("invalid_label", 3, "high")])
    assert isinstance(d, Drawing) and d.width == 504
    assert {"out_of_range", "invalid_label", "120", "3", "offending rows"} <= set(texts(d))
    [medium] = filled(d, CRITICALITY_COLOURS["medium"])
    [high] = filled(d, CRITICALITY_COLOURS["high"])
    assert medium.width == pytest.approx(high.width * 40)
    assert medium.y > high.y  # the first bar on top


def test_steps_chart_labels_each_step_with_its_seconds() -> None:
    steps = [
        {"name": "ingest", "seconds": 0.5, "status": "succeeded"},
        {"name": "train", "seconds": 1.25, "status": "failed"},
        {"name": "report", "seconds": None, "status": "succeeded"},
    ]
    d = steps_chart(steps)
    assert {"ingest", "train", "report", "0.50 s", "1.25 s", "0.00 s", "seconds"} <= set(texts(d))


def test_confusion_chart_writes_each_count_and_shades_by_count() -> None:
    cells = [
        {"actual": a, "predicted": p, "count": n, "model_version": 2, "dataset": "test"}
        for a, p, n in (("0", "0", 410), ("0", "1", 23), ("1", "0", 19), ("1", "1", 48))
    ]
    d = confusion_chart_of(cells, "model v2 on the test data (500 rows)")
    words = texts(d)
    for count in ("410", "23", "19", "48", "Predicted", "Actual"):
        assert count in words
    assert "model v2 on the test data (500 rows)" in words
    assert filled(d, BLUES[-1])  # the biggest count is the darkest cell


def test_distribution_chart_draws_reference_and_new_side_by_side() -> None:
    dist = {"labels": ["north", "east"], "reference": [0.9, 0.1], "current": [0.4, 0.6]}
    d = distribution_chart("region", dist)
    assert {"north", "east", "region", "reference", "new", "share"} <= set(texts(d))
    bars = [r for r in shapes(d, Rect) if r.height > 0 and r.width < 100]
    heights = sorted(round(r.height, 6) for r in bars if r.width > 20)
    assert heights[-1] == pytest.approx(heights[0] * 9)  # 0.9 against 0.1, to scale


def test_history_chart_marks_versions_and_deployments() -> None:
    history = {
        "production": [(T0 + timedelta(days=i), 0.80 + 0.01 * i, 1) for i in range(4)],
        "holdout": [(T0, 0.86, 1), (T0 + timedelta(days=2), 0.84, 2)],
        "deployments": [(T0, 1), (T0 + timedelta(days=2), 2)],
    }
    words = texts(history_chart(history, "f1"))
    assert {"v1", "v2", "→ v1", "→ v2", "f1", "time (UTC)", "07 May 00:00"} <= set(words)
    assert "production model on new data" in words


def test_history_chart_of_one_moment_and_one_value_has_a_sensible_axis() -> None:
    history = {"production": [], "holdout": [(T0, 0.86, 1)], "deployments": [(T0, 1)]}
    words = texts(history_chart(history, "f1"))
    assert "production model on new data" not in words  # no line, no legend entry for it
    assert {"0.85", "0.9", "0.8"} <= set(words)


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [(0, 120, [0, 25, 50, 75, 100, 125]), (0.8, 0.84, [0.8, 0.81, 0.82, 0.83, 0.84]),
     (0, 1.18, [0, 0.25, 0.5, 0.75, 1, 1.25]), (3, 3, [3, 4, 5, 6])],
)  # fmt: skip
def test_nice_ticks(low, high, expected) -> None:
    assert plot.nice_ticks(low, high, 5) == pytest.approx(expected)


def test_counts_are_ticked_at_whole_numbers() -> None:
    assert plot.nice_ticks(0, 1.18, 5, whole=True) == [0, 1, 2]
    assert "0.25" not in texts(quality_chart([("out_of_range", 1, "medium")]))


def test_time_ticks_of_a_week_are_days() -> None:
    low = T0.timestamp()
    ticks = time_ticks(low, low + 6 * 86400)
    assert [name for _, name in ticks] == [f"{d:02d} May" for d in range(7, 13)]


def test_blue_runs_from_the_lightest_to_the_darkest() -> None:
    assert blue(0) == BLUES[0] and blue(1) == BLUES[-1] and blue(0.5) == BLUES[4]
    assert blue(-1) == BLUES[0] and blue(2) == BLUES[-1]
