"""The dashboards' charts built from what the pages read (issue 13): each returns a chart
document (`app.charts.chart`) and the rows of its table of numbers, the same points with their
levels and links, so that every number is reachable without the canvas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import pairwise
from typing import Any

from app.charts import (
    GREY,
    ORANGE,
    RED,
    chart,
    level_at_least,
    metric_level,
    short_time,
    threshold,
)
from pipeline.settings import Settings

Rows = list[dict[str, Any]]
Series = Sequence[tuple[str, Callable[[dict[str, Any]], Any]]]


def _run_link(run_id: str | None) -> str | None:
    return None if run_id is None else f"/runs/{run_id}"


def performance(
    periods: Sequence[Mapping[str, Any]],
    deployed: Sequence[Mapping[str, Any]],
    holdout: Mapping[int, float | None],
    production: Mapping[str, Any] | None,
    settings: Settings,
    higher_better: bool,
) -> tuple[dict[str, Any], Rows]:
    """Realised and estimated metric per period and version, with the estimate's interval, the
    deployments marked at their period, and the thresholds below the production holdout."""
    orange, red = settings["dashboard.metric_drop_orange"], settings["dashboard.metric_drop_red"]
    labels, links, rows = [], [], []
    real, est, low, high, levels = [], [], [], [], []
    for p in periods:
        r, e = p["realised"] or {}, p["estimated"] or {}
        value = r.get("value") if r.get("value") is not None else e.get("value")
        level = metric_level(value, holdout.get(p["model_version"]), higher_better, orange, red)
        label = f"{short_time(p['period_start'])[:10]} v{p['model_version']}"
        run_id = r.get("run_id") or e.get("run_id")
        labels.append(label)
        links.append(_run_link(run_id))
        real.append(r.get("value"))
        est.append(e.get("value"))
        low.append(e.get("ci_low"))
        high.append(e.get("ci_high"))
        levels.append(level)
        rows.append(
            {"label": label, "realised": r.get("value"), "estimated": e.get("value"),
             "ci_low": e.get("ci_low"), "ci_high": e.get("ci_high"),
             "reliable": e.get("reliable"), "level": level, "link": links[-1]}
        )  # fmt: skip
    marks: list[float | None] = [None] * len(labels)
    for d in deployed:
        day = short_time(d["deployed_at"])[:10]
        at = next((i for i, x in enumerate(labels) if x[:10] >= day), None)
        if at is not None:
            marks[at] = real[at] if real[at] is not None else est[at]
    datasets: list[dict[str, Any]] = [
        {"label": "realised", "data": real, "levels": levels, "type": "line"},
        {"label": "estimated", "data": est, "levels": levels, "type": "line", "dashed": True},
        {"label": "estimate interval low", "data": low, "type": "line", "thin": True},
        {"label": "estimate interval high", "data": high, "type": "line", "thin": True},
        {"label": "deployment", "data": marks, "type": "line", "marker": True},
    ]
    ref = None if production is None else production.get("holdout_score")
    if ref is not None:
        sign = -1 if higher_better else 1
        datasets.append(threshold("orange threshold", ref + sign * orange, len(labels), ORANGE))
        datasets.append(threshold("red threshold", ref + sign * red, len(labels), RED))
    return chart("line", labels, datasets, links, title=settings["model.metric"]), rows


def drifted_share(
    runs: Sequence[Mapping[str, Any]], settings: Settings
) -> tuple[dict[str, Any], Rows]:
    """The drifted share of features per run."""
    orange, red = (
        settings["dashboard.drifted_share_orange"],
        settings["dashboard.drifted_share_red"],
    )
    labels, values, levels, links, rows = [], [], [], [], []
    for run in runs:
        share = run["drifted_share"]
        level = level_at_least(share, orange, red)
        labels.append(short_time(run["created_at"]))
        values.append(share)
        levels.append(level)
        links.append(_run_link(run["run_id"]))
        rows.append(
            {"label": labels[-1], "value": share, "status": run["status"], "level": level,
             "link": links[-1]}
        )  # fmt: skip
    datasets = [
        {"label": "drifted share", "data": values, "levels": levels},
        threshold("orange threshold", orange, len(labels), ORANGE),
        threshold("red threshold", red, len(labels), RED),
    ]
    return chart("bar", labels, datasets, links, min=0, max=1, title="share"), rows


def invalid_share(share: float, rejected: bool, settings: Settings) -> str:
    """A checked file's level: rejected whole is red."""
    if rejected:
        return RED
    return level_at_least(
        share, settings["dashboard.invalid_share_orange"], settings["dashboard.invalid_share_red"]
    )


def file_rows(files: Sequence[Mapping[str, Any]], settings: Settings) -> Rows:
    """The checked files with their invalid share, level and report link."""
    out = []
    for f in files:
        share = (
            1.0
            if f["rejected"]
            else (f["rows_invalid"] / f["rows_read"] if f["rows_read"] else 0.0)
        )
        out.append(
            {**f, "invalid_share": share, "level": invalid_share(share, f["rejected"], settings),
             "label": f"{short_time(f['checked_at'])} {f['file_name']}",
             "link": f"/quality/{f['id']}.html"}
        )  # fmt: skip
    return out


def invalid_chart(rows: Rows, settings: Settings) -> dict[str, Any]:
    """The invalid-row share per checked file."""
    orange, red = (
        settings["dashboard.invalid_share_orange"],
        settings["dashboard.invalid_share_red"],
    )
    n = len(rows)
    datasets = [
        {"label": "invalid share", "data": [r["invalid_share"] for r in rows],
         "levels": [r["level"] for r in rows]},
        threshold("orange threshold", orange, n, ORANGE),
        threshold("red threshold", red, n, RED),
    ]  # fmt: skip
    labels, links = [r["label"] for r in rows], [r["link"] for r in rows]
    return chart("bar", labels, datasets, links, min=0, max=1, title="share")


def stacked(rows: Rows, series: Series, title: str) -> dict[str, Any]:
    """Stacked bars, one per row, one colour per series."""
    datasets = [
        {"label": name, "data": [get(r) for r in rows], "stack": "all", "palette": i}
        for i, (name, get) in enumerate(series)
    ]
    labels, links = [r["label"] for r in rows], [r.get("link") for r in rows]
    return chart("bar", labels, datasets, links, stacked=True, min=0, title=title)


def prediction_rows(summary: Mapping[str, Any], settings: Settings) -> Rows:
    """The periods of prediction health with the level of their positive share."""
    orange = settings["dashboard.positive_share_orange"]
    red = settings["monitoring.positive_share_tolerance"]
    out = []
    for p in summary["periods"]:
        base, share = p.get("baseline"), p.get("positive_share")
        moved = None if base is None or share is None else abs(share - base["positive_share"])
        level = GREY if moved is None else level_at_least(moved, orange, red)
        start = p["period_start"]
        out.append(
            {**p, "label": f"{start[:10]} v{p['model_version']}", "moved": moved, "level": level,
             "link": f"/past-predictions?start={start[:10]}&model_version={p['model_version']}"}
        )  # fmt: skip
    return out


def predictions(rows: Rows) -> dict[str, Any]:
    """Class shares per period (a classifier) or mean and spread (a regressor)."""
    classes = sorted({c for r in rows for c in (r.get("class_shares") or {})})
    if classes:
        series = [(c, lambda r, c=c: (r.get("class_shares") or {}).get(c)) for c in classes]
        doc = stacked(rows, series, "share of predictions")
        if any(r.get("positive_share") is not None for r in rows):
            # The positive share as a line over the bars, its points coloured by how far it
            # moved from the baseline.
            doc["datasets"].append(
                {"label": "positive share", "data": [r.get("positive_share") for r in rows],
                 "levels": [r["level"] for r in rows], "type": "line", "marker": False}
            )  # fmt: skip
        return doc
    mean = [r.get("mean") for r in rows]
    spread = [None if r.get("std") is None else r["mean"] + r["std"] for r in rows]
    datasets: list[dict[str, Any]] = [
        {"label": "mean prediction", "data": mean, "type": "line"},
        {"label": "mean + 1 std", "data": spread, "type": "line", "thin": True},
    ]
    return chart("line", [r["label"] for r in rows], datasets, [r["link"] for r in rows])


def histograms(rows: Rows) -> dict[str, Any]:
    """P(positive) per bin, one line per period (its share of the period's predictions)."""
    with_hist = [r for r in rows if r.get("histogram")]
    edges = with_hist[0]["histogram"]["edges"] if with_hist else []
    labels = [f"{a:.1f}-{b:.1f}" for a, b in pairwise(edges)]
    datasets = []
    for i, r in enumerate(with_hist[-8:]):
        counts = r["histogram"]["counts"]
        total = sum(counts) or 1
        datasets.append(
            {"label": r["label"], "data": [c / total for c in counts], "type": "line",
             "palette": i}
        )  # fmt: skip
    return chart("line", labels, datasets, [None] * len(labels), min=0, title="share")


# The feature page's distributions (`pipeline.drift.histogram`, recorded with each result).
MISSING = "(missing)"


def _cells(side: Mapping[str, Any] | None, count: int | None, prefix: str) -> dict[str, Any]:
    if side is None:
        return {f"{prefix}_count": None, f"{prefix}_share": None}
    total = side["rows"]
    return {f"{prefix}_count": count, f"{prefix}_share": count / total if total else None}


def _pick(side: Mapping[str, Any] | None, key: str, i: int | None) -> int | None:
    if side is None:
        return None
    return int(side[key][i]) if i is not None else int(side.get(key) or 0)


def distribution_rows(doc: Mapping[str, Any]) -> Rows:
    """A histogram document's bars as table rows (each side's count and share of its rows;
    None for a side without data), then the grouped categories and the missing values when
    either side has any."""
    ref, cur = doc.get("reference"), doc.get("current")

    def row(label: str, group: str | None, key: str, i: int | None = None) -> dict[str, Any]:
        return {"label": label, "group": group,
                **_cells(ref, _pick(ref, key, i), "ref"),
                **_cells(cur, _pick(cur, key, i), "cur")}  # fmt: skip

    out = [row(label, None, "counts", i) for i, label in enumerate(doc["labels"])]
    groups = (("others", f"others ({doc.get('others', 0)} categories)"), ("missing", MISSING))
    for key, label in groups:
        if any(side and side.get(key) for side in (ref, cur)):
            out.append(row(label, key, key))
    return out


def legacy_rows(doc: Mapping[str, Any]) -> Rows:
    """The shares a run recorded before its histograms (the report's, on the PSI bins)."""
    return [
        {"label": label, "group": None, "ref_count": None, "ref_share": r,
         "cur_count": None, "cur_share": c}
        for label, r, c in zip(doc["labels"], doc["reference"], doc["current"], strict=True)
    ]  # fmt: skip


def distribution_chart(rows: Rows, reference: str, recent: str) -> dict[str, Any]:
    """The two sides' shares side by side, one bar per bin or category."""

    def shares(key: str) -> list[float | None]:
        return [None if r[key] is None else round(r[key], 6) for r in rows]

    datasets = [{"label": reference, "data": shares("ref_share"), "palette": 0},
                {"label": recent, "data": shares("cur_share"), "palette": 1}]  # fmt: skip
    return chart("bar", [r["label"] for r in rows], datasets, [None] * len(rows),
                 min=0, title="share of rows")  # fmt: skip
