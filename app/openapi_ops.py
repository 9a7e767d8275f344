"""The OpenAPI document's part for operations and the API's own pages (issue 13, points 10
and 8): GET /metrics (app.metrics), GET /docs and GET /apicalls (app.docs_pages)."""

from __future__ import annotations

from typing import Any

from app.openapi_schemas import LIMIT

_ERRORS = {
    "503": {"$ref": "#/components/responses/ServiceUnavailable"},
    "default": {"$ref": "#/components/responses/Error"},
}
_HTML = {"description": "An HTML page.", "content": {"text/html": {"schema": {"type": "string"}}}}


def paths() -> dict[str, Any]:
    """GET /metrics, GET /docs and GET /apicalls."""
    text = {"type": "string"}
    return {
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics: requests and latencies per route (every "
                "worker's), predictions per source and class, the production version, "
                "the last run's status and age, drifted and invalid-row shares, the estimated "
                "and realised metric.",
                "tags": ["operations"],
                "responses": {
                    "200": {
                        "description": "The Prometheus text format, version 0.0.4.",
                        "content": {"text/plain": {"schema": text}},
                    },
                    "default": _ERRORS["default"],
                },
            }
        },
        "/docs": {
            "get": {
                "summary": "HTML: this document in Swagger UI.",
                "tags": ["pages"],
                "responses": {"200": _HTML, "default": _ERRORS["default"]},
            }
        },
        "/apicalls": {
            "get": {
                "summary": "HTML: what `riskwatch apicalls` recorded, newest first, as a table.",
                "tags": ["pages"],
                "parameters": [LIMIT],
                "responses": {
                    "200": _HTML,
                    "400": {"$ref": "#/components/responses/BadRequest"},
                    **_ERRORS,
                },
            }
        },
    }
