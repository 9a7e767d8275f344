"""The checks of a prediction request's records (`features.records_frame`, `check_record`): each
feature's value one that the model and the databases can take, or a DataError naming the record
and the column.

Two ways to one verdict. `plain_columns` looks at a column at a time, in a few calls over all
the records, and says only whether every value is plainly good; it then hands back the columns
as the frame's blocks take them. When it cannot say so (a value of another type, a number out
of range, a missing feature), `row_values` checks the records one at a time in the model's
order, so that the error names the first bad value, as it did before there were two ways: a
good request costs a few calls per column, a bad one what it always cost.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np

from pipeline.errors import DataError

# The largest magnitude a number feature may have: what a float holds, rounded down to 1e308
# so that it is exact in decimal (the float maximum's shortest form, 1.7976931348623157e308, is
# not its value): the OpenAPI document states the same bound, and a JSON Schema validator
# reads it as the decimal number it is written as.
NUMBER_LIMIT = 1e308
INT_LIMIT = 10**308

_NUMBERS = frozenset({float, int})
_NUMBERS_OR_NULL = frozenset({float, int, type(None)})
_TEXT = frozenset({str})
_TEXT_OR_NULL = frozenset({str, type(None)})


def plain_columns(
    records: Sequence[object],
    numeric: Sequence[str],
    categorical: Sequence[str],
    nullable: bool,
) -> tuple[np.ndarray, list[list[Any]]] | None:
    """The records' features as (numbers: numeric columns x records, float64, NaN for a null;
    per categorical column its values, NaN for a null) when every record is an object holding
    every feature with a value `row_values` would let through; else None, and nothing said.

    A number column holds finite JSON numbers (not a bool) of at most NUMBER_LIMIT in size (an
    integer exactly: one near the bound is left to the row check); a category column holds
    text without a NUL or a lone surrogate, numbers as above, or booleans; null where
    `nullable` (a model that imputes).
    """
    if any(type(rec) is not dict for rec in records):
        return None
    n = len(records)
    numbers = np.empty((len(numeric), n), dtype=np.float64)
    try:
        for j, col in enumerate(numeric):
            values = [rec[col] for rec in records]  # type: ignore[index]
            kinds = set(map(type, values))
            if not kinds <= (_NUMBERS_OR_NULL if nullable else _NUMBERS):
                return None
            row = numbers[j]
            row[:] = values  # None is NaN; an integer past float's range raises
            nulls = values.count(None) if type(None) in kinds else 0
            magnitude = np.abs(row)
            # NaN only for a null (json.loads reads a NaN literal), nothing past the bound (an
            # infinity), and an integer near it checked exactly by the row check.
            limit = NUMBER_LIMIT if int not in kinds else NUMBER_LIMIT / 2
            if (magnitude <= limit).sum() != n - nulls:
                return None
        objects = []
        for col in categorical:
            values = [rec[col] for rec in records]  # type: ignore[index]
            kinds = set(map(type, values))
            if type(None) in kinds and not nullable:
                return None
            if not kinds <= _TEXT_OR_NULL and not all(
                type(v) is bool or finite_number(v)
                for v in values
                if type(v) is not str and v is not None
            ):
                return None
            text = "".join([v for v in values if type(v) is str])
            if "\x00" in text or not (text.isascii() or storable_text(text)):
                return None
            objects.append([np.nan if v is None else v for v in values])
    except (KeyError, OverflowError):
        return None
    return numbers, objects


def absent_as_null(records: Any, optional: Collection[str]) -> Any:
    """`records` with each of the `optional` features a record leaves out given as null: a
    column its contract does not require (required = false) may be absent from a record as
    from a file, and a model that imputes predicts it missing, as it predicts such a file's
    rows. A record holding them all is itself; anything but a list of objects is as it came
    (the checks refuse it). Any other feature left out is still refused, naming it."""
    if not optional or type(records) is not list:
        return records
    if all(type(rec) is not dict or all(c in rec for c in optional) for rec in records):
        return records  # the common case: no copy
    return [{**dict.fromkeys(optional), **rec} if type(rec) is dict else rec for rec in records]


def row_values(
    i: int, rec: object, columns: Sequence[str], numeric: frozenset[str], nullable: bool
) -> dict[str, Any]:
    """Record `i`'s features in the model's order, each checked: the first that is missing or
    wrong raises DataError naming it. A plain value (a finite number, ASCII text) passes at
    once; any other is checked as `checked_row` checks it."""
    if type(rec) is not dict:  # what JSON gives; anything else is checked as it comes
        return checked_row(i, rec, columns, numeric, nullable)
    try:
        row = {col: rec[col] for col in columns}
    except KeyError:  # the first feature it lacks, after any bad value before it
        return checked_row(i, rec, columns, numeric, nullable)
    for col, value in row.items():
        kind = type(value)
        if col in numeric:
            if (kind is float and -NUMBER_LIMIT <= value <= NUMBER_LIMIT) or (
                kind is int and -INT_LIMIT <= value <= INT_LIMIT
            ):
                continue
        elif kind is str and value.isascii() and "\x00" not in value:
            continue
        check_value(i, col, value, col in numeric, nullable)
    return row


def checked_row(
    i: int, rec: object, columns: Sequence[str], numeric: frozenset[str], nullable: bool
) -> dict[str, Any]:
    """Record `i`'s features, each checked in the model's order: the first that is missing or
    wrong raises DataError naming it."""
    if not isinstance(rec, dict):
        raise DataError(f"record {i} is not an object")
    row = {}
    for col in columns:
        if col not in rec:
            raise DataError(f"record {i}: feature column {col!r} is missing", column=col)
        check_value(i, col, rec[col], col in numeric, nullable)
        row[col] = rec[col]
    return row


def check_value(i: int, col: str, value: object, numeric: bool, nullable: bool) -> None:
    """DataError naming record `i` and column `col` unless `value` is one it may hold."""
    if value is None and not nullable:
        raise DataError(
            f"record {i}: feature column {col!r} is null; this model takes its "
            'features as they are (model.preprocessing = "none"): every value is needed',
            column=col,
        )
    if numeric:
        if not (value is None or finite_number(value)):
            raise DataError(
                f"record {i}: feature column {col!r} must be a finite number (at most "
                f"{NUMBER_LIMIT:g} in size) or null, got {_shown(value)}",
                column=col,
            )
    elif value is not None and not (
        isinstance(value, bool) or finite_number(value) or isinstance(value, str)
    ):
        raise DataError(
            f"record {i}: feature column {col!r} must be a string, a finite number, a "
            f"boolean or null, got {_shown(value)}",
            column=col,
        )
    elif isinstance(value, str) and not storable_text(value):
        raise DataError(
            f"record {i}: feature column {col!r} holds a NUL character or a lone "
            "surrogate, which no database stores as text",
            column=col,
        )


def finite_number(value: object) -> bool:
    """A JSON number of at most NUMBER_LIMIT in size: not a bool, not NaN or an infinity
    (Python's parser reads 1e400 as one), not an integer beyond float range (a 400-digit one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= INT_LIMIT  # exact: no float conversion that overflows
    return abs(value) <= NUMBER_LIMIT  # False for NaN and the infinities


def storable_text(text: str) -> bool:
    """Text that SQLite and PostgreSQL both store: no NUL, no lone surrogate (JSON's \\ud800)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: object) -> str:
    """A bad value as an error message shows it: its type, and a short repr (a 400-digit
    integer is not repeated whole)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"
    return f"{type(value).__name__} {text[:60]}"
