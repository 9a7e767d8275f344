"""predictions of every source with a way back to their features, and the files' watermark

Scheduled predictions point at their features in the ingested Parquet file (file_id,
row_number) instead of copying them; `prediction_marks` says which model version predicted
which file. The rows already stored (api, diagnostics) keep their features JSON; a binary
classifier's rows get their class as `label`.

Revision ID: 0012
Revises: 0011 (re-chained in rw-unlabelled; 0010 on rw-predict)
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"  # re-chained after 0011 (unlabelled rows) in this branch
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
INDEXES = {
    "ix_predictions_created_at_id": ["created_at", "id"],
    "ix_predictions_source_created_at_id": ["source", "created_at", "id"],
    "ix_predictions_source_model_version_created_at_id": [
        "source",
        "model_version",
        "created_at",
        "id",
    ],
    "ix_predictions_model_version_created_at_id": ["model_version", "created_at", "id"],
    # The label join's lookup by id (none by file and row: no read uses one, and each index
    # is paid on every row a COPY stores).
    "ix_predictions_row_key": ["row_key"],
}
# Scheduled rows (most of them) are found by source through the index over everything.
NOT_SCHEDULED = sa.text("source <> 'scheduled'")
PARTIAL = {
    "ix_predictions_source_created_at_id": NOT_SCHEDULED,
    "ix_predictions_source_model_version_created_at_id": NOT_SCHEDULED,
}
NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
NEW_COLUMNS = {
    "file_id": sa.Integer,
    "row_number": sa.Integer,
    "row_key": sa.Text,
    "event_time": lambda: WHEN,
    "label": sa.Text,
    "probabilities": sa.JSON,
}


def _run_key() -> str:
    """The name of predictions.run_id's foreign key: PostgreSQL's own; SQLite's has none, the
    naming convention gives it one to be dropped by."""
    postgres = op.get_bind().dialect.name == "postgresql"
    return "predictions_run_id_fkey" if postgres else "fk_predictions_run_id_runs"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    # No foreign key on run_id any more (a check per row of a COPY); the mark holds the keys.
    with op.batch_alter_table("predictions", naming_convention=NAMES) as batch:
        batch.drop_index("ix_predictions_run_id")
        batch.drop_constraint(_run_key(), "foreignkey")
        batch.alter_column("id", existing_type=sa.Integer(), type_=BIG_ID)
        batch.alter_column("features", existing_type=sa.JSON(), nullable=True)
        batch.alter_column("prediction", existing_type=sa.Float(), nullable=True)
        for name, kind in NEW_COLUMNS.items():
            batch.add_column(sa.Column(name, kind()))
    if postgres:
        # A COPY takes an id per row: each session takes them 1,000 at a time (ids are unique,
        # not gap-free nor in time order across sessions; pages order by time, then id).
        op.execute("ALTER SEQUENCE predictions_id_seq AS BIGINT CACHE 1000")
    for name, columns in INDEXES.items():
        where = (
            {}
            if name not in PARTIAL
            else {"postgresql_where": PARTIAL[name], "sqlite_where": PARTIAL[name]}
        )
        op.create_index(name, "predictions", columns, **where)
    # Rows with a probability came from a binary classifier: their prediction is the class.
    op.execute(
        "UPDATE predictions SET label = CAST(CAST(prediction AS INTEGER) AS TEXT) "
        "WHERE probability IS NOT NULL AND prediction = CAST(prediction AS INTEGER)"
    )
    op.create_table(
        "prediction_marks",
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("ingested_files.id"), primary_key=True),
        sa.Column(
            "model_version",
            sa.Integer(),
            sa.ForeignKey("model_versions.version"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("predicted_at", WHEN, nullable=False),
    )
    op.create_index("ix_prediction_marks_run_id", "prediction_marks", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_prediction_marks_run_id", "prediction_marks")
    op.drop_table("prediction_marks")
    # The old schema has no way back to a Parquet row: scheduled predictions cannot stay.
    op.execute("DELETE FROM predictions WHERE features IS NULL OR prediction IS NULL")
    for name in INDEXES:
        op.drop_index(name, "predictions")
    with op.batch_alter_table("predictions") as batch:
        for name in NEW_COLUMNS:
            batch.drop_column(name)
        batch.alter_column("features", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("prediction", existing_type=sa.Float(), nullable=False)
        batch.alter_column("id", existing_type=BIG_ID, type_=sa.Integer())
        batch.create_foreign_key(_run_key(), "runs", ["run_id"], ["id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER SEQUENCE predictions_id_seq AS INTEGER CACHE 1")
    op.create_index("ix_predictions_run_id", "predictions", ["run_id"])
