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
    Setting(
        "predict.batch_rows",
        50_000,
        "int",
        "Rows of an ingested file read, predicted and written at a time by `riskwatch predict` "
        "(and the run's predict step): its memory is one batch, whatever the file's size.",
        minimum=1,
    ),
    Setting(
        "predict.page_limit",
        1000,
        "int",
        "Most predictions one page of GET /past-predictions or `riskwatch predictions` holds "
        "(a larger `limit` is a 400); `riskwatch predictions --csv` streams every page.",
        minimum=1,
    ),
)
