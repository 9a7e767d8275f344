"""The PDF's building blocks: fonts, one set of styles, and escaped paragraphs, tables, images.

Every text that goes into the PDF passes through `Doc.para` (or a heading), which escapes it:
reportlab parses Paragraph text as markup, and file names and values are hostile input.
reportlab and matplotlib are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

from pipeline.report.charts import ACCENT, BAD, INK, MUTED, RULE, STRIPE, short

if TYPE_CHECKING:
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Flowable, Paragraph, Table

NOT_COMPUTED = "not computed in this run"
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


def _fonts() -> tuple[str, str, str]:
    """Register DejaVu (shipped with matplotlib, covers 'Zürich ✓'); Helvetica otherwise."""
    import matplotlib
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "RW-Sans" in pdfmetrics.getRegisteredFontNames():
        return "RW-Sans", "RW-Sans-Bold", "RW-Mono"
    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    files = {
        "RW-Sans": "DejaVuSans.ttf",
        "RW-Sans-Bold": "DejaVuSans-Bold.ttf",
        "RW-Sans-Oblique": "DejaVuSans-Oblique.ttf",
        "RW-Sans-BoldOblique": "DejaVuSans-BoldOblique.ttf",
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
        boldItalic="RW-Sans-BoldOblique",
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
        self.Image, self.KeepTogether = platypus.Image, platypus.KeepTogether
        self.Paragraph, self.Spacer = platypus.Paragraph, platypus.Spacer
        self.Table, self.TableStyle = platypus.Table, platypus.TableStyle
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
        """A striped table; widths are fractions of the text width; every cell wraps."""

        def cell(value: object, col: int) -> Paragraph:
            text = short(str(value), MAX_CELL_CHARS)
            if col in right:
                style = self.cell_right
            elif col in mono:
                style = self.cell_mono
            else:
                style = self.cell_key if col in bold else self.cell
            return self.para(text, style)

        data = [[cell(v, i) for i, v in enumerate(row)] for row in rows]
        if header is not None:
            styles = [self.head_right if i in right else self.head for i in range(len(header))]
            data.insert(0, [self.para(h, st) for h, st in zip(header, styles, strict=True)])
        first = 0 if header is None else 1
        table = self.Table(
            data, colWidths=[w * self.width for w in widths], repeatRows=first, hAlign="LEFT"
        )
        c = self.colors
        style = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.3, c.HexColor(RULE)),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
        if header is not None:
            style.append(("BACKGROUND", (0, 0), (-1, 0), c.HexColor(ACCENT)))
        style += [
            ("BACKGROUND", (0, i), (-1, i), c.HexColor(STRIPE))
            for i in range(first + 1, len(data), 2)
        ]
        table.setStyle(self.TableStyle(style))
        return table

    def key_values(self, pairs: Sequence[tuple[str, object]], key_width: float = 0.32) -> Table:
        """A two-column table without a header; keys in bold."""
        rows = [[k, v] for k, v in pairs]
        table = self.table(None, rows, [key_width, 1 - key_width], bold=(0,))
        rule = self.colors.HexColor(RULE)
        table.setStyle(self.TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.3, rule)]))
        return table

    def image(self, png: BytesIO, max_width: float | None = None) -> Flowable:
        from reportlab.lib.utils import ImageReader

        pixels_w, pixels_h = ImageReader(png).getSize()
        png.seek(0)
        width = pixels_w / 150 * 72  # charts are saved at 150 dpi
        height = pixels_h / 150 * 72
        scale = min(1.0, (max_width or self.width) / width)
        return self.Image(png, width=width * scale, height=height * scale, hAlign="LEFT")
