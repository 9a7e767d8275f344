"""The dashboards (issue 13): the overview (`/`), data quality (`/quality`), drift and
predictions (`/drift`, and one feature's distributions and history at `/drift/<feature>`).

Each page reads only what it shows over its time range (`app.dashboard_params`), through
`pipeline.storage.dashboard` and the stored per-period rows of performance and prediction
health; the charts are JSON in the page, drawn by app/static/js/charts.js, each with its
numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from flask import Blueprint, render_template, request

from app import charts, dashboard_charts, get_connection, state
from app.dashboard_params import BadPageParameter, TimeRange, choice, time_range
from app.run_pages import problem, run_verdict
from pipeline import predictions
from pipeline.errors import DatabaseNotReady, DatabaseUnreachable
from pipeline.formatting import fmt_drift
from pipeline.model import registry
from pipeline.model.metrics import higher_is_better
from pipeline.storage import dashboard, performance
from pipeline.vocabulary import CRITICALITIES

bp = Blueprint("dashboard", __name__)

# drift_results names the model's output and the label with these (pipeline.drift.step).
PREDICTION, TARGET = "__prediction__", "__target__"
OUTPUTS = {PREDICTION: "prediction", TARGET: "label"}
NO_RUN = "No run has done anything yet: run `riskwatch run` once the inbox holds a file."
MAX_NAME = 200  # the longest `name` filter taken
# The heatmap's columns: the newest runs of the range (its table stays readable, and quick).
HEATMAP_RUNS = 50


@bp.errorhandler(DatabaseNotReady)
@bp.errorhandler(DatabaseUnreachable)
def _unavailable(exc: DatabaseNotReady | DatabaseUnreachable) -> tuple[str, int]:
    """A page says what to do (migrate, start the database) where the API answers JSON."""
    return render_template("dashboard/unavailable.html", problem=exc), 503


def _page(template: str, window: TimeRange, **values: Any) -> str:
    """A dashboard page; its nav links keep its time range."""
    return render_template(template, window=window, range_args=window.args, **values)


def _range() -> TimeRange:
    return time_range(state().settings["dashboard.range"])


def _health(window: TimeRange) -> dict[str, Any]:
    return predictions.health_summary(
        get_connection(),
        state().settings,
        start=window.start,
        end=window.end,
        model_version=None,
        source=None,
    )


def _alerts(sections: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """The newest point of each chart that is not green, as an alert with its link."""
    out = []
    for name, rows in sections:
        if rows and rows[-1]["level"] in (charts.ORANGE, charts.RED):
            last = rows[-1]
            out.append({"level": last["level"], "text": f"{name}: {last['label']}",
                        "link": last.get("link")})  # fmt: skip
    return out


@bp.get("/")
def overview() -> str:
    """The production model, the last run's verdict, and the four charts over a time range."""
    window = _range()
    settings, conn = state().settings, get_connection()
    version = registry.production_version(settings, state().engine)
    prod = dashboard.production(conn, version)
    run = dashboard.last_run(conn)
    drift_text = fmt_drift(run["drift"]) if run and run["drift"] else None
    metric = settings["model.metric"]
    periods = performance.performance_over_time(
        conn, settings["monitoring.period"], metric, start=window.start, end=window.end
    )
    versions = sorted({p["model_version"] for p in periods})
    holdout = dashboard.holdout_scores(conn, versions)
    deployed = dashboard.deployments(conn, window.start, window.end)
    perf, perf_rows = dashboard_charts.performance(
        periods, deployed, holdout, prod, settings, higher_is_better(metric)
    )
    drift, drift_rows = dashboard_charts.drifted_share(
        dashboard.drift_runs(conn, window.start, window.end), settings
    )
    files = dashboard_charts.file_rows(
        dashboard.quality_files(conn, window.start, window.end), settings
    )
    health = _health(window)
    pred_rows = dashboard_charts.prediction_rows(health, settings)
    alerts = _alerts(
        [("performance", perf_rows), ("drift", drift_rows), ("data quality", files),
         ("predictions", pred_rows)]
    )  # fmt: skip
    return _page(
        "dashboard/overview.html",
        window,
        production=prod,
        run=run,
        verdict=NO_RUN if run is None else run_verdict(run, run.pop("summary", None)),
        run_time=None if run is None else charts.short_time(run["started_at"]),
        drift_text=drift_text,
        deployed=deployed,
        perf=perf,
        perf_rows=perf_rows,
        drift=drift,
        drift_rows=drift_rows,
        invalid=dashboard_charts.invalid_chart(files, settings),
        files=files,
        predictions=dashboard_charts.predictions(pred_rows),
        pred_rows=pred_rows,
        alerts=alerts,
        health_alerts=health["alerts"],
        quality_alerts=dashboard.quality_alerts(conn, window.start, window.end),
        metric=metric,
    )


@bp.get("/quality")
def quality() -> str:
    """Valid and invalid rows, problems per type, rejected files, and the files themselves."""
    window = _range()
    name = request.args.get("name") or None
    if name is not None and len(name) > MAX_NAME:
        raise BadPageParameter("name", f"parameter 'name' is longer than {MAX_NAME} characters")
    criticality = choice("criticality", (*CRITICALITIES, "none"))
    conn, settings = get_connection(), state().settings
    found = dashboard.quality_files(
        conn, window.start, window.end, name=name, criticality=criticality
    )
    files = dashboard_charts.file_rows(found, settings)
    counts = dashboard.issue_counts(conn, [f["id"] for f in files])
    for f in files:
        f["issues"] = counts.get(f["id"], {})
    types = sorted({t for c in counts.values() for t in c})
    rows_chart = dashboard_charts.stacked(
        files,
        [("valid rows", lambda f: f["rows_valid"]), ("invalid rows", lambda f: f["rows_invalid"])],
        "rows",
    )

    def problems(error_type: str) -> Callable[[dict[str, Any]], int]:
        return lambda f: f["issues"].get(error_type, 0)

    issues_chart = dashboard_charts.stacked(files, [(t, problems(t)) for t in types], "problems")
    rejected: dict[str, int] = {}
    for f in files:
        rejected.setdefault(f["checked_at"][:10], 0)
        rejected[f["checked_at"][:10]] += int(f["rejected"])
    days = sorted(rejected.items())
    rejected_chart = charts.chart(
        "bar", [d for d, _ in days],
        [{"label": "files rejected whole", "data": [n for _, n in days], "palette": 3}],
        [None] * len(days), min=0, title="files",
    )  # fmt: skip
    args = {**window.args, **({"name": name} if name else {})}
    if criticality:
        args["criticality"] = criticality
    return _page(
        "dashboard/quality.html",
        window,
        args=args,
        name=name or "",
        criticality=criticality or "",
        criticalities=(*CRITICALITIES, "none"),
        files=files,
        types=types,
        rows_chart=rows_chart,
        issues_chart=issues_chart,
        rejected_chart=rejected_chart,
        rejected_days=days,
        invalid=dashboard_charts.invalid_chart(files, settings),
    )


def _effect_level(row: dict[str, Any]) -> str:
    settings = state().settings
    key = "drift.min_wasserstein" if row["kind"] == "numeric" else "drift.min_jensen_shannon"
    red = settings[key]
    return charts.level_at_least(
        row["effect_size"], red * settings["dashboard.effect_ratio_orange"], red
    )


@bp.get("/drift")
def drift() -> str:
    """Effect size per feature and run (a heatmap), prediction and label drift, and the
    predicted class shares and P(positive) over time."""
    window = _range()
    settings, conn = state().settings, get_connection()
    runs = dashboard.drift_runs(conn, window.start, window.end, HEATMAP_RUNS)
    results = dashboard.drift_results(conn, [r["run_id"] for r in runs])
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for row in results:
        row["level"] = _effect_level(row)
        cells.setdefault(row["column_name"], {})[row["run_id"]] = row
    features = sorted(c for c in cells if c not in OUTPUTS)
    outputs = []
    for column, label in OUTPUTS.items():
        mine = cells.get(column, {})
        rows = [
            {"label": charts.short_time(r["created_at"]), "value": mine[r["run_id"]]["effect_size"],
             "level": mine[r["run_id"]]["level"], "status": mine[r["run_id"]]["status"],
             "link": f"/runs/{r['run_id']}"}
            for r in runs if r["run_id"] in mine
        ]  # fmt: skip
        outputs.append((label, column, rows))
    output_chart = charts.chart(
        "line",
        [charts.short_time(r["created_at"]) for r in runs],
        [
            {"label": f"{label} effect size", "type": "line", "palette": i,
             "data": [(cells.get(column, {}).get(r["run_id"]) or {}).get("effect_size")
                      for r in runs]}
            for i, (label, column, _) in enumerate(outputs)
        ],
        [f"/runs/{r['run_id']}" for r in runs],
        min=0, title="effect size",
    )  # fmt: skip
    pred_rows = dashboard_charts.prediction_rows(_health(window), settings)
    return _page(
        "dashboard/drift.html",
        window,
        runs=runs,
        features=features,
        cells=cells,
        outputs=outputs,
        output_chart=output_chart,
        pred_rows=pred_rows,
        predictions=dashboard_charts.predictions(pred_rows),
        histograms=dashboard_charts.histograms(pred_rows),
    )


def _distributions(last: dict[str, Any], shown: str) -> dict[str, Any]:
    """The newest run's reference and recent distributions: their table, chart and what to
    say of a side that is missing or empty."""
    details, version = last["details"], last["model_version"]
    doc = details.get("histogram")
    if doc is not None:
        rows = dashboard_charts.distribution_rows(doc)
    elif details.get("distribution"):  # a run recorded before the histograms: shares only
        rows = dashboard_charts.legacy_rows(details["distribution"])
    else:
        rows = []
    notes = []
    if doc is None and rows:
        notes.append("This run recorded the shares on the reference's PSI bins only.")
    elif doc is None:
        notes.append("This run recorded no distribution of the column.")
    else:
        sides = (("reference", f"the training rows of v{version}"),
                 ("current", "the newest run's new rows"))  # fmt: skip
        for side, words in sides:
            data, said = doc.get(side), words[0].upper() + words[1:]
            if data is None:
                notes.append(f"{said} have no column {shown}.")
            elif not data["rows"]:
                notes.append(f"{said} have no rows.")
            elif data["missing"] == data["rows"]:
                notes.append(f"All {data['rows']:,} values of {words} are missing.")
        if doc.get("approximate"):
            notes.append(
                "The reference's counts come from its profile's quantile sketch: "
                "each bin is within the sketch's error of the exact count."
            )
        if doc.get("others"):
            notes.append(f"{doc['others']:,} less frequent categories are grouped as others.")
    chart = dashboard_charts.distribution_chart(
        rows, f"reference (training, v{version})", "recent (newest run)"
    )
    return {"rows": rows, "chart": chart, "notes": notes}


@bp.get("/drift/<path:feature>")
def feature(feature: str) -> str | tuple[str, int]:
    """One column's reference and recent distribution, and its drift over the runs of the
    range."""
    window = _range()
    conn = get_connection()
    history = dashboard.feature_history(conn, feature, window.start, window.end)
    if not history:
        return problem(404, f"no drift result of column {feature[:80]!r} in {window.words}")
    for row in history:
        row["level"] = _effect_level(row)
        row["label"] = charts.short_time(row["created_at"])
    last = history[-1]
    numeric = last["kind"] == "numeric"
    series = (
        ("reference_mean", "new_mean")
        if numeric
        else ("reference_missing_share", "new_missing_share")
    )
    dist = charts.chart(
        "line", [r["label"] for r in history],
        [{"label": name.replace("_", " "), "type": "line", "palette": i,
          "data": [r["details"].get(name) for r in history]} for i, name in enumerate(series)],
        [f"/runs/{r['run_id']}" for r in history], title="value",
    )  # fmt: skip
    effect = charts.chart(
        "bar", [r["label"] for r in history],
        [{"label": "effect size", "data": [r["effect_size"] for r in history],
          "levels": [r["level"] for r in history]}],
        [f"/runs/{r['run_id']}" for r in history], min=0, title="effect size",
    )  # fmt: skip
    training = dashboard.training_run(conn, last["model_version"])
    return _page(
        "dashboard/feature.html",
        window,
        feature=feature,
        shown=OUTPUTS.get(feature, feature),
        history=history,
        last=last,
        numeric=numeric,
        dist=dist,
        effect=effect,
        shapes=_distributions(last, OUTPUTS.get(feature, feature)),
        reference=dashboard.column_stats(conn, training, "training", feature),
        recent=dashboard.column_stats(conn, last["run_id"], "new", feature),
    )
