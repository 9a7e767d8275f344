"""requests by event time: a partial index of the predictions that carry one

A period read by event time (the estimates' periods when `data.timestamp_column` is set) took
every stored prediction through one `coalesce` of times and scanned the table. It now reads a
file's rows through the segments whose cells lie in the period, and the requests' rows (the
API's, the web page's) through this index: only those rows that carry an event time are in it.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

NAME = "ix_predictions_model_version_event_time"
TIMED_REQUESTS = sa.text("source <> 'scheduled' AND event_time IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        NAME,
        "predictions",
        ["model_version", "event_time"],
        postgresql_where=TIMED_REQUESTS,
        sqlite_where=TIMED_REQUESTS,
    )


def downgrade() -> None:
    op.drop_index(NAME, "predictions")
