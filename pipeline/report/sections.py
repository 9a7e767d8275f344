"""The PDF sections about the run and its model: the run, decisions and deployments, files,
scores, the confusion matrix, the metric history, step timings and diagnostics.

Each section takes the rows `load.load_run` read and returns flowables; a section with nothing
recorded says so instead of failing. Charts are drawn by `pipeline.report.charts`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from pipeline.formatting import fmt_duration, fmt_num, fmt_score, fmt_time, plain_names
from pipeline.report.chart_data import Series
from pipeline.report.charts import GOOD, MUTED, bar_chart, confusion_chart, short
from pipeline.report.pdf_doc import Doc, label
from pipeline.report.timeline import history_chart
from pipeline.report.verdict import verdict
from pipeline.report.wording import evidence_rows, key_label, readable
from pipeline.storage import tables as t

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

MAX_ERROR_CHARS = 4000  # the run's log holds the rest
ROLE_ORDER = {"production": 0, "champion": 1, "challenger": 2}
DATASET_ORDER = {"new": 0, "training": 1, "holdout": 2, "test": 3}


def section_run(doc: Doc, run: dict[str, Any], steps: list[dict[str, Any]]) -> list[Flowable]:
    """The title, the verdict and 1. The run: what kind, when, how long, its error if it
    failed. The duration is the span of the step timings (section 8) when there are steps."""
    started, finished = run["started_at"], run["finished_at"]
    duration = steps_span(steps)
    if duration is None and started and finished:
        duration = (finished - started).total_seconds()
    version = run["production_version"]
    story = [
        doc.Paragraph(f"riskwatch run {escape(run['id'])}", doc.title),
        doc.para(
            f"Report generated {fmt_time(t.utcnow())} from the riskwatch database.", doc.subtitle
        ),
        doc.para(verdict(run.get("summary"), run.get("kind") or "run"), doc.verdict),
        doc.heading("1. The run"),
        doc.key_values(
            [
                ("Kind", run["kind"]),
                ("Status", run["status"]),
                ("Started", fmt_time(started)),
                ("Finished", fmt_time(finished)),
                ("Duration", fmt_duration(duration)),
                ("Production model", _production_model(version, run.get("production_model"))),
                ("New files", fmt_num(run["new_files"])),
                ("Rows ingested", fmt_num(run["rows_ingested"])),
                ("Files quarantined", fmt_num(run["files_quarantined"])),
                ("Rows quarantined", fmt_num(run["rows_quarantined"])),
            ],
            key_width=0.25,
        ),
    ]
    if run["error"] or run["status"] == "failed":
        error = short(run["error"] or "no error text recorded", MAX_ERROR_CHARS)
        story.append(doc.para(f"Error: {error}", doc.error))
    return story


def steps_span(steps: list[dict[str, Any]]) -> float | None:
    """Seconds from the first step's start to the last step's end; None without steps."""
    if not steps:
        return None
    start = min(st["started_at"] for st in steps)
    ends = [
        st["finished_at"]
        if st.get("finished_at")
        else st["started_at"] + timedelta(seconds=st["seconds"] or 0.0)
        for st in steps
    ]
    return max(0.0, (max(ends) - start).total_seconds())


def _production_model(version: int | None, built: str | None) -> str:
    """'version 3 (sklearn...LogisticRegression, preprocessing none)', or 'none'."""
    if version is None:
        return "none"
    return f"version {version}" + (f" ({built})" if built else "")


_OUTCOME = {
    ("retrain", True): "retrain the model",
    ("retrain", False): "keep the production model",
    ("promote", True): "promote the challenger",
    ("promote", False): "keep the champion",
}


def section_decisions(doc: Doc, data: dict[str, Any]) -> list[Flowable]:
    """2. What happened and why: each decision with its reason and evidence."""
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
        story.append(doc.para(f"Why: {plain_names(str(decision['reason']))}"))
        evidence = evidence_rows(decision["evidence"])
        if evidence:
            story.append(doc.key_values(evidence, key_width=0.36, header=("Evidence", "Value")))
        story.append(doc.para(f"Decided {fmt_time(decision['decided_at'])}.", doc.note))
    return story + _deployments(doc, data["deployments"])


def _deployments(doc: Doc, deployments: list[dict[str, Any]]) -> list[Flowable]:
    story = [doc.subheading("Deployments")]
    if not deployments:
        return [*story, doc.placeholder("Deployments")]
    rows = [
        [
            "none" if d["from_version"] is None else f"v{d['from_version']}",
            f"v{d['to_version']}",
            d["kind"],
            fmt_time(d["deployed_at"]),
            plain_names(str(d["reason"] or "")),
        ]
        for d in deployments
    ]
    header = ["From", "To", "Kind", "When", "Reason"]
    return [*story, doc.table(header, rows, [0.08, 0.08, 0.12, 0.24, 0.48])]


def section_files(doc: Doc, files: list[dict[str, Any]]) -> list[Flowable]:
    """3. Ingested files: what the run took from the inbox and what became of each."""
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


def section_scores(doc: Doc, scores: list[dict[str, Any]]) -> list[Flowable]:
    """4. Scores: each model on each dataset, with its confidence interval."""
    story = [doc.heading("4. Scores")]
    if not scores:
        return [*story, doc.placeholder("Scores")]
    ordered = sorted(
        scores,
        key=lambda s: (DATASET_ORDER.get(s["dataset"], 9), ROLE_ORDER.get(s["role"], 9), s["id"]),
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
    return story + _on_test_file(doc, scores)


def _on_test_file(doc: Doc, scores: list[dict[str, Any]]) -> list[Flowable]:
    """Champion and challenger side by side on the test file, when the run had both."""
    on_test = {s["role"]: s for s in scores if s["dataset"] == "test"}
    champion, challenger = on_test.get("champion"), on_test.get("challenger")
    if champion is None or challenger is None:
        return []
    rows = [
        [
            role,
            f"v{s['model_version']}",
            fmt_score(s["value"], s["ci_low"], s["ci_high"]),
            fmt_num(s["n_rows"]),
        ]
        for role, s in (("champion", champion), ("challenger", challenger))
    ]
    gain = None
    if challenger["value"] is not None and champion["value"] is not None:
        gain = challenger["value"] - champion["value"]
    return [
        doc.subheading(f"Champion vs challenger on the test file ({challenger['metric']})"),
        doc.table(
            ["Role", "Model", "Value [interval]", "Rows"],
            rows,
            [0.2, 0.12, 0.4, 0.28],
            right=(2, 3),
        ),
        doc.para(
            f"Challenger minus champion: {fmt_num(gain, 4)}, on the same {champion['n_rows']:,} "
            "labelled rows of the test file (not used to train either).",
            doc.note,
        ),
    ]


def section_confusion(doc: Doc, series: Series | None) -> list[Flowable]:
    """5. The confusion matrix: the production (else newest) model on the first dataset found
    (`chart_data.confusion_choice`)."""
    heading = doc.heading("5. Confusion matrix")
    if series is None:
        return [heading, doc.placeholder("Confusion matrix")]
    chart = doc.chart(confusion_chart(series, doc.sans), max_width=doc.width * 0.62)
    return [doc.KeepTogether([heading, chart])]


def section_history(doc: Doc, metric: str, series: Series | None) -> list[Flowable]:
    """6. The metric history (`chart_data.history`): production scores, holdout scores and
    deployments."""
    heading = doc.heading(f"6. Metric history ({metric})")
    if series is None:
        return [heading, doc.placeholder("Metric history")]
    chart = doc.chart(history_chart(series, doc.sans))
    note = doc.para(
        "Line: the production model on each run's new labelled rows. Diamonds: each model "
        "version's recorded score when it was registered (on its holdout, on the test file "
        "without a holdout, or cross-validated; see the promote decision). Dashed lines: "
        "deployments.",
        doc.note,
    )
    return [doc.KeepTogether([heading, chart, note])]


def section_steps(doc: Doc, steps: list[dict[str, Any]], series: Series | None) -> list[Flowable]:
    """8. Step timings: a table and a chart (`chart_data.steps`) of the run's steps."""
    heading = doc.heading("8. Step timings")
    if not steps or series is None:
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
    span = steps_span(steps)
    rows.append(["whole run", "", "", fmt_num(span), ""])
    note = doc.para(
        "Whole run: from the first step's start to the last one's end, the duration of "
        f"section 1. The steps' own times add up to {fmt_num(total)} s; the rest is spent "
        "between them.",
        doc.note,
    )
    header = ["Step", "Status", "Started", "Seconds", "Detail"]
    table = doc.table(header, rows, [0.16, 0.12, 0.25, 0.11, 0.36], right=(3,))
    chart = doc.chart(bar_chart(series, doc.sans))
    return [heading, table, note, doc.Spacer(1, 6), chart]


def section_diagnostics(doc: Doc, diagnostics: list[dict[str, Any]]) -> list[Flowable]:
    """9. Diagnostics: each named diagnostic as a table, pairs or a sentence."""
    story = [doc.heading("9. Diagnostics")]
    if not diagnostics:
        return [*story, doc.placeholder("Diagnostics")]
    for item in diagnostics:
        name, value = item["name"], item["value"]
        story.append(doc.subheading(label(name).capitalize()))
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            keys: list[str] = []
            for entry in value:
                keys += [k for k in entry if k not in keys]
            rows = [[readable(entry.get(k), k) for k in keys] for entry in value]
            widths = [1 / len(keys)] * len(keys)
            story.append(doc.table([key_label(k) for k in keys], rows, widths))
        elif isinstance(value, dict) and value:
            pairs = [(k, readable(v, k)) for k, v in value.items()]
            story.append(doc.key_values(pairs, key_width=0.4))
        elif isinstance(value, list) and value:
            story.append(doc.para(readable(value)))
        elif isinstance(value, list):
            none = "none: every package is up to date." if name == "outdated_packages" else "none"
            story.append(doc.para(none))
        elif name == "outdated_packages" and value == "unknown":
            story.append(doc.para("unknown: no fresh answer from pip; the reason is below."))
        else:
            story.append(doc.para(readable(value)))
    return story
