"""Labels written many at a time through the database driver: executemany on SQLite, COPY on
PostgreSQL. SQLAlchemy's per-row parameter processing took 15 s to insert a 200,000-row labels
file, and over a minute to update the statuses of 1,000,000 joined labels. The rows come a
column each (a dict per row costs seconds more at that size). Times go as `UTCDateTime` stores
them: naive UTC text on SQLite, aware on PostgreSQL. Text comes made storable
(`text.storable`): this module writes what it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice, repeat
from typing import Any

import sqlalchemy as sa

from pipeline.storage import tables

BATCH = 5000  # rows in one executemany

# A labels file's labels, a column each, as `insert_labels` takes them.
LABEL_COLUMNS = ("row_number", "row_key", "label", "observed_at", "received_at", "status", "reason")
LABEL_INSERT = ("run_id", "label_file_id", *LABEL_COLUMNS)
# What a join sets on a label, a column each, as `update_labels` takes them (`id`: which one).
UPDATED = (
    "status",
    "reason",
    "prediction_id",
    "model_version",
    "file_id",
    "file_row",
    "period_start",
)
TIMES = ("observed_at", "received_at", "period_start", "resolved_at")


def _rows(
    conn: sa.Connection, names: Sequence[str], columns: Mapping[str, Any], n: int
) -> Iterator[tuple[Any, ...]]:
    """The rows of `columns` in the order of `names`: a sequence of n values each, or one value
    for every row."""
    sqlite = conn.dialect.name == "sqlite"
    texts: dict[datetime, object] = {}  # most rows share their times

    def when(value: datetime | None) -> object:
        if value is None:
            return value
        text = texts.get(value)
        if text is None:  # as SQLAlchemy writes it: a year before 1000 with its zeros
            text = texts[value] = tables.driver_time(value, sqlite=True)
        return text

    def column(name: str) -> Iterable[Any]:
        values = columns[name]
        if not isinstance(values, list | tuple):
            values = repeat(values, n)
        elif len(values) != n:
            raise ValueError(f"labels column {name} has {len(values)} values, not {n}")
        return map(when, values) if sqlite and name in TIMES else values

    return zip(*(column(c) for c in names), strict=False)  # a repeat has no end


def _write(conn: sa.Connection, sql: str, rows: Iterator[tuple[Any, ...]]) -> None:
    cursor = conn.connection.cursor()
    try:
        if conn.dialect.name == "sqlite":
            while part := list(islice(rows, BATCH)):
                cursor.executemany(sql, part)
        else:  # psycopg: COPY (executemany took 30 s for 200,000 rows)
            with cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)
    finally:
        cursor.close()


def insert_labels(
    conn: sa.Connection, run_id: str, file_id: int, columns: Mapping[str, Sequence[Any]]
) -> None:
    """Insert a labels file's labels (`columns` keyed by LABEL_COLUMNS; empty: none)."""
    n = len(columns.get("row_number", ()))
    if not n:
        return
    every = {"run_id": run_id, "label_file_id": file_id, **columns}
    names = ", ".join(LABEL_INSERT)
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO labels ({names}) VALUES ({', '.join('?' * len(LABEL_INSERT))})"
    else:
        sql = f"COPY labels ({names}) FROM STDIN"
    _write(conn, sql, _rows(conn, LABEL_INSERT, every, n))


def update_labels(
    conn: sa.Connection,
    run_id: str,
    now: datetime,
    joined_file_id: int | None,
    columns: Mapping[str, Sequence[Any]],
) -> None:
    """Set what a join decided on labels (`columns`: `id` and UPDATED), the run and time that
    resolved them, and on the joined ones the ingested file that holds them."""
    n = len(columns.get("id", ()))
    if not n:
        return
    if conn.dialect.name == "sqlite":
        joined = [joined_file_id if s == "joined" else None for s in columns["status"]]
        every: dict[str, Any] = {**columns, "joined_file_id": joined}
        every |= {"resolved_run_id": run_id, "resolved_at": now}
        names = (*UPDATED, "joined_file_id", "resolved_run_id", "resolved_at")
        sets = ", ".join(f"{c} = ?" for c in names)
        _write(
            conn, f"UPDATE labels SET {sets} WHERE id = ?", _rows(conn, (*names, "id"), every, n)
        )
        return
    # PostgreSQL: the updates copied into a table of this transaction, then one UPDATE; what
    # every label gets alike (the run, the time, the joined file) goes as its parameters.
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE riskwatch_label_updates (id bigint, status varchar(20), "
        "reason text, prediction_id bigint, model_version integer, file_id integer, "
        "file_row integer, period_start timestamptz) ON COMMIT DROP"
    )
    copy = f"COPY riskwatch_label_updates (id, {', '.join(UPDATED)}) FROM STDIN"
    _write(conn, copy, _rows(conn, ("id", *UPDATED), columns, n))
    sets = ", ".join(f"{c} = u.{c}" for c in UPDATED)
    conn.exec_driver_sql(
        f"UPDATE labels AS t SET {sets}, resolved_run_id = %(run)s, resolved_at = %(now)s, "
        "joined_file_id = CASE WHEN u.status = 'joined' THEN %(file)s::integer END "
        "FROM riskwatch_label_updates AS u WHERE t.id = u.id",
        {"run": run_id, "now": now, "file": joined_file_id},
    )
    conn.exec_driver_sql("DROP TABLE riskwatch_label_updates")
