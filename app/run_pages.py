"""The run pages a browser gets at /runs and /runs/<run_id> (app.negotiate: JSON otherwise).

The list pages runs newest first (keyset: `after`, the last run id of the page before) with
filters by status and kind; ticks that found nothing to do (noop, skipped) are hidden unless
asked for. A bad parameter is a 400 page naming it; an unknown run a 404 page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import render_template, request

from app import get_connection, run_charts, state
from app.redact import stored_paths
from pipeline.errors import NotFound, RiskwatchError
from pipeline.formatting import fmt_drift, fmt_duration, fmt_score
from pipeline.report import chart_data, verdict
from pipeline.report import evidence as words
from pipeline.storage import run_views

PAGE_SIZES = (20, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
RUN_ID = re.compile(r"[0-9a-f]{32}")
Page = tuple[str, int]


class BadParameter(RiskwatchError):
    """A query parameter a page refuses: its name and why."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


def problem(status: int, message: str, parameter: str | None = None) -> Page:
    """The page of a refused request: what was wrong, and the way back."""
    page = render_template("runs/problem.html", status=status, message=message, parameter=parameter)
    return page, status


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.args.get(name, "")
    if raw == "":
        return None
    if raw not in allowed:
        raise BadParameter(name, f"'{name}' must be one of {', '.join(allowed)}, got {raw[:40]!r}")
    return raw


def _filters() -> tuple[run_views.RunFilter, int]:
    status = _choice("status", run_views.RUN_STATUSES)
    kind = _choice("kind", run_views.RUN_KINDS)
    quiet = _choice("quiet", ("hide", "show"))
    raw = request.args.get("limit", "")
    if raw and raw not in {str(n) for n in PAGE_SIZES}:
        sizes = ", ".join(map(str, PAGE_SIZES))
        raise BadParameter("limit", f"'limit' must be one of {sizes}, got {raw[:40]!r}")
    return run_views.RunFilter(status, kind, quiet == "show"), int(raw or DEFAULT_PAGE_SIZE)


def runs_page() -> Page:
    """A page of runs, newest first, with their score, decision, drift and quality."""
    try:
        where, limit = _filters()
        after = _cursor()
    except BadParameter as exc:
        return problem(400, str(exc), exc.parameter)
    runs, next_after = run_views.runs_page(get_connection(), where, limit, after)
    runs = stored_paths(runs, state().settings.base_dir)
    for run in runs:
        run["score_text"] = _score_text(run["score"])
        run["decision_text"] = words.decision_summary(run["decisions"])
        run["decision_why"] = "; ".join(d["reason"] for d in run["decisions"])
        run["drift_text"] = fmt_drift(run["drift"]) if run["drift"] else None
        run["quality_text"] = words.quality_words(run["quality_files"])
    args = {k: v for k, v in request.args.items() if k != "after" and v}
    page = render_template(
        "runs/list.html",
        runs=runs,
        where=where,
        limit=limit,
        page_sizes=PAGE_SIZES,
        statuses=run_views.RUN_STATUSES,
        kinds=run_views.RUN_KINDS,
        args=args,
        next_after=next_after,
        first_page=request.args.get("after") is not None,
    )
    return page, 200


def _cursor() -> tuple[Any, str] | None:
    raw = request.args.get("after", "")
    if raw == "":
        return None
    position = None
    if RUN_ID.fullmatch(raw):
        position = run_views.run_position(get_connection(), raw)
    if position is None:
        raise BadParameter("after", f"'after' must be the id of a listed run, got {raw[:40]!r}")
    return position


def _score_text(score: dict[str, Any] | None) -> str | None:
    if score is None:
        return None
    value = fmt_score(score["value"], score["ci_low"], score["ci_high"])
    return f"{score['metric']} {value} (v{score['model_version']}, {score['dataset']})"


def run_verdict(run: Mapping[str, Any], summary: Mapping[str, Any] | None) -> str:
    """The run's sentence, as the PDF says it (`pipeline.report.verdict`): from its summary,
    or, for a run that recorded none (it stopped before), from its status and error."""
    unsummarised = {"status": run["status"], "error": run.get("error")}
    return verdict.verdict(summary or unsummarised, run["kind"])


def run_page(run_id: str) -> Page:
    """Everything recorded about one run, in words, tables and the PDF's charts."""
    if not RUN_ID.fullmatch(run_id):
        return problem(404, f"no run with id {run_id[:40]!r} (a run id is 32 lowercase hex digits)")
    try:
        doc = run_views.run_record(get_connection(), run_id)
    except NotFound as exc:
        return problem(404, str(exc))
    doc.pop("log", None)
    summary = doc.pop("summary", None)
    doc = stored_paths(doc, state().settings.base_dir)
    figures = run_charts.figures(run_charts.run_series(get_connection(), run_id, state().settings))
    context = {
        "run": doc,
        "verdict": run_verdict(doc, summary),
        "decisions": [
            {
                **d,
                "words": words.decision_words(d["kind"], bool(d["outcome"])),
                "evidence_items": words.evidence_items(d["evidence"]),
            }
            for d in doc["decisions"]
        ],
        "drift_text": fmt_drift(doc["drift"]) if doc["drift"] else None,
        "timings": _timings(doc),
        "confusion": _confusion(doc["confusion_matrices"], figures["confusion"]),
        "figures": figures,
        "diagnostics": [(d["name"], words.say(d["name"], d["value"])) for d in doc["diagnostics"]],
        "has_report": bool(doc["reports"]),
    }
    return render_template("runs/run.html", **context), 200


def _timings(doc: dict[str, Any]) -> dict[str, Any]:
    """The steps' seconds, their total, and the run's wall time with what no step took.

    Each step is shown to the hundredth of a second and the total is the sum of the numbers
    shown, so the column adds up; the wall time is the run's start to its end, the steps plus
    what no step took (start-up, the lock, imports)."""
    shown = [round(s["seconds"], 2) if s["seconds"] is not None else None for s in doc["steps"]]
    steps = [{**s, "shown": v} for s, v in zip(doc["steps"], shown, strict=True)]
    total = round(sum(v for v in shown if v is not None), 2)
    wall = None
    if doc["started_at"] and doc["finished_at"]:
        start, end = (datetime.fromisoformat(doc[k]) for k in ("started_at", "finished_at"))
        wall = round((end - start).total_seconds(), 2)
    return {
        "steps": steps,
        "total": total,
        "wall": wall,
        "outside": None if wall is None else round(max(wall - total, 0.0), 2),
        "total_text": fmt_duration(total),
    }


def _confusion(rows: list[dict[str, Any]], drawn: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A heat map per (version, data set) (`chart_data.confusion`), the PDF's one first."""
    found: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault((row["model_version"], row["dataset"]), []).append(row)
    maps = [m for cells in found.values() if (m := chart_data.confusion(cells)) is not None]
    if drawn is not None:
        maps = [drawn] + [
            m for m in maps if (m["version"], m["dataset"]) != (drawn["version"], drawn["dataset"])
        ]
    return maps
