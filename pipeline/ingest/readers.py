"""Read a data file (CSV, Parquet, JSON lines) into a frame, or say exactly why it cannot be read.

Every part of riskwatch that reads a data file calls `read_file` (format from the suffix) or
`read_table` (format given): the same errors, the same text-column handling, everywhere.
"""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import pandas as pd

from pipeline.errors import DataError
from pipeline.ingest.discovery import FORMATS


def read_file(path: Path, text_columns: tuple[str, ...] | list[str] = ()) -> pd.DataFrame:
    """Read a data file, its format taken from its suffix; text columns are kept as strings."""
    return read_table(path, FORMATS.get(path.suffix.lower()), tuple(text_columns))


def read_table(path: Path, fmt: str | None, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines file; raise DataError with a reason a person can act on."""
    if fmt is None:
        raise DataError(
            f"unsupported file type {path.suffix or '(no extension)'!r}; "
            "expected .csv, .parquet, .jsonl or .ndjson"
        )
    if path.stat().st_size == 0:
        raise DataError("the file is empty (0 bytes)", error_type="empty")
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
        raise DataError("the file has no columns (empty or blank)", error_type="empty") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except (pd.errors.ParserError, csv.Error, ValueError, OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read the file as {fmt}: {str(exc).splitlines()[0][:300]}") from exc
    except Exception as exc:  # pyarrow's errors have no common base worth listing
        raise DataError(
            f"cannot read the file as {fmt}: {type(exc).__name__}: {exc}"[:400]
        ) from exc
    if len(frame.columns) and len(frame) == 0:
        raise DataError("the file has a header but no rows", error_type="empty")
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
            raise DataError(
                f"column {name!r} appears more than once in the header",
                column=name,
                error_type="duplicate_column",
            )
        seen.add(name)
