"""What the predict and past-predictions pages read besides the predictions themselves (issue
13): the data contract a model version was trained under, and the labels that arrived for the
predictions of one page, found by their row keys (indexed), never by scanning the labels.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from pipeline.storage import label_tables, tables


def contract_text(conn: sa.Connection, version: int) -> str | None:
    """The TOML text of the contract model `version` was trained under (None: none recorded)."""
    m, c = tables.model_versions, tables.contracts
    query = (
        sa.select(c.c.text)
        .select_from(m.join(c, c.c.version == m.c.contract_version))
        .where(m.c.version == version)
    )
    return conn.execute(query).scalar()


def joined_labels(conn: sa.Connection, keyed: Iterable[tuple[int, str | None]]) -> dict[int, str]:
    """{prediction id: the label joined to it} for one page's (id, row_key) pairs: a label
    resolves a prediction of its own row key, so only those keys' labels are read."""
    wanted = {int(i): key for i, key in keyed if key is not None}
    if not wanted:
        return {}
    t = label_tables.labels
    query = sa.select(t.c.prediction_id, t.c.label).where(
        t.c.row_key.in_(sorted(set(wanted.values()))),
        t.c.prediction_id.in_(sorted(wanted)),
        t.c.status == "joined",
    )
    return {int(r.prediction_id): r.label for r in conn.execute(query)}
