"""row keys: an id written as an integer with a zero fraction ("42.0") is keyed as the integer

Revision ID: 0016
Revises: 0015

Keys stored before this revision kept such text as it was ('["42.0"]'), while labels and
predictions keyed from now on write '["42"]' (`pipeline.predictions.keys`): the stored keys of
`predictions` and `labels` are rewritten so that a label still finds the prediction it resolves.
Only keys holding ".0" are read, a batch at a time. The downgrade leaves the keys as they are:
a key in the integer's spelling is one the code before this revision also writes (for the
number 42).
"""

import json
import re

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

WHOLE = re.compile(r"-?[0-9]+\.0+")
BATCH = 10_000


def _whole(text: str) -> str:
    whole = text.split(".", 1)[0]
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    digits = digits.lstrip("0")
    return sign + digits if digits else "0"


def canonical(key: str) -> str:
    """The key with each such value written as its integer; the key itself otherwise."""
    try:
        values = json.loads(key)
    except ValueError:
        return key
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        return key
    fixed = [_whole(v) if WHOLE.fullmatch(v) else v for v in values]
    return key if fixed == values else json.dumps(fixed, ensure_ascii=False, separators=(",", ":"))


def _rewrite(conn: sa.Connection, name: str) -> None:
    table = sa.table(name, sa.column("id", sa.BigInteger), sa.column("row_key", sa.Text))
    after = -1
    while True:
        rows = conn.execute(
            sa.select(table.c.id, table.c.row_key)
            .where(table.c.id > after, table.c.row_key.like("%.0%"))
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        after = rows[-1].id
        changed = [
            {"_id": r.id, "_key": canonical(r.row_key)}
            for r in rows
            if canonical(r.row_key) != r.row_key
        ]
        if changed:
            conn.execute(
                table.update()
                .where(table.c.id == sa.bindparam("_id"))
                .values(row_key=sa.bindparam("_key")),
                changed,
            )


def upgrade() -> None:
    conn = op.get_bind()
    for name in ("predictions", "labels"):
        _rewrite(conn, name)


def downgrade() -> None:
    pass  # the integer's spelling is one the code before this revision writes too
