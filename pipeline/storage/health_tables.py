"""The `prediction_alerts` table (issue 12, point 6), built into `tables`: each prediction-health
alert event (a period predicted as a single class, or whose positive share moved), once per
(period, model version, kind), whether or not a webhook was told (`alert_id`: the delivery, in
`alerts`, when one was sent)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from pipeline.storage.coltypes import UTCDateTime


def build(metadata: sa.MetaData, run_fk: Callable[..., sa.Column]) -> sa.Table:
    """`prediction_alerts`, in `metadata` (called by `tables`, with its run column)."""
    return sa.Table(
        "prediction_alerts",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        run_fk(),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("period", sa.String(10), nullable=False),  # monitoring.period: day, week, month
        sa.Column("period_start", UTCDateTime, nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),  # single_class, positive_share
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id")),  # the webhook delivery
        sa.UniqueConstraint(
            "period", "period_start", "model_version", "kind", name="uq_prediction_alerts_event"
        ),
    )
