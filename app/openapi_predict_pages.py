"""The OpenAPI document's part for the predict and past-predictions pages (issue 13): GET and
POST /predict, and GET /past-predictions.csv, the page's download."""

from __future__ import annotations

from typing import Any

from app.openapi_predictions import parameters
from app.openapi_schemas import records_body

HTML = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}
ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
    "default": {"$ref": "#/components/responses/Error"},
}
ROW_RESULT = {
    "type": "object",
    "required": ["row"],
    "properties": {
        "row": {"type": "integer", "description": "The record's 0-based place in the request."},
        "prediction": {"description": "The prediction, when the record was valid."},
        "probabilities": {
            "type": ["object", "null"],
            "additionalProperties": {"type": "number"},
            "description": "{class: probability}; null for a model without them.",
        },
        "error": {"type": "string", "description": "Why POST /prediction refuses the record."},
        "column": {"type": ["string", "null"], "description": "The feature it got wrong."},
    },
}


def rows_request(max_records: int | None) -> dict[str, Any]:
    """POST /predict's body: POST /prediction's, but any record (a bad one is its row's error)."""
    array: dict[str, Any] = {"type": "array", "items": {}, "minItems": 1}
    if max_records is not None:
        array["maxItems"] = max_records
    return records_body(array)


def _as_a_form_sends(parameter: dict[str, Any]) -> dict[str, Any]:
    """A filter of GET /past-predictions as the page's form sends it: blank (spaces or
    nothing) is the filter not set, and a time a date and time or a date (the end date: that
    whole day)."""
    schema = parameter["schema"]
    kinds = list(schema.get("anyOf", [schema]))  # a time: TIME_PARAMETER's kinds
    return {**parameter, "schema": {"anyOf": [*kinds, {"type": "string", "pattern": r"^\s*$"}]}}


def paths(page_limit: int, max_records: int | None = None) -> dict[str, Any]:
    """GET and POST /predict, GET /past-predictions.csv; `max_records`: api.max_records."""
    rows = {
        "type": "object",
        "required": ["model_version", "stored", "results"],
        "properties": {
            "model_version": {"type": "integer"},
            "stored": {"type": "integer", "description": "Predictions made and stored."},
            "results": {"type": "array", "items": ROW_RESULT},
        },
    }
    filters = [
        _as_a_form_sends(p) for p in parameters(page_limit) if p["name"] not in ("limit", "cursor")
    ]
    return {
        "/predict": {
            "get": {
                "summary": "HTML page: a form made from the production model's features and "
                "its contract, and a CSV upload read in the browser.",
                "tags": ["pages"],
                "responses": {"200": HTML, "503": ERRORS["503"]},
            },
            "post": {
                "summary": "What the predict page sends: the body of POST /prediction, answered "
                "record by record (each refused with POST /prediction's own error, the others "
                "predicted and stored, source 'webapp' when signed in by the session, else 'api'; "
                "'webapp' asked for without the session is a 400).",
                "tags": ["pages"],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": rows_request(max_records)}},
                },
                "responses": {
                    "200": {
                        "description": "One result per record, in order.",
                        "content": {"application/json": {"schema": rows}},
                    },
                    **{k: {"$ref": "#/components/responses/Error"} for k in ("408", "413", "415")},
                    **ERRORS,
                },
            },
        },
        "/past-predictions.csv": {
            "get": {
                "summary": "The predictions the past-predictions page's filters match, newest "
                "first, as CSV (at most predict.download_limit rows; an end date alone is the "
                "whole day), streamed.",
                "tags": ["pages"],
                "parameters": filters,
                "responses": {
                    "200": {"description": "CSV.", "content": {"text/csv": {}}},
                    **ERRORS,
                },
            }
        },
    }
