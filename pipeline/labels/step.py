"""The labels step: take the labels inbox's new files, join every waiting label to the prediction
it resolves, make the joined rows labelled data, and compute realised performance again for the
periods that got labels. A step of `riskwatch run` and, alone, `riskwatch labels`.

Joined rows (the ingested row's ids, features and event time, with the label) are written to one
Parquet file per join (`data/labels-<hash>.parquet`) and recorded as an `ingested_files` row of
kind 'labels': the run's pending rows score the production model on them (they count for the
retrain policy) and the training window takes them, like any ingested file, once. The rows' own
files are never rewritten; a row its own file labelled is never joined (`join.resolve`), so no
row is in the training data twice. The Parquet file is written before the one transaction that
records the join: a run killed in between leaves an orphan file no row names, the labels stay
pending, and the next join writes it again.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.infra.failpoints import failpoint
from pipeline.infra.names import path_key
from pipeline.ingest.discovery import Discovery
from pipeline.settings import Settings
from pipeline.storage import label_writes, tables, writes

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.labels.realised import Realised
    from pipeline.labels.take import TakenFile

log = logging.getLogger("riskwatch")

LABEL_COLUMNS = ["id", "row_key", "label", "observed_at", "received_at"]
PREDICTION_COLUMNS = [
    "id",
    "row_key",
    "created_at",
    "event_time",
    "model_version",
    "file_id",
    "row_number",
    "features",
    "prediction",
    "predicted_label",
    "probability",
    "ingested_at",
    "data_path",
]


@dataclass
class Joined:
    """What one join did."""

    counts: dict[str, int] = field(default_factory=dict)  # this join's statuses
    file: str | None = None  # the joined rows' Parquet file, relative to paths.ingested
    file_id: int | None = None  # its ingested_files id
    realised: list[Realised] = field(default_factory=list)


_SAID = ("received", "joined", "duplicate", "conflict", "unmatched", "pending")


def labels_step(engine: sa.Engine, settings: Settings, run_id: str, found: Discovery) -> dict:
    """Take `found.new` (the labels inbox's new files), join, and say what was done."""
    from pipeline.ingest.intake import Moved
    from pipeline.labels.take import take

    now = tables.utcnow()
    taken = []
    for source in found.new:
        try:
            taken.append(take(engine, settings, run_id, source, now))
        except Moved as exc:  # nothing of it recorded: hashed again next tick
            writes.forget_hash(engine, path_key(str(source.path)))
            log.warning("labels file %s left for a later tick: %s", source.name, exc)
    joined = join_pending(engine, settings, run_id, now)
    doc = summary(engine, settings, taken, joined, found)
    said = [f"{doc[k]} {k}" for k in _SAID if doc[k]]  # run --json's counts, not the join's
    log.info("labels: %s", ", ".join(said) or "nothing received, nothing waiting")
    return doc


def join_pending(engine: sa.Engine, settings: Settings, run_id: str, now: datetime) -> Joined:
    """Join every waiting label that has its prediction; record it all in one transaction."""
    import pandas as pd

    from pipeline.labels.join import NO_MATCH, counts, match, resolve

    with engine.connect() as conn:
        pending = _frame(label_writes.pending_labels(conn), LABEL_COLUMNS)
        if pending.empty:
            return Joined(counts(pd.Series([], dtype="object")))
        found = label_writes.predictions_of(conn, pending["row_key"].tolist())
    preds = _frame(found, PREDICTION_COLUMNS)
    pending["at"] = _utc(pending["observed_at"]).fillna(_utc(pending["received_at"]))
    preds["at"] = _utc(preds["event_time"]).fillna(_utc(preds["created_at"]))
    wait = timedelta(days=settings["labels.max_wait_days"])
    which = match(pending, preds, wait)
    hit = (which != NO_MATCH).to_numpy()
    chosen = preds.loc[which[hit].to_numpy()].set_axis(pending.index[hit])
    rows, known = _known(engine, settings, chosen)
    pending["identity"] = None
    pending.loc[hit, "identity"] = _identities(chosen)
    outcome = resolve(pending[["label", "identity", "received_at"]], known, now, wait)
    done = Joined(counts(outcome["status"]))
    is_joined = (outcome["status"] == "joined").to_numpy()
    chosen["period_start"] = _periods(chosen, settings)
    joined_file, new_rows = None, pending[is_joined]
    if is_joined.any():
        done.file, joined_file = _write_joined(settings, run_id, new_rows, rows)
    with engine.connect() as conn:
        done.realised = _realised(conn, settings, new_rows, chosen)
    failpoint("before_labels_joined")  # the joined rows' Parquet written, nothing recorded
    updates = _updates(pending, outcome, chosen)
    realised_rows = [row for r in done.realised for row in _realised_rows(settings, r)]
    done.file_id = label_writes.record_join(engine, run_id, joined_file, updates, realised_rows)
    return done


def _frame(rows: list[sa.Row], columns: list[str]) -> pd.DataFrame:
    """Rows of a query as a frame, a column at a time (pandas types a list of rows cell by
    cell: seconds for 200,000 labels)."""
    import pandas as pd

    if not rows:
        return pd.DataFrame({c: pd.Series([], dtype="object") for c in columns})
    return pd.DataFrame(dict(zip(columns, (list(c) for c in zip(*rows, strict=True)), strict=True)))


def _utc(values: pd.Series) -> pd.Series:
    """Times as UTC in one unit (microseconds, what the database keeps), so they mix."""
    import pandas as pd

    return pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")


def _identities(chosen: pd.DataFrame) -> list[str]:
    from pipeline.labels.rows import identity

    return [
        identity(f, r, p)
        for f, r, p in zip(chosen["file_id"], chosen["row_number"], chosen["id"], strict=True)
    ]


def _known(engine: sa.Engine, settings: Settings, chosen: pd.DataFrame) -> tuple[Any, Any]:
    """The resolved rows read back, and what the database knows of them (`join.Known`)."""
    from pipeline.labels.join import Known
    from pipeline.labels.rows import identity, source_label, source_rows

    rows = source_rows(settings.path("paths.ingested"), settings, chosen)
    names = _identities(chosen)
    own = source_label(rows, settings["data.target"])
    source_labels = {n: v for n, v in zip(names, own, strict=True) if isinstance(v, str)}
    in_files = chosen["file_id"].notna()
    with engine.connect() as conn:
        done = label_writes.resolved_rows(
            conn,
            [int(f) for f in chosen.loc[in_files, "file_id"]],
            [int(p) for p in chosen.loc[~in_files, "id"]],
        )
    joined, conflicted = {}, set()
    for r in done:
        name = identity(r.file_id, r.file_row, r.prediction_id)
        if r.status == "joined":
            joined[name] = r.label
        else:
            conflicted.add(name)
    return rows, Known(source_labels, joined, frozenset(conflicted))


def _periods(chosen: pd.DataFrame, settings: Settings) -> pd.Series:
    """The period of each resolved row: by its event time, else when its file was ingested,
    else when it was predicted (monitoring.period)."""
    from pipeline.monitor import period_starts

    when = _utc(chosen["event_time"]).fillna(_utc(chosen["ingested_at"]))
    return period_starts(when.fillna(_utc(chosen["created_at"])), settings["monitoring.period"])


def _write_joined(
    settings: Settings, run_id: str, joined: pd.DataFrame, rows: pd.DataFrame
) -> tuple[str, dict[str, Any]]:
    """Write the joined rows (the resolved rows with their labels as the target) to Parquet;
    return its path and its `ingested_files` values."""
    from pipeline.infra.files import atomic_write
    from pipeline.ingest.ingestion import DATA_DIR, write_parquet
    from pipeline.labels.realised import typed_labels
    from pipeline.labels.take import label_rules

    _, numeric = label_rules(settings)
    frame = _one_type_per_column(rows.loc[joined.index].reset_index(drop=True))
    frame[settings["data.target"]] = typed_labels(joined["label"].reset_index(drop=True), numeric)
    ids = ",".join(str(int(i)) for i in joined["id"])
    digest = hashlib.sha256(f"labels:{run_id}:{ids}".encode()).hexdigest()
    rel = f"{DATA_DIR}/labels-{digest[:16]}.parquet"
    base = settings.path("paths.ingested")
    atomic_write(base / rel, lambda tmp: write_parquet(frame, tmp))
    values = {
        "sha256": digest,
        "name": f"labels joined by run {run_id[:12]}",
        "size_bytes": (base / rel).stat().st_size,
        "status": "ingested",
        "rows": len(frame),
        "rows_quarantined": 0,
        "data_path": rel,
    }
    return rel, values


def _one_type_per_column(frame: pd.DataFrame) -> pd.DataFrame:
    """Joined rows come from Parquet files and from the API's stored JSON, which may spell one
    column's values differently (a category sent as the number 5, stored as the text "5" by a
    CSV file): a column of objects mixing numbers and text would not write to Parquet. A column
    of numbers only becomes float; any other keeps its text, a number as its shortest text."""
    import pandas as pd

    from pipeline.predictions import value_text

    for name in frame.columns:
        column = frame[name]
        if column.dtype != object:
            continue
        present = column.dropna()
        if present.map(lambda v: isinstance(v, int | float) and not isinstance(v, bool)).all():
            frame[name] = pd.to_numeric(column, errors="coerce")
        else:
            texts = [
                None if pd.isna(v) else v if isinstance(v, str) else value_text(v) for v in column
            ]
            frame[name] = pd.Series(texts, index=frame.index, dtype=object)
    return frame


def _realised(
    conn: sa.Connection, settings: Settings, joined: pd.DataFrame, chosen: pd.DataFrame
) -> list[Realised]:
    """Realised performance of every (period, model version) this join added labels to, on all
    its joined labels: those joined before and these."""
    import pandas as pd

    from pipeline.labels.realised import realised
    from pipeline.labels.take import label_rules

    if joined.empty:
        return []
    mine = chosen.loc[joined.index]
    new = pd.DataFrame(
        {
            "label": joined["label"],
            "period_start": mine["period_start"],
            "model_version": mine["model_version"].astype("int64"),
            "prediction": mine["prediction"],
            "predicted_label": mine["predicted_label"],
            "probability": mine["probability"],
        }
    )
    pairs = new[["period_start", "model_version"]].drop_duplicates()
    keys = {
        (s.to_pydatetime(), int(v))
        for s, v in zip(pairs.period_start, pairs.model_version, strict=True)
    }
    before = pd.DataFrame(
        [r._mapping for r in label_writes.joined_in_periods(conn, keys)], columns=list(new)
    )
    if not before.empty:
        before["period_start"] = _utc(before["period_start"])
    values, numeric = label_rules(settings)
    every = pd.concat([before, new], ignore_index=True) if not before.empty else new
    return realised(every, settings, numeric=numeric, classes=values)


def _realised_rows(settings: Settings, r: Realised) -> list[dict[str, Any]]:
    """The `realised_performance` rows of one period and version: one per metric."""
    return [
        {
            "period": settings["monitoring.period"],
            "period_start": r.period_start,
            "model_version": r.model_version,
            "metric": score.metric,
            "value": score.value,
            "ci_low": score.ci_low,
            "ci_high": score.ci_high,
            "n_rows": score.n_rows,
        }
        for score in r.scores
    ]


def _updates(
    pending: pd.DataFrame, outcome: pd.DataFrame, chosen: pd.DataFrame
) -> dict[str, list[Any]]:
    """The new status of every label that has one (those still waiting have none), a column
    each (`label_bulk.UPDATED` and `id`). A column at a time: a loop over the labels took
    minutes for 1,000,000."""
    from pipeline.storage.text import storable_texts

    done = (outcome["status"] != "pending").to_numpy()
    which = outcome.index[done]
    mine = chosen.reindex(which)  # a row of NaN where the label resolved no prediction
    found = mine["id"].notna().to_numpy()
    in_file = found & mine["file_id"].notna().to_numpy()

    def ints(values: pd.Series, where: Any) -> list[int | None]:
        return [int(v) if w else None for v, w in zip(values.tolist(), where, strict=True)]

    starts = _utc(mine["period_start"])
    return {
        "id": [int(i) for i in pending.loc[which, "id"].tolist()],
        "status": outcome.loc[which, "status"].tolist(),
        "reason": storable_texts(
            [r if isinstance(r, str) else None for r in outcome.loc[which, "reason"]]
        ),
        "prediction_id": ints(mine["id"], found),
        "model_version": ints(mine["model_version"], found),
        "file_id": ints(mine["file_id"], in_file),
        "file_row": ints(mine["row_number"], in_file),
        "period_start": [
            t.to_pydatetime() if w else None for t, w in zip(starts, found, strict=True)
        ],
    }


def summary(
    engine: sa.Engine, settings: Settings, taken: list[TakenFile], joined: Joined, found: Discovery
) -> dict[str, Any]:
    """The `labels` object of `riskwatch run --json` and `riskwatch labels --json`."""
    by_type: dict[str, int] = {}
    for item in taken:
        for name, n in item.invalid_by_type.items():
            by_type[name] = by_type.get(name, 0) + n
    with engine.connect() as conn:
        waiting = label_writes.label_counts(conn).get("pending", 0)
    counts = dict(joined.counts)
    counts["duplicate"] = counts.get("duplicate", 0) + sum(t.duplicates for t in taken)
    return {
        "files": [t.doc() for t in taken],
        "new_files": len(taken),
        "files_quarantined": sum(t.status == "quarantined" for t in taken),
        "rows_read": sum(t.rows_read for t in taken),
        "rows_invalid": sum(t.rows_invalid for t in taken),
        "invalid_by_type": by_type,
        "received": sum(t.rows_valid for t in taken),
        "joined": counts.get("joined", 0),
        "duplicate": counts["duplicate"],
        "conflict": counts.get("conflict", 0),
        "unmatched": counts.get("unmatched", 0),
        "pending": waiting,
        "joined_file": joined.file,
        "realised": [
            {
                "period": settings["monitoring.period"],
                "period_start": r.period_start.isoformat(),
                "model_version": r.model_version,
                "metric": r.score.metric,
                "value": r.score.value,
                "ci_low": r.score.ci_low,
                "ci_high": r.score.ci_high,
                "n_rows": r.score.n_rows,
                "metrics": {
                    m.metric: {"value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high}
                    for m in r.scores
                },
            }
            for r in joined.realised
        ],
        "deferred": [{"name": n, "reason": r} for n, r in found.deferred],
    }
