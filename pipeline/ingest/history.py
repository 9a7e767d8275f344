"""Duplicates across files (`quality.duplicates = "history"`): hashes of rows and ids, and the
check of a file's rows against what earlier files brought.

Pure computation, no I/O: the index of earlier hashes lives in the database
(`pipeline.storage.row_index`), and `ingestion` asks it about a file's hashes before calling
`flag_repeats` with the answer.

A row's hash is the 64-bit sum, over the contract's columns, of one hash per present value, salted
by the column's name: numbers as float64 bits (-0.0 as 0.0; 1, 1.0 and "1" alike), text as
SipHash-2-4 of its UTF-8 bytes under a fixed key (pandas' `hash_array`). A missing value (None,
NaN, NA) adds nothing, so a column added to the contract later, absent from earlier files, leaves
their rows' hashes as they were. An id's hash is the same over the id columns, for rows that
have every id. Hashes are stored as signed 64-bit integers (SQL's BIGINT).

With 64 bits, two different rows share a hash with a chance of about n*m / 2**64 for n rows
indexed and m checked: about 1 in 2 million for a 1,000,000-row file against 10,000,000 rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.ingest.contract_rules import Contract
from pipeline.ingest.violations import QualityResult, Violation, criticality_of

# pandas' SipHash key for text values (16 bytes). Changing it, or the mixing below, makes every
# stored hash meaningless: tests/test_history.py holds literal hashes of fixed rows.
HASH_KEY = "riskwatch/rows/1"
ROW = "row"  # the two kinds of hash the index holds
ID = "id"
EXAMPLES = 5

_M1 = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64's finaliser
_M2 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Hashes:
    """One file's hashes, one per row: of the row, and of its id (`has_id` says which rows have
    every id column; the others have no id hash)."""

    rows: np.ndarray  # int64
    ids: np.ndarray  # int64
    has_id: np.ndarray  # bool


@dataclass(frozen=True)
class Seen:
    """What the index holds of a file's hashes: each hash found, with the first file that held
    it (its ingested_files id), and those files' names."""

    rows: Mapping[int, int]
    ids: Mapping[int, int]
    names: Mapping[int, str]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on uint64 values: each input bit reaches every output bit."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def _text(values: np.ndarray, checked: bool = False) -> np.ndarray:
    """SipHash-2-4 (under HASH_KEY) of each value's text, uint64; values are str (`checked`: the
    caller knows), or become it."""
    if not checked and not all(isinstance(v, str) for v in values):
        values = np.array([v if isinstance(v, str) else str(v) for v in values], dtype=object)
    # Hashing each distinct value once pays when values repeat (categories), not for ids.
    codes, distinct = pd.factorize(values)
    if len(distinct) * 2 < len(values):
        hashed = pd.util.hash_array(np.asarray(distinct, dtype=object), hash_key=HASH_KEY)
        return np.asarray(hashed[codes], dtype=np.uint64)
    return np.asarray(pd.util.hash_array(values, hash_key=HASH_KEY, categorize=False))


def _name(column: str) -> np.uint64:
    return np.uint64(_text(np.array([column], dtype=object))[0])


def numeric_columns(contract: Contract) -> set[str]:
    """The columns hashed as numbers (as ingestion types them); the others are hashed as text."""
    return {
        rule.name
        for rule in contract.columns.values()
        if rule.kind in ("numeric", "integer") or (rule.kind == "label" and contract.numeric_label)
    }


def column_hash(series: pd.Series, name: str, numeric: bool) -> np.ndarray:
    """Each value's hash, salted by the column's name, as uint64; 0 where the value is missing."""
    if numeric:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        bits = (values + 0.0).view(np.uint64)  # + 0.0 turns -0.0 into 0.0
        hashed = _mix(bits ^ _name(name))
    else:
        missing = series.isna().to_numpy()
        values = series.to_numpy(dtype=object, na_value="")
        text = pd.api.types.is_string_dtype(series.dtype) and series.dtype != object
        hashed = _mix(_text(values, checked=text) ^ _name(name))
    hashed[missing] = 0
    return hashed


def hash_frame(frame: pd.DataFrame, contract: Contract) -> Hashes:
    """The hash of every row of `frame` over the contract's columns, and of its id."""
    numeric = numeric_columns(contract)
    each = {
        name: column_hash(frame[name], name, name in numeric)
        for name in contract.columns
        if name in frame.columns
    }
    rows = np.zeros(len(frame), dtype=np.uint64)
    for hashed in each.values():
        rows += hashed  # wraps at 2**64
    ids = [c for c in contract.id_columns if c in each]
    id_hashes = np.zeros(len(frame), dtype=np.uint64)
    for name in ids:
        id_hashes += each[name]
    has_id = frame[ids].notna().all(axis=1).to_numpy() if ids else np.zeros(len(frame), bool)
    return Hashes(rows.view(np.int64), id_hashes.view(np.int64), has_id)


def distinct(hashes: np.ndarray) -> np.ndarray:
    """The distinct values, sorted (numpy's own `unique` hashes, ten times slower here)."""
    if len(hashes) < 2:
        return np.sort(hashes)
    ordered = np.sort(hashes)
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _found(hashes: np.ndarray, seen: Mapping[int, int]) -> np.ndarray:
    if not seen:
        return np.zeros(len(hashes), dtype=bool)
    return np.isin(hashes, np.fromiter(seen, dtype=np.int64, count=len(seen)))


def _rows_of(result: QualityResult, error_type: str) -> np.ndarray:
    mask = np.zeros(result.rows_read, dtype=bool)
    for v in result.violations:
        if v.error_type == error_type:
            mask[v.rows] = True
    return mask


def _where(hashes: np.ndarray, mask: np.ndarray, seen: Seen, first: Mapping[int, int]) -> str:
    """The earlier file(s) the flagged rows repeat, e.g. "'b1.csv' (file 3) and 2 other files"."""
    files = sorted({first[int(h)] for h in distinct(hashes[mask])})
    named = f"{seen.names.get(files[0], '?')!r} (file {files[0]})"
    if len(files) > 1:
        named += f" and {len(files) - 1} other file{'s' if len(files) > 2 else ''}"
    return named


def _violation(
    error_type: str,
    column: str | None,
    mask: np.ndarray,
    examples: pd.Series,
    message: str,
    overrides: Mapping[str, str] | None,
) -> Violation:
    rows = np.nonzero(mask)[0]
    shown = tuple(repr(x)[:80] for x in examples.iloc[rows[:EXAMPLES]].tolist())
    criticality = criticality_of(error_type, overrides)
    return Violation(
        error_type, column, criticality, len(rows), f"{len(rows)} row(s): {message}", rows, shown
    )


def flag_repeats(
    result: QualityResult,
    frame: pd.DataFrame,
    contract: Contract,
    hashes: Hashes,
    seen: Seen,
    overrides: Mapping[str, str] | None = None,
) -> QualityResult:
    """Mark the rows that repeat an earlier file: `duplicate_row` for a row the index holds,
    `duplicate_id` (with `unique_ids`) for an id it holds. A row this file already flags as the
    same type (a repeat of an earlier row of the file) is not counted twice; a copied row is a
    `duplicate_row`, not also a `duplicate_id`. Returns `result`, changed in place.
    """
    if result.rejected or result.rows_read == 0:
        return result
    key = [c for c in contract.columns if c in frame.columns]
    within = _rows_of(result, "duplicate_row")
    copied = _found(hashes.rows, seen.rows) & ~within
    if copied.any():
        where = _where(hashes.rows, copied, seen, seen.rows)
        message = f"an exact copy of a row of an earlier file, first ingested from {where}"
        result.violations.append(
            _violation("duplicate_row", None, copied, frame[key[0]], message, overrides)
        )
        result.bad |= copied
    ids = [c for c in contract.id_columns if c in frame.columns]
    if not (contract.unique_ids and ids):
        return result
    reused = (
        _found(hashes.ids, seen.ids)
        & hashes.has_id
        & ~(within | copied | _rows_of(result, "duplicate_id"))
    )
    if reused.any():
        where = _where(hashes.ids, reused, seen, seen.ids)
        message = f"id {'/'.join(ids)} already used by an earlier file, first in {where}"
        result.violations.append(
            _violation("duplicate_id", ids[0], reused, frame[ids[0]], message, overrides)
        )
        result.bad |= reused
    return result


def new_entries(hashes: np.ndarray, keep: np.ndarray, seen: Mapping[int, int]) -> np.ndarray:
    """The distinct hashes of the kept rows that the index does not hold yet (int64, sorted)."""
    kept = distinct(hashes[keep])
    return kept[~_found(kept, seen)]
