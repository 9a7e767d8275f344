"""The OpenAPI document's part for past predictions: GET /past-predictions, its parameters (as
`pipeline.predictions.params` checks them, so that every request the document allows is
answered and every other one refused) and the PastPredictions schema."""

from __future__ import annotations

from typing import Any

from pipeline.predictions import CURSOR_PATTERN, DEFAULT_LIMIT, MAX_INT, SOURCE_FILTERS

NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
# A time parameter as `pipeline.predictions.parse_time` reads it: an ISO 8601 date and time, or
# a date alone (its midnight, UTC).
TIME_PARAMETER: dict[str, Any] = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}]
}


def _query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


def parameters(page_limit: int) -> list[dict[str, Any]]:
    """The query parameters; `page_limit` is the setting predict.page_limit."""
    return [
        _query(
            "start",
            "Predictions made at or after this time (ISO 8601; without an offset, UTC; a date "
            "alone: its midnight).",
            TIME_PARAMETER,
        ),
        _query(
            "end",
            "Predictions made before this time (ISO 8601; without an offset, UTC; a date alone: "
            "its midnight, so none of that day). At or before `start`: an empty page.",
            TIME_PARAMETER,
        ),
        _query(
            "source",
            "Who asked: scheduled (`riskwatch predict` and the run), api, webapp, diagnostics "
            "(the run's test file), or all.",
            {"type": "string", "enum": list(SOURCE_FILTERS), "default": "all"},
        ),
        _query(
            "model_version",
            "Only the predictions of this model version.",
            {"type": "integer", "minimum": 1, "maximum": MAX_INT},
        ),
        _query(
            "limit",
            f"Predictions per page, newest first (1 to {page_limit}: setting predict.page_limit).",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": page_limit,
                "default": min(DEFAULT_LIMIT, page_limit),
            },
        ),
        _query(
            "cursor",
            "The `next_cursor` of the page before (opaque); the same filters should be sent "
            "with it.",
            {"type": "string", "pattern": f"^{CURSOR_PATTERN}$"},
        ),
    ]


def paths(page_limit: int) -> dict[str, Any]:
    """GET /past-predictions."""
    ok = {
        "description": "A page of predictions, newest first.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/PastPredictions"}},
            # A browser (Accept: text/html above application/json) gets the page instead.
            "text/html": {"schema": {"type": "string"}},
        },
    }
    errors = {
        "400": {"$ref": "#/components/responses/BadRequest"},
        "503": {"$ref": "#/components/responses/ServiceUnavailable"},
        "default": {"$ref": "#/components/responses/Error"},
    }
    return {
        "/past-predictions": {
            "get": {
                "summary": "Past predictions of every source with their features, newest "
                "first, a page at a time (keyset: pass `next_cursor` as `cursor`). A bad "
                "parameter is a 400 naming it in `parameter`.",
                "parameters": parameters(page_limit),
                "responses": {"200": ok, **errors},
            }
        }
    }


PAST_PREDICTION = {
    "type": "object",
    "required": [
        "id",
        "created_at",
        "source",
        "model_version",
        "run_id",
        "event_time",
        "prediction",
        "label",
        "probability",
        "probabilities",
        "actual",
        "features",
        "file",
        "ids",
    ],
    "properties": {
        "id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time", "description": "When predicted."},
        "source": {"type": "string", "enum": [s for s in SOURCE_FILTERS if s != "all"]},
        "model_version": {"type": "integer"},
        "run_id": {"type": ["string", "null"], "description": "The run that predicted it."},
        "event_time": {**NULLABLE_TIME, "description": "The row's data.timestamp_column."},
        "prediction": {"type": ["number", "null"], "description": "Null for a text class."},
        "label": {"type": ["string", "null"], "description": "The class, as text."},
        "probability": {"type": ["number", "null"], "description": "P(positive class)."},
        "probabilities": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "number"},
            "description": "{class: probability}.",
        },
        "actual": {"type": ["number", "null"], "description": "The label (diagnostics)."},
        "features": {
            "type": ["object", "null"],
            "description": "The model's features of the row; null with `features_error` when "
            "its ingested file cannot be read.",
        },
        "features_error": {"type": "string"},
        "file": {
            "description": "For a scheduled prediction: the ingested file and its row.",
            "oneOf": [
                {"type": "null"},
                {
                    "type": "object",
                    "required": ["id", "name", "sha256", "row_number"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "sha256": {"type": "string"},
                        "row_number": {"type": "integer", "description": "0-based."},
                    },
                },
            ],
        },
        "ids": {
            "type": ["array", "null"],
            "items": {"type": "string"},
            "description": "The row's data.id_columns values, as text.",
        },
    },
}

SCHEMAS = {
    "PastPrediction": PAST_PREDICTION,
    "PastPredictions": {
        "type": "object",
        "required": ["predictions", "next_cursor", "limit"],
        "properties": {
            "predictions": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/PastPrediction"},
            },
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass it as `cursor` for the next page; null on the last one.",
            },
            "limit": {"type": "integer"},
        },
    },
}
