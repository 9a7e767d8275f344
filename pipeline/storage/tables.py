"""The database schema as SQLAlchemy Core tables; sql/versions/ holds the migrations that build it.

A test checks that the migrated database matches these tables exactly, on SQLite and PostgreSQL.
Every table a run writes carries the run's id. Times are timezone-aware UTC.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.storage import health_tables, page_indexes, prediction_tables
from pipeline.storage.coltypes import UTCDateTime as UTCDateTime
from pipeline.storage.coltypes import driver_time as driver_time
from pipeline.storage.coltypes import utcnow as utcnow
from pipeline.storage.inbox import skipped_sources_table

# The newest migration in sql/versions/; the run refuses a database at another revision.
SCHEMA_REVISION = "0021"

metadata = sa.MetaData()


def _run_fk(nullable: bool = False) -> sa.Column:
    return sa.Column(
        "run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=nullable, index=True
    )


runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),  # uuid4 hex
    sa.Column("kind", sa.String(20), nullable=False),  # run, ingest, score, train, diagnose, report
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    # running, succeeded, noop, failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("new_files", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_ingested", sa.Integer, nullable=False, server_default="0"),
    sa.Column("files_quarantined", sa.Integer, nullable=False, server_default="0"),
    # Rows that went to quarantine: bad rows of ingested files and the rows of rejected ones.
    sa.Column("rows_quarantined", sa.Integer, nullable=False, server_default="0"),
    # The new rows the run processed, with a label and without (inference data).
    sa.Column("rows_labelled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_unlabelled", sa.Integer, nullable=False, server_default="0"),
    sa.Column("production_version", sa.Integer),  # production model when the run finished
    sa.Column("summary", sa.JSON),  # the object `riskwatch run --json` prints
    sa.Column("log", sa.Text),  # the run's log lines
)

steps = sa.Table(
    "steps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("seconds", sa.Float),
    sa.Column("status", sa.String(20), nullable=False),  # succeeded, failed, skipped
    sa.Column("detail", sa.Text),
)

# Every source file riskwatch has taken, by content: a sha256 is taken exactly once.
ingested_files = sa.Table(
    "ingested_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.Text, nullable=False),  # file name in the inbox when taken
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # ingested, quarantined
    sa.Column("reason", sa.Text),  # why it was quarantined
    sa.Column("rows", sa.Integer, nullable=False, server_default="0"),  # good rows kept
    sa.Column("rows_quarantined", sa.Integer, nullable=False, server_default="0"),
    # Good rows with a label; the others are inference data (predicted, never trained on).
    sa.Column("labelled_rows", sa.Integer, nullable=False, server_default="0"),
    sa.Column("data_path", sa.Text),  # Parquet of good rows, relative to paths.ingested
    sa.Column("quarantine_path", sa.Text),  # copy or Parquet of the bad part
    sa.Column("ingested_at", UTCDateTime, nullable=False),
    # source: a file of the inbox; labels: rows joined to labels that came later (pipeline.labels)
    sa.Column("kind", sa.String(10), nullable=False, server_default="source"),
    # The run that scored and used these rows; NULL until one finished with them.
    sa.Column("processed_run_id", sa.String(32), sa.ForeignKey("runs.id"), index=True),
)

# A cache of content hashes by (path, size, mtime) so a tick does not re-read old files.
source_hashes = sa.Table(
    "source_hashes",
    metadata,
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("mtime_ns", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
)

model_versions = sa.Table(
    "model_versions",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    _run_fk(nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("artifact", sa.Text, nullable=False),  # relative to paths.models
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("estimator", sa.Text, nullable=False),
    sa.Column("params", sa.JSON, nullable=False),
    sa.Column("features", sa.JSON, nullable=False),  # {"numeric": [...], "categorical": [...]}
    sa.Column("metric", sa.String(20), nullable=False),
    sa.Column("holdout_score", sa.Float),  # the production metric it is held to
    sa.Column("holdout_ci_low", sa.Float),  # its bootstrap interval on the holdout
    sa.Column("holdout_ci_high", sa.Float),
    sa.Column("train_rows", sa.Integer, nullable=False),
    sa.Column("holdout_rows", sa.Integer, nullable=False),
    sa.Column("training_files", sa.JSON, nullable=False),  # [{"name", "sha256", "rows"}]
    sa.Column("contract_version", sa.String(64)),  # the data contract it was trained under
    # Where holdout_score comes from: holdout, test (paths.test_data, no holdout) or cv:K
    # (K-fold cross-validation on the window, the holdout being too small); and its rows.
    sa.Column("score_source", sa.String(20)),
    sa.Column("score_rows", sa.Integer),
    sa.Column("training_window", sa.String(40)),  # training.window when it was trained
    # The settings that trained it and the DVC experiment they came from (pipeline.settings.
    # provenance); NULL for versions trained before it was recorded.
    sa.Column("provenance", sa.JSON),
)

deployments = sa.Table(
    "deployments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(nullable=True),
    sa.Column("from_version", sa.Integer),
    sa.Column("to_version", sa.Integer, nullable=False),
    sa.Column("deployed_at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),  # initial, promote, rollback, recovered
    sa.Column("reason", sa.Text, nullable=False),
)

scores = sa.Table(
    "scores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),  # production, champion, challenger
    sa.Column("dataset", sa.String(20), nullable=False),  # new, holdout, test
    sa.Column("metric", sa.String(20), nullable=False),
    sa.Column("value", sa.Float),  # NULL when undefined (one class only, say)
    sa.Column("ci_low", sa.Float),
    sa.Column("ci_high", sa.Float),
    sa.Column("n_rows", sa.Integer, nullable=False),
)

# The retrain and promote decisions, each with the evidence behind it.
decisions = sa.Table(
    "decisions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("kind", sa.String(20), nullable=False),  # retrain, promote
    sa.Column("outcome", sa.Boolean, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
)

confusion_matrices = sa.Table(
    "confusion_matrices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("dataset", sa.String(20), nullable=False),
    sa.Column("actual", sa.Text, nullable=False),
    sa.Column("predicted", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

feature_stats = sa.Table(
    "feature_stats",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("dataset", sa.String(20), nullable=False),  # new, test
    sa.Column("column_name", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("mean", sa.Float),
    sa.Column("median", sa.Float),
    sa.Column("std", sa.Float),
    sa.Column("min", sa.Float),
    sa.Column("max", sa.Float),
)

missing_values = sa.Table(
    "missing_values",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("dataset", sa.String(20), nullable=False),
    sa.Column("column_name", sa.Text, nullable=False),
    sa.Column("missing", sa.Integer, nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("share", sa.Float, nullable=False),
)

# Named diagnostics of a run: outdated_packages, library versions, ...
diagnostics = sa.Table(
    "diagnostics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("value", sa.JSON, nullable=False),
)

# Every prediction, and the watermark of scheduled ones: see `prediction_tables`.
predictions, prediction_marks = prediction_tables.build(metadata, _run_fk)
prediction_segments, prediction_cells = prediction_tables.build_segments(metadata, _run_fk)
# The partial indexes' predicate, as SQL text: a query must say it in these words (not with a
# bound parameter) for the planner to use them.
NOT_SCHEDULED = prediction_tables.NOT_SCHEDULED

reports = sa.Table(
    "reports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("path", sa.Text, nullable=False),  # relative to paths.reports
    sa.Column("pages", sa.Integer, nullable=False),
    sa.Column("size_bytes", sa.Integer, nullable=False),
)

# Files kept in the database when registry.store = "database": a model version's files under
# `models` (path "<version>/model.joblib"), reports under `reports` (the path they have under
# paths.reports). Written once, with their SHA-256; readers check it.
stored_files = sa.Table(
    "stored_files",
    metadata,
    sa.Column("area", sa.String(16), primary_key=True),  # models | reports
    sa.Column("path", sa.String(512), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("size_bytes", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

api_returns = sa.Table(
    "api_returns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("called_at", UTCDateTime, nullable=False),
    sa.Column("base_url", sa.Text, nullable=False),
    sa.Column("method", sa.String(10), nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("status_code", sa.Integer),  # NULL when the server did not answer
    sa.Column("seconds", sa.Float, nullable=False),
    sa.Column("body", sa.JSON),
    sa.Column("error", sa.Text),
)


# Data contracts, by the SHA-256 of their text: an edited contract is a new version.
contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id")),  # the run that first saw it
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

# The quality gate's verdict on each source file it checked.
quality_files = sa.Table(
    "quality_files",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("checked_at", UTCDateTime, nullable=False, index=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("contract_version", sa.String(64)),
    sa.Column("rows_read", sa.Integer, nullable=False),
    sa.Column("rows_valid", sa.Integer, nullable=False),
    sa.Column("rows_invalid", sa.Integer, nullable=False),
    sa.Column("criticality", sa.String(10)),  # highest of its issues; NULL when clean
    sa.Column("rejected", sa.Boolean, nullable=False),  # the whole file was quarantined
    sa.Column("report_path", sa.Text),  # HTML quality report, relative to paths.reports
)

# One row per (file, error type, column): counts by type, column and criticality are SQL sums.
quality_issues = sa.Table(
    "quality_issues",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column(
        "quality_file_id", sa.Integer, sa.ForeignKey("quality_files.id"), nullable=False, index=True
    ),
    sa.Column("error_type", sa.String(30), nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("criticality", sa.String(10), nullable=False),
    sa.Column("level", sa.String(10), nullable=False),  # file or row
    sa.Column("count", sa.Integer, nullable=False),  # offending rows (row level) or 1 (file)
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("examples", sa.JSON, nullable=False),  # up to 5 offending values, as text
    sa.Column("rows_sample", sa.JSON, nullable=False),  # first 20 data-row numbers (1-based)
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("quality_file_id", sa.Integer, sa.ForeignKey("quality_files.id")),
    sa.Column("sent_at", UTCDateTime, nullable=False),
    sa.Column("criticality", sa.String(10), nullable=False),
    sa.Column("target", sa.Text, nullable=False),  # scheme and host only: the URL is a secret
    sa.Column("delivered", sa.Boolean, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("payload", sa.JSON, nullable=False),
)


# Prediction-health alert events: see `health_tables`.
prediction_alerts = health_tables.build(metadata, _run_fk)

# Drift of a run's new rows against the production model's reference profile.
drift_summaries = sa.Table(
    "drift_summaries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("dataset_drift", sa.Boolean, nullable=False),
    sa.Column("drifted_share", sa.Float, nullable=False),
    sa.Column("reference_rows", sa.Integer, nullable=False),
    sa.Column("current_rows", sa.Integer, nullable=False),
    sa.Column("thresholds", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

drift_results = sa.Table(
    "drift_results",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    _run_fk(),
    sa.Column("column_name", sa.Text, nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("test", sa.String(40)),
    sa.Column("statistic", sa.Float),
    sa.Column("p_value", sa.Float),
    sa.Column("p_adjusted", sa.Float),
    sa.Column("effect_size", sa.Float),
    sa.Column("psi", sa.Float),
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("drifted", sa.Boolean, nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
)


def _hash_table(name: str) -> sa.Table:
    # SQLite's INTEGER PRIMARY KEY is the row id itself (64-bit): no second B-tree for the key.
    hash_type = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    return sa.Table(
        name,
        metadata,
        sa.Column("hash", hash_type, primary_key=True, autoincrement=False),
        # ingested_files.id, without a foreign key: PostgreSQL would run a check per hash (a
        # 1,000,000-row COPY took 28 s instead of 3); history_files, written in the same
        # transaction, holds the key.
        sa.Column("file_id", sa.Integer, nullable=False),
    )


# quality.duplicates = "history": a hash of every ingested good row and id, with the first file
# that held it (pipeline.ingest.history). No run id: the file's row has it.
history_rows = _hash_table("history_rows")
history_ids = _hash_table("history_ids")
# The ingested files those two cover; any other is indexed from its Parquet before it is used.
history_files = sa.Table(
    "history_files",
    metadata,
    sa.Column("file_id", sa.Integer, sa.ForeignKey("ingested_files.id"), primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),  # good rows of the file, indexed
    sa.Column("indexed_at", UTCDateTime, nullable=False),
)
skipped_sources = skipped_sources_table(metadata, _run_fk(), UTCDateTime)  # see `inbox`

# The indexes the web pages read through: see `page_indexes`.
page_indexes.build(metadata)
SHOWN = page_indexes.SHOWN
