"""One column compared: the new batch's values against the reference profile's column.

Numeric columns get the KS test, the Wasserstein-1 distance divided by the reference std as the
effect size (std 0 means a constant reference, which gets its own status, so there is no IQR
fallback to need: IQR <= range = 0 too) and PSI on ``psi_bins`` reference-quantile bins, empty
shares replaced by ``psi_epsilon``. Categorical columns get the chi-square test, the
Jensen-Shannon distance as the effect size, and PSI. The statistics are in `twosample`;
whether a column drifts is decided over all of a run's columns at once, in `decision`.

Statuses (issue 4, item 4)
    ``ok`` and ``unseen_categories`` are tested. An unseen category enters the chi-square, JS and
    PSI as a category with reference count 0 (a new category is evidence of drift); the status
    says so and the details count and list them. Every other status is excluded from the BH family
    and from the share's denominator, listed in `DriftResult.excluded`, and never drifts:
    ``missing_in_new`` and ``new_column`` (nothing to compare); ``all_missing`` (no value on one
    side, named in the details); ``too_few_rows`` (fewer than ``min_rows`` values on a side; the
    statistics are still computed when both sides have a value, for information);
    ``constant``: a numeric reference with one distinct value (no spread to scale the effect by;
    KS, raw Wasserstein and the share of new values that differ are still reported) or a
    categorical column with one category on both sides (nothing to test). A new batch that is
    constant while its reference is not is tested as usual (a feed stuck at one value is drift
    to report, not to hide) and flagged in the details.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from pipeline.drift.column_profile import CategoricalProfile, NumericProfile
from pipeline.drift.columns import (
    CATEGORICAL,
    NUMERIC,
    finite_or_none,
    json_safe,
    mean_std,
    share_of,
)
from pipeline.drift.thresholds import DriftThresholds
from pipeline.drift.twosample import (
    chi2_homogeneity,
    jensen_shannon,
    ks_test,
    ks_wasserstein,
    population_stability,
)

_MAX_LISTED = 50  # unseen categories named in the details; all of them are counted


class Status(StrEnum):
    """What became of a column: tested (`TESTED`), or why not (see the module docstring)."""

    OK = "ok"
    CONSTANT = "constant"
    ALL_MISSING = "all_missing"
    TOO_FEW_ROWS = "too_few_rows"
    UNSEEN_CATEGORIES = "unseen_categories"
    MISSING_IN_NEW = "missing_in_new"
    NEW_COLUMN = "new_column"


TESTED = frozenset({Status.OK, Status.UNSEEN_CATEGORIES})


@dataclass(frozen=True)
class ColumnResult:
    """One column's comparison. `statistic` is KS D (numeric) or chi2 (categorical)."""

    column: str
    kind: str
    test: str  # "ks" or "chi2"
    statistic: float | None
    p_value: float | None
    p_adjusted: float | None  # Benjamini-Hochberg over the run's tested columns
    effect_size: float | None  # Wasserstein / reference std, or Jensen-Shannon distance
    psi: float | None
    status: Status
    drifted: bool
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def tested(self) -> bool:
        return self.status in TESTED

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        out = {
            "column": self.column,
            "kind": self.kind,
            "test": self.test,
            "statistic": finite_or_none(self.statistic),
            "p_value": finite_or_none(self.p_value),
            "p_adjusted": finite_or_none(self.p_adjusted),
            "effect_size": finite_or_none(self.effect_size),
            "status": str(self.status),
            "drifted": bool(self.drifted),
        }
        if full:
            out["psi"] = finite_or_none(self.psi)
            out["details"] = json_safe(self.details)
        return out


def _test_name(kind: str) -> str:
    return "ks" if kind == NUMERIC else "chi2"


def untested(name: str, kind: str, status: Status, **details: object) -> ColumnResult:
    """The result of a column that is not tested: its status says why."""
    return ColumnResult(
        name, kind, _test_name(kind), None, None, None, None, None, status, False, details
    )


def _size_status(n_ref: int, n_new: int, th: DriftThresholds) -> tuple[Status | None, dict]:
    if n_ref == 0 or n_new == 0:
        side = "both" if n_ref == n_new == 0 else ("reference" if n_ref == 0 else "new")
        return Status.ALL_MISSING, {"side": side}
    if min(n_ref, n_new) < th.min_rows:
        return Status.TOO_FEW_ROWS, {"min_rows": th.min_rows}
    return None, {}


def compare_numeric(
    name: str,
    prof: NumericProfile,
    new_sorted: np.ndarray,
    n_rows: int,
    n_missing: int,
    thresholds: DriftThresholds,
) -> ColumnResult:
    """Compare one numeric column; `new_sorted` holds the new batch's finite values, sorted."""
    n_ref, n_new = prof.n, len(new_sorted)
    details: dict[str, Any] = {
        "n_reference": n_ref,
        "n_new": n_new,
        "reference_missing_share": share_of(prof.n_missing, prof.n_rows),
        "new_missing_share": share_of(n_missing, n_rows),
        "new_infinite": n_rows - n_missing - n_new,
    }
    status, extra = _size_status(n_ref, n_new, thresholds)
    details.update(extra)
    if status is Status.ALL_MISSING:
        return untested(name, NUMERIC, status, **details)
    if status is None and prof.constant:
        status = Status.CONSTANT
    d, w1 = ks_wasserstein(prof, new_sorted)
    stat, p, method = ks_test(prof, new_sorted, d)
    bins = np.searchsorted(new_sorted, prof.psi_edges, side="right")
    new_bins = np.diff(np.concatenate([[0], bins, [n_new]]))
    psi = population_stability(prof.psi_counts / n_ref, new_bins / n_new, thresholds.psi_epsilon)
    new_mean, new_std = mean_std(new_sorted)
    details.update(
        ks_method=method,
        wasserstein=w1,
        reference_mean=prof.mean,
        reference_std=prof.std,
        new_mean=new_mean,
        new_std=new_std,
        new_constant=bool(new_sorted[0] == new_sorted[-1]),
    )
    effect = None
    if prof.constant:
        value = float(prof.knots[0])
        differ = n_new - int(np.sum(new_sorted == value))
        details.update(reference_value=value, new_share_different=differ / n_new)
    elif prof.std:  # None only if the spread overflowed a float
        effect = w1 / prof.std
    if prof.sketch:
        details.update(
            ks_error_bound=prof.ks_error_bound,
            wasserstein_error_bound=(prof.wasserstein_error_bound / prof.std if prof.std else None),
        )
    return ColumnResult(
        name, NUMERIC, "ks", stat, p, None, effect, psi, status or Status.OK, False, details
    )


def compare_categorical(
    name: str,
    prof: CategoricalProfile,
    new_categories: Sequence[str],
    new_counts: np.ndarray,
    n_missing: int,
    thresholds: DriftThresholds,
) -> ColumnResult:
    """Compare one categorical column from the new batch's counts per category."""
    index = {c: i for i, c in enumerate(prof.categories)}
    aligned = np.zeros(len(prof.categories), dtype=np.int64)
    unseen: list[tuple[str, int]] = []
    for category, count in zip(new_categories, np.asarray(new_counts).tolist(), strict=True):
        if category in index:
            aligned[index[category]] += count
        elif count:
            unseen.append((category, int(count)))
    unseen.sort(key=lambda pair: (-pair[1], pair[0]))
    n_ref, n_new = prof.n, int(aligned.sum()) + sum(c for _, c in unseen)
    details: dict[str, Any] = {
        "n_reference": n_ref,
        "n_new": n_new,
        "reference_missing_share": share_of(prof.n_missing, prof.n_rows),
        "new_missing_share": share_of(n_missing, n_new + n_missing),
    }
    status, extra = _size_status(n_ref, n_new, thresholds)
    details.update(extra)
    if status is Status.ALL_MISSING:
        return untested(name, CATEGORICAL, status, **details)
    ref_counts = np.concatenate([prof.counts, np.zeros(len(unseen), dtype=np.int64)])
    new_all = np.concatenate([aligned, np.array([c for _, c in unseen], dtype=np.int64)])
    if unseen:
        details["unseen"] = {
            "categories": len(unseen),
            "rows": sum(c for _, c in unseen),
            "share": sum(c for _, c in unseen) / n_new,
            "listed": [c for c, _ in unseen[:_MAX_LISTED]],
        }
    if len(ref_counts) == 1:  # one category on both sides: nothing can differ
        details["category"] = prof.categories[0]
        return untested(name, CATEGORICAL, status or Status.CONSTANT, **details)
    stat, dof, p = chi2_homogeneity(ref_counts, new_all)
    js = jensen_shannon(ref_counts, new_all)
    psi = population_stability(ref_counts / n_ref, new_all / n_new, thresholds.psi_epsilon)
    details["dof"] = dof
    status = status or (Status.UNSEEN_CATEGORIES if unseen else Status.OK)
    return ColumnResult(name, CATEGORICAL, "chi2", stat, p, None, js, psi, status, False, details)
