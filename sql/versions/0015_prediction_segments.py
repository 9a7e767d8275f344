"""scheduled predictions by segment: narrow rows, time and health counts kept once per segment

A scheduled prediction's run, time and (binary classifier) classes move to its
`prediction_segments` row (with its file and range of ids); its health counts to
`prediction_cells`; the indexes by time become partial (`source <> 'scheduled'`): pages find
scheduled rows through their segments. The rows already stored get a segment per (file,
version, run, time) they were written with, and their cells counted from them; their own
columns stay as they were (readers take the segment's).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = sa.DateTime(timezone=True)
NOT_SCHEDULED = sa.text("source <> 'scheduled'")
TIME_INDEXES = {
    "ix_predictions_created_at_id": ["created_at", "id"],
    "ix_predictions_model_version_created_at_id": ["model_version", "created_at", "id"],
}
# Dropped around SQLite's copy of the table (a batch operation), so that none loses its WHERE.
OTHER_INDEXES = {
    "ix_predictions_source_created_at_id": (["source", "created_at", "id"], NOT_SCHEDULED),
    "ix_predictions_source_model_version_created_at_id": (
        ["source", "model_version", "created_at", "id"],
        NOT_SCHEDULED,
    ),
    "ix_predictions_row_key": (["row_key"], None),
}


def _indexes(time_where: sa.TextClause | None) -> None:
    for name, columns in TIME_INDEXES.items():
        _index(name, columns, time_where)
    for name, (columns, where) in OTHER_INDEXES.items():
        _index(name, columns, where)


def _index(name: str, columns: list[str], where: sa.TextClause | None) -> None:
    extra = {} if where is None else {"postgresql_where": where, "sqlite_where": where}
    op.create_index(name, "predictions", columns, **extra)


def _drop_indexes() -> None:
    for name in [*TIME_INDEXES, *OTHER_INDEXES]:
        op.drop_index(name, "predictions")


# The histogram's inner edges (pipeline.monitor.health.bin_edges): P(positive) < 0.1 is bin 0.
EDGES = [round(i / 10, 10) for i in range(1, 10)]


def _bin() -> str:
    whens = " ".join(f"WHEN probability < {edge} THEN {i}" for i, edge in enumerate(EDGES))
    return f"CASE WHEN probability IS NULL THEN NULL {whens} ELSE {len(EDGES)} END"


def _day(postgres: bool) -> str:
    """The UTC midnight of event_time, as the column type stores it."""
    if postgres:
        return "date_trunc('day', event_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return "substr(event_time, 1, 10) || ' 00:00:00.000000'"


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _drop_indexes()
    with op.batch_alter_table("predictions") as batch:
        batch.add_column(sa.Column("segment_id", sa.Integer()))
        batch.alter_column("created_at", existing_type=WHEN, nullable=True)
    _indexes(NOT_SCHEDULED)
    with op.batch_alter_table("prediction_marks") as batch:
        batch.add_column(
            sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_table(
        "prediction_segments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("file_id", sa.Integer(), sa.ForeignKey("ingested_files.id"), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(32), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("first_id", BIG_ID, nullable=False),
        sa.Column("last_id", BIG_ID, nullable=False),
        sa.Column("first_row", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("classes", sa.JSON()),
    )
    op.create_index("ix_prediction_segments_run_id", "prediction_segments", ["run_id"])
    op.create_index(
        "ix_prediction_segments_created_at_id", "prediction_segments", ["created_at", "id"]
    )
    op.create_table(
        "prediction_cells",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "segment_id", sa.Integer(), sa.ForeignKey("prediction_segments.id"), nullable=False
        ),
        sa.Column("day", WHEN),
        sa.Column("label", sa.Text()),
        sa.Column("bin", sa.Integer()),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float()),
        sa.Column("squares", sa.Float()),
    )
    op.create_index("ix_prediction_cells_segment_id", "prediction_cells", ["segment_id"])
    _segment_stored_rows(postgres)


def _segment_stored_rows(postgres: bool) -> None:
    """A segment for each (file, version, run, time) of the scheduled rows stored, its rows
    pointed at it, and their health counted into its cells."""
    op.execute(
        "INSERT INTO prediction_segments (file_id, model_version, run_id, created_at, "
        "first_id, last_id, first_row, rows) "
        "SELECT file_id, model_version, run_id, created_at, min(id), max(id), "
        "min(row_number), count(*) FROM predictions WHERE source = 'scheduled' "
        "GROUP BY file_id, model_version, run_id, created_at ORDER BY min(id)"
    )
    op.execute(
        "UPDATE predictions SET segment_id = s.id FROM prediction_segments s "
        "WHERE predictions.source = 'scheduled' AND s.file_id = predictions.file_id "
        "AND s.model_version = predictions.model_version AND s.run_id = predictions.run_id "
        "AND s.created_at = predictions.created_at"
    )
    day = _day(postgres)
    op.execute(
        "INSERT INTO prediction_cells (segment_id, day, label, bin, n, total, squares) "
        f"SELECT segment_id, CASE WHEN event_time IS NULL THEN NULL ELSE {day} END, label, "
        f"{_bin()}, count(*), sum(prediction), sum(prediction * prediction) "
        "FROM predictions WHERE segment_id IS NOT NULL "
        f"GROUP BY segment_id, CASE WHEN event_time IS NULL THEN NULL ELSE {day} END, label, "
        f"{_bin()}"
    )


def downgrade() -> None:
    # A file written a batch per transaction and not finished: the old schema has no way to
    # say so, its rows go (the next run predicts it again).
    op.execute(
        "DELETE FROM predictions WHERE segment_id IN (SELECT s.id FROM prediction_segments s "
        "JOIN prediction_marks m ON m.file_id = s.file_id AND m.model_version = s.model_version "
        "WHERE NOT m.complete)"
    )
    op.execute("DELETE FROM prediction_marks WHERE NOT complete")
    # The rows written since keep their time, run and classes in their segment: put them back.
    postgres = op.get_bind().dialect.name == "postgresql"
    first, second = (
        ("s.classes->>0", "s.classes->>1")
        if postgres
        else ("json_extract(s.classes, '$[0]')", "json_extract(s.classes, '$[1]')")
    )
    pair = (
        f"json_build_object({first}, 1 - probability, {second}, probability)"
        if postgres
        else f"json_object({first}, 1 - probability, {second}, probability)"
    )
    op.execute(
        "UPDATE predictions SET created_at = s.created_at, run_id = s.run_id, "
        f"probabilities = CASE WHEN predictions.probabilities IS NULL AND s.classes IS NOT NULL "
        f"AND probability IS NOT NULL THEN {pair} ELSE predictions.probabilities END "
        "FROM prediction_segments s WHERE s.id = predictions.segment_id"
    )
    op.drop_table("prediction_cells")
    op.drop_table("prediction_segments")
    with op.batch_alter_table("prediction_marks") as batch:
        batch.drop_column("complete")
    _drop_indexes()
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("segment_id")
        batch.alter_column("created_at", existing_type=WHEN, nullable=False)
    _indexes(None)
