"""Prediction health of scheduled predictions, from what was counted as they were written
(`prediction_cells`, per segment: UTC day of the event time, class, P(positive) bin), read
by `health`: the rows themselves are read only for a day a bound cuts (`partial_days`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.infra.times import shifted
from pipeline.storage import tables


def day_of(conn: sa.Connection, at: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    """The UTC day of a time, in the database's own words: 'YYYY-MM-DD' text on SQLite, a
    naive UTC midnight on PostgreSQL (grouping by a timestamp, not by text made per row: a
    third less time for a day of 2,200,000 predictions)."""
    if conn.dialect.name == "sqlite":  # stored as naive UTC text: its first ten characters
        return sa.func.substr(at, 1, 10)
    return sa.func.date_trunc("day", sa.func.timezone("UTC", at))


def bin_of(probability: sa.ColumnElement[Any], edges: Sequence[float]) -> sa.ColumnElement[Any]:
    """The histogram bin of P(positive): how many inner `edges` lie at or below it."""
    whens = [(probability < edge, i) for i, edge in enumerate(edges)]
    return sa.case((probability.is_(None), None), *whens, else_=len(edges))


def as_day(value: Any) -> datetime:
    from datetime import UTC

    return (value if isinstance(value, datetime) else datetime.fromisoformat(value)).replace(
        tzinfo=UTC
    )


def cell_doc(r: Any) -> dict[str, Any]:
    return {
        "day": as_day(r.day),
        "model_version": int(r.model_version),
        "label": r.label,
        "bin": None if r.bin is None else int(r.bin),
        "n": int(r.n),
        "total": None if r.total is None else float(r.total),
        "squares": None if r.squares is None else float(r.squares),
    }


def counted(
    conn: sa.Connection, at: sa.ColumnElement[Any], inner_edges: Sequence[float]
) -> tuple[sa.Select[Any], sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """The predictions' rows counted by (UTC day of `at`, version, class, bin), with the sum
    and sum of squares of their numeric predictions; (the query, its day, its bin), to be
    filtered and grouped by the caller."""
    p = tables.predictions
    day = day_of(conn, at).label("day")
    b = bin_of(p.c.probability, inner_edges).label("bin")
    query = sa.select(
        day,
        p.c.model_version,
        p.c.label,
        b,
        sa.func.count().label("n"),
        sa.func.sum(p.c.prediction).label("total"),
        sa.func.sum(p.c.prediction * p.c.prediction).label("squares"),
    )
    return query, day, b


def _midnight(value: datetime) -> bool:
    return value == value.replace(hour=0, minute=0, second=0, microsecond=0)


def _at(by_event_time: bool) -> sa.ColumnElement[Any]:
    """The time a cell counts at: its day of event time, or its segment's time."""
    c, g = tables.prediction_cells, tables.prediction_segments
    return sa.func.coalesce(c.c.day, g.c.created_at) if by_event_time else g.c.created_at


def _joined() -> Any:
    c, g = tables.prediction_cells, tables.prediction_segments
    return c.join(g, g.c.id == c.c.segment_id)


def run_span(conn: sa.Connection, run_id: str, by_event_time: bool) -> tuple[Any, Any, list[int]]:
    """The earliest and latest time of a run's scheduled predictions and their versions."""
    g = tables.prediction_segments
    at = _at(by_event_time)
    mine = g.c.run_id == run_id
    low, high = conn.execute(
        sa.select(sa.func.min(at), sa.func.max(at)).select_from(_joined()).where(mine)
    ).one()
    versions = conn.execute(sa.select(g.c.model_version).where(mine).distinct()).scalars()
    return low, high, sorted(versions)


def classes(conn: sa.Connection, version: int) -> set[str]:
    """The classes a version's scheduled predictions name."""
    c, g = tables.prediction_cells, tables.prediction_segments
    query = (
        sa.select(c.c.label)
        .select_from(_joined())
        .where(g.c.model_version == version, c.c.label.is_not(None))
        .distinct()
        .limit(3)
    )
    return set(conn.execute(query).scalars())


def share_before(
    conn: sa.Connection, version: int, label: str, before: datetime, by_event_time: bool
) -> tuple[int, int]:
    """(scheduled predictions, those of class `label`) of `version` before `before`."""
    c, g = tables.prediction_cells, tables.prediction_segments
    hit = sa.case((c.c.label == label, c.c.n), else_=0)
    total, positive = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(c.c.n), 0), sa.func.coalesce(sa.func.sum(hit), 0))
        .select_from(_joined())
        .where(g.c.model_version == version, _at(by_event_time) < before)
    ).one()
    return int(total), int(positive)


def cells(
    conn: sa.Connection,
    start: datetime | None,
    end: datetime | None,
    by_event_time: bool,
    model_version: int | None,
) -> list[dict[str, Any]]:
    """The cells counted when the scheduled rows were written, by (day, version, class, bin):
    a day of event times counts when it lies whole in [start, end) (see `partial_days`)."""
    c, g = tables.prediction_cells, tables.prediction_segments
    made = g.c.created_at
    at = sa.func.coalesce(c.c.day, made) if by_event_time else made
    day = day_of(conn, at).label("day")
    query = sa.select(
        day,
        g.c.model_version,
        c.c.label,
        c.c.bin,
        sa.func.sum(c.c.n).label("n"),
        sa.func.sum(c.c.total).label("total"),
        sa.func.sum(c.c.squares).label("squares"),
    ).select_from(c.join(g, g.c.id == c.c.segment_id))
    if model_version is not None:
        query = query.where(g.c.model_version == model_version)
    if not by_event_time:
        if start is not None:
            query = query.where(made >= start)
        if end is not None:
            query = query.where(made < end)
    else:  # a row without an event time counts at its segment's time
        if start is not None:
            query = query.where(
                sa.or_(
                    sa.and_(c.c.day.is_(None), made >= start),
                    c.c.day >= start,
                )
            )
        if end is not None:
            query = query.where(
                sa.or_(
                    sa.and_(c.c.day.is_(None), made < end),
                    c.c.day <= shifted(end, -timedelta(days=1)),
                )
            )
    query = query.group_by(day, g.c.model_version, c.c.label, c.c.bin)
    return [cell_doc(r) for r in conn.execute(query)]


def partial_days(
    conn: sa.Connection,
    start: datetime | None,
    end: datetime | None,
    by_event_time: bool,
    inner_edges: Sequence[float],
    model_version: int | None,
) -> list[dict[str, Any]]:
    """The scheduled rows with an event time in a day that `start` or `end` cuts: counted from
    the rows themselves, as the cells could not say which side of the bound each lies."""
    if not by_event_time:
        return []
    days = {
        bound.replace(hour=0, minute=0, second=0, microsecond=0)
        for bound in (start, end)
        if bound is not None and not _midnight(bound)
    }
    p = tables.predictions
    out: list[dict[str, Any]] = []
    for first in sorted(days):
        low = max(first, start) if start is not None else first
        next_day = shifted(first, timedelta(days=1))
        high = min(next_day, end) if end is not None else next_day
        if high <= low:
            continue
        # Only the segments with rows on that day, each read down its range of the key.
        c, g = tables.prediction_cells, tables.prediction_segments
        on_day = sa.select(c.c.segment_id).where(c.c.day == first)
        query, day, b = counted(conn, p.c.event_time, inner_edges)
        query = query.select_from(
            g.join(p, sa.and_(p.c.id.between(g.c.first_id, g.c.last_id), p.c.segment_id == g.c.id))
        ).where(g.c.id.in_(on_day), p.c.event_time >= low, p.c.event_time < high)
        if model_version is not None:
            query = query.where(p.c.model_version == model_version)
        query = query.group_by(day, p.c.model_version, p.c.label, b)
        out += [cell_doc(r) for r in conn.execute(query)]
    return out
