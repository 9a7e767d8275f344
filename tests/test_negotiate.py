"""A route with a page and a JSON answer: the page only for a browser's Accept header."""

from __future__ import annotations

import pytest
from flask import Flask

from app.negotiate import vary_on_accept, wants_html

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


@pytest.mark.parametrize(
    "accept, html",
    [
        (BROWSER, True),
        ("text/html", True),
        ("text/html;q=0.9, application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("application/json;q=0.5, text/html", True),
        ("*/*", False),  # curl, requests
        (None, False),
        ("", False),
        ("application/json", False),
        ("text/*", False),  # a wildcard is not a request for the page
        ("text/html;q=0", False),
        ("garbage;;;q=x,,", False),
    ],
)
def test_wants_html(accept: str | None, html: bool) -> None:
    app = Flask(__name__)
    headers = {} if accept is None else {"Accept": accept}
    with app.test_request_context("/runs", headers=headers):
        assert wants_html() is html


def test_vary_on_accept() -> None:
    app = Flask(__name__)
    with app.test_request_context("/runs"):
        assert "Accept" in vary_on_accept(app.make_response("x")).vary
