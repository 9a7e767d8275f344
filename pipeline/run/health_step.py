"""The prediction-health step (issue 12, point 6): after a run predicted, the health of every
period its predictions fall in (`pipeline.monitor.health`, the whole period, not only this run's
rows), the alerts those periods raise (`pipeline.monitor.health_alerts`), each recorded once per
(period, version, kind) in `prediction_alerts` and delivered to the webhook as the data-quality
alerts are (alerts.webhook_url, alerts.min_criticality, the same retries and deadline).

Also what `GET /predictions/summary` answers (`summary`). pandas is imported inside.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.monitor import Baseline, HealthAlert, PeriodHealth
from pipeline.settings import Settings
from pipeline.storage import health, tables

if TYPE_CHECKING:
    import sqlalchemy as sa

    from pipeline.run.record import Run

log = logging.getLogger("riskwatch")


def _by_event_time(settings: Settings) -> bool:
    return bool(settings["data.timestamp_column"])


def periods_of(
    conn: sa.Connection,
    settings: Settings,
    *,
    start: datetime | None,
    end: datetime | None,
    model_version: int | None = None,
    source: str | None = None,
) -> tuple[list[PeriodHealth], dict[tuple[int, datetime], Baseline]]:
    """The health of the periods of predictions in [start, end), and each one's baseline."""
    import pandas as pd

    from pipeline.monitor import COLUMNS, health_by_period, positive_class

    rows = health.predictions_between(
        conn,
        start=start,
        end=end,
        by_event_time=_by_event_time(settings),
        model_version=model_version,
        source=source,
    )
    if not rows:
        return [], {}
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    task = settings["model.task"]
    out: list[PeriodHealth] = []
    baselines: dict[tuple[int, datetime], Baseline] = {}
    for version, part in frame.groupby("model_version", sort=True):
        version = int(version)
        classes, predicted = health.holdout_predicted(conn, version)
        positive = None
        if task == "classification":
            positive = positive_class(classes or health.classes_predicted(conn, version))
        periods = health_by_period(part, settings["monitoring.period"], task, positive)
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


def _alerts(
    settings: Settings,
    periods: list[PeriodHealth],
    baselines: dict[tuple[int, datetime], Baseline],
) -> list[HealthAlert]:
    from pipeline.monitor import find_alerts

    return find_alerts(
        periods,
        baselines,
        min_rows=settings["monitoring.health_min_rows"],
        tolerance=settings["monitoring.positive_share_tolerance"],
        confidence=settings["policy.confidence"],
    )


def check(run: Run) -> dict[str, Any] | None:
    """The health of the periods this run's predictions fall in; new alerts recorded and sent.
    None when the run predicted nothing."""
    from pipeline.monitor import period_end, period_start

    s = run.settings
    period = s["monitoring.period"]
    with run.engine.connect() as conn:
        low, high, versions = health.run_span(conn, run.run_id, _by_event_time(s))
        if low is None or high is None:
            return None
        start, end = period_start(low, period), period_end(period_start(high, period), period)
        periods, baselines = [], {}
        for version in versions:
            got, base = periods_of(conn, s, start=start, end=end, model_version=version)
            periods += got
            baselines.update(base)
    found = _alerts(s, periods, baselines)
    new = [a for a in found if _record(run, period, a)]
    for alert in new:
        log.warning("prediction health: %s", alert.message)
    return {
        "period": period,
        "periods": [h.as_dict() for h in periods],
        "alerts": [_alert_doc(a) for a in new],
    }


def _alert_doc(alert: HealthAlert) -> dict[str, Any]:
    return {
        "kind": alert.kind,
        "period_start": alert.period_start.isoformat(),
        "model_version": alert.model_version,
        "message": alert.message,
        "evidence": alert.evidence,
    }


def _record(run: Run, period: str, alert: HealthAlert) -> bool:
    """Record the event (once) and deliver it; False when it was recorded by an earlier run."""
    with run.engine.begin() as conn:
        event = health.add_alert(conn, run.run_id, period, alert, tables.utcnow())
    if event is None:
        return False
    _deliver(run, alert, event)
    return True


def _deliver(run: Run, alert: HealthAlert, event: int) -> None:
    """POST the alert to alerts.webhook_url (when set and high enough); never fails the run."""
    from pipeline.ingest import alerts
    from pipeline.monitor import CRITICALITY, message

    s = run.settings
    url = s["alerts.webhook_url"]
    if not url or not alerts.at_least(CRITICALITY, s["alerts.min_criticality"]):
        return
    base = s["alerts.report_base_url"].rstrip("/")
    link = f"{base}/predictions/summary" if base else None
    body = message(alert, run.run_id, link)
    delivery = alerts.post(
        url,
        body,
        f"prediction health v{alert.model_version} {alert.period_start.date()}",
        timeout=s["alerts.timeout_seconds"],
        retries=s["alerts.retries"],
        deadline=s["alerts.deadline_seconds"],
    )
    row = {
        "sent_at": tables.utcnow(),
        "criticality": CRITICALITY,
        "target": alerts.target(url),
        "delivered": delivery.delivered,
        "attempts": delivery.attempts,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "payload": body,
    }
    with run.engine.begin() as conn:
        health.add_delivery(conn, event, run.run_id, row)


def summary(
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
    periods, baselines = periods_of(
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
