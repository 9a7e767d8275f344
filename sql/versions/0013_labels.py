"""labels that arrive later: label files, labels, realised performance; ingested_files.kind

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"  # 0010 before rw-predict was merged in: see the report
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _run_fk(name: str = "run_id", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(32), sa.ForeignKey("runs.id"), nullable=nullable, index=True)


def upgrade() -> None:
    with op.batch_alter_table("ingested_files") as batch:
        batch.add_column(sa.Column("kind", sa.String(10), server_default="source", nullable=False))
    op.create_table(
        "label_files",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _run_fk(),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("rows_read", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_valid", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows_invalid", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("invalid_by_type", sa.JSON(), nullable=False),
        sa.Column("quarantine_path", sa.Text()),
        sa.Column("received_at", TIME, nullable=False),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _run_fk(),
        sa.Column(
            "label_file_id",
            sa.Integer(),
            sa.ForeignKey("label_files.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("row_key", sa.Text(), nullable=False, index=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("observed_at", TIME),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("reason", sa.Text()),
        sa.Column("prediction_id", ID),
        sa.Column("model_version", sa.Integer()),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("ingested_files.id"), index=True),
        sa.Column("file_row", sa.Integer()),
        sa.Column("period_start", TIME),
        _run_fk("resolved_run_id", nullable=True),
        sa.Column("resolved_at", TIME),
        sa.Column("joined_file_id", sa.Integer(), sa.ForeignKey("ingested_files.id")),
    )
    op.create_table(
        "realised_performance",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _run_fk(),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("period_start", TIME, nullable=False, index=True),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(20), nullable=False),
        sa.Column("value", sa.Float()),
        sa.Column("ci_low", sa.Float()),
        sa.Column("ci_high", sa.Float()),
        sa.Column("n_rows", sa.Integer(), nullable=False),
        sa.Column("computed_at", TIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("realised_performance")
    op.drop_table("labels")
    op.drop_table("label_files")
    with op.batch_alter_table("ingested_files") as batch:
        batch.drop_column("kind")
