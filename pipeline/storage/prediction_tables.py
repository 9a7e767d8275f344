"""The `predictions` table and its watermark `prediction_marks` (issue 12), built into `tables`.

Every prediction riskwatch makes, whatever asked for it: the schedule (`riskwatch predict`, a
step of `run`), the API, the web page, the run's diagnostics on the test file. A scheduled
prediction's features stay where they already are, in the ingested Parquet file: the row points
at them by (file_id, row_number); the others carry their features as JSON.

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


def build(metadata: sa.MetaData, run_fk: Callable[..., sa.Column]) -> tuple[sa.Table, sa.Table]:
    """(predictions, prediction_marks), in `metadata` (called by `tables`, with its run column)."""
    # SQLite's INTEGER PRIMARY KEY is the row id itself (64-bit); PostgreSQL needs BIGINT.
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    predictions = sa.Table(
        "predictions",
        metadata,
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column("created_at", UTCDateTime, nullable=False),  # when it was predicted
        # The run that predicted it (schedule, diagnostics); NULL for the API and the web page.
        sa.Column("run_id", sa.String(32)),
        sa.Column("source", sa.String(20), nullable=False),  # scheduled, api, webapp, diagnostics
        sa.Column("model_version", sa.Integer, nullable=False),
        # Scheduled rows: ingested_files.id and the 0-based row of its Parquet file.
        sa.Column("file_id", sa.Integer),
        sa.Column("row_number", sa.Integer),
        sa.Column("features", sa.JSON),  # {column: value}; NULL when file_id says where they are
        sa.Column("row_key", sa.Text),  # data.id_columns' values, a compact JSON list: '["acme"]'
        sa.Column("event_time", UTCDateTime),  # data.timestamp_column's value, when set
        # The prediction as a number (regression, or a numeric class); NULL for a text class.
        sa.Column("prediction", sa.Float),
        sa.Column("label", sa.Text),  # the predicted class as text; NULL for regression
        sa.Column("probability", sa.Float),  # P(positive class) for binary classifiers
        sa.Column("probabilities", sa.JSON),  # {class: p} for classifiers that give them
        sa.Column("actual", sa.Float),  # the label, known at prediction time (diagnostics)
    )
    # Keyset paging, newest first, over everything, by source and by model version; the label
    # join (the predictions of an id).
    sa.Index("ix_predictions_created_at_id", predictions.c.created_at, predictions.c.id)
    # By source (and by source and version) for the other sources only: scheduled rows, most of
    # them, are found through the indexes over everything and by version, so a COPY of a file
    # maintains four indexes besides the key, not six.
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
    )
    # The label join looks predictions up by row key alone (it picks the latest at or before
    # the label's time itself): the time in the index was stored per row and never read.
    # No index by (file_id, row_number): no read looks a file's rows up by them, and at
    # 1,000,000 rows each index costs a COPY about 1 to 2 s on this machine (bench/README).
    sa.Index("ix_predictions_row_key", predictions.c.row_key)
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
    )
    return predictions, marks
