"""The OpenAPI document's part for the model pages (app.model_pages): HTML for a browser.

Their refusals are pages too (a 400 naming the parameter, a 404, a 409 when production moved
since a rollback was confirmed); routing errors (405) answer in the API's error shape.
"""

from __future__ import annotations

from typing import Any

from pipeline.predictions import MAX_INT

_PAGE: dict[str, Any] = {"text/html": {"schema": {"type": "string"}}}
_HTML = {"description": "An HTML page.", "content": _PAGE}
# A refusal of these pages (a bad or unknown version, a moved production, a missing role) is a
# page; the app's own refusals before the view (a token, a limit) keep the JSON error shape.
_REFUSED = {"description": "A page saying why, naming the parameter where one was bad.",
            "content": _PAGE}  # fmt: skip
# A path that is no version at all (/models/x) is the app's routing 404, in the JSON shape.
_NOT_FOUND = {"description": "A page for an unknown version; the JSON error for a path that "
              "names no version.", "content": {**_PAGE, "application/json": {
                  "schema": {"$ref": "#/components/schemas/Error"}}}}  # fmt: skip
_DEFAULT = (
    {code: _REFUSED for code in ("400", "403", "409")}
    | {"404": _NOT_FOUND}
    | {"default": {"$ref": "#/components/responses/Error"}}
)
_VERSION = {"type": "integer", "minimum": 1, "maximum": MAX_INT}


def _page(summary: str, parameters: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": ["pages"]}
    if parameters:
        op["parameters"] = parameters
    return {**op, "responses": {"200": _HTML, **_DEFAULT}}


def _param(name: str, where: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": where, "required": True, "description": description,
            "schema": _VERSION}  # fmt: skip


def paths() -> dict[str, Any]:
    """GET /models, /models/{version}, /models/compare; GET and POST /models/rollback."""
    form = {
        "type": "object",
        "required": ["from", "to"],
        "properties": {
            "from": {**_VERSION, "description": "The production version the rollback was "
                     "confirmed from: refused (409) when production is another one now."},
            "to": {**_VERSION, "description": "The version to put back in production."},
            "reason": {"type": "string", "maxLength": 500},
            "csrf_token": {"type": "string", "description": "Required when signed in by the "
                           "session cookie."},
        },
    }  # fmt: skip
    rollback = _page(
        "Roll back: production moved to `to` (the registry verifies its artifact first); the "
        "page of that version. A bad field is a 400 page naming it."
    )
    rollback["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": form}},
    }
    return {
        "/models": {
            "get": _page(
                "HTML: every model version with its recorded score (each on its own holdout), "
                "and the deployments history."
            )
        },
        "/models/{version}": {
            "get": _page(
                "HTML: one version: score, training window and files, contract, deployments, "
                "scores. An unknown version is a 404 page.",
                [_param("version", "path", "The model version.")],
            )
        },
        "/models/compare": {
            "get": _page(
                "HTML: two versions side by side, with their scores on the same rows where a "
                "run scored both. A bad or unknown version is a 400 or 404 page naming it.",
                [_param("a", "query", "One version."), _param("b", "query", "The other.")],
            )
        },
        "/models/rollback": {
            "get": _page(
                "HTML: asks 'roll back from vN to vM?' with the form that does it (admin).",
                [_param("to", "query", "The version to put back in production.")],
            ),
            "post": rollback,
        },
    }
