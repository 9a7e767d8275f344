"""The indexes the web pages read through (migration 0018), built into `tables`.

Each of these tables grows by a few rows a run, and a page reads a bounded slice of it: the
runs newest first (all, without the quiet ticks, of one status), the drift summaries and the
data-quality alerts of a time range, one column's drift results, a version's scores and its
holdout's confusion counts, the checked files of a content hash.
"""

from __future__ import annotations

import sqlalchemy as sa

# The runs a page lists unless asked for the quiet ticks (`run_views.QUIET`), as SQL text: the
# partial index's predicate, which a query must say in these words for the planner to use it.
SHOWN = "status NOT IN ('noop', 'skipped')"


def build(metadata: sa.MetaData) -> None:
    """Add the pages' indexes to the tables of `metadata` (called by `tables`, at its end)."""
    t = metadata.tables
    runs = t["runs"]
    sa.Index("ix_runs_started_at_id", runs.c.started_at, runs.c.id)
    sa.Index(
        "ix_runs_shown_started_at_id",
        runs.c.started_at,
        runs.c.id,
        postgresql_where=sa.text(SHOWN),
        sqlite_where=sa.text(SHOWN),
    )
    sa.Index("ix_runs_status_started_at_id", runs.c.status, runs.c.started_at, runs.c.id)
    summaries, results = t["drift_summaries"], t["drift_results"]
    sa.Index("ix_drift_summaries_created_at_id", summaries.c.created_at, summaries.c.id)
    sa.Index("ix_drift_results_run_id_column_name", results.c.run_id, results.c.column_name)
    scores, confusion = t["scores"], t["confusion_matrices"]
    sa.Index("ix_scores_model_version_id", scores.c.model_version, scores.c.id)
    sa.Index(
        "ix_confusion_matrices_model_version_dataset",
        confusion.c.model_version,
        confusion.c.dataset,
    )
    sa.Index("ix_quality_files_sha256", t["quality_files"].c.sha256)
    sa.Index("ix_alerts_sent_at_id", t["alerts"].c.sent_at, t["alerts"].c.id)
