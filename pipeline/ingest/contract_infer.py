"""Contract inference: the rules training data implies, from one frame or many files' summaries.

Pure computation, no I/O. Structural rules only where the data has enough rows to say so
(`contract_summary.evidence_rows`); learned rules (ranges widened by a margin, category lists,
missing shares) written with `enforce = false`; label values from the task and every file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pipeline.ingest.contract_rules import ColumnRule, Contract, Label
from pipeline.ingest.contract_summary import (
    ColumnSummary,
    DataSummary,
    evidence_rows,
    summarise,
)
from pipeline.ingest.contract_toml import to_toml
from pipeline.settings.table import default

if TYPE_CHECKING:
    import pandas as pd


def infer(
    frame: pd.DataFrame, *, target: str, categorical: Sequence[str], task: str, **options: Any
) -> Contract:
    """Derive a contract from one frame of training data; `options` are `infer_summary`'s."""
    summary = summarise(
        frame, categorical=categorical, target=target if task == "classification" else None
    )
    return infer_summary(summary, target=target, categorical=categorical, task=task, **options)


def infer_summary(
    summary: DataSummary,
    *,
    target: str,
    id_columns: Sequence[str],
    features: Sequence[str],
    categorical: Sequence[str],
    task: str,
    range_margin: float = default("quality.range_margin"),
    missing_margin: float = default("quality.missing_margin"),
    missing_significance: float = default("quality.missing_significance"),
    evidence: float | None = None,
    unique_ids: bool = default("data.unique_ids"),
    timestamp: str = "",
) -> Contract:
    """Derive a contract from the summary of training data: structural rules where the data
    has enough rows to say so, learned ranges (widened by a margin) and category lists, not
    enforced. Label values come from the task and every label seen: a binary classifier's
    labels are both 0 and 1 (or false and true) even when the data shows one.

    `evidence`: the rows without a missing value (a fraction, a sign change) needed to infer
    a non-nullable (integer, signed) column; None: `evidence_rows(missing_margin,
    missing_significance)`. `unique_ids`: may an id name one row only (with id columns).
    `timestamp`: the event-time column (data.timestamp_column), a required `timestamp` rule.

    Data without a single label (unlabelled production rows) says nothing of the label set: a
    classification contract then has no `label_values` (any number is a label) until the run
    learns them from the first labelled file (`contract_tools.learn_labels`).
    """
    enough = evidence_rows(missing_margin, missing_significance) if evidence is None else evidence
    rules: dict[str, ColumnRule] = {}
    for col in id_columns:
        rules[col] = ColumnRule(col, "id", required=_everywhere(summary, col))
    cats = set(categorical)
    for col in features:
        s = summary.columns.get(col, ColumnSummary(files=0))
        required = _everywhere(summary, col)
        base = _nullability(s, enough, missing_margin)
        if col in cats or s.kind in ("text", "bool"):
            values = None if s.values is None else tuple(sorted(s.values))
            rules[col] = ColumnRule(
                col, "categorical", required, *base, categories=values, enforce=False
            )
        else:
            rules[col] = _numeric_rule(col, s, required, base, enough, range_margin)
    learned = task == "classification" and bool(summary.labels)
    label_values = labels_implied(summary.labels) if learned else None
    if timestamp:
        rules[timestamp] = ColumnRule(timestamp, "timestamp")
    rules[target] = ColumnRule(target, "label")
    contract = Contract(
        target, tuple(id_columns), unique_ids and bool(id_columns), label_values, rules
    )
    return replace(contract, text=to_toml(contract))


def _everywhere(summary: DataSummary, col: str) -> bool:
    """Is the column in every file summarised? A column some files lack is optional."""
    s = summary.columns.get(col)
    return s is not None and s.files >= summary.files


def _nullability(s: ColumnSummary, enough: float, margin: float) -> tuple[bool, float]:
    """(nullable, max_missing_share): a column is non-nullable only when it had no missing
    value among enough rows to say so."""
    nullable = s.missing > 0 or (s.rows - s.missing) < enough
    if not nullable:
        return False, 0.0
    share = s.missing / s.rows if s.rows else 0.0
    return True, min(1.0, round(share + margin, 4))


def _numeric_rule(
    col: str,
    s: ColumnSummary,
    required: bool,
    base: tuple[bool, float],
    enough: float,
    range_margin: float,
) -> ColumnRule:
    """A numeric column: integer and sign only from enough values; the range, learned."""
    integer = s.finite >= enough and s.finite > 0 and s.whole
    lo, hi, sign = s.low, s.high, None
    if lo is not None and hi is not None:
        if s.finite >= enough:
            sign = "non-negative" if lo >= 0 else "non-positive" if hi <= 0 else None
        pad = (hi - lo) * range_margin or abs(hi) * range_margin or range_margin
        new_lo, new_hi = lo - pad, hi + pad
        if lo >= 0:  # a range never wider than the sign the data kept to
            new_lo = max(0.0, new_lo)
        if hi <= 0:
            new_hi = min(0.0, new_hi)
        if integer:
            new_lo, new_hi = math.floor(new_lo), math.ceil(new_hi)
        lo, hi = _round(new_lo), _round(new_hi)
    return ColumnRule(
        col,
        "integer" if integer else "numeric",
        required,
        *base,
        min=lo,
        max=hi,
        sign=sign,
        enforce=False,
    )


def labels_implied(seen: frozenset[Any]) -> tuple[Label, ...]:
    """Every label seen; both classes of a binary task whose labels are 0/1 or false/true."""
    if not seen:
        return ()
    if all(isinstance(v, bool) for v in seen):
        return (False, True)
    if all(isinstance(v, int | float) and not isinstance(v, bool) and v in (0, 1) for v in seen):
        return (0, 1)
    return tuple(sorted(seen, key=lambda v: (isinstance(v, str), v)))


def _round(x: float) -> float:
    return float(f"{x:.6g}")
