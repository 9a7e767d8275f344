"""labelled rows: a file's good rows that carry a label (the others are inference data), and a
run's new rows labelled and unlabelled; prediction-health alert events

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ingested_files") as batch:
        batch.add_column(
            sa.Column("labelled_rows", sa.Integer(), server_default="0", nullable=False)
        )
    # Before this revision the gate quarantined every row without a label: every good row of
    # an earlier file is labelled.
    op.execute("UPDATE ingested_files SET labelled_rows = rows")
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("rows_labelled", sa.Integer(), server_default="0", nullable=False)
        )
        batch.add_column(
            sa.Column("rows_unlabelled", sa.Integer(), server_default="0", nullable=False)
        )

    op.create_table(
        "prediction_alerts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("alerts.id")),
        sa.UniqueConstraint(
            "period", "period_start", "model_version", "kind", name="uq_prediction_alerts_event"
        ),
    )
    op.create_index("ix_prediction_alerts_run_id", "prediction_alerts", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_prediction_alerts_run_id", "prediction_alerts")
    op.drop_table("prediction_alerts")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("rows_unlabelled")
        batch.drop_column("rows_labelled")
    with op.batch_alter_table("ingested_files") as batch:
        batch.drop_column("labelled_rows")
