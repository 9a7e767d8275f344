"""labelled rows: a file's good rows that carry a label (the others are inference data), and a
run's new rows labelled and unlabelled

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


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("rows_unlabelled")
        batch.drop_column("rows_labelled")
    with op.batch_alter_table("ingested_files") as batch:
        batch.drop_column("labelled_rows")
