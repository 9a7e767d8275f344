"""What a prediction request stores, run by the worker's committer (app.commits) together with
the other requests of its batch: the token checked unrevoked, the client's counters, the rows.

Per batch, not per request: one query for the tokens' revocation, one upsert per client and
counter (app.limits.apply_all), one executemany for every prediction of the batch
(pipeline.predictions.record). A request whose token was found revoked in the transaction
stores nothing and counts nothing: the view answers 401, and this worker forgets the token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.commits import Batched
from app.limits import Charges, apply_all
from pipeline import predictions
from pipeline.storage import tokens

REVOKED = "revoked"  # the outcome of a request whose token is revoked (or gone)


@dataclass(frozen=True)
class PredictionWrite(Batched):
    """One request's charges and prediction rows; `token_id`: its token, checked here."""

    plan: Charges
    rows: Sequence[Mapping[str, Any]]
    token_id: int | None

    @classmethod
    def run_batch(cls, conn: sa.Connection, pieces: Sequence[Any]) -> list[object]:
        """Per piece: REVOKED, or {kind: new count} of the counts added (see app.limits)."""
        revoked = tokens.revoked_among(conn, {p.token_id for p in pieces if p.token_id})
        live = [p for p in pieces if p.token_id not in revoked]
        used = iter(apply_all(conn, [p.plan for p in live]))
        outcomes: list[object] = []
        rows: list[Mapping[str, Any]] = []
        for piece in pieces:
            if piece.token_id in revoked:
                outcomes.append(REVOKED)
                continue
            counts = next(used)
            if all(kind in counts for kind, *_ in piece.plan.charges):
                rows.extend(piece.rows)  # within its limits: stored
            outcomes.append(counts)
        predictions.record(conn, rows)
        return outcomes
