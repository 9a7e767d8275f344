"""Prediction-health alerts (issue 12, point 6): a period in which the model predicted a single
class, or whose positive share moved beyond monitoring.positive_share_tolerance; and the
webhook message that tells a chat channel, in the shape the data-quality alerts use.

Pure computation, no I/O. The rules, stated once (README, "Prediction health"):

- Only a period with at least monitoring.health_min_rows predictions is judged: fewer say
  nothing either way (the summary still shows them).
- `single_class`: a classifier's every prediction in the period is one class.
- `positive_share`: a binary classifier's share of positive predictions differs from the
  baseline by more than the tolerance, and clearly: the Wilson interval of the period's share at
  policy.confidence lies wholly beyond baseline +- tolerance (so 3 positives in 10 rows against
  a baseline of 0.1 is not an alarm, and 30,000 in 100,000 is).
- The baseline is the version's positive share on its holdout (what it was validated on, fixed
  once trained: a slow drift cannot move it); for a version trained without a holdout, its
  share over all its predictions before the period (`Baseline.source` says which).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from statistics import NormalDist
from typing import Any

from pipeline.monitor.health import PeriodHealth

KINDS = ("single_class", "positive_share")
CRITICALITY = "high"  # both kinds: a model that stopped telling classes apart, or shifted


@dataclass(frozen=True)
class Baseline:
    share: float | None  # the positive share the period is compared with; None: none known
    source: str  # "holdout" or "earlier predictions"
    rows: int = 0


@dataclass(frozen=True)
class HealthAlert:
    kind: str
    period_start: datetime
    model_version: int
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)


def wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of a share k/n at `confidence` (n > 0)."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def find_alerts(
    periods: list[PeriodHealth],
    baselines: dict[tuple[int, datetime], Baseline],
    *,
    min_rows: int,
    tolerance: float,
    confidence: float,
) -> list[HealthAlert]:
    """The alerts the periods raise (see the module's rules); `baselines` by (version, start)."""
    out: list[HealthAlert] = []
    for h in periods:
        if h.count < min_rows:
            continue
        day = h.period_start.date().isoformat()
        only = h.single_class
        if only is not None:
            out.append(
                HealthAlert(
                    "single_class",
                    h.period_start,
                    h.model_version,
                    f"model v{h.model_version} predicted only class {only!r} for all {h.count:,} "
                    f"predictions of the period starting {day}",
                    {"class": only, "count": h.count, "min_rows": min_rows},
                )
            )
        base = baselines.get((h.model_version, h.period_start))
        if h.positive_share is None or base is None or base.share is None:
            continue
        k = round(h.positive_share * h.count)
        low, high = wilson(k, h.count, confidence)
        beyond = low > base.share + tolerance or high < base.share - tolerance
        if not beyond:
            continue
        out.append(
            HealthAlert(
                "positive_share",
                h.period_start,
                h.model_version,
                f"model v{h.model_version} predicted class {h.positive_label!r} for "
                f"{h.positive_share:.1%} of {h.count:,} predictions in the period starting {day} "
                f"(interval {low:.1%}-{high:.1%} at {confidence:.0%}), against {base.share:.1%} "
                f"({base.source}): beyond monitoring.positive_share_tolerance = {tolerance:g}",
                {
                    "positive_label": h.positive_label,
                    "positive_share": h.positive_share,
                    "interval": [low, high],
                    "confidence": confidence,
                    "baseline": base.share,
                    "baseline_source": base.source,
                    "baseline_rows": base.rows,
                    "tolerance": tolerance,
                    "count": h.count,
                    "min_rows": min_rows,
                },
            )
        )
    return out


def message(alert: HealthAlert, run_id: str, link: str | None = None) -> dict[str, Any]:
    """The JSON body Slack and Microsoft Teams incoming webhooks both accept (the shape of
    `pipeline.ingest.alerts.message`: "text", a Teams Adaptive Card, and "riskwatch")."""
    from pipeline.monitor.events import webhook_body

    title = "single class" if alert.kind == "single_class" else "positive share moved"
    facts = [
        ("Alert", alert.kind),
        ("Model version", f"v{alert.model_version}"),
        ("Period", alert.period_start.date().isoformat()),
        ("Run", run_id),
    ]
    raw = {
        "kind": alert.kind,
        "model_version": alert.model_version,
        "period_start": alert.period_start.isoformat(),
        "message": alert.message,
        "evidence": alert.evidence,
        "run_id": run_id,
        "link": link,
    }
    return webhook_body(
        "prediction-health",
        f"prediction health, {title}",
        CRITICALITY,
        alert.message,
        facts,
        raw,
        None if link is None else ("Prediction health", link),
    )
