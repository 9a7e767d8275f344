"""Sign-in in a real browser (issue 13, points 9 and 13): chromium signs in with a password and
with a token, sees who it is, is refused what its role does not allow, and signs out."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings
from pipeline.storage import db, tokens, users
from tests.browser import NARROW, horizontal_overflow
from tests.conftest import copy_project
from tests.test_api import RECORD
from tests.test_signin import KEY, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def signed(built_project: Path, tmp_path: Path) -> tuple[Settings, str]:
    """A project with a run, a read user, a read token; auth required."""
    settings = copy_project(built_project, tmp_path / "project")
    engine = db.make_engine(settings.database_url)
    try:
        secret = tokens.create(engine, "browser", "read")[1]
        users.add(engine, "reader", "read", PASSWORD, 12)
    finally:
        engine.dispose()
    return settings.with_values(auth__required="true", auth__secret_key=KEY), secret


def test_sign_in_see_who_is_refused_and_sign_out(
    signed: tuple[Settings, str], live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    settings, _ = signed
    with live_server(settings) as base:
        page = page_for(base)
        page.goto("/runs")  # a browser is sent to sign in, and then back to the page
        assert page.url == base + "/signin?next=/runs"
        page.get_by_label("Name").fill("reader")
        page.get_by_label("Password").fill("not the password")
        page.get_by_role("button", name="Sign in").click()
        assert "wrong name or password" in page.locator("[role=alert]").inner_text()
        page.get_by_label("Name").fill("reader")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")  # the keyboard is enough
        page.wait_for_url(base + "/runs")
        page.goto("/")
        assert "reader" in page.locator("header .account").inner_text()
        cookies = {c["name"]: c for c in page.context.cookies()}
        cookie = cookies["riskwatch_session"]
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
        assert cookie["secure"] is False  # plain HTTP on 127.0.0.1
        # A predict-only request from the page's script: refused for the role, with the CSRF
        # token of the page's meta tag (without it: refused for that).
        refused = page.evaluate(
            """async (record) => {
                const csrf = document.querySelector('meta[name="csrf-token"]').content;
                const send = (headers) => fetch('/prediction', {method: 'POST', headers,
                    body: JSON.stringify([record])});
                const json = {'Content-Type': 'application/json'};
                const without = await send(json);
                const withToken = await send({...json, 'X-CSRF-Token': csrf,
                    'Accept': 'text/html'});
                return [without.status, await without.text(), withToken.status,
                        await withToken.text()];
            }""",
            RECORD,
        )
        assert refused[0] == 403 and "needs the role predict" in refused[1]
        assert refused[2] == 403 and "needs the role predict" in refused[3]
        assert "<html" in refused[3]
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(base + "/signin")
        assert "you signed out" in page.content()
        page.goto("/")
        assert page.url == base + "/signin?next=/"


def test_sign_in_with_a_token_at_a_phone_s_width(
    signed: tuple[Settings, str], live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    settings, secret = signed
    with live_server(settings) as base:
        page = page_for(base, width=NARROW)
        page.goto("/signin")
        assert horizontal_overflow(page) == 0
        page.get_by_label("Token").fill(secret)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/")
        assert "browser" in page.locator("header .account").inner_text()
        assert page.locator("table tbody tr").count() >= 1
        assert horizontal_overflow(page) == 0
