"""Who is calling (the request's client, set by app.auth) and what it may still use: requests
per minute and stored predictions per UTC day, counted in the database (pipeline.storage.tokens)
so that every gunicorn worker, and every dyno on one database, shares the counts.

Over a limit the request is refused with 429 and Retry-After (`Refused`, answered by app.auth
in the one error shape).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from flask import current_app, g

from app import state
from pipeline.errors import RiskwatchError
from pipeline.storage import tokens

MINUTE = 60
DAY = 86_400
POLICY = "riskwatch.auth"  # app.extensions[POLICY]: app.auth's Policy for this app


class Refused(RiskwatchError):
    """A request the app refuses before doing its work: 401, 403 or 429, with its headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


@dataclass(frozen=True)
class Client:
    """The caller of one request: a token, or an anonymous client (all of them one count)."""

    token: tokens.Token | None
    role: str

    @property
    def key(self) -> str:
        return self.token.client if self.token else "anonymous"

    @property
    def label(self) -> str:
        return f"token {self.token.name!r}" if self.token else "anonymous clients"


def anonymous_role() -> str | None:
    """The role of a request without a token in this app; None when a token is required."""
    return current_app.extensions[POLICY].anonymous_role


def set_client(client: Client) -> None:
    g.riskwatch_client = client


def current_client() -> Client | None:
    """The client app.auth found for this request; None on the public routes."""
    return g.get("riskwatch_client")


def _retry_after(now: float, size: int) -> str:
    return str(max(1, math.ceil((now // size + 1) * size - now)))


def charge_request(client: Client) -> None:
    """Count one request of `client` in this minute; Refused (429) when it has had its share."""
    limit = state().settings["api.requests_per_minute"]
    if limit == 0:
        return
    now = time.time()
    if not tokens.charge(state().engine, client.key, "requests", int(now // MINUTE), 1, limit):
        retry = _retry_after(now, MINUTE)
        raise Refused(
            429,
            f"too many requests: {client.label} made {limit} this minute (setting "
            f"api.requests_per_minute); retry in {retry} s",
            {"Retry-After": retry},
        )


def charge_predictions(count: int) -> None:
    """Count `count` predictions about to be stored for this request's client, today (UTC);
    Refused (429) when they would pass api.predictions_per_day, and then none is stored."""
    limit = state().settings["api.predictions_per_day"]
    client = current_client()
    if limit == 0 or client is None:
        return
    now = time.time()
    if count > limit:
        raise Refused(
            429,
            f"a request of {count} records is more than the {limit} predictions a client may "
            "store per day (setting api.predictions_per_day): send fewer records",
        )
    if not tokens.charge(state().engine, client.key, "predictions", int(now // DAY), count, limit):
        retry = _retry_after(now, DAY)
        raise Refused(
            429,
            f"daily prediction cap: {client.label} would pass {limit} predictions stored today "
            f"(UTC; setting api.predictions_per_day); retry in {retry} s",
            {"Retry-After": retry},
        )
