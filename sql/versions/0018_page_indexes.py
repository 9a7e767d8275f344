"""page indexes: what the web pages read, found through an index instead of a scan

The runs newest first (all of them, without the quiet ticks, and of one status), the drift
summaries and data-quality alerts of a time range, a version's scores and holdout confusion
counts, the checked files of a content hash. Each of these tables grows by a few rows a run;
without an index a page read it whole (bench/README.md, the pages' server time).

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# The runs pages hide these ticks unless asked (pipeline.storage.run_views.SHOWN).
SHOWN = sa.text("status NOT IN ('noop', 'skipped')")

INDEXES: dict[str, tuple[str, list[str], sa.TextClause | None]] = {
    "ix_runs_started_at_id": ("runs", ["started_at", "id"], None),
    "ix_runs_shown_started_at_id": ("runs", ["started_at", "id"], SHOWN),
    "ix_runs_status_started_at_id": ("runs", ["status", "started_at", "id"], None),
    "ix_drift_summaries_created_at_id": ("drift_summaries", ["created_at", "id"], None),
    "ix_drift_results_run_id_column_name": ("drift_results", ["run_id", "column_name"], None),
    "ix_scores_model_version_id": ("scores", ["model_version", "id"], None),
    "ix_confusion_matrices_model_version_dataset": (
        "confusion_matrices",
        ["model_version", "dataset"],
        None,
    ),
    "ix_quality_files_sha256": ("quality_files", ["sha256"], None),
    "ix_alerts_sent_at_id": ("alerts", ["sent_at", "id"], None),
}


def upgrade() -> None:
    for name, (table, columns, where) in INDEXES.items():
        extra = {} if where is None else {"postgresql_where": where, "sqlite_where": where}
        op.create_index(name, table, columns, **extra)


def downgrade() -> None:
    for name, (table, _, _) in reversed(INDEXES.items()):
        op.drop_index(name, table)
