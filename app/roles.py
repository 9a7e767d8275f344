"""The decision for every route: public (None), or the least role that may call it.

Roles are ordered read < predict < admin (pipeline.storage.tokens.ROLES): `read` for every GET
that shows what riskwatch recorded (the index page too), `predict` for POST /prediction (it
stores predictions), `admin` for anything that changes state. /health stays public (load
balancers and uptime checks call it), and so do the static files, the sign-in and sign-out, and
the OpenAPI document: it describes the API's shape, including how to authenticate, and holds no
data. A browser signed in at /signin has its token's or user's role (app.sessions).

Keyed by the route's rule and method, so app.auth (per request) and app.openapi (per
operation) read one table. A route missing here needs admin, and tests/test_auth.py fails
until it is decided.
"""

from __future__ import annotations

ROUTE_ROLES: dict[tuple[str, str], str | None] = {
    ("/health", "GET"): None,
    ("/openapi.json", "GET"): None,
    ("/static/<path:filename>", "GET"): None,
    # The sign-in form and its post, and the sign-out: they check the session's CSRF token
    # themselves (app.signin), and hold no data.
    ("/signin", "GET"): None,
    ("/signin", "POST"): None,
    ("/signout", "POST"): None,
    ("/", "GET"): "read",
    ("/quality", "GET"): "read",
    ("/drift", "GET"): "read",
    ("/drift/<path:feature>", "GET"): "read",
    ("/scoring", "GET"): "read",
    ("/summarystats", "GET"): "read",
    ("/diagnostics", "GET"): "read",
    ("/apireturns", "GET"): "read",
    ("/runs", "GET"): "read",
    ("/runs/<run_id>", "GET"): "read",
    ("/runs/<run_id>/report.pdf", "GET"): "read",
    ("/quality/<int:file_id>.html", "GET"): "read",
    ("/past-predictions", "GET"): "read",
    ("/past-predictions.csv", "GET"): "read",
    ("/predict", "GET"): "read",
    ("/predict", "POST"): "predict",
    ("/performance", "GET"): "read",
    ("/prediction", "POST"): "predict",
    ("/predictions/summary", "GET"): "read",
    ("/models", "GET"): "read",
    ("/models/<int:version>", "GET"): "read",
    ("/models/compare", "GET"): "read",
    ("/models/rollback", "GET"): "admin",  # the confirmation step of a rollback
    ("/models/rollback", "POST"): "admin",
    # The numbers /scoring and /runs show, for a scraper holding a read token (app.metrics).
    ("/metrics", "GET"): "read",
    # Pages, as every page (issue 13, point 9), though /docs shows only the public document.
    ("/docs", "GET"): "read",
    ("/apicalls", "GET"): "read",
}
UNDECIDED = "admin"  # a route without a decision: only an admin token reaches it


def role_for(rule: str, method: str) -> str | None:
    """The least role a request of `method` on the route `rule` needs; None: public."""
    if method == "OPTIONS":
        return None  # the Allow header only
    method = "GET" if method == "HEAD" else method
    return ROUTE_ROLES.get((rule, method), UNDECIDED)
