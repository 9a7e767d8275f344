"""API tokens and roles: the `riskwatch token` commands, a decision for every route, who gets
401 and 403, and the start refused when a token is required and none exists (issue 11)."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.auth import policy
from app.roles import ROUTE_ROLES
from pipeline.cli import token_commands
from pipeline.errors import ConfigError
from pipeline.settings import Settings, load_settings
from pipeline.storage import api_tables, db, tables, tokens
from tests.conftest import REPO, copy_project
from tests.e2e import invoke
from tests.test_api import RECORD, assert_error, empty_project, make_app
from tests.test_procfile import _call, _free_port, _opener, stop, wait_for_health, web_process


def _routes() -> list[tuple[str, str]]:
    """Every (rule, method) of the app, as its URL map has them."""
    settings = load_settings(REPO / "riskwatch.toml", environ={}).with_values(
        auth__required="false"
    )
    app = create_app({"RISKWATCH_SETTINGS": settings})
    app.extensions["riskwatch"].engine.dispose()
    return sorted(
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - {"HEAD", "OPTIONS"}
    )


ROUTES = _routes()
# In production (RISKWATCH_ENV=production or DYNO) the app needs a key for its sessions.
SESSION_KEY = "auth-tests-session-key-" + "s" * 24


def new_token(settings: Settings, name: str, role: str) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        return tokens.create(engine, name, role)[1]
    finally:
        engine.dispose()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    settings = copy_project(built_project, tmp_path_factory.mktemp("auth"))
    return settings.with_values(api__requests_per_minute=0, api__predictions_per_day=0)


@pytest.fixture(scope="module")
def secrets_by_role(served: Settings) -> dict[str, str]:
    return {role: new_token(served, f"route-{role}", role) for role in tokens.ROLES}


@pytest.fixture(scope="module")
def required_app(served: Settings, secrets_by_role: dict[str, str]) -> Iterator[Flask]:
    with make_app(served.with_values(auth__required="true")) as app:
        yield app


@pytest.fixture(scope="module")
def ids(served: Settings) -> dict[str, str]:
    """Real values for the routes' path parameters."""
    engine = db.make_engine(served.database_url)
    try:
        with engine.connect() as conn:
            run = conn.execute(sa.select(tables.runs.c.id)).scalar_one()
            file = conn.execute(sa.select(tables.quality_files.c.id)).scalar_one()
    finally:
        engine.dispose()
    return {
        "<run_id>": run,
        "<int:file_id>": str(file),
        "<path:filename>": "style.css",
        "<int:version>": "1",
        "<path:feature>": "__prediction__",
    }


def concrete(rule: str, ids: dict[str, str]) -> str:
    for param, value in ids.items():
        rule = rule.replace(param, value)
    assert "<" not in rule, f"{rule}: give its path parameter a real value in `ids`"
    return rule


def call(client: FlaskClient, method: str, url: str, headers: dict[str, str] | None = None) -> Any:
    body = {"json": [RECORD]} if method == "POST" else {}
    return client.open(url, method=method, headers=headers or {}, **body)


# --- every route has a decision, and it holds -------------------------------------------------


def test_the_route_table_is_the_url_map() -> None:
    """A new route fails here until app.roles decides who may call it."""
    assert set(ROUTES) == set(ROUTE_ROLES)
    assert set(ROUTE_ROLES.values()) <= {None, *tokens.ROLES}
    public = {route for route, role in ROUTE_ROLES.items() if role is None}
    assert public == {
        ("/health", "GET"),
        ("/openapi.json", "GET"),
        ("/static/<path:filename>", "GET"),
        ("/signin", "GET"),
        ("/signin", "POST"),
        ("/signout", "POST"),
    }
    assert ROUTE_ROLES["/prediction", "POST"] == "predict"
    assert token_commands.ROLES == tokens.ROLES


@pytest.mark.parametrize(("rule", "method"), ROUTES)
def test_every_route_under_required_auth(
    required_app: Flask,
    secrets_by_role: dict[str, str],
    ids: dict[str, str],
    rule: str,
    method: str,
) -> None:
    needed = ROUTE_ROLES.get((rule, method), "admin")
    url = concrete(rule, ids)
    client = required_app.test_client()
    anonymous = call(client, method, url)
    if needed is None:
        assert anonymous.status_code not in (401, 403), anonymous.get_data(as_text=True)
    else:
        assert_error(anonymous, 401)
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    anonymous.close()
    for role, secret in secrets_by_role.items():
        response = call(client, method, url, bearer(secret))
        if needed is None or tokens.allows(role, needed):
            assert response.status_code not in (401, 403), (role, response.get_data(as_text=True))
            assert response.status_code < 500, (role, response.get_data(as_text=True))
        else:
            body = assert_error(response, 403)
            assert f"needs {needed}" in body["error"]
        response.close()


def test_a_route_without_a_decision_needs_admin(
    served: Settings, secrets_by_role: dict[str, str]
) -> None:
    with make_app(served) as app:  # auth not required: even so
        app.add_url_rule("/undecided", "undecided", lambda: {"ok": True}, methods=["POST"])
        client = app.test_client()
        assert_error(client.post("/undecided"), 401)
        assert_error(client.post("/undecided", headers=bearer(secrets_by_role["predict"])), 403)
        done = client.post("/undecided", headers=bearer(secrets_by_role["admin"]))
        assert done.status_code == 200 and done.get_json() == {"ok": True}


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Bearer rw_not-a-token", "unknown API token"),
        ("Bearer ", "must be: Bearer <token>"),
        ("Basic dXNlcjpwYXNz", "must be: Bearer <token>"),
        ("Bearer " + "x" * 500, "must be: Bearer <token>"),
        ("rw_missing-the-scheme", "must be: Bearer <token>"),
    ],
)
@pytest.mark.parametrize("required", ["true", "false"])
def test_an_invalid_token_is_always_a_401(
    served: Settings, header: str, reason: str, required: str
) -> None:
    with make_app(served.with_values(auth__required=required)) as app:
        response = app.test_client().get("/runs", headers={"Authorization": header})
    body = assert_error(response, 401)
    assert reason in body["error"]
    assert "error=" in response.headers["WWW-Authenticate"]


def test_without_required_auth_anonymous_gets_its_role_and_a_token_its_own(
    served: Settings, secrets_by_role: dict[str, str]
) -> None:
    with make_app(served) as app:  # auth.anonymous_role = predict by default
        client = app.test_client()
        assert client.get("/runs").status_code == 200
        assert client.post("/prediction", json=[RECORD]).status_code == 200
        # A valid token's role applies even here: a read token may not predict.
        read = bearer(secrets_by_role["read"])
        assert_error(client.post("/prediction", json=[RECORD], headers=read), 403)
    with make_app(served.with_values(auth__anonymous_role="read")) as app:
        client = app.test_client()
        assert client.get("/diagnostics").status_code == 200
        body = assert_error(client.post("/prediction", json=[RECORD]), 401)
        assert "needs a token with role predict" in body["error"]


def test_a_revoked_token_is_refused_at_once(served: Settings) -> None:
    secret = new_token(served, "soon-revoked", "predict")
    with make_app(served.with_values(auth__required="true")) as app:
        client = app.test_client()
        assert client.get("/runs", headers=bearer(secret)).status_code == 200
        done = invoke(served.base_dir, "token", "revoke", "soon-revoked")
        assert done.returncode == 0, done.stderr
        body = assert_error(client.get("/runs", headers=bearer(secret)), 401)
        assert body["error"] == "token 'soon-revoked' was revoked"


def test_last_used_is_written_at_most_once_a_minute(served: Settings) -> None:
    secret = new_token(served, "used", "read")
    engine = db.make_engine(served.database_url)
    try:
        with engine.connect() as conn:
            assert tokens.find(conn, secret).last_used_at is None  # type: ignore[union-attr]
        with make_app(served) as app:
            app.test_client().get("/scoring", headers=bearer(secret))
        with engine.connect() as conn:
            token = tokens.find(conn, secret)
        assert token is not None and token.last_used_at is not None
        first = token.last_used_at
        assert not tokens.touch(engine, token, first + tokens.LAST_USED_RESOLUTION / 2)
        assert tokens.touch(engine, token, first + tokens.LAST_USED_RESOLUTION)
        with engine.connect() as conn:
            assert tokens.find(conn, secret).last_used_at > first  # type: ignore[union-attr]
    finally:
        engine.dispose()


# --- when a token is required -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "environ", "required"),
    [
        ("auto", {}, False),
        ("auto", {"RISKWATCH_ENV": "production"}, True),
        ("auto", {"RISKWATCH_ENV": "staging"}, False),
        ("auto", {"DYNO": "web.1"}, True),
        ("false", {"DYNO": "web.1"}, False),
        ("true", {}, True),
    ],
)
def test_auth_required_auto_means_production_or_heroku(
    served: Settings, value: str, environ: dict[str, str], required: bool
) -> None:
    found = policy(served.with_values(auth__required=value), environ)
    assert found.required is required
    assert (found.anonymous_role is None) is required


@pytest.mark.parametrize("environ", [{"RISKWATCH_ENV": "production"}, {"DYNO": "web.1"}])
def test_the_app_refuses_to_start_without_a_token_when_required(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    settings = empty_project(tmp_path, migrate=True).with_values(auth__secret_key=SESSION_KEY)
    with pytest.raises(ConfigError, match=r"no API token exists.*riskwatch token create"):
        create_app({"RISKWATCH_SETTINGS": settings})
    # A revoked token is no token.
    secret = new_token(settings, "gone", "admin")
    assert invoke(tmp_path, "token", "revoke", "gone").returncode == 0
    with pytest.raises(ConfigError, match="no API token exists"):
        create_app({"RISKWATCH_SETTINGS": settings})
    new_token(settings, "ops", "read")
    with make_app(settings) as app:
        assert_error(app.test_client().get("/runs"), 401)
        assert_error(app.test_client().get("/runs", headers=bearer(secret)), 401)
        assert app.test_client().get("/health").status_code == 200
    # Told so, the app starts without a token again.
    with make_app(settings.with_values(auth__required="false")) as app:
        assert app.test_client().get("/runs").status_code == 200


@contextmanager
def app_warnings() -> Iterator[list[str]]:
    """The warning lines the app logs (on its own logger: the CLI's stops propagation)."""
    lines: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("riskwatch.app")
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)


def _boots_and_answers_503(settings: Settings, why: str) -> None:
    """The app starts with one warning; /health and a request with a token get 503, one
    without a token its 401: nothing passes without a valid token."""
    with app_warnings() as lines, make_app(settings) as app:
        client = app.test_client()
        assert why in assert_error(client.get("/health"), 503)["error"]
        body = assert_error(client.get("/runs", headers=bearer("rw_" + "x" * 43)), 503)
        assert why in body["error"]
        assert_error(client.get("/runs"), 401)
        assert_error(client.post("/prediction", json=[RECORD]), 401)
    assert len(lines) == 1, lines
    assert "could not be checked" in lines[0] and why in lines[0], lines
    assert "starting anyway" in lines[0] and "\n" not in lines[0]


def test_a_required_token_on_an_unmigrated_database_boots_and_answers_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A release before `riskwatch db upgrade`: no crash loop; once migrated, with no token, the
    running app lets nothing through, and a new start is refused."""
    monkeypatch.setenv("DYNO", "web.1")
    settings = empty_project(tmp_path, migrate=False).with_values(auth__secret_key=SESSION_KEY)
    _boots_and_answers_503(settings, "riskwatch db upgrade")
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    with pytest.raises(ConfigError, match="no API token exists"):
        create_app({"RISKWATCH_SETTINGS": settings})


def test_a_required_token_with_the_database_down_boots_and_answers_503(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PostgreSQL that does not answer while the dyno restarts (nothing listens on the port):
    the app starts, and answers 503 until the database is back."""
    monkeypatch.setenv("DYNO", "web.1")
    url = f"postgresql+psycopg://riskwatch@127.0.0.1:{_free_port()}/riskwatch"
    settings = empty_project(tmp_path, migrate=False).with_values(
        database__url=url, auth__secret_key=SESSION_KEY
    )
    _boots_and_answers_503(settings, "cannot reach the database")


# --- the CLI --------------------------------------------------------------------------------


def test_token_create_list_revoke(tmp_path: Path) -> None:
    (tmp_path / "riskwatch.toml").write_text("")
    created = invoke(tmp_path, "token", "create", "--name", "ci", "--role", "predict", "--json")
    assert created.returncode == 0, created.stderr
    doc = json.loads(created.stdout)
    secret = doc["token"]
    assert secret.startswith("rw_") and len(secret) >= 40
    assert doc["name"] == "ci" and doc["role"] == "predict" and doc["status"] == "active"
    assert doc["created_at"] and doc["last_used_at"] is None and doc["revoked_at"] is None

    text = invoke(tmp_path, "token", "create", "--name", "dash", "--role", "read")
    assert text.returncode == 0, text.stderr
    assert "shown this once" in text.stdout and "Authorization: Bearer" in text.stdout
    other = text.stdout.split("\n")[1]
    assert other.startswith("rw_") and other != secret

    # Stored only hashed: no column of the database holds the secret.
    url = f"sqlite:///{tmp_path / 'riskwatch.db'}"
    engine = db.make_engine(url)
    try:
        with engine.connect() as conn:
            stored = [dict(r._mapping) for r in conn.execute(sa.select(api_tables.api_tokens))]
    finally:
        engine.dispose()
    assert secret not in json.dumps(stored, default=str)
    assert stored[0]["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()

    listed = invoke(tmp_path, "token", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["status"]) for r in rows] == [
        ("ci", "predict", "active"),
        ("dash", "read", "active"),
    ]
    assert secret not in listed.stdout and "sha256" not in listed.stdout
    human = invoke(tmp_path, "token", "list").stdout
    assert "ci" in human and "never" in human and secret not in human

    revoked = invoke(tmp_path, "token", "revoke", "ci", "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["status"] == "revoked"
    again = invoke(tmp_path, "token", "revoke", "ci")
    assert again.returncode == 0 and "already revoked" in again.stdout
    listed = invoke(tmp_path, "token", "list", "--json")
    assert [r["status"] for r in json.loads(listed.stdout)] == ["revoked", "active"]


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["create", "--name", "ci", "--role", "read"], 2, "a token named 'ci' already exists"),
        (["create", "--name", "old", "--role", "read"], 2, "names are never reused"),
        (["create", "--name", "x", "--role", "root"], 2, "'root' is not one of"),
        (["create", "--name", "bad name", "--role", "read"], 2, "expected 1 to 64 letters"),
        (["create", "--name", "x" * 65, "--role", "read"], 2, "expected 1 to 64 letters"),
        (["create", "--role", "read"], 2, "Missing option '--name'"),
        (["revoke", "nobody"], 1, "no token named 'nobody'"),
    ],
)
def test_token_errors_are_clear(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    (tmp_path / "riskwatch.toml").write_text("")
    assert invoke(tmp_path, "token", "create", "--name", "ci", "--role", "admin").returncode == 0
    assert invoke(tmp_path, "token", "create", "--name", "old", "--role", "read").returncode == 0
    assert invoke(tmp_path, "token", "revoke", "old").returncode == 0
    done = invoke(tmp_path, "token", *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_tokens_on_sqlite_and_postgres(settings: Settings, engine: sa.Engine) -> None:
    record, secret = tokens.create(engine, "pg", "admin")
    with pytest.raises(Exception, match="already exists"):
        tokens.create(engine, "pg", "read")
    with engine.connect() as conn:
        found = tokens.find(conn, secret)
        assert found is not None and found.role == "admin" and found.revoked_at is None
        assert tokens.active_count(conn) == 1
        assert tokens.find(conn, secret + "x") is None
    assert tokens.revoke(engine, "pg")["already"] is False
    with engine.connect() as conn:
        assert tokens.active_count(conn) == 0
        assert tokens.list_tokens(conn)[0]["status"] == "revoked"
    assert record["name"] == "pg"


# --- under the Procfile's own gunicorn command, as on Heroku ---------------------------------


def _web(settings: Settings, log: Path, workers: int = 1) -> tuple[int, subprocess.Popen[bytes]]:
    """The Procfile's web: command with DYNO set, as Heroku runs it."""
    env = {"DYNO": "web.1", "WEB_CONCURRENCY": str(workers), "RISKWATCH_SECRET_KEY": SESSION_KEY}
    return web_process({**env, "RISKWATCH_CONFIG": str(settings.source)}, log)


def test_on_heroku_gunicorn_does_not_boot_without_a_token_and_then_asks_for_it(
    tmp_path: Path,
) -> None:
    settings = empty_project(tmp_path, migrate=True)
    log = tmp_path / "gunicorn.log"
    _port, server = _web(settings, log)
    try:
        server.wait(timeout=120)
    finally:
        stop(server)
    text = log.read_text()
    assert server.returncode != 0, text
    assert "no API token exists" in text and "riskwatch token create" in text, text

    secret = new_token(settings, "ops", "read")
    port, server = _web(settings, tmp_path / "gunicorn-2.log")
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_health(server, port, tmp_path / "gunicorn-2.log")[0] == 200
        status, body = _call(base + "/runs")
        assert status == 401 and body["ok"] is False and body["status"] == 401
        assert "DYNO is set" in body["error"]
        request = urllib.request.Request(base + "/runs", headers=bearer(secret))
        with _opener.open(request, timeout=10) as response:
            assert response.status == 200 and json.loads(response.read()) == {"runs": []}
    finally:
        stop(server)


def _predict(base: str, secret: str) -> int:
    request = urllib.request.Request(
        base + "/prediction",
        data=json.dumps([RECORD]).encode(),
        headers={"Content-Type": "application/json", **bearer(secret)},
    )
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        with exc:
            body = json.loads(exc.read())
            assert body["status"] == exc.code and exc.headers["Retry-After"]
            return exc.code


def test_two_gunicorn_workers_share_the_daily_cap(tmp_path: Path, built_project: Path) -> None:
    """Eight concurrent predictions against the Procfile's server with two workers and a cap of
    five a day: five stored, three refused, whichever worker took each."""
    settings = copy_project(built_project, tmp_path / "project")
    assert settings.source is not None
    with settings.source.open("a") as toml:
        toml.write("\n[api]\npredictions_per_day = 5\nrequests_per_minute = 0\n")
    settings = load_settings(settings.source, environ={})
    secret = new_token(settings, "two-workers", "predict")
    engine = db.make_engine(settings.database_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(tables.predictions)).scalar()
    log = tmp_path / "gunicorn.log"
    port, server = _web(settings, log, workers=2)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(server, port, log)
        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(pool.map(lambda _: _predict(base, secret), range(8)))
    finally:
        stop(server)
    assert statuses == [200] * 5 + [429] * 3, log.read_text()
    with engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(tables.predictions)).scalar()
    engine.dispose()
    assert after == stored + 5


def test_a_failed_last_used_write_does_not_fail_the_request(
    served: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """last_used_at is best effort: SQLite busy (database is locked) while a run writes is one
    warning line, and the valid request is answered as it would be."""
    secret = new_token(served, "busy", "read")

    def busy(*_args: object, **_kwargs: object) -> bool:
        raise sa.exc.OperationalError(
            "UPDATE api_tokens SET last_used_at=?", {}, Exception("database is locked")
        )

    monkeypatch.setattr(tokens, "touch", busy)
    with make_app(served) as app, caplog.at_level(logging.WARNING, logger="riskwatch.app"):
        response = app.test_client().get("/runs", headers=bearer(secret))
    assert response.status_code == 200, response.get_data(as_text=True)
    [line] = [r.getMessage() for r in caplog.records if "last_used_at" in r.getMessage()]
    assert line == "token 'busy': last_used_at not recorded (database is locked)"
