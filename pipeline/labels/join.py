"""Which prediction each label resolves, and what becomes of each label. Pure: no I/O.

`match`: a label resolves the latest prediction of its row key at or before the label's time
(when the outcome was observed when the labels file says, else when the label was received);
a prediction's time is the row's event time when it has one, else when it was predicted. A label
that came before its prediction (the data file comes at a later tick) has none at or before its
time: it resolves the earliest prediction of its key made within `max_wait` after its time, and
waits (pending) until one exists or `max_wait` has passed since it was received (unmatched).

`resolve`: what a matched label does for the row it resolves (the ingested row, `identity`):
- the row was labelled in its own source file: the same label is a duplicate, another one a
  conflict; neither is used (the row is labelled data already, exactly once);
- a label was joined to the row at an earlier tick: the same label is a duplicate; another is a
  conflict, and the joined one stays (it may be in a trained model already: first joined wins);
- the row is in conflict already: conflict;
- labels of this join for one row: one label value, the first is joined and the others are
  duplicates; several values, every one of them is a conflict and none is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

STATUSES = ("pending", "joined", "duplicate", "conflict", "unmatched")
NO_MATCH = -1
TIME = "datetime64[us, UTC]"  # one unit on both sides of the as-of merge


def match(labels: pd.DataFrame, predictions: pd.DataFrame, max_wait: timedelta) -> pd.Series:
    """The index in `predictions` each label resolves, NO_MATCH where none does (yet).

    `labels`: row_key, at (the label's time, UTC). `predictions`: row_key, at (the prediction's
    time), created_at, id; any order. The result is indexed like `labels`.
    """
    import pandas as pd

    out = pd.Series(NO_MATCH, index=labels.index, dtype="int64")
    if labels.empty or predictions.empty:
        return out
    right = predictions[["row_key", "at", "created_at", "id"]].copy()
    right["_index"] = predictions.index.to_numpy()
    right["at"] = pd.to_datetime(right["at"], utc=True).astype(TIME)
    # Among predictions at one time the latest made, then the highest id, comes last (backward
    # takes the last of equal times) and first in the forward pass (ordered the other way).
    right = right.sort_values(["at", "created_at", "id"], kind="mergesort")
    left = labels[["row_key", "at"]].copy()
    left["at"] = pd.to_datetime(left["at"], utc=True).astype(TIME)
    left["_label"] = labels.index.to_numpy()
    left = left.sort_values("at", kind="mergesort")
    back = pd.merge_asof(left, right[["row_key", "at", "_index"]], on="at", by="row_key")
    found = back["_index"].notna().to_numpy()
    out.loc[back.loc[found, "_label"].to_numpy()] = back.loc[found, "_index"].to_numpy("int64")
    rest = left[~left["_label"].isin(back.loc[found, "_label"])]
    if not rest.empty and max_wait > timedelta(0):
        first = right.sort_values(["at", "created_at", "id"], ascending=[True, False, False])
        first = first.drop_duplicates(["row_key", "at"])  # the latest made of equal times
        ahead = pd.merge_asof(
            rest,
            first[["row_key", "at", "_index"]],
            on="at",
            by="row_key",
            direction="forward",
            tolerance=pd.Timedelta(max_wait),
        )
        hit = ahead["_index"].notna().to_numpy()
        out.loc[ahead.loc[hit, "_label"].to_numpy()] = ahead.loc[hit, "_index"].to_numpy("int64")
    return out


@dataclass(frozen=True)
class Known:
    """What the database knows of the rows this join's labels resolve."""

    source_labels: Mapping[str, str]  # identity -> label, rows labelled in their own file
    joined: Mapping[str, str]  # identity -> label joined at an earlier tick
    conflicted: frozenset[str]  # identities in conflict already


def resolve(labels: pd.DataFrame, known: Known, now: datetime, max_wait: timedelta) -> pd.DataFrame:
    """Each label's status and reason. `labels`: label (text), identity (the resolved row, None
    when unmatched), received_at, in arrival order. Returns `status` and `reason` columns,
    indexed like `labels`."""
    import numpy as np
    import pandas as pd

    status = pd.Series("pending", index=labels.index, dtype="object")
    reason = pd.Series(None, index=labels.index, dtype="object")
    unmatched = labels["identity"].isna()
    waited = pd.Timestamp(now) - pd.to_datetime(labels["received_at"], utc=True)
    expired = unmatched & (waited >= pd.Timedelta(max_wait))
    status[expired] = "unmatched"
    reason[expired] = f"no prediction of its id within {_days(max_wait)} of its time"
    # A column at a time: a loop over the rows' groups took minutes for 1,000,000 labels.
    found = labels[~unmatched]
    ident, values = found["identity"], found["label"]
    own = ident.map(dict(known.source_labels)).astype(object)
    was = ident.map(dict(known.joined)).astype(object).where(own.isna())
    before = own.where(own.notna(), was)  # the label the row has already, in file or joined
    said = before.notna()
    if said.any():
        text = np.where(own.notna(), "its row is labelled {} in its own data file", "")
        text = np.where(was.notna(), "its row was joined to the label {} before", text)
        status[found.index[said]] = np.where(values[said] == before[said], "duplicate", "conflict")
        reason[found.index[said]] = [
            t.format(repr(v)) for t, v in zip(text[said.to_numpy()], before[said], strict=True)
        ]
    stuck = ident.isin(known.conflicted) & ~said
    status[found.index[stuck]] = "conflict"
    reason[found.index[stuck]] = "its row's labels conflict already"
    rest = found[~said & ~stuck]
    if not rest.empty:
        kinds = rest.groupby("identity", sort=False)["label"].transform("nunique")
        disagree = (kinds > 1).to_numpy()
        first = ~rest["identity"].duplicated().to_numpy()
        status[rest.index] = np.where(disagree, "conflict", np.where(first, "joined", "duplicate"))
        again = np.array([None, "the same label again for its row"], dtype=object)
        reason[rest.index] = again[(~first).astype("int64")]
        if disagree.any():
            seen = rest[disagree].drop_duplicates(["identity", "label"]).sort_values("label")
            listed = seen.groupby("identity", sort=False)["label"].agg(
                lambda v: ", ".join(repr(x) for x in v)
            )
            why = "labels of one row disagree (" + rest["identity"][disagree].map(listed)
            reason[rest.index[disagree]] = (why + "): none is used").to_numpy()
    return pd.DataFrame({"status": status, "reason": reason})


def _days(wait: timedelta) -> str:
    days = wait / timedelta(days=1)
    return f"{days:g} day" + ("" if days == 1 else "s")


def counts(statuses: pd.Series) -> dict[str, int]:
    """How many labels have each status (every status named, zeros too)."""
    found = statuses.value_counts()
    return {name: int(found.get(name, 0)) for name in STATUSES}
