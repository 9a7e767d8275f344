"""GET /past-predictions: every recorded prediction, newest first, a keyset page at a time, each
with its features (issue 12). The parameters are checked by `pipeline.predictions` (a bad one
is a 400 naming it, in the API's one error shape); the reads are `pipeline.predictions.page`.

A browser asking for HTML (app.negotiate) gets the page instead (issue 13, point 7): the
filters as a form (dates, source, model version), the page's predictions with their features
and the labels that arrived for them, a link to the next page, and GET /past-predictions.csv,
the filtered predictions as a streamed CSV of at most `predict.download_limit` rows. On the
page an empty field is a filter not set, and the end date is inclusive (the whole day).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template, request

from app import get_connection, state
from app.api import ApiError
from app.negotiate import vary_on_accept, wants_html
from pipeline import predictions

bp = Blueprint("past_predictions", __name__)

PARAMETERS = ("start", "end", "source", "model_version", "limit", "cursor")
FILTERS = ("start", "end", "source", "model_version")  # what the page's links carry along
SOURCES = ("all", "webapp", "scheduled", "api", "diagnostics")  # the drop-down, in its order
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@bp.get("/past-predictions")
def past_predictions() -> Response:
    """A page of past predictions with their features; `next_cursor` asks for the next one."""
    if wants_html():
        return _page()
    settings = state().settings
    given = {name: request.args.get(name) for name in PARAMETERS}
    try:
        query = predictions.page_query(**given, max_limit=settings["predict.page_limit"])
    except predictions.BadParameter as exc:
        raise ApiError(400, str(exc), parameter=exc.parameter) from exc
    found = predictions.page(get_connection(), settings.path("paths.ingested"), query)
    body = {
        "predictions": found.predictions,
        "next_cursor": found.next_cursor,
        "limit": query.limit,
    }
    return vary_on_accept(jsonify(body))


def _given() -> dict[str, str]:
    """The page's parameters that are set (a form sends an empty field as "")."""
    return {n: v for n in PARAMETERS if (v := request.args.get(n, "").strip())}


def _page_query(given: dict[str, str], limit: int) -> predictions.PageQuery:
    """The query of the page's parameters: an end date means up to the end of that day."""
    args: dict[str, str | None] = {n: given.get(n) for n in PARAMETERS}
    query = predictions.page_query(**args, max_limit=limit)
    end = given.get("end")
    if end is not None and DATE.fullmatch(end) and query.end is not None:
        try:
            query = predictions.PageQuery(
                query.start, query.end + timedelta(days=1), query.source,
                query.model_version, query.limit, query.after,
            )  # fmt: skip
        except OverflowError:  # 9999-12-31: the end of time is no bound
            query = predictions.PageQuery(
                query.start, None, query.source, query.model_version, query.limit, query.after
            )
    return query


def _page() -> Response:
    """The HTML page: the filters, one page of predictions with their labels, its links."""
    settings = state().settings
    given = _given()
    filters = {n: given[n] for n in FILTERS if n in given}
    shown: dict[str, Any] = {"given": given, "sources": SOURCES, "problem": None}
    try:
        query = _page_query(given, settings["predict.page_limit"])
    except predictions.BadParameter as exc:
        shown.update(problem=str(exc), parameter=exc.parameter, rows=[], next_url=None)
        page = render_template("pages/past_predictions.html", **shown, csv_url=None)
        return vary_on_accept(Response(page, 400, mimetype="text/html"))
    found = predictions.page(
        get_connection(), settings.path("paths.ingested"), query, with_labels=True
    )
    next_url = None
    if found.next_cursor is not None:
        more = {**filters, "cursor": found.next_cursor}
        if "limit" in given:
            more["limit"] = given["limit"]
        next_url = f"{request.path}?{urlencode(more)}"
    page = render_template(
        "pages/past_predictions.html",
        **shown,
        rows=found.predictions,
        parameter=None,
        next_url=next_url,
        first_url=f"{request.path}?{urlencode(filters)}" if "cursor" in given else None,
        csv_url=f"/past-predictions.csv?{urlencode(filters)}",
        download_limit=settings["predict.download_limit"],
    )
    return vary_on_accept(Response(page, mimetype="text/html"))


@bp.get("/past-predictions.csv")
def download() -> Response:
    """The predictions the page's filters match, newest first, as CSV (at most
    predict.download_limit rows), streamed a page at a time."""
    settings = state().settings
    given = {n: v for n, v in _given().items() if n in FILTERS}
    try:
        query = _page_query(given, settings["predict.page_limit"])
    except predictions.BadParameter as exc:
        raise ApiError(400, str(exc), parameter=exc.parameter) from exc
    batch = min(settings["predict.page_limit"], settings["predict.download_limit"])
    query = predictions.PageQuery(query.start, query.end, query.source, query.model_version, batch)
    get_connection()  # the schema checked (503 when not ready) before the answer starts
    engine, base, most = (
        state().engine,
        settings.path("paths.ingested"),
        settings["predict.download_limit"],
    )

    def lines() -> Iterator[str]:
        # Its own connection: the request's is closed when the view returns, before the body
        # is sent.
        with engine.connect() as conn:
            yield from predictions.csv_lines(conn, base, query, max_rows=most)

    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="past-predictions.csv"'},
    )
