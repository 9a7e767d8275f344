"""GET /past-predictions: every recorded prediction, newest first, a keyset page at a time, each
with its features (issue 12). The parameters are checked by `pipeline.predictions` (a bad one
is a 400 naming it, in the API's one error shape); the reads are `pipeline.predictions.page`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from app import get_connection, state
from app.api import ApiError
from pipeline import predictions

bp = Blueprint("past_predictions", __name__)

PARAMETERS = ("start", "end", "source", "model_version", "limit", "cursor")


@bp.get("/past-predictions")
def past_predictions() -> dict[str, Any]:
    """A page of past predictions with their features; `next_cursor` asks for the next one."""
    settings = state().settings
    given = {name: request.args.get(name) for name in PARAMETERS}
    try:
        query = predictions.page_query(**given, max_limit=settings["predict.page_limit"])
    except predictions.BadParameter as exc:
        raise ApiError(400, str(exc), parameter=exc.parameter) from exc
    found = predictions.page(get_connection(), settings.path("paths.ingested"), query)
    return {
        "predictions": found.predictions,
        "next_cursor": found.next_cursor,
        "limit": query.limit,
    }
