"""The PDF's building blocks: fonts, one set of styles, and escaped paragraphs, tables, charts.

Every text that goes into the PDF passes through `Doc.para` (or a heading), which escapes it:
reportlab parses Paragraph text as markup, and file names and values are hostile input.
reportlab is imported inside the functions that need them. The fonts are DejaVu, from
matplotlib's package data, found without importing matplotlib, and registered once a process.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from pipeline.report.charts import ACCENT, BAD, INK, MUTED, RULE, STRIPE, short

if TYPE_CHECKING:
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, Table

NOT_COMPUTED = "not computed in this run"
CELL_PADDING = 4  # points left and right of a table cell's text
# A table cell taller than a page cannot be laid out; nobody reads past this many characters.
MAX_CELL_CHARS = 1000


def flatten(value: object, prefix: str = "") -> list[tuple[str, object]]:
    """Flatten nested dicts into (dotted key, value) pairs, keeping their order."""
    if isinstance(value, dict) and value:
        pairs: list[tuple[str, object]] = []
        for key, inner in value.items():
            pairs.extend(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    return [(prefix or "value", value)]


def label(key: str) -> str:
    """A dotted or snake_case key as words: 'train_rows' reads 'train rows'."""
    return key.replace("_", " ")


def _font_folder() -> Path | None:
    """matplotlib's folder of TrueType fonts, found without importing matplotlib (0.3 s)."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


def _fonts() -> tuple[str, str, str]:
    """Register DejaVu (shipped with matplotlib, covers 'Zürich ✓'); Helvetica otherwise."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "RW-Sans" in pdfmetrics.getRegisteredFontNames():
        return "RW-Sans", "RW-Sans-Bold", "RW-Mono"
    folder = _font_folder()
    if folder is None:
        return "Helvetica", "Helvetica-Bold", "Courier"
    files = {
        "RW-Sans": "DejaVuSans.ttf",
        "RW-Sans-Bold": "DejaVuSans-Bold.ttf",
        "RW-Sans-Oblique": "DejaVuSans-Oblique.ttf",
        "RW-Mono": "DejaVuSansMono.ttf",
    }
    if not all((folder / name).is_file() for name in files.values()):
        return "Helvetica", "Helvetica-Bold", "Courier"
    # Plain "RW-Sans" last: its presence above means the whole family is registered.
    for font in sorted(files, key=lambda name: name == "RW-Sans"):
        pdfmetrics.registerFont(TTFont(font, str(folder / files[font])))
    pdfmetrics.registerFontFamily(
        "RW-Sans",
        normal="RW-Sans",
        bold="RW-Sans-Bold",
        italic="RW-Sans-Oblique",
        boldItalic="RW-Sans-Bold",  # never used: not worth parsing a fifth font file
    )
    return "RW-Sans", "RW-Sans-Bold", "RW-Mono"


class Doc:
    """Builds the flowables of the report with one set of styles."""

    def __init__(self) -> None:
        from reportlab import platypus
        from reportlab.lib import colors
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.units import mm

        self.colors, self.pagesize, self.mm = colors, A4, mm
        self.KeepTogether = platypus.KeepTogether
        self.Paragraph, self.Spacer = platypus.Paragraph, platypus.Spacer
        self.Table, self.TableStyle = platypus.Table, platypus.TableStyle
        from reportlab.pdfbase.pdfmetrics import stringWidth

        self.stringWidth = stringWidth
        self.SimpleDocTemplate = platypus.SimpleDocTemplate
        self.margin = 16 * mm
        self.width = A4[0] - 2 * self.margin
        self.sans, self.bold, self.mono = _fonts()
        self._styles()

    def _styles(self) -> None:
        from reportlab.lib.enums import TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle

        colors, sans, bold, mono = self.colors, self.sans, self.bold, self.mono
        ink = colors.HexColor(INK)
        base = {"fontName": sans, "textColor": ink}
        self.title = ParagraphStyle("title", **base, fontSize=17, leading=21, spaceAfter=2)
        self.subtitle = ParagraphStyle(
            "subtitle", fontName=sans, fontSize=8.5, leading=11, textColor=colors.HexColor(MUTED)
        )
        self.h1 = ParagraphStyle(
            "h1",
            fontName=bold,
            fontSize=12.5,
            leading=16,
            spaceBefore=12,
            spaceAfter=5,
            keepWithNext=1,
            textColor=colors.HexColor(ACCENT),
        )
        self.h2 = ParagraphStyle(
            "h2",
            fontName=bold,
            fontSize=9.5,
            leading=12,
            spaceBefore=8,
            spaceAfter=3,
            keepWithNext=1,
        )
        self.body = ParagraphStyle("body", **base, fontSize=9, leading=12, spaceAfter=4)
        self.verdict = ParagraphStyle(
            "verdict", fontName=bold, fontSize=10.5, leading=14, spaceBefore=6, textColor=ink
        )
        self.note = ParagraphStyle(
            "note",
            fontName=sans,
            fontSize=8.5,
            leading=11,
            spaceBefore=3,
            textColor=colors.HexColor(MUTED),
        )
        self.cell = ParagraphStyle("cell", **base, fontSize=7.8, leading=9.6)
        self.cell_right = ParagraphStyle("cell_right", parent=self.cell, alignment=TA_RIGHT)
        self.cell_mono = ParagraphStyle("cell_mono", parent=self.cell, fontName=mono)
        self.cell_key = ParagraphStyle("cell_key", parent=self.cell, fontName=bold)
        self.head = ParagraphStyle(
            "head", fontName=bold, fontSize=7.8, leading=9.6, textColor=colors.white
        )
        self.head_right = ParagraphStyle("head_right", parent=self.head, alignment=TA_RIGHT)
        self.error = ParagraphStyle(
            "error",
            parent=self.body,
            textColor=colors.HexColor(BAD),
            backColor=colors.HexColor("#fdecea"),
            borderColor=colors.HexColor(BAD),
            borderWidth=0.6,
            borderPadding=5,
            spaceBefore=6,
            spaceAfter=10,
        )

    # Text is always escaped: reportlab parses Paragraph text as markup.
    def para(self, text: object, style: ParagraphStyle | None = None) -> Paragraph:
        lines = escape(str(text)).split("\n")
        # Keep the indentation of multi-line text such as a traceback.
        safe = "<br/>".join(
            "&#160;" * (len(line) - len(line.lstrip(" "))) + line.lstrip(" ") for line in lines
        )
        return self.Paragraph(safe, style or self.body)

    def heading(self, text: str) -> Paragraph:
        return self.Paragraph(escape(text), self.h1)

    def subheading(self, text: str) -> Paragraph:
        return self.Paragraph(escape(text), self.h2)

    def placeholder(self, what: str = "") -> Paragraph:
        text = f"{what}: {NOT_COMPUTED}." if what else f"{NOT_COMPUTED.capitalize()}."
        return self.Paragraph(f"<i>{escape(text)}</i>", self.note)

    def table(
        self,
        header: list[str] | None,
        rows: Sequence[Sequence[object]],
        widths: list[float],
        right: tuple[int, ...] = (),
        mono: tuple[int, ...] = (),
        bold: tuple[int, ...] = (),
    ) -> Table:
        """A striped table; widths are fractions of the text width; every cell wraps.

        A cell whose text fits on one line is a plain string in its column's font (the table's
        style says which); only the others are Paragraphs, which cost a parse and a line break
        each: a report's tables have hundreds of cells.
        """

        heads = [self.head_right if i in right else self.head for i in range(len(widths))]
        styles = [self._column_style(i, right, mono, bold) for i in range(len(widths))]
        widths = self._fit_widths(widths, header, rows, styles, heads)

        def cell(value: object, col: int, style: ParagraphStyle) -> str | Paragraph:
            if isinstance(value, self.Paragraph):
                return value  # a link, laid out by its maker
            text = short(str(value), MAX_CELL_CHARS)
            room = widths[col] * self.width - 2 * CELL_PADDING
            # One printable line (no line break, tab or control character) that fits as it is.
            if (
                text.isprintable()
                and self.stringWidth(text, style.fontName, style.fontSize) <= room
            ):
                return text
            return self.para(text, style)

        data: list[list[str | Paragraph]] = [
            [cell(v, i, styles[i]) for i, v in enumerate(row)] for row in rows
        ]
        if header is not None:
            data.insert(0, [cell(h, i, heads[i]) for i, h in enumerate(header)])
        first = 0 if header is None else 1
        # The header on every page; a row is never split across two (splitInRow=0).
        table = self.Table(
            data,
            colWidths=[w * self.width for w in widths],
            repeatRows=first,
            splitInRow=0,
            hAlign="LEFT",
        )
        c = self.colors
        style = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, c.HexColor(RULE)),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
            ("FONTSIZE", (0, 0), (-1, -1), self.cell.fontSize),
            ("LEADING", (0, 0), (-1, -1), self.cell.leading),
            ("TEXTCOLOR", (0, 0), (-1, -1), self.cell.textColor),
        ]
        for i, st in enumerate(styles):  # the fonts and alignment of the plain-string cells
            style.append(("FONTNAME", (i, first), (i, -1), st.fontName))
            if i in right:
                style.append(("ALIGN", (i, 0), (i, -1), "RIGHT"))
        if header is not None:
            style.append(("BACKGROUND", (0, 0), (-1, 0), c.HexColor(ACCENT)))
            style.append(("FONTNAME", (0, 0), (-1, 0), self.head.fontName))
            style.append(("TEXTCOLOR", (0, 0), (-1, 0), self.head.textColor))
        style += [
            ("BACKGROUND", (0, i), (-1, i), c.HexColor(STRIPE))
            for i in range(first + 1, len(data), 2)
        ]
        table.setStyle(self.TableStyle(style))
        return table

    def _fit_widths(
        self,
        widths: list[float],
        header: list[str] | None,
        rows: Sequence[Sequence[object]],
        styles: list[ParagraphStyle],
        heads: list[ParagraphStyle],
    ) -> list[float]:
        """`widths` moved between columns so that each column's longest word fits on a line:
        a cell wraps between words, never inside one. A column gives only what it has beyond
        its own longest word; when the table cannot fit them all, the widths stay as asked."""
        needed = [0.0] * len(widths)
        for table_rows, col_styles in (([header] if header else [], heads), (rows, styles)):
            for row in table_rows:
                for i, value in enumerate(row):
                    if isinstance(value, self.Paragraph):
                        continue
                    st = col_styles[i]
                    words = short(str(value), MAX_CELL_CHARS).split()
                    widest = max(
                        (self.stringWidth(w, st.fontName, st.fontSize) for w in words), default=0.0
                    )
                    needed[i] = max(needed[i], (widest + 2 * CELL_PADDING + 1) / self.width)
        short_by = sum(max(0.0, n - w) for n, w in zip(needed, widths, strict=True))
        spare = [max(0.0, w - n) for n, w in zip(needed, widths, strict=True)]
        if short_by <= 0 or short_by > sum(spare):
            return widths
        take = short_by / sum(spare)
        return [max(n, w - s * take) for n, w, s in zip(needed, widths, spare, strict=True)]

    def link(self, text: str, url: str) -> Paragraph:
        """A cell or line that opens `url` (escaped, as every text is)."""
        colour = ACCENT
        return self.Paragraph(
            f'<a href="{escape(url, {chr(34): "&quot;"})}" color="{colour}">{escape(text)}</a>',
            self.cell,
        )

    def _column_style(
        self, col: int, right: tuple[int, ...], mono: tuple[int, ...], bold: tuple[int, ...]
    ) -> ParagraphStyle:
        if col in right:
            return self.cell_right
        if col in mono:
            return self.cell_mono
        return self.cell_key if col in bold else self.cell

    def key_values(
        self,
        pairs: Sequence[tuple[str, object]],
        key_width: float = 0.32,
        header: tuple[str, str] | None = None,
    ) -> Table:
        """A two-column table, keys in bold; with `header`, it repeats on every page (a long
        list, such as a decision's evidence, may run onto the next)."""
        rows = [[k, v] for k, v in pairs]
        heads = list(header) if header else None
        table = self.table(heads, rows, [key_width, 1 - key_width], bold=(0,))
        if header:
            return table
        rule = self.colors.HexColor(RULE)
        table.setStyle(self.TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.3, rule)]))
        return table

    def chart(self, drawing: Drawing, max_width: float | None = None) -> Drawing:
        """A chart of `pipeline.report.charts`, shrunk to fit `max_width` (the text width)."""
        scale = min(1.0, (max_width or self.width) / drawing.width)
        if scale < 1.0:
            drawing.scale(scale, scale)
            drawing.width, drawing.height = drawing.width * scale, drawing.height * scale
        return drawing
