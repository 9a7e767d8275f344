"""Alert events of a run beyond data quality and prediction health (issue 13, point 10): the
model degraded, retrained, promoted or kept, the data set drifted, the estimated metric
dropped, the run failed, the inbox is missing; and the webhook message that tells a chat
channel, in the shape the other alerts use (`webhook_body`, which they call too).

Pure computation, no I/O. `alerts.events` (its names: pipeline.settings.keys_quality's
ALERT_EVENTS) chooses which events go to the webhook; pipeline.run.events records and
delivers them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How serious each event is: what the card's colour and the text's first word say.
CRITICALITY = {
    "model_degraded": "high",
    "estimated_drop": "medium",
    "dataset_drift": "medium",
    "retrained": "low",
    "promoted": "medium",
    "kept": "low",
    "run_failed": "high",
    "inbox_missing": "high",
}
TITLES = {
    "model_degraded": "model degraded",
    "estimated_drop": "estimated metric dropped",
    "dataset_drift": "data-set drift",
    "retrained": "challenger trained",
    "promoted": "new model in production",
    "kept": "production model kept",
    "run_failed": "run failed",
    "inbox_missing": "inbox missing",
}
_CARD_COLOR = {"low": "Default", "medium": "Warning", "high": "Attention"}


@dataclass(frozen=True)
class Event:
    """One thing a run says happened, with the numbers behind it."""

    name: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    model_version: int | None = None

    def __post_init__(self) -> None:
        if self.name not in CRITICALITY:
            raise ValueError(f"unknown event {self.name!r}: expected one of {', '.join(TITLES)}")

    @property
    def criticality(self) -> str:
        return CRITICALITY[self.name]


def _escaped(text: str) -> str:
    # Slack reads &, < and > as control characters (links, mentions): see pipeline.ingest.alerts.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(
    kind: str,
    title: str,
    criticality: str,
    text: str,
    facts: list[tuple[str, str]],
    facts_raw: dict[str, Any],
    link: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The JSON body Slack and Microsoft Teams incoming webhooks both accept (the shape of
    `pipeline.ingest.alerts.message`: "text", a Teams Adaptive Card, and "riskwatch" with
    `facts_raw`, unformatted); `link`: (title, URL) of a button, for a web URL only."""
    level = criticality.upper()
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "fallbackText": f"{level} {kind} alert: {text}",
        "body": [
            {
                "type": "TextBlock",
                "text": f"{level}: {title}",
                "weight": "Bolder",
                "size": "Medium",
                "color": _CARD_COLOR.get(criticality, "Default"),
                "wrap": True,
            },
            {"type": "TextBlock", "text": text, "wrap": True},
            {"type": "FactSet", "facts": [{"title": t, "value": v} for t, v in facts]},
        ],
    }
    if link and link[1].startswith(("http://", "https://")):
        card["actions"] = [{"type": "Action.OpenUrl", "title": link[0], "url": link[1]}]
    run_id = facts_raw.get("run_id")
    return {
        "text": f"*{level}* {kind} alert: {_escaped(text)}; run `{run_id}`.",
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
        "riskwatch": {"criticality": criticality, **facts_raw},
    }


def message(event: Event, run_id: str, link: str | None = None) -> dict[str, Any]:
    """The webhook body of one event; `link`: the run's page, when the app's URL is known."""
    facts = [("Event", event.name), ("Run", run_id)]
    if event.model_version is not None:
        facts.insert(1, ("Model version", f"v{event.model_version}"))
    raw = {
        "event": event.name,
        "model_version": event.model_version,
        "message": event.message,
        "evidence": event.evidence,
        "run_id": run_id,
        "link": link,
    }
    return webhook_body(
        "run",
        TITLES[event.name],
        event.criticality,
        event.message,
        facts,
        raw,
        None if link is None else ("Open the run", link),
    )
