"""The model pages: every registered version, one version, two side by side, and rollback.

Rollback is for admins, in two steps: GET /models/rollback?to=M asks "roll back from vN to
vM?", and its form POSTs to /models/rollback with the versions it asked about, a reason and
the CSRF token. The POST is refused when production moved since the question was asked, and
calls the registry's own rollback (it verifies the version's artifact before switching) under
the run lock, as `riskwatch rollback` does: a run in progress makes it a 409.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, g, render_template, request

from app import get_connection, sessions, state
from app.limits import current_client
from app.redact import stored_paths
from app.run_pages import Page, problem
from pipeline.errors import LockHeld, NotFound, RiskwatchError
from pipeline.formatting import fmt_score_source, fmt_version
from pipeline.infra.lock import DatabaseLock, RunLock
from pipeline.model import registry
from pipeline.report.evidence import say
from pipeline.storage import model_views, tokens

bp = Blueprint("models", __name__)

MAX_VERSION = 2**31 - 1  # model_versions.version is an INTEGER
MAX_REASON_CHARS = 500
VERSION = re.compile(r"[0-9]{1,10}")


def csrf_checked() -> str | None:
    """Why an unsafe request must be refused for CSRF, or None when it may go on.

    A request with a bearer token needs no CSRF token: a browser never sends that header on
    its own. A request signed in by the session cookie (`g.signed_in_by_session`, set by the
    sign-in) must carry the token of its session in the form field `csrf_token` or the header
    `X-CSRF-Token` (app.auth refuses one without it before any view; checked here again, as
    this form changes production).
    """
    if not g.get("signed_in_by_session") or sessions.csrf_valid():
        return None
    return "the form carries no valid CSRF token: reload the page and confirm again"


def _production() -> int | None:
    return registry.production_version(state().settings, state().engine)


def _is_admin() -> bool:
    client = current_client()
    return client is not None and tokens.allows(client.role, "admin")


@bp.get("/models")
def versions() -> Page:
    """Every version with its recorded score, and the deployments history."""
    conn = get_connection()
    context = {
        "versions": model_views.versions(conn),
        "deployments": model_views.deployments(conn),
        "production": _production(),
        "is_admin": _is_admin(),
        "source": fmt_score_source,
    }
    return render_template("models/list.html", **context), 200


@bp.get("/models/<int:version>")
def version(version: int, rolled_back_from: int | None = None) -> Page:
    """One version: metrics, training window and files, contract, deployments, scores; after a
    rollback to it, saying so."""
    doc = None if version > MAX_VERSION else model_views.version_record(get_connection(), version)
    if doc is None:
        return problem(404, f"model version {version} is not in the registry")
    doc = stored_paths(doc, state().settings.base_dir)
    context = {
        "v": doc,
        "production": _production(),
        "is_admin": _is_admin(),
        "source": fmt_score_source,
        "rolled_back_from": rolled_back_from,
        "say": say,
    }
    return render_template("models/version.html", **context), 200


def _version_arg(values: Any, name: str) -> int:
    """A version number from the query or the form; BadVersion naming the field."""
    raw = values.get(name, "")
    if not VERSION.fullmatch(raw) or not 1 <= int(raw) <= MAX_VERSION:
        raise BadVersion(name, f"'{name}' must be a model version number, got {raw[:40]!r}")
    return int(raw)


class BadVersion(RiskwatchError):
    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter


@bp.get("/models/compare")
def compare() -> Page:
    """Two versions side by side; their scores on the same rows, where both were scored."""
    try:
        a, b = _version_arg(request.args, "a"), _version_arg(request.args, "b")
    except BadVersion as exc:
        return problem(400, str(exc), exc.parameter)
    conn = get_connection()
    docs = {}
    for name, number in (("a", a), ("b", b)):
        docs[name] = model_views.version_record(conn, number)
        if docs[name] is None:
            return problem(404, f"model version {number} is not in the registry", name)
    context = {
        "a": stored_paths(docs["a"], state().settings.base_dir),
        "b": stored_paths(docs["b"], state().settings.base_dir),
        "shared": model_views.shared_scores(conn, a, b),
        "production": _production(),
        "source": fmt_score_source,
    }
    return render_template("models/compare.html", **context), 200


@bp.get("/models/rollback")
def confirm_rollback() -> Page:
    """Ask "roll back from vN to vM?" before anything changes."""
    try:
        to = _version_arg(request.args, "to")
    except BadVersion as exc:
        return problem(400, str(exc), exc.parameter)
    current = _production()
    if current is None:
        return problem(409, "nothing to roll back: no model is deployed yet")
    if to == current:
        return problem(409, f"{fmt_version(to)} is already in production", "to")
    if model_views.version_record(get_connection(), to) is None:
        return problem(404, f"model version {to} is not in the registry", "to")
    page = render_template("models/rollback.html", current=current, to=to)
    return page, 200


@bp.post("/models/rollback")
def rollback() -> Page:
    """Roll production back to the version confirmed, if production is still the one asked
    about; the registry verifies the version's artifact before it switches."""
    refused = csrf_checked()
    if refused is not None:
        return problem(403, refused, "csrf_token")
    try:
        to, asked = _version_arg(request.form, "to"), _version_arg(request.form, "from")
    except BadVersion as exc:
        return problem(400, str(exc), exc.parameter)
    reason = " ".join((request.form.get("reason") or "").split())[:MAX_REASON_CHARS]
    client = current_client()
    who = client.label if client is not None else "an unknown client"
    why = f"{reason or 'manual rollback'} (web app, {who})"
    st = state()
    try:  # under the run lock, as `riskwatch rollback`: never between a run's decide and deploy
        with RunLock(st.settings.path("paths.lock")), DatabaseLock(st.engine):
            current = _production()
            if current != asked:
                return problem(
                    409,
                    f"production is {fmt_version(current)} now, not {fmt_version(asked)} as "
                    "when you confirmed: nothing was rolled back; look again and confirm again",
                    "from",
                )
            registry.rollback(st.engine, st.settings, to, reason=why, run_id=None)
    except LockHeld as exc:
        return problem(
            409,
            f"a run is in progress ({exc.holder}), so nothing was rolled back: confirm again "
            "once it has finished",
        )
    except NotFound as exc:
        return problem(404, str(exc), "to")
    except RiskwatchError as exc:  # a modified or missing artifact: production unchanged
        return problem(409, f"not rolled back: {exc}", "to")
    return version(to, rolled_back_from=asked)
