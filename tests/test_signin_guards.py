"""What guards the sign-in (issue 13, point 9): CSRF on every cookie-authenticated unsafe request,
no open redirect through `next`, the cookie's flags (Secure over HTTPS only, proxies trusted
by setting), hostile form fields, the attempts' rate limit, the secret key's checks, and one
sign-in through a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import http.cookiejar
import logging
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from werkzeug.serving import make_server

from app import create_app, limits, sessions
from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.storage import db, users
from tests.test_api import RECORD, assert_error, make_app
from tests.test_signin import (
    BROWSER,
    PASSWORD,
    Web,
    bearer,
    make_web,
    sign_in,
    signed_csrf,
    web_settings,
)


@pytest.fixture
def web(settings: Settings) -> Iterator[Web]:
    yield from make_web(settings)


# --- CSRF --------------------------------------------------------------------------------------


def test_an_unsafe_cookie_request_needs_the_csrf_token(web: Web) -> None:
    client = web.app.test_client()
    sign_in(client, name="predict-user", password=PASSWORD)
    missing = client.post("/prediction", json=[RECORD])
    assert "CSRF token" in assert_error(missing, 403)["error"]
    wrong = client.post("/prediction", json=[RECORD], headers={"X-CSRF-Token": "x" * 43})
    assert "CSRF token" in assert_error(wrong, 403)["error"]
    huge = client.post("/prediction", json=[RECORD], headers={"X-CSRF-Token": "x" * 10_000})
    assert_error(huge, 403)
    # Another session's token is wrong for this one.
    other = web.app.test_client()
    sign_in(other, name="predict-user", password=PASSWORD)
    crossed = client.post(
        "/prediction", json=[RECORD], headers={"X-CSRF-Token": signed_csrf(other)}
    )
    assert_error(crossed, 403)
    # The right one, in the header or a form field, passes the check (no model here: 503).
    right = client.post("/prediction", json=[RECORD], headers={"X-CSRF-Token": signed_csrf(client)})
    assert right.status_code == 503, right.get_data(as_text=True)
    form = client.post("/prediction", data={"csrf_token": signed_csrf(client)})
    assert form.status_code not in (401, 403), form.get_data(as_text=True)
    # A browser gets the refusal as a page.
    page = client.post("/prediction", json=[RECORD], headers=BROWSER)
    assert page.status_code == 403 and page.mimetype == "text/html"
    assert "CSRF token" in page.get_data(as_text=True)


def test_a_bearer_request_needs_no_csrf_token_even_with_a_cookie(web: Web) -> None:
    client = web.app.test_client()
    sign_in(client, name="read-user", password=PASSWORD)
    done = client.post("/prediction", json=[RECORD], headers=bearer(web.secrets["predict"]))
    assert done.status_code == 503, done.get_data(as_text=True)  # past auth: no model here
    assert web.seen[-1] is False


def test_the_signin_form_needs_its_csrf_token(web: Web) -> None:
    client = web.app.test_client()
    client.get("/signin")
    for data in ({}, {"csrf_token": ""}, {"csrf_token": "forged"}):
        refused = client.post("/signin", data={**data, "token": web.secrets["admin"]})
        assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    assert client.get("/", headers=BROWSER).status_code == 303  # not signed in


# --- no open redirect --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "javascript:alert(1)",
        "evil.example",
        " /runs",
        "http:/runs",
        "/" + "a" * 3000,
        "",
    ],
)
def test_next_outside_this_site_is_refused(web: Web, target: str) -> None:
    assert sessions.safe_next(target) == "/"
    client = web.app.test_client()
    done = sign_in(client, token=web.secrets["read"], next=target)
    assert done.status_code == 303 and done.headers["Location"] == "/"
    page = web.app.test_client().get("/signin", query_string={"next": target})
    assert 'name="next" value="/"' in page.get_data(as_text=True)


@pytest.mark.parametrize("target", ["/runs", "/runs?limit=5&status=failed", "/past-predictions#x"])
def test_next_on_this_site_is_followed(web: Web, target: str) -> None:
    done = sign_in(web.app.test_client(), token=web.secrets["read"], next=target)
    assert done.headers["Location"] == target


# --- the cookie's flags ------------------------------------------------------------------------


def _session_cookie(response) -> str:
    found = [
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("riskwatch_session=")
    ]
    assert len(found) == 1, response.headers
    return found[0]


def test_the_cookie_is_httponly_lax_and_not_secure_over_http(web: Web) -> None:
    cookie = _session_cookie(sign_in(web.app.test_client(), token=web.secrets["read"]))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie
    assert "Expires=" in cookie  # kept by the browser for the lifetime setting:
    assert web.app.permanent_session_lifetime.total_seconds() == 60 * 720


def test_the_cookie_is_secure_over_https(web: Web) -> None:
    client = web.app.test_client()
    client.get("/signin", base_url="https://localhost")
    with client.session_transaction(base_url="https://localhost") as sess:
        csrf = sess[sessions.CSRF]
    done = client.post(
        "/signin",
        data={"csrf_token": csrf, "token": web.secrets["read"]},
        base_url="https://localhost",
    )
    cookie = _session_cookie(done)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize(("proxies", "secure"), [(0, False), (1, True)])
def test_x_forwarded_proto_is_believed_only_from_trusted_proxies(
    settings: Settings, proxies: int, secure: bool
) -> None:
    for web in make_web(settings, auth__trusted_proxies=proxies):
        client = web.app.test_client()
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        client.get("/signin", headers=forwarded)
        data = {"csrf_token": signed_csrf(client), "token": web.secrets["read"]}
        cookie = _session_cookie(client.post("/signin", data=data, headers=forwarded))
        assert ("Secure" in cookie) is secure


# --- hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "n" * 100_000, "password": PASSWORD},
        {"name": "read-user", "password": "p" * 100_000},
        {"token": "rw_" + "t" * 100_000},
        {"name": "réad-üser", "password": PASSWORD},
        {"name": "read-user\x00", "password": PASSWORD},
        {"name": "read-user' OR '1'='1", "password": "' OR '1'='1"},
        {"token": "\x00\u2028"},
        {"name": "\u202eresu-daer", "password": "\U0001f600" * 10},
    ],
)
def test_hostile_fields_fail_cleanly(web: Web, fields: dict[str, str]) -> None:
    client = web.app.test_client()
    failed = sign_in(client, **fields)
    assert failed.status_code == 401, failed.get_data(as_text=True)[:500]
    assert "sign-in failed" in failed.get_data(as_text=True)
    assert client.get("/", headers=BROWSER).status_code == 303


def test_a_unicode_password_signs_in_in_either_normal_form(web: Web) -> None:
    engine = db.make_engine(web.settings.database_url)
    try:
        users.add(engine, "zoe", "read", "Zoë-pässwörd-日本", 12)  # composed (NFC)
    finally:
        engine.dispose()
    decomposed = "Zoe\u0308-pa\u0308sswo\u0308rd-日本"
    assert sign_in(web.app.test_client(), name="zoe", password=decomposed).status_code == 303


def test_a_body_over_the_limit_is_refused(settings: Settings) -> None:
    for web in make_web(settings, api__max_request_bytes=10_000):
        client = web.app.test_client()
        big = sign_in(client, name="read-user", password="p" * 20_000)
        assert big.status_code == 413


# --- rate limit --------------------------------------------------------------------------------


def test_sign_in_attempts_are_limited_per_client(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: 1_800_000_000.0 + 5))
    for web in make_web(settings, auth__signin_per_minute=3):
        here = web.app.test_client()
        for _ in range(3):
            assert sign_in(here, name="read-user", password="wrong-password").status_code == 401
        over = sign_in(here, name="read-user", password=PASSWORD)  # right, but over the limit
        assert over.status_code == 429 and over.headers["Retry-After"] == "55"
        assert "auth.signin_per_minute" in over.get_data(as_text=True)
        other = web.app.test_client()
        elsewhere = {"REMOTE_ADDR": "198.51.100.7"}
        other.get("/signin", environ_base=elsewhere)
        data = {"csrf_token": signed_csrf(other), "name": "read-user", "password": PASSWORD}
        assert other.post("/signin", data=data, environ_base=elsewhere).status_code == 303


# --- the secret key ----------------------------------------------------------------------------


@pytest.mark.parametrize("environ", [{"RISKWATCH_ENV": "production"}, {"DYNO": "web.1"}])
def test_production_refuses_to_start_without_a_secret_key(
    web: Web, settings: Settings, environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=r"auth\.secret_key is empty in production"):
        create_app({"RISKWATCH_SETTINGS": web_settings(settings, auth__secret_key="")})
    with make_app(web_settings(settings)) as app:  # with one, it starts
        assert app.test_client().get("/health").status_code == 200


def test_a_short_secret_key_is_refused(web: Web, settings: Settings) -> None:
    with pytest.raises(ConfigError, match=r"auth\.secret_key .* has 5 characters: at least 32"):
        create_app({"RISKWATCH_SETTINGS": web_settings(settings, auth__secret_key="short")})


def test_elsewhere_an_empty_key_is_a_random_one_with_a_warning(
    web: Web, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "riskwatch.app"):
        apps = [create_app({"RISKWATCH_SETTINGS": web_settings(settings, auth__secret_key="")})]
        apps.append(create_app({"RISKWATCH_SETTINGS": web_settings(settings, auth__secret_key="")}))
    assert "auth.secret_key is empty" in caplog.text
    keys = {app.secret_key for app in apps}
    assert len(keys) == 2 and all(isinstance(k, str) and len(k) >= 32 for k in keys)
    for app in apps:
        app.extensions["riskwatch"].engine.dispose()


# --- a real server -----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_sign_in_and_out_through_a_real_server(web: Web) -> None:
    server = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    try:
        with pytest.raises(urllib.error.HTTPError) as sent:
            opener.open(urllib.request.Request(base + "/runs", headers=BROWSER))
        sent.value.close()
        assert sent.value.code == 303 and sent.value.headers["Location"] == "/signin?next=/runs"
        form = opener.open(base + "/signin?next=/runs").read().decode()
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf
        body = urllib.parse.urlencode(
            {
                "csrf_token": csrf.group(1),
                "name": "read-user",
                "password": PASSWORD,
                "next": "/runs",
            }
        ).encode()
        with pytest.raises(urllib.error.HTTPError) as signed:
            opener.open(urllib.request.Request(base + "/signin", data=body, headers=BROWSER))
        signed.value.close()
        assert signed.value.code == 303 and signed.value.headers["Location"] == "/runs"
        raw = signed.value.headers.get_all("Set-Cookie")
        assert any("HttpOnly" in c and "SameSite=Lax" in c and "Secure" not in c for c in raw)
        page = opener.open(urllib.request.Request(base + "/", headers=BROWSER)).read().decode()
        assert "read-user" in page and "Sign out" in page
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert token
        out = urllib.parse.urlencode({"csrf_token": token.group(1)}).encode()
        with pytest.raises(urllib.error.HTTPError) as left:
            opener.open(urllib.request.Request(base + "/signout", data=out, headers=BROWSER))
        left.value.close()
        assert left.value.code == 303
        with pytest.raises(urllib.error.HTTPError) as again:
            opener.open(urllib.request.Request(base + "/", headers=BROWSER))
        again.value.close()
        assert again.value.code == 303
    finally:
        server.shutdown()
        thread.join()
