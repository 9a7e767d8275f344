"""The pages' sign-in session: a signed cookie, re-checked against the database on each request.

The cookie (Flask's session, signed with `auth.secret_key`) holds only what was signed in (a
token's or a user's id), when, and the session's CSRF token: never a secret. It is HttpOnly,
SameSite=Lax, and Secure when the request came over HTTPS (as the app sees it: with
`auth.trusted_proxies` > 0, werkzeug's ProxyFix believes that many proxies' X-Forwarded-Proto
and X-Forwarded-For, as Heroku's router sends them). A sign-in lasts `auth.session_minutes`
from the moment it was made, not renewed by use. Every request that a session authenticates
looks its token or user up again, so a revoked token or a removed user is signed out at once.

Every unsafe request that the cookie authenticates must carry the session's CSRF token (form
field `csrf_token`, or header `X-CSRF-Token`); a request with `Authorization: Bearer` is not
authenticated by the cookie and needs none. `flask.g.signed_in_by_session` says which it was.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, g, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from app import get_connection, state
from app.limits import Refused
from pipeline.errors import ConfigError
from pipeline.storage import tokens, users

log = logging.getLogger("riskwatch.app")

MIN_SECRET_KEY_CHARS = 32
COOKIE_NAME = "riskwatch_session"
# The session's key: {"kind": "token" | "user", "id": int, "at": epoch, "stamp": the user's}.
SIGNED_IN = "rw"
CSRF = "csrf"  # the session's key of its CSRF token
ENDED = "ended"  # the session's key: why the last sign-in ended, shown by /signin once
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_NEXT_CHARS = 2048
# A sign-in made on another dyno may carry a time a little ahead of this one's clock; one far
# ahead is a forged or broken cookie.
CLOCK_SKEW_SECONDS = 60
_G_SIGNED_IN = "riskwatch_signed_in"  # g's key: the SignedIn of this request


@dataclass(frozen=True)
class SignedIn:
    """Who a session signed in: a token or a user, with the role the database gives it now."""

    kind: str  # "token" or "user"
    name: str
    role: str
    token: tokens.Token | None = None
    user: users.User | None = None


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, Secure exactly when this request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def production(environ: Mapping[str, str]) -> bool:
    return environ.get("RISKWATCH_ENV") == "production" or bool(environ.get("DYNO"))


def install(app: Flask, environ: Mapping[str, str]) -> None:
    """The session cookie, its key and lifetime, and the trusted proxies; ConfigError in
    production without a secret key, and for one too short anywhere."""
    settings = app.extensions["riskwatch"].settings
    key = settings["auth.secret_key"]
    if key and len(key) < MIN_SECRET_KEY_CHARS:
        raise ConfigError(
            f"auth.secret_key (RISKWATCH_SECRET_KEY) has {len(key)} characters: at least "
            f"{MIN_SECRET_KEY_CHARS} are needed (python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    if not key:
        if production(environ):
            raise ConfigError(
                "auth.secret_key is empty in production (RISKWATCH_ENV=production or DYNO "
                "set): set RISKWATCH_SECRET_KEY to a random string of at least "
                f"{MIN_SECRET_KEY_CHARS} characters, the same for every worker and dyno"
            )
        key = secrets.token_urlsafe(32)
        log.warning(
            "auth.secret_key is empty: this process signs its sessions with a random key "
            "(sign-ins last until it restarts and are not shared between workers); set "
            "RISKWATCH_SECRET_KEY"
        )
    app.secret_key = key
    app.session_interface = _SessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings["auth.session_minutes"]),
        SESSION_REFRESH_EACH_REQUEST=False,  # the lifetime counts from the sign-in
    )
    proxies = settings["auth.trusted_proxies"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    app.context_processor(lambda: {"csrf_token": csrf_token, "signed_in": g.get(_G_SIGNED_IN)})


def csrf_token() -> str:
    """The session's CSRF token (made on first use): for forms and the pages' scripts."""
    value = session.get(CSRF)
    if not isinstance(value, str) or not value:
        value = secrets.token_urlsafe(32)
        session[CSRF] = value
    return value


def csrf_valid() -> bool:
    """Whether this request carries the session's CSRF token (header or form field)."""
    expected = session.get(CSRF)
    if not isinstance(expected, str) or not expected:
        return False
    sent = request.headers.get("X-CSRF-Token")
    if sent is None and request.mimetype in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sent = request.form.get("csrf_token")
    if not sent or len(sent) > 200:
        return False
    return hmac.compare_digest(sent.encode("utf-8", "surrogateescape"), expected.encode())


def check_csrf() -> None:
    """Refused (403) for an unsafe request without the session's CSRF token."""
    if request.method in SAFE_METHODS or csrf_valid():
        return
    raise Refused(
        403,
        "this request is signed in by its session cookie and lacks its CSRF token (form field "
        "csrf_token or header X-CSRF-Token), or sends a wrong one: reload the page and try "
        "again",
    )


def sign_in(kind: str, ident: int, stamp: str = "") -> None:
    """Start a session for a token or a user: a fresh cookie and a fresh CSRF token."""
    session.clear()
    session[SIGNED_IN] = {"kind": kind, "id": ident, "at": int(time.time()), "stamp": stamp}
    session[CSRF] = secrets.token_urlsafe(32)
    session.permanent = True


def sign_out(reason: str | None = None) -> None:
    session.clear()
    if reason:
        session[ENDED] = reason


def current() -> SignedIn | None:
    """Who this request's session signed in, checked now: None (and the session ended) when it
    holds no sign-in, an expired one, or one whose token was revoked or user removed."""
    doc = session.get(SIGNED_IN)
    if doc is None:
        return None
    try:
        kind, ident, at = str(doc["kind"]), int(doc["id"]), float(doc["at"])
        stamp = str(doc.get("stamp", ""))
    except (TypeError, KeyError, ValueError):
        sign_out()
        return None
    lifetime = state().settings["auth.session_minutes"] * 60
    now = time.time()
    if not at - CLOCK_SKEW_SECONDS <= now < at + lifetime:
        sign_out("your sign-in expired: sign in again")
        return None
    found = _look_up(kind, ident, stamp)
    if found is None:
        return None
    setattr(g, _G_SIGNED_IN, found)
    return found


def _look_up(kind: str, ident: int, stamp: str) -> SignedIn | None:
    conn = get_connection()
    if kind == "token":
        token = tokens.by_id(conn, ident)
        if token is None or token.revoked_at is not None:
            sign_out("the token you signed in with was revoked: sign in again")
            return None
        return SignedIn("token", token.name, token.role, token=token)
    if kind == "user":
        user = users.by_id(conn, ident)
        if user is None or not hmac.compare_digest(user.stamp, stamp):
            sign_out("your user was removed: sign in again")
            return None
        return SignedIn("user", user.name, user.role, user=user)
    sign_out()
    return None


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this site (relative, starting with one '/'); else '/'."""
    if not value or len(value) > MAX_NEXT_CHARS:
        return "/"
    if any(ord(c) < 0x20 or ord(c) == 0x7F or c == "\\" for c in value):
        return "/"  # browsers read a backslash as a slash, and strip tabs and newlines
    if not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def signin_url() -> str:
    """/signin, with this request's path as `next` for a GET."""
    if request.method not in ("GET", "HEAD"):
        return url_for("signin.signin")
    here = request.full_path.rstrip("?") if request.query_string else request.path
    return url_for("signin.signin", next=safe_next(here))
