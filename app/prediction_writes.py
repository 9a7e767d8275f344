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
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from flask import g

from app import get_connection, state
from app.commits import Batched
from app.limits import Charges, apply_all, current_client, plan_charges, settle
from app.metrics import count_predictions
from app.token_cache import refuse_revoked
from pipeline import predictions
from pipeline.storage import tokens

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipeline.model.registry import LoadedModel

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


def signed_in_by_session() -> bool:
    """Whether this request was signed in by its session cookie (a page of the app; app.auth
    sets the flag), not by a bearer token nor as no one."""
    return bool(getattr(g, "signed_in_by_session", False))


def session_source() -> str:
    """The source a prediction request records: "webapp" when it was signed in by its session
    cookie, else "api" (app.api refuses a request that asks for "webapp" without one)."""
    return "webapp" if signed_in_by_session() else "api"


def optional_for(loaded: LoadedModel, records: Any) -> Any:  # records_frame checks them
    """`records` with the features `loaded` lets a record leave out given as null where one
    does (`record_checks.absent_as_null`): the columns the contract it was trained under does
    not require, which a file may lack too, of a model that imputes. A required feature left
    out is still refused (400), naming it."""
    from app.predict_form import optional_features
    from pipeline.model.features import absent_as_null
    from pipeline.storage import page_reads

    st = state()
    key = (loaded.version, loaded.sha256)
    known = st.optional
    if known is None or known[0] != key:
        text = page_reads.contract_text(get_connection(), loaded.version)
        known = st.optional = (key, optional_features(loaded.features, text))
    return absent_as_null(records, known[1])


def predict_and_store(
    loaded: LoadedModel, records: Sequence[Mapping[str, Any]], frame: pd.DataFrame, source: str
) -> tuple[np.ndarray, np.ndarray | None, list[dict[str, Any]]]:
    """Predict `frame` (records_frame's, of `records`) and store each prediction with its
    features under `source`, counted against the client's limits in the worker's shared
    transaction (app.commits), the token checked unrevoked there; return the predicted values,
    P(positive) or None, and the stored rows. Raises what a 429 or a 401 is: nothing stored."""
    from pipeline.model import estimator

    st = state()
    predicted, probabilities = estimator.predict(loaded.model, loaded.features, frame)
    # A multiclass model's {class: p} is stored with each prediction (None for the others).
    matrix = estimator.class_probabilities(loaded.model, loaded.features, frame)
    rows = predictions.request_rows(
        loaded, st.settings, records, predicted, probabilities, source, matrix=matrix
    )
    plan = plan_charges(len(records))
    client = current_client()
    token = None if client is None else client.token
    outcome: Any = st.committer.run(
        PredictionWrite(plan, rows, None if token is None else token.id)
    )
    if outcome == REVOKED and client is not None:
        raise refuse_revoked(client)
    settle(plan, outcome)
    count_predictions(source, predicted.tolist())  # GET /metrics, per source and class
    return predicted, probabilities, rows
