"""Raise a run's alert events (pipeline.monitor.events): each is logged, listed in the run's
summary ("events") and, when alerts.events names it and alerts.webhook_url is set, delivered as
the data-quality alerts are (the same retries and deadline) and its delivery recorded in
`alerts` (no quality file). Never fails the run: a webhook that is down is a logged Delivery.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from pipeline.errors import InboxMissing
from pipeline.formatting import fmt_drift
from pipeline.monitor import Event, event_message
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    from pipeline.model.policy import Decision
    from pipeline.settings import Settings


class Run(Protocol):
    """What an event needs of `pipeline.run.record.Run` (which calls `failed`: no import back)."""

    settings: Settings
    engine: sa.Engine
    run_id: str
    summary: dict[str, Any]
    current_step: str | None


log = logging.getLogger("riskwatch")


def chosen(run: Run, name: str) -> bool:
    """Whether the event `name` goes to the webhook (alerts.events, and a webhook is set)."""
    s = run.settings
    return bool(s["alerts.webhook_url"]) and name in s["alerts.events"]


def emit(run: Run, event: Event) -> None:
    """Log the event, list it in the summary, and deliver it when alerts.events chooses it."""
    # INFO: the summary lists it and the webhook delivers it; what went wrong is said elsewhere
    # (a failed run's one error line), so `-q` leaves it out.
    log.info("event %s: %s", event.name, event.message)
    run.summary.setdefault("events", []).append({"event": event.name, "message": event.message})
    if not chosen(run, event.name):
        return
    s = run.settings
    base = s["alerts.report_base_url"].rstrip("/")
    link = f"{base}/runs/{run.run_id}" if base and run.run_id else None
    body = event_message(event, run.run_id, link)
    row = {"quality_file_id": None, **post(run, body, f"event {event.name}", event.criticality)}
    try:
        writes.record_rows(run.engine, tables.alerts, run.run_id, [row])
    except sa.exc.SQLAlchemyError as exc:  # a run failing as its database went: told, not kept
        log.warning("event %s: its delivery was not recorded (%s)", event.name, exc)


def post(run: Run, body: dict[str, Any], what: str, criticality: str) -> dict[str, Any]:
    """POST `body` to alerts.webhook_url with the alerts.* retries and deadline (never raises);
    the `alerts` row of its delivery. `what` names it in the log."""
    from pipeline.ingest import alerts

    s = run.settings
    url = s["alerts.webhook_url"]
    delivery = alerts.post(
        url,
        body,
        what,
        timeout=s["alerts.timeout_seconds"],
        retries=s["alerts.retries"],
        deadline=s["alerts.deadline_seconds"],
    )
    return {
        "sent_at": tables.utcnow(),
        "criticality": criticality,
        "target": alerts.target(url),
        "delivered": delivery.delivered,
        "attempts": delivery.attempts,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "payload": body,
    }


def decided(
    run: Run,
    version: int,
    metric: Decision,
    estimated: Decision | None,
    drift: dict[str, Any] | None,
) -> None:
    """The events of a monitored run's evidence: the metric's and the estimate's drops, and
    confirmed data-set drift (whatever policy.trigger makes of them)."""
    if metric.outcome:
        emit(run, Event("model_degraded", metric.reason, _plain(metric.evidence), version))
    if estimated is not None and estimated.outcome:
        emit(run, Event("estimated_drop", estimated.reason, _plain(estimated.evidence), version))
    if drift and drift.get("confirmed"):
        why = f"data drift confirmed: {fmt_drift(drift)}"
        evidence = {k: drift.get(k) for k in ("drifted_share", "persistence", "status")}
        emit(run, Event("dataset_drift", why, evidence, version))


def trained(run: Run, promotion: dict[str, Any] | None) -> None:
    """The events of a training: a challenger trained, then promoted or kept."""
    if not promotion or promotion.get("challenger_version") is None:
        return
    version = promotion["challenger_version"]
    evidence = {
        k: promotion.get(k) for k in ("challenger", "champion", "compared", "training_rows")
    }
    emit(run, Event("retrained", f"challenger v{version} trained", evidence, version))
    name = "promoted" if promotion["promoted"] else "kept"
    emit(run, Event(name, promotion["reason"], evidence, version))


def failed(run: Run, exc: BaseException) -> None:
    """The event of a run that stopped with `exc`: inbox_missing or run_failed; never raises."""
    try:
        name = "inbox_missing" if isinstance(exc, InboxMissing) else "run_failed"
        step = f" in its {run.current_step} step" if run.current_step else ""
        why = f"run {run.run_id} failed{step}: {type(exc).__name__}: {exc}"[:1000]
        emit(run, Event(name, why, {"error_type": type(exc).__name__, "step": run.current_step}))
    except Exception as bug:  # telling about a failure must not hide it
        log.error("event for the failed run not sent: %s", bug)


def _plain(evidence: dict[str, Any]) -> dict[str, Any]:
    """The evidence as JSON takes it (numbers, text; anything else as its text)."""
    return json.loads(json.dumps(evidence, default=str))
