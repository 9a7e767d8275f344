"""The decision: which columns drifted, whether the data set did, and whether it persists.

Benjamini-Hochberg over the p-values of every tested column of the run; a column drifts iff
``p_adjusted < alpha`` and its effect size ``>= min_wasserstein`` (numeric) or
``>= min_jensen_shannon`` (categorical). The p-value alone flags everything on large batches;
the effect size alone flags noise on small ones; together they hold from 30 rows to millions.
The data set drifts when the (optionally importance-weighted) share of drifted columns among
the tested ones reaches ``dataset_share``. `persistent` is the M-of-N rule. `detect` is the
whole comparison of a new batch with a profile: each column (`compare`), then the decision.
Pure computation on numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.drift.column_profile import NumericProfile
from pipeline.drift.columns import (
    as_float,
    category_counts,
    finite_or_none,
    frame_names,
    infer_kind,
)
from pipeline.drift.compare import (
    ColumnResult,
    Status,
    compare_categorical,
    compare_numeric,
    untested,
)
from pipeline.drift.profile import ReferenceProfile, check_fitted
from pipeline.drift.thresholds import DriftThresholds

if TYPE_CHECKING:
    import numpy.typing as npt

    from pipeline.drift.columns import Table


def benjamini_hochberg(p_values: npt.ArrayLike) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values along the last axis, as false_discovery_control."""
    p = np.atleast_1d(np.asarray(p_values, dtype=np.float64))
    if np.any(np.isnan(p)) or np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    m = p.shape[-1]
    if p.size == 0:
        return p.copy()
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    out = np.empty_like(ranked)
    np.put_along_axis(out, order, np.minimum(ranked, 1.0), axis=-1)
    return out


def apply_rule(
    p: np.ndarray,
    effect: np.ndarray,
    min_effect: np.ndarray,
    weight: np.ndarray,
    alpha: float,
    dataset_share: float,
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """The rule itself, on the tested columns only: (p_adjusted, drifted, share, data set)."""
    p_adj = benjamini_hochberg(p)
    drifted = (p_adj < alpha) & (effect >= min_effect)
    total = float(weight.sum())
    share = float(weight[drifted].sum() / total) if total > 0 else 0.0
    return p_adj, drifted, share, bool(total > 0 and share >= dataset_share)


@dataclass(frozen=True)
class DriftResult:
    """A run's drift: every column, the data-set decision, and what was left out and why."""

    columns: list[ColumnResult]
    dataset_drift: bool
    drifted_share: float  # weighted share of tested columns that drifted; 0.0 if none tested
    n_tested: int
    n_drifted: int
    excluded: dict[str, str]  # column -> status, for columns outside the BH family and share
    thresholds: DriftThresholds
    weighted: bool

    def column(self, name: str) -> ColumnResult:
        for result in self.columns:
            if result.column == name:
                return result
        raise KeyError(name)

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Everything, for the database and the report; JSON-safe (no NaN, no infinity)."""
        return {
            "dataset_drift": self.dataset_drift,
            "drifted_share": finite_or_none(self.drifted_share),
            "n_tested": self.n_tested,
            "n_drifted": self.n_drifted,
            "weighted": self.weighted,
            "excluded": dict(self.excluded),
            "thresholds": asdict(self.thresholds),
            "columns": [c.to_dict(full=True) for c in self.columns],
        }

    def to_json(self, indent: int | None = None) -> str:
        """What ``riskwatch drift --json`` prints (issue 4, item 6)."""
        body = {
            "dataset_drift": self.dataset_drift,
            "drifted_share": finite_or_none(self.drifted_share),
            "columns": [c.to_dict(full=False) for c in self.columns],
        }
        return json.dumps(body, indent=indent, allow_nan=False)


def decide(
    results: Sequence[ColumnResult],
    thresholds: DriftThresholds | None = None,
    weights: Mapping[str, float] | None = None,
) -> DriftResult:
    """Adjust the tested columns' p-values together and decide per column and for the data set.

    `weights` (feature importances) weigh the drifted share; a tested column without a weight
    weighs 0, which is also how to keep the prediction and the label out of the share.
    """
    th = thresholds or DriftThresholds()
    tested = [i for i, r in enumerate(results) if r.tested]
    if weights is not None:
        for key, value in weights.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"weight of column {key!r} must be a finite number >= 0")
    p = np.array([results[i].p_value for i in tested], dtype=np.float64)
    effect = np.array([results[i].effect_size for i in tested], dtype=np.float64)
    min_effect = np.array([th.min_effect(results[i].kind) for i in tested])
    weight = np.array(
        [1.0 if weights is None else float(weights.get(results[i].column, 0.0)) for i in tested]
    )
    p_adj, drifted, share, dataset = apply_rule(
        p, effect, min_effect, weight, th.alpha, th.dataset_share
    )
    out = list(results)
    for slot, i in enumerate(tested):
        out[i] = replace(results[i], p_adjusted=float(p_adj[slot]), drifted=bool(drifted[slot]))
    return DriftResult(
        columns=out,
        dataset_drift=dataset,
        drifted_share=share,
        n_tested=len(tested),
        n_drifted=int(drifted.sum()),
        excluded={r.column: str(r.status) for r in results if not r.tested},
        thresholds=th,
        weighted=weights is not None,
    )


def detect(
    profile: ReferenceProfile,
    frame: Table,
    thresholds: DriftThresholds | None = None,
    *,
    weights: Mapping[str, float] | None = None,
) -> DriftResult:
    """Compare a new batch (DataFrame or mapping of name to array) with the reference profile.

    Columns come in the profile's order, then columns only the new data has (``new_column``).
    """
    check_fitted(profile)
    th = thresholds or DriftThresholds()
    names = frame_names(frame)
    if weights is not None:
        for key in weights:
            if key not in profile.columns_ and key not in names:
                raise ValueError(f"weights name column {key!r}, which is in neither data set")
    results: list[ColumnResult] = []
    for name, prof in profile.columns_.items():
        if name not in names:
            results.append(untested(name, prof.kind, Status.MISSING_IN_NEW))
            continue
        column = frame[names[name]]
        if isinstance(prof, NumericProfile):
            values = as_float(column, f"column {name!r} is numeric in the reference profile but")
            is_finite = np.isfinite(values)
            finite = np.sort(values) if is_finite.all() else np.sort(values[is_finite])
            n_missing = int(np.isnan(values).sum())
            results.append(compare_numeric(name, prof, finite, len(values), n_missing, th))
        else:
            categories, counts, n_missing = category_counts(column)
            results.append(compare_categorical(name, prof, categories, counts, n_missing, th))
    for name, key in names.items():
        if name not in profile.columns_:
            results.append(untested(name, infer_kind(frame[key]), Status.NEW_COLUMN))
    return decide(results, th, weights)


def persistent(history: Sequence[bool], m: int, n: int) -> bool:
    """True when at least `m` of the last `n` runs (oldest first in `history`) drifted."""
    if not (isinstance(m, int) and isinstance(n, int) and 1 <= m <= n):
        raise ValueError(f"persistence needs 1 <= m <= n, got m={m!r}, n={n!r}")
    return sum(bool(flag) for flag in list(history)[-n:]) >= m
