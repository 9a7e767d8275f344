"""The per-run PDF report: everything about one run, read back from the database.

The report is built from what the database holds, never from the memory of the run, so
`riskwatch report RUN_ID` gives the same document as the run itself. A section with nothing
recorded says "not computed in this run" instead of failing. reportlab and matplotlib are
imported inside the functions that need them: importing this module stays cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import sqlalchemy as sa

from pipeline.errors import NotFound, RiskwatchError
from pipeline.formatting import (
    fmt_duration,
    fmt_num,
    fmt_score,
    fmt_share,
    fmt_time,
    fmt_value,
)
from pipeline.infra.files import atomic_write
from pipeline.report.charts import (
    ACCENT,
    BAD,
    GOOD,
    INK,
    MUTED,
    RULE,
    STRIPE,
    confusion_chart,
    history_chart,
    quality_chart,
    short,
    steps_chart,
)
from pipeline.settings import Settings
from pipeline.storage import tables as t

NOT_COMPUTED = "not computed in this run"
# A table cell taller than a page cannot be laid out; nobody reads past this many characters.
MAX_CELL_CHARS = 1000
MAX_ERROR_CHARS = 4000  # the run's log holds the rest
CONFUSION_DATASETS = ("test", "holdout", "new")  # the first one recorded is drawn
_ROLE_ORDER = {"production": 0, "champion": 1, "challenger": 2}
_DATASET_ORDER = {"new": 0, "holdout": 1, "test": 2}
# Issues listed per file; a file with 10,000 extra columns has its full list in its HTML report.
MAX_QUALITY_ISSUES = 40
_CRITICALITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class ReportResult:
    path: Path
    pages: int
    size_bytes: int


def report_path(settings: Settings, run_id: str) -> Path:
    """Return where the report of `run_id` is written."""
    return settings.path("paths.reports") / f"run-{run_id}.pdf"


def build_report(engine: sa.Engine, settings: Settings, run_id: str) -> ReportResult:
    """Write the PDF report of one run atomically and record it in the reports table."""
    data = load_run(engine, run_id, settings["model.metric"])
    # Run ids are uuid4 hex; anything else must not become part of a file path.
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", run_id):
        raise RiskwatchError(f"run id {run_id!r} cannot name a report file")
    target = report_path(settings, run_id)
    pages = 0

    def write(tmp: Path) -> None:
        nonlocal pages
        with tmp.open("wb") as fh:
            pages = _render(data, fh)
            fh.flush()

    atomic_write(target, write)
    size = target.stat().st_size
    relative = target.relative_to(settings.path("paths.reports")).as_posix()
    with engine.begin() as conn:
        conn.execute(sa.delete(t.reports).where(t.reports.c.run_id == run_id))
        conn.execute(
            sa.insert(t.reports).values(
                run_id=run_id, created_at=t.utcnow(), path=relative, pages=pages, size_bytes=size
            )
        )
    return ReportResult(path=target, pages=pages, size_bytes=size)


# --------------------------------------------------------------------------- reading


def load_run(engine: sa.Engine, run_id: str, metric: str) -> dict[str, Any]:
    """Read every row the report shows; raise NotFound for an unknown run id."""
    with engine.connect() as conn:
        run = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
        if run is None:
            raise NotFound(f"run {run_id!r} does not exist")

        def of_run(table: sa.Table) -> list[dict[str, Any]]:
            query = sa.select(table).where(table.c.run_id == run_id).order_by(table.c.id)
            return [dict(row) for row in conn.execute(query).mappings()]

        data: dict[str, Any] = {"run": dict(run), "metric": metric}
        for table in (
            t.steps,
            t.ingested_files,
            t.deployments,
            t.scores,
            t.decisions,
            t.confusion_matrices,
            t.feature_stats,
            t.missing_values,
            t.diagnostics,
            t.quality_files,
            t.quality_issues,
            t.drift_summaries,
            t.drift_results,
        ):
            data[table.name] = of_run(table)
        data["history"] = _load_history(conn, run["finished_at"], metric)
    return data


def _load_history(conn: sa.Connection, until: datetime | None, metric: str) -> dict[str, list]:
    # A finished run's report shows the history as it stood then, so a rebuilt report of an
    # old run does not change; a run still in progress has nothing after it yet.
    s, m, d = t.scores.c, t.model_versions.c, t.deployments.c
    production = sa.select(s.created_at, s.value, s.model_version).where(
        s.role == "production", s.dataset == "new", s.metric == metric, s.value.is_not(None)
    )
    holdout = sa.select(m.created_at, m.holdout_score, m.version).where(
        m.metric == metric, m.holdout_score.is_not(None)
    )
    deploys = sa.select(d.deployed_at, d.to_version)
    if until is not None:
        production = production.where(s.created_at <= until)
        holdout = holdout.where(m.created_at <= until)
        deploys = deploys.where(d.deployed_at <= until)
    return {
        "production": [tuple(r) for r in conn.execute(production.order_by(s.created_at, s.id))],
        "holdout": [tuple(r) for r in conn.execute(holdout.order_by(m.created_at))],
        "deployments": [tuple(r) for r in conn.execute(deploys.order_by(d.deployed_at, d.id))],
    }


# --------------------------------------------------------------------------- formatting


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Flatten nested dicts into (dotted key, value) pairs, keeping their order."""
    if isinstance(value, dict) and value:
        pairs: list[tuple[str, Any]] = []
        for key, inner in value.items():
            pairs.extend(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
        return pairs
    return [(prefix or "value", value)]


def _label(key: str) -> str:
    return key.replace("_", " ")


# --------------------------------------------------------------------------- the document


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


class _Doc:
    """Builds the flowables of the report with one set of styles."""

    def __init__(self) -> None:
        from reportlab import platypus
        from reportlab.lib import colors
        from reportlab.lib.enums import TA_RIGHT
        from reportlab.lib.pagesizes import A4
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.lib.units import mm

        self.colors, self.pagesize, self.mm = colors, A4, mm
        self.Image, self.KeepTogether = platypus.Image, platypus.KeepTogether
        self.Paragraph, self.Spacer = platypus.Paragraph, platypus.Spacer
        self.Table, self.TableStyle = platypus.Table, platypus.TableStyle
        self.SimpleDocTemplate = platypus.SimpleDocTemplate
        self.margin = 16 * mm
        self.width = A4[0] - 2 * self.margin
        sans, bold, mono = _fonts()
        self.sans, self.bold, self.mono = sans, bold, mono
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
    def para(self, text: Any, style=None):
        lines = escape(str(text)).split("\n")
        # Keep the indentation of multi-line text such as a traceback.
        safe = "<br/>".join(
            "&#160;" * (len(line) - len(line.lstrip(" "))) + line.lstrip(" ") for line in lines
        )
        return self.Paragraph(safe, style or self.body)

    def heading(self, text: str):
        return self.Paragraph(escape(text), self.h1)

    def subheading(self, text: str):
        return self.Paragraph(escape(text), self.h2)

    def placeholder(self, what: str = ""):
        text = f"{what}: {NOT_COMPUTED}." if what else f"{NOT_COMPUTED.capitalize()}."
        return self.Paragraph(f"<i>{escape(text)}</i>", self.note)

    def table(
        self,
        header: list[str] | None,
        rows: list[list[Any]],
        widths: list[float],
        right: tuple[int, ...] = (),
        mono: tuple[int, ...] = (),
        bold: tuple[int, ...] = (),
    ):
        """A striped table; widths are fractions of the text width; every cell wraps."""

        def cell(value: Any, col: int):
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

    def key_values(self, pairs: list[tuple[str, Any]], key_width: float = 0.32):
        """A two-column table without a header; keys in bold."""
        rows = [[k, v] for k, v in pairs]
        table = self.table(None, rows, [key_width, 1 - key_width], bold=(0,))
        rule = self.colors.HexColor(RULE)
        table.setStyle(self.TableStyle([("LINEABOVE", (0, 0), (-1, 0), 0.3, rule)]))
        return table

    def image(self, png: BytesIO, max_width: float | None = None):
        from reportlab.lib.utils import ImageReader

        pixels_w, pixels_h = ImageReader(png).getSize()
        png.seek(0)
        width = pixels_w / 150 * 72  # charts are saved at 150 dpi
        height = pixels_h / 150 * 72
        scale = min(1.0, (max_width or self.width) / width)
        return self.Image(png, width=width * scale, height=height * scale, hAlign="LEFT")


def _render(data: dict[str, Any], fh) -> int:
    """Lay the report out into the open binary file `fh`; return the number of pages."""
    doc = _Doc()
    run = data["run"]
    story: list[Any] = []
    story += _section_run(doc, run)
    story += _section_decisions(doc, data)
    story += _section_files(doc, data["ingested_files"])
    story += _section_scores(doc, data["scores"])
    story += _section_confusion(doc, data["confusion_matrices"], run)
    story += _section_history(doc, data)
    story += _section_quality(doc, data)
    story += _section_drift(doc, data)
    story += _section_steps(doc, data["steps"])
    story += _section_diagnostics(doc, data["diagnostics"])

    def footer(canvas, template) -> None:
        canvas.saveState()
        canvas.setFont(doc.sans, 7.5)
        canvas.setFillColor(doc.colors.HexColor(MUTED))
        canvas.setStrokeColor(doc.colors.HexColor(RULE))
        canvas.setLineWidth(0.4)
        y = doc.margin * 0.6
        canvas.line(doc.margin, y + 9, doc.margin + doc.width, y + 9)
        canvas.drawString(doc.margin, y, f"riskwatch · run {run['id']}")
        canvas.drawRightString(doc.margin + doc.width, y, f"page {template.page}")
        canvas.restoreState()

    template = doc.SimpleDocTemplate(
        fh,
        pagesize=doc.pagesize,
        leftMargin=doc.margin,
        rightMargin=doc.margin,
        topMargin=doc.margin,
        bottomMargin=doc.margin + 4 * doc.mm,
        title=f"riskwatch run {run['id']}",
        author="riskwatch",
        subject="Run report",
    )
    template.build(story, onFirstPage=footer, onLaterPages=footer)
    return template.page


def _section_run(doc: _Doc, run: dict[str, Any]) -> list:
    started, finished = run["started_at"], run["finished_at"]
    duration = (finished - started).total_seconds() if started and finished else None
    version = run["production_version"]
    story = [
        doc.Paragraph(f"riskwatch run {escape(run['id'])}", doc.title),
        doc.para(
            f"Report generated {fmt_time(t.utcnow())} from the riskwatch database.", doc.subtitle
        ),
        doc.heading("1. The run"),
        doc.key_values(
            [
                ("Kind", run["kind"]),
                ("Status", run["status"]),
                ("Started", fmt_time(started)),
                ("Finished", fmt_time(finished)),
                ("Duration", fmt_duration(duration)),
                ("Production model", "none" if version is None else f"version {version}"),
                ("New files", fmt_num(run["new_files"])),
                ("Rows ingested", fmt_num(run["rows_ingested"])),
                ("Files quarantined", fmt_num(run["files_quarantined"])),
            ],
            key_width=0.25,
        ),
    ]
    if run["error"] or run["status"] == "failed":
        error = short(run["error"] or "no error text recorded", MAX_ERROR_CHARS)
        story.append(doc.para(f"Error: {error}", doc.error))
    return story


_OUTCOME = {
    ("retrain", True): "retrain the model",
    ("retrain", False): "keep the production model",
    ("promote", True): "promote the challenger",
    ("promote", False): "keep the champion",
}


def _section_decisions(doc: _Doc, data: dict[str, Any]) -> list:
    story = [doc.heading("2. What happened and why")]
    decisions = sorted(
        data["decisions"],
        key=lambda d: ({"retrain": 0, "promote": 1}.get(d["kind"], 2), d["decided_at"], d["id"]),
    )
    if not decisions:
        story.append(doc.placeholder("Decisions"))
    for decision in decisions:
        kind, outcome = decision["kind"], bool(decision["outcome"])
        verdict = _OUTCOME.get((kind, outcome), "yes" if outcome else "no")
        colour = GOOD if outcome else MUTED
        story.append(
            doc.Paragraph(
                f"{escape(kind.capitalize())} decision: "
                f'<font color="{colour}">{escape(verdict)}</font>',
                doc.h2,
            )
        )
        story.append(doc.para(f"Why: {decision['reason']}"))
        evidence = flatten(decision["evidence"]) if decision["evidence"] else []
        if evidence:
            pairs = [(_label(k), fmt_value(v)) for k, v in evidence]
            story.append(doc.key_values(pairs, key_width=0.32))
        story.append(doc.para(f"Decided {fmt_time(decision['decided_at'])}.", doc.note))
    story.append(doc.subheading("Deployments"))
    if not data["deployments"]:
        story.append(doc.placeholder("Deployments"))
    else:
        rows = [
            [
                "none" if d["from_version"] is None else f"v{d['from_version']}",
                f"v{d['to_version']}",
                d["kind"],
                fmt_time(d["deployed_at"]),
                d["reason"],
            ]
            for d in data["deployments"]
        ]
        story.append(
            doc.table(
                ["From", "To", "Kind", "When", "Reason"], rows, [0.08, 0.08, 0.12, 0.24, 0.48]
            )
        )
    return story


def _section_files(doc: _Doc, files: list[dict[str, Any]]) -> list:
    story = [doc.heading("3. Ingested files")]
    if not files:
        return [*story, doc.placeholder("Ingested files")]
    rows = [
        [
            f["name"],
            f["sha256"][:12],
            fmt_num(f["rows"]),
            fmt_num(f["rows_quarantined"]),
            f["status"],
            f["reason"] or ("" if f["status"] == "ingested" else "n/a"),
        ]
        for f in files
    ]
    header = ["File", "SHA-256", "Rows kept", "Bad rows", "Status", "Reason"]
    widths = [0.27, 0.14, 0.09, 0.08, 0.13, 0.29]
    return [*story, doc.table(header, rows, widths, right=(2, 3), mono=(1,))]


def _section_scores(doc: _Doc, scores: list[dict[str, Any]]) -> list:
    story = [doc.heading("4. Scores")]
    if not scores:
        return [*story, doc.placeholder("Scores")]
    ordered = sorted(
        scores,
        key=lambda s: (_DATASET_ORDER.get(s["dataset"], 9), _ROLE_ORDER.get(s["role"], 9), s["id"]),
    )
    rows = [
        [
            s["role"],
            f"v{s['model_version']}",
            s["dataset"],
            s["metric"],
            fmt_score(s["value"], s["ci_low"], s["ci_high"]),
            fmt_num(s["n_rows"]),
        ]
        for s in ordered
    ]
    header = ["Role", "Model", "Dataset", "Metric", "Value [interval]", "Rows"]
    story.append(doc.table(header, rows, [0.16, 0.1, 0.12, 0.14, 0.32, 0.16], right=(4, 5)))
    story.append(doc.para("The interval is the bootstrap confidence interval.", doc.note))
    return story


def _section_confusion(doc: _Doc, cells: list[dict[str, Any]], run: dict[str, Any]) -> list:
    heading = doc.heading("5. Confusion matrix")
    for dataset in CONFUSION_DATASETS:
        chosen = [c for c in cells if c["dataset"] == dataset]
        if not chosen:
            continue
        versions = sorted({c["model_version"] for c in chosen})
        version = run["production_version"]
        if version not in versions:
            version = versions[-1]
        chosen = [c for c in chosen if c["model_version"] == version]
        total = sum(c["count"] for c in chosen)
        title = f"model v{version} on the {dataset} data ({total:,} rows)"
        png = confusion_chart(chosen, title)
        return [doc.KeepTogether([heading, doc.image(png, max_width=doc.width * 0.62)])]
    return [heading, doc.placeholder("Confusion matrix")]


def _section_history(doc: _Doc, data: dict[str, Any]) -> list:
    heading = doc.heading(f"6. Metric history ({data['metric']})")
    history = data["history"]
    if not history["production"] and not history["holdout"]:
        return [heading, doc.placeholder("Metric history")]
    png = history_chart(history, data["metric"])
    note = doc.para(
        "Line: the production model on each run's new labelled rows. Diamonds: each model "
        "version's score on its holdout when it was registered. Dashed lines: deployments.",
        doc.note,
    )
    return [doc.KeepTogether([heading, doc.image(png), note])]


def _column_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(row["column_name"], i)
    return sorted(
        rows, key=lambda r: (first[r["column_name"]], _DATASET_ORDER.get(r["dataset"], 9))
    )


def verdict(rejected: bool, rows_invalid: int) -> str:
    """Say what the quality gate did with a file."""
    if rejected:
        return "whole file rejected"
    return "rows quarantined" if rows_invalid else "clean"


def _rank(criticality: str | None) -> int:
    return _CRITICALITY_ORDER.get(criticality or "", len(_CRITICALITY_ORDER))


def _issue_order(issue: dict[str, Any]) -> tuple:
    return (_rank(issue["criticality"]), issue["level"] != "file", -issue["count"], issue["id"])


def _section_gate(doc: _Doc, files: list[dict], issues: list[dict]) -> list:
    story = [doc.subheading("Files checked by the quality gate")]
    if not files:
        return [*story, doc.placeholder("Quality checks")]
    rows = [
        [
            f["file_name"],
            fmt_num(f["rows_read"]),
            fmt_num(f["rows_valid"]),
            fmt_num(f["rows_invalid"]),
            f["criticality"] or "none",
            verdict(f["rejected"], f["rows_invalid"]),
        ]
        for f in files
    ]
    header = ["File", "Rows read", "Valid", "Invalid", "Criticality", "Verdict"]
    widths = [0.36, 0.11, 0.11, 0.11, 0.12, 0.19]
    story.append(doc.table(header, rows, widths, right=(1, 2, 3)))
    rows_by_type: dict[str, int] = {}
    level_of: dict[str, str] = {}
    for issue in issues:
        if issue["level"] == "row":
            kind = issue["error_type"]
            rows_by_type[kind] = rows_by_type.get(kind, 0) + issue["count"]
            level_of[kind] = min(
                level_of.get(kind, issue["criticality"]), issue["criticality"], key=_rank
            )
    if rows_by_type:
        bars = [(k, n, level_of[k]) for k, n in rows_by_type.items()]
        bars.sort(key=lambda bar: (-bar[1], bar[0]))
        note = doc.para(
            "Offending rows by error type across the run's files, coloured by criticality "
            "(red high, orange medium, olive low). A row with two problems counts under both.",
            doc.note,
        )
        chart = doc.image(quality_chart(bars))
        story.append(doc.KeepTogether([doc.Spacer(1, 6), chart, note]))
    for f in files:
        mine = sorted((i for i in issues if i["quality_file_id"] == f["id"]), key=_issue_order)
        if not mine:
            continue
        story.append(doc.subheading(f"Issues in {short(f['file_name'], 200)}"))
        rows = [
            [
                i["error_type"],
                i["column_name"] or "(file)",
                i["criticality"],
                "file" if i["level"] == "file" else fmt_num(i["count"]),
                i["message"],
                _examples_cell(i),
            ]
            for i in mine[:MAX_QUALITY_ISSUES]
        ]
        header = ["Type", "Column", "Criticality", "Rows", "Message", "Examples, rows"]
        widths = [0.17, 0.2, 0.105, 0.07, 0.24, 0.215]
        story.append(doc.table(header, rows, widths, right=(3,)))
        more = len(mine) - MAX_QUALITY_ISSUES
        notes = [f"… and {more:,} more issues." if more > 0 else ""]
        if any(i["level"] == "row" for i in mine):
            notes.append("Rows are data rows counted from 1, the header not counted.")
        if f["report_path"]:
            notes.append(f"Every issue and row number: {f['report_path']} in the reports folder.")
        story.append(doc.para(" ".join(n for n in notes if n), doc.note))
    return story


def _examples_cell(issue: dict[str, Any]) -> str:
    text = ", ".join(str(e) for e in issue["examples"] or [])
    shown = (issue["rows_sample"] or [])[:8]
    if shown:
        more = " …" if issue["count"] > len(shown) else ""
        text += ("\n" if text else "") + "rows " + ", ".join(str(r) for r in shown) + more
    return text


def _section_quality(doc: _Doc, data: dict[str, Any]) -> list:
    stats, missing = data["feature_stats"], data["missing_values"]
    story = [doc.heading("7. Data quality")]
    story += _section_gate(doc, data["quality_files"], data["quality_issues"])
    story.append(doc.subheading("Feature statistics"))
    if not stats:
        story.append(doc.placeholder("Feature statistics"))
    else:
        rows = [
            [s["column_name"], s["dataset"], fmt_num(s["count"])]
            + [fmt_num(s[k]) for k in ("mean", "median", "std", "min", "max")]
            for s in _column_order(stats)
        ]
        header = ["Column", "Dataset", "Count", "Mean", "Median", "Std", "Min", "Max"]
        widths = [0.22, 0.1, 0.08, 0.12, 0.12, 0.12, 0.12, 0.12]
        story.append(doc.table(header, rows, widths, right=(2, 3, 4, 5, 6, 7)))
    story.append(doc.subheading("Missing values"))
    if not missing:
        story.append(doc.placeholder("Missing values"))
    else:
        rows = [
            [
                m["column_name"],
                m["dataset"],
                fmt_num(m["missing"]),
                fmt_num(m["rows"]),
                fmt_share(m["share"]),
            ]
            for m in _column_order(missing)
        ]
        header = ["Column", "Dataset", "Missing", "Rows", "Share"]
        story.append(doc.table(header, rows, [0.36, 0.14, 0.16, 0.18, 0.16], right=(2, 3, 4)))
    return story


DRIFT_PLOTS = 4  # distribution plots of the most drifted columns


def _section_drift(doc: _Doc, data: dict[str, Any]) -> list:
    """The run's drift against the production model's reference profile, from the database."""
    story = [doc.heading("7b. Data drift")]
    if not data["drift_summaries"]:
        return [*story, doc.placeholder("Drift")]
    summary = data["drift_summaries"][0]
    verdict = "drifted" if summary["dataset_drift"] else "did not drift"
    story.append(
        doc.para(
            f"Against model v{summary['model_version']}'s reference profile "
            f"({summary['reference_rows']:,} rows), the {summary['current_rows']:,} new rows "
            f"{verdict}: {fmt_share(summary['drifted_share'])} of the tested features drifted. A "
            "column drifts when its Benjamini-Hochberg adjusted p-value is below alpha and its "
            "effect size (Wasserstein / reference std, or Jensen-Shannon distance) is above the "
            f"minimum; thresholds: {escape(str(summary['thresholds']))}."
        )
    )
    header = ["Column", "Kind", "Test", "Statistic", "p adj.", "Effect", "PSI", "Status", "Drift"]
    rows = [
        [
            r["column_name"],
            r["kind"],
            r["test"] or "",
            fmt_num(r["statistic"]),
            fmt_value(r["p_adjusted"], 3),
            fmt_num(r["effect_size"]),
            fmt_num(r["psi"]),
            r["status"],
            "yes" if r["drifted"] else "",
        ]
        for r in data["drift_results"]
    ]
    story.append(
        doc.table(
            header, rows, [0.19, 0.13, 0.06, 0.1, 0.1, 0.09, 0.08, 0.16, 0.09], right=(3, 4, 5, 6)
        )
    )
    ranked = sorted(
        (r for r in data["drift_results"] if (r["details"] or {}).get("distribution")),
        key=lambda r: (not r["drifted"], -(r["effect_size"] or 0.0)),
    )[:DRIFT_PLOTS]
    if ranked:
        from pipeline.report.charts import distribution_chart

        images = [
            doc.image(
                distribution_chart(r["column_name"], r["details"]["distribution"]),
                max_width=doc.width * 0.48,
            )
            for r in ranked
        ]
        pairs = [images[i : i + 2] for i in range(0, len(images), 2)]
        story.append(doc.subheading("Reference vs new, most drifted columns"))
        story.append(doc.Table([p + [""] * (2 - len(p)) for p in pairs]))
    return story


def _section_steps(doc: _Doc, steps: list[dict[str, Any]]) -> list:
    heading = doc.heading("8. Step timings")
    if not steps:
        return [heading, doc.placeholder("Step timings")]
    rows = [
        [
            s["name"],
            s["status"],
            fmt_time(s["started_at"]),
            fmt_num(s["seconds"]),
            s["detail"] or "",
        ]
        for s in steps
    ]
    total = sum(s["seconds"] or 0.0 for s in steps)
    rows.append(["total", "", "", fmt_num(total), ""])
    header = ["Step", "Status", "Started", "Seconds", "Detail"]
    table = doc.table(header, rows, [0.16, 0.12, 0.25, 0.11, 0.36], right=(3,))
    return [heading, table, doc.Spacer(1, 6), doc.image(steps_chart(steps))]


def _section_diagnostics(doc: _Doc, diagnostics: list[dict[str, Any]]) -> list:
    story = [doc.heading("9. Diagnostics")]
    if not diagnostics:
        return [*story, doc.placeholder("Diagnostics")]
    for item in diagnostics:
        name, value = item["name"], item["value"]
        story.append(doc.subheading(_label(name).capitalize()))
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys: list[str] = []
            for entry in value:
                keys += [k for k in entry if k not in keys]
            rows = [[fmt_value(entry.get(k)) for k in keys] for entry in value]
            widths = [1 / len(keys)] * len(keys)
            story.append(doc.table([_label(k).capitalize() for k in keys], rows, widths))
        elif isinstance(value, dict) and value:
            pairs = [(k, fmt_value(v)) for k, v in flatten(value)]
            story.append(doc.key_values(pairs, key_width=0.4))
        elif isinstance(value, list) and value:
            story.append(doc.para(", ".join(fmt_value(v) for v in value)))
        elif isinstance(value, list):
            none = "none: every package is up to date." if name == "outdated_packages" else "none"
            story.append(doc.para(none))
        elif name == "outdated_packages" and value == "unknown":
            story.append(doc.para("unknown: pip could not be asked within the time limit."))
        else:
            story.append(doc.para(fmt_value(value)))
    return story
