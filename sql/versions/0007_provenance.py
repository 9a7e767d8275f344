"""model versions record the settings that trained them and the DVC experiment they came from

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        # {"settings": {...}, "settings_sha256": "...", "experiment": {...} | null}; NULL for
        # the versions trained before riskwatch recorded it.
        batch.add_column(sa.Column("provenance", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("provenance")
