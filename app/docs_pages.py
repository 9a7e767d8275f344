"""The API's pages (issue 13, point 8): /docs, Swagger UI over /openapi.json, served from
app/static/vendor (no CDN); and /apicalls, what `riskwatch apicalls` recorded (the data of
GET /apireturns) as a table."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, make_response, render_template

from app import get_connection, state
from app.api import _limit_param
from app.redact import stored_paths
from pipeline.storage import reads

bp = Blueprint("docs", __name__)

# Swagger UI's own scripts and styles only: its React sets style attributes (hence
# 'unsafe-inline' for styles, not scripts); its icons are data: URLs; `validatorUrl: null` in
# app/static/js/docs.js keeps it from asking an outside validator, and connect-src forbids it.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@bp.get("/docs")
def docs() -> Response:
    """Show the API's OpenAPI document in Swagger UI, with "Try it out" against this app."""
    response = make_response(render_template("docs/swagger.html"))
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response


@bp.get("/apicalls")
def apicalls() -> str:
    """List what `riskwatch apicalls` recorded, newest first, as GET /apireturns does."""
    limit = _limit_param()
    base = state().settings.base_dir  # a recorded error may name a path of the server
    calls: list[dict[str, Any]] = []
    for r in reads.api_returns(get_connection(), limit):
        said = stored_paths({"body": r["body"], "error": r["error"]}, base)
        calls.append({**r, **said, "body_text": _shown(said["body"])})
    return render_template("docs/apicalls.html", calls=calls, limit=limit)


def _shown(body: Any) -> str:
    """A recorded answer's body as short JSON text for a table cell."""
    import json

    text = json.dumps(body, ensure_ascii=False, sort_keys=False)
    return text if len(text) <= 300 else text[:299] + "…"
