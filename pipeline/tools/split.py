"""The split tool: cut one data file into N files, as if they had landed in the inbox one by one.

Values are copied as written (CSV text, JSON lines, Parquet columns), never re-typed, so a part
reads exactly as the rows it took from the source.
"""

from __future__ import annotations

import csv
import itertools
import json
import numbers
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from pipeline.errors import InvalidArgument
from pipeline.infra.files import atomic_write
from pipeline.tools.formats import file_format

if TYPE_CHECKING:
    import pyarrow as pa

T = TypeVar("T")


def split_dataset(
    source: Path, outdir: Path, files: int, *, seed: int | None = None, overwrite: bool = False
) -> list[Path]:
    """Split one data file into `files` files of near-equal size, in the same format.

    Rows keep their order unless `seed` is given, which shuffles them first. The files are named
    `<stem>_part_001<suffix>`, ...; existing non-empty files of those names are refused unless
    `overwrite`. Values are copied as written (CSV text, JSON lines, Parquet columns), never
    re-typed.
    """
    source, outdir = Path(source), Path(outdir)
    fmt = file_format(source)
    if isinstance(files, bool) or not isinstance(files, numbers.Integral) or files < 1:
        raise InvalidArgument(
            f"the number of files must be a whole number of at least 1, got {files!r}"
        )
    files = int(files)
    targets = _targets(source, outdir, files, overwrite)
    if fmt == "parquet":
        table = _read_split_input(source, fmt, lambda: _parquet(source))
        parts = np.array_split(_row_order(table.num_rows, files, seed, source), files)
        for target, part in zip(targets, parts, strict=True):
            atomic_write(target, lambda tmp, part=part: _write_parquet_part(table, part, tmp))
        return targets
    # CSV and JSON lines stream through, in two passes (count, then copy), unless shuffled.
    n = _read_split_input(source, fmt, lambda: sum(1 for _ in _text_rows(source, fmt)[1]))
    order = _row_order(n, files, seed, source)
    header, rows = _text_rows(source, fmt)
    if seed is not None:
        listed = list(rows)
        rows = (listed[i] for i in order)
    with closing(rows):
        for target, part in zip(targets, np.array_split(order, files), strict=True):
            chunk = itertools.islice(rows, len(part))
            atomic_write(target, lambda tmp, chunk=chunk: _write_text_part(header, chunk, tmp))
    return targets


def _targets(source: Path, outdir: Path, files: int, overwrite: bool) -> list[Path]:
    """The output paths; refuse to write over a non-empty one unless `overwrite`."""
    width = max(3, len(str(files)))
    targets = [
        outdir / f"{source.stem}_part_{i:0{width}d}{source.suffix}" for i in range(1, 1 + files)
    ]
    if not overwrite:
        taken = [t for t in targets if t.exists() and (not t.is_file() or t.stat().st_size > 0)]
        if taken:
            raise InvalidArgument(
                f"{taken[0]} already exists ({len(taken)} of the {files} output files do); "
                "remove them or pass overwrite=True"
            )
    return targets


def _row_order(n: int, files: int, seed: int | None, source: Path) -> np.ndarray:
    if files > n:
        raise InvalidArgument(
            f"cannot split {source.name} into {files} files: it has only {n} rows"
        )
    return np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)


def _read_split_input(source: Path, fmt: str, read: Callable[[], T]) -> T:
    try:
        return read()
    except FileNotFoundError:
        raise InvalidArgument(f"cannot read {source}: no such file") from None
    except Exception as exc:  # csv.Error, UnicodeDecodeError, JSON and pyarrow errors alike
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise InvalidArgument(f"cannot read {source} as {fmt}: {reason}") from exc


def _parquet(source: Path) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(source)


def _text_rows(source: Path, fmt: str) -> tuple[list[str] | None, Generator[Any, None, None]]:
    """The header (CSV) and a generator of rows as written: CSV fields, or JSON lines.

    The rows are Any: lists of fields when there is a header, lines of text when there is
    none, which a type cannot tie to the header.
    """
    if fmt == "csv":
        with source.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise InvalidArgument("it has no header line")
        return header, _csv_rows(source)
    return None, _json_rows(source)


def _csv_rows(source: Path) -> Generator[list[str], None, None]:
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        yield from (row for row in reader if row)


def _json_rows(source: Path) -> Generator[str, None, None]:
    with source.open(encoding="utf-8", newline="") as fh:
        for i, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                if not isinstance(json.loads(line), dict):
                    raise InvalidArgument(f"line {i} is not a JSON object")
                yield line


def _write_parquet_part(table: pa.Table, part: np.ndarray, tmp: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table.take(part), tmp)


def _write_text_part(header: list[str] | None, rows: Iterator[Any], tmp: Path) -> None:
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        if header is None:
            fh.writelines(line + "\n" for line in rows)
        else:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
