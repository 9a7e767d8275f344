"""The index of ingested rows and ids (`quality.duplicates = "history"`): 64-bit hashes in
`history_rows` and `history_ids`, each with the first file that held it, and `history_files`,
the files the index covers.

A tick asks about one file's hashes in bounded batches (an `IN` list on SQLite, `= ANY(array)` on
PostgreSQL, both answered from the primary key) and adds the new ones in the transaction that
records the file (`writes.record_ingested`): a file and its entries are committed together or
not at all. Hashes are sent sorted, so SQLite's B-tree is walked in order. No pandas, no numpy:
hashes come in as Python ints (signed 64-bit).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from pipeline.storage import tables

KINDS = {"row": tables.history_rows, "id": tables.history_ids}
# Hashes per query: within SQLite's bound-variable limit (32,766 since 3.32); on PostgreSQL, small
# enough that the planner probes the primary key (against 10,000,000 rows, an array of 100,000
# made it scan the table: 3.6 s for 100,000 hashes, against 0.8 s in arrays of 2,000). Tuning
# constants, not decisions: any size gives the same answer.
SQLITE_BATCH = 30_000
POSTGRES_BATCH = 2_000
COPY_BATCH = 100_000  # hashes per write to COPY


class Entries(NamedTuple):
    """What one file adds to the index: its new row and id hashes (distinct, not yet in it) and
    how many good rows it has."""

    rows: Sequence[int]
    ids: Sequence[int]
    n_rows: int


def _batches(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def lookup(conn: sa.Connection, kind: str, hashes: Sequence[int]) -> dict[int, int]:
    """The hashes of `hashes` (sorted) that the index holds, each with its first file's id.

    Plain SQL through the driver: SQLAlchemy's expanding IN costs three times the query itself
    at 30,000 values.
    """
    table = KINDS[kind].name
    found: dict[int, int] = {}
    if conn.dialect.name == "postgresql":
        sql = f"SELECT hash, file_id FROM {table} WHERE hash = ANY(%s::bigint[])"
        for chunk in _batches(hashes, POSTGRES_BATCH):
            found.update(conn.exec_driver_sql(sql, (list(chunk),)).all())
        return found
    for chunk in _batches(hashes, SQLITE_BATCH):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT hash, file_id FROM {table} WHERE hash IN ({marks})"
        found.update(conn.exec_driver_sql(sql, tuple(chunk)).all())
    return found


def file_names(conn: sa.Connection, file_ids: Iterable[int]) -> dict[int, str]:
    """The source-file names of the ingested files `file_ids` (a handful: those repeated)."""
    ids = sorted(set(file_ids))
    if not ids:
        return {}
    t = tables.ingested_files
    query = sa.select(t.c.id, t.c.name).where(t.c.id.in_(ids))
    return dict(conn.execute(query).all())


def unindexed(conn: sa.Connection) -> list[sa.Row]:
    """Ingested files with good rows that the index does not cover yet, oldest first: every
    file ingested while `quality.duplicates` was "file" (or before this index existed)."""
    t, h = tables.ingested_files, tables.history_files
    covered = sa.select(h.c.file_id).where(h.c.file_id == t.c.id)
    query = (
        sa.select(t.c.id, t.c.name, t.c.data_path, t.c.rows)
        .where(t.c.status == "ingested", t.c.data_path.is_not(None), ~covered.exists())
        .order_by(t.c.id)
    )
    return list(conn.execute(query))


def add(conn: sa.Connection, file_id: int, entries: Entries) -> None:
    """Add a file's entries and mark the file covered, in the caller's transaction."""
    for kind, hashes in (("row", entries.rows), ("id", entries.ids)):
        if hashes:
            _insert(conn, KINDS[kind], file_id, hashes)
    conn.execute(
        tables.history_files.insert().values(
            file_id=file_id, rows=entries.n_rows, indexed_at=tables.utcnow()
        )
    )


def _insert(conn: sa.Connection, table: sa.Table, file_id: int, hashes: Sequence[int]) -> None:
    """Bulk insert: COPY on PostgreSQL with psycopg 3, the driver's executemany otherwise."""
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw: Any = conn.connection.driver_connection  # a psycopg.Connection, in this transaction
        sql = f"COPY {table.name} (hash, file_id) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for chunk in _batches(hashes, COPY_BATCH):
                copy.write("".join(f"{h}\t{file_id}\n" for h in chunk))
        return
    if conn.dialect.name == "sqlite":  # the driver's own executemany: no per-row dictionaries
        sql = f"INSERT INTO {table.name} (hash, file_id) VALUES (?, ?)"
        conn.exec_driver_sql(sql, [(h, file_id) for h in hashes])
        return
    conn.execute(table.insert(), [{"hash": h, "file_id": file_id} for h in hashes])


def size(conn: sa.Connection) -> dict[str, int]:
    """How many hashes of each kind the index holds (for logs and tests)."""
    return {
        kind: int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one())
        for kind, t in KINDS.items()
    }
