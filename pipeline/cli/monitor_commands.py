"""Sub-commands of production monitoring, the API's two documents read from the shell:
`prediction-summary` (`GET /predictions/summary`: prediction health per period, with its alerts)
and `performance` (`GET /performance`: realised and estimated performance per period side by
side). The same options as the API's query parameters, refused by their names."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.root import emit, engine_command, main, read, settings_of

if TYPE_CHECKING:
    from pipeline.predictions import PageQuery

_WINDOW = (
    click.option("--since", help="Periods starting at or after this time (ISO 8601; UTC if bare)."),
    click.option("--until", help="Periods starting before this time (ISO 8601; UTC if bare)."),
    click.option("--model-version", help="Only this model version."),
)


def _window(options: Any) -> Any:
    for option in reversed(_WINDOW):
        options = option(options)
    return options


def _checked(since: str | None, until: str | None, version: str | None, source: str) -> PageQuery:
    """The options as the past-predictions query checks them, a bad one named by its option."""
    from pipeline.cli.prediction_commands import checked_query

    return checked_query(start=since, end=until, source=source, model_version=version, max_limit=1)


def _shares(doc: dict[str, Any]) -> str:
    if doc["positive_share"] is not None:
        return f"P({doc['positive_label']}) share {doc['positive_share']:.3f}"
    if doc["class_shares"]:
        return ", ".join(f"{c} {s:.3f}" for c, s in sorted(doc["class_shares"].items()))
    if doc["mean"] is not None:
        std = "" if doc["std"] is None else f" ± {doc['std']:.4g}"
        return f"mean {doc['mean']:.4g}{std}"
    return ""


def _summary_text(doc: dict[str, Any]) -> str:
    if not doc["periods"]:
        return f"no predictions in the window (period: {doc['period']})"
    lines = [f"prediction health per {doc['period']} (by {doc['time']}):"]
    for p in doc["periods"]:
        lines.append(
            f"  {p['period_start'][:10]}  v{p['model_version']}  {p['count']:,} predictions  "
            f"{_shares(p)}"
        )
    for a in doc["alerts"]:
        where = f"{a['period_start'][:10]} v{a['model_version']}"
        lines.append(f"  alert {where} {a['kind']}: {a['message']}")
    return "\n".join(lines)


@engine_command(main, "prediction-summary", json="Print the summary as JSON.")
@_window
@click.option(
    "--source",
    default="all",
    show_default=True,
    help="scheduled, api, webapp, diagnostics or all.",
)
def prediction_summary(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    model_version: str | None,
    source: str,
    as_json: bool,
) -> None:
    """Prediction health per period (monitoring.period) and model version: how many, the share
    of each class or the mean, the P(positive) histogram, and the alerts recorded."""
    from pipeline import predictions as lib

    q = _checked(since, until, model_version, source)

    def summary(conn: Any, settings: Any) -> dict[str, Any]:
        doc = lib.health_summary(
            conn,
            settings,
            start=q.start,
            end=q.end,
            model_version=q.model_version,
            source=None if q.source == "all" else q.source,
        )
        doc["start"] = _iso(q.start)
        doc["end"] = _iso(q.end)
        return doc

    emit(read(ctx, summary), as_json, _summary_text)


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _value(side: dict[str, Any] | None) -> str:
    if side is None or side["value"] is None:
        return "—"
    interval = "" if side["ci_low"] is None else f" [{side['ci_low']:.3f}, {side['ci_high']:.3f}]"
    return f"{side['value']:.3f}{interval}"


def _performance_text(doc: dict[str, Any]) -> str:
    if not doc["periods"]:
        return f"no realised or estimated {doc['metric']} in the window (period: {doc['period']})"
    lines = [f"{doc['metric']} per {doc['period']}: realised, estimated (error)"]
    for p in doc["periods"]:
        est = p["estimated"]
        flag = "" if est is None or est["reliable"] in (None, True) else "  unreliable"
        error = "" if p["estimation_error"] is None else f"  ({p['estimation_error']:+.3f})"
        lines.append(
            f"  {p['period_start'][:10]}  v{p['model_version']}  realised {_value(p['realised'])}"
            f"  estimated {_value(est)}{error}{flag}"
        )
    return "\n".join(lines)


@engine_command(main, "performance", json="Print the periods as JSON.")
@_window
@click.option("--metric", help="The metric (default: model.metric).")
def performance(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    model_version: str | None,
    metric: str | None,
    as_json: bool,
) -> None:
    """Realised and estimated performance of one metric per period and model version, side by
    side, with the estimation error once the labels of a period have arrived."""
    from pipeline.settings import table
    from pipeline.storage import performance as stored

    q = _checked(since, until, model_version, "all")
    settings = settings_of(ctx)
    metrics = table.task_metrics(settings["model.task"])
    chosen = settings["model.metric"] if metric is None else metric
    if chosen not in metrics:
        raise click.BadParameter(
            f"must be one of {', '.join(metrics)} (model.task {settings['model.task']!r}), "
            f"got {chosen[:40]!r}",
            param_hint="--metric",
        )

    def document(conn: Any, settings: Any) -> dict[str, Any]:
        return stored.performance_document(
            conn,
            settings["monitoring.period"],
            chosen,
            start=q.start,
            end=q.end,
            model_version=q.model_version,
        )

    emit(read(ctx, document), as_json, _performance_text)
