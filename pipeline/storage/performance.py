"""Performance over time (`GET /performance`): per period and model version, the realised value
(labels that arrived, `realised_performance`: its newest computation) beside the estimate made
without them (`performance_estimates`: the newest run's estimate of the period), with the
estimation error once both exist. One metric at a time; the periods of `monitoring.period`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from pipeline.storage.estimates import performance_estimates
from pipeline.storage.label_tables import realised_performance

# Each side names the run that computed it: every number on the pages links to where it came from.
_ESTIMATE = ("value", "ci_low", "ci_high", "n_rows", "reliable", "reason", "run_id")
_REALISED = ("value", "ci_low", "ci_high", "n_rows", "run_id")


def performance_over_time(
    conn: sa.Connection,
    period: str,
    metric: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    model_version: int | None = None,
) -> list[dict[str, Any]]:
    """Every period in [start, end) with a realised value or an estimate of `metric`, oldest
    first (then by model version): {period_start, model_version, realised, estimated,
    estimation_error}, each side None where it is missing."""
    out: dict[tuple[datetime, int], dict[str, Any]] = {}
    for table, side, fields in (
        (realised_performance, "realised", _REALISED),
        (performance_estimates, "estimated", _ESTIMATE),
    ):
        where = [table.c.period == period, table.c.metric == metric]
        where.append(table.c.period_start.is_not(None))
        if start is not None:
            where.append(table.c.period_start >= start)
        if end is not None:
            where.append(table.c.period_start < end)
        if model_version is not None:
            where.append(table.c.model_version == model_version)
        newest = (
            sa.select(sa.func.max(table.c.id).label("id"))
            .where(*where)
            .group_by(table.c.period_start, table.c.model_version)
            .subquery()
        )
        for row in conn.execute(sa.select(table).where(table.c.id.in_(sa.select(newest.c.id)))):
            key = (row.period_start, row.model_version)
            doc = out.setdefault(
                key,
                {
                    "period_start": row.period_start,
                    "model_version": row.model_version,
                    "realised": None,
                    "estimated": None,
                    "estimation_error": None,
                },
            )
            doc[side] = {f: getattr(row, f) for f in fields}
    for doc in out.values():
        real, est = doc["realised"], doc["estimated"]
        if real and est and real["value"] is not None and est["value"] is not None:
            doc["estimation_error"] = est["value"] - real["value"]
    return [out[k] for k in sorted(out, key=lambda k: (k[0], k[1]))]


def performance_document(
    conn: sa.Connection,
    period: str,
    metric: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    model_version: int | None = None,
) -> dict[str, Any]:
    """`GET /performance`'s and `riskwatch performance --json`'s document: the window asked
    for and its periods (`performance_over_time`), times as ISO 8601 text."""
    rows = performance_over_time(
        conn, period, metric, start=start, end=end, model_version=model_version
    )
    for row in rows:
        row["period_start"] = row["period_start"].isoformat()
    return {
        "period": period,
        "metric": metric,
        "start": None if start is None else start.isoformat(),
        "end": None if end is None else end.isoformat(),
        "periods": rows,
    }


def realised_values(
    conn: sa.Connection, period: str, model_version: int, starts: list[datetime]
) -> dict[tuple[datetime, str], float]:
    """The realised value in force (the newest computation) of each metric of these periods of
    `model_version`: {(period_start, metric): value}; what an estimate made after the labels
    arrived is set beside at once."""
    if not starts:
        return {}
    r = realised_performance
    newest = (
        sa.select(sa.func.max(r.c.id))
        .where(r.c.period == period, r.c.model_version == model_version)
        .where(r.c.period_start.in_(starts))
        .group_by(r.c.period_start, r.c.metric)
    )
    query = sa.select(r.c.period_start, r.c.metric, r.c.value).where(r.c.id.in_(newest))
    return {
        (row.period_start, row.metric): row.value
        for row in conn.execute(query)
        if row.value is not None
    }
