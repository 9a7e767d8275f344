"""The JSON API: predictions from the production model, and what the runs recorded.

Every error, whatever raised it, leaves through `error_response`:
`{"ok": false, "error": "<message>", "status": <code>}`, sometimes with `column` (the feature
a prediction record got wrong) or `parameter` (the query parameter that was refused).
Nothing here trains, ingests or deploys; scores and statistics are read from the database.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, jsonify, make_response, request, send_file
from werkzeug.exceptions import HTTPException, MethodNotAllowed, UnsupportedMediaType
from werkzeug.exceptions import NotFound as RouteNotFound

from app import get_connection, production_model, run_pages, state
from app.limits import anonymous_role
from app.negotiate import vary_on_accept, wants_html
from app.prediction_writes import (
    optional_for,
    predict_and_store,
    session_source,
    signed_in_by_session,
)
from app.redact import stored_paths
from app.request_body import parse_json, read_body
from pipeline import predictions
from pipeline.errors import (
    DatabaseNotReady,
    DatabaseUnreachable,
    DataError,
    ModelIntegrityError,
    NoProductionModel,
    NotFound,
    RiskwatchError,
)
from pipeline.model import registry
from pipeline.storage import blobs, reads, tables

log = logging.getLogger("riskwatch.app")

bp = Blueprint("api", __name__)

REQUEST_SOURCES = ("api", "webapp")  # what a prediction request may record itself as
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000
# /summarystats?dataset=...: the value asked for, and the dataset its rows carry in feature_stats.
SUMMARY_DATASETS = {"training": "training", "latest": "new", "test": "test"}


class ApiError(RiskwatchError):
    """An error a view raises with its status and any extra fields of the error shape."""

    def __init__(self, status: int, message: str, **extra: object) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


def error_response(status: int, message: str, **extra: object) -> Response:
    """The one error shape of the API."""
    body: dict[str, Any] = {"ok": False, "error": message, "status": status}
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    return response


# --- error handlers (registered app-wide, so routing errors answer JSON too) ----------------


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = exc.description or exc.name
    if isinstance(exc, RouteNotFound) and request.url_rule is None:
        message = f"no such route: {request.method} {request.path}"
    elif isinstance(exc, MethodNotAllowed):
        allowed = sorted(exc.valid_methods or [])
        message = f"method {request.method} is not allowed on {request.path}; allowed: " + (
            ", ".join(allowed)
        )
        response = error_response(status, message)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    elif status == 413:
        limit = state().settings["api.max_request_bytes"]
        message = f"the request body is larger than {limit} bytes (setting api.max_request_bytes)"
    return error_response(status, message)


@bp.app_errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    return error_response(exc.status, str(exc), **exc.extra)


@bp.app_errorhandler(DataError)
def _data_error(exc: DataError) -> Response:
    return error_response(400, str(exc), column=exc.column)


@bp.app_errorhandler(NotFound)
def _not_found(exc: NotFound) -> Response:
    return error_response(404, str(exc))


# 503: the service cannot answer until someone acts (migrates, runs, repairs), then it can.
@bp.app_errorhandler(DatabaseNotReady)
@bp.app_errorhandler(DatabaseUnreachable)
@bp.app_errorhandler(NoProductionModel)
@bp.app_errorhandler(ModelIntegrityError)
def _unavailable(exc: RiskwatchError) -> Response:
    return error_response(503, str(exc))


@bp.app_errorhandler(sa.exc.DBAPIError)
def _database_error(exc: sa.exc.DBAPIError) -> Response:
    log.error("database error: %s", exc)
    return error_response(503, f"the database is unavailable: {type(exc.orig).__name__}")


@bp.app_errorhandler(Exception)
def _internal_error(exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal server error")


# --- helpers -------------------------------------------------------------------------------


def _limit_param() -> int:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not re.fullmatch(r"[0-9]{1,7}", raw) or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            400,
            f"query parameter 'limit' must be an integer from 1 to {MAX_LIMIT}, got {raw[:40]!r}",
            parameter="limit",
        )
    return int(raw)


def _dataset_param() -> str:
    raw = request.args.get("dataset", "training")
    if raw not in SUMMARY_DATASETS:
        raise ApiError(
            400,
            "query parameter 'dataset' must be one of "
            f"{', '.join(SUMMARY_DATASETS)}, got {raw[:40]!r}",
            parameter="dataset",
        )
    return raw


def request_records() -> tuple[Any, str]:  # records_frame checks the records are objects
    """The records of a prediction request (a JSON array, or the array under "records") and
    the source to record them under: "webapp" for a request signed in by its session cookie
    (the pages'), whatever it asks; else "api", and a 400 for one asking to be "webapp"."""
    if not request.is_json:
        raise UnsupportedMediaType(
            f"expected Content-Type: application/json, got {request.mimetype or 'none'}"
        )
    settings = state().settings
    raw = read_body(request.environ, settings["api.max_request_bytes"])
    if not raw.strip():
        raise DataError(
            'the request body is empty; expected a JSON array of records or {"records": [...]}'
        )
    doc = parse_json(raw, settings["api.max_json_depth"])
    if isinstance(doc, dict):
        if "records" not in doc:
            raise DataError("expected a JSON array of records, or an object with a 'records' array")
        source = doc.get("source", "api")
        if source not in REQUEST_SOURCES:
            shown = repr(source)[:40] if isinstance(source, str) else type(source).__name__
            raise ApiError(
                400,
                f"field 'source' must be one of {', '.join(REQUEST_SOURCES)}, got {shown}",
                parameter="source",
            )
        if source == "webapp" and not signed_in_by_session():
            # A client must not pass its predictions off as the pages' (issue 13): refused
            # out loud rather than stored as "api", so that it knows what it was told.
            raise ApiError(
                400,
                "field 'source' may be 'webapp' only for a browser signed in at /signin (the "
                "pages); a request with a bearer token, or signed in by none, is stored as "
                "'api': send 'api' or leave 'source' out",
                parameter="source",
            )
    return (doc["records"] if isinstance(doc, dict) else doc), session_source()


def _said(recorded: dict[str, Any]) -> dict[str, Any]:
    """What a recorded API call was told: its body and error (not its endpoint, a route)."""
    return {"body": recorded["body"], "error": recorded["error"]}


# A run's id is the hex of a uuid4 (pipeline.storage.writes); a checked file's id is an
# INTEGER row id (32 bits on PostgreSQL). Anything else names nothing: 404 before the database
# sees it (a NUL, or an integer past the column's range, is an error there, not a miss).
RUN_ID = re.compile(r"[0-9a-f]{32}")
MAX_ROW_ID = 2**31 - 1


def _run_id(raw: str) -> str:
    if not RUN_ID.fullmatch(raw):
        raise NotFound(f"no run with id {raw[:40]!r} (a run id is 32 lowercase hex digits)")
    return raw


# --- routes --------------------------------------------------------------------------------


@bp.post("/prediction")
def prediction() -> dict[str, Any]:
    """Predict with the production model and record every prediction with its features, under
    source "api" ("webapp" for a browser signed in by its session)."""
    records, source = request_records()
    loaded = production_model()
    # pandas and scikit-learn load on the first prediction, not when the app starts.
    from pipeline.model.features import records_frame

    settings = state().settings
    records = optional_for(loaded, records)  # a column the contract does not require: null
    frame = records_frame(records, loaded.features, settings["api.max_records"])
    ids, stamp = settings["data.id_columns"], settings["data.timestamp_column"]
    if ids or stamp:  # a label finds its prediction by them: refused when none could
        latest = predictions.latest_event_time(settings)
        for i, record in enumerate(records):
            predictions.check_keys(i, record, ids, stamp, latest)
    predicted, probabilities, _ = predict_and_store(loaded, records, frame, source)
    return {
        "predictions": predicted.tolist(),
        "probabilities": None if probabilities is None else probabilities.tolist(),
        "model_version": loaded.version,
    }


@bp.get("/scoring")
def scoring() -> dict[str, Any]:
    """The production model's latest recorded scores (from the last run that scored it)."""
    version = registry.production_version(state().settings, state().engine)
    return reads.latest_scores(get_connection(), version)


@bp.get("/summarystats")
def summarystats() -> dict[str, Any]:
    """Mean, median, std, min and max per numeric feature of one data set: by default the
    production model's training rows (what the original system served)."""
    dataset = _dataset_param()
    conn = get_connection()
    if dataset == "training":
        doc = reads.training_stats(
            conn, registry.production_version(state().settings, state().engine)
        )
    else:
        doc = reads.latest_stats(conn, SUMMARY_DATASETS[dataset])
    return {"dataset": dataset, **doc}


@bp.get("/diagnostics")
def diagnostics() -> dict[str, Any]:
    """Step timings of the latest run, missing values, outdated packages, library versions."""
    conn = get_connection()
    return {
        # A failed step's detail is its error's text: it may name a path.
        "steps": stored_paths(reads.latest_for(conn, tables.steps), state().settings.base_dir),
        "missing_values": reads.latest_for(conn, tables.missing_values),
        "outdated_packages": reads.latest_diagnostic(conn, "outdated_packages"),
        "library_versions": reads.latest_diagnostic(conn, "library_versions"),
    }


@bp.get("/apireturns")
def apireturns() -> dict[str, Any]:
    """What `riskwatch apicalls` recorded, newest first."""
    base = state().settings.base_dir  # a recorded error may name a path of the server
    returns = reads.api_returns(get_connection(), _limit_param())
    return {"api_returns": [{**r, **stored_paths(_said(r), base)} for r in returns]}


@bp.get("/runs")
def runs() -> Response:
    """Runs, newest first: a page of them for a browser (app.run_pages), else JSON."""
    if wants_html():
        return vary_on_accept(make_response(run_pages.runs_page()))
    runs = reads.list_runs(get_connection(), _limit_param())
    return vary_on_accept(jsonify({"runs": stored_paths(runs, state().settings.base_dir)}))


@bp.get("/runs/<run_id>")
def run(run_id: str) -> Response:
    """Everything recorded about one run, but its log (server-side detail): its page for a
    browser (app.run_pages), else JSON."""
    if wants_html():
        return vary_on_accept(make_response(run_pages.run_page(run_id)))
    doc = reads.get_run(get_connection(), _run_id(run_id))
    doc.pop("log", None)
    return vary_on_accept(jsonify(stored_paths(doc, state().settings.base_dir)))


def _send_report(rel: str | None, missing: str, mimetype: str, name: str | None = None) -> Response:
    """A report under paths.reports (relative path `rel`, from the database), from the database
    with registry.store = "database", else from its file; NotFound(`missing`) when absent."""
    settings = state().settings
    if registry.in_database(settings):
        data = None if rel is None else blobs.get(get_connection(), blobs.REPORTS, rel)
        if data is None:
            raise NotFound(missing)
        return send_file(io.BytesIO(data), mimetype=mimetype, download_name=name)
    base = settings.path("paths.reports").resolve()
    path = (base / rel).resolve() if rel else None
    # The path comes from the database; still, never serve a file outside paths.reports.
    if path is None or not path.is_relative_to(base) or not path.is_file():
        raise NotFound(missing)
    return send_file(path, mimetype=mimetype, download_name=name)


@bp.get("/runs/<run_id>/report.pdf")
def report(run_id: str) -> Response:
    """The run's PDF report."""
    rel = reads.report_relpath(get_connection(), _run_id(run_id))
    missing = f"the report of run {run_id!r} is missing"
    return _send_report(rel, missing, "application/pdf", f"run-{run_id}.pdf")


@bp.get("/quality/<int:file_id>.html")
def quality_report(file_id: int) -> Response:
    """The HTML data-quality report of one checked source file."""
    missing = f"no quality report for checked file {file_id}"
    if file_id > MAX_ROW_ID:
        raise NotFound(missing)
    response = _send_report(
        reads.quality_report_path(get_connection(), file_id), missing, "text/html"
    )
    # The page holds values from untrusted files; it needs nothing but its own inline styles.
    response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


@bp.get("/health")
def health() -> dict[str, Any]:
    """Database reachable and migrated; which model is in production."""
    st = state()
    revision = reads.check_database(st.engine)
    st.schema_ok = True
    return {
        "ok": True,
        "database": "ok",
        "schema": revision,
        "production_version": registry.production_version(st.settings, st.engine),
    }


@bp.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of this app, with the production model's features."""
    from app.openapi import document

    try:
        features = production_model().features
    except (RiskwatchError, sa.exc.SQLAlchemyError, OSError):
        features = None  # no model (or database) yet: any record is described
    from pipeline.settings import table as settings_table

    settings = state().settings
    return document(
        anonymous_role(),
        features,
        settings["api.max_records"],
        settings["predict.page_limit"],
        settings_table.task_metrics(settings["model.task"]),
        keys=(tuple(settings["data.id_columns"]), settings["data.timestamp_column"]),
    )
