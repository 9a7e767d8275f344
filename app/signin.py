"""GET and POST /signin, POST /signout: the pages' sign-in, with a token or a name and password.

The form carries the session's CSRF token too (no one can sign a browser in as someone else).
Every attempt counts against its client's address (`auth.signin_per_minute`, in the database
like the API's limits); a failed one says that it failed, never which of the name and the
password was wrong. See app.sessions for the cookie.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, redirect, render_template, request, session
from werkzeug.wrappers import Response as BaseResponse

from app import get_connection, sessions, state
from app.limits import charge_attempt
from app.negotiate import vary_on_accept
from pipeline.storage import tokens, users

bp = Blueprint("signin", __name__)

MAX_TOKEN_CHARS = 200  # as app.auth.MAX_SECRET_CHARS: a real secret has 46
MAX_FIELD_CHARS = 1024


def _field(name: str) -> str:
    value = request.form.get(name, "")
    return value if len(value) <= MAX_FIELD_CHARS else value[: MAX_FIELD_CHARS + 1]


def _page(status: int = 200, problem: str | None = None, name: str = "") -> Response:
    nxt = sessions.safe_next(request.values.get("next"))
    ended = session.pop(sessions.ENDED, None)
    page = render_template(
        "signin/signin.html",
        next=nxt,
        problem=problem,
        ended=ended if isinstance(ended, str) else None,
        name=name if tokens.NAME_PATTERN.fullmatch(name) else "",
        current=sessions.current(),
    )
    return vary_on_accept(Response(page, status, mimetype="text/html"))


@bp.get("/signin")
def signin() -> Response:
    """The sign-in form: a token, or a user's name and password."""
    return _page()


def _client_key() -> str:
    """The address's counter key (hashed: an IPv6 address does not fit api_usage.client)."""
    address = request.remote_addr or "unknown"
    return "signin:" + hashlib.sha256(address.encode("utf-8", "surrogateescape")).hexdigest()[:32]


@bp.post("/signin")
def signin_post() -> BaseResponse:
    """Sign in; on success go to `next` (a path on this site only), else the form again."""
    settings = state().settings
    charge_attempt(
        _client_key(), "signin", settings["auth.signin_per_minute"], "auth.signin_per_minute"
    )
    if not sessions.csrf_valid():
        return _page(
            400,
            "the form had no valid CSRF token (it expired, or cookies are off): sign in again "
            "from this page",
        )
    secret = _field("token").strip()
    name = _field("name").strip()
    if secret:
        token = tokens.find(get_connection(), secret) if len(secret) <= MAX_TOKEN_CHARS else None
        if token is None or token.revoked_at is not None:
            return _page(401, "sign-in failed: that token is unknown or revoked")
        sessions.sign_in("token", token.id)
    else:
        user = users.authenticate(get_connection(), name, _field("password"))
        if user is None:
            return _page(401, "sign-in failed: wrong name or password", name=name)
        sessions.sign_in("user", user.id, user.stamp)
    return redirect(sessions.safe_next(request.form.get("next")), 303)


@bp.post("/signout")
def signout() -> BaseResponse:
    """End the session (with its CSRF token) and go back to the sign-in form."""
    if session.get(sessions.SIGNED_IN) is not None and not sessions.csrf_valid():
        return _page(400, "sign-out refused: the form had no valid CSRF token; reload the page")
    sessions.sign_out("you signed out")
    return redirect("/signin", 303)
