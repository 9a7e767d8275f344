"""Past predictions, newest first, a page at a time by keyset (never OFFSET): each page starts
after the (created_at, id) of the last row of the one before, found through the indexes of
`prediction_tables` (over everything, by source, by model version), so the thousandth page
costs what the first does. Every prediction comes with its features (`features`).

SQLAlchemy Core only; the features of scheduled rows are read from their Parquet files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.predictions.features import attach_features
from pipeline.predictions.params import PageQuery, Position, encode_cursor
from pipeline.storage import tables

# The columns a page shows of each prediction (features come from `attach_features`).
SHOWN = (
    "id",
    "created_at",
    "source",
    "model_version",
    "run_id",
    "file_id",
    "row_number",
    "row_key",
    "event_time",
    "prediction",
    "label",
    "probability",
    "probabilities",
    "actual",
    "features",
)


@dataclass(frozen=True)
class Page:
    """One page: its predictions (dicts, JSON-ready but for times) and the cursor of the next
    page (None on the last)."""

    predictions: list[dict[str, Any]]
    next_cursor: str | None


def _select(query: PageQuery) -> sa.Select[Any]:
    t = tables.predictions
    q = sa.select(*(t.c[name] for name in SHOWN))
    if query.source != "all":
        q = q.where(t.c.source == query.source)
    if query.model_version is not None:
        q = q.where(t.c.model_version == query.model_version)
    if query.start is not None:
        q = q.where(t.c.created_at >= query.start)
    if query.end is not None:
        q = q.where(t.c.created_at < query.end)
    if query.after is not None:
        # A row comparison: the index is entered at the position itself, even inside the
        # million rows of one file that share their created_at.
        q = q.where(
            sa.tuple_(t.c.created_at, t.c.id)
            < sa.tuple_(
                sa.literal(query.after.created_at, tables.UTCDateTime()),
                sa.literal(query.after.id, sa.BigInteger()),
            )
        )
    return q.order_by(t.c.created_at.desc(), t.c.id.desc())


def rows(conn: sa.Connection, query: PageQuery) -> tuple[list[dict[str, Any]], bool]:
    """The rows of one page (without features) and whether more follow."""
    found = [dict(r._mapping) for r in conn.execute(_select(query).limit(query.limit + 1))]
    more = len(found) > query.limit
    return found[: query.limit], more


def page(conn: sa.Connection, base: Path, query: PageQuery) -> Page:
    """One page of past predictions with their features (`base`: paths.ingested)."""
    found, more = rows(conn, query)
    attach_features(conn, base, found)
    cursor = None
    if more and found:
        last = found[-1]
        cursor = encode_cursor(Position(last["created_at"], int(last["id"])))
    return Page([shown(r) for r in found], cursor)


def every(conn: sa.Connection, base: Path, query: PageQuery) -> Iterator[dict[str, Any]]:
    """Every prediction the query matches (its limit is the batch size), with features, newest
    first: a page at a time, so memory is one page whatever the count."""
    while True:
        found, more = rows(conn, query)
        attach_features(conn, base, found)
        yield from (shown(r) for r in found)
        if not more or not found:
            return
        last = found[-1]
        query = PageQuery(
            query.start,
            query.end,
            query.source,
            query.model_version,
            query.limit,
            Position(last["created_at"], int(last["id"])),
        )


def shown(row: dict[str, Any]) -> dict[str, Any]:
    """A prediction as the API and the CLI show it: ids as a list, the file it came from."""
    out = {k: v for k, v in row.items() if k not in {"row_key", "file_id", "row_number"}}
    out["ids"] = None if row["row_key"] is None else json.loads(row["row_key"])
    out.setdefault("file", None)
    for name in ("created_at", "event_time"):
        out[name] = None if row[name] is None else row[name].isoformat()
    return out
