"""The numeric features of stored predictions, as matrices: what a regressor's loss model reads
to estimate a period from every prediction stored in it (`storage.estimates.period_loss_rows`),
not from one run's rows.

A request's prediction (API, web page) has its features in its JSON; a scheduled one's are in
the ingested Parquet file it points at, read a row group at a time and only the columns asked
for. A value that is not a number (missing, null, text) is NaN, as the loss model takes a
missing number; a row whose file is gone (removed by hand, no longer Parquet, or without that
row) cannot be given and is counted, never guessed.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.storage import tables

if TYPE_CHECKING:
    import numpy as np


@dataclass
class Unread:
    """The rows whose features could not be read, and why (the first reason of each file)."""

    rows: int = 0
    reasons: dict[int, str] = field(default_factory=dict)  # by file id

    def add(self, file_id: int, n: int, why: str) -> None:
        self.rows += n
        self.reasons.setdefault(file_id, why)


def numeric_chunks(
    conn: sa.Connection,
    base: Path,
    chunks: Iterable[Sequence[Any]],
    columns: Sequence[str],
    unread: Unread,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each chunk of (prediction, file_id, row_number, features) rows, (the numeric
    features of the rows that could be read, rows x `columns`, NaN where missing; their
    predictions); `base` is paths.ingested. The rows left out are counted in `unread`."""
    import numpy as np

    paths: dict[int, str | None] = {}
    for chunk in chunks:
        by_file: dict[int, list[Any]] = defaultdict(list)
        asked: list[Any] = []
        for row in chunk:
            (asked if row[1] is None else by_file[int(row[1])]).append(row)
        if asked:
            matrix = np.array([_numbers(r[3], columns) for r in asked], dtype=np.float64)
            yield matrix.reshape(len(asked), len(columns)), _floats(r[0] for r in asked)
        missing = [i for i in by_file if i not in paths]
        paths.update(_data_paths(conn, missing) if missing else {})
        for file_id, rows in by_file.items():
            path = paths.get(file_id)
            if path is None:
                unread.add(file_id, len(rows), f"ingested file {file_id} is not recorded")
                continue
            numbers = np.array([int(r[2]) for r in rows], dtype=np.int64)
            try:
                found, matrix = read_numeric(base / path, numbers, columns)
            except (OSError, ValueError) as exc:  # gone, or not Parquet any more (ArrowInvalid)
                why = getattr(exc, "strerror", None) or exc
                unread.add(file_id, len(rows), f"the ingested file {path} cannot be read: {why}")
                continue
            if not found.all():
                unread.add(file_id, int((~found).sum()), f"the ingested file {path} lacks rows")
            yield matrix[found], _floats(r[0] for r in rows)[found]


def read_numeric(
    path: Path, row_numbers: np.ndarray, columns: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(which of the rows asked for (0-based) the file has; their values, rows x `columns` as
    floats, NaN where missing or not a number, a column the file lacks all NaN), read from the
    row groups that hold them."""
    import numpy as np
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
    names = set(parquet.schema_arrow.names)
    present = [c for c in columns if c in names]
    out = np.full((len(row_numbers), len(columns)), np.nan)
    found = (row_numbers >= 0) & (row_numbers < starts[-1])
    group_of = np.searchsorted(starts, row_numbers, side="right") - 1
    for group in np.unique(group_of[found]):
        sel = found & (group_of == group)
        table = parquet.read_row_group(int(group), columns=present)
        taken = table.take(row_numbers[sel] - starts[group])
        for j, name in enumerate(columns):
            if name in names:
                out[sel, j] = _column_floats(taken.column(name))
    return found, out


def _column_floats(column: Any) -> np.ndarray:
    """An Arrow column as floats: numbers as they are, anything else (text, nulls) NaN."""
    import numpy as np
    import pandas as pd

    values = column.to_pandas()
    try:
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _numbers(features: Any, columns: Sequence[str]) -> list[float]:
    """A request's stored features ({column: value}, or its JSON text) as the loss model's
    numbers."""
    doc = json.loads(features) if isinstance(features, str) else features
    doc = doc if isinstance(doc, dict) else {}
    return [_number(doc.get(c)) for c in columns]


def _number(value: Any) -> float:
    if not isinstance(value, int | float):  # a bool too, as pandas makes it 1.0 or 0.0
        return math.nan
    try:
        return float(value)
    except OverflowError:  # an integer past a float's range
        return math.nan


def _floats(values: Iterable[Any]) -> np.ndarray:
    import numpy as np

    return np.array([math.nan if v is None else float(v) for v in values], dtype=np.float64)


def _data_paths(conn: sa.Connection, ids: Sequence[int]) -> dict[int, str | None]:
    t = tables.ingested_files
    query = sa.select(t.c.id, t.c.data_path).where(t.c.id.in_(sorted(ids)))
    found: dict[int, str | None] = dict.fromkeys(ids)
    found.update({int(r.id): r.data_path for r in conn.execute(query)})
    return found
