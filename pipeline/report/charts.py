"""Colours and charts shared by the reports: vector charts for the PDF, drawn with reportlab.

Each chart draws the series of `pipeline.report.chart_data` (the run page's Chart.js charts
draw the same ones) as a reportlab `Drawing` (a flowable, placed by `Doc.chart`) built from
rectangles, lines and strings, sized in points, its text in the report's own font. No
matplotlib and no raster image: drawing a chart costs milliseconds, and the PDF's text stays
text. reportlab is imported inside the functions that draw (through `pipeline.report.plot`):
importing this module stays cheap. The metric history over time is drawn by
`pipeline.report.timeline`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing

# Colours shared by tables and charts.
INK = "#1f2933"
ACCENT = "#2f5d8a"
MUTED = "#6b7785"
STRIPE = "#f1f4f7"
RULE = "#c8d0d8"
BAD = "#b3261e"
GOOD = "#2e7d32"
GRID = "#e3e7eb"
GREY_BAR = "#9aa5b1"
# One colour per criticality, in the PDF and in the HTML data-quality reports.
CRITICALITY_COLOURS = {"high": BAD, "medium": "#b85c00", "low": "#7d6608"}
# The sequential blues of a heat map, light to dark (ColorBrewer's Blues).
BLUES = ("#f7fbff", "#deebf7", "#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c",
         "#08306b")  # fmt: skip


def sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def blue(share: float) -> str:
    """The heat-map colour of a share in [0, 1], interpolated between the blues."""
    share = min(1.0, max(0.0, share)) * (len(BLUES) - 1)
    i = min(int(share), len(BLUES) - 2)
    a, b = BLUES[i], BLUES[i + 1]
    frac = share - i
    mixed = [
        round(int(a[k : k + 2], 16) * (1 - frac) + int(b[k : k + 2], 16) * frac) for k in (1, 3, 5)
    ]
    return "#" + "".join(f"{c:02x}" for c in mixed)


def confusion_chart(series: dict[str, Any], font: str = "Helvetica") -> Drawing:
    """Draw a confusion matrix heat map (`chart_data.confusion`), the counts in the cells."""
    from pipeline.report import plot

    counts, n, top = series["counts"], len(series["labels"]), series["top"]
    ticks = [short(str(label), 16) for label in series["labels"]]
    cell_side = max(18.0, min(60.0, 260.0 / n))
    left = 22 + max(plot.width(t, font, 7) for t in ticks) + 6
    bottom = 26.0 + 10
    side = cell_side * n
    d = plot.drawing(left + side + 64, bottom + side + 20)
    size = 9 if n <= 6 else 6
    for i, row in enumerate(counts):
        y = bottom + side - (i + 1) * cell_side
        for j, count in enumerate(row):
            x = left + j * cell_side
            d.add(plot.rect(x, y, cell_side, cell_side, series["colours"][i][j], stroke="#ffffff"))
            d.add(plot.text(x + cell_side / 2, y + cell_side / 2 - size / 3, f"{count:,}", font,
                            size, series["ink"][i][j], "middle"))  # fmt: skip
        d.add(plot.text(left - 4, y + cell_side / 2 - 2.5, ticks[i], font, 7, INK, "end"))
    for j, tick in enumerate(ticks):
        d.add(plot.text(left + (j + 0.5) * cell_side, bottom - 10, tick, font, 7, INK, "middle"))
    d.add(plot.text(left + side / 2, 6, "Predicted", font, 8, INK, "middle"))
    d.add(plot.text(8, bottom + side / 2, "Actual", font, 8, INK, "middle", angle=90))
    d.add(plot.text(left + side / 2, bottom + side + 8, series["title"], font, 8, INK, "middle"))
    _colour_bar(d, left + side + 12, bottom, side, top, font)
    return d


def _colour_bar(d: Drawing, x: float, y: float, height: float, top: int, font: str) -> None:
    from pipeline.report import plot

    steps = 32
    for k in range(steps):
        d.add(plot.rect(x, y + k * height / steps, 9, height / steps + 0.3, blue(k / (steps - 1))))
    d.add(plot.rect(x, y, 9, height, None, stroke=RULE))
    for value in plot.nice_ticks(0, top, 4):
        if 0 <= value <= top:
            at = y + height * value / top
            d.add(plot.line(x + 9, at, x + 12, at, MUTED))
            d.add(plot.text(x + 14, at - 2.3, plot.tick_text(value), font, 6.5, INK))


def bar_chart(series: dict[str, Any], font: str = "Helvetica") -> Drawing:
    """Horizontal bars, top to bottom (`chart_data.bars`): each its label, colour and the text
    written at its end, on the series' axis."""
    from pipeline.report import plot

    labels, values = series["labels"], series["values"]
    width, row = 504.0, 20.0
    left = max((plot.width(label, font, 8) for label in labels), default=0) + 10
    bottom = 28.0
    height = bottom + row * len(labels) + 6
    d = plot.drawing(width, height)
    span, plot_w = series["x"]["max"], width - left - 8
    for tick in series["x"]["ticks"]:
        x = left + plot_w * tick / span
        d.add(plot.line(x, bottom, x, bottom - 3, MUTED))
        d.add(plot.text(x, bottom - 11, plot.tick_text(tick), font, 7, INK, "middle"))
    d.add(plot.line(left, bottom, left + plot_w, bottom, MUTED))
    d.add(plot.line(left, bottom, left, height - 4, MUTED))
    for i, (label, value, colour, note) in enumerate(
        zip(labels, values, series["colours"], series["notes"], strict=True)
    ):
        y = height - 6 - (i + 1) * row
        w = plot_w * max(0.0, value) / span
        d.add(plot.rect(left, y + 3, w, row - 6, colour))
        d.add(plot.text(left - 5, y + row / 2 - 2.8, label, font, 8, INK, "end"))
        d.add(plot.text(left + w + 3, y + row / 2 - 2.5, note, font, 7, INK))
    d.add(plot.text(left + plot_w / 2, 3, series["title"], font, 8, INK, "middle"))
    return d


def distribution_chart(series: dict[str, Any], font: str = "Helvetica") -> Drawing:
    """Reference and new shares side by side (`chart_data.distribution`)."""
    from pipeline.report import plot

    labels = series["labels"]
    width, height = 245.0, 160.0
    drop = max((plot.width(label, font, 6) for label in labels), default=0) * 0.71
    left, bottom, top_pad = 34.0, 10 + drop, 24.0
    plot_w, plot_h = width - left - 6, height - bottom - top_pad
    d = plot.drawing(width, height)
    span = series["y"]["max"]
    for tick in series["y"]["ticks"]:
        y = bottom + plot_h * tick / span
        d.add(plot.line(left, y, left - 3, y, MUTED))
        d.add(plot.text(left - 5, y - 2, plot.tick_text(tick), font, 6, INK, "end"))
    d.add(plot.line(left, bottom, left + plot_w, bottom, MUTED))
    d.add(plot.line(left, bottom, left, bottom + plot_h, MUTED))
    slot = plot_w / max(1, len(labels))
    for i, label in enumerate(labels):
        x = left + i * slot
        for k, side in enumerate(series["series"]):
            h = plot_h * max(0.0, side["values"][i]) / span
            d.add(plot.rect(x + slot * (0.1 + 0.4 * k), bottom, slot * 0.4, h, side["colour"]))
        d.add(plot.text(x + slot / 2 + 2, bottom - 5, label, font, 6, INK, "end", angle=45))
    d.add(plot.text(9, bottom + plot_h / 2, series["axis"], font, 7, INK, "middle", angle=90))
    d.add(plot.text(left + plot_w / 2, height - 10, series["title"], font, 8, INK, "middle"))
    entries = [(side["label"], side["colour"]) for side in series["series"]]
    plot.legend(d, left + plot_w, height - 20, entries, font)
    return d
