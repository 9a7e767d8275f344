"""Read a data file (CSV, Parquet, JSON lines) into a frame, or say exactly why it cannot be read.

Every part of riskwatch that reads a data file calls `read_file` (format from the suffix) or
`read_table` (format given): the same errors, the same text-column handling, everywhere. The
gate then reads a target cell of spaces alone as a missing label (`blank_labels_missing`).
"""

from __future__ import annotations

import codecs
import csv
import json
import warnings
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from pipeline.errors import DataError
from pipeline.ingest.discovery import FORMATS


def read_file(
    path: Path, text_columns: Sequence[str] = (), exact_columns: Sequence[str] = ()
) -> pd.DataFrame:
    """Read a data file, its format taken from its suffix; text columns are kept as strings
    (`read_table`: exact ones as written)."""
    fmt = FORMATS.get(path.suffix.lower())
    return read_table(path, fmt, tuple(text_columns), tuple(exact_columns))


def read_table(
    path: Path,
    fmt: str | None,
    text_columns: tuple[str, ...] = (),
    exact_columns: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Read a CSV, Parquet or JSON-lines file; raise DataError with a reason a person can act on.
    `exact_columns` (ids) hold a CSV's text as written: only an empty cell is missing there, not
    the words pandas reads as missing elsewhere (`NA`, `null`, `None`, `n/a`, ...)."""
    if fmt is None:
        raise DataError(
            f"unsupported file type {path.suffix or '(no extension)'!r}; "
            "expected .csv, .parquet, .jsonl or .ndjson"
        )
    if path.stat().st_size == 0:
        raise DataError("the file is empty (0 bytes)", error_type="empty")
    try:
        if fmt == "csv":
            frame = _read_csv(path, text_columns, exact_columns)
        elif fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = _read_json_lines(path)
    except DataError:
        raise
    except pd.errors.ParserWarning as exc:
        raise DataError(f"a row has more fields than the header: {exc}") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError("the file has no columns (empty or blank)", error_type="empty") from exc
    except UnicodeDecodeError as exc:
        # exc.start counts from the start of pandas' buffer, not of the file: find the byte.
        raise DataError(f"the file is not UTF-8 text ({_first_bad_utf8(path)})") from exc
    except (ValueError, TypeError, csv.Error, OSError) as exc:
        if fmt == "jsonl" and not isinstance(exc, OSError):
            _check_json_lines(path)  # a line that is not an object: say which
        raise DataError(f"cannot read the file as {fmt}: {str(exc).splitlines()[0][:300]}") from exc
    except Exception as exc:  # pyarrow's errors have no common base worth listing
        raise DataError(
            f"cannot read the file as {fmt}: {type(exc).__name__}: {exc}"[:400]
        ) from exc
    _check_columns(frame)
    return frame


def _read_json_lines(path: Path) -> pd.DataFrame:
    frame = pd.read_json(path, lines=True, dtype=False)
    if not all(isinstance(c, str) for c in frame.columns):  # lines that are arrays, say
        _check_json_lines(path)  # raises, naming the line
        raise DataError("the file's column names are not all text")
    return frame


def _check_columns(frame: pd.DataFrame) -> None:
    """Refuse a frame with a header and no rows, or a column named like riskwatch's own."""
    if len(frame.columns) and len(frame) == 0:
        raise DataError("the file has a header but no rows", error_type="empty")
    reserved = [c for c in frame.columns if str(c).startswith(RESERVED_PREFIX)]
    if reserved:
        raise DataError(
            f"column {reserved[0]!r} has a name riskwatch reserves for its own columns (names "
            f"starting with {RESERVED_PREFIX!r}); rename it",
            column=reserved[0],
            rows=len(frame),
        )


def _read_csv(
    path: Path, text_columns: tuple[str, ...], exact_columns: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A CSV file as a frame, after the checks of its first bytes and of its header; the
    `exact_columns` that pandas found missing values in are read again as written."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    _check_encoding(head)
    if b"\x00" in head:
        raise DataError("the file is binary, not CSV text")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the 4 KiB edge
            raise DataError(f"the file is not UTF-8 text ({_first_bad_utf8(path)})") from exc
    _check_csv_header(path)
    dtype = dict.fromkeys(text_columns, "str")
    with warnings.catch_warnings():
        # Without index_col=False a first row longer than the header silently becomes
        # an index, shifting every value; pandas warns instead of failing. Fail.
        warnings.simplefilter("error", pd.errors.ParserWarning)
        frame = pd.read_csv(path, dtype=dtype or None, encoding="utf-8", index_col=False)
        again = [c for c in exact_columns if c in frame.columns and frame[c].isna().any()]
        if again:  # an id "NA" (Namibia's code) or "null" is an id: only an empty cell is none
            raw = pd.read_csv(
                path, usecols=again, dtype=str, keep_default_na=False, na_values=[""],
                encoding="utf-8", index_col=False,
            )  # fmt: skip
            for c in again:
                frame[c] = raw[c].to_numpy()
        return frame


# riskwatch's own columns in quarantined rows (`_riskwatch_errors`, `_riskwatch_row`): a file
# bringing a column so named would clash with them.
RESERVED_PREFIX = "_riskwatch"

# Byte-order marks, longest first (UTF-32's LE mark begins with UTF-16's).
_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"),
    (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"),
    (codecs.BOM_UTF16_BE, "UTF-16"),
)


def _check_encoding(head: bytes) -> None:
    """Name a UTF-16 or UTF-32 file as such (its NUL bytes would otherwise say "binary")."""
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise DataError(
                f"the file is {name} text (it starts with a {name} byte-order mark), not UTF-8; "
                "save it as UTF-8"
            )
    pairs = head[: len(head) // 2 * 2]
    if len(pairs) >= 8 and b"\x00" in pairs:
        even, odd = pairs[0::2], pairs[1::2]
        for half in (even, odd):  # one byte of each pair NUL: ASCII text in UTF-16
            if half.count(0) == len(half) and (even if half is odd else odd).count(0) == 0:
                raise DataError(
                    "the file looks like UTF-16 text without a byte-order mark (every other "
                    "byte is NUL), not UTF-8; save it as UTF-8"
                )


def _first_bad_utf8(path: Path) -> str:
    """Where a file stops being UTF-8: its byte offset and line, and the byte."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1
    with path.open("rb") as fh:
        while block := fh.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                # The decoder may hold up to 3 bytes of the previous block: exc.start counts
                # from those.
                held = len(exc.object) - len(block)
                at = offset - held + exc.start
                line += exc.object[: exc.start].count(b"\n")
                return f"byte {at:,} (line {line:,}): {exc.object[exc.start]:#x}"
            line += block.count(b"\n")
            offset += len(block)
    return "at the end of the file: a character cut short"


def _check_json_lines(path: Path) -> None:
    """Raise a DataError naming the first line that is not a JSON object (nor blank)."""
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw)
            except ValueError as exc:
                raise DataError(
                    f"cannot read the file as jsonl: line {number:,} is not valid JSON: {exc}"
                ) from exc
            if not isinstance(value, dict):
                kind = {list: "an array", str: "a string", bool: "a boolean"}.get(
                    type(value), "a number" if isinstance(value, int | float) else "null"
                )
                raise DataError(
                    f"cannot read the file as jsonl: line {number:,} is {kind}, not a JSON object "
                    "(each line must be one "
                    "row: an object of column names to values)"
                )


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


def count_rows(path: Path, fmt: str | None) -> int:
    """The data rows of a file rejected before it was read whole, when they can be counted
    (CSV records after the header, JSON lines that are not blank, Parquet's row count); else 0."""
    try:
        if fmt == "csv":
            with path.open(encoding="utf-8", newline="") as fh:
                return max(sum(1 for _ in csv.reader(fh)) - 1, 0)
        if fmt == "jsonl":
            with path.open("rb") as fh:
                return sum(1 for line in fh if line.strip())
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
    except Exception:  # a count is a courtesy: never a new failure (not countable: 0)
        return 0
    return 0


def blank_labels_missing(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """`frame` with a target cell of spaces alone (" ", a tab) as a missing label, as an empty
    cell is: the row is inference data, not a wrongly typed label. Other text ("-", "n/a") is
    a value, checked as one."""
    if target not in frame.columns or frame[target].dtype.kind in "biufcmM":
        return frame
    column = frame[target]
    blank = column.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
    if blank.any():
        frame[target] = column.mask(blank)
    return frame
