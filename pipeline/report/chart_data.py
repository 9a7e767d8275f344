"""The run's charts as data: one pure function per chart turns the rows `load.load_run` read
into the chart's series (labels, values, colours, axis range, annotations such as the
deployments), and both the PDF (reportlab, `charts`, `timeline`, `estimates`) and the run page
(Chart.js, `app.run_charts`) draw that same output, so the two show the same numbers.

Every series is a JSON-able dict (times in seconds since the epoch, UTC; an axis its range,
its ticks and their labels); `run_charts(data)` gives every chart of a run by name. No I/O
and no reportlab here.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from pipeline.formatting import fmt_column
from pipeline.report.charts import (
    ACCENT,
    CRITICALITY_COLOURS,
    GREY_BAR,
    INK,
    MUTED,
    blue,
    short,
    sort_key,
)
from pipeline.report.ticks import LIMIT, nice_ticks, tick_text
from pipeline.report.timeline import HOLDOUT, axis_title, time_span, time_ticks
from pipeline.vocabulary import criticality_rank

Series = dict[str, Any]
CONFUSION_DATASETS = ("test", "holdout", "new")  # the first one recorded is drawn
MAX_PERIODS = 6  # the newest periods of prediction health charted; the API has them all
DRIFT_PLOTS = 4  # distribution plots of the most drifted columns
_FORMATS = {"day": "%d %b", "week": "%d %b", "month": "%b %Y"}


def _value_axis(values: list[float]) -> dict[str, Any]:
    """A metric's axis: its values with 8% room either side, ticked at round numbers (values
    beyond +-1e300, `ticks.LIMIT`, at its edge: the room would overflow)."""
    values = [max(-LIMIT, min(v, LIMIT)) for v in values]
    low, high = min(values, default=0.0), max(values, default=1.0)
    if high - low < 1e-9:  # one value: a band around it
        low, high = low - 0.05, high + 0.05
    room = (high - low) * 0.08  # the points and their labels stay inside the frame
    ticks = nice_ticks(low - room, high + room, 4)
    return {
        "min": ticks[0],
        "max": ticks[-1],
        "ticks": ticks,
        "labels": list(map(tick_text, ticks)),
    }


def _count_axis(top: float, whole: bool, count: int = 5, room: float = 1.18) -> dict[str, Any]:
    """An axis from 0 past the biggest value (`room` times it), ticked at round numbers."""
    top = top or 1.0
    ticks = [t for t in nice_ticks(0, top * room, count, whole) if t <= top * room]
    return {"min": 0.0, "max": max(ticks[-1], top * room) if ticks else top * room,
            "ticks": ticks, "labels": list(map(tick_text, ticks))}  # fmt: skip


def bars(
    labels: list[str], values: list[float], colours: list[str], notes: list[str], title: str,
    whole: bool = False,
) -> Series:  # fmt: skip
    """Horizontal bars, top to bottom, each with its colour and the text at its end."""
    top = max((max(0.0, v) for v in values), default=0.0)
    return {"kind": "bars", "title": title, "labels": labels, "values": values,
            "colours": colours, "notes": notes, "whole": whole,
            "x": _count_axis(top, whole)}  # fmt: skip


def steps(rows: list[dict[str, Any]]) -> Series | None:
    """The run's steps in the order they ran, their seconds, blue succeeded, red failed."""
    if not rows:
        return None
    colours = {"succeeded": ACCENT, "failed": CRITICALITY_COLOURS["high"]}
    seconds = [float(s["seconds"] or 0.0) for s in rows]
    return bars([short(s["name"], 24) for s in rows], seconds,
                [colours.get(s["status"], GREY_BAR) for s in rows],
                [f"{v:.2f} s" for v in seconds], "seconds")  # fmt: skip


def quality(issues: list[dict[str, Any]]) -> Series | None:
    """Offending rows by error type across the run's files, most first, each bar in its worst
    criticality's colour."""
    rows_by_type: dict[str, int] = {}
    level_of: dict[str, str] = {}
    for issue in issues:
        if issue["level"] == "row":
            kind = issue["error_type"]
            rows_by_type[kind] = rows_by_type.get(kind, 0) + issue["count"]
            level_of[kind] = max(
                level_of.get(kind, issue["criticality"]), issue["criticality"], key=criticality_rank
            )
    if not rows_by_type:
        return None
    found = sorted(rows_by_type.items(), key=lambda kv: (-kv[1], kv[0]))
    series = bars([short(k, 28) for k, _ in found], [float(n) for _, n in found],
                  [CRITICALITY_COLOURS.get(level_of[k], MUTED) for k, _ in found],
                  [f"{n:,}" for _, n in found], "offending rows", whole=True)  # fmt: skip
    series["levels"] = [level_of[k] for k, _ in found]
    return series


def prediction_periods(summary: dict[str, Any] | None) -> list[Series]:
    """Per period of the run's prediction health (the newest `MAX_PERIODS`): P(positive) per
    fixed bin, or the predictions per class."""
    health = (summary or {}).get("prediction_health") if isinstance(summary, dict) else None
    out = []
    for p in ((health or {}).get("periods") or [])[-MAX_PERIODS:]:
        day, version = p["period_start"][:10], p["model_version"]
        hist = p.get("histogram")
        if hist:
            edges, counts = hist["edges"], hist["counts"]
            labels = [f"{edges[i]:.1f}–{edges[i + 1]:.1f}" for i in range(len(counts))]
            title = f"predictions by P({p.get('positive_label')}), period {day}, v{version}"
        elif p.get("class_counts"):
            labels = [short(c, 20) for c in p["class_counts"]]
            counts = list(p["class_counts"].values())
            title = f"predictions per class, period {day}, v{version}"
        else:
            continue
        values = [float(n) for n in counts]
        out.append(bars(labels, values, [ACCENT] * len(values), [f"{n:,}" for n in counts],
                        title, whole=True))  # fmt: skip
    return out


def confusion_choice(cells: list[dict[str, Any]], production: int | None) -> list[dict[str, Any]]:
    """The cells the report draws: the production (else newest) model on the first data set
    recorded of test, holdout, new; none without cells."""
    for dataset in CONFUSION_DATASETS:
        chosen = [c for c in cells if c["dataset"] == dataset]
        if chosen:
            versions = sorted({c["model_version"] for c in chosen})
            version = production if production in versions else versions[-1]
            return [c for c in chosen if c["model_version"] == version]
    return []


def confusion(cells: list[dict[str, Any]]) -> Series | None:
    """A heat map of one model on one data set: counts[actual][predicted], each cell's blue by
    its count against the biggest, its text white on the dark ones."""
    if not cells:
        return None
    labels = sorted({c["actual"] for c in cells} | {c["predicted"] for c in cells}, key=sort_key)
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for cell in cells:
        counts[index[cell["actual"]]][index[cell["predicted"]]] += cell["count"]
    top = max(max(row) for row in counts) or 1
    version, dataset = cells[0]["model_version"], cells[0]["dataset"]
    total = sum(map(sum, counts))
    return {"kind": "matrix", "version": version, "dataset": dataset, "labels": labels,
            "counts": counts, "top": top, "total": total,
            "title": f"model v{version} on the {dataset} data ({total:,} rows)",
            "colours": [[blue(n / top) for n in row] for row in counts],
            "ink": [["#ffffff" if n > top / 2 else INK for n in row]
                    for row in counts]}  # fmt: skip


def _stamp(when: datetime | str) -> float:
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def history(found: dict[str, Any], metric: str) -> Series | None:
    """The production metric over runs, the holdout scores at registration and the
    deployments (dashed lines) on a UTC time axis; None when no score was recorded."""
    production = [{"t": _stamp(x), "value": y, "version": v}
                  for x, y, v in found["production"] if math.isfinite(y)]  # fmt: skip
    holdout = [{"t": _stamp(x), "value": y, "version": v}
               for x, y, v in found["holdout"] if math.isfinite(y)]  # fmt: skip
    if not production and not holdout:
        return None
    deployments = [{"t": _stamp(x), "version": v, "label": f"→ v{v}"}
                   for x, v in found["deployments"]]  # fmt: skip
    t0, t1 = time_span([p["t"] for p in production + holdout] + [d["t"] for d in deployments])
    names = {
        "production": "production model on new data",
        "holdout": "recorded score at registration",
        "deployments": "model version change",
    }
    colours = {"production": ACCENT, "holdout": HOLDOUT, "deployments": MUTED}
    marks = {"production": production, "holdout": holdout, "deployments": deployments}
    legend = [[names[k], colours[k]] for k in names if marks[k]]
    return {"kind": "time", "metric": metric, **marks, "legend": legend, "names": names,
            "colours": colours,
            "x": {"min": t0, "max": t1, "title": axis_title(t0, t1),
                  "ticks": [[at, name] for at, name in time_ticks(t0, t1)]},
            "y": _value_axis([p["value"] for p in production + holdout])}  # fmt: skip


def estimates(periods: list[dict[str, Any]], metric: str) -> Series | None:
    """Per period, oldest first: the estimate (blue, grey when unreliable) with its interval,
    and the realised value where the period's labels arrived."""
    rows = [r for r in periods if r["metric"] == metric]
    if not rows:
        return None
    keys = ("value", "ci_low", "ci_high", "realised_value")
    values = [r[k] for r in rows for k in keys if r.get(k) is not None] or [0.0, 1.0]
    labels = [r["period_start"].strftime(_FORMATS.get(r["period"], "%d %b")) for r in rows]
    return {"kind": "periods", "metric": metric, "labels": labels,
            "every": max(1, round(len(rows) / 12)),  # about a dozen dates under the axis
            "value": [r["value"] for r in rows], "low": [r["ci_low"] for r in rows],
            "high": [r["ci_high"] for r in rows],
            "realised": [r.get("realised_value") for r in rows],
            "reliable": [bool(r["reliable"]) for r in rows],
            "colours": [ACCENT if r["reliable"] else GREY_BAR for r in rows],
            "realised_colour": HOLDOUT, "x_title": f"{rows[0]['period']} (UTC)",
            "legend": [["estimated, interval", ACCENT], ["unreliable", GREY_BAR],
                       ["realised", HOLDOUT]],
            "y": _value_axis(values)}  # fmt: skip


def distribution(column: str, dist: dict[str, Any]) -> Series:
    """Reference and new shares side by side, on the profile's bins or categories."""
    reference, current = list(dist["reference"]), list(dist["current"])
    labels = [short(str(x), 18) for x in dist["labels"]]
    n = len(labels)

    def pad(values: list[Any]) -> list[float]:
        return [float(values[i] or 0.0) if i < len(values) else 0.0 for i in range(n)]

    reference, current = pad(reference), pad(current)
    top = max([*reference, *current, 0.0])
    return {"kind": "grouped", "title": short(column, 40), "labels": labels, "axis": "share",
            "series": [{"label": "reference", "values": reference, "colour": GREY_BAR},
                       {"label": "new", "values": current, "colour": ACCENT}],
            "y": _count_axis(top, False, 4, 1.05)}  # fmt: skip


def drifted(results: list[dict[str, Any]]) -> list[Series]:
    """The distributions of the most drifted columns (drifted first, biggest effect first),
    each titled with its column's name as the report shows it."""
    ranked = sorted(
        (r for r in results if (r["details"] or {}).get("distribution")),
        key=lambda r: (not r["drifted"], -(r["effect_size"] or 0.0)),
    )[:DRIFT_PLOTS]
    return [distribution(fmt_column(str(r["column_name"])), r["details"]["distribution"])
            for r in ranked]  # fmt: skip


def run_charts(data: dict[str, Any]) -> dict[str, Any]:
    """Every chart of a run (`load.load_run`'s rows), by name; a chart with nothing to draw is
    None (a list of charts: empty)."""
    run = data["run"]
    found = data.get("estimates") or {"run": [], "periods": []}
    own = [r for r in found["run"] if r["period"] == "run"]
    has_estimate = any(r["value"] is not None for r in own)
    return {
        "history": history(data["history"], data["metric"]),
        "confusion": confusion(confusion_choice(data["confusion_matrices"],
                                                run["production_version"])),
        "estimates": estimates(found["periods"], data["metric"]) if has_estimate else None,
        "quality": quality(data["quality_issues"]),
        "drift": drifted(data["drift_results"]) if data["drift_summaries"] else [],
        "predictions": prediction_periods(run.get("summary")),
        "steps": steps(data["steps"]),
    }  # fmt: skip
