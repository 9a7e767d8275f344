"""Prediction health read from the stored predictions (issue 12, point 6): the health of every
period and model version of the predictions in a time range (`pipeline.monitor.health`), each
with the baseline its positive share is judged against, and `GET /predictions/summary`'s
document with the alert events recorded for those periods.

Reads through `pipeline.storage.health`, counted in the database (`health_cells`): a period of
millions of predictions comes back as a few rows; no pandas.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.monitor import Baseline, PeriodHealth
from pipeline.settings import Settings
from pipeline.storage import health

if TYPE_CHECKING:
    import sqlalchemy as sa


def _by_event_time(settings: Settings) -> bool:
    return bool(settings["data.timestamp_column"])


def period_health(
    conn: sa.Connection,
    settings: Settings,
    *,
    start: datetime | None,
    end: datetime | None,
    model_version: int | None = None,
    source: str | None = None,
) -> tuple[list[PeriodHealth], dict[tuple[int, datetime], Baseline]]:
    """The health of the periods of predictions in [start, end), and each one's baseline (an
    `end` at or before `start`: none)."""
    from pipeline.monitor import Cell, bin_edges, health_from_cells, positive_class

    if start is not None and end is not None and end <= start:
        return [], {}
    cells = [
        Cell(**c)
        for c in health.health_cells(
            conn,
            start=start,
            end=end,
            by_event_time=_by_event_time(settings),
            inner_edges=bin_edges()[1:-1],
            model_version=model_version,
            source=source,
        )
    ]
    if not cells:
        return [], {}
    task = settings["model.task"]
    out: list[PeriodHealth] = []
    baselines: dict[tuple[int, datetime], Baseline] = {}
    versions = sorted({c.model_version for c in cells})
    holdouts = health.holdouts_predicted(conn, versions)
    for version in versions:
        classes, predicted = holdouts.get(version, ([], {}))
        positive = None
        if task == "classification":
            positive = positive_class(classes or health.classes_predicted(conn, version))
        mine = [c for c in cells if c.model_version == version]
        periods = health_from_cells(mine, settings["monitoring.period"], task, positive)
        out += periods
        for h in periods:
            baselines[(version, h.period_start)] = _baseline(
                conn, settings, version, positive, predicted, h.period_start
            )
    out.sort(key=lambda h: (h.period_start, h.model_version))
    return out, baselines


def _baseline(
    conn: sa.Connection,
    settings: Settings,
    version: int,
    positive: str | None,
    holdout: dict[str, int],
    before: datetime,
) -> Baseline:
    """The version's positive share on its holdout; without one, over its earlier predictions."""
    if positive is None:
        return Baseline(None, "none")
    if holdout:
        n = sum(holdout.values())
        return Baseline(holdout.get(positive, 0) / n, "holdout", n)
    total, hits = health.share_before(conn, version, positive, before, _by_event_time(settings))
    return Baseline(hits / total if total else None, "earlier predictions", total)


def health_summary(
    conn: sa.Connection,
    settings: Settings,
    *,
    start: datetime | None,
    end: datetime | None,
    model_version: int | None,
    source: str | None,
) -> dict[str, Any]:
    """`GET /predictions/summary`: the health of every period of predictions in [start, end),
    with the alerts recorded for those periods and what each would be compared with."""
    periods, baselines = period_health(
        conn, settings, start=start, end=end, model_version=model_version, source=source
    )
    period = settings["monitoring.period"]
    versions = sorted({h.model_version for h in periods})
    docs = []
    for h in periods:
        doc = h.as_dict()
        base = baselines.get((h.model_version, h.period_start))
        doc["baseline"] = (
            None
            if base is None or base.share is None
            else {"positive_share": base.share, "source": base.source, "rows": base.rows}
        )
        docs.append(doc)
    first = periods[0].period_start if periods else None
    return {
        "period": period,
        "time": "event_time" if _by_event_time(settings) else "created_at",
        "min_rows": settings["monitoring.health_min_rows"],
        "positive_share_tolerance": settings["monitoring.positive_share_tolerance"],
        "periods": docs,
        "alerts": health.alerts_between(conn, period, first, end, versions) if periods else [],
    }
