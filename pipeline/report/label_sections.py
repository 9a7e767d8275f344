"""The report's section on labels that arrived later: what the run's labels step took and did
(files, bad rows, joined, duplicates, conflicts, unmatched, waiting), and the realised
performance it computed per period and model version. Only a run that had a labels step has it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.formatting import fmt_num, fmt_score
from pipeline.report.pdf_doc import Doc

if TYPE_CHECKING:
    from reportlab.platypus import Flowable

COUNTS = (
    ("received", "Labels received"),
    ("rows_invalid", "Bad rows (quarantined)"),
    ("joined", "Joined to their predictions"),
    ("duplicate", "Duplicates (counted once)"),
    ("conflict", "Conflicts (not used)"),
    ("unmatched", "Unmatched (no prediction in time)"),
    ("pending", "Waiting for their predictions"),
)


def section_labels(doc: Doc, data: dict[str, Any]) -> list[Flowable]:
    """4b. Labels that arrived later; nothing for a run without a labels step."""
    done = (data["run"].get("summary") or {}).get("labels")
    if not done:
        return []
    story = [doc.heading("4b. Labels that arrived later")]
    files = done.get("files") or []
    story.append(
        doc.para(
            f"{fmt_num(done.get('new_files', 0))} labels file(s) taken, "
            f"{fmt_num(done.get('files_quarantined', 0))} quarantined whole.",
            doc.note,
        )
    )
    rows = [[name, fmt_num(done.get(key, 0))] for key, name in COUNTS]
    story.append(doc.table(["Labels", "Count"], rows, [0.7, 0.3], right=(1,)))
    bad = [f for f in files if f.get("status") != "taken" or f.get("rows_invalid")]
    if bad:
        rows = [
            [
                f["name"],
                f["status"],
                fmt_num(f.get("rows_invalid", 0)),
                f.get("reason")
                or ", ".join(f"{k} ({n})" for k, n in (f.get("invalid_by_type") or {}).items()),
            ]
            for f in bad
        ]
        header = ["File", "Status", "Bad rows", "Why"]
        story.append(doc.table(header, rows, [0.3, 0.14, 0.12, 0.44], right=(2,)))
    # model.metric's (the others are in GET /performance?metric= and `riskwatch performance`)
    perf = [p for p in data.get("realised_performance") or [] if p["metric"] == data["metric"]]
    if perf:
        rows = [
            [
                f"{p['period']} {p['period_start']:%Y-%m-%d}",
                f"v{p['model_version']}",
                p["metric"],
                fmt_score(p["value"], p["ci_low"], p["ci_high"]),
                fmt_num(p["n_rows"]),
            ]
            for p in perf
        ]
        header = ["Period", "Model", "Metric", "Realised [interval]", "Rows"]
        story.append(doc.table(header, rows, [0.24, 0.1, 0.14, 0.36, 0.16], right=(3, 4)))
        story.append(
            doc.para(
                "Computed again on every joined label of the period when more arrive.", doc.note
            )
        )
    return story
