"""Who may call which route: `Authorization: Bearer <token>`, else the pages' session cookie
(app.sessions: a browser signed in at /signin, its unsafe requests checked for their CSRF
token), and when a token is needed. A browser (app.negotiate.wants_html) that must sign in is
sent to /signin?next=..., and a refusal is an HTML page for it; an API client gets the JSON.

Each route's least role is in app.roles. Routing errors (404, 405) and OPTIONS answer without
a token: they hold no data, and the OpenAPI document that lists the routes is public.

`auth.required` ("auto": true when RISKWATCH_ENV=production or DYNO is set) decides what a
request without a token gets: 401 when required, else `auth.anonymous_role` (never admin). A
valid token's role always applies; an invalid or revoked token is always a 401 (POST
/prediction takes a token this worker saw valid from app.token_cache, checked unrevoked where
its work is stored, or looked up after a failed answer). The app refuses
to start while auth is required and a reachable, migrated database holds no unrevoked token.
When the database cannot say (unreachable, or not migrated yet: a blip while a dyno restarts),
the app starts with a warning instead of a crash loop: requests get its usual 503 for the
database, and none passes without a valid token.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse

from app import get_connection, sessions, state, token_cache
from app.api import error_response
from app.limits import (
    POLICY,
    SETTLED_IN_VIEW,
    Client,
    Refused,
    charge_request,
    charge_unsettled,
    defer_request_charge,
    forget_unsettled,
    set_client,
)
from app.negotiate import wants_html
from app.roles import role_for
from app.token_cache import CACHED_SECRET as _CACHED_SECRET
from app.token_cache import challenge as _challenge
from pipeline.errors import ConfigError, DatabaseNotReady, DatabaseUnreachable, RiskwatchError
from pipeline.settings import Settings
from pipeline.storage import db, reads, tables, tokens

log = logging.getLogger("riskwatch.app")

MAX_SECRET_CHARS = 200  # far above a real secret (46): longer is refused before it is hashed


@dataclass(frozen=True)
class Policy:
    """Whether a token is required, why, and the role of a request without one."""

    required: bool
    reason: str
    anonymous_role: str | None  # None when a token is required


def policy(settings: Settings, environ: Mapping[str, str]) -> Policy:
    """Resolve auth.required ("auto": production or Heroku) against the environment."""
    value = settings["auth.required"]
    if value == "auto":
        if environ.get("RISKWATCH_ENV") == "production":
            required, reason = True, "RISKWATCH_ENV=production (auth.required = auto)"
        elif environ.get("DYNO"):
            required, reason = True, "DYNO is set: on Heroku (auth.required = auto)"
        else:
            required, reason = False, "neither RISKWATCH_ENV=production nor DYNO is set"
    else:
        required, reason = value == "true", f"auth.required = {value}"
    return Policy(required, reason, None if required else settings["auth.anonymous_role"])


def install(app: Flask, environ: Mapping[str, str] | None = None) -> Policy:
    """Hook authentication into `app`; ConfigError when auth is required and the database holds
    no token (a database that cannot say is a warning: see `_check_a_token_exists`)."""
    st = app.extensions["riskwatch"]
    environ = os.environ if environ is None else environ
    found = policy(st.settings, environ)
    if found.required:
        _check_a_token_exists(st.engine, found)
    sessions.install(app, environ)  # ConfigError in production without auth.secret_key
    app.extensions[POLICY] = found
    app.before_request(authenticate)
    app.after_request(_count_unsettled)
    app.register_error_handler(Refused, _refused)
    return found


def _check_a_token_exists(engine: sa.Engine, found: Policy) -> None:
    """ConfigError when the database is reachable, migrated, and holds no unrevoked token; a
    warning, and no error, when it cannot be asked (requests then get the 503 they would)."""
    try:
        reads.check_database(engine)
        with engine.connect() as conn:
            count = tokens.active_count(conn)
    except (DatabaseNotReady, DatabaseUnreachable, sa.exc.SQLAlchemyError) as exc:
        mapped = exc if isinstance(exc, RiskwatchError) else db.as_riskwatch_error(exc, engine.url)
        if mapped is None:
            raise
        log.warning(
            "auth.required is true (%s) and whether an API token exists could not be checked "
            "(%s: %s): starting anyway; requests get 503 until the database is ready, and none "
            "passes without a valid token",
            found.reason,
            type(mapped).__name__,
            " ".join(str(mapped).split()),
        )
        return
    if count == 0:
        raise ConfigError(
            f"auth.required is true ({found.reason}) and no API token exists, so no one "
            "could call the API: create one with `riskwatch token create --name NAME "
            "--role admin` (on Heroku: heroku run riskwatch token create ...), or set "
            "auth.required = false"
        )


def current_policy() -> Policy:
    return current_app.extensions[POLICY]


def needed_role() -> str | None:
    """The least role this request's route needs; None when it needs none."""
    if request.url_rule is None or request.routing_exception is not None:
        return None  # 404 or 405: the routing error answers; no data behind it
    return role_for(request.url_rule.rule, request.method)


def authenticate() -> BaseResponse | None:
    """Before each request: find its client (a bearer token, else the session cookie, else
    anonymous) and check its role; count the request. A browser that must sign in first is
    sent to /signin (an API client gets the 401)."""
    g.signed_in_by_session = False
    needed = needed_role()
    if needed is None:
        return None
    found = current_policy()
    header = request.headers.get("Authorization")
    signed = sessions.current() if header is None else None
    if signed is not None:
        client = _by_session(signed, needed)
    elif header is None:
        role = found.anonymous_role
        if role is None or needed == "admin" or not tokens.allows(role, needed):
            if wants_html():
                return redirect(sessions.signin_url(), 303)
            why = f"; a token is required here: {found.reason}" if found.required else ""
            raise Refused(
                401,
                f"this route needs a token with role {needed}: send Authorization: Bearer "
                f"<token>{why}",
                _challenge(),
            )
        client = Client(None, role)
        try:
            get_connection()  # the schema check: a database not ready answers 503 in the view
        except (DatabaseNotReady, DatabaseUnreachable):
            return None
    else:
        token = _token(header, _settled_in_view())
        if not tokens.allows(token.role, needed):
            raise Refused(
                403,
                f"token {token.name!r} has role {token.role}; this route needs {needed}",
                _challenge("insufficient_scope"),
            )
        client = Client(token, token.role)
        _touch(token)
    set_client(client)
    if _settled_in_view():
        defer_request_charge(client)  # counted with the stored work: one commit per request
    else:
        charge_request(client)
    return None


def _by_session(signed: sessions.SignedIn, needed: str) -> Client:
    """The client of a request its session cookie signed in: its role checked, then (for an
    unsafe method) its CSRF token."""
    g.signed_in_by_session = True
    if not tokens.allows(signed.role, needed):
        raise Refused(
            403,
            f"this page needs the role {needed}: you are signed in as {signed.kind} "
            f"{signed.name!r}, whose role is {signed.role}",
        )
    sessions.check_csrf()
    if signed.token is not None:
        _touch(signed.token)
    return Client(signed.token, signed.role, user=signed.user)


def _touch(token: tokens.Token) -> None:
    """Record the token's use (to the minute), best effort."""
    try:
        now = tables.utcnow()
        if tokens.touch(state().engine, token, now):
            token_cache.used_at(token, now)
    except sa.exc.DBAPIError as exc:  # best effort: a busy SQLite file must not fail a request
        reason = " ".join(str(exc.orig if exc.orig is not None else exc).split())
        log.warning("token %r: last_used_at not recorded (%s)", token.name, reason)


def _settled_in_view() -> bool:
    rule = request.url_rule.rule if request.url_rule is not None else ""
    return (rule, request.method) in SETTLED_IN_VIEW


def _count_unsettled(response: Response) -> Response:
    """After the answer: a token taken from this worker's cache for a request that did not
    succeed (a refused body, a limit, a database error: the committer never checked it) is
    looked up now, so that a revoked token is a 401 whatever else was wrong; then the request
    is counted if its view did not."""
    secret = g.pop(_CACHED_SECRET, None)
    if secret is not None and response.status_code != 200:
        refused = _still_valid(secret)
        if refused is not None:
            forget_unsettled()
            return _refused(refused)
    charge_unsettled()
    return response


def _still_valid(secret: str) -> Refused | None:
    """None when the token of `secret` is still valid (or the database cannot say); else the
    401, with the token forgotten by this worker."""
    try:
        token = tokens.find(get_connection(), secret)
    except (RiskwatchError, sa.exc.DBAPIError):
        return None  # the answer already says what is wrong with the database
    if token is not None and token.revoked_at is None:
        return None
    token_cache.forget(tokens.secret_hash(secret))
    if token is None:
        return Refused(401, "unknown API token", _challenge("invalid_token"))
    return Refused(401, f"token {token.name!r} was revoked", _challenge("invalid_token"))


def _token(header: str, cache: bool = False) -> tokens.Token:
    """The valid token of an Authorization header; Refused (401) for anything else. With
    `cache`, one this worker saw valid is taken as it (app.token_cache: the committer checks
    it in the transaction that stores the request's work)."""
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret or len(secret) > MAX_SECRET_CHARS:
        raise Refused(
            401,
            "the Authorization header must be: Bearer <token>",
            _challenge("invalid_request"),
        )
    digest = tokens.secret_hash(secret)
    token = token_cache.cached(digest) if cache else None
    if token is not None:
        setattr(g, _CACHED_SECRET, secret)  # looked up after a failed answer (see below)
        return token
    token = tokens.find(get_connection(), secret)
    if token is None:
        raise Refused(401, "unknown API token", _challenge("invalid_token"))
    if token.revoked_at is not None:
        raise Refused(401, f"token {token.name!r} was revoked", _challenge("invalid_token"))
    if cache:
        token_cache.remember(digest, token)
    return token


def _refused(exc: Refused) -> Response:
    """The refusal in the API's error shape, or as an HTML page for a browser."""
    if wants_html():
        page = render_template("signin/refused.html", status=exc.status, message=str(exc))
        response = Response(page, exc.status, mimetype="text/html")
        response.vary.add("Accept")
    else:
        response = error_response(exc.status, str(exc))
    response.headers.update(exc.headers)
    return response
