"""The OpenAPI description of the dashboards (issue 13): the overview, data quality, drift and
one feature's drift, HTML pages over a time range whose bad query parameter is a 400 page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.openapi_predictions import TIME_PARAMETER
from pipeline.vocabulary import CRITICALITIES

_RANGE_PARAMS = (
    ("range", "day, week, month (the last one; default dashboard.range) or custom."),
    ("from", "A custom range's start: an ISO 8601 date or time (UTC without an offset)."),
    ("to", "A custom range's end (a date: that whole day); default now."),
)


# As app.dashboard_params reads them: an empty value (a form's field left blank) is one not
# given, and a time is an ISO 8601 date or date and time. What no schema of a parameter can say
# is checked by the pages (a 400 naming it): a custom range needs `from`, and `to` after it.
_TIME = {"anyOf": [*TIME_PARAMETER["anyOf"], {"type": "string", "maxLength": 0}]}
_SCHEMAS: dict[str, dict[str, Any]] = {
    "range": {"type": "string", "enum": ["day", "week", "month", "custom", ""]},
    "from": _TIME,
    "to": _TIME,
}


def _query_param(name: str, description: str) -> dict[str, Any]:
    schema = _SCHEMAS.get(name, {"type": "string"})
    return {"name": name, "in": "query", "description": description, "schema": schema}


def paths(errors: Callable[..., dict[str, Any]], html: dict[str, Any]) -> dict[str, Any]:
    """The dashboards' paths; `errors` gives the error responses by code, `html` a page."""
    bad = {"description": "A page naming the bad query parameter.", "content": html["content"]}
    down = {"description": "A page saying what to do (migrate, start the database).",
            "content": html["content"]}  # fmt: skip
    ranged = [_query_param(name, text) for name, text in _RANGE_PARAMS]

    missing = {"description": "A page saying which column has no drift result in the range.",
               "content": html["content"]}  # fmt: skip

    def page(summary: str, *extra: dict[str, Any], not_found: bool = False) -> Any:
        responses = {"200": html, "400": bad, **errors()}
        if not_found:
            responses["404"] = missing
        return {
            "get": {
                "summary": summary,
                "tags": ["pages"],
                "parameters": [*ranged, *extra],
                "responses": {**responses, "503": down},
            }
        }

    return {
        "/": page(
            "Overview: the production model, the last run's verdict (the run page's and the "
            "PDF's sentence), and realised and estimated "
            "performance, drifted share, invalid-row share and predictions over a time range, "
            "coloured by the dashboard.* thresholds."
        ),
        "/quality": page(
            "Data quality: valid and invalid rows, problems per error type, files rejected "
            "whole, and the checked files with links to their reports.",
            _query_param("name", "File names containing this text."),
            {
                **_query_param("criticality", "low, medium, high, or none (clean files)."),
                "schema": {"type": "string", "enum": [*CRITICALITIES, "none", ""]},
            },
        ),
        "/drift": page(
            "Drift and predictions: effect size per feature and run (a heatmap), prediction "
            "and label drift, predicted class shares and P(positive) over time."
        ),
        "/drift/{feature}": page(
            "One column (or __prediction__, __target__): its reference (the production "
            "version's training profile) and recent (the newest run of the range) distributions "
            "on the same bins, or their top categories with the others grouped and the missing "
            "values apart, as a chart and a table; its means, effect size, PSI and adjusted "
            "p-value per run. A column with no drift result in the range is a 404 page.",
            {
                "name": "feature",
                "in": "path",
                "required": True,
                "description": "The column's name, as the drift results record it (it may hold "
                "a slash).",
                "schema": {"type": "string"},
            },
            not_found=True,
        ),
    }
