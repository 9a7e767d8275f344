"""The PDF sections about the data: the quality gate's files and issues, feature statistics,
missing values, and drift against the production model's reference profile.

Each section takes the rows `load.load_run` read and returns flowables; a section with nothing
recorded says so instead of failing. The gate's words (criticality order, verdicts) come from
`pipeline.vocabulary`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.formatting import fmt_drift, fmt_num, fmt_share, fmt_value
from pipeline.report.chart_data import Series
from pipeline.report.charts import bar_chart, distribution_chart, short
from pipeline.report.pdf_doc import Doc
from pipeline.report.sections import DATASET_ORDER
from pipeline.report.wording import column_label, thresholds_text
from pipeline.storage import reads
from pipeline.vocabulary import VERDICT_WORDS, criticality_rank, file_verdict

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

# Issues listed per file; a file with 10,000 extra columns has its full list in its HTML report.
MAX_QUALITY_ISSUES = 40


def section_quality(doc: Doc, data: dict[str, Any], chart: Series | None) -> list[Flowable]:
    """7. Data quality: the gate's files and issues (their `chart_data.quality` chart),
    feature statistics, missing values."""
    stats, missing = data["feature_stats"], data["missing_values"]
    story = [doc.heading("7. Data quality")]
    files, issues = data["quality_files"], data["quality_issues"]
    story += _gate(doc, files, issues, chart, data.get("links_base", ""))
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


def _column_order(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Columns in the order they first appear, each one's datasets new, holdout, test."""
    first: dict[str, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(row["column_name"], i)
    return sorted(rows, key=lambda r: (first[r["column_name"]], DATASET_ORDER.get(r["dataset"], 9)))


def _gate(
    doc: Doc,
    files: list[dict[str, Any]],
    issues: list[dict[str, Any]],
    chart: Series | None,
    base: str,
) -> list[Flowable]:
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
            VERDICT_WORDS[file_verdict(f["rejected"], f["rows_invalid"])],
            _report_link(doc, f, base),
        ]
        for f in files
    ]
    header = ["File", "Rows read", "Valid", "Invalid", "Criticality", "Verdict", "Report"]
    widths = [0.28, 0.09, 0.08, 0.08, 0.11, 0.14, 0.22]
    story.append(doc.table(header, rows, widths, right=(1, 2, 3)))
    story += _gate_chart(doc, chart)
    for f in files:
        mine = sorted((i for i in issues if i["quality_file_id"] == f["id"]), key=_issue_order)
        if mine:
            story += _file_issues(doc, f, mine)
    return story


def quality_url(base: str, file_id: int) -> str:
    """Where the app serves a checked file's HTML quality report: under `base` (the setting
    alerts.report_base_url) when set, else the app's own path."""
    return f"{base}/quality/{file_id}.html"


def _report_link(doc: Doc, f: dict[str, Any], base: str) -> object:
    if not f["report_path"]:
        return "none"
    return doc.link(f"/quality/{f['id']}.html", quality_url(base, f["id"]))


def _gate_chart(doc: Doc, series: Series | None) -> list[Flowable]:
    """Offending rows by error type across the run's files, each bar its worst criticality."""
    if series is None:
        return []
    note = doc.para(
        "Offending rows by error type across the run's files, coloured by criticality "
        "(red high, orange medium, olive low). A row with two problems counts under both.",
        doc.note,
    )
    chart = doc.chart(bar_chart(series, doc.sans))
    return [doc.KeepTogether([doc.Spacer(1, 6), chart, note])]


def _issue_order(issue: dict[str, Any]) -> tuple[int, bool, int, int]:
    """Worst first, file-level before row-level, then the most rows."""
    rank = -criticality_rank(issue["criticality"])
    return (rank, issue["level"] != "file", -issue["count"], issue["id"])


def _file_issues(doc: Doc, f: dict[str, Any], mine: list[dict[str, Any]]) -> list[Flowable]:
    story = [doc.subheading(f"Issues in {short(f['file_name'], 200)}")]
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


def section_drift(doc: Doc, data: dict[str, Any], plots: list[Series]) -> list[Flowable]:
    """7b. The run's drift against the production model's reference profile, and the
    distributions of its most drifted columns (`chart_data.drifted`)."""
    story = [doc.heading("7b. Data drift")]
    if not data["drift_summaries"]:
        return [*story, doc.placeholder("Drift")]
    summary = data["drift_summaries"][0]
    thresholds = {k: v for k, v in summary["thresholds"].items() if k != reads.DATASET_KEY}
    story.append(
        doc.para(
            f"Against model v{summary['model_version']}'s reference profile "
            f"({summary['reference_rows']:,} rows), the {summary['current_rows']:,} new rows: "
            f"{fmt_drift(reads.drift_of(summary))}. A "
            "column drifts when its Benjamini-Hochberg adjusted p-value is below alpha and its "
            "effect size (Wasserstein / reference std, or Jensen-Shannon distance) is above the "
            f"minimum. Thresholds: {thresholds_text(thresholds)}."
        )
    )
    header = ["Column", "Kind", "Test", "Statistic", "p adj.", "Effect", "PSI", "Status", "Drift"]
    rows = [
        [
            column_label(r["column_name"]),
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
    widths = [0.19, 0.13, 0.06, 0.1, 0.1, 0.09, 0.08, 0.16, 0.09]
    story.append(doc.table(header, rows, widths, right=(3, 4, 5, 6)))
    return story + _drift_plots(doc, plots)


def _drift_plots(doc: Doc, plots: list[Series]) -> list[Flowable]:
    """Reference and new distributions of the most drifted columns, two per row."""
    images = [
        doc.chart(distribution_chart(series, doc.sans), max_width=doc.width * 0.48)
        for series in plots
    ]
    if not images:
        return []
    pairs = [images[i : i + 2] for i in range(0, len(images), 2)]
    return [
        doc.subheading("Reference vs new, most drifted columns"),
        doc.Table([p + [""] * (2 - len(p)) for p in pairs]),
    ]
