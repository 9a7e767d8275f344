"""Whether a request on a route that has both a page and a JSON answer wants the page.

Some routes answer both a browser and the API at one address (`/runs`, `/runs/<id>`,
`/past-predictions`): a link in a page opens the page, and the same address in a script gives
JSON. A request gets HTML only when it asks for text/html above application/json (a browser's
Accept header does; curl's and Python's `*/*`, or none, get JSON, as they always have). Such
answers carry `Vary: Accept`, so no cache hands one kind to a client asking for the other.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, request


def wants_html() -> bool:
    """True when the request's Accept header prefers text/html to application/json."""
    html = _named(request.accept_mimetypes, "text/html")
    return html > 0 and html > _named(request.accept_mimetypes, "application/json")


def _named(accept: Iterable[tuple[str, float]], mimetype: str) -> float:
    """The quality the header gives `mimetype` by its name (a wildcard does not count)."""
    return max((float(q) for name, q in accept if name == mimetype), default=0.0)


def vary_on_accept(response: Response) -> Response:
    """Mark an answer that depends on the Accept header."""
    response.vary.add("Accept")
    return response
