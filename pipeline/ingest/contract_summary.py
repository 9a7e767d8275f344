"""What contract inference needs to know of the data, summarised one file at a time and merged.

Pure computation, no I/O. `summarise` turns one frame into a `DataSummary` (per column: rows,
missing values, the kind of values, the finite range, whether every value is whole, the distinct
values of a text column; and the target's label values), and `merge` adds summaries up. A
contract inferred from the merge of every file's summary is the contract inferred from all the
files together, without ever holding them together: the first tick of a big inbox reads each
file once, and `riskwatch contract infer` never loads all history at once.

A column with no value in a file (all missing) says nothing about its kind there. A column a file
does not have at all counts neither as rows nor as missing there, and is optional in the contract.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

# The kinds of values a column holds, as contract inference tells them apart: "none" (no value
# seen), "numeric" (numbers, not booleans), "bool" (booleans only), "text" (anything else).
VALUE_KINDS = ("none", "numeric", "bool", "text")


@dataclass(frozen=True)
class ColumnSummary:
    """One column of one file, or of several files merged."""

    rows: int = 0  # rows of the files that have this column
    missing: int = 0
    kind: str = "none"
    finite: int = 0  # finite numbers (numeric kind)
    low: float | None = None
    high: float | None = None
    whole: bool = True  # every finite number is a whole number
    # The distinct values as text (text and bool kinds; and numeric columns named categorical);
    # None when they were not listed (a numeric column; then a mix of kinds lists none).
    values: frozenset[str] | None = None
    files: int = 1  # how many files have this column

    def merged(self, other: ColumnSummary) -> ColumnSummary:
        """This summary and `other` as one: what the two files' rows together say.

        Numbers in most of the rows and text in a few (a file with a stray word, or "12,5")
        stay a numeric column: the few are then wrong_type at the gate, rather than the column
        becoming a categorical one that nothing checks.
        """
        kinds = {self.kind, other.kind} - {"none"}
        if kinds == {"numeric", "text"}:
            num, text = (self, other) if self.kind == "numeric" else (other, self)
            if num.rows - num.missing > text.rows - text.missing:
                return replace(
                    num,
                    rows=self.rows + other.rows,
                    missing=self.missing + other.missing,
                    files=self.files + other.files,
                )
        kind = kinds.pop() if len(kinds) == 1 else ("none" if not kinds else "text")
        if self.kind == "none":
            values = other.values
        elif other.kind == "none" or self.values is None or other.values is None:
            values = self.values if other.kind == "none" else None
        else:
            values = self.values | other.values
        return ColumnSummary(
            rows=self.rows + other.rows,
            missing=self.missing + other.missing,
            kind=kind,
            finite=self.finite + other.finite,
            low=_pick(min, self.low, other.low),
            high=_pick(max, self.high, other.high),
            whole=self.whole and other.whole,
            values=values,
            files=self.files + other.files,
        )


def _pick(f: Any, a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return b if a is None else a
    return float(f(a, b))


@dataclass(frozen=True)
class DataSummary:
    """Every column of one or more files (in the order first seen), and the target's labels."""

    rows: int = 0
    files: int = 0
    columns: dict[str, ColumnSummary] = field(default_factory=dict)
    labels: frozenset[Any] = frozenset()  # distinct label values, as plain Python values

    def stand_in(self) -> pd.DataFrame:
        """An empty frame with a dtype per column that says its kind, for feature inference."""
        dtypes = {"numeric": "float64", "none": "float64", "bool": "bool", "text": "str"}
        return pd.DataFrame(
            {name: pd.Series([], dtype=dtypes[c.kind]) for name, c in self.columns.items()}
        )


def summarise(
    frame: pd.DataFrame, *, categorical: Sequence[str] = (), target: str | None = None
) -> DataSummary:
    """Summarise one file's frame; the target's label values are listed when `target` is given.

    Cheap on a two-row file as on a million rows: a few array operations per column, no
    per-call pandas machinery that a thousand small files would pay a thousand times.
    """
    listed = set(categorical)
    columns: dict[str, ColumnSummary] = {}
    for name, s in frame.items():
        if pd.api.types.is_datetime64_any_dtype(s.dtype):  # times (Parquet): no feature of
            continue  # them; an extra column to the gate (data.timestamp_column has its rule)
        try:
            columns[str(name)] = _column(s, str(name) in listed)
        except TypeError:  # lists or objects (JSON lines, Parquet): values no rule describes
            continue  # left out of the contract, so the gate reports it as an extra column
    labels: frozenset[Any] = frozenset()
    if target is not None and target in frame.columns:
        labels = frozenset(plain(v) for v in _distinct(frame[target]))
    return DataSummary(len(frame), 1, columns, labels)


def _column(s: pd.Series, listed: bool) -> ColumnSummary:
    n = len(s)
    dtype = s.dtype
    numeric = isinstance(dtype, np.dtype) and dtype.kind in "iuf"
    if not numeric and not (isinstance(dtype, np.dtype) and dtype.kind == "b"):
        numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if not numeric:
        missing = int(s.array.isna().sum())
        if missing == n:
            return ColumnSummary(rows=n, missing=missing)
        kind = "bool" if pd.api.types.is_bool_dtype(dtype) else "text"
        return ColumnSummary(n, missing, kind, values=_texts(s))
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    nan = np.isnan(values)
    missing = int(nan.sum())
    if missing == n:
        return ColumnSummary(rows=n, missing=missing)
    finite = values[np.isfinite(values)]
    texts = _texts(s) if listed else None
    if not len(finite):
        return ColumnSummary(n, missing, "numeric", values=texts)
    return ColumnSummary(
        n,
        missing,
        "numeric",
        finite=len(finite),
        low=float(finite.min()),
        high=float(finite.max()),
        whole=bool((finite == np.round(finite)).all()),
        values=texts,
    )


def _distinct(s: pd.Series) -> list[Any]:
    """The distinct values present in the column, as Python values."""
    unique = s.array.unique()
    return list(unique[~unique.isna()].tolist())


def _texts(s: pd.Series) -> frozenset[str]:
    return frozenset(str(v) for v in _distinct(s))


def merge(summaries: Iterable[DataSummary]) -> DataSummary:
    """The summaries of several files as one: what all their rows together say."""
    rows = files = 0
    columns: dict[str, ColumnSummary] = {}
    labels: set[Any] = set()
    for s in summaries:
        rows += s.rows
        files += s.files
        labels |= s.labels
        for name, col in s.columns.items():
            columns[name] = columns[name].merged(col) if name in columns else col
    return DataSummary(rows, files, columns, frozenset(labels))


def plain(v: Any) -> Any:
    """A value of a pandas column (a numpy scalar or a Python one) as a plain Python value;
    a whole float is an int, so labels 1.0 and 1 are one class."""
    v = v.item() if hasattr(v, "item") else v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def evidence_rows(missing_margin: float, alpha: float) -> float:
    """Rows without a counter-example needed before a structural rule is inferred from absence.

    No missing value (or no fraction, or no negative number) among n rows makes the column
    non-nullable (or integer, or signed) only when a column that did have such values in a
    share `missing_margin` of its rows would have shown one with probability at least 1 - alpha:
    (1 - margin)^n <= alpha, so n >= ln(alpha) / ln(1 - margin). With the defaults (5%, 0.001)
    that is 135 rows; with a margin of 0, never.
    """
    if missing_margin <= 0:
        return math.inf
    if missing_margin >= 1:
        return 1
    return math.ceil(math.log(alpha) / math.log1p(-missing_margin))
