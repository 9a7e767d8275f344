"""The JSON API of production monitoring (issue 12): `GET /predictions/summary`, the prediction
health per period (`pipeline.predictions.health_summary`), and `GET /performance`, realised and
estimated performance per period side by side (`pipeline.storage.performance`).

Errors leave through `app.api`'s handlers, in the one error shape; a bad query parameter is a
400 that names it (`parameter`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Blueprint, request

from app import get_connection, state
from app.api import ApiError
from pipeline import predictions
from pipeline.settings import table as settings_table
from pipeline.storage import performance

bp = Blueprint("monitoring", __name__)

SOURCE_CHOICES = tuple(predictions.SOURCE_FILTERS)  # the sources, and "all"


def _time_param(name: str) -> datetime | None:
    """An ISO 8601 date or time; without an offset it is UTC (as GET /past-predictions)."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return predictions.parse_time(name, raw)
    except predictions.BadParameter as exc:
        raise ApiError(400, str(exc), parameter=exc.parameter) from exc


def _version_param() -> int | None:
    raw = request.args.get("model_version")
    if raw is None:
        return None
    if not re.fullmatch(r"[0-9]{1,10}", raw) or not 1 <= int(raw) <= predictions.MAX_INT:
        raise ApiError(
            400,
            f"query parameter 'model_version' must be a version number (1 to "
            f"{predictions.MAX_INT}), got {raw[:40]!r}",
            parameter="model_version",
        )
    return int(raw)


def _source_param() -> str | None:
    raw = request.args.get("source", "all")
    if raw not in SOURCE_CHOICES:
        raise ApiError(
            400,
            f"query parameter 'source' must be one of {', '.join(SOURCE_CHOICES)}, "
            f"got {raw[:40]!r}",
            parameter="source",
        )
    return None if raw == "all" else raw


def _window() -> tuple[datetime | None, datetime | None]:
    start, end = _time_param("start"), _time_param("end")
    # An end at or before the start is an empty window (as GET /past-predictions): no periods.
    return start, end


@bp.get("/predictions/summary")
def predictions_summary() -> dict[str, Any]:
    """Prediction health per period (monitoring.period) and model version, with its alerts."""
    start, end = _window()
    version, source = _version_param(), _source_param()
    doc = predictions.health_summary(
        get_connection(),
        state().settings,
        start=start,
        end=end,
        model_version=version,
        source=source,
    )
    doc["start"] = None if start is None else start.isoformat()
    doc["end"] = None if end is None else end.isoformat()
    return doc


@bp.get("/performance")
def performance_over_time() -> dict[str, Any]:
    """Realised and estimated performance of one metric per period and model version."""
    settings = state().settings
    start, end = _window()
    version = _version_param()
    metrics = settings_table.task_metrics(settings["model.task"])
    metric = request.args.get("metric", settings["model.metric"])
    if metric not in metrics:
        raise ApiError(
            400,
            f"query parameter 'metric' must be one of {', '.join(metrics)} (model.task "
            f"{settings['model.task']!r}), got {metric[:40]!r}",
            parameter="metric",
        )
    return performance.performance_document(
        get_connection(),
        settings["monitoring.period"],
        metric,
        start=start,
        end=end,
        model_version=version,
    )
