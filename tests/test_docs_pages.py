"""The API's pages (issue 13, point 8): /docs, Swagger UI from the vendored, pinned
swagger-ui-dist over /openapi.json, under a Content-Security-Policy that allows nothing from
outside; and /apicalls, what `riskwatch apicalls` recorded of a real running app, as a table."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

from flask.testing import FlaskClient

from app.frontend import vendor
from pipeline.settings import Settings
from pipeline.tools.apicalls import call_all
from tests.conftest import REPO
from tests.test_api import assert_error, make_app
from tests.test_apicalls import ENDPOINTS, dead_url, serving
from tests.test_prometheus import client, project  # noqa: F401  (a copy of the built project)


class _Tags(HTMLParser):
    """Every (tag, attributes) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags_of(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_docs_is_swagger_ui_from_the_app_itself(client: FlaskClient) -> None:  # noqa: F811
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "connect-src 'self'" in policy
    assert "unsafe-eval" not in policy
    page = tags_of(response.get_data(as_text=True))
    scripts = [a["src"] for t, a in page.tags if t == "script"]
    assert scripts == [
        "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/js/docs.js",
    ]
    assert all(not a.get("onload") and not a.get("onclick") for _, a in page.tags)
    styles = [a["href"] for t, a in page.tags if t == "link" and a.get("rel") == "stylesheet"]
    assert "/static/vendor/swagger-ui-dist/swagger-ui.css" in styles
    [root] = [a for t, a in page.tags if a.get("id") == "swagger-ui"]
    assert root["data-spec"] == "/openapi.json"
    # Every file the page loads is served by the app, and no address points outside it.
    for src in [*scripts, *styles]:
        with client.get(src) as served:
            assert served.status_code == 200 and len(served.data) > 500, src
    assert not re.search(r"(src|href)=\"(https?:)?//", response.get_data(as_text=True))
    init = (REPO / "app" / "static" / "js" / "docs.js").read_text()
    assert "validatorUrl: null" in init and "SwaggerUIBundle(" in init


def test_the_vendored_swagger_ui_is_the_pinned_one() -> None:
    pinned = vendor.pinned()
    assert pinned["swagger-ui-dist"] == "5.35.0"  # an exact version, not a range
    lock = json.loads((REPO / "app" / "frontend" / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/swagger-ui-dist"]
    assert locked["version"] == "5.35.0" and locked["integrity"].startswith("sha512-")
    bundle = REPO / "app" / "static" / "vendor" / "swagger-ui-dist" / "swagger-ui-bundle.js"
    assert bundle.stat().st_size > 1_000_000
    assert "Apache License" in (bundle.parent / "LICENSE").read_text()
    if (REPO / "app" / "frontend" / "node_modules" / "swagger-ui-dist").is_dir():
        check = [sys.executable, str(REPO / "app" / "frontend" / "vendor.py"), "--check"]
        assert subprocess.run(check, capture_output=True).returncode == 0


def test_apicalls_lists_the_recorded_calls_of_a_real_app(project: Settings) -> None:  # noqa: F811
    with serving(project) as url:
        call_all(project, url + "/")
    call_all(project, dead_url())  # every call fails: recorded with its error
    with make_app(project) as app:
        response = app.test_client().get("/apicalls?limit=10")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    page = tags_of(html)
    rows = html.split("<tbody>")[1].split("</tbody>")[0].count("<tr")
    assert rows == 10
    text = " ".join(" ".join(page.text).split())
    for method, endpoint in ENDPOINTS:
        assert f"{method} {endpoint}" in text
    assert "no answer" in text  # the dead server's calls
    assert "model_version" in text  # the answers' bodies
    assert str(project.base_dir) not in html  # no server path
    assert 'class="table-scroll"' in html  # the table scrolls in its box at a phone's width


def test_apicalls_bad_limit_and_an_empty_list(tmp_path: Path) -> None:
    from tests.test_api import empty_project

    settings = empty_project(tmp_path, migrate=True)
    with make_app(settings) as app:
        client = app.test_client()
        body = assert_error(client.get("/apicalls?limit=0"), 400)
        assert body["parameter"] == "limit"
        empty = client.get("/apicalls").get_data(as_text=True)
    assert "No API calls recorded yet" in empty


def test_the_pages_are_in_the_navigation(client: FlaskClient) -> None:  # noqa: F811
    nav = tags_of(client.get("/apicalls").get_data(as_text=True))
    links = [a.get("href") for t, a in nav.tags if t == "a"]
    assert "/docs" in links and "/apicalls" in links
