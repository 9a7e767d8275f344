"""The prediction-health step (issue 12, point 6): after a run predicted, the health of every
period its predictions fall in (`pipeline.monitor.health`, the whole period, not only this run's
rows), the alerts those periods raise (`pipeline.monitor.health_alerts`), each recorded once per
(period, version, kind) in `prediction_alerts` and delivered to the webhook as the data-quality
alerts are (alerts.webhook_url, alerts.min_criticality, the same retries and deadline).

The periods' health is `pipeline.predictions.period_health` (also what `GET
/predictions/summary` answers). pandas is imported inside.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline import predictions
from pipeline.monitor import Baseline, HealthAlert, PeriodHealth
from pipeline.run import events
from pipeline.settings import Settings
from pipeline.storage import health, tables

if TYPE_CHECKING:
    from pipeline.run.record import Run

log = logging.getLogger("riskwatch")


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
        by_event_time = bool(s["data.timestamp_column"])
        low, high, versions = health.run_span(conn, run.run_id, by_event_time)
        if low is None or high is None:
            return None
        start, end = period_start(low, period), period_end(period_start(high, period), period)
        periods, baselines = [], {}
        for version in versions:
            got, base = predictions.period_health(
                conn, s, start=start, end=end, model_version=version
            )
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
    chosen = "constant_predictions" if alert.kind == "single_class" else alert.kind
    if not url or not alerts.at_least(CRITICALITY, s["alerts.min_criticality"]):
        return
    if chosen not in s["alerts.events"]:
        return
    base = s["alerts.report_base_url"].rstrip("/")
    link = f"{base}/predictions/summary" if base else None
    body = message(alert, run.run_id, link)
    what = f"prediction health v{alert.model_version} {alert.period_start.date()}"
    row = events.post(run, body, what, CRITICALITY)
    with run.engine.begin() as conn:
        health.add_delivery(conn, event, run.run_id, row)
