"""Which ingested files a scheduled prediction has to predict, from the watermark alone.

SQL only, no pandas: `riskwatch predict` asks it first, and with nothing to do it stops there.
"""

from __future__ import annotations

import sqlalchemy as sa

from pipeline.storage import tables


def unpredicted(conn: sa.Connection, version: int, *, backfill: bool = False) -> list[sa.Row]:
    """Ingested files with good rows that no model version has predicted yet, oldest first;
    with `backfill`, those that `version` has not predicted (older versions may have). A file
    that `version` began and did not finish (SQLite, a batch per transaction) is one of them."""
    t, m = tables.ingested_files, tables.prediction_marks
    began = sa.select(m.c.file_id).where(
        m.c.file_id == t.c.id, m.c.model_version == version, ~m.c.complete
    )
    marked = sa.select(m.c.file_id).where(m.c.file_id == t.c.id, m.c.complete)
    if backfill:
        marked = marked.where(m.c.model_version == version)
    query = (
        sa.select(t.c.id, t.c.name, t.c.sha256, t.c.data_path, t.c.rows, t.c.labelled_rows)
        .where(
            t.c.status == "ingested",
            t.c.data_path.is_not(None),
            t.c.kind == "source",  # not the rows labels joined (kind 'labels'): predicted already
            sa.or_(~marked.exists(), began.exists()),
        )
        .order_by(t.c.id)
    )
    return list(conn.execute(query))
