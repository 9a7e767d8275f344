"""Past predictions, newest first, a page at a time by keyset (never OFFSET): each page starts
after the (created_at, id) of the last row of the one before, so the thousandth page costs what
the first does. Every prediction comes with its features (`features`).

Two streams make a page, merged by (created_at, id): the rows of the other sources, through the
indexes of `prediction_tables` (over them all, by source, by model version), and the scheduled
rows, through their segments newest first, each walked down the primary key within its range
of ids (a scheduled row's time, run, file and {class: p} are its segment's). A row's time is
when the transaction that stored it was about to commit, so a reader polling newest first sees
rows in the order they became visible, up to the length of a commit.

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
from pipeline.storage import page_reads, tables

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


# What a scheduled row's segment says of it (its own columns hold NULL, or the same).
SEGMENT_COLUMNS = ("created_at", "run_id", "file_id")
SEGMENTS_AT_A_TIME = 8


@dataclass(frozen=True)
class Page:
    """One page: its predictions (dicts, JSON-ready but for times) and the cursor of the next
    page (None on the last)."""

    predictions: list[dict[str, Any]]
    next_cursor: str | None


def _select(query: PageQuery, floor: Position | None = None) -> sa.Select[Any]:
    """The rows of the other sources than the schedule, newest first (newer than `floor`)."""
    t = tables.predictions
    q = sa.select(*(t.c[name] for name in SHOWN))
    if query.source != "all":
        q = q.where(t.c.source == query.source)
    else:
        q = q.where(sa.text(tables.NOT_SCHEDULED))  # the partial indexes' own words
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
    if floor is not None:
        q = q.where(
            sa.tuple_(t.c.created_at, t.c.id)
            > sa.tuple_(
                sa.literal(floor.created_at, tables.UTCDateTime()),
                sa.literal(floor.id, sa.BigInteger()),
            )
        )
    return q.order_by(t.c.created_at.desc(), t.c.id.desc())


def _segments(query: PageQuery) -> sa.Select[Any]:
    """The segments whose rows a page may show, newest first."""
    s = tables.prediction_segments
    q = sa.select(s)
    if query.model_version is not None:
        q = q.where(s.c.model_version == query.model_version)
    if query.start is not None:
        q = q.where(s.c.created_at >= query.start)
    if query.end is not None:
        q = q.where(s.c.created_at < query.end)
    if query.after is not None:
        q = q.where(s.c.created_at <= sa.literal(query.after.created_at, tables.UTCDateTime()))
    return q.order_by(s.c.created_at.desc(), s.c.last_id.desc())


def _scheduled(conn: sa.Connection, query: PageQuery, wanted: int) -> list[dict[str, Any]]:
    """Up to `wanted` scheduled rows of the query, newest first: segment after segment, read
    a few segments at a time (a page rarely needs more than one or two)."""
    if conn.dialect.name == "postgresql":  # the newest few segments' rows in one statement
        found = _lateral(conn, query, wanted)
        if len(found) >= wanted:
            return found
    t, s = tables.predictions, tables.prediction_segments
    columns = [t.c[n] for n in SHOWN if n not in SEGMENT_COLUMNS]
    out: list[dict[str, Any]] = []
    last = None
    while True:
        chosen = _segments(query)
        if last is not None:  # the next few, by keyset
            chosen = chosen.where(
                sa.tuple_(s.c.created_at, s.c.last_id)
                < sa.tuple_(
                    sa.literal(last.created_at, tables.UTCDateTime()),
                    sa.literal(last.last_id, sa.BigInteger()),
                )
            )
        chunk = conn.execute(chosen.limit(SEGMENTS_AT_A_TIME)).all()
        for segment in chunk:
            q = sa.select(*columns).where(
                t.c.id.between(segment.first_id, segment.last_id), t.c.segment_id == segment.id
            )
            after = query.after
            if after is not None and segment.created_at == after.created_at:
                q = q.where(t.c.id < after.id)
            q = q.order_by(t.c.id.desc()).limit(wanted - len(out))
            out += [_of_segment(dict(r._mapping), segment) for r in conn.execute(q)]
            if len(out) >= wanted:
                return out
        if len(chunk) < SEGMENTS_AT_A_TIME:
            return out
        last = chunk[-1]


def _lateral(conn: sa.Connection, query: PageQuery, wanted: int) -> list[dict[str, Any]]:
    """The rows `_scheduled` wants from the newest SEGMENTS_AT_A_TIME segments, in one round
    trip (PostgreSQL's LATERAL: each segment walked down the key); fewer when they run out."""
    t = tables.predictions
    names = [n for n in SHOWN if n not in SEGMENT_COLUMNS]
    seg = _segments(query).limit(SEGMENTS_AT_A_TIME).subquery("s")
    top: sa.ColumnElement[Any] = seg.c.last_id
    if query.after is not None:  # in the cursor's segment, below its id: a bound of the key scan
        at = sa.literal(query.after.created_at, tables.UTCDateTime())
        below = sa.literal(query.after.id - 1, sa.BigInteger())
        top = sa.case((seg.c.created_at == at, sa.func.least(seg.c.last_id, below)), else_=top)
    inner = sa.select(*(t.c[n] for n in names)).where(
        t.c.id.between(seg.c.first_id, top), t.c.segment_id == seg.c.id
    )
    walked = inner.order_by(t.c.id.desc()).limit(wanted).lateral("p")
    shared = [seg.c[n].label(f"segment_{n}") for n in (*SEGMENT_COLUMNS, "classes")]
    statement = (
        sa.select(*shared, *(walked.c[n] for n in names))
        .select_from(seg.join(walked, sa.true()))
        .order_by(seg.c.created_at.desc(), seg.c.last_id.desc(), walked.c.id.desc())
        .limit(wanted)
    )
    out = []
    for r in conn.execute(statement):
        m = r._mapping
        segment = _Shared(*(m[f"segment_{n}"] for n in (*SEGMENT_COLUMNS, "classes")))
        out.append(_of_segment({n: m[n] for n in names}, segment))
    return out


@dataclass(frozen=True)
class _Shared:
    """What a scheduled row takes from its segment."""

    created_at: Any
    run_id: Any
    file_id: Any
    classes: Any


def _of_segment(row: dict[str, Any], segment: Any) -> dict[str, Any]:
    """A scheduled row with what its segment says of it."""
    row.update(
        created_at=segment.created_at,
        run_id=segment.run_id,
        file_id=segment.file_id,
    )
    if row["probabilities"] is None and segment.classes and row["probability"] is not None:
        p = float(row["probability"])
        first, second = segment.classes
        row["probabilities"] = {first: 1.0 - p, second: p}
    return row


def rows(conn: sa.Connection, query: PageQuery) -> tuple[list[dict[str, Any]], bool]:
    """The rows of one page (without features) and whether more follow."""
    wanted = query.limit + 1
    found: list[dict[str, Any]] = []
    floor = None
    # Scheduled rows first: cheap to read (no features JSON), and when they fill a page the
    # other sources' rows older than all of them need not be read at all.
    if query.source in ("all", "scheduled"):
        found += _scheduled(conn, query, wanted)
        if len(found) == wanted:
            floor = Position(found[-1]["created_at"], int(found[-1]["id"]))
    if query.source != "scheduled":
        found += [dict(r._mapping) for r in conn.execute(_select(query, floor).limit(wanted))]
    found.sort(key=lambda r: (r["created_at"], r["id"]), reverse=True)
    more = len(found) > query.limit
    return found[: query.limit], more


def page(conn: sa.Connection, base: Path, query: PageQuery, with_labels: bool = False) -> Page:
    """One page of past predictions with their features (`base`: paths.ingested); with
    `with_labels`, each with `realised_label`: the label that arrived for it, or None."""
    found, more = rows(conn, query)
    attach_features(conn, base, found)
    cursor = None
    if more and found:
        last = found[-1]
        cursor = encode_cursor(Position(last["created_at"], int(last["id"])))
    out = [shown(r) for r in found]
    if with_labels:
        joined = page_reads.joined_labels(conn, [(r["id"], r["row_key"]) for r in found])
        for p in out:
            p["realised_label"] = joined.get(int(p["id"]))
    return Page(out, cursor)


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
