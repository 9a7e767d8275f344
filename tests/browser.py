"""The pages in a real browser: Playwright driving Debian's chromium against a live server.

Fixtures (import them in a test module with `from tests.browser import *` names, or list them
in `pytest_plugins`; tests/conftest.py loads this module as a plugin):

- `chromium_path`: /usr/bin/chromium, installed with apt once per machine when it is missing
  (the test set-up does it, as for PostgreSQL; a machine that cannot install it fails, never
  skips, in CI and out);
- `browser`: one headless chromium per test session (per xdist worker);
- `live_server(settings)`: the real app (`create_app`) served over HTTP on 127.0.0.1 by
  werkzeug's threaded server in a background thread, yielding its base URL;
- `page_for(base_url, token=None, width=1280)`: a fresh browser context and page, with an API
  token sent as `Authorization: Bearer` when given, at the viewport width asked for.

`horizontal_overflow(page)` says by how many CSS pixels a page is wider than its viewport
(0: no sideways scrolling). Tests that use a browser are marked `browser`.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pipeline.settings import Settings

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
_APT_LOCK = Path("/tmp/riskwatch-apt-chromium.lock")  # two xdist workers, one apt at a time
NARROW = 390  # a phone's width in CSS pixels (issue 13)


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt when missing; a clear failure when it cannot be."""
    if CHROMIUM.exists():
        return CHROMIUM
    with _APT_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CHROMIUM.exists():
            apt = shutil.which("apt-get")
            if apt is None:
                pytest.fail("chromium is missing and apt-get is not here to install it")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            done = subprocess.run(
                [apt, "install", "-y", "--no-install-recommends", "chromium"],
                capture_output=True, text=True, env=env, timeout=900, check=False,
            )  # fmt: skip
            if done.returncode != 0 or not CHROMIUM.exists():
                tail = (done.stderr or done.stdout)[-2000:]
                pytest.fail(f"`apt-get install chromium` failed ({done.returncode}): {tail}")
    return CHROMIUM


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    return ensure_chromium()


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Root in a container has no user namespace for chromium's sandbox.
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), headless=True, args=["--no-sandbox"]
        )
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def serve(settings: Settings, config: dict[str, Any] | None = None) -> Iterator[str]:
    """The real app on 127.0.0.1 (a free port), in a background thread; yields its base URL."""
    from werkzeug.serving import make_server

    from app import create_app

    app = create_app({"RISKWATCH_SETTINGS": settings, **(config or {})})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        app.extensions["riskwatch"].engine.dispose()


@pytest.fixture
def live_server() -> Callable[..., Any]:
    """`with live_server(settings) as base_url:` the app served for the test."""
    return serve


@pytest.fixture
def page_for(browser: Browser) -> Iterator[Callable[..., Page]]:
    """`page_for(base_url, token=None, width=1280)`: a new context's page; closed after."""
    contexts = []

    def make(base_url: str, token: str | None = None, width: int = 1280) -> Page:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        context = browser.new_context(
            base_url=base_url, viewport={"width": width, "height": 900},
            extra_http_headers=headers,
        )  # fmt: skip
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def horizontal_overflow(page: Page) -> int:
    """CSS pixels by which the page is wider than its viewport (0: nothing scrolls sideways)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - document.documentElement.clientWidth"
        )
    )
