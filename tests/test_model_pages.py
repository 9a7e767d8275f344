"""The model pages (issue 13 point 5): versions, one version, two compared, and rollback (admin,
confirmed, CSRF-checked, through the registry's own rollback)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask, g, session

from app import model_pages, sessions
from pipeline.settings import Settings
from pipeline.storage import db, tables
from tests.conftest import copy_project
from tests.run_page_data import BROWSER, add_version_two, production, real_run
from tests.test_api import make_app
from tests.test_auth import bearer, new_token


@pytest.fixture
def project(built_project: Path, tmp_path: Path) -> Settings:
    settings = copy_project(built_project, tmp_path / "models")
    add_version_two(settings)
    new_token(settings, "boot", "read")  # a token exists: the app may require one
    return settings.with_values(auth__required="true")


@pytest.fixture
def app(project: Settings) -> Flask:
    with make_app(project) as app:
        yield app


def _get(app: Flask, url: str, role: str = "read", status: int = 200) -> str:
    token = new_token(app.extensions["riskwatch"].settings, f"m-{role}", role)
    response = app.test_client().get(url, headers={**BROWSER, **bearer(token)})
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def test_the_versions_page(app: Flask, project: Settings) -> None:
    html = _get(app, "/models")
    assert 'href="/models/2">v2</a> (production)' in html
    assert "f1 0.900 (0.800 to 0.950)" in html and "f1 0.821 (0.666 to 0.933)" in html
    assert "holdout of 70 rows" in html and "holdout of 60 rows" in html
    assert html.count("different holdout</span>") == 1  # v1: not production's holdout
    assert "last 2 files" in html
    # The deployments history, newest first: from, to, kind, why, the run.
    rows = re.findall(r'<td data-label="Why">([^<]+)</td>', html)
    assert rows == ["v2 beat v1", "no production model yet: the first model is deployed"]
    assert f'href="/runs/{real_run(project)["id"]}"' in html
    assert "Roll back" not in html  # a read token sees no rollback button
    assert "Roll back to v1…" in _get(app, "/models", "admin")
    assert 'class="stack models"' in html


def test_a_version_page(app: Flask) -> None:
    html = _get(app, "/models/1")
    assert "Model v1</h1>" in html
    assert "interval 0.666 to 0.933, on its own holdout of 60 rows" in html
    assert "clients_batch_01.csv" in html and re.search(r'href="/quality/\d+\.html"', html)
    assert "Trained under contract" in html and "[contract]" in html  # its text
    assert 'model.params</td><td data-label="Value">none' in html  # no raw {}
    assert re.findall(r'<td data-label="Why">([^<]+)</td>', html)[0] == "v2 beat v1"


@pytest.mark.parametrize("url", ["/models/3", "/models/99999999999"])
def test_an_unknown_version_is_a_404_page(app: Flask, url: str) -> None:
    assert "is not in the registry" in _get(app, url, status=404)


def test_compare_marks_different_holdouts_and_shows_the_same_rows(app: Flask) -> None:
    html = _get(app, "/models/compare?a=1&b=2")
    assert "v1 and v2 side by side" in html
    assert "The recorded scores are on different holdouts" in html
    same = html.split('id="same-rows"')[1]
    assert '<td data-label="Data">test</td>' in same
    assert "0.733 (0.631 to 0.827)" in same and "0.750 (0.650 to 0.840)" in same
    assert '<td data-label="Data">holdout</td>' not in same  # v2 has no score on v1's holdout


@pytest.mark.parametrize(
    ("query", "status", "parameter"),
    [("a=1", 400, "b"), ("a=x&b=1", 400, "a"), ("a=1&b=0", 400, "b"), ("a=1&b=7", 404, "b")],
)
def test_compare_refuses_bad_versions(app: Flask, query: str, status: int, parameter: str) -> None:
    html = _get(app, f"/models/compare?{query}", status=status)
    assert f"<code>{parameter}</code>" in html


def _admin(app: Flask) -> dict[str, str]:
    """The bearer header of the project's admin token (made on first use)."""
    secret = app.config.get("ADMIN_SECRET")
    if secret is None:
        secret = app.config["ADMIN_SECRET"] = new_token(
            app.extensions["riskwatch"].settings, "admin", "admin"
        )
    return bearer(secret)


def test_rollback_asks_then_rolls_back_through_the_registry(app: Flask, project: Settings) -> None:
    client = app.test_client()
    question = client.get("/models/rollback?to=1", headers={**BROWSER, **_admin(app)})
    html = question.get_data(as_text=True)
    assert question.status_code == 200 and "Roll back from v2 to v1?" in html
    assert '<input type="hidden" name="csrf_token"' in html and 'name="from" value="2"' in html
    assert production(project) == 2  # asking changed nothing
    form = {"from": "2", "to": "1", "reason": "v2 misbehaves", "csrf_token": ""}
    done = client.post("/models/rollback", data=form, headers={**BROWSER, **_admin(app)})
    assert done.status_code == 200, done.get_data(as_text=True)
    assert "Rolled back from v2 to v1." in done.get_data(as_text=True)
    assert production(project) == 1
    engine = db.make_engine(project.database_url)
    with engine.connect() as conn:
        last = conn.execute(
            sa.select(tables.deployments).order_by(tables.deployments.c.id.desc()).limit(1)
        ).one()
    engine.dispose()
    assert (last.from_version, last.to_version, last.kind) == (2, 1, "rollback")
    assert last.reason == "v2 misbehaves (web app, token 'admin')"
    # The same confirmation again: production moved since, so nothing happens.
    again = client.post("/models/rollback", data=form, headers={**BROWSER, **_admin(app)})
    assert again.status_code == 409 and "production is v1 now, not v2" in again.get_data(
        as_text=True
    )
    assert production(project) == 1


@pytest.mark.parametrize(
    ("form", "status", "parameter"),
    [
        ({"to": "1"}, 400, "from"),
        ({"from": "2", "to": "one"}, 400, "to"),
        ({"from": "2", "to": "9"}, 404, "to"),
        ({"from": "1", "to": "2"}, 409, "from"),
    ],
)
def test_a_bad_rollback_changes_nothing(
    app: Flask, project: Settings, form: dict[str, str], status: int, parameter: str
) -> None:
    response = app.test_client().post("/models/rollback", data=form, headers=_admin(app))
    assert response.status_code == status
    assert f"<code>{parameter}</code>" in response.get_data(as_text=True)
    assert production(project) == 2


def test_a_tampered_version_is_not_rolled_back_to(app: Flask, project: Settings) -> None:
    artifact = project.path("paths.models") / "1" / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    form = {"from": "2", "to": "1"}
    response = app.test_client().post("/models/rollback", data=form, headers=_admin(app))
    assert response.status_code == 409 and "not rolled back" in response.get_data(as_text=True)
    assert production(project) == 2


@pytest.mark.parametrize(
    ("url", "status"), [("/models/rollback?to=2", 409), ("/models/rollback", 400)]
)
def test_the_question_refuses_what_cannot_be_done(app: Flask, url: str, status: int) -> None:
    _get(app, url, "admin", status)


@pytest.mark.parametrize("role", ["read", "predict"])
def test_rollback_is_for_admins_only(app: Flask, project: Settings, role: str) -> None:
    token = bearer(new_token(project, f"not-admin-{role}", role))
    client = app.test_client()
    assert client.get("/models/rollback?to=1", headers=token).status_code == 403
    refused = client.post("/models/rollback", data={"from": "2", "to": "1"}, headers=token)
    assert refused.status_code == 403 and production(project) == 2


def test_a_session_signed_in_post_needs_its_csrf_token(app: Flask) -> None:
    with app.test_request_context("/models/rollback", method="POST", data={"to": "1"}):
        assert model_pages.csrf_checked() is None  # a bearer token: no CSRF exposure
        g.signed_in_by_session = True
        assert "no valid CSRF token" in (model_pages.csrf_checked() or "")
    with app.test_request_context("/models/rollback", method="POST", data={"csrf_token": "x"}):
        g.signed_in_by_session = True
        assert model_pages.csrf_checked() is not None  # not this session's token
        session[sessions.CSRF] = "y" * 43
        assert model_pages.csrf_checked() is not None
    with app.test_request_context("/models/rollback", method="POST", data={"csrf_token": "y" * 43}):
        g.signed_in_by_session = True
        session[sessions.CSRF] = "y" * 43
        assert model_pages.csrf_checked() is None


def test_a_session_post_without_its_csrf_token_is_refused(project: Settings) -> None:
    with make_app(project) as app:
        # As the sign-in marks a request signed in by its cookie.
        app.before_request(lambda: setattr(g, "signed_in_by_session", True))
        form = {"from": "2", "to": "1"}
        refused = app.test_client().post("/models/rollback", data=form, headers=_admin(app))
        assert refused.status_code == 403
        assert "<code>csrf_token</code>" in refused.get_data(as_text=True)
    assert production(project) == 2


def test_no_rollback_while_a_run_holds_the_lock(app: Flask, project: Settings) -> None:
    from pipeline.infra.lock import RunLock

    with RunLock(project.path("paths.lock")):
        response = app.test_client().post(
            "/models/rollback", data={"from": "2", "to": "1"}, headers=_admin(app)
        )
    assert response.status_code == 409
    assert "a run is in progress" in response.get_data(as_text=True)
    assert production(project) == 2
