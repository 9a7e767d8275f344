"""What GET /metrics shows of the database (issue 13, point 10): each value is one row found by
an index (the newest by id, or the runs by start time), and the scheduled predictions per class
from their health cells (a few rows per file). The other sources' predictions are not counted
here: a count over their rows took 0.66 s at 1,000,000 of them on PostgreSQL; the app counts
those it makes itself (app.metrics). The app caches the answer for a few seconds
(monitoring.metrics_cache_seconds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.storage import tables
from pipeline.storage.estimates import performance_estimates


def _newest(conn: sa.Connection, query: sa.Select[Any]) -> sa.Row[Any] | None:
    return conn.execute(query.limit(1)).first()


def last_run(conn: sa.Connection) -> dict[str, Any] | None:
    """The newest run's status and when it started and finished; None before the first."""
    r = tables.runs
    row = _newest(
        conn, sa.select(r.c.status, r.c.started_at, r.c.finished_at).order_by(r.c.started_at.desc())
    )
    return None if row is None else dict(row._mapping)


def drifted_share(conn: sa.Connection) -> float | None:
    """The newest recorded data-set drift's share of drifted features."""
    d = tables.drift_summaries
    return conn.execute(sa.select(d.c.drifted_share).order_by(d.c.id.desc()).limit(1)).scalar()


def invalid_share(conn: sa.Connection) -> float | None:
    """The share of invalid rows among the rows of the newest checked file."""
    q = tables.quality_files
    row = _newest(conn, sa.select(q.c.rows_read, q.c.rows_invalid).order_by(q.c.id.desc()))
    if row is None or not row.rows_read:
        return None
    return float(row.rows_invalid) / row.rows_read


def realised(conn: sa.Connection, version: int, metric: str) -> float | None:
    """The production version's newest score on labelled new rows."""
    s = tables.scores
    query = sa.select(s.c.value).where(
        s.c.model_version == version,
        s.c.role == "production",
        s.c.dataset == "new",
        s.c.metric == metric,
    )
    return conn.execute(query.order_by(s.c.id.desc()).limit(1)).scalar()


def estimated(conn: sa.Connection, version: int, metric: str) -> float | None:
    """The production version's newest estimate of a run's rows (without their labels)."""
    e = performance_estimates
    query = sa.select(e.c.value).where(
        e.c.model_version == version, e.c.period == "run", e.c.metric == metric
    )
    return conn.execute(query.order_by(e.c.id.desc()).limit(1)).scalar()


def scheduled_by_class(conn: sa.Connection) -> dict[str, int]:
    """Predicted class -> scheduled predictions stored ("" for a regressor), from their health
    cells: a few rows per predicted file, whatever the file's size."""
    c = tables.prediction_cells
    query = sa.select(c.c.label, sa.func.sum(c.c.n)).group_by(c.c.label)
    out: dict[str, int] = {}
    for label, n in conn.execute(query):
        out[label or ""] = out.get(label or "", 0) + int(n or 0)
    return out


def age_seconds(at: datetime | None, now: datetime) -> float | None:
    return None if at is None else max(0.0, (now - at).total_seconds())
