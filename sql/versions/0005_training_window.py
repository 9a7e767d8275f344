"""model versions say where their recorded metric comes from and which window they learned

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(sa.Column("score_source", sa.String(20), nullable=True))
        batch.add_column(sa.Column("score_rows", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("training_window", sa.String(40), nullable=True))
    # Every earlier version was trained on every ingested row and scored on its holdout.
    op.execute(
        "UPDATE model_versions SET score_source = 'holdout', score_rows = holdout_rows, "
        "training_window = 'all'"
    )


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("training_window")
        batch.drop_column("score_rows")
        batch.drop_column("score_source")
