"""Ingest one source file: read it, check it can be used, keep its good rows as Parquet.

A file that cannot be read, is empty, or lacks a required column is quarantined whole: its bytes
are copied to the quarantine folder with the reason. Rows without a label are quarantined as a
Parquet file beside it. The source file is only ever read.
"""

from __future__ import annotations

import csv
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from pipeline.discover import SourceFile
from pipeline.errors import DataError
from pipeline.fsutil import atomic_copy, atomic_write

DATA_DIR = "data"
QUARANTINE_DIR = "quarantine"
REASON_COLUMN = "_riskwatch_reason"


@dataclass(frozen=True)
class Schema:
    """What an incoming file must hold."""

    target: str
    required: tuple[str, ...]  # target, ids and features
    numeric: tuple[str, ...] = ()  # columns that must be numbers
    categorical: tuple[str, ...] = ()  # columns read as text
    task: str = "classification"


@dataclass
class Ingested:
    source: SourceFile
    status: str  # ingested or quarantined
    reason: str | None = None
    rows: int = 0
    rows_quarantined: int = 0
    data_path: str | None = None  # relative to the ingested folder
    quarantine_path: str | None = None


def read_table(path: Path, fmt: str | None, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines file; raise DataError with a reason a person can act on."""
    if fmt is None:
        raise DataError(
            f"unsupported file type {path.suffix or '(no extension)'!r}; "
            "expected .csv, .parquet, .jsonl or .ndjson"
        )
    if path.stat().st_size == 0:
        raise DataError("the file is empty (0 bytes)")
    try:
        if fmt == "csv":
            with path.open("rb") as fh:
                head = fh.read(4096)
            if b"\x00" in head:
                raise DataError("the file is binary, not CSV text")
            try:
                head.decode("utf-8")
            except UnicodeDecodeError as exc:
                if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB edge
                    raise DataError(
                        f"the file is not UTF-8 text (byte {exc.start}: {head[exc.start]:#x})"
                    ) from exc
            _check_csv_header(path)
            dtype = dict.fromkeys(text_columns, "str")
            with warnings.catch_warnings():
                # Without index_col=False a first row longer than the header silently becomes
                # an index, shifting every value; pandas warns instead of failing. Fail.
                warnings.simplefilter("error", pd.errors.ParserWarning)
                frame = pd.read_csv(path, dtype=dtype or None, encoding="utf-8", index_col=False)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_json(path, lines=True, dtype=False)
    except DataError:
        raise
    except pd.errors.ParserWarning as exc:
        raise DataError(f"a row has more fields than the header: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("the file has no columns (empty or blank)") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, csv.Error, ValueError, OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read the file as {fmt}: {str(exc).splitlines()[0][:300]}") from exc
    except Exception as exc:  # pyarrow's errors have no common base worth listing
        raise DataError(
            f"cannot read the file as {fmt}: {type(exc).__name__}: {exc}"[:400]
        ) from exc
    if len(frame.columns) and len(frame) == 0:
        raise DataError("the file has a header but no rows")
    return frame


HEADER_LIMIT = 64 << 20


def _check_csv_header(path: Path) -> None:
    """Refuse a header that names a column twice (pandas would rename the second 'x.1')."""
    with path.open("rb") as fh:
        line = fh.readline(HEADER_LIMIT)
    if len(line) == HEADER_LIMIT:
        raise DataError(f"the header line is longer than {HEADER_LIMIT >> 20} MiB")
    first = line.decode("utf-8", errors="replace").rstrip("\r\n")
    try:
        names = next(csv.reader([first]), [])
    except csv.Error:  # a field beyond the csv module's limit: pandas reports the file
        return
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise DataError(f"column {name!r} appears more than once in the header")
        seen.add(name)


def check_columns(frame: pd.DataFrame, schema: Schema) -> None:
    missing = [c for c in schema.required if c not in frame.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        what = "target column" if missing == [schema.target] else "required column(s)"
        raise DataError(f"missing {what} {names}", column=missing[0])
    for col in schema.numeric:
        series = frame[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            continue
        coerced = pd.to_numeric(series, errors="coerce")
        bad = series.notna() & coerced.isna()
        if bad.any():
            row = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(
                f"column {col!r} must be numeric but holds text, e.g. {series.iloc[row]!r} "
                f"(data row {row + 1})",
                column=col,
            )
        frame[col] = coerced
    y = pd.to_numeric(frame[schema.target], errors="coerce")
    bad = frame[schema.target].notna() & y.isna()
    if bad.any():
        example = frame[schema.target][bad].iloc[0]
        what = "numbers" if schema.task == "regression" else "numeric class labels such as 0/1"
        raise DataError(
            f"target column {schema.target!r} must hold {what}, got {example!r}",
            column=schema.target,
        )
    frame[schema.target] = y


def ingest_file(source: SourceFile, ingested_dir: Path, schema: Schema) -> Ingested:
    """Read, check and store one file; never raises for bad data, quarantines it instead."""
    stem = source.sha256[:16]
    try:
        frame = read_table(source.path, source.format, schema.categorical)
        check_columns(frame, schema)
    except DataError as exc:
        reason = str(exc)
        rel = f"{QUARANTINE_DIR}/{stem}-{source.name}"
        atomic_copy(source.path, ingested_dir / rel)
        atomic_write(ingested_dir / f"{rel}.reason.txt", lambda t: t.write_text(reason + "\n"))
        return Ingested(source, "quarantined", reason=reason, quarantine_path=rel)

    no_label = frame[schema.target].isna()
    result = Ingested(source, "ingested")
    if no_label.any():
        bad = frame[no_label].copy()
        bad[REASON_COLUMN] = f"missing label in target column {schema.target!r}"
        rel = f"{QUARANTINE_DIR}/{stem}-rows.parquet"
        atomic_write(ingested_dir / rel, lambda tmp: bad.to_parquet(tmp, index=False))
        result.quarantine_path = rel
        result.rows_quarantined = int(no_label.sum())
        frame = frame[~no_label].reset_index(drop=True)
    y = frame[schema.target]
    if schema.task == "classification" and y.dtype.kind == "f" and (y == y.round()).all():
        frame[schema.target] = y.astype("int64")  # labels 0/1, not 0.0/1.0, once gaps are gone
    if frame.empty:
        result.status = "quarantined"
        result.reason = f"no row has a label in target column {schema.target!r}"
        return result
    rel = f"{DATA_DIR}/{stem}.parquet"
    atomic_write(ingested_dir / rel, lambda tmp: frame.to_parquet(tmp, index=False))
    result.rows = len(frame)
    result.data_path = rel
    return result
