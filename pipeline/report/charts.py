"""Colours and charts shared by the reports: vector charts for the PDF, drawn with reportlab.

Each chart is a reportlab `Drawing` (a flowable, placed by `Doc.chart`) built from rectangles,
lines and strings, sized in points, its text in the report's own font. No matplotlib and no
raster image: drawing a chart costs milliseconds, and the PDF's text stays text. reportlab is
imported inside the functions that draw (through `pipeline.report.plot`): importing this module
stays cheap. The metric history over time is drawn by `pipeline.report.timeline`.
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


def _sort_key(label: str) -> tuple[int, float, str]:
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


def confusion_chart(cells: list[dict[str, Any]], title: str, font: str = "Helvetica") -> Drawing:
    """Draw a confusion matrix heat map with the counts written in the cells."""
    from pipeline.report import plot

    labels = sorted({c["actual"] for c in cells} | {c["predicted"] for c in cells}, key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for cell in cells:
        counts[index[cell["actual"]]][index[cell["predicted"]]] += cell["count"]
    n = len(labels)
    ticks = [short(label, 16) for label in labels]
    cell_side = max(18.0, min(60.0, 260.0 / n))
    left = 22 + max(plot.width(t, font, 7) for t in ticks) + 6
    bottom = 26.0 + 10
    side = cell_side * n
    d = plot.drawing(left + side + 64, bottom + side + 20)
    top = max(max(row) for row in counts) or 1
    size = 9 if n <= 6 else 6
    for i, row in enumerate(counts):
        y = bottom + side - (i + 1) * cell_side
        for j, count in enumerate(row):
            x = left + j * cell_side
            d.add(plot.rect(x, y, cell_side, cell_side, blue(count / top), stroke="#ffffff"))
            colour = "#ffffff" if count > top / 2 else INK
            d.add(plot.text(x + cell_side / 2, y + cell_side / 2 - size / 3, f"{count:,}", font,
                            size, colour, "middle"))  # fmt: skip
        d.add(plot.text(left - 4, y + cell_side / 2 - 2.5, ticks[i], font, 7, INK, "end"))
    for j, tick in enumerate(ticks):
        d.add(plot.text(left + (j + 0.5) * cell_side, bottom - 10, tick, font, 7, INK, "middle"))
    d.add(plot.text(left + side / 2, 6, "Predicted", font, 8, INK, "middle"))
    d.add(plot.text(8, bottom + side / 2, "Actual", font, 8, INK, "middle", angle=90))
    d.add(plot.text(left + side / 2, bottom + side + 8, title, font, 8, INK, "middle"))
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


def bar_chart(
    bars: list[tuple[str, float, str, str]],
    axis_label: str,
    font: str = "Helvetica",
    whole: bool = False,
) -> Drawing:
    """Horizontal bars, top to bottom: (label, value, colour, text written at the bar's end);
    `whole`: the values are counts, ticked at whole numbers."""
    from pipeline.report import plot

    width, row = 504.0, 20.0
    left = max((plot.width(label, font, 8) for label, *_ in bars), default=0) + 10
    bottom = 28.0
    height = bottom + row * len(bars) + 6
    d = plot.drawing(width, height)
    top = max((value for _, value, _, _ in bars), default=0) or 1.0
    ticks = [t for t in plot.nice_ticks(0, top * 1.18, 5, whole) if t <= top * 1.18]
    span = max(ticks[-1], top * 1.18) if ticks else top * 1.18
    plot_w = width - left - 8
    for tick in ticks:
        x = left + plot_w * tick / span
        d.add(plot.line(x, bottom, x, bottom - 3, MUTED))
        d.add(plot.text(x, bottom - 11, plot.tick_text(tick), font, 7, INK, "middle"))
    d.add(plot.line(left, bottom, left + plot_w, bottom, MUTED))
    d.add(plot.line(left, bottom, left, height - 4, MUTED))
    for i, (label, value, colour, note) in enumerate(bars):
        y = height - 6 - (i + 1) * row
        w = plot_w * max(0.0, value) / span
        d.add(plot.rect(left, y + 3, w, row - 6, colour))
        d.add(plot.text(left - 5, y + row / 2 - 2.8, label, font, 8, INK, "end"))
        d.add(plot.text(left + w + 3, y + row / 2 - 2.5, note, font, 7, INK))
    d.add(plot.text(left + plot_w / 2, 3, axis_label, font, 8, INK, "middle"))
    return d


def steps_chart(steps: list[dict[str, Any]], font: str = "Helvetica") -> Drawing:
    """Draw one horizontal bar per step, in the order the steps ran."""
    colours = {"succeeded": ACCENT, "failed": BAD}
    bars = [
        (
            short(s["name"], 24),
            s["seconds"] or 0.0,
            colours.get(s["status"], GREY_BAR),
            f"{s['seconds'] or 0.0:.2f} s",
        )
        for s in steps
    ]
    return bar_chart(bars, "seconds", font)


def quality_chart(bars: list[tuple[str, int, str]], font: str = "Helvetica") -> Drawing:
    """Draw offending rows per error type: (label, rows, criticality), one bar each, in order."""
    return bar_chart(
        [
            (short(label, 28), count, CRITICALITY_COLOURS.get(level, MUTED), f"{count:,}")
            for label, count, level in bars
        ],
        "offending rows",
        font,
        whole=True,
    )


def distribution_chart(column: str, dist: dict[str, Any], font: str = "Helvetica") -> Drawing:
    """Reference and new shares side by side, on the profile's bins or categories."""
    from pipeline.report import plot

    labels = [short(str(x), 18) for x in dist["labels"]]
    reference, current = list(dist["reference"]), list(dist["current"])
    width, height = 245.0, 160.0
    drop = max((plot.width(label, font, 6) for label in labels), default=0) * 0.71
    left, bottom, top_pad = 34.0, 10 + drop, 24.0
    plot_w, plot_h = width - left - 6, height - bottom - top_pad
    d = plot.drawing(width, height)
    top = max([*reference, *current, 0.0]) or 1.0
    ticks = [t for t in plot.nice_ticks(0, top * 1.05, 4) if t <= top * 1.05]
    span = max(ticks[-1], top * 1.05) if ticks else top * 1.05
    for tick in ticks:
        y = bottom + plot_h * tick / span
        d.add(plot.line(left, y, left - 3, y, MUTED))
        d.add(plot.text(left - 5, y - 2, plot.tick_text(tick), font, 6, INK, "end"))
    d.add(plot.line(left, bottom, left + plot_w, bottom, MUTED))
    d.add(plot.line(left, bottom, left, bottom + plot_h, MUTED))
    slot = plot_w / max(1, len(labels))
    for i, label in enumerate(labels):
        x = left + i * slot
        for k, (values, colour) in enumerate(((reference, GREY_BAR), (current, ACCENT))):
            share = values[i] if i < len(values) else 0.0
            h = plot_h * max(0.0, share or 0.0) / span
            d.add(plot.rect(x + slot * (0.1 + 0.4 * k), bottom, slot * 0.4, h, colour))
        d.add(plot.text(x + slot / 2 + 2, bottom - 5, label, font, 6, INK, "end", angle=45))
    d.add(plot.text(9, bottom + plot_h / 2, "share", font, 7, INK, "middle", angle=90))
    d.add(plot.text(left + plot_w / 2, height - 10, short(column, 40), font, 8, INK, "middle"))
    plot.legend(d, left + plot_w, height - 20, [("reference", GREY_BAR), ("new", ACCENT)], font)
    return d
