"""What prediction health reads and writes (issue 12, point 6): predictions by period, a
version's classes and positive share on its holdout or before a time, and the alert events.

SQLAlchemy Core only. A prediction's time is its event time when data.timestamp_column is set
(`by_event_time`; a prediction without one, from the API, counts at when it was made), else
when it was made (`created_at`; a scheduled one's is its segment's).

Scheduled predictions are never read back row by row: their counts were made as they were
written (`prediction_cells`, per segment, by UTC day of the event time, class and bin), and
are read from there. A bound inside a day of event times (the API's `start`/`end` to the
second) counts that day's scheduled rows themselves (`health_scheduled.partial_days`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.storage import health_scheduled, tables
from pipeline.storage.health_scheduled import cell_doc, counted

# The source of the run's predictions of the test file (diagnostics): never production traffic.
DIAGNOSTICS = "diagnostics"


def time_of(by_event_time: bool) -> sa.ColumnElement[Any]:
    """The time a prediction counts at."""
    p = tables.predictions
    return sa.func.coalesce(p.c.event_time, p.c.created_at) if by_event_time else p.c.created_at


def health_cells(
    conn: sa.Connection,
    *,
    start: datetime | None,
    end: datetime | None,
    by_event_time: bool,
    inner_edges: Sequence[float],
    model_version: int | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """The predictions in [start, end) counted by (UTC day, model version, class, P(positive)
    bin), with the sum and sum of squares of their numeric predictions: a GROUP BY in the
    database, so any number of predictions is read back as a few rows per day."""
    found: list[dict[str, Any]] = []
    if source != "scheduled":
        found += _other_cells(conn, start, end, by_event_time, inner_edges, model_version, source)
    if source in (None, "scheduled"):
        found += health_scheduled.cells(conn, start, end, by_event_time, model_version)
        found += health_scheduled.partial_days(
            conn, start, end, by_event_time, inner_edges, model_version
        )
    return _merged(found)


def _merged(cells: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for c in cells:
        key = (c["day"], c["model_version"], c["label"], c["bin"])
        got = out.get(key)
        if got is None:
            out[key] = dict(c)
            continue
        got["n"] += c["n"]
        for name in ("total", "squares"):
            if c[name] is not None:
                got[name] = c[name] if got[name] is None else got[name] + c[name]
    return list(out.values())


def _other_cells(
    conn: sa.Connection,
    start: datetime | None,
    end: datetime | None,
    by_event_time: bool,
    inner_edges: Sequence[float],
    model_version: int | None,
    source: str | None,
) -> list[dict[str, Any]]:
    """The predictions of the other sources than the schedule, counted from their rows."""
    p = tables.predictions
    at = time_of(by_event_time)
    query, day, b = counted(conn, at, inner_edges)
    if start is not None:
        query = query.where(at >= start)
    if end is not None:
        query = query.where(at < end)
    if model_version is not None:
        query = query.where(p.c.model_version == model_version)
    if source is not None:
        query = query.where(p.c.source == source)
    else:  # production traffic: the run's predictions of the test file are not part of it
        query = query.where(p.c.source != DIAGNOSTICS, sa.text(tables.NOT_SCHEDULED))
    query = query.group_by(day, p.c.model_version, p.c.label, b)
    return [cell_doc(r) for r in conn.execute(query)]


def run_span(
    conn: sa.Connection, run_id: str, by_event_time: bool
) -> tuple[datetime | None, datetime | None, list[int]]:
    """The earliest and latest time of a run's predictions, and the versions that made them
    (a scheduled prediction's event time to its day: the health step wants its period).

    A run's predictions are made after it started: they are found through the index by time
    from the run's start (there is no index by run_id, paid on every row a COPY stores), so
    the cost is the rows made since, not the whole table."""
    p, r = tables.predictions, tables.runs
    at = time_of(by_event_time)
    # A value, not a subquery: the planner then knows how few rows follow it.
    started = conn.execute(sa.select(r.c.started_at).where(r.c.id == run_id)).scalar()
    if started is None:
        return None, None, []
    mine = sa.and_(p.c.created_at >= started, p.c.run_id == run_id, sa.text(tables.NOT_SCHEDULED))
    low, high = conn.execute(sa.select(sa.func.min(at), sa.func.max(at)).where(mine)).one()
    versions = set(conn.execute(sa.select(p.c.model_version).where(mine).distinct()).scalars())
    first, last, more = health_scheduled.run_span(conn, run_id, by_event_time)
    times = [t for t in (_aware(v) for v in (low, high, first, last)) if t is not None]
    if not times:
        return None, None, []
    return min(times), max(times), sorted(versions | set(more))


def _aware(value: Any) -> datetime | None:
    """min()/max() over a coalesce lose the column type on SQLite (text comes back)."""
    from datetime import UTC

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def holdouts_predicted(
    conn: sa.Connection, versions: Sequence[int]
) -> dict[int, tuple[list[str], dict[str, int]]]:
    """{version: (its classes on its holdout, actual or predicted; its predictions per class
    there)}, from the confusion counts training recorded, in one query (indexed by version and
    data set); a version without a holdout is left out."""
    if not versions:
        return {}
    c = tables.confusion_matrices
    query = sa.select(c.c.model_version, c.c.actual, c.c.predicted, c.c["count"].label("n")).where(
        c.c.model_version.in_(sorted(set(versions))), c.c.dataset == "holdout"
    )
    rows: dict[int, list[Any]] = {}
    for r in conn.execute(query):
        rows.setdefault(int(r.model_version), []).append(r)
    out: dict[int, tuple[list[str], dict[str, int]]] = {}
    for version, mine in rows.items():
        predicted: dict[str, int] = {}
        for r in mine:
            predicted[r.predicted] = predicted.get(r.predicted, 0) + int(r.n)
        out[version] = (sorted({r.actual for r in mine} | {r.predicted for r in mine}), predicted)
    return out


def classes_predicted(conn: sa.Connection, version: int) -> list[str]:
    """The distinct classes a version's stored predictions name (a classifier)."""
    p = tables.predictions
    query = sa.select(p.c.label).where(
        p.c.model_version == version, p.c.label.is_not(None), sa.text(tables.NOT_SCHEDULED)
    )
    found = set(conn.execute(query.distinct().limit(3)).scalars())
    return sorted(found | health_scheduled.classes(conn, version))


def share_before(
    conn: sa.Connection, version: int, label: str, before: datetime, by_event_time: bool
) -> tuple[int, int]:
    """(predictions, those of class `label`) of `version` before `before` (scheduled ones by
    their day of event time: `before` is a period's start)."""
    p = tables.predictions
    at = time_of(by_event_time)
    hit = sa.case((p.c.label == label, 1), else_=0)
    total, positive = conn.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(hit), 0)).where(
            p.c.model_version == version,
            at < before,
            p.c.source != DIAGNOSTICS,
            sa.text(tables.NOT_SCHEDULED),
        )
    ).one()
    more, hits = health_scheduled.share_before(conn, version, label, before, by_event_time)
    return int(total) + more, int(positive) + hits


def add_alert(
    conn: sa.Connection,
    run_id: str,
    period: str,
    alert: Any,
    created_at: datetime,
) -> int | None:
    """Record a health alert event (a `monitor.health_alerts.HealthAlert`) unless the same
    (period, version, kind) is recorded already; its id, or None when it was."""
    t = tables.prediction_alerts
    seen = conn.execute(
        sa.select(t.c.id).where(
            t.c.period == period,
            t.c.period_start == alert.period_start,
            t.c.model_version == alert.model_version,
            t.c.kind == alert.kind,
        )
    ).first()
    if seen is not None:
        return None
    return int(
        conn.execute(
            t.insert()
            .returning(t.c.id)
            .values(
                run_id=run_id,
                created_at=created_at,
                period=period,
                period_start=alert.period_start,
                model_version=alert.model_version,
                kind=alert.kind,
                message=alert.message,
                evidence=alert.evidence,
            )
        ).scalar_one()
    )


def add_delivery(conn: sa.Connection, event_id: int, run_id: str, row: dict[str, Any]) -> int:
    """Record a webhook delivery of an alert event in `alerts` (no quality file) and link the
    event to it; the delivery's id."""
    from pipeline.storage.text import storable

    a, t = tables.alerts, tables.prediction_alerts
    alert_id = conn.execute(
        a.insert().returning(a.c.id).values(run_id=run_id, quality_file_id=None, **storable(row))
    ).scalar_one()
    conn.execute(t.update().where(t.c.id == event_id).values(alert_id=alert_id))
    return int(alert_id)


def alerts_between(
    conn: sa.Connection,
    period: str,
    start: datetime | None,
    end: datetime | None,
    versions: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    """The alert events of `period` periods starting in [start, end), oldest first, with
    whether a webhook was told."""
    t, a = tables.prediction_alerts, tables.alerts
    query = (
        sa.select(t, a.c.delivered)
        .select_from(t.outerjoin(a, t.c.alert_id == a.c.id))
        .where(t.c.period == period)
        .order_by(t.c.period_start, t.c.id)
    )
    if start is not None:
        query = query.where(t.c.period_start >= start)
    if end is not None:
        query = query.where(t.c.period_start < end)
    if versions is not None:
        query = query.where(t.c.model_version.in_(list(versions)))
    return [
        {
            "period_start": r.period_start.isoformat(),
            "model_version": r.model_version,
            "kind": r.kind,
            "message": r.message,
            "evidence": r.evidence,
            "run_id": r.run_id,
            "created_at": r.created_at.isoformat(),
            "delivered": r.delivered,
        }
        for r in conn.execute(query)
    ]
