"""Who is calling (the request's client, set by app.auth) and what it may still use: requests
per minute and stored predictions per UTC day, counted in the database (pipeline.storage.tokens)
so that every gunicorn worker, and every dyno on one database, shares the counts.

Over a limit the request is refused with 429 and Retry-After (`Refused`, answered by app.auth
in the one error shape).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, g

from app import state
from pipeline.errors import RiskwatchError
from pipeline.storage import tokens, users

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
    """The caller of one request: a token, a user signed in to the pages (app.sessions), or an
    anonymous client (all of them one count)."""

    token: tokens.Token | None
    role: str
    user: users.User | None = None

    @property
    def key(self) -> str:
        if self.token:
            return self.token.client
        return self.user.client if self.user else "anonymous"

    @property
    def label(self) -> str:
        if self.token:
            return f"token {self.token.name!r}"
        return f"user {self.user.name!r}" if self.user else "anonymous clients"


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


# Routes that count their request in the transaction that stores their work, so that a
# request costs one commit (app.auth defers their charge; the view calls `settle`).
SETTLED_IN_VIEW = {("/prediction", "POST")}
_UNSETTLED = "riskwatch_unsettled"  # g's key: the client whose request is not counted yet


def _known_over(key: str, kind: str, window: int, amount: int, limit: int) -> bool:
    """Whether this worker saw the counter too high already (AppState.usage_seen): a counter
    only grows within its window, so a client seen at its limit is refused without asking the
    database again; every other request is decided by the database's conditional upsert."""
    seen = state().usage_seen.get((key, kind))
    return seen is not None and seen[0] == window and seen[1] + amount > limit


def _charged(
    conn: sa.Connection, key: str, kind: str, window: int, amount: int, limit: int
) -> bool:
    used = tokens.charge_in(conn, key, kind, window, amount, limit)
    if used is not None:
        state().usage_seen[(key, kind)] = (window, used)
    return used is not None


def _too_many_requests(client: Client, limit: int, now: float) -> Refused:
    retry = _retry_after(now, MINUTE)
    return Refused(
        429,
        f"too many requests: {client.label} made {limit} this minute (setting "
        f"api.requests_per_minute); retry in {retry} s",
        {"Retry-After": retry},
    )


def charge_request(client: Client) -> None:
    """Count one request of `client` in this minute; Refused (429) when it has had its share."""
    limit = state().settings["api.requests_per_minute"]
    if limit == 0:
        return
    now = time.time()
    window = int(now // MINUTE)
    if _known_over(client.key, "requests", window, 1, limit):
        raise _too_many_requests(client, limit, now)
    with state().engine.begin() as conn:
        if not _charged(conn, client.key, "requests", window, 1, limit):
            _saw_refusal(client.key, "requests", window, 1, limit)
            raise _too_many_requests(client, limit, now)


def _saw_refusal(key: str, kind: str, window: int, amount: int, limit: int) -> None:
    """A charge of `amount` was refused: the counter holds more than limit - amount now.
    Remember that much, so that this worker refuses the client's next requests (of at least
    that amount) early, before any work."""
    seen = state().usage_seen
    before = seen.get((key, kind))
    known = before[1] if before is not None and before[0] == window else 0
    seen[(key, kind)] = (window, max(known, limit - amount + 1))


def charge_attempt(key: str, kind: str, limit: int, setting: str) -> None:
    """Count one attempt of `kind` (a sign-in, say) by `key` this minute; Refused (429) past
    `limit` (0: no limit), naming the setting."""
    if limit == 0:
        return
    now = time.time()
    window = int(now // MINUTE)
    refused = Refused(
        429,
        f"too many attempts: {limit} this minute from this client (setting {setting}); "
        f"retry in {_retry_after(now, MINUTE)} s",
        {"Retry-After": _retry_after(now, MINUTE)},
    )
    if _known_over(key, kind, window, 1, limit):
        raise refused
    with state().engine.begin() as conn:
        if not _charged(conn, key, kind, window, 1, limit):
            _saw_refusal(key, kind, window, 1, limit)
            raise refused


def defer_request_charge(client: Client) -> None:
    """For a route of SETTLED_IN_VIEW: refuse at once a client this worker saw at its limit;
    else its request is counted by `settle`, or after the answer if the view never got there
    (a refused body, say): see `charge_unsettled`."""
    limit = state().settings["api.requests_per_minute"]
    now = time.time()
    if limit and _known_over(client.key, "requests", int(now // MINUTE), 1, limit):
        raise _too_many_requests(client, limit, now)
    setattr(g, _UNSETTLED, client)


def forget_unsettled() -> None:
    """The request is refused without being counted (app.token_cache: a revoked token)."""
    g.pop(_UNSETTLED, None)


def charge_unsettled() -> None:
    """After the answer: count the request of a deferred route whose view did not settle it."""
    client = g.pop(_UNSETTLED, None)
    if client is not None:
        # The answer is given; a client over its limit is refused early at its next request.
        with contextlib.suppress(Refused):
            charge_request(client)


@dataclass(frozen=True)
class Charges:
    """What a deferred request will count in the transaction that stores its work: built in
    the request (`plan_charges`), applied by the committer (`apply_charges`, which needs no
    request context), acted on in the request again (`settle`)."""

    client: Client | None
    charges: tuple[tuple[str, int, int, int], ...]  # (kind, window, amount, limit)
    now: float


def plan_charges(predictions: int) -> Charges:
    """The counts this request's work adds: its deferred request and the `predictions` it
    stores today (UTC). Refused (429) at once for a request over the daily cap alone, or a
    client this worker already saw at a limit."""
    st = state()
    client = current_client()
    now = time.time()
    if client is None:
        return Charges(None, (), now)
    per_minute = st.settings["api.requests_per_minute"]
    per_day = st.settings["api.predictions_per_day"]
    if per_day and predictions > per_day:
        raise Refused(
            429,
            f"a request of {predictions} records is more than the {per_day} predictions a "
            "client may store per day (setting api.predictions_per_day): send fewer records",
        )
    charges = []
    if per_minute and getattr(g, _UNSETTLED, None) is not None:
        charges.append(("requests", int(now // MINUTE), 1, per_minute))
    if per_day:
        day = int(now // DAY)
        if _known_over(client.key, "predictions", day, predictions, per_day):
            raise _daily_cap(client, per_day, now)
        charges.append(("predictions", day, predictions, per_day))
    return Charges(client, tuple(charges), now)


def apply_charges(conn: sa.Connection, plan: Charges) -> dict[str, int]:
    """Add the planned counts that stay within their limits, the request's first: the
    predictions only once the request is counted. {kind: new value} of those added."""
    used: dict[str, int] = {}
    if plan.client is None:
        return used
    for kind, window, amount, limit in plan.charges:
        count = tokens.charge_in(conn, plan.client.key, kind, window, amount, limit)
        if count is None:
            break  # refused: nothing after it is added
        used[kind] = count
    return used


def apply_all(conn: sa.Connection, plans: Sequence[Charges]) -> list[dict[str, int]]:
    """`apply_charges` of each plan, in order, as one batch of the committer: a client's
    requests of the batch are counted by one upsert per counter when they all fit (the usual
    case), else one by one, as `apply_charges` would. Exact either way: a refused upsert adds
    nothing, and counts that fit together fit one after the other."""
    used: list[dict[str, int]] = [{} for _ in plans]
    by_client: dict[str, list[int]] = {}
    for i, plan in enumerate(plans):
        if plan.client is not None and plan.charges:
            by_client.setdefault(plan.client.key, []).append(i)
    for key, members in by_client.items():
        together = None if len(members) == 1 else _together(conn, key, [plans[i] for i in members])
        for k, i in enumerate(members):
            used[i] = apply_charges(conn, plans[i]) if together is None else together[k]
    return used


def _together(
    conn: sa.Connection, key: str, plans: Sequence[Charges]
) -> list[dict[str, int]] | None:
    """Charge one client's plans with one upsert per counter: each plan's counts, or None, with
    nothing added, when they cannot go together (their requests do not all fit, or a kind
    spans two windows)."""
    groups: dict[str, list[tuple[int, int, int, int]]] = {}  # kind -> [(member, window, ...)]
    for m, plan in enumerate(plans):
        for kind, window, amount, limit in plan.charges:
            groups.setdefault(kind, []).append((m, window, amount, limit))
    if any(len({(w, lim) for _, w, _, lim in g}) > 1 for g in groups.values()):
        return None  # a window ended within the batch: one by one
    outs: list[dict[str, int]] = [{} for _ in plans]
    for kind in sorted(groups, key=lambda k: k != "requests"):  # the requests first
        members = groups[kind]
        _, window, _, limit = members[0]
        total = sum(amount for _, _, amount, _ in members)
        count = tokens.charge_in(conn, key, kind, window, total, limit)
        if count is None and kind == "requests":
            return None  # nothing was added: one by one decides which fit
        if count is None:  # every request is counted; which predictions fit, in order
            for m, _, amount, _ in members:
                one = tokens.charge_in(conn, key, kind, window, amount, limit)
                if one is not None:
                    outs[m][kind] = one
            continue
        running = count - total
        for m, _, amount, _ in members:
            running += amount
            outs[m][kind] = running
    return outs


def settle(plan: Charges, used: dict[str, int]) -> None:
    """After the committer ran `apply_charges`: remember the counts; Refused (429) when a
    limit refused the work (then `apply_charges` added nothing for it and the caller stored
    nothing). A request refused for the daily cap still counts as a request (it was
    counted); one refused by the rate limit is not counted, as any refused request."""
    client = plan.client
    if client is None:
        return
    seen = state().usage_seen
    for kind, window, amount, limit in plan.charges:
        if kind in used:
            seen[(client.key, kind)] = (window, used[kind])
            continue
        _saw_refusal(client.key, kind, window, amount, limit)
        g.pop(_UNSETTLED, None)
        if kind == "requests":
            raise _too_many_requests(client, limit, plan.now)
        raise _daily_cap(client, limit, plan.now)
    g.pop(_UNSETTLED, None)  # counted, with the work, in the committer's transaction


def _daily_cap(client: Client, per_day: int, now: float) -> Refused:
    retry = _retry_after(now, DAY)
    return Refused(
        429,
        f"daily prediction cap: {client.label} would pass {per_day} predictions stored "
        f"today (UTC; setting api.predictions_per_day); retry in {retry} s",
        {"Retry-After": retry},
    )
