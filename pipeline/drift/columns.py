"""How the drift code reads a column: its kind, its values as floats, its categories as keys.

A column is anything indexable by name in a DataFrame or a mapping of name to 1-d array.
Category keys are ``str(value)``, with integral floats as ints, so codes 1 and 1.0 agree. Also
the few conversions the results need to stay JSON-safe (no NaN, no infinity). Pure computation:
numpy only; pandas is used when the caller has it loaded, never imported here.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, SupportsFloat, TypeAlias

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    # What the drift code reads: a column is a Series or a 1-d array; a table, a DataFrame or
    # a mapping of name to column. (pandas is untyped here: mypy sees its part as Any.)
    Column: TypeAlias = np.ndarray | pd.Series
    Table: TypeAlias = pd.DataFrame | Mapping[str, Column]

NUMERIC = "numeric"
CATEGORICAL = "categorical"
KINDS = (NUMERIC, CATEGORICAL)


def frame_names(frame: Table) -> dict[str, Any]:
    """Column names as strings, mapped to the keys the frame uses (a DataFrame's: any type)."""
    keys = list(frame.columns) if hasattr(frame, "columns") else list(frame.keys())
    return {str(key): key for key in keys}


def infer_kind(column: Column) -> str:
    """Numeric for integer and float dtypes; categorical for anything else, booleans too."""
    dtype = getattr(column, "dtype", None)
    if dtype is None:
        dtype = np.asarray(column).dtype
    return NUMERIC if getattr(dtype, "kind", "O") in "iuf" else CATEGORICAL


def as_float(column: Column, problem: str) -> np.ndarray:
    """The column as float64, missing values as NaN; `problem` starts the error message."""
    try:
        if hasattr(column, "to_numpy"):
            return np.asarray(column.to_numpy(dtype=np.float64, na_value=np.nan))
        return np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{problem} holds non-numeric values") from exc


def sorted_finite(values: np.ndarray) -> tuple[np.ndarray, int]:
    """(the finite values sorted, the missing count) of a float column, in one sort.

    numpy sorts -inf first, then the finite values, +inf, and NaN last, and `searchsorted`
    knows that order: the finite values are a slice of the sorted copy, with no mask, no
    boolean-indexed copy and no separate passes for NaN and infinity.
    """
    x = np.sort(values)
    lo = int(np.searchsorted(x, -np.inf, side="right"))
    hi = int(np.searchsorted(x, np.inf, side="left"))
    n_missing = len(x) - int(np.searchsorted(x, np.inf, side="right"))
    return x[lo:hi], n_missing


def mean_std(x: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (ddof=1; 0.0 for one value) of a non-empty float array.

    One subtraction and one fused multiply-add pass (`einsum`, no BLAS threads): a third
    faster than ``x.std()``, which squares into a temporary and sums it again.
    """
    n = len(x)
    mean = float(np.add.reduce(x)) / n
    if n < 2:
        return mean, 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowed spread is inf or NaN
        d = x - mean
        return mean, math.sqrt(float(np.einsum("i,i->", d, d)) / (n - 1))


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def category_key(value: object) -> str:
    """The category a value counts under: ``str(value)``, integral floats as ints."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, np.integer):
        return str(int(value))
    return str(value)


def category_counts(column: Column) -> tuple[list[str], np.ndarray, int]:
    """Return (categories, counts, missing count) of a column; categories as strings."""
    total = len(column)
    pandas = sys.modules.get("pandas")  # used when the caller has it loaded, never imported here
    if pandas is not None and not hasattr(column, "value_counts"):
        arr = np.asarray(column)
        if arr.dtype.kind == "O":  # Python objects: pandas counts them 4x faster than a Counter
            column = pandas.Series(arr, copy=False)
    if hasattr(column, "value_counts"):  # pandas: hash-based, no sort of the strings
        counted = column.value_counts(dropna=True, sort=False)
        pairs: Iterable[tuple[object, int]] = zip(
            counted.index.tolist(), counted.to_numpy().tolist(), strict=True
        )
    else:
        arr = np.asarray(column)
        if arr.dtype.kind == "O":
            pairs = Counter(v for v in arr.tolist() if not _is_missing(v)).items()
        else:
            if arr.dtype.kind in "fc":
                arr = arr[~np.isnan(arr)]
            uniq, cnt = np.unique(arr, return_counts=True)
            pairs = zip(uniq.tolist(), cnt.tolist(), strict=True)
    merged: dict[str, int] = {}
    for value, count in pairs:
        if count:
            key = category_key(value)
            merged[key] = merged.get(key, 0) + int(count)
    counts = np.fromiter(merged.values(), dtype=np.int64, count=len(merged))
    return list(merged), counts, total - int(counts.sum())


def finite_or_none(value: SupportsFloat | None) -> float | None:
    """A float, or None for a missing, NaN or infinite value (JSON has neither)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def share_of(part: int, whole: int) -> float | None:
    """part / whole, or None when there is no whole."""
    return part / whole if whole else None


def json_safe(value: Any) -> Any:
    """Plain Python values (numpy scalars converted, non-finite floats as None), recursively."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return finite_or_none(value)
    return value
