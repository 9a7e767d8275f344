"""The per-run PDF report: read the run back from the database, lay it out, write it.

The report is built from what the database holds (`load`), never from the memory of the run, so
`riskwatch report RUN_ID` gives the same document as the run itself, with no path of the server
in it (`load.without_server_paths`: it is served as it is written). The sections are laid out by
`sections` (the run and its model) and `data_sections` (data quality and drift) with the styles
of `pdf_doc`. `build_report` writes the file atomically and records it in the `reports`
table, the one write of the report. reportlab is imported inside the functions that need it:
importing this module stays cheap.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import RiskwatchError
from pipeline.infra.failpoints import failpoint
from pipeline.infra.files import atomic_write
from pipeline.report import chart_data, estimates
from pipeline.report import data_sections as data_s
from pipeline.report import label_sections as label_s
from pipeline.report import sections as run_s
from pipeline.report.charts import MUTED, RULE
from pipeline.report.health_section import section_predictions
from pipeline.report.load import load_run, without_server_paths
from pipeline.report.pdf_doc import Doc
from pipeline.settings import Settings
from pipeline.storage import blobs, writes

if TYPE_CHECKING:
    from reportlab.pdfgen.canvas import Canvas
    from reportlab.platypus import BaseDocTemplate, Flowable


@dataclass(frozen=True)
class ReportResult:
    path: Path
    pages: int
    size_bytes: int


def report_path(settings: Settings, run_id: str) -> Path:
    """Return where the report of `run_id` is written."""
    return settings.path("paths.reports") / f"run-{run_id}.pdf"


def build_report(
    engine: sa.Engine, settings: Settings, run_id: str, *, status: str | None = None
) -> ReportResult:
    """Write the PDF report of one run atomically and record it in the reports table.

    `status` is the one to show for a run that writes its own report: it is recorded as
    `succeeded` only once the report is written (issue 11), so the database still says running
    (and so does its report step, left out: the report cannot time itself).
    """
    data = load_run(engine, run_id, settings["model.metric"])
    if status is not None:
        data["run"]["status"] = status
        if data["run"].get("summary"):
            data["run"]["summary"] = {**data["run"]["summary"], "status": status}
        data["steps"] = [s for s in data["steps"] if s["status"] != "running"]
    data = without_server_paths(data, settings.base_dir)  # a PDF is served as it is written
    data["links_base"] = settings["alerts.report_base_url"].rstrip("/")
    # Run ids are uuid4 hex; anything else must not become part of a file path.
    if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", run_id):
        raise RiskwatchError(f"run id {run_id!r} cannot name a report file")
    target = report_path(settings, run_id)
    pages = 0

    def write(tmp: Path) -> None:
        nonlocal pages
        with tmp.open("wb") as fh:
            failpoint("report_rendering")
            pages = render(data, fh)
            fh.flush()

    atomic_write(target, write)
    size = target.stat().st_size
    relative = target.relative_to(settings.path("paths.reports")).as_posix()
    blobs.publish_report(engine, settings, relative, target.read_bytes())
    writes.record_report(engine, run_id, relative, pages, size)
    return ReportResult(path=target, pages=pages, size_bytes=size)


def story(doc: Doc, data: dict[str, Any]) -> list[Flowable]:
    """Every section of the report, in reading order; its charts those of the run page
    (`chart_data.run_charts`, the one source of both)."""
    run = data["run"]
    charts = chart_data.run_charts(data)
    return [
        *run_s.section_run(doc, run, data["steps"]),
        *run_s.section_decisions(doc, data),
        *run_s.section_files(doc, data["ingested_files"]),
        *run_s.section_scores(doc, data["scores"]),
        *label_s.section_labels(doc, data),
        *run_s.section_confusion(doc, charts["confusion"]),
        *run_s.section_history(doc, data["metric"], charts["history"]),
        *estimates.section_estimates(doc, data, charts["estimates"]),
        *data_s.section_quality(doc, data, charts["quality"]),
        *data_s.section_drift(doc, data, charts["drift"]),
        *section_predictions(doc, run, charts["predictions"]),
        *run_s.section_steps(doc, data["steps"], charts["steps"]),
        *run_s.section_diagnostics(doc, data["diagnostics"]),
    ]


def render(data: dict[str, Any], fh: IO[bytes]) -> int:
    """Lay the report out into the open binary file `fh`; return the number of pages."""
    doc = Doc()
    run_id = data["run"]["id"]
    footer = _footer(doc, run_id)
    template = doc.SimpleDocTemplate(
        fh,
        pagesize=doc.pagesize,
        leftMargin=doc.margin,
        rightMargin=doc.margin,
        topMargin=doc.margin,
        bottomMargin=doc.margin + 4 * doc.mm,
        title=f"riskwatch run {run_id}",
        author="riskwatch",
        subject="Run report",
    )
    template.build(story(doc, data), onFirstPage=footer, onLaterPages=footer)
    return int(template.page)


def _footer(doc: Doc, run_id: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    """The line at the foot of every page: the run's id and the page number."""

    def footer(canvas: Canvas, template: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(doc.sans, 7.5)
        canvas.setFillColor(doc.colors.HexColor(MUTED))
        canvas.setStrokeColor(doc.colors.HexColor(RULE))
        canvas.setLineWidth(0.4)
        y = doc.margin * 0.6
        canvas.line(doc.margin, y + 9, doc.margin + doc.width, y + 9)
        canvas.drawString(doc.margin, y, f"riskwatch · run {run_id}")
        canvas.drawRightString(doc.margin + doc.width, y, f"page {template.page}")
        canvas.restoreState()

    return footer
