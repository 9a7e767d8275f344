"""No server path in an answer: the project's folder, riskwatch's own and Python's, and the
database URL and its host are cut out of every JSON and HTML answer the app builds (issue 11).

Paths inside the project become relative to it (`/srv/app/reports/run-1.pdf` becomes
`reports/run-1.pdf`); a path setting outside it becomes its key (`<paths.models>/1/...`); the
database URL becomes `<database.url>`. Files served as they are (PDF reports, quality pages) are
left alone here: they are written without server paths (`pipeline.formatting.shown_paths`, the
rule `stored_paths` applies too), and a PDF's text is compressed, beyond any replacement of
bytes. This is the last guard, not the only one: views leave logs out (GET /runs/<id>), and
error messages name what a client can act on.
"""

from __future__ import annotations

import html
import json
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response

from pipeline.formatting import shown_paths
from pipeline.settings import SETTINGS, Settings

SCRUBBED_TYPES = ("application/json", "text/html")
LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _forms(text: str) -> set[bytes]:
    """`text` as it appears in a body: raw, inside a JSON string, escaped in HTML."""
    return {text.encode(), json.dumps(text)[1:-1].encode(), html.escape(text).encode()}


def replacements(settings: Settings) -> list[tuple[bytes, bytes]]:
    """(found, replacement) pairs, longest first, so a deeper path wins over its folder."""
    base = settings.base_dir.resolve()
    roots: dict[str, str] = {}
    for s in SETTINGS:
        if s.kind == "path":
            path = settings.path(s.key).resolve()
            if not path.is_relative_to(base):
                roots[str(path)] = f"<{s.key}>"
    package_root = Path(__file__).resolve().parents[1]
    for path, name in ((package_root, "<riskwatch>"), (Path(sys.prefix), "<python>")):
        roots.setdefault(str(path), name)
    roots[str(base) + "/"] = ""
    roots[str(base)] = "."
    url = sa.make_url(settings.database_url)
    for shown in (url.render_as_string(hide_password=True), settings.database_url):
        roots[shown] = "<database.url>"
    # A driver's reason names the server alone too ('could not translate host name "db.x"'):
    # the database's host is the operator's business, a loopback one nobody's secret.
    if url.host and url.host not in LOOPBACK and len(url.host) >= 4:
        roots[url.host] = "<database host>"
    pairs = {
        (form, new.encode())
        for old, new in roots.items()
        if len(Path(old).parts) > 1 or "://" in old or new == "<database host>"  # not "/" alone
        for form in _forms(old)
    }
    return sorted(pairs, key=lambda p: -len(p[0]))


def scrub(data: bytes, pairs: list[tuple[bytes, bytes]]) -> bytes:
    for old, new in pairs:
        if old in data:
            data = data.replace(old, new)
    return data


def stored_paths(value: Any, base: Path) -> Any:
    """`value` (a run's record, as JSON) with every absolute path in its text shown relative
    to the project `base` (else by its file name): `pipeline.formatting.shown_paths`, the rule
    the PDF report and the quality pages apply too; used where stored text reaches an answer
    (GET /runs, the index)."""
    return shown_paths(value, base, base.resolve())


def install(app: Flask, settings: Settings) -> None:
    """Scrub every JSON and HTML answer of `app` (not files it sends as they are)."""
    pairs = replacements(settings)

    @app.after_request
    def _scrub(response: Response) -> Response:
        if response.direct_passthrough or response.mimetype not in SCRUBBED_TYPES:
            return response
        data = response.get_data()
        clean = scrub(data, pairs)
        if clean is not data:
            response.set_data(clean)
        return response
