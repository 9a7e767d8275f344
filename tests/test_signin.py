"""Sign-in to the pages (issue 13, point 9): by token or by name and password, through HTTP, on
SQLite and PostgreSQL; the session ends when its token is revoked, its user removed, its time
is up or its owner signs out; roles refused with an HTML page; browsers sent to /signin, API
clients still answered 401."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock

import pytest
from flask import Flask, g
from flask.testing import FlaskClient

from app import sessions
from pipeline.settings import Settings
from pipeline.storage import db, tokens, users
from tests.test_api import RECORD, assert_error, make_app

KEY = "test-secret-key-" + "k" * 32  # a test's own key; never a default of the app
PASSWORD = "correct horse battery"
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@dataclass
class Web:
    app: Flask
    secrets: dict[str, str]  # role -> token secret
    settings: Settings
    seen: list[bool]  # g.signed_in_by_session of each request, in order


def web_settings(settings: Settings, **values: Any) -> Settings:
    defaults = {
        "auth__required": "true",
        "auth__secret_key": KEY,
        "api__requests_per_minute": 0,
        "auth__signin_per_minute": 0,
    }
    return settings.with_values(**{**defaults, **values})


@functools.cache
def stored_password() -> str:
    return users.hash_password(PASSWORD)


def make_web(settings: Settings, **values: Any) -> Iterator[Web]:
    engine = db.make_engine(settings.database_url)
    try:
        secrets = {role: tokens.create(engine, f"t-{role}", role)[1] for role in tokens.ROLES}
        # The three users share one scrypt hash, made once per session (0.1 s each otherwise);
        # signing in still checks the password against it with scrypt.
        stored = stored_password()
        with mock.patch.object(users, "hash_password", lambda _: stored):
            for role in tokens.ROLES:
                users.add(engine, f"{role}-user", role, PASSWORD, 12)
    finally:
        engine.dispose()
    configured = web_settings(settings, **values)
    with make_app(configured) as app:
        seen: list[bool] = []

        @app.after_request
        def _record(response: Any) -> Any:
            seen.append(g.get("signed_in_by_session"))
            return response

        @app.get("/admin-only")  # no decision in app.roles: needs admin
        def _admin_only() -> str:
            return "admin page"

        yield Web(app, secrets, configured, seen)


@pytest.fixture
def web(settings: Settings) -> Iterator[Web]:
    yield from make_web(settings)


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/signin", headers=BROWSER).get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert found, page
    return found.group(1)


def sign_in(client: FlaskClient, **fields: str) -> Any:
    csrf = csrf_of(client)
    return client.post("/signin", data={"csrf_token": csrf, **fields}, headers=BROWSER)


def signed_csrf(client: FlaskClient) -> str:
    with client.session_transaction() as sess:
        return sess[sessions.CSRF]


# --- sign-in, by token and by password ---------------------------------------------------------


def test_a_browser_is_sent_to_signin_and_an_api_client_gets_401(web: Web) -> None:
    client = web.app.test_client()
    page = client.get("/runs?limit=5", headers=BROWSER)
    assert page.status_code == 303
    assert page.headers["Location"] == "/signin?next=/runs?limit%3D5"
    assert client.get("/", headers=BROWSER).headers["Location"] == "/signin?next=/"
    api = client.get("/runs")
    assert_error(api, 401)
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/health").status_code == 200  # stays open
    form = client.get("/signin?next=/runs", headers=BROWSER)
    assert form.status_code == 200
    text = form.get_data(as_text=True)
    for field in ('name="name"', 'name="password"', 'name="token"', 'name="csrf_token"'):
        assert field in text
    assert 'value="/runs"' in text and 'for="signin-password"' in text


def test_sign_in_with_a_token(web: Web) -> None:
    client = web.app.test_client()
    done = sign_in(client, token=web.secrets["read"], next="/runs?limit=3")
    assert done.status_code == 303 and done.headers["Location"] == "/runs?limit=3"
    page = client.get("/", headers=BROWSER)
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "t-read" in text and "(read)" in text and "Sign out" in text
    meta = re.search(r'<meta name="csrf-token" content="([^"]+)">', text)
    assert meta and meta.group(1) == signed_csrf(client)
    assert web.seen[-1] is True  # cookie-authenticated
    # The JSON API answers the signed-in browser too (same cookie, no header).
    assert client.get("/runs").status_code == 200
    assert web.seen[-1] is True
    # A bearer request is not signed in by a session.
    assert (
        web.app.test_client().get("/runs", headers=bearer(web.secrets["read"])).status_code == 200
    )
    assert web.seen[-1] is False


def test_sign_in_with_a_password(web: Web) -> None:
    client = web.app.test_client()
    done = sign_in(client, name="predict-user", password=PASSWORD)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    text = client.get("/", headers=BROWSER).get_data(as_text=True)
    assert "predict-user" in text and "(predict)" in text


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "read-user", "password": PASSWORD + "x"},  # wrong password
        {"name": "nobody", "password": PASSWORD},  # unknown name
        {"name": "read-user", "password": ""},
        {"name": "", "password": ""},
        {},
    ],
)
def test_a_failed_sign_in_does_not_say_which_was_wrong(web: Web, fields: dict[str, str]) -> None:
    client = web.app.test_client()
    failed = sign_in(client, **fields)
    assert failed.status_code == 401
    text = failed.get_data(as_text=True)
    assert "sign-in failed: wrong name or password" in text
    assert "unknown" not in text.lower()
    with client.session_transaction() as sess:
        assert sessions.SIGNED_IN not in sess
    assert client.get("/", headers=BROWSER).status_code == 303


def test_a_wrong_or_revoked_token_does_not_sign_in(web: Web) -> None:
    engine = db.make_engine(web.settings.database_url)
    try:
        _, old = tokens.create(engine, "old", "admin")
        tokens.revoke(engine, "old")
    finally:
        engine.dispose()
    for secret in (old, "rw_" + "x" * 43, "not a token"):
        client = web.app.test_client()
        failed = sign_in(client, token=secret)
        assert failed.status_code == 401
        assert "that token is unknown or revoked" in failed.get_data(as_text=True)
        assert client.get("/", headers=BROWSER).status_code == 303


# --- a session ends ----------------------------------------------------------------------------


def test_revoking_the_token_signs_the_session_out(web: Web) -> None:
    client = web.app.test_client()
    engine = db.make_engine(web.settings.database_url)
    try:
        _, secret = tokens.create(engine, "laptop", "read")
        assert sign_in(client, token=secret).status_code == 303
        assert client.get("/", headers=BROWSER).status_code == 200
        tokens.revoke(engine, "laptop")
    finally:
        engine.dispose()
    gone = client.get("/", headers=BROWSER)
    assert gone.status_code == 303 and gone.headers["Location"].startswith("/signin")
    assert "was revoked" in client.get("/signin", headers=BROWSER).get_data(as_text=True)
    assert_error(client.get("/runs"), 401)  # the cookie alone no longer passes


def test_removing_the_user_signs_the_session_out(web: Web) -> None:
    client = web.app.test_client()
    assert sign_in(client, name="admin-user", password=PASSWORD).status_code == 303
    assert client.get("/admin-only", headers=BROWSER).status_code == 200
    engine = db.make_engine(web.settings.database_url)
    try:
        users.remove(engine, "admin-user")
        users.add(engine, "admin-user", "admin", PASSWORD, 12)  # the same name again: a new user
    finally:
        engine.dispose()
    assert client.get("/admin-only", headers=BROWSER).status_code == 303
    assert "your user was removed" in client.get("/signin", headers=BROWSER).get_data(as_text=True)


def test_sign_out(web: Web) -> None:
    client = web.app.test_client()
    sign_in(client, name="read-user", password=PASSWORD)
    refused = client.post("/signout", data={}, headers=BROWSER)
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert client.get("/", headers=BROWSER).status_code == 200  # still signed in
    out = client.post("/signout", data={"csrf_token": signed_csrf(client)}, headers=BROWSER)
    assert out.status_code == 303 and out.headers["Location"] == "/signin"
    assert client.get("/", headers=BROWSER).status_code == 303
    assert "you signed out" in client.get("/signin", headers=BROWSER).get_data(as_text=True)
    # Signing out without a session is harmless.
    assert web.app.test_client().post("/signout").status_code == 303


def test_an_expired_session_is_signed_out(web: Web) -> None:
    client = web.app.test_client()
    sign_in(client, name="read-user", password=PASSWORD)
    lifetime = web.settings["auth.session_minutes"] * 60
    with client.session_transaction() as sess:
        sess[sessions.SIGNED_IN] = {**sess[sessions.SIGNED_IN], "at": time.time() - lifetime - 1}
    assert client.get("/", headers=BROWSER).status_code == 303
    assert "expired" in client.get("/signin", headers=BROWSER).get_data(as_text=True)
    # A sign-in dated in the future (a forged or clock-skewed cookie) is not believed either.
    sign_in(client, name="read-user", password=PASSWORD)
    with client.session_transaction() as sess:
        sess[sessions.SIGNED_IN] = {**sess[sessions.SIGNED_IN], "at": time.time() + 3600}
    assert client.get("/", headers=BROWSER).status_code == 303
    # One made on another dyno whose clock is a little ahead is.
    sign_in(client, name="read-user", password=PASSWORD)
    with client.session_transaction() as sess:
        sess[sessions.SIGNED_IN] = {**sess[sessions.SIGNED_IN], "at": time.time() + 30}
    assert client.get("/", headers=BROWSER).status_code == 200


def test_a_cookie_signed_with_another_key_is_ignored(web: Web, settings: Settings) -> None:
    client = web.app.test_client()
    sign_in(client, name="admin-user", password=PASSWORD)
    cookie = client.get_cookie(sessions.COOKIE_NAME)
    assert cookie is not None
    with make_app(web_settings(settings, auth__secret_key="another-key-" + "z" * 32)) as other:
        stranger = other.test_client()
        stranger.set_cookie(sessions.COOKIE_NAME, cookie.value)
        assert stranger.get("/", headers=BROWSER).status_code == 303


# --- roles -------------------------------------------------------------------------------------


def test_a_role_too_low_gets_a_403_page_naming_the_role(web: Web) -> None:
    client = web.app.test_client()
    sign_in(client, name="read-user", password=PASSWORD)
    page = client.get("/admin-only", headers=BROWSER)
    assert page.status_code == 403 and page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    assert "needs the role admin" in text and "read-user" in text and "whose role is read" in text
    api = client.get("/admin-only")
    assert "needs the role admin" in assert_error(api, 403)["error"]
    predict = client.post(
        "/prediction", json=[RECORD], headers={**BROWSER, "X-CSRF-Token": signed_csrf(client)}
    )
    assert predict.status_code == 403 and "needs the role predict" in predict.get_data(True)
    assert client.get("/runs", headers=BROWSER).status_code == 200


def test_roles_imply_the_lower_ones(web: Web) -> None:
    client = web.app.test_client()
    sign_in(client, token=web.secrets["admin"])
    assert client.get("/admin-only", headers=BROWSER).get_data(as_text=True) == "admin page"
    assert client.get("/", headers=BROWSER).status_code == 200


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
