"""The OpenAPI 3.1 document served at /openapi.json (its component schemas: app.openapi_schemas).

A test compares its paths and methods with the app's URL map, and checks every error response
against the one error shape, so the document cannot drift from the routes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any

from app import (
    openapi_models,
    openapi_monitoring,
    openapi_ops,
    openapi_pages,
    openapi_predict_pages,
    openapi_predictions,
    openapi_signin,
)
from app.openapi_schemas import LIMIT, SCHEMAS, prediction_request, record_schema
from app.openapi_schemas import ref as _ref
from app.roles import ROUTE_ROLES, UNDECIDED
from pipeline.storage.tokens import allows

if TYPE_CHECKING:
    from pipeline.model.features import FeatureSpec

__all__ = ["ERROR_REF", "SCHEMAS", "document"]

ERROR_REF = "#/components/schemas/Error"


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    """Error responses by code, plus `default` (405, 500, ...), all in the one error shape."""
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        408: "RequestTimeout",
        413: "PayloadTooLarge",
        415: "UnsupportedMediaType",
        429: "TooManyRequests",
        503: "ServiceUnavailable",
    }
    out: dict[str, Any] = {str(c): {"$ref": f"#/components/responses/{names[c]}"} for c in codes}
    out["default"] = {"$ref": "#/components/responses/Error"}
    return out


DATASET = {
    "name": "dataset",
    "in": "query",
    "required": False,
    "description": "training: the rows the production model was trained on; latest: the newest "
    "run's new rows; test: the test file, as the newest run that read it saw it.",
    "schema": {"type": "string", "enum": ["training", "latest", "test"], "default": "training"},
}

RUN_ID = {
    "name": "run_id",
    "in": "path",
    "required": True,
    "description": "The run's id: 32 lowercase hex digits (any other is a 404).",
    "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
}


def _time(name: str, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{what} (ISO 8601 date or time; without an offset, UTC). An end at "
        "or before the start: no period.",
        "schema": {"type": "string", "format": "date-time"},
    }


def _get(summary: str, ok: dict[str, Any], *errors: int, **extra: Any) -> dict[str, Any]:
    return {"get": {"summary": summary, **extra, "responses": {"200": ok, **_errors(*errors)}}}


def _or_page(ok: dict[str, Any]) -> dict[str, Any]:
    """A JSON answer that a browser gets as a page (app.negotiate)."""
    return {**ok, "content": {**ok["content"], "text/html": {"schema": {"type": "string"}}}}


def _error_response(description: str) -> dict[str, Any]:
    return _json({"$ref": ERROR_REF}, description)


RESPONSES = {
    "BadRequest": _error_response("Bad input: malformed JSON, a bad record or parameter."),
    "NotFound": _error_response("No such route, run or report."),
    "RequestTimeout": _error_response(
        "The body did not arrive within api.body_timeout_seconds (under gunicorn)."
    ),
    "PayloadTooLarge": _error_response("The body is larger than api.max_request_bytes."),
    "UnsupportedMediaType": _error_response("The body is not sent as application/json."),
    "ServiceUnavailable": _error_response(
        "The database is unreachable or not migrated, or no verified production model is "
        "deployed yet."
    ),
    "Error": _error_response("Any other error (405 wrong method, 500 internal error)."),
    "Unauthorized": {
        **_error_response("No token where one is needed, or a token that is unknown or revoked."),
        "headers": {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer realm=..."}
        },
    },
    "Forbidden": _error_response("The token's role is below the one the route needs."),
    "TooManyRequests": {
        **_error_response(
            "Over api.requests_per_minute, or POST /prediction over api.predictions_per_day "
            "(per token; anonymous clients share one count)."
        ),
        "headers": {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds until the count starts again (absent when the request "
                "alone is over the daily cap).",
            }
        },
    },
}

SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token (`riskwatch token create --name N --role read|predict|"
        "admin`) in `Authorization: Bearer <token>`. Roles: read (every GET), predict (also "
        "POST /prediction), admin (everything). Each operation's `x-riskwatch-role` is the "
        "least role it needs.",
    }
}


def document(
    anonymous_role: str | None = None,
    features: FeatureSpec | None = None,
    max_records: int | None = None,
    page_limit: int = 1000,
    metrics: Sequence[str] | None = None,
    keys: tuple[Sequence[str], str | None] = ((), None),
) -> dict[str, Any]:
    """Return the OpenAPI document; `anonymous_role`: what a request without a token may do
    in this app (app.auth's policy), None when every protected route needs a token. With the
    production model's `features`, its Record schema names them, all required (without, any
    record is described), and with `max_records` the request says how many records it may
    carry (setting api.max_records); `page_limit` is the largest page of past predictions
    (setting predict.page_limit); `metrics`, those GET /performance takes (model.task's; by
    default every supported one); `keys`, the id columns and the event-time column (settings
    data.id_columns, data.timestamp_column), which a record may hold besides its features."""
    schemas = {**SCHEMAS, **openapi_predictions.SCHEMAS, **openapi_monitoring.SCHEMAS}
    if features is not None:
        schemas["Record"] = record_schema(
            features.numeric,
            features.categorical,
            nullable=features.preprocessing != "none",
            keys=keys,
        )
    if max_records is not None:
        schemas["PredictionRequest"] = prediction_request(max_records)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "riskwatch",
            "version": _version(),
            "description": "Predictions from the production model and what riskwatch's runs "
            "recorded. Every error has the shape of the Error schema.",
        },
        "paths": _secured(
            {
                **_page_paths(),
                **_prediction_paths(),
                **openapi_predictions.paths(page_limit),
                **openapi_predict_pages.paths(page_limit, max_records),
                **openapi_monitoring.paths(metrics),
                **_record_paths(),
                **_run_paths(),
                **openapi_models.paths(),
                **openapi_ops.paths(),
            },
            anonymous_role,
        ),
        "components": {
            "schemas": schemas,
            "responses": RESPONSES,
            "securitySchemes": SECURITY_SCHEMES,
        },
        "security": [{"bearer": []}],
    }


def _secured(paths: dict[str, Any], anonymous_role: str | None) -> dict[str, Any]:
    """Each operation with its security (none for public ones; a token optional for what an
    anonymous client may call) and its 401, 403 and 429 responses."""
    roles = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule), method.lower()): role
        for (rule, method), role in ROUTE_ROLES.items()
    }
    for path, ops in paths.items():
        for method, op in ops.items():
            role = roles.get((path, method), UNDECIDED)
            if role is None:
                op["security"] = []
                continue
            anonymous = anonymous_role is not None and role != "admin"
            anonymous = anonymous and allows(anonymous_role or "read", role)
            op["security"] = [{"bearer": []}, *([{}] if anonymous else [])]
            op["x-riskwatch-role"] = role
            codes = (401, 429) if role == "read" else (401, 403, 429)
            errors = {k: v for k, v in _errors(*codes).items() if k != "default"}
            op["responses"] = {**op["responses"], **errors}
    return paths


def _version() -> str:
    """The installed riskwatch's version."""
    try:
        return metadata.version("riskwatch")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def _path_param(
    name: str, schema: dict[str, Any], description: str | None = None
) -> dict[str, Any]:
    """A required path parameter."""
    param: dict[str, Any] = {"name": name, "in": "path", "required": True}
    if description is not None:
        param["description"] = description
    return {**param, "schema": schema}


def _page_paths() -> dict[str, Any]:
    """The HTML pages and their static files."""
    html = {
        "description": "An HTML page.",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
    return {
        **openapi_pages.paths(_errors, html),
        **openapi_signin.paths(html),
        "/static/{filename}": {
            "get": {
                "summary": "Static files of the pages (style sheet).",
                "tags": ["pages"],
                "parameters": [_path_param("filename", {"type": "string"})],
                "responses": {
                    "200": {"description": "The file.", "content": {"*/*": {}}},
                    **_errors(404),
                },
            }
        },
    }


def _prediction_paths() -> dict[str, Any]:
    """POST /prediction."""
    return {
        "/prediction": {
            "post": {
                "summary": "Predict with the production model; every prediction is recorded "
                "with its features, the model version and source 'api' ('webapp' for a "
                "browser signed in by its session cookie; a body asking for 'webapp' without "
                "one is a 400).",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("PredictionRequest")}},
                },
                "responses": {
                    "200": _json(_ref("PredictionResponse"), "One prediction per record."),
                    **_errors(400, 408, 413, 415, 503),
                },
            }
        },
    }


def _record_paths() -> dict[str, Any]:
    """What the runs recorded about the model and the data, read from the database."""
    return {
        "/scoring": _get(
            "The production model's latest recorded scores (never computed per request).",
            _json(_ref("Scoring"), "Scores of the production model."),
            503,
        ),
        "/summarystats": _get(
            "Mean, median, std, min and max per numeric feature of one data set; by default "
            "the production model's training rows.",
            _json(_ref("SummaryStats"), "Rows of feature_stats."),
            400,
            503,
            parameters=[DATASET],
        ),
        "/diagnostics": _get(
            "Step timings of the latest run, missing values, outdated packages, library versions.",
            _json(_ref("Diagnostics"), "The latest diagnostics."),
            503,
        ),
        "/predictions/summary": _get(
            "Prediction health per period and model version: the count, the share of each "
            "class (or mean and spread), the P(positive) histogram, the baseline, and the "
            "alerts recorded (a single class, a moved positive share).",
            _json(_ref("PredictionSummary"), "The periods' health and alerts."),
            400,
            503,
            parameters=[
                _time("start", "Periods of predictions at or after this time"),
                _time("end", "Predictions before this time"),
                {
                    "name": "model_version",
                    "in": "query",
                    "required": False,
                    "description": "Only this model version's predictions.",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                },
                {
                    "name": "source",
                    "in": "query",
                    "required": False,
                    "description": "Only predictions of this source (all: every source).",
                    "schema": {
                        "type": "string",
                        "enum": ["scheduled", "api", "webapp", "diagnostics", "all"],
                        "default": "all",
                    },
                },
            ],
        ),
        "/apireturns": _get(
            "What `riskwatch apicalls` recorded, newest first.",
            _json(_ref("ApiReturns"), "Rows of api_returns."),
            400,
            503,
            parameters=[LIMIT],
        ),
    }


def _run_paths() -> dict[str, Any]:
    """The runs, their reports, the quality pages, and the service's own routes."""
    file_id = _path_param(
        "file_id",
        {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
        "The id of the file's quality verdict (quality_files.id; any other is a 404).",
    )
    return {
        "/runs": _get(
            "Runs, newest first; a browser (Accept: text/html first) gets the runs page, paged "
            "by `after` with `status`, `kind`, `quiet` and `limit` filters.",
            _or_page(_json(_ref("RunList"), "The runs.")),
            400,
            503,
            parameters=[LIMIT],
        ),
        "/runs/{run_id}": _get(
            "Everything recorded about one run; a browser gets its page.",
            _or_page(_json(_ref("Run"), "The run.")),
            404,
            503,
            parameters=[RUN_ID],
        ),
        "/runs/{run_id}/report.pdf": _get(
            "The run's PDF report.",
            {
                "description": "The PDF.",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            },
            404,
            503,
            parameters=[RUN_ID],
        ),
        "/quality/{file_id}.html": _get(
            "The HTML data-quality report of one checked source file (alerts link here).",
            {"description": "The page.", "content": {"text/html": {"schema": {"type": "string"}}}},
            404,
            503,
            parameters=[file_id],
        ),
        "/health": _get(
            "Is the database reachable and migrated; which model is in production.",
            _json(_ref("Health"), "Healthy."),
            503,
        ),
        "/openapi.json": _get(
            "This document.",
            _json({"type": "object"}, "The OpenAPI 3.1 document."),
        ),
    }
