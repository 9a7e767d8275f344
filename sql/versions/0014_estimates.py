"""performance without labels: calibrations per model version, performance_estimates per run

Revision ID: 0014
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"  # re-chained at merge: 0011 unlabelled, 0012 predictions, 0013 labels
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calibrations",
        sa.Column("model_version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(20)),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("criterion", sa.Text),
        sa.Column("candidates", sa.JSON, nullable=False),
        sa.Column("ece", sa.Float),
        sa.Column("ece_uncalibrated", sa.Float),
        sa.Column("holdout_rows", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text),
    )
    op.create_index("ix_calibrations_run_id", "calibrations", ["run_id"])
    op.create_table(
        "performance_estimates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True)),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("metric", sa.String(20), nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("ci_low", sa.Float),
        sa.Column("ci_high", sa.Float),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("reliable", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("realised_value", sa.Float),
        sa.Column("estimation_error", sa.Float),
        sa.Column("realised_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_performance_estimates_run_id", "performance_estimates", ["run_id"])
    op.create_index(
        "ix_performance_estimates_period_start", "performance_estimates", ["period_start"]
    )


def downgrade() -> None:
    op.drop_table("performance_estimates")
    op.drop_table("calibrations")
