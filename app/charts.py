"""The dashboards' pure part (issue 13): the green, orange or red level of a number against its
thresholds, and the chart documents the pages embed as JSON
for app/static/js/charts.js (Chart.js). No I/O here: the pages read, this shapes.

A chart document is {"kind": "bar" | "line", "labels": [...], "links": [url per label],
"datasets": [{"label", "data", "levels"?, "type"?, "dashed"?, "stack"?}], "y": {...}}; a
dataset's `levels` colour its points, and a threshold is a dataset of its own (a flat dashed
line) so that the legend names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

GREEN, ORANGE, RED, GREY = "green", "orange", "red", "grey"
WORST = (GREY, GREEN, ORANGE, RED)  # by rank: the worst of several is the last of these


def level_at_least(value: float | None, orange: float, red: float) -> str:
    """Green below `orange`, orange from it, red from `red`; grey without a value."""
    if value is None:
        return GREY
    if value >= red:
        return RED
    return ORANGE if value >= orange else GREEN


def worst(levels: Sequence[str]) -> str:
    return max(levels, key=WORST.index, default=GREY)


def metric_level(
    value: float | None, reference: float | None, higher_better: bool, orange: float, red: float
) -> str:
    """How far a metric is worse than its reference (the holdout score), as a level."""
    if value is None or reference is None:
        return GREY
    drop = reference - value if higher_better else value - reference
    return level_at_least(drop, orange, red)


def short_time(when: datetime | str | None) -> str:
    """'2026-12-01 09:30' (UTC) from a time or its ISO text."""
    if when is None:
        return ""
    text = when.isoformat() if isinstance(when, datetime) else str(when)
    return text[:16].replace("T", " ")


def threshold(label: str, value: float, n: int, level: str) -> dict[str, Any]:
    """A flat dashed line across the chart's `n` points."""
    return {
        "label": label,
        "data": [value] * n,
        "type": "line",
        "dashed": True,
        "threshold": level,
    }


def chart(
    kind: str,
    labels: Sequence[str],
    datasets: Sequence[Mapping[str, Any]],
    links: Sequence[str | None],
    **y: Any,
) -> dict[str, Any]:
    return {
        "kind": kind,
        "labels": list(labels),
        "links": list(links),
        "datasets": [dict(d) for d in datasets],
        "y": y,
    }
