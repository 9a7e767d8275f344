"""labels: no foreign keys (a check per row of a COPY and of a join's update)

A labels file's labels are COPYed in the transaction that records the file, and a join updates
every label it resolves in one transaction. The five foreign keys of `labels` (its run, its
file, the ingested file of its row, the run that resolved it, the joined file) were checked
row by row: on PostgreSQL they made the COPY of 100,000 labels 2.4 times slower and their
update 1.9 times. As `predictions` (revision 0012), `labels` keeps their indexes, and the code
that writes both ends in one transaction keeps them consistent; riskwatch deletes no run and no
ingested file. `label_files` keeps its own (one row per file).

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# column: the table it refers to
KEYS = {
    "run_id": "runs",
    "label_file_id": "label_files",
    "file_id": "ingested_files",
    "resolved_run_id": "runs",
    "joined_file_id": "ingested_files",
}
NAMES = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _name(column: str) -> str:
    """The foreign key's name: PostgreSQL's own; SQLite's has none, the naming convention gives
    it one to be dropped by."""
    if op.get_bind().dialect.name == "postgresql":
        return f"labels_{column}_fkey"
    return f"fk_labels_{column}_{KEYS[column]}"


def upgrade() -> None:
    with op.batch_alter_table("labels", naming_convention=NAMES) as batch:
        for column in KEYS:
            batch.drop_constraint(_name(column), "foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("labels", naming_convention=NAMES) as batch:
        for column, table in KEYS.items():
            batch.create_foreign_key(_name(column), table, [column], ["id"])
