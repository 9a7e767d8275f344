"""Query parameters take one value each: a parameter given twice is a 400 naming it, in the shape
the route documents for its 400 in the OpenAPI document (a page, or the Error object). Installed
app-wide by `install`."""

from __future__ import annotations

import functools
import re

from flask import Flask, request

from app.api import ApiError


def install(app: Flask) -> None:
    app.before_request(one_value_per_parameter)


@functools.cache
def _documented() -> dict[tuple[str, str], tuple[frozenset[str], bool]]:
    """Per (OpenAPI path, method) that documents a 400: its query parameters, and whether that
    400 is a page (text/html) rather than the Error shape."""
    from app.openapi import document

    doc = document()
    shared = doc["components"]["responses"]
    out: dict[tuple[str, str], tuple[frozenset[str], bool]] = {}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            bad = op.get("responses", {}).get("400") if isinstance(op, dict) else None
            if bad is None:
                continue
            if "$ref" in bad:
                bad = shared[bad["$ref"].rsplit("/", 1)[-1]]
            names = frozenset(p["name"] for p in op.get("parameters", []) if p["in"] == "query")
            out[(path, method.upper())] = (names, "text/html" in (bad.get("content") or {}))
    return out


_RULE_ARG = re.compile(r"<(?:[^:>]+:)?([^>]+)>")  # Flask's <int:file_id> is OpenAPI's {file_id}


def one_value_per_parameter() -> None:
    """A query parameter given twice (`source=api&source=webapp`) is a 400 naming it, in the
    shape the route documents for a 400 (a page, or the Error object): every parameter takes
    one value, and taking the first would answer another question than the one asked. A key
    the route does not read is ignored, however often."""
    from app.dashboard_params import BadPageParameter

    if not request.query_string or request.url_rule is None:  # a prediction has none
        return
    if not any(len(v) > 1 for _, v in request.args.lists()):
        return
    route = (_RULE_ARG.sub(r"{\1}", request.url_rule.rule), request.method)
    names, page = _documented().get(route, (frozenset(), False))
    for name, values in request.args.lists():
        if len(values) > 1 and name in names:
            message = f"parameter {name!r} is given {len(values)} times; give it once"
            if page:
                raise BadPageParameter(name, message)
            raise ApiError(400, message, parameter=name)
