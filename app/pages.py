"""The HTML pages: for now the index, listing runs with links to their reports."""

from __future__ import annotations

from flask import Blueprint, render_template

from app import get_connection, state
from app.redact import stored_paths
from pipeline.errors import DatabaseNotReady, DatabaseUnreachable
from pipeline.formatting import fmt_drift
from pipeline.model import registry
from pipeline.storage import reads

bp = Blueprint("pages", __name__)

# The index shows this many runs; older ones stay reachable through GET /runs?limit=.
INDEX_RUNS = 100


@bp.get("/")
def index() -> str | tuple[str, int]:
    """List runs, newest first, with links to their reports and records."""
    production = registry.production_version(state().settings, state().engine)
    try:
        runs = reads.list_runs(get_connection(), INDEX_RUNS)
    except (DatabaseNotReady, DatabaseUnreachable) as exc:
        page = render_template("pages/index.html", runs=[], production=production, problem=exc)
        return page, 503
    runs = stored_paths(runs, state().settings.base_dir)  # no server path on the page
    for run in runs:  # the drift summary reads as everywhere else (fmt_drift)
        run["drift_text"] = fmt_drift(run["drift"]) if run["drift"] else None
    return render_template("pages/index.html", runs=runs, production=production, problem=None)
