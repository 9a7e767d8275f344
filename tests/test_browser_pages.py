"""The pages as a browser shows them: real chromium, a real server, a project with a real run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipeline.settings import Settings
from pipeline.storage import db, tokens
from tests.browser import NARROW, horizontal_overflow
from tests.conftest import copy_project

pytestmark = pytest.mark.browser


@pytest.fixture
def project_with_a_run(built_project: Path, tmp_path: Path) -> Settings:
    return copy_project(built_project, tmp_path / "project")


def _read_token(settings: Settings) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        return tokens.create(engine, "browser", "read")[1]
    finally:
        engine.dispose()


def test_the_index_lists_the_run_in_a_real_browser(
    project_with_a_run: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    token = _read_token(project_with_a_run)
    with live_server(project_with_a_run) as base:
        page = page_for(base, token=token)
        answer = page.goto("/")
        assert answer is not None and answer.status == 200
        assert page.title().startswith("riskwatch")
        assert page.locator("table tbody tr").count() >= 1
        narrow = page_for(base, token=token, width=NARROW)
        narrow.goto("/")
        assert horizontal_overflow(narrow) == 0


def test_a_page_without_a_token_is_refused_where_a_token_is_required(
    project_with_a_run: Settings, live_server: Callable[..., Any], page_for: Callable[..., Any]
) -> None:
    _read_token(project_with_a_run)  # a token exists, so the app may require one
    settings = project_with_a_run.with_values(auth__required="true")
    with live_server(settings) as base:
        page = page_for(base)
        answer = page.goto("/")
        # The browser is sent to sign in first (tests/test_browser_signin.py signs in).
        assert answer is not None and answer.status == 200
        assert page.url == base + "/signin?next=/"
        assert answer.request.redirected_from is not None
        assert answer.request.redirected_from.response().status == 303
