"""The tokens a worker has seen valid, so that a prediction request does not look its token up.

Only POST /prediction takes its token from here (app.auth): its work is stored by the
committer, which checks in the same transaction that the token is not revoked
(app.prediction_writes), so a revoked token stores nothing from the moment the revocation is
committed, whichever worker cached it. A prediction request that does not succeed (a refused
body, a limit: the committer never saw it) has its token looked up after all (app.auth), so a
revoked token is a 401 whatever else was wrong. Every other route looks its token up on each
request, as before. Only tokens found valid are kept (a secret no token has is never cached),
at most MAX_TOKENS of them.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from flask import g

from app import state
from app.limits import Client, Refused, forget_unsettled
from pipeline.storage import tokens

MAX_TOKENS = 1024  # far more than a deployment has; past it the cache starts again
CACHED_SECRET = "riskwatch_cached_secret"  # g's key: the secret of a token taken from here


def challenge(error: str | None = None) -> dict[str, str]:
    value = 'Bearer realm="riskwatch"' + (f', error="{error}"' if error else "")
    return {"WWW-Authenticate": value}


def cached(digest: str) -> tokens.Token | None:
    """The token of this secret hash, if this worker saw it valid."""
    return state().tokens_seen.get(digest)


def remember(digest: str, token: tokens.Token) -> None:
    seen = state().tokens_seen
    if len(seen) >= MAX_TOKENS:
        seen.clear()
    seen[digest] = token


def forget(digest: str) -> None:
    state().tokens_seen.pop(digest, None)


def used_at(token: tokens.Token, now: datetime) -> None:
    """The token's last use was recorded at `now`: so the cached copy says too (else it would
    be written again on every request)."""
    seen = state().tokens_seen
    for digest, known in list(seen.items()):
        if known.id == token.id:
            seen[digest] = dataclasses.replace(known, last_used_at=now)


def refuse_revoked(client: Client) -> Refused:
    """The 401 of a request whose token the committer found revoked: nothing of it was stored
    or counted, and this worker forgets the token."""
    forget_unsettled()
    g.pop(CACHED_SECRET, None)  # found revoked already: not looked up again after the answer
    token = client.token
    seen = state().tokens_seen
    for digest, known in list(seen.items()):
        if token is not None and known.id == token.id:
            seen.pop(digest, None)
    name = token.name if token is not None else "?"
    return Refused(401, f"token {name!r} was revoked", challenge("invalid_token"))
