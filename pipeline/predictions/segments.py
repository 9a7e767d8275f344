"""Scheduled predictions as segments: the batches a file is predicted in (`Batch`, for a
`FileRun`), written as the narrow rows one transaction stores, the segment that says what they
share (run, file, time, a binary classifier's classes, their range of ids) and their health
counts (`prediction_cells`), counted from the batches as they are written so that prediction
health never reads the rows back (bench/README.md).

PostgreSQL gets the rows in one COPY through psycopg (each batch made CSV by pyarrow, in C), so
the server stores a batch while the next is predicted; SQLite gets the driver's executemany.
The ids a COPY takes come from the sequence in this session, rising: they lie after the value
taken before it and at most the session's last one after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import RiskwatchError
from pipeline.infra import failpoints
from pipeline.storage import tables

if TYPE_CHECKING:
    import pyarrow as pa

# The columns a scheduled row fills, in the order COPY and INSERT send them.
COLUMNS = (
    "segment_id",
    "source",
    "model_version",
    "file_id",
    "row_number",
    "row_key",
    "event_time",
    "prediction",
    "label",
    "probability",
    "probabilities",
    "labelled",
)
CellKey = tuple[datetime | None, str | None, int | None]
# A column of a batch: a list, a numpy array or an Arrow array, one value per row.
Column = Any


class PredictionsError(RiskwatchError):
    """Predictions that cannot be recorded as given (a bad source, a batch of unequal columns)."""


@dataclass(frozen=True)
class Batch:
    """The predictions of some rows of one ingested file, as columns of equal length.

    A column is a sequence, a numpy array or an Arrow array. `probabilities` holds each
    row's {class: p} as JSON text (or None); a binary classifier gives its two `classes`
    instead (in the model's order; `probability` is of the second), kept once by the segment.
    `event_times` are timezone-aware UTC (or None). `labelled`: True where the row's own file
    gave its label, else None (None for the whole batch: no row has one).
    """

    row_numbers: Column
    predictions: Column | None  # None: a classifier of text classes (see `labels`)
    labels: Column | None = None
    probability: Column | None = None
    probabilities: Column | None = None
    row_keys: Column | None = None
    event_times: Column | None = None
    classes: Sequence[str] | None = None
    labelled: Column | None = None

    def __len__(self) -> int:
        return len(self.row_numbers)


@dataclass(frozen=True)
class FileRun:
    """Who predicts which file: what every row of its batches shares (`created_at`: when the
    file began; its rows' time is when each segment of them was committed)."""

    file_id: int
    model_version: int
    run_id: str
    created_at: datetime
    # The time every segment of the file is stamped with; None (the schedule): each its own
    # commit's. A caller that records history at a known time (a test, a replay) pins it.
    stamp: datetime | None = None


def check(batch: Batch) -> None:
    """Refuse a batch whose columns are not all of its length."""
    n = len(batch.row_numbers)
    for name in (
        "predictions",
        "labels",
        "probability",
        "probabilities",
        "row_keys",
        "event_times",
        "labelled",
    ):
        values = getattr(batch, name)
        if values is not None and len(values) != n:
            raise PredictionsError(f"a batch of {n} rows has {len(values)} {name}")


@dataclass
class Written:
    """What a segment's batches wrote: rows, the first row number, classes and health cells."""

    rows: int = 0
    first_row: int | None = None
    classes: list[str] | None = None
    cells: dict[CellKey, list[float | None]] = field(default_factory=dict)

    def add(self, batch: Batch) -> None:
        if self.first_row is None and len(batch):
            self.first_row = int(first_row(batch))
        self.rows += len(batch)
        if batch.classes is not None:
            self.classes = [str(c) for c in batch.classes]
        for key, (n, total, squares) in count_cells(batch).items():
            got = self.cells.setdefault(key, [0, None, None])
            got[0] = (got[0] or 0) + n
            got[1] = _plus(got[1], total)
            got[2] = _plus(got[2], squares)


def first_row(batch: Batch) -> Any:
    """The row number of the first row of a batch (not empty)."""
    values = batch.row_numbers
    return values[0].as_py() if hasattr(values[0], "as_py") else values[0]


def _plus(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else a + b


def open_segment(conn: sa.Connection, who: FileRun) -> tuple[int, int]:
    """Insert the segment of the rows this transaction is to write (its figures filled by
    `close_segment`); (its id, an id below every one its rows will take)."""
    s = tables.prediction_segments
    segment_id = conn.execute(
        s.insert()
        .returning(s.c.id)
        .values(
            file_id=who.file_id,
            model_version=who.model_version,
            run_id=who.run_id,
            created_at=who.created_at,
            first_id=0,
            last_id=0,
            first_row=0,
            rows=0,
        )
    ).scalar_one()
    return int(segment_id), _last_id(conn, before=True)


def _last_id(conn: sa.Connection, *, before: bool) -> int:
    if conn.dialect.name == "postgresql":
        fn = "nextval" if before else "currval"
        sql = f"SELECT {fn}(pg_get_serial_sequence('predictions', 'id'))"
    else:  # SQLite: this transaction holds the write lock, its rows take the next row ids
        sql = "SELECT coalesce(max(id), 0) FROM predictions"
    return int(conn.exec_driver_sql(sql).scalar_one())


def close_segment(
    conn: sa.Connection, who: FileRun, segment_id: int, below: int, written: Written
) -> None:
    """Fill the segment's figures and cells, and its time: now, just before the commit that
    makes its rows visible (so pages newest first order them as they became visible)."""
    s, c = tables.prediction_segments, tables.prediction_cells
    if not written.rows:
        conn.execute(s.delete().where(s.c.id == segment_id))
        return
    conn.execute(
        s.update()
        .where(s.c.id == segment_id)
        .values(
            created_at=who.stamp or tables.utcnow(),
            first_id=below + 1,
            last_id=_last_id(conn, before=False),
            first_row=written.first_row,
            rows=written.rows,
            classes=written.classes,
        )
    )
    cells = [
        {
            "segment_id": segment_id,
            "day": day,
            "label": label,
            "bin": b,
            "n": int(n or 0),
            "total": total,
            "squares": squares,
        }
        for (day, label, b), (n, total, squares) in written.cells.items()
    ]
    conn.execute(c.insert(), cells)


def write_rows(
    conn: sa.Connection, who: FileRun, segment_id: int, batches: Iterable[Batch]
) -> Written:
    """Write every batch's rows, in the caller's transaction; what was written.

    On PostgreSQL one COPY takes them all: the server stores a batch while this process
    predicts the next (a COPY per batch would wait for each to be stored first).
    """
    written = Written()
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw: Any = conn.connection.driver_connection  # a psycopg.Connection, in this transaction
        sql = f"COPY predictions ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for batch in batches:
                check(batch)
                copy.write(_csv(_arrow(who, segment_id, batch)))
                written.add(batch)
                failpoints.failpoint("predict.after_batch")
        return written
    marks = ", ".join("?" if conn.dialect.name == "sqlite" else "%s" for _ in COLUMNS)
    sql = f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({marks})"
    for batch in batches:
        check(batch)
        conn.exec_driver_sql(sql, list(_tuples(conn.dialect.name, who, segment_id, batch)))
        written.add(batch)
    return written


def count_cells(batch: Batch) -> dict[CellKey, tuple[int, float | None, float | None]]:
    """The batch's rows counted by (UTC day of the event time, class, P(positive) bin), with
    the sum and sum of squares of their numeric predictions (what `storage.health` reads)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.monitor import bin_edges

    n = len(batch)
    if not n:
        return {}
    when = pa.timestamp("us", tz="UTC")
    days = (
        pa.nulls(n, when)
        if batch.event_times is None
        else pc.floor_temporal(_column(batch.event_times, when, n), unit="day")
    )
    p = _column(batch.probability, pa.float64(), n).to_numpy(zero_copy_only=False)
    p = np.asarray(p, dtype="float64")
    finite = np.isfinite(p)
    index = np.searchsorted(np.asarray(bin_edges()[1:-1]), np.where(finite, p, 0.0), "right")
    bins = pa.array(index, pa.int64(), mask=~finite)
    preds = _column(batch.predictions, pa.float64(), n)
    table = pa.table(
        {
            "day": days,
            "label": _column(batch.labels, pa.string(), n),
            "bin": bins,
            "prediction": preds,
            "square": pc.multiply(preds, preds),
        }
    )
    grouped = table.group_by(["day", "label", "bin"], use_threads=False).aggregate(
        [
            ("prediction", "count", pc.CountOptions(mode="all")),
            ("prediction", "sum"),
            ("square", "sum"),
        ]
    )
    out: dict[CellKey, tuple[int, float | None, float | None]] = {}
    for r in grouped.to_pylist():
        out[(r["day"], r["label"], r["bin"])] = (
            int(r["prediction_count"]),
            r["prediction_sum"],
            r["square_sum"],
        )
    return out


def _column(values: Any, kind: pa.DataType, n: int) -> pa.Array:
    import pyarrow as pa

    if values is None:
        return pa.nulls(n, kind)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        return values.cast(kind)
    return pa.array(values, kind, from_pandas=True)


def _csv(table: pa.Table) -> memoryview:
    """A batch as CSV for COPY (pyarrow writes it, in C; an unquoted empty field is NULL)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return memoryview(sink.getvalue())


def _arrow(who: FileRun, segment_id: int, batch: Batch) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(batch)

    def times(values: Any) -> pa.Array:
        # Arrow's CSV writer formats a zoned timestamp slowly (1.3 s per 200,000): the UTC
        # wall time is cast to text instead, with its offset.
        naive = _column(values, pa.timestamp("us", tz="UTC"), n).cast(pa.timestamp("us"))
        return pc.binary_join_element_wise(pc.cast(naive, pa.string()), "+00", "")

    return pa.table(
        {
            "segment_id": pa.repeat(segment_id, n),
            "source": pa.repeat("scheduled", n),
            "model_version": pa.repeat(who.model_version, n),
            "file_id": pa.repeat(who.file_id, n),
            "row_number": pa.array(batch.row_numbers, pa.int64()),
            "row_key": _column(batch.row_keys, pa.string(), n),
            "event_time": pa.nulls(n, pa.string())
            if batch.event_times is None
            else times(batch.event_times),
            "prediction": _column(batch.predictions, pa.float64(), n),
            "label": _column(batch.labels, pa.string(), n),
            "probability": _column(batch.probability, pa.float64(), n),
            "probabilities": _column(batch.probabilities, pa.string(), n),
            "labelled": _column(batch.labelled, pa.bool_(), n),
        }
    )


def _tuples(dialect: str, who: FileRun, segment_id: int, batch: Batch) -> Iterator[tuple]:
    """Rows for the driver's executemany; SQLite stores times as SQLAlchemy does (naive UTC)."""

    sqlite = dialect == "sqlite"

    def when(value: datetime | None) -> Any:
        return tables.driver_time(value, sqlite)

    n = len(batch)

    def given(values: Any) -> Sequence[Any]:
        if values is None:
            return [None] * n
        if hasattr(values, "to_pylist"):  # Arrow
            return list(values.to_pylist())
        return list(values.tolist()) if hasattr(values, "tolist") else list(values)

    for row_number, key, event, pred, label, p, ps, labelled in zip(
        given(batch.row_numbers),
        given(batch.row_keys),
        given(batch.event_times),
        given(batch.predictions),
        given(batch.labels),
        given(batch.probability),
        given(batch.probabilities),
        given(batch.labelled),
        strict=True,
    ):
        yield (
            segment_id,
            "scheduled",
            who.model_version,
            who.file_id,
            int(row_number),
            key,
            when(event),
            None if pred is None else float(pred),
            label,
            None if p is None else float(p),
            ps,
            True if labelled else None,
        )
