"""Call a running riskwatch app's API and record what it returned, in a file and the database.

Standard library HTTP (urllib) only, and no Flask: this is a client of the app, not part of it.
A call that gets no answer is recorded with its error and no status code; it never stops the
other calls.

The token stays with the app it is meant for (issue 11): a redirect to another scheme, host or
port is followed without the Authorization header (urllib's own handler would forward it), and
a token is not sent over plain http:// to a host other than this machine (127.0.0.0/8, ::1,
localhost) unless the caller allows it (`--allow-http-token`): anyone on the way could read it.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from pipeline.errors import ConfigError, RiskwatchError
from pipeline.infra.files import atomic_write
from pipeline.settings import Settings
from pipeline.storage import db, tables, writes

log = logging.getLogger("riskwatch")

# The test file's first rows are sent to POST /prediction.
PREDICTION_RECORDS = 20
RETURNS_FILE = "apireturns.json"
ALLOW_HTTP_OPTION = "--allow-http-token"


def prediction_records(settings: Settings, limit: int = PREDICTION_RECORDS) -> list[dict]:
    """The first rows of the test file as feature records (no target, no id columns)."""
    from pipeline.ingest.readers import read_file

    path = settings.path("paths.test_data")
    if not path.is_file():
        raise ConfigError(f"setting 'paths.test_data': no test file at {path}")
    frame = read_file(path)
    drop = [c for c in [settings["data.target"], *settings["data.id_columns"]] if c in frame]
    features = frame.drop(columns=drop).head(limit)
    # pandas writes NaN as null, which is what the API takes for a missing value.
    return json.loads(features.to_json(orient="records"))


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a URL's host name) is this machine: localhost, 127.0.0.0/8 or ::1."""
    if host is None:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name other than localhost: it may resolve anywhere
        return False


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of `url`, the port filled in for http and https."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin of ours
        port = -1
    if port is None:
        port = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class SameOriginAuthorization(urllib.request.HTTPRedirectHandler):
    """Follow redirects as urllib does, but send Authorization only to the origin (scheme, host
    and port) that the request was made to: a redirect elsewhere goes without it."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(new.full_url) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _opener(base_url: str) -> urllib.request.OpenerDirector:
    handlers: list[urllib.request.BaseHandler] = [SameOriginAuthorization()]
    # A proxy from the environment must not see calls to this machine's own app.
    if is_loopback(urllib.parse.urlsplit(base_url).hostname):
        handlers.append(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener(*handlers)


def check_token_transport(base_url: str, token: str, allow_http: bool = False) -> None:
    """ConfigError when `token` would go over plain http:// to a host that is not this machine,
    unless `allow_http`: anyone between the two could read it, and use it."""
    parts = urllib.parse.urlsplit(base_url)
    if not token or parts.scheme != "http" or allow_http or is_loopback(parts.hostname):
        return
    raise ConfigError(
        f"--url: refusing to send the API token over plain http:// to {parts.hostname}, which is "
        "not this machine (anyone on the way could read it): use https://, or pass "
        f"{ALLOW_HTTP_OPTION} if the network between the two is trusted"
    )


def _parse(raw: bytes) -> Any:  # a JSON value
    # Stored as JSON in the database: NaN and Infinity (not JSON) become null.
    return json.loads(raw, parse_constant=lambda _name: None)


def call(
    opener: urllib.request.OpenerDirector,
    base_url: str,
    method: str,
    endpoint: str,
    payload: object = None,
    *,
    timeout: float,
    token: str = "",
) -> dict[str, Any]:
    """One call: its method, endpoint, status code (None without an answer), time, body, error.

    A non-empty `token` is sent as `Authorization: Bearer <token>`.
    """
    data = None if payload is None else json.dumps(payload).encode()
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if data is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(base_url + endpoint, data=data, headers=headers, method=method)
    result = _not_sent(method, endpoint, None)
    t0 = time.perf_counter()
    try:
        try:
            with opener.open(req, timeout=timeout) as resp:
                result["status_code"], raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:  # an answer, with an error status
            try:
                result["status_code"], raw = exc.code, exc.read()
            finally:
                exc.close()
        try:
            result["body"] = _parse(raw)
        except ValueError:
            result["error"] = f"the response is not JSON: {raw[:200]!r}"
        else:
            if result["status_code"] >= 400:
                body = result["body"]
                message = body.get("error") if isinstance(body, dict) else None
                result["error"] = f"HTTP {result['status_code']}: {message or 'error'}"
    except (OSError, http.client.HTTPException) as exc:  # no answer: refused, timed out, reset
        reason = getattr(exc, "reason", exc)
        result["error"] = f"no answer from {base_url}: {reason}"
    result["seconds"] = time.perf_counter() - t0
    return result


def call_all(
    settings: Settings,
    base_url: str,
    out: Path | None = None,
    timeout: float | None = None,
    token: str | None = None,
    allow_http_token: bool = False,
) -> dict[str, Any]:
    """Call /health, /prediction, /scoring, /summarystats and /diagnostics; record the returns.

    Each call carries `token` (default: the setting api.token, from $RISKWATCH_TOKEN) as a
    Bearer token when there is one: never over plain http:// to a host that is not this
    machine unless `allow_http_token` (ConfigError before any call), and never to another
    origin a redirect points at. The returns go to one JSON file (default
    `<paths.reports>/apireturns.json`, written atomically) and to the api_returns table.
    Returns {"calls", "failed", "file"}.
    """
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"--url: expected an http:// or https:// URL, got {base_url!r}")
    base_url = base_url.rstrip("/")
    secret: str = settings["api.token"] if token is None else token
    check_token_transport(base_url, secret, allow_http_token)
    opener = _opener(base_url)
    if timeout is None:
        timeout = settings["api.call_timeout_seconds"]

    def get(endpoint: str) -> dict[str, Any]:
        return call(opener, base_url, "GET", endpoint, timeout=timeout, token=secret)

    returns = [get("/health")]
    try:
        records = prediction_records(settings)
    except RiskwatchError as exc:
        returns.append(_not_sent("POST", "/prediction", f"no request sent: {exc}"))
    else:
        returns.append(
            call(opener, base_url, "POST", "/prediction", records, timeout=timeout, token=secret)
        )
    returns += [get(endpoint) for endpoint in ("/scoring", "/summarystats", "/diagnostics")]

    failed = sum(r["error"] is not None for r in returns)
    target = out or settings.path("paths.reports") / RETURNS_FILE
    doc = {
        "base_url": base_url,
        "calls": [{**r, "called_at": r["called_at"].isoformat()} for r in returns],
        "failed": failed,
    }
    text = json.dumps(doc, indent=2, default=str) + "\n"
    atomic_write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    with db.opened(settings.database_url) as engine:
        writes.record_api_returns(engine, base_url, returns)
    for r in returns:
        status = r["status_code"] if r["status_code"] is not None else "---"
        log.info(
            "%s %s: %s in %.3f s %s",
            r["method"],
            r["endpoint"],
            status,
            r["seconds"],
            r["error"] or "",
        )
    return {"calls": len(returns), "failed": failed, "file": str(target)}


def _not_sent(method: str, endpoint: str, error: str | None) -> dict[str, Any]:
    """A call's record before (or instead of) an answer."""
    return {
        "called_at": tables.utcnow(),
        "method": method,
        "endpoint": endpoint,
        "status_code": None,
        "seconds": 0.0,
        "body": None,
        "error": error,
    }
