"""The PDF's value charts with values a regressor's error can reach on hostile labels (1e19,
1e308, both signs): the axes stay finite and readable (powers of ten), every point is drawn
within its frame, and the drawing renders; a report is never lost to an OverflowError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from reportlab.graphics import renderPDF

from pipeline.formatting import fmt_metric
from pipeline.report import chart_data
from pipeline.report.estimates import estimate_chart
from pipeline.report.ticks import nice_ticks, tick_text
from pipeline.report.timeline import history_chart

T = datetime(2026, 1, 1, tzinfo=UTC)
HUGE = [[1e308, 5.0], [1e19, 3.0], [-1e308, 1e308], [1.7e308, 1.7e308], [0.5, 0.7]]


@pytest.mark.parametrize("values", HUGE)
def test_the_history_chart_of_huge_scores_renders(values: list[float]) -> None:
    found = {
        "production": [(T + timedelta(days=i), v, 1) for i, v in enumerate(values)],
        "holdout": [],
        "deployments": [],
    }
    series = chart_data.history(found, "mae")
    assert series is not None
    axis = series["y"]
    assert all(len(label) <= 12 for label in axis["labels"]), axis["labels"]
    renderPDF.drawToString(history_chart(series))


@pytest.mark.parametrize("values", HUGE)
def test_the_estimates_chart_of_huge_values_renders(values: list[float]) -> None:
    periods = [
        {"metric": "mae", "period": "day", "period_start": T + timedelta(days=i), "value": v,
         "ci_low": v / 2, "ci_high": v, "realised_value": v, "reliable": True}
        for i, v in enumerate(values)
    ]  # fmt: skip
    series = chart_data.estimates(periods, "mae")
    assert series is not None
    renderPDF.drawToString(estimate_chart(series))


def test_ticks_and_metrics_far_from_zero_are_powers_of_ten() -> None:
    assert tick_text(1.5e20) == "1.5e+20" and tick_text(2_000_000) == "2,000,000"
    assert fmt_metric(1e308) == "1e+308" and fmt_metric(0.81234) == "0.8123"
    ticks = nice_ticks(-1e308, 1e308)
    assert ticks and all(abs(t) <= 1e300 for t in ticks)
