"""The source a prediction is stored under, over real HTTP (issue 13), on SQLite and PostgreSQL:
a browser signed in at the real /signin form (a password or a token), sending what the predict
page sends (its session cookie and the CSRF token of the page's meta tag), is stored as
`webapp`; a bearer client is `api`, and one asking for `webapp` gets a 400 naming `source`,
with nothing stored."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.settings import Settings
from pipeline.storage import db, tables, tokens, users
from tests.browser import serve
from tests.test_api import RECORD
from tests.test_signin import BROWSER, PASSWORD, web_settings

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class _Answer(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to look at (the sign-in's 303), not one to follow."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Http:
    """A client of the live server with a cookie jar of its own, as a browser keeps one."""

    base: str
    jar: CookieJar = field(default_factory=CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(self.jar),
            _Answer(),
        )

    def call(
        self, method: str, path: str, data: bytes | None = None, **headers: str
    ) -> tuple[int, Any, str]:
        """Status, headers and text of one request."""
        request = urllib.request.Request(self.base + path, data, method=method)
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with self.opener.open(request, timeout=20) as answer:
                return answer.status, answer.headers, answer.read().decode()
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, exc.headers, exc.read().decode()

    def post_json(self, path: str, body: object, **headers: str) -> tuple[int, Any]:
        status, _, text = self.call(
            "POST",
            path,
            json.dumps(body).encode(),
            Content_Type="application/json",
            Accept="application/json",
            **headers,
        )
        return status, json.loads(text)


@dataclass(frozen=True)
class Served:
    base: str
    settings: Settings
    secret: str  # a predict token's


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """The app on a live server, tokens required, with a predict token and a predict user."""
    settings = web_settings(request.getfixturevalue(f"{request.param}_project"))
    engine = db.make_engine(settings.database_url)
    try:
        secret = tokens.create(engine, "source-predict", "predict")[1]
        users.add(engine, "source-user", "predict", PASSWORD, 12)
    finally:
        engine.dispose()
    with serve(settings) as base:
        yield Served(base, settings, secret)


def _stored(settings: Settings, key: str) -> list[str]:
    """The sources of the predictions stored for the row key `key`."""
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            p = tables.predictions
            query = sa.select(p.c.source).where(p.c.row_key == json.dumps([key])).order_by(p.c.id)
            return list(conn.execute(query).scalars())
    finally:
        engine.dispose()


def _signed_in(served: Served, how: str) -> tuple[Http, str]:
    """A client signed in at the /signin form (by `how`: password or token), and the CSRF
    token of the predict page's meta tag, which the page's script sends."""
    client = Http(served.base)
    status, _, form = client.call("GET", "/signin?next=/predict", Accept=BROWSER["Accept"])
    assert status == 200
    hidden = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert hidden is not None, form
    fields = (
        {"name": "source-user", "password": PASSWORD}
        if how == "password"
        else {"token": served.secret}
    )
    body = urllib.parse.urlencode({**fields, "csrf_token": hidden.group(1), "next": "/predict"})
    status, headers, _ = client.call(
        "POST",
        "/signin",
        body.encode(),
        Content_Type="application/x-www-form-urlencoded",
        Accept=BROWSER["Accept"],
    )
    assert status == 303 and headers["Location"] == "/predict"
    assert "HttpOnly" in headers["Set-Cookie"] and "riskwatch_session=" in headers["Set-Cookie"]
    status, _, page = client.call("GET", "/predict", Accept=BROWSER["Accept"])
    assert status == 200 and 'id="predict-form"' in page
    meta = CSRF_META.search(page)
    assert meta is not None
    return client, meta.group(1)


@pytest.mark.parametrize("how", ["password", "token"])
def test_the_predict_page_signed_in_at_the_form_stores_webapp(served: Served, how: str) -> None:
    client, csrf = _signed_in(served, how)
    key = f"page-{how}"
    status, body = client.post_json(
        "/predict", {"records": [{**RECORD, "corporation": key}]}, X_CSRF_Token=csrf
    )
    assert status == 200, body
    assert body["stored"] == 1 and "prediction" in body["results"][0]
    # The session says where a request came from, whatever its body asks.
    for path in ("/predict", "/prediction"):
        status, body = client.post_json(
            path, {"records": [{**RECORD, "corporation": key}], "source": "api"}, X_CSRF_Token=csrf
        )
        assert status == 200, body
    assert _stored(served.settings, key) == ["webapp"] * 3
    # Without the page's CSRF token the cookie alone is refused, and nothing is stored.
    status, body = client.post_json("/predict", [{**RECORD, "corporation": f"{key}-no-csrf"}])
    assert status == 403 and "CSRF" in body["error"]
    assert _stored(served.settings, f"{key}-no-csrf") == []


@pytest.mark.parametrize("path", ["/prediction", "/predict"])
def test_a_bearer_client_is_api_and_may_not_claim_webapp(served: Served, path: str) -> None:
    client = Http(served.base)
    token = {"Authorization": f"Bearer {served.secret}"}
    key = f"bearer{path.replace('/', '-')}"
    record = {**RECORD, "corporation": key}
    for body in ([record], {"records": [record]}, {"records": [record], "source": "api"}):
        status, said = client.post_json(path, body, **token)
        assert status == 200, said
    status, said = client.post_json(path, {"records": [record], "source": "webapp"}, **token)
    assert status == 400 and said["parameter"] == "source"
    assert said["error"].startswith("field 'source' may be 'webapp' only for a browser signed in")
    assert _stored(served.settings, key) == ["api"] * 3


def test_a_bearer_header_beside_a_session_cookie_is_the_bearer_client(served: Served) -> None:
    """The cookie does not authenticate a request with Authorization: it is the token's."""
    client, csrf = _signed_in(served, "token")
    key = "bearer-and-cookie"
    token = {"Authorization": f"Bearer {served.secret}", "X_CSRF_Token": csrf}
    body = {"records": [{**RECORD, "corporation": key}], "source": "webapp"}
    status, said = client.post_json("/prediction", body, **token)
    assert status == 400 and said["parameter"] == "source"
    status, said = client.post_json("/prediction", body["records"], **token)
    assert status == 200, said
    assert _stored(served.settings, key) == ["api"]
