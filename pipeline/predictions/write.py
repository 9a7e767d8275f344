"""Recording predictions: a few at a time (the API, diagnostics), or a whole ingested file in
bounded batches with its watermark (the schedule).

A file's predictions and its `prediction_marks` row are written in ONE transaction: the mark
is inserted first (a second writer for the same file and version waits on its key, then fails
and writes nothing), the batches follow, the mark's row count last. Killed anywhere before the
commit, nothing of the file is stored and the next run predicts it again; after it, the mark
says the file is done. So every row is predicted exactly once per model version.

PostgreSQL gets the file in one COPY through psycopg, a batch at a time (each made CSV by
pyarrow, in C), so the server stores a batch while the next is predicted; SQLite gets the
driver's executemany per batch. Memory is one batch, never the file.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import RiskwatchError
from pipeline.infra import failpoints
from pipeline.storage import db, tables, text

if TYPE_CHECKING:
    import pyarrow as pa

# The columns a batch fills, in the order COPY and INSERT send them.
COLUMNS = (
    "created_at",
    "run_id",
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
)
SOURCES = ("scheduled", "api", "webapp", "diagnostics")
# A column of a batch: a list, a numpy array or an Arrow array, one value per row.
Column = Any


class PredictionsError(RiskwatchError):
    """Predictions that cannot be recorded as given (a bad source, a batch of unequal columns)."""


@dataclass(frozen=True)
class Batch:
    """The predictions of some rows of one ingested file, as columns of equal length.

    A column is a sequence, a numpy array or an Arrow array. `probabilities` holds each
    row's {class: p} as JSON text (or None); `event_times` are timezone-aware UTC (or None).
    """

    row_numbers: Column
    predictions: Column | None  # None: a classifier of text classes (see `labels`)
    labels: Column | None = None
    probability: Column | None = None
    probabilities: Column | None = None
    row_keys: Column | None = None
    event_times: Column | None = None

    def __len__(self) -> int:
        return len(self.row_numbers)


@dataclass(frozen=True)
class FileRun:
    """Who predicts which file: the constant columns of every row of its batches."""

    file_id: int
    model_version: int
    run_id: str
    created_at: datetime


# The columns of a prediction that carries its features (`record`), in its INSERT's order: the
# features where a scheduled one has its file and row.
ROW_COLUMNS = (*COLUMNS[:4], "features", *COLUMNS[6:], "actual")
_JSON = ("features", "probabilities")


def _unserialisable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps(value) with its default options, without building its C encoder on every call
# (half the time of a row's features); the C encoder is CPython's, json.dumps elsewhere.
_ENCODE = (
    None
    if json.encoder.c_make_encoder is None  # type: ignore[attr-defined]
    else json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None,
        _unserialisable,
        json.encoder.encode_basestring_ascii,
        None,
        ": ",
        ", ",
        False,
        False,
        True,
    )
)
_GIVEN = frozenset(ROW_COLUMNS[1:])


def record(where: sa.Engine | sa.Connection, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert a few predictions that carry their features (API, web page, diagnostics), in a
    transaction of their own (an engine) or in the caller's (a connection: the API's shared
    transaction, app.commits).

    Each row names its source, model_version and features and may give any other column of
    ROW_COLUMNS; all get the same created_at. One executemany of the driver (what SQLAlchemy's
    insert() would send, without its per-row processing): the JSON columns as SQLAlchemy
    writes them (json.dumps), times as its UTCDateTime stores them, text made storable.
    """
    if not rows:
        return
    for row in rows:
        if row.get("source") not in SOURCES:
            raise PredictionsError(f"unknown prediction source {row.get('source')!r}")
        if not row.keys() <= _GIVEN:
            raise PredictionsError(f"unknown prediction columns {sorted(row.keys() - _GIVEN)}")
    if isinstance(where, sa.Connection):
        _insert_rows(where, rows)
        return
    with where.begin() as conn:
        _insert_rows(conn, rows)


def _json(value: object) -> str | None:
    if value is None:
        return None
    dumped = "".join(_ENCODE(value, 0)) if _ENCODE is not None else json.dumps(value)
    # json.dumps escapes every non-ASCII character: a NUL or a surrogate shows as an escape.
    if "\\u0000" in dumped or "\\ud" in dumped:
        dumped = json.dumps(text.storable(value))
    return dumped


def _insert_rows(conn: sa.Connection, rows: Sequence[Mapping[str, object]]) -> None:
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    marks = [f"{mark}::json" if c in _JSON and not sqlite else mark for c in ROW_COLUMNS]
    sql = f"INSERT INTO predictions ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join(marks)})"
    now = tables.utcnow()

    def when(value: Any) -> Any:
        if value is None or not sqlite:
            return value
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise PredictionsError(f"a prediction's time must be timezone-aware, got {value!r}")
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    created = when(now)
    params = [
        (
            created,
            text.storable(r.get("run_id")),
            r["source"],
            r["model_version"],
            _json(r.get("features")),
            text.storable(r.get("row_key")),
            when(r.get("event_time")),
            r.get("prediction"),
            text.storable(r.get("label")),
            r.get("probability"),
            _json(r.get("probabilities")),
            r.get("actual"),
        )
        for r in rows
    ]
    with db.driver_cursor(conn) as cursor:
        cursor.executemany(sql, params)


def is_marked(conn: sa.Connection, file_id: int, model_version: int) -> bool:
    """Whether `model_version` has predicted file `file_id` (its mark is committed)."""
    m = tables.prediction_marks
    query = sa.select(m.c.rows).where(m.c.file_id == file_id, m.c.model_version == model_version)
    return conn.execute(query).first() is not None


def record_file(engine: sa.Engine, who: FileRun, batches: Iterable[Batch]) -> int:
    """Write one file's predictions, batch after batch, and its mark, in one transaction.

    `batches` is consumed lazily (predict a batch, write it, forget it). Returns the rows
    written. A file already marked for this version is an error: the caller asks first.
    """
    m = tables.prediction_marks
    with engine.begin() as conn:
        conn.execute(
            m.insert().values(
                file_id=who.file_id,
                model_version=who.model_version,
                run_id=who.run_id,
                rows=0,
                predicted_at=who.created_at,
            )
        )
        failpoints.failpoint("predict.after_mark")
        written = _write_batches(conn, who, batches)
        conn.execute(
            m.update()
            .where(m.c.file_id == who.file_id, m.c.model_version == who.model_version)
            .values(rows=written)
        )
        failpoints.failpoint("predict.before_commit")
    failpoints.failpoint("predict.after_commit")
    return written


def _check(batch: Batch) -> None:
    n = len(batch.row_numbers)
    for name in (
        "predictions",
        "labels",
        "probability",
        "probabilities",
        "row_keys",
        "event_times",
    ):
        values = getattr(batch, name)
        if values is not None and len(values) != n:
            raise PredictionsError(f"a batch of {n} rows has {len(values)} {name}")


def _write_batches(conn: sa.Connection, who: FileRun, batches: Iterable[Batch]) -> int:
    """Write every batch, in the caller's transaction; the rows written.

    On PostgreSQL one COPY takes the whole file: the server stores a batch while this process
    predicts the next (a COPY per batch would wait for each to be stored first).
    """
    written = 0
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        raw: Any = conn.connection.driver_connection  # a psycopg.Connection, in this transaction
        sql = f"COPY predictions ({', '.join(COLUMNS)}) FROM STDIN WITH (FORMAT csv)"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            for batch in batches:
                _check(batch)
                copy.write(_csv(_arrow(who, batch)))
                written += len(batch)
                failpoints.failpoint("predict.after_batch")
        return written
    marks = ", ".join("?" if conn.dialect.name == "sqlite" else "%s" for _ in COLUMNS)
    sql = f"INSERT INTO predictions ({', '.join(COLUMNS)}) VALUES ({marks})"
    for batch in batches:
        _check(batch)
        conn.exec_driver_sql(sql, list(_tuples(conn.dialect.name, who, batch)))
        written += len(batch)
        failpoints.failpoint("predict.after_batch")
    return written


def _csv(table: pa.Table) -> memoryview:
    """A batch as CSV for COPY (pyarrow writes it, in C; an unquoted empty field is NULL)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False))
    return memoryview(sink.getvalue())


def _arrow(who: FileRun, batch: Batch) -> pa.Table:
    import pyarrow as pa

    n = len(batch)
    when = pa.timestamp("us", tz="UTC")

    def column(values: Any, kind: pa.DataType) -> pa.Array:
        if values is None:
            return pa.nulls(n, kind)
        if isinstance(values, pa.Array | pa.ChunkedArray):
            return values.cast(kind)
        return pa.array(values, kind, from_pandas=True)

    def times(values: Any) -> pa.Array:
        # Arrow's CSV writer formats a zoned timestamp slowly (1.3 s per 200,000): the UTC
        # wall time is cast to text instead, with its offset.
        import pyarrow.compute as pc

        naive = column(values, when).cast(pa.timestamp("us"))
        return pc.binary_join_element_wise(pc.cast(naive, pa.string()), "+00", "")

    created = who.created_at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return pa.table(
        {
            "created_at": pa.repeat(created + "+00", n),
            "run_id": pa.repeat(who.run_id, n),
            "source": pa.repeat("scheduled", n),
            "model_version": pa.repeat(who.model_version, n),
            "file_id": pa.repeat(who.file_id, n),
            "row_number": pa.array(batch.row_numbers, pa.int64()),
            "row_key": column(batch.row_keys, pa.string()),
            "event_time": pa.nulls(n, pa.string())
            if batch.event_times is None
            else times(batch.event_times),
            "prediction": column(batch.predictions, pa.float64()),
            "label": column(batch.labels, pa.string()),
            "probability": column(batch.probability, pa.float64()),
            "probabilities": column(batch.probabilities, pa.string()),
        }
    )


def _tuples(dialect: str, who: FileRun, batch: Batch) -> Iterator[tuple[Any, ...]]:
    """Rows for the driver's executemany; SQLite stores times as SQLAlchemy does (naive UTC)."""

    def when(value: datetime | None) -> Any:
        if value is None or dialect != "sqlite":
            return value
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

    n = len(batch)

    def given(values: Any) -> Sequence[Any]:
        if values is None:
            return [None] * n
        if hasattr(values, "to_pylist"):  # Arrow
            return list(values.to_pylist())
        return list(values.tolist()) if hasattr(values, "tolist") else list(values)

    created = when(who.created_at)
    for row_number, key, event, pred, label, p, ps in zip(
        given(batch.row_numbers),
        given(batch.row_keys),
        given(batch.event_times),
        given(batch.predictions),
        given(batch.labels),
        given(batch.probability),
        given(batch.probabilities),
        strict=True,
    ):
        yield (
            created,
            who.run_id,
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
        )


def probabilities_json(classes: Sequence[object], row: Sequence[float]) -> str:
    """One row's {class: p} as compact JSON text (the classes as text, in the model's order)."""
    return json.dumps({str(c): float(p) for c, p in zip(classes, row, strict=True)})
