"""What the labels step reads and writes (`pipeline.labels`): label files, labels, the
predictions they resolve, the joined rows' ingested file and realised performance.

A file's labels are recorded in one transaction with the file's row (its hash is then taken,
exactly once); a join's outcome (the ingested file of the joined rows, every label's new status,
the periods' realised performance) in one transaction too: a run killed in between leaves the
labels pending, and the next join does it all again. SQLAlchemy Core only, no pandas.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from pipeline.infra.failpoints import failpoint
from pipeline.storage import estimates, label_bulk, tables
from pipeline.storage.label_tables import label_files, labels, realised_performance
from pipeline.storage.text import storable

BATCH = 5000  # keys in one look-up


def _batches(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def _among(conn: sa.Connection, column: sa.ColumnElement[Any], values: Sequence[Any]) -> Any:
    """`column IN values` with the values as one parameter, a JSON array, not thousands: on
    SQLite `IN (SELECT value FROM json_each(?))` (SQLAlchemy took 12 s to render the IN lists
    of 1,000,000 keys), on PostgreSQL `= ANY(ARRAY(SELECT CAST(jsonb_array_elements_text(?)
    AS ...)))` (5,000 keys in an IN list took 0.2 s a query to plan, and psycopg 8 s to write
    1,000,000 of them as arrays). `values`: text or integers."""
    import json

    array = sa.bindparam(None, json.dumps(list(values)), sa.Text)
    if conn.dialect.name != "postgresql":
        found = sa.func.json_each(array).table_valued("value").c.value
        return column.in_(sa.select(found))
    # ANY of an array the sub-select makes: planned as a list of keys to look up in the index
    # (IN a sub-select over the set-returning function was planned as a scan of the table).
    each = sa.func.jsonb_array_elements_text(sa.cast(array, JSONB))
    keys = sa.select(sa.cast(each, column.type)).scalar_subquery()
    return column == sa.any_(sa.func.array(keys))


def known_label_hashes(conn: sa.Connection) -> set[str]:
    return set(conn.execute(sa.select(label_files.c.sha256)).scalars())


def pending_work(conn: sa.Connection, expired_before: datetime, max_wait: timedelta) -> bool:
    """Do waiting labels have something to join or to give up on (one received before
    `expired_before`)? Something to join is a prediction the join would resolve one of them to
    (`pipeline.labels.join.match`): of its id, at or before the label's time plus `max_wait`
    (a prediction's time: its event time, else when it was made; a label's: when its outcome
    was observed, else when it was received). That asks what the join asks, not what came since
    the last labels step began: a prediction written before a labels step began and committed
    after its join read still wakes the next tick, and predictions that resolve nothing (other
    ids, the API's steady traffic of an id past its labels' window) never wake it."""
    t = labels
    oldest = conn.execute(
        sa.select(sa.func.min(t.c.received_at)).where(t.c.status == "pending")
    ).scalar()
    if oldest is None:
        return False
    if oldest < expired_before:
        return True
    p, g = tables.predictions, tables.prediction_segments
    # A scheduled row's time of making is its segment's; one second more than the window,
    # so that SQLite's millisecond arithmetic never misses a prediction at its very edge.
    made = sa.func.coalesce(p.c.event_time, g.c.created_at, p.c.created_at)
    due = _plus(conn, sa.func.coalesce(t.c.observed_at, t.c.received_at), max_wait + _SLACK)
    resolvable = (
        sa.select(p.c.id)
        .select_from(t.join(p, p.c.row_key == t.c.row_key).outerjoin(g, g.c.id == p.c.segment_id))
        .where(t.c.status == "pending", p.c.source != "diagnostics", made <= due)
    )
    return conn.execute(resolvable.limit(1)).first() is not None


_SLACK = timedelta(seconds=1)


def _plus(conn: sa.Connection, when: sa.ColumnElement[Any], delta: timedelta) -> Any:
    """`when` + `delta` in SQL: an interval on PostgreSQL; on SQLite, whose times are naive UTC
    text, the same text format (to the millisecond) from its date functions."""
    if conn.dialect.name == "sqlite":
        seconds = f"{delta.total_seconds():+.3f} seconds"
        return sa.func.strftime("%Y-%m-%d %H:%M:%f000", when, seconds)
    return when + sa.literal(delta, sa.Interval())


def record_label_file(
    engine: sa.Engine, run_id: str, file: Mapping[str, Any], rows: Mapping[str, Sequence[Any]]
) -> int:
    """Record a taken labels file and its valid labels in one transaction; return its id.
    `rows`: the labels a column each, keyed by `label_bulk.LABEL_COLUMNS` (empty: none)."""
    with engine.begin() as conn:
        file_id: int = conn.execute(
            label_files.insert()
            .returning(label_files.c.id)
            .values(run_id=run_id, **storable(dict(file)))
        ).scalar_one()
        # The rows' text (row_key, label, reason) comes made storable (`text.storable`).
        label_bulk.insert_labels(conn, run_id, file_id, rows)
    failpoint("after_label_file_recorded")
    return file_id


def label_keys(conn: sa.Connection, row_keys: Iterable[str]) -> set[tuple[str, str, Any]]:
    """(row_key, label, observed_at) of the labels of these keys already recorded (duplicates
    left out): a label that repeats one of them exactly is a duplicate."""
    keys = sorted(set(row_keys))
    out: set[tuple[str, str, Any]] = set()
    for part in _batches(keys):
        query = sa.select(labels.c.row_key, labels.c.label, labels.c.observed_at).where(
            _among(conn, labels.c.row_key, part), labels.c.status != "duplicate"
        )
        out.update((r.row_key, r.label, r.observed_at) for r in conn.execute(query))
    return out


def pending_labels(conn: sa.Connection) -> list[sa.Row]:
    """The labels waiting for their prediction, in arrival order."""
    t = labels
    query = sa.select(t.c.id, t.c.row_key, t.c.label, t.c.observed_at, t.c.received_at)
    return list(conn.execute(query.where(t.c.status == "pending").order_by(t.c.id)))


def predictions_of(conn: sa.Connection, row_keys: Iterable[str]) -> list[sa.Row]:
    """The production-traffic predictions (every source but the test file's diagnostics) of
    these row keys, with the ingested time of the file whose row each predicts."""
    p, f, g = tables.predictions, tables.ingested_files, tables.prediction_segments
    keys = sorted(set(row_keys))
    out: list[sa.Row] = []
    # A scheduled row's time and file are its segment's.
    file_id = sa.func.coalesce(g.c.file_id, p.c.file_id)
    for part in _batches(keys):
        query = (
            sa.select(
                p.c.id,
                p.c.row_key,
                sa.func.coalesce(g.c.created_at, p.c.created_at).label("created_at"),
                p.c.event_time,
                p.c.model_version,
                file_id.label("file_id"),
                p.c.row_number,
                p.c.features,
                p.c.prediction,
                p.c.label.label("predicted_label"),
                p.c.probability,
                f.c.ingested_at,
                f.c.data_path,
            )
            .select_from(p.outerjoin(g, g.c.id == p.c.segment_id).outerjoin(f, f.c.id == file_id))
            .where(_among(conn, p.c.row_key, part), p.c.source != "diagnostics")
        )
        out.extend(conn.execute(query))
    return out


def resolved_rows(
    conn: sa.Connection, file_ids: Iterable[int], prediction_ids: Iterable[int]
) -> list[sa.Row]:
    """Labels joined or in conflict on rows of these files (or on these predictions whose
    features are stored with them): what an earlier join decided for them."""
    t = labels
    cols = (t.c.file_id, t.c.file_row, t.c.prediction_id, t.c.label, t.c.status)
    done = t.c.status.in_(("joined", "conflict"))
    out: list[sa.Row] = []
    for part in _batches(sorted(set(file_ids))):
        out.extend(conn.execute(sa.select(*cols).where(done, _among(conn, t.c.file_id, part))))
    for part in _batches(sorted(set(prediction_ids))):
        query = sa.select(*cols).where(
            done, t.c.file_id.is_(None), _among(conn, t.c.prediction_id, part)
        )
        out.extend(conn.execute(query))
    return out


def joined_in_periods(conn: sa.Connection, periods: Iterable[tuple[datetime, int]]) -> list[sa.Row]:
    """Every label joined so far in these (period_start, model_version), with its prediction."""
    t, p = labels, tables.predictions
    out: list[sa.Row] = []
    for start, version in sorted(set(periods)):
        query = (
            sa.select(
                t.c.id,
                t.c.label,
                t.c.period_start,
                t.c.model_version,
                p.c.prediction,
                p.c.label.label("predicted_label"),
                p.c.probability,
            )
            .select_from(t.join(p, p.c.id == t.c.prediction_id))
            .where(
                t.c.status == "joined",
                t.c.period_start == start,
                t.c.model_version == version,
            )
        )
        out.extend(conn.execute(query))
    return out


def record_join(
    engine: sa.Engine,
    run_id: str,
    joined_file: Mapping[str, Any] | None,
    updates: Mapping[str, Sequence[Any]],
    realised: Sequence[Mapping[str, Any]],
) -> int | None:
    """Record a join in one transaction: the ingested file (kind 'labels') of the joined rows,
    each label's new status (`updates`: a column each, keyed by `label_bulk.UPDATED`, the
    labels' `id` among them; joined ones point at the file), and the realised performance
    computed. Returns the ingested file's id."""
    file_id = None
    now = tables.utcnow()
    with engine.begin() as conn:
        if joined_file is not None:
            file_id = conn.execute(
                tables.ingested_files.insert()
                .returning(tables.ingested_files.c.id)
                # Every joined row has its label: all of them count for training.
                .values(
                    run_id=run_id,
                    kind="labels",
                    ingested_at=now,
                    **{"labelled_rows": joined_file["rows"], **joined_file},
                )
            ).scalar_one()
        label_bulk.update_labels(conn, run_id, now, file_id, updates)
        if realised:
            rows = [{"run_id": run_id, "computed_at": now, **r} for r in realised]
            conn.execute(realised_performance.insert(), rows)
            # Beside the estimates of the same periods, with their errors: in this transaction,
            # so a realised value is never recorded without them.
            estimates.fill_realised(conn, realised)
    failpoint("after_labels_joined")
    return file_id


def latest_realised(conn: sa.Connection, metric: str | None = None) -> list[dict[str, Any]]:
    """The realised performance in force: the newest computation of each (period, period_start,
    model_version, metric), oldest period first; of one metric when `metric` is given."""
    r = realised_performance
    latest = sa.select(sa.func.max(r.c.id).label("id"))
    if metric is not None:
        latest = latest.where(r.c.metric == metric)
    newest = latest.group_by(r.c.period, r.c.period_start, r.c.model_version, r.c.metric).subquery()
    query = sa.select(r).where(r.c.id.in_(sa.select(newest.c.id)))
    rows = conn.execute(query.order_by(r.c.period_start, r.c.model_version))
    return [dict(row._mapping) for row in rows]


def label_counts(conn: sa.Connection) -> dict[str, int]:
    """How many labels have each status, over every label file taken."""
    query = sa.select(labels.c.status, sa.func.count()).group_by(labels.c.status)
    return {status: int(n) for status, n in conn.execute(query)}
