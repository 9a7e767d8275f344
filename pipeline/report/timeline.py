"""The metric history chart: the production metric over runs, holdout scores at registration,
and deployments, on a time axis in UTC (its ticks and span computed here, its series by
`chart_data.history`). Drawn with reportlab shapes (`pipeline.report.plot`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipeline.report.charts import ACCENT, GRID, INK, MUTED

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing

HOLDOUT = "#e07b39"
# Tick steps of a time axis, in seconds, with the format of their labels.
_STEPS = (
    (1, "%H:%M:%S"),
    (2, "%H:%M:%S"),
    (5, "%H:%M:%S"),
    (10, "%H:%M:%S"),
    (15, "%H:%M:%S"),
    (30, "%H:%M:%S"),
    (60, "%H:%M"),
    (120, "%H:%M"),
    (300, "%H:%M"),
    (900, "%H:%M"),
    (1800, "%H:%M"),
    (3600, "%H:%M"),
    (3 * 3600, "%d %b %H:%M"),
    (6 * 3600, "%d %b %H:%M"),
    (12 * 3600, "%d %b %H:%M"),
    (86400, "%d %b"),
    (2 * 86400, "%d %b"),
    (7 * 86400, "%d %b"),
    (14 * 86400, "%d %b"),
    (30 * 86400, "%b %Y"),
    (91 * 86400, "%b %Y"),
    (365 * 86400, "%Y"),
)
MIN_SPAN = 10.0  # seconds shown around a single moment
LABEL_ROWS = 4  # deployment labels are staggered over this many lines before they repeat


def time_ticks(low: float, high: float, most: int = 7) -> list[tuple[float, str]]:
    """Ticks of a UTC time axis from `low` to `high` (seconds): (position, label)."""
    span = max(high - low, 1.0)
    step, fmt = next(((s, f) for s, f in _STEPS if span / s <= most), (span / most, "%Y"))
    first = math.ceil(low / step) * step
    ticks = []
    at = first
    while at <= high:
        ticks.append((at, datetime.fromtimestamp(at, UTC).strftime(fmt)))
        at += step
    return ticks


def time_span(times: list[float]) -> tuple[float, float]:
    """The axis's ends for `times` (seconds): the data's span and 4% either side, at least a
    minute around a single moment: runs 46 seconds apart fill the axis, as do months."""
    if not times:
        return 0.0, MIN_SPAN
    t0, t1 = min(times), max(times)
    if t1 - t0 < MIN_SPAN:
        middle = (t0 + t1) / 2
        t0, t1 = middle - MIN_SPAN / 2, middle + MIN_SPAN / 2
    pad = (t1 - t0) * 0.04
    return t0 - pad, t1 + pad


def axis_title(t0: float, t1: float) -> str:
    """'time (UTC)', with the day when the ticks show only the time of day."""
    first, last = (datetime.fromtimestamp(x, UTC) for x in (t0, t1))
    if first.date() == last.date():
        return f"time (UTC) on {first:%d %b %Y}"
    return "time (UTC)"


def stagger(xs: list[float], widths: list[float], gap: float = 3.0) -> list[int]:
    """The line (0 = top) of each label starting at x, so that no two on a line overlap: a
    label takes the first line whose last label ends before it starts."""
    ends: list[float] = []
    lines = []
    for x, w in zip(xs, widths, strict=True):
        line = next((i for i, end in enumerate(ends) if x >= end + gap), len(ends))
        if line == len(ends):
            ends.append(x + w)
        else:
            ends[line] = x + w
        lines.append(line % LABEL_ROWS)
    return lines


def history_chart(series: dict[str, Any], font: str = "Helvetica") -> Drawing:
    """Draw the production metric over runs, holdout scores of models and deployments
    (`chart_data.history`)."""
    from pipeline.report import plot

    t0, t1 = series["x"]["min"], series["x"]["max"]
    y_ticks = series["y"]["ticks"]
    y0, y1 = series["y"]["min"], series["y"]["max"]
    width, height = 504.0, 209.0
    left = 14 + max(plot.width(plot.tick_text(v), font, 7) for v in y_ticks) + 8
    bottom, top = 34.0, height - 26
    plot_w, plot_h = width - left - 10, top - bottom
    d = plot.drawing(width, height)

    def x_of(t: float) -> float:
        return left + plot_w * (t - t0) / (t1 - t0)

    def y_of(v: float) -> float:  # a value past the axis (ticks.LIMIT) at its edge
        return bottom + plot_h * (min(max(v, y0), y1) - y0) / (y1 - y0)

    for v in y_ticks:
        d.add(plot.line(left, y_of(v), left + plot_w, y_of(v), GRID))
        d.add(plot.text(left - 4, y_of(v) - 2.4, plot.tick_text(v), font, 7, INK, "end"))
    for at, name in series["x"]["ticks"]:
        x, half = x_of(at), plot.width(name, font, 7) / 2
        anchor = "end" if x + half > width else "start" if x - half < 0 else "middle"
        d.add(plot.line(x, bottom, x, top, GRID))
        d.add(plot.text(x, bottom - 10, name, font, 7, INK, anchor))
    d.add(plot.rect(left, bottom, plot_w, plot_h, None, stroke=MUTED))
    _marks(d, font, series, x_of, y_of, (bottom, top))
    d.add(plot.text(8, bottom + plot_h / 2, series["metric"], font, 8, INK, "middle", angle=90))
    d.add(plot.text(left + plot_w / 2, 6, series["x"]["title"], font, 7.5, INK, "middle"))
    plot.legend(d, left + plot_w, height - 12, [tuple(e) for e in series["legend"]], font)
    return d


def _marks(
    d: Drawing,
    font: str,
    series: dict[str, Any],
    x_of: Callable[[float], float],
    y_of: Callable[[float], float],
    span: tuple[float, float],
) -> None:
    """The deployments' dashed lines, the production line and its points, the diamonds."""
    from reportlab.graphics.shapes import Circle, PolyLine
    from reportlab.lib.colors import HexColor

    from pipeline.report import plot

    bottom, top = span
    deployments = series["deployments"]
    xs = [x_of(dep["t"]) + 3 for dep in deployments]
    lines = stagger(xs, [plot.width(dep["label"], font, 7) for dep in deployments])
    for dep, line in zip(deployments, lines, strict=True):
        x = x_of(dep["t"])
        d.add(plot.line(x, bottom, x, top, MUTED, 0.8, (3, 2)))
        d.add(plot.text(x + 3, top - 9 - 9 * line, dep["label"], font, 7, MUTED))
    points = [(x_of(p["t"]), y_of(p["value"])) for p in series["production"]]
    if len(points) > 1:
        flat = [c for p in points for c in p]
        d.add(PolyLine(flat, strokeColor=HexColor(ACCENT), strokeWidth=1.2))
    for x, y in points:
        d.add(Circle(x, y, 2.2, fillColor=HexColor(ACCENT), strokeColor=None, strokeWidth=0))
    for p in series["holdout"]:
        x, y = x_of(p["t"]), y_of(p["value"])
        d.add(plot.diamond(x, y, 3.2, HOLDOUT))
        d.add(plot.text(x + 4, y + 4, f"v{p['version']}", font, 7))
