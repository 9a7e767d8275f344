"""a scheduled prediction says whether its own file labelled its row

A period's estimate covers the predictions that wait for labels. A file labelled whole was
already left out, by its count of labelled rows; the labelled rows of a partly labelled file
were not: they counted in the period's estimate, but never in its realised value (their labels
are scored by their run, never joined later), so the two were of different rows. Such a row
is now marked when it is predicted (TRUE; NULL for every other row, and for the rows stored
before this revision, which stay as they were counted).

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("labelled", sa.Boolean))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("labelled")
