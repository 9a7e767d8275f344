"""Recording predictions: a few at a time (the API, diagnostics), or a whole ingested file in
bounded batches with its watermark (the schedule), as segments (`segments`).

PostgreSQL: a file's predictions and its `prediction_marks` row are written in ONE
transaction: the mark is inserted first (a second writer for the same file and version waits
on its key, then fails and writes nothing), the batches follow in one COPY, the mark's row
count and `complete` last. Killed anywhere before the commit, nothing of the file is stored and
the next run predicts it again; after it, the mark says the file is done.

SQLite, where a writer holds the database's only write lock until it commits: a transaction
per batch, each storing the batch's rows, its segment and the mark's count of rows done (the
watermark advances with the rows, in the same commit), so the API's writes wait for one batch
at most, never for a file. Killed between two, the mark says how many rows are stored and the
next run goes on from the next one (`resume_row`); the last commit marks the file complete.
Either way every row is predicted exactly once per model version, and memory is one batch.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from pipeline.infra import failpoints
from pipeline.predictions import segments
from pipeline.predictions.segments import Batch, FileRun, PredictionsError, check
from pipeline.storage import db, tables, text

if TYPE_CHECKING:
    pass

SOURCES = ("scheduled", "api", "webapp", "diagnostics")


# The columns of a prediction that carries its features (`record`), in its INSERT's order.
ROW_COLUMNS = (
    "created_at",
    "run_id",
    "source",
    "model_version",
    "features",
    "row_key",
    "event_time",
    "prediction",
    "label",
    "probability",
    "probabilities",
    "actual",
)
_JSON = ("features", "probabilities")


def _unserialisable(value: object) -> object:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# json.dumps(value) with its default options, without building its C encoder on every call;
# the C encoder is CPython's, json.dumps elsewhere.
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
    ROW_COLUMNS; all get the same created_at. One statement of the driver, without
    SQLAlchemy's per-row processing (an INSERT for one row; for more, an executemany on SQLite,
    a COPY on PostgreSQL): the JSON columns as values json.dumps would write (`_json`), times
    as UTCDateTime stores them, text made storable.
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
    """The JSON text of a row's features or {class: p}: what json.dumps writes, read back.

    orjson writes it when it can say the same (a seventh of json.dumps' time, most of a
    row's): its text has no spaces, but it reads back to equal values. What it would write
    otherwise is left to json.dumps: NaN and infinities (orjson writes null for them, so any
    text with a null goes there), text that is not ASCII (json.dumps escapes it, which any
    database encoding stores), a NUL, and what orjson refuses (an integer past 64 bits, a
    lone surrogate, a key that is not text, a numpy number).
    """
    if value is None:
        return None
    try:
        fast = orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is one
        fast = None
    if fast is not None and fast.isascii() and b"null" not in fast and b"\\u0000" not in fast:
        return fast.decode()
    dumped = "".join(_ENCODE(value, 0)) if _ENCODE is not None else json.dumps(value)
    # json.dumps escapes every non-ASCII character: a NUL or a surrogate shows as an escape.
    if "\\u0000" in dumped or "\\ud" in dumped:
        dumped = json.dumps(text.storable(value))
    return dumped


def _insert_rows(conn: sa.Connection, rows: Sequence[Mapping[str, object]]) -> None:
    sqlite = conn.dialect.name == "sqlite"
    now = tables.utcnow()

    def when(value: Any) -> Any:
        if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
            raise PredictionsError(f"a prediction's time must be timezone-aware, got {value!r}")
        return tables.driver_time(value, sqlite)

    created = when(now)
    storable = text.storable
    params = [
        (
            created,
            storable(r.get("run_id")),
            r["source"],
            r["model_version"],
            _json(r.get("features")),
            storable(r.get("row_key")),
            when(r.get("event_time")),
            r.get("prediction"),
            storable(r.get("label")),
            r.get("probability"),
            _json(r.get("probabilities")),
            r.get("actual"),
        )
        for r in rows
    ]
    with db.driver_cursor(conn) as cursor:
        if len(params) == 1:  # psycopg's executemany costs twice an execute for one row
            cursor.execute(_INSERT_SQLITE if sqlite else _INSERT_PG, params[0])
        elif sqlite:
            cursor.executemany(_INSERT_SQLITE, params)
        else:
            # COPY: a third of an executemany's CPU per row here, half of it in the server.
            with cursor.copy(_COPY) as copy:
                for row in params:
                    copy.write_row(row)


def _insert(mark: str) -> str:
    marks = [f"{mark}::json" if c in _JSON and mark == "%s" else mark for c in ROW_COLUMNS]
    return f"INSERT INTO predictions ({', '.join(ROW_COLUMNS)}) VALUES ({', '.join(marks)})"


_INSERT_SQLITE, _INSERT_PG = _insert("?"), _insert("%s")
# The JSON columns' text is parsed by the server as a json value's, as the INSERT's cast.
_COPY = f"COPY predictions ({', '.join(ROW_COLUMNS)}) FROM STDIN"


def is_marked(conn: sa.Connection, file_id: int, model_version: int) -> bool:
    """Whether `model_version` has predicted file `file_id` whole (its mark is complete)."""
    m = tables.prediction_marks
    query = sa.select(m.c.rows).where(
        m.c.file_id == file_id, m.c.model_version == model_version, m.c.complete
    )
    return conn.execute(query).first() is not None


def resume_row(conn: sa.Connection, file_id: int, model_version: int) -> int:
    """The first row of file `file_id` that `model_version` has still to predict: 0, or the
    rows an unfinished file (written a batch per transaction) has stored."""
    m = tables.prediction_marks
    query = sa.select(m.c.rows).where(
        m.c.file_id == file_id, m.c.model_version == model_version, ~m.c.complete
    )
    return int(conn.execute(query).scalar() or 0)


def record_file(engine: sa.Engine, who: FileRun, batches: Iterable[Batch]) -> int:
    """Write one file's predictions, batch after batch, and its mark (see the module).

    `batches` is consumed lazily (predict a batch, write it, forget it); on SQLite they start
    at `resume_row`. Returns the rows written. A file already marked complete for this
    version is an error (the mark's key): the caller asks first.
    """
    if engine.dialect.name == "sqlite":
        return _record_per_batch(engine, who, batches)
    m = tables.prediction_marks
    with engine.begin() as conn:
        conn.execute(m.insert().values(**_mark(who, complete=False)))
        failpoints.failpoint("predict.after_mark")
        segment_id, below = segments.open_segment(conn, who)
        written = segments.write_rows(conn, who, segment_id, batches)
        segments.close_segment(conn, who, segment_id, below, written)
        conn.execute(_done(who, written.rows, complete=True))
        failpoints.failpoint("predict.before_commit")
    failpoints.failpoint("predict.after_commit")
    return written.rows


def _mark(who: FileRun, *, complete: bool) -> dict[str, Any]:
    return {
        "file_id": who.file_id,
        "model_version": who.model_version,
        "run_id": who.run_id,
        "rows": 0,
        "predicted_at": who.created_at,
        "complete": complete,
    }


def _done(who: FileRun, rows: int, *, complete: bool, before: int | None = None) -> sa.Update:
    m = tables.prediction_marks
    query = m.update().where(m.c.file_id == who.file_id, m.c.model_version == who.model_version)
    if before is not None:  # the count this writer read: another writer's rows fail it
        query = query.where(m.c.rows == before, ~m.c.complete)
    return query.values(rows=rows, complete=complete)


def _record_per_batch(engine: sa.Engine, who: FileRun, batches: Iterable[Batch]) -> int:
    """SQLite: the mark first (its key refuses a file done already), then a transaction per
    batch (rows, segment, the mark's count), then the mark complete."""
    m = tables.prediction_marks
    with engine.begin() as conn:
        _drop_abandoned(conn, who)
        done = resume_row(conn, who.file_id, who.model_version)
        if not done:  # a new file, or one marked complete: its key says so
            known = m.c.file_id == who.file_id, m.c.model_version == who.model_version
            if conn.execute(sa.select(m.c.rows).where(*known, ~m.c.complete)).first() is None:
                conn.execute(m.insert().values(**_mark(who, complete=False)))
    failpoints.failpoint("predict.after_mark")
    total = done
    for batch in batches:
        check(batch)
        if len(batch) and int(segments.first_row(batch)) != total:
            first = segments.first_row(batch)
            raise PredictionsError(f"a batch starts at row {first}, not at {total}")
        with engine.begin() as conn:
            segment_id, below = segments.open_segment(conn, who)
            written = segments.write_rows(conn, who, segment_id, [batch])
            segments.close_segment(conn, who, segment_id, below, written)
            advanced = _done(who, total + written.rows, complete=False, before=total)
            if conn.execute(advanced).rowcount != 1:
                raise PredictionsError(f"file {who.file_id} is being predicted by another writer")
        total += written.rows
        failpoints.failpoint("predict.after_batch")
    with engine.begin() as conn:
        failpoints.failpoint("predict.before_commit")
        if conn.execute(_done(who, total, complete=True, before=total)).rowcount != 1:
            raise PredictionsError(f"file {who.file_id} is being predicted by another writer")
    failpoints.failpoint("predict.after_commit")
    return total - done


def _drop_abandoned(conn: sa.Connection, who: FileRun) -> None:
    """Another version's unfinished predictions of the file (SQLite: stopped between batches,
    then another version became production): removed with their segments, cells and mark, in
    the transaction that begins this version's, so that no row of the file is predicted twice
    by the schedule; the file is predicted whole by this version."""
    m, g = tables.prediction_marks, tables.prediction_segments
    other = sa.and_(
        m.c.file_id == who.file_id, m.c.model_version != who.model_version, ~m.c.complete
    )
    versions = [v for (v,) in conn.execute(sa.select(m.c.model_version).where(other))]
    if not versions:
        return
    left = sa.select(g.c.id).where(g.c.file_id == who.file_id, g.c.model_version.in_(versions))
    p, cells = tables.predictions, tables.prediction_cells
    conn.execute(p.delete().where(p.c.segment_id.in_(left)))
    conn.execute(cells.delete().where(cells.c.segment_id.in_(left)))
    conn.execute(g.delete().where(g.c.id.in_(left)))
    conn.execute(m.delete().where(other))


def probabilities_json(classes: Sequence[object], row: Sequence[float]) -> str:
    """One row's {class: p} as compact JSON text (the classes as text, in the model's order)."""
    return json.dumps({str(c): float(p) for c, p in zip(classes, row, strict=True)})
