"""history index: hashes of ingested rows and ids, for duplicates across files

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

HASH = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite: the row id itself


def upgrade() -> None:
    for name in ("history_rows", "history_ids"):
        op.create_table(
            name,
            sa.Column("hash", HASH, primary_key=True, autoincrement=False),
            sa.Column("file_id", sa.Integer(), nullable=False),  # no foreign key: see tables.py
        )
    op.create_table(
        "history_files",
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("ingested_files.id"), primary_key=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("history_files")
    op.drop_table("history_ids")
    op.drop_table("history_rows")
