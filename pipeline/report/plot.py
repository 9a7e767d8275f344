"""The few drawing parts the report's charts are made of: reportlab shapes, in points.

Shapes (rectangles, lines, strings that may be rotated, diamonds), text widths in a font, and
axis ticks at round numbers. reportlab is imported here, so only code that draws imports this.
"""

from __future__ import annotations

from reportlab.graphics.shapes import Drawing, Group, Line, Polygon, Rect, String
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

from pipeline.report.ticks import nice_ticks, tick_text

__all__ = [
    "diamond",
    "drawing",
    "legend",
    "line",
    "nice_ticks",
    "rect",
    "text",
    "tick_text",
    "width",
]


def drawing(width: float, height: float) -> Drawing:
    d = Drawing(width, height)
    d.hAlign = "LEFT"
    return d


def rect(
    x: float, y: float, w: float, h: float, fill: str | None, stroke: str | None = None
) -> Rect:
    return Rect(
        x,
        y,
        w,
        h,
        fillColor=None if fill is None else HexColor(fill),
        strokeColor=None if stroke is None else HexColor(stroke),
        strokeWidth=0.4 if stroke else 0,
    )


def line(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    colour: str,
    width: float = 0.6,
    dash: tuple[float, float] | None = None,
) -> Line:
    return Line(x1, y1, x2, y2, strokeColor=HexColor(colour), strokeWidth=width,
                strokeDashArray=list(dash) if dash else None)  # fmt: skip


def text(
    x: float,
    y: float,
    value: str,
    font: str,
    size: float,
    colour: str = "#1f2933",
    anchor: str = "start",
    angle: float = 0,
) -> String | Group:
    """A string at (x, y), its baseline there; `anchor` start, middle or end; turned `angle`."""
    s = String(0 if angle else x, 0 if angle else y, value, fontName=font, fontSize=size,
               fillColor=HexColor(colour), textAnchor=anchor)  # fmt: skip
    if not angle:
        return s
    group = Group(s)
    group.translate(x, y)
    group.rotate(angle)
    return group


def width(value: str, font: str, size: float) -> float:
    """The width of `value` in points, in `font` at `size`."""
    return float(stringWidth(value, font, size))


def diamond(x: float, y: float, r: float, fill: str) -> Polygon:
    return Polygon([x - r, y, x, y + r, x + r, y, x, y - r], fillColor=HexColor(fill),
                   strokeColor=None, strokeWidth=0)  # fmt: skip


def legend(
    d: Drawing, right: float, y: float, entries: list[tuple[str, str]], font: str, size: float = 6.5
) -> None:
    """Colour swatches and their names in one row, ending at `right`, baseline `y`."""
    widths = [8 + 3 + width(name, font, size) for name, _ in entries]
    x = right - sum(widths) - 8 * (len(entries) - 1)
    for (name, colour), w in zip(entries, widths, strict=True):
        d.add(rect(x, y, 8, 6, colour))
        d.add(text(x + 11, y + 0.5, name, font, size))
        x += w + 8
