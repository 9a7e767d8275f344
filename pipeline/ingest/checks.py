"""The data quality gate: every violation of the contract in one file, found column by column.

Pure computation on a DataFrame, no I/O. Row checks are vectorised over whole columns (no Python
loop per row). File-level problems (unreadable, empty, a missing, extra, duplicated or renamed
column) are found from the header; row-level ones (wrong type, missing value, a sign crossed,
duplicate row or id, invalid label, infinite value, an event time that is not one) mark rows
bad, and a bad row never reaches training, scoring or drift.

A row without a label is not bad (issue 12): it is inference data, predicted and measured for
drift, never trained or scored on. A file without the target column is unlabelled too, unless
the column looks renamed (`renamed_column`, as for any column). data.unlabelled_files =
"quarantine" refuses a file with no label at all (`unlabelled`). A label that is present but
not a label (not in label_values, not a number) is `invalid_label`, as it always was.

A learned rule (a range, a category list) that is not enforced finds rows too (`out_of_range`,
`unknown_category`), but keeps them: the violation is counted, reported and alerted, with `kept`
set, and its rows are not bad.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.ingest.contract_rules import ColumnRule, Contract
from pipeline.ingest.violations import (  # noqa: F401  (re-exported: the gate's results)
    QualityResult,
    Violation,
    criticality_of,
    file_problem,
    flag_invalid_share,
)
from pipeline.ingest.violations import file_violation as _file_violation
from pipeline.ingest.violations import row_violation as _row_violation
from pipeline.settings.table import default
from pipeline.vocabulary import REJECTING


def check_header(
    columns: Sequence[str],
    contract: Contract,
    overrides: Mapping[str, str] | None = None,
    unlabelled: str = default("data.unlabelled_files"),
) -> list[Violation]:
    """File-level checks on the column names: missing, extra, renamed, duplicated.

    The target absent is no violation (the file is unlabelled) unless an extra column looks
    like it renamed, or `unlabelled` is "quarantine"."""
    out: list[Violation] = []
    counts = Counter(columns)
    for name, n in counts.items():
        if n > 1:
            message = f"column {name!r} appears {n} times in the header"
            out.append(_file_violation("duplicate_column", name, message, overrides))
    present = set(columns)
    missing = [c.name for c in contract.columns.values() if c.required and c.name not in present]
    extra = [c for c in counts if c not in contract.columns]
    renamed: dict[str, str] = {}
    for m in missing:
        candidates = [e for e in extra if e not in renamed.values()]
        close = difflib.get_close_matches(_norm(m), [_norm(e) for e in candidates], 1, 0.75)
        if close:
            renamed[m] = next(e for e in candidates if _norm(e) == close[0])
    for m in missing:
        if m in renamed:
            message = f"required column {m!r} is missing; it looks renamed to {renamed[m]!r}"
            out.append(_file_violation("renamed_column", m, message, overrides))
        elif m == contract.target:
            if unlabelled == "quarantine":
                out.append(_unlabelled(contract, "the file has no target column", overrides))
        else:
            message = f"required column {m!r} is missing" + delimiter_hint(columns)
            out.append(_file_violation("missing_column", m, message, overrides))
    for e in extra:
        if e not in renamed.values():
            message = f"column {e!r} is not in the contract (ignored)"
            out.append(_file_violation("extra_column", e, message, overrides))
    return out


def delimiter_hint(columns: Sequence[str]) -> str:
    """What to say of a header read as one column whose name holds another delimiter (a file
    written with semicolons or tabs, read as a CSV): the likely cause of every column missing."""
    if len(columns) != 1:
        return ""
    for mark, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if mark in columns[0]:
            return (
                f"; the header reads as one column {columns[0][:60]!r}: the file looks "
                f"delimited by {name}, and riskwatch reads CSV with commas"
            )
    return ""


def _unlabelled(contract: Contract, what: str, overrides: Mapping[str, str] | None) -> Violation:
    message = (
        f"{what} ({contract.target!r}): no row is labelled, and data.unlabelled_files = "
        '"quarantine" refuses a file without labels'
    )
    return _file_violation("unlabelled", contract.target, message, overrides)


def _norm(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def check_frame(
    frame: pd.DataFrame,
    contract: Contract,
    overrides: Mapping[str, str] | None = None,
    missing_alpha: float = default("quality.missing_significance"),
    *,
    unlabelled: str = default("data.unlabelled_files"),
    now: datetime | None = None,
    max_future_days: float = default("quality.timestamp_max_future_days"),
) -> QualityResult:
    """Check one file's rows against the contract; collect every violation, not the first.

    `unlabelled`: data.unlabelled_files. `now`: when the file is checked; an event time more
    than `max_future_days` after it is out of range (None: no such check)."""
    n = len(frame)
    header = [str(c) for c in frame.columns]
    violations = check_header(header, contract, overrides, unlabelled)
    bad = np.zeros(n, dtype=bool)
    if n == 0:
        message = "the file has a header but no rows"
        violations.append(_file_violation("empty", None, message, overrides))
        return QualityResult(0, violations, bad)
    target = contract.target
    if unlabelled == "quarantine" and target in frame.columns and frame[target].isna().all():
        violations.append(_unlabelled(contract, "the target is empty in every row", overrides))
    if any(v.error_type in REJECTING for v in violations):
        return QualityResult(n, violations, bad)

    from pipeline.ingest.timestamps import check_times

    future = None if now is None else (now, timedelta(days=max_future_days))
    for rule in contract.columns.values():
        if rule.name not in frame.columns:
            continue  # an optional column that is absent
        column = frame[rule.name]
        found = (
            check_times(column, rule, overrides, future)
            if rule.kind == "timestamp"
            else _check_column(column, rule, contract, overrides, missing_alpha)
        )
        for v in found:
            violations.append(v)
            if not v.kept:
                bad[v.rows] = True

    key = [c for c in contract.columns if c in frame.columns]
    ids = [c for c in contract.id_columns if c in frame.columns]
    dup_row, dup_id_any = _duplicates(frame, key, ids)
    copy = _row_violation(
        "duplicate_row", None, dup_row, frame[key[0]], "an exact copy of an earlier row", overrides
    )
    if copy:
        violations.append(copy)
        bad |= dup_row
    if contract.unique_ids and ids:
        ids_present = frame[ids].notna().all(axis=1).to_numpy()
        dup_id = dup_id_any & ~dup_row & ids_present
        reused = _row_violation(
            "duplicate_id",
            ids[0],
            dup_id,
            frame[ids[0]],
            f"id {'/'.join(ids)} already used by an earlier row",
            overrides,
        )
        if reused:
            violations.append(reused)
            bad |= dup_id
    long = _long_ids(frame, ids, overrides)
    if long is not None:
        violations.append(long)
        bad[long.rows] = True
    return QualityResult(n, violations, bad)


def _long_ids(
    frame: pd.DataFrame, ids: list[str], overrides: Mapping[str, str] | None
) -> Violation | None:
    """The rows whose ids make a key (`model.keys`) longer than any store indexes: the key is
    what a label finds its prediction by, and no index of PostgreSQL holds one that long. Keys
    are made only when a column's text could be that long (a number's never is)."""
    from pipeline.model.keys import MAX_KEY_BYTES, row_keys, too_long

    if not ids or any(c not in frame.columns for c in ids):
        return None
    chars = 0
    for c in ids:
        column = frame[c]
        text = column.dtype == object or isinstance(column.dtype, pd.StringDtype)
        longest = column.astype("string").str.len().max() if text else 32
        chars += 0 if pd.isna(longest) else int(longest)
    if (chars + 3 * len(ids)) * 6 <= MAX_KEY_BYTES:  # JSON escapes a character as 6 at most
        return None
    mask = np.array(too_long(row_keys(frame, ids)), dtype=bool)
    message = f"the ids make a key longer than {MAX_KEY_BYTES:,} bytes, which no index holds"
    return _row_violation("out_of_range", ids[0], mask, frame[ids[0]], message, overrides)


def _duplicates(frame: pd.DataFrame, key: list[str], ids: list[str]) -> tuple[np.ndarray, ...]:
    """(exact copies of an earlier row, rows reusing an earlier row's id).

    An exact copy of a row has that row's id, so whole rows are compared only among the rows
    whose id occurs more than once: hashing 20 columns of a million rows is most of the cost.
    """
    n = len(frame)
    if not ids:
        return frame.duplicated(subset=key, keep="first").to_numpy(), np.zeros(n, dtype=bool)
    shared = np.nonzero(frame.duplicated(subset=ids, keep=False).to_numpy())[0]
    dup_row = np.zeros(n, dtype=bool)
    dup_id = np.zeros(n, dtype=bool)
    if len(shared):
        sub = frame.iloc[shared]
        dup_row[shared] = sub.duplicated(subset=key, keep="first").to_numpy()
        dup_id[shared] = sub.duplicated(subset=ids, keep="first").to_numpy()
    return dup_row, dup_id


_PLAIN_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


def _as_floats(series: pd.Series) -> np.ndarray:
    """The column as float64, NaN where it holds no number.

    A numeric column read as text (one stray word makes pandas keep the whole column as text)
    is parsed by Arrow for the plain decimal numbers; only the odd fields go through pandas.
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype="float64", na_value=np.nan)
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(series.array) if hasattr(series.array, "__arrow_array__") else None
    if arr is None or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    plain = pc.match_substring_regex(arr, _PLAIN_NUMBER).fill_null(False)
    parsed = pc.cast(pc.if_else(plain, arr, pa.scalar(None, arr.type)), pa.float64())
    values = np.array(parsed.to_numpy(zero_copy_only=False), dtype="float64")
    odd = np.flatnonzero(pc.and_(pc.invert(plain), pc.is_valid(arr)).to_numpy(zero_copy_only=False))
    if len(odd):
        values[odd] = pd.to_numeric(series.iloc[odd], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
    return values


def _share_exceeded(k: int, n: int, p: float, alpha: float) -> bool:
    """Is k missing of n clearly above the allowed share p, at significance alpha?

    Uses the Chernoff bound P(X >= k) <= exp(-n * KL(k/n || p)) for X ~ Binomial(n, p): a
    true upper bound on the p-value at any n, so one missing value in five rows is not a
    finding while 30% missing in 10,000 rows against an allowed 5% is.
    """
    if n == 0 or k <= n * p or p >= 1:
        return False
    q = k / n
    if p <= 0:
        return True
    kl = q * math.log(q / p) + ((1 - q) * math.log((1 - q) / (1 - p)) if q < 1 else 0.0)
    return n * kl > math.log(1 / alpha)


def _check_column(
    series: pd.Series,
    rule: ColumnRule,
    contract: Contract,
    overrides: Mapping[str, str] | None,
    missing_alpha: float,
) -> list[Violation]:
    """Every row-level violation of `rule` in one column: missing values, then the values."""
    missing = series.isna().to_numpy()
    out = [_check_missing(series, missing, rule, overrides, missing_alpha)]
    if rule.kind in ("numeric", "integer") or (rule.kind == "label" and contract.numeric_label):
        out += _check_numbers(series, missing, rule, contract, overrides)
    elif rule.kind == "label" and contract.label_values is not None:
        known = series.astype(str).isin([str(x) for x in contract.label_values]).to_numpy()
        message = f"label not in {list(contract.label_values)}"
        unknown = ~missing & ~known
        out.append(_row_violation("invalid_label", rule.name, unknown, series, message, overrides))
    elif rule.kind == "categorical" and rule.categories is not None:
        known = series.astype(str).isin(rule.categories).to_numpy()
        message = f"category not among the {len(rule.categories)} known for {rule.name!r}"
        unknown = ~missing & ~known
        kept = not rule.enforce
        out.append(
            _row_violation("unknown_category", rule.name, unknown, series, message, overrides, kept)
        )
    return [v for v in out if v is not None]


def _check_missing(
    series: pd.Series,
    missing: np.ndarray,
    rule: ColumnRule,
    overrides: Mapping[str, str] | None,
    missing_alpha: float,
) -> Violation | None:
    """A required value that is absent; or a nullable column missing too often. A row without
    a label is unlabelled, not bad."""
    if rule.kind == "label":
        return None
    if not rule.nullable:
        message = f"missing value in required column {rule.name!r}"
        return _row_violation("missing_value", rule.name, missing, series, message, overrides)
    if not _share_exceeded(int(missing.sum()), len(series), rule.max_missing_share, missing_alpha):
        return None
    # Each row may lack the value, so none is quarantined; the file as a whole is flagged.
    share = float(missing.mean())
    return Violation(
        "missing_value",
        rule.name,
        criticality_of("missing_value", overrides),
        int(missing.sum()),
        f"{share:.1%} of rows lack {rule.name!r}, more than the contract's "
        f"{rule.max_missing_share:.1%} (rows kept)",
        kept=True,
    )


def _merged_labels(first: Violation | None, second: Violation | None) -> Violation | None:
    """The invalid labels of a numeric target as one violation: not numbers, or not in the
    contract's label values (the row numbers and counts of both)."""
    if first is None or second is None:
        return first or second
    rows = np.union1d(first.rows, second.rows)
    message = f"{len(rows)} row(s): label not a number or not in the contract's label values"
    return dataclasses.replace(first, count=len(rows), rows=rows, message=message)


def _check_numbers(
    series: pd.Series,
    missing: np.ndarray,
    rule: ColumnRule,
    contract: Contract,
    overrides: Mapping[str, str] | None,
) -> list[Violation | None]:
    """A numeric, integer or numeric-label column: type, infinity, then range or label set."""
    values = _as_floats(series)
    wrong = ~missing & np.isnan(values)
    if rule.kind == "integer":
        finite = np.isfinite(values)
        wrong |= finite & (values != np.round(values))
    inf = np.isinf(values)
    ok = np.isfinite(values) & ~wrong
    if rule.kind == "label":  # a label that is not a number is not a label (not a type error)
        message = f"label {rule.name!r} must be a finite number"
        out = [_row_violation("invalid_label", rule.name, wrong | inf, series, message, overrides)]
    else:
        whole = "whole " if rule.kind == "integer" else ""
        message = f"{rule.name!r} must hold {whole}numbers"
        out = [_row_violation("wrong_type", rule.name, wrong, series, message, overrides)]
        message = f"infinite value in {rule.name!r}"
        out.append(_row_violation("infinite_value", rule.name, inf, series, message, overrides))
    labels = contract.label_values
    if rule.kind == "label" and labels is None:
        return out  # a regression target: any finite number
    if rule.kind == "label" and labels is not None:
        allowed = np.asarray(labels, dtype="float64")
        message = f"label not in {list(labels)}"
        bad = ok & ~np.isin(values, allowed)
        label = _row_violation("invalid_label", rule.name, bad, series, message, overrides)
        return [_merged_labels(out[0], label)]
    if rule.sign is not None:
        crossed = ok & ((values < 0) if rule.sign == "non-negative" else (values > 0))
        word = "negative" if rule.sign == "non-negative" else "positive"
        message = f"{rule.name!r} is {word}, against the contract's sign = {rule.sign!r}"
        out.append(_row_violation("out_of_range", rule.name, crossed, series, message, overrides))
        ok = ok & ~crossed  # one finding per row: the sign, not also the range
    low = rule.min if rule.min is not None else -np.inf
    high = rule.max if rule.max is not None else np.inf
    message = f"{rule.name!r} outside [{low:g}, {high:g}]"
    bad = ok & ((values < low) | (values > high))
    out.append(
        _row_violation("out_of_range", rule.name, bad, series, message, overrides, not rule.enforce)
    )
    return out
