"""The tables of labels that arrive later (issue 12, point 4): the label files taken, each label
with what became of it, and the realised performance computed from the joined ones.

They are part of `tables.metadata` (the package's `__init__` imports this module, so whoever
imports `tables` has them); migration 0013 builds them.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.storage.tables import UTCDateTime, metadata


def _run_fk(name: str = "run_id", nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(32), sa.ForeignKey("runs.id"), nullable=nullable, index=True)


# Every file of the labels inbox (paths.labels) riskwatch took, by content: taken once.
label_files = sa.Table(
    "label_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),  # its name in the inbox when taken
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # taken, quarantined (the whole file)
    sa.Column("reason", sa.Text),  # why the whole file was quarantined
    sa.Column("rows_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_valid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_invalid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("invalid_by_type", sa.JSON, nullable=False),  # {"no_id": 2, "invalid_label": 1}
    sa.Column("quarantine_path", sa.Text),  # relative to paths.ingested: the bad rows, or all
    sa.Column("received_at", UTCDateTime, nullable=False),
)

# One row per valid label row. status: pending (its prediction is not there yet), joined (used:
# in a joined Parquet file and in realised performance), duplicate (the same label again),
# conflict (another label for the same row: not used), unmatched (no prediction in
# labels.max_wait_days).
labels = sa.Table(
    "labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # No foreign keys (migration 0021): each was a check per row of a COPY and of a join's
    # update; the rows they name are written in the same transactions.
    sa.Column("run_id", sa.String(32), nullable=False, index=True),
    sa.Column("label_file_id", sa.Integer, nullable=False, index=True),
    sa.Column("row_number", sa.Integer, nullable=False),  # 0-based data row of its file
    sa.Column("row_key", sa.Text, nullable=False, index=True),  # the ids as a JSON list
    sa.Column("label", sa.Text, nullable=False),  # the class (or value) as text
    sa.Column("observed_at", UTCDateTime),  # labels.observed_at_column, when the file had it
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False, index=True),
    sa.Column("reason", sa.Text),  # for duplicate, conflict, unmatched
    # The prediction it resolved (predictions.id; no foreign key: that table's migration is
    # another's, and the label keeps its record if predictions are pruned), its version, and
    # the predicted row: ingested_files.id and 0-based row of that file's Parquet (NULL for a
    # prediction whose features are stored with it).
    sa.Column("prediction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
    sa.Column("model_version", sa.Integer),
    sa.Column("file_id", sa.Integer, index=True),
    sa.Column("file_row", sa.Integer),
    sa.Column("period_start", UTCDateTime),  # the resolved row's period (monitoring.period)
    sa.Column("resolved_run_id", sa.String(32), index=True),  # the run that joined (gave up)
    sa.Column("resolved_at", UTCDateTime),
    # The ingested file (kind 'labels') that holds the joined row with its label.
    sa.Column("joined_file_id", sa.Integer),
)

# The production model's metric on joined labels, per period and model version. A period is
# computed again when more labels for it arrive: a new row each time (history kept); the
# newest computed_at of a (period, period_start, model_version, metric) is its value now.
realised_performance = sa.Table(
    "realised_performance",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("period", sa.String(10), nullable=False),  # day, week, month
    sa.Column("period_start", UTCDateTime, nullable=False, index=True),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("metric", sa.String(20), nullable=False),
    sa.Column("value", sa.Float),  # NULL when undefined (one class only, say)
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("computed_at", UTCDateTime, nullable=False),
)
