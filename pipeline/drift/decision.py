"""The decision: which columns drifted, whether the data set did, and whether it persists.

Benjamini-Hochberg over the p-values of every tested column of the run; a column drifts iff
``p_adjusted < alpha`` and its effect size ``>= min_wasserstein`` (numeric) or
``>= min_jensen_shannon`` (categorical). The p-value alone flags everything on large batches;
the effect size alone flags noise on small ones; together they hold from 30 rows to millions.
The data set drifts when the (optionally importance-weighted) share of drifted features among
the tested ones reaches ``dataset_share``. The features are the columns `weights` names (every
column without weights); other tested columns (a run's prediction and label) share the BH
family but not the counts or the share, and are reported by name in `outputs`. When no feature
can be tested (too few rows, constant or missing columns) the data set is *not tested*: its
`dataset_drift` is None, never False, and `reason` says why and how many rows are needed.
`persistent` is the M-of-N rule. `detect` is the whole comparison of a new batch with a
profile: each column (`compare`), then the decision. Pure computation on numpy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, MutableMapping, Sequence
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
    sorted_finite,
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


NOT_TESTED = "not_tested"
DRIFTED = "drifted"
NOT_DRIFTED = "not_drifted"


@dataclass(frozen=True)
class DriftResult:
    """A run's drift: every column, the data-set decision, and what was left out and why."""

    columns: list[ColumnResult]
    dataset_drift: bool | None  # None: not tested (`reason` says why)
    drifted_share: float  # weighted share of tested features that drifted; 0.0 if none tested
    n_tested: int  # tested features (the share's columns)
    n_drifted: int  # drifted features
    excluded: dict[str, str]  # column -> status, for columns outside the BH family and share
    thresholds: DriftThresholds
    weighted: bool
    features: tuple[str, ...] = ()  # the columns the data set's counts and share are over
    reason: str | None = None  # why the data set is not tested; None when it is

    @property
    def status(self) -> str:
        """``drifted``, ``not_drifted`` or ``not_tested``."""
        if self.dataset_drift is None:
            return NOT_TESTED
        return DRIFTED if self.dataset_drift else NOT_DRIFTED

    @property
    def drifted_features(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted and c.column in self.features]

    @property
    def outputs(self) -> dict[str, str]:
        """Columns outside the features (a run's prediction, label): drifted, not, or status."""
        return {
            c.column: (DRIFTED if c.drifted else NOT_DRIFTED) if c.tested else str(c.status)
            for c in self.columns
            if c.column not in self.features
        }

    def summary(self) -> dict[str, Any]:
        """The data-set decision as every printer shows it (`pipeline.formatting.fmt_drift`)."""
        tested = self.dataset_drift is not None
        return {
            "status": self.status,
            "dataset_drift": self.dataset_drift,
            "reason": self.reason,
            "drifted_share": finite_or_none(self.drifted_share) if tested else None,
            "features_tested": self.n_tested,
            "features_drifted": self.n_drifted,
            "drifted_features": self.drifted_features,
            "outputs": self.outputs,
            "weighted": self.weighted,
            "min_rows": self.thresholds.min_rows,
        }

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
            **self.summary(),
            "n_tested": self.n_tested,
            "n_drifted": self.n_drifted,
            "excluded": dict(self.excluded),
            "thresholds": asdict(self.thresholds),
            "columns": [c.to_dict(full=True) for c in self.columns],
        }

    def to_json(self, indent: int | None = None) -> str:
        """What ``riskwatch drift --json`` prints (issue 4, item 6)."""
        body = {
            **self.summary(),
            "columns": [c.to_dict(full=False) for c in self.columns],
        }
        return json.dumps(body, indent=indent, allow_nan=False)


def decide(
    results: Sequence[ColumnResult],
    thresholds: DriftThresholds | None = None,
    weights: Mapping[str, float] | None = None,
    rows: tuple[int, int] | None = None,
) -> DriftResult:
    """Adjust the tested columns' p-values together and decide per column and for the data set.

    `weights` (feature importances) weigh the drifted share and name the features: a column
    without a weight is no feature (the prediction and the label of a run), tested with the
    others but outside the counts and the share. `rows` (reference, new) words the reason
    when the data set is not tested.
    """
    th = thresholds or DriftThresholds()
    tested = [i for i, r in enumerate(results) if r.tested]
    if weights is not None:
        for key, value in weights.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValueError(f"weight of column {key!r} must be a finite number >= 0")
    features = tuple(r.column for r in results if weights is None or r.column in weights)
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
    in_share = [slot for slot, i in enumerate(tested) if results[i].column in features]
    reason = untested_reason(results, features, th, rows) if not weight.sum() > 0 else None
    return DriftResult(
        columns=out,
        dataset_drift=None if reason else dataset,
        drifted_share=share,
        n_tested=len(in_share),
        n_drifted=int(drifted[in_share].sum()),
        excluded={r.column: str(r.status) for r in results if not r.tested},
        thresholds=th,
        weighted=weights is not None,
        features=features,
        reason=reason,
    )


def untested_reason(
    results: Sequence[ColumnResult],
    features: Sequence[str],
    th: DriftThresholds,
    rows: tuple[int, int] | None,
) -> str:
    """Why no feature could be tested, with the rows needed (`drift.min_rows`)."""
    need = f"drift.min_rows is {th.min_rows}"
    if rows is not None:
        sides = zip(("reference", "new data"), rows, strict=True)
        small = [(side, n) for side, n in sides if n < th.min_rows]
        if len(small) == 2:
            return f"the reference has {rows[0]} rows and the new data {rows[1]}, {need}"
        if small:
            return f"the {small[0][0]} has {small[0][1]} rows, {need}"
    mine = [r for r in results if r.column in features]
    if not mine:
        return "there is no feature to test"
    if any(r.tested for r in mine):
        return "the tested features all weigh 0 (drift.weights)"
    listed = "; ".join(_why_untested(r, need) for r in mine[:_LISTED])
    more = f"; and {len(mine) - _LISTED} more" if len(mine) > _LISTED else ""
    return f"no feature could be tested: {listed}{more}"


_LISTED = 5  # untested features named in the reason


def _why_untested(r: ColumnResult, need: str) -> str:
    if r.status == Status.TOO_FEW_ROWS:
        n_ref, n_new = r.details.get("n_reference"), r.details.get("n_new")
        return f"{r.column} has {n_ref} reference and {n_new} new values, {need}"
    if r.status == Status.ALL_MISSING:
        return f"{r.column} has no value ({r.details.get('side', 'a')} side)"
    return f"{r.column} is {str(r.status).replace('_', ' ')}"


def detect(
    profile: ReferenceProfile,
    frame: Table,
    thresholds: DriftThresholds | None = None,
    *,
    weights: Mapping[str, float] | None = None,
    counted: MutableMapping[str, tuple[list[str], np.ndarray, int]] | None = None,
) -> DriftResult:
    """Compare a new batch (DataFrame or mapping of name to array) with the reference profile.

    Columns come in the profile's order, then columns only the new data has (``new_column``).
    `counted`, when given, receives each categorical column's `category_counts` by name, for a
    caller that shows them too (the drift step's shares and histograms).
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
            finite, n_missing = sorted_finite(values)
            results.append(compare_numeric(name, prof, finite, len(values), n_missing, th))
        else:
            categories, counts, n_missing = category_counts(column)
            if counted is not None:
                counted[name] = (categories, counts, n_missing)
            results.append(compare_categorical(name, prof, categories, counts, n_missing, th))
    for name, key in names.items():
        if name not in profile.columns_:
            results.append(untested(name, infer_kind(frame[key]), Status.NEW_COLUMN))
    n_new = max((len(frame[key]) for key in names.values()), default=0)
    return decide(results, th, weights, rows=(profile.n_rows_, n_new))


def persistent(history: Sequence[bool], m: int, n: int) -> bool:
    """True when at least `m` of the last `n` runs (oldest first in `history`) drifted."""
    if not (isinstance(m, int) and isinstance(n, int) and 1 <= m <= n):
        raise ValueError(f"persistence needs 1 <= m <= n, got m={m!r}, n={n!r}")
    return sum(bool(flag) for flag in list(history)[-n:]) >= m
