"""Colours and charts shared by the reports: PNG charts for the PDF, drawn with matplotlib.

matplotlib is imported inside the functions that draw: importing this module stays cheap.
"""

from __future__ import annotations

import math
import warnings
from datetime import UTC, timedelta
from io import BytesIO
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pipeline.report.load import History

# Colours shared by tables and charts.
INK = "#1f2933"
ACCENT = "#2f5d8a"
MUTED = "#6b7785"
STRIPE = "#f1f4f7"
RULE = "#c8d0d8"
BAD = "#b3261e"
GOOD = "#2e7d32"
# One colour per criticality, in the PDF and in the HTML data-quality reports.
CRITICALITY_COLOURS = {"high": BAD, "medium": "#b85c00", "low": "#7d6608"}


def _sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    # A bare Figure draws with Agg when saved to PNG and never touches pyplot's global
    # state, so reports can be built in a web worker's threads and nothing needs closing.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.subplots()


def _png(fig: Figure) -> BytesIO:
    buf = BytesIO()
    with warnings.catch_warnings():
        # A label with a character DejaVu Sans lacks is drawn as a box; not worth failing.
        warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
        fig.savefig(buf, format="png", dpi=150)
    fig.clear()
    buf.seek(0)
    return buf


def confusion_chart(cells: list[dict[str, Any]], title: str) -> BytesIO:
    """Draw a confusion matrix heatmap with the counts written in the cells."""
    labels = sorted({c["actual"] for c in cells} | {c["predicted"] for c in cells}, key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for cell in cells:
        counts[index[cell["actual"]]][index[cell["predicted"]]] += cell["count"]
    side = min(6.0, 2.4 + 0.45 * len(labels))
    fig, ax = _figure(side + 0.6, side)
    top = max(max(row) for row in counts) or 1
    image = ax.imshow(counts, cmap="Blues", vmin=0, vmax=top)
    size = 10 if len(labels) <= 6 else 7
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            colour = "white" if count > top / 2 else INK
            ax.text(j, i, f"{count:,}", ha="center", va="center", color=colour, fontsize=size)
    ticks = [short(label, 16) for label in labels]
    ax.set_xticks(range(len(labels)), ticks, fontsize=8)
    ax.set_yticks(range(len(labels)), ticks, fontsize=8)
    ax.set_xlabel("Predicted", fontsize=9)
    ax.set_ylabel("Actual", fontsize=9)
    ax.set_title(title, fontsize=9, color=INK)
    fig.colorbar(image, ax=ax, shrink=0.8).ax.tick_params(labelsize=7)
    return _png(fig)


def history_chart(history: History, metric: str) -> BytesIO:
    """Draw the production metric over runs, holdout scores of models and deployments."""
    import matplotlib.dates as mdates

    fig, ax = _figure(7.0, 2.9)
    # Times as Any: matplotlib draws datetimes through its unit converters, but its type
    # stubs take floats only.
    production: list[tuple[Any, float, int]] = [
        (x, y, v) for x, y, v in history["production"] if math.isfinite(y)
    ]
    holdout: list[tuple[Any, float, int]] = [
        (x, y, v) for x, y, v in history["holdout"] if math.isfinite(y)
    ]
    deployments: list[tuple[Any, int]] = history["deployments"]
    if production:
        ax.plot(
            [p[0] for p in production],
            [p[1] for p in production],
            marker="o",
            markersize=4,
            color=ACCENT,
            label="production model on new data",
        )
    if holdout:
        ax.scatter(
            [p[0] for p in holdout],
            [p[1] for p in holdout],
            marker="D",
            s=28,
            color="#e07b39",
            zorder=3,
            label="recorded score at registration",
        )
        for x, y, version in holdout:
            ax.annotate(
                f"v{version}", (x, y), xytext=(4, 4), textcoords="offset points", fontsize=7
            )
    for i, (when, version) in enumerate(deployments):
        ax.axvline(
            when,
            color=MUTED,
            linestyle="--",
            linewidth=0.8,
            label="model version change" if i == 0 else None,
        )
        ax.annotate(
            f"→ v{version}",
            (when, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -10),
            textcoords="offset points",
            fontsize=7,
            color=MUTED,
        )
    times = [p[0] for p in production + holdout] + [d[0] for d in deployments]
    if times and max(times) - min(times) < timedelta(hours=1):
        # One point (or one moment) only: show the day around it, not an autoscaled decade.
        ax.set_xlim(min(times) - timedelta(hours=12), max(times) + timedelta(hours=12))
    locator = mdates.AutoDateLocator(tz=UTC)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, tz=UTC))
    ax.set_ylabel(metric, fontsize=9)
    ax.set_xlabel("time (UTC)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.grid(True, color="#e3e7eb", linewidth=0.6)
    ax.legend(fontsize=7, loc="best", frameon=False)
    return _png(fig)


def steps_chart(steps: list[dict[str, Any]]) -> BytesIO:
    """Draw one horizontal bar per step, in the order the steps ran."""
    colours = {"succeeded": ACCENT, "failed": BAD}
    fig, ax = _figure(7.0, 0.8 + 0.28 * len(steps))
    seconds = [s["seconds"] or 0.0 for s in steps]
    names = [short(s["name"], 24) for s in steps]
    ax.barh(range(len(steps)), seconds, color=[colours.get(s["status"], "#9aa5b1") for s in steps])
    ax.set_yticks(range(len(steps)), names, fontsize=8)
    ax.invert_yaxis()
    for i, value in enumerate(seconds):
        ax.text(value, i, f" {value:.2f} s", va="center", fontsize=7, color=INK)
    ax.set_xlim(0, (max(seconds) or 1.0) * 1.18)
    ax.set_xlabel("seconds", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def quality_chart(bars: list[tuple[str, int, str]]) -> BytesIO:
    """Draw offending rows per error type: (label, rows, criticality), one bar each, in order."""
    fig, ax = _figure(7.0, 0.8 + 0.28 * len(bars))
    counts = [count for _, count, _ in bars]
    colours = [CRITICALITY_COLOURS.get(level, MUTED) for _, _, level in bars]
    ax.barh(range(len(bars)), counts, color=colours)
    ax.set_yticks(range(len(bars)), [short(label, 28) for label, _, _ in bars], fontsize=8)
    ax.invert_yaxis()
    for i, value in enumerate(counts):
        ax.text(value, i, f" {value:,}", va="center", fontsize=7, color=INK)
    ax.set_xlim(0, (max(counts, default=0) or 1) * 1.18)
    ax.set_xlabel("offending rows", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def distribution_chart(column: str, dist: dict[str, Any]) -> BytesIO:
    """Reference and new shares side by side, on the profile's bins or categories."""
    import numpy as np

    labels = [short(str(x), 18) for x in dist["labels"]]
    fig, ax = _figure(3.4, 2.2)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, dist["reference"], width=0.4, color="#9aa5b1", label="reference")
    ax.bar(x + 0.2, dist["current"], width=0.4, color=ACCENT, label="new")
    ax.set_xticks(x, labels, rotation=45, ha="right", fontsize=6)
    ax.tick_params(axis="y", labelsize=6)
    ax.set_ylabel("share", fontsize=7)
    ax.set_title(short(column, 40), fontsize=8)
    ax.legend(fontsize=6, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)
