"""The `predictions` table, its watermark `prediction_marks` and the scheduled rows'
`prediction_segments` and health `prediction_cells` (issue 12), built into `tables`.

Every prediction riskwatch makes, whatever asked for it: the schedule (`riskwatch predict`, a
step of `run`), the API, the web page, the run's diagnostics on the test file. A scheduled
prediction's features stay where they already are, in the ingested Parquet file: the row points
at them by (file_id, row_number); the others carry their features as JSON.

A scheduled row is narrow: its id, segment, source, version, file, row number, row key, event
time, prediction and whether its file labelled it. What else is the same for every row a
transaction writes (the run, the time, a binary classifier's two classes) is said once, by its
segment, which also holds the range of ids its rows took (a COPY takes rising ids) and, in
`prediction_cells`, their health counts. So such a row is in two indexes only, the key and the
row key's: the indexes by time are partial (`source <> 'scheduled'`), and pages find scheduled
rows through their segments, newest first, each walked down its key (bench/README.md).

No foreign keys on `predictions`: PostgreSQL checks a key per row, and a 1,000,000-row COPY took
twice as long with one on run_id (the same trade as the history tables). `prediction_marks`,
written in the same transaction as a file's predictions, holds the keys to the run, the file and
the model version; a file is predicted by a version exactly when its mark exists.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from pipeline.storage.coltypes import UTCDateTime

NOT_SCHEDULED = "source <> 'scheduled'"
# The requests' rows that carry an event time (`data.timestamp_column` in the record), as SQL
# text: the partial index's predicate, which a query must say in these words (SQLite).
TIMED_REQUESTS = "source <> 'scheduled' AND event_time IS NOT NULL"


def build(metadata: sa.MetaData, run_fk: Callable[..., sa.Column]) -> tuple[sa.Table, sa.Table]:
    """(predictions, prediction_marks), in `metadata` (called by `tables`, with its run column)."""
    # SQLite's INTEGER PRIMARY KEY is the row id itself (64-bit); PostgreSQL needs BIGINT.
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    predictions = sa.Table(
        "predictions",
        metadata,
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        # When it became visible (set in the transaction that stored it, just before its
        # commit); NULL on a scheduled row: its segment's.
        sa.Column("created_at", UTCDateTime),
        # The run that predicted it (schedule, diagnostics); NULL for the API and the web page.
        sa.Column("run_id", sa.String(32)),
        sa.Column("source", sa.String(20), nullable=False),  # scheduled, api, webapp, diagnostics
        sa.Column("model_version", sa.Integer, nullable=False),
        # Scheduled rows: their prediction_segments.id, ingested_files.id and the 0-based row
        # of its Parquet file.
        sa.Column("segment_id", sa.Integer),
        sa.Column("file_id", sa.Integer),
        sa.Column("row_number", sa.Integer),
        sa.Column("features", sa.JSON),  # {column: value}; NULL when file_id says where they are
        sa.Column("row_key", sa.Text),  # data.id_columns' values, a compact JSON list: '["acme"]'
        sa.Column("event_time", UTCDateTime),  # data.timestamp_column's value, when set
        # The prediction as a number (regression, or a numeric class); NULL for a text class.
        sa.Column("prediction", sa.Float),
        sa.Column("label", sa.Text),  # the predicted class as text; NULL for regression
        sa.Column("probability", sa.Float),  # P(positive class) for binary classifiers
        # {class: p} for classifiers that give them; NULL on a scheduled row of a binary
        # classifier (its segment's two classes and `probability` say it).
        sa.Column("probabilities", sa.JSON),
        sa.Column("actual", sa.Float),  # the label, known at prediction time (diagnostics)
        # TRUE: a scheduled row its own file labelled (scored by its run, never waiting for a
        # label, so in no period's estimate); NULL otherwise (migration 0020).
        sa.Column("labelled", sa.Boolean),
    )
    _indexes(predictions)
    marks = sa.Table(
        "prediction_marks",
        metadata,
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), primary_key=True),
        sa.Column(
            "model_version",
            sa.Integer,
            sa.ForeignKey("model_versions.version"),
            primary_key=True,
            autoincrement=False,
        ),
        run_fk(),
        sa.Column("rows", sa.Integer, nullable=False),  # predictions written for the file
        sa.Column("predicted_at", UTCDateTime, nullable=False),
        # False while a file is written a batch per transaction (SQLite): `rows` of it are
        # stored, and the next run goes on from there.
        sa.Column("complete", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    return predictions, marks


def build_segments(
    metadata: sa.MetaData, run_fk: Callable[..., sa.Column]
) -> tuple[sa.Table, sa.Table]:
    """(prediction_segments, prediction_cells), in `metadata`."""
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    segments = sa.Table(
        "prediction_segments",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        run_fk(),
        # When its rows became visible: set just before the commit that stored them.
        sa.Column("created_at", UTCDateTime, nullable=False),
        # Its rows' ids lie in [first_id, last_id] (other rows may too: check segment_id).
        sa.Column("first_id", big_id, nullable=False),
        sa.Column("last_id", big_id, nullable=False),
        sa.Column("first_row", sa.Integer, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        # A binary classifier's classes as text, in the model's order: a row's {class: p} is
        # {classes[0]: 1 - probability, classes[1]: probability}. NULL otherwise.
        sa.Column("classes", sa.JSON),
    )
    sa.Index("ix_prediction_segments_created_at_id", segments.c.created_at, segments.c.id)
    cells = sa.Table(
        "prediction_cells",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "segment_id",
            sa.Integer,
            sa.ForeignKey("prediction_segments.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("day", UTCDateTime),  # the UTC day of the rows' event time; NULL: none
        sa.Column("label", sa.Text),
        sa.Column("bin", sa.Integer),  # the histogram bin of P(positive); NULL: none
        sa.Column("n", sa.Integer, nullable=False),
        sa.Column("total", sa.Float),  # sum of the numeric predictions
        sa.Column("squares", sa.Float),
    )
    return segments, cells


def _indexes(predictions: sa.Table) -> None:
    """The secondary indexes of `predictions`."""
    # Keyset paging, newest first, of the other sources than the schedule: over them all, by
    # source and by model version (scheduled rows are paged through their segments); the label
    # join (the predictions of an id, every source).
    sa.Index(
        "ix_predictions_created_at_id",
        predictions.c.created_at,
        predictions.c.id,
        postgresql_where=sa.text(NOT_SCHEDULED),
        sqlite_where=sa.text(NOT_SCHEDULED),
    )
    sa.Index(
        "ix_predictions_source_created_at_id",
        predictions.c.source,
        predictions.c.created_at,
        predictions.c.id,
        postgresql_where=sa.text(NOT_SCHEDULED),
        sqlite_where=sa.text(NOT_SCHEDULED),
    )
    sa.Index(
        "ix_predictions_source_model_version_created_at_id",
        predictions.c.source,
        predictions.c.model_version,
        predictions.c.created_at,
        predictions.c.id,
        postgresql_where=sa.text(NOT_SCHEDULED),
        sqlite_where=sa.text(NOT_SCHEDULED),
    )
    sa.Index(
        "ix_predictions_model_version_created_at_id",
        predictions.c.model_version,
        predictions.c.created_at,
        predictions.c.id,
        postgresql_where=sa.text(NOT_SCHEDULED),
        sqlite_where=sa.text(NOT_SCHEDULED),
    )
    # The label join looks predictions up by row key alone (it picks the latest at or before
    # the label's time itself): the time in the index was stored per row and never read.
    # No index by (file_id, row_number): no read looks a file's rows up by them, and at
    # 1,000,000 rows each index costs a COPY about 1 to 2 s on this machine (bench/README).
    sa.Index("ix_predictions_row_key", predictions.c.row_key)
    # A period by event time (the estimates' when `data.timestamp_column` is set) finds its
    # requests' rows here (a file's through its segments' cells): only the rows that have an
    # event time are in it, so a request without one pays nothing for it (migration 0019).
    sa.Index(
        "ix_predictions_model_version_event_time",
        predictions.c.model_version,
        predictions.c.event_time,
        postgresql_where=sa.text(TIMED_REQUESTS),
        sqlite_where=sa.text(TIMED_REQUESTS),
    )
