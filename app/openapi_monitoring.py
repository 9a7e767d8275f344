"""The OpenAPI document's part for performance over time: GET /performance, realised and
estimated values per period side by side (app.monitoring)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipeline.predictions import MAX_INT
from pipeline.settings import table as settings_table

_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
    "default": {"$ref": "#/components/responses/Error"},
}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def paths(metrics: Sequence[str] | None = None) -> dict[str, Any]:
    """GET /performance; `metrics`, the ones it takes (model.task's), by default all."""
    time = {"type": "string", "format": "date-time"}  # a date is taken too, as its midnight
    if metrics is None:
        metrics = [*settings_table.CLASSIFICATION_METRICS, *settings_table.REGRESSION_METRICS]
    ok = {
        "description": "Realised and estimated values over time.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Performance"}}},
    }
    return {
        "/performance": {
            "get": {
                "summary": "Realised and estimated performance per period (monitoring.period) "
                "and model version, side by side with the estimation error: one metric, by "
                "default model.metric. A bad parameter is a 400 naming it in `parameter`.",
                "parameters": [
                    _query(
                        "start",
                        "Periods starting at or after this time (ISO 8601; UTC without an offset).",
                        time,
                    ),
                    _query(
                        "end",
                        "Periods starting before this time. An end at or before the start: no "
                        "period.",
                        time,
                    ),
                    _query(
                        "model_version",
                        "Only this model version.",
                        {"type": "integer", "minimum": 1, "maximum": MAX_INT},
                    ),
                    _query(
                        "metric",
                        "The metric (one of model.task's); default model.metric.",
                        {"type": "string", "enum": list(metrics)},
                    ),
                ],
                "responses": {"200": ok, **_ERRORS},
            }
        }
    }


SCHEMAS: dict[str, Any] = {
    "Performance": {
        "type": "object",
        "description": "One metric per period (monitoring.period, UTC) and model version: the "
        "realised value from labels that arrived (its newest computation) beside the estimate "
        "made without them (the newest run's), with the estimation error (estimate - realised) "
        "once both exist.",
        "required": ["period", "metric", "periods"],
        "properties": {
            "period": {"enum": ["day", "week", "month"]},
            "metric": {"type": "string"},
            "start": {"type": ["string", "null"], "format": "date-time"},
            "end": {"type": ["string", "null"], "format": "date-time"},
            "periods": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["period_start", "model_version", "realised", "estimated"],
                    "properties": {
                        "period_start": {"type": "string", "format": "date-time"},
                        "model_version": {"type": "integer"},
                        "realised": {
                            "type": ["object", "null"],
                            "properties": {
                                "value": {"type": ["number", "null"]},
                                "ci_low": {"type": ["number", "null"]},
                                "ci_high": {"type": ["number", "null"]},
                                "n_rows": {"type": "integer"},
                                "run_id": {"type": "string"},
                            },
                        },
                        "estimated": {
                            "type": ["object", "null"],
                            "properties": {
                                "value": {"type": ["number", "null"]},
                                "ci_low": {"type": ["number", "null"]},
                                "ci_high": {"type": ["number", "null"]},
                                "n_rows": {"type": "integer"},
                                "reliable": {"type": "boolean"},
                                "reason": {"type": ["string", "null"]},
                                "run_id": {"type": "string"},
                            },
                        },
                        "estimation_error": {"type": ["number", "null"]},
                    },
                },
            },
        },
    },
}
