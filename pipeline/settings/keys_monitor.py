"""Settings rows: production traffic (predictions, labels that arrive later, performance per
period, estimation without labels, prediction health)."""

from __future__ import annotations

from pipeline.settings.setting import Setting

MONITOR: tuple[Setting, ...] = (
    Setting(
        "monitoring.period",
        "day",
        "choice",
        "The period realised and estimated performance and prediction health are computed "
        "per: day, week (ISO, from Monday) or month, in UTC; by the rows' event time when "
        "data.timestamp_column is set, else by when they were ingested.",
        choices=("day", "week", "month"),
    ),
)
