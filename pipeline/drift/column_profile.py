"""One column of a reference profile: `NumericProfile` (its CDF as knots) and
`CategoricalProfile` (counts per category), and how a numeric one is fitted.

Numeric column: missing (NaN/None) and infinite counts, mean, std (ddof=1), quartiles, min/max,
PSI bin edges with the reference counts per bin, and its distribution as "knots" ``v_k`` with the
exact counts of reference values ``<= v_k`` and ``< v_k``. Up to ``exact_max`` finite values the
knots are every distinct value, so the empirical CDF ``F`` is stored exactly. Above it the knots
are the order statistics at ``grid`` evenly spaced ranks (min and max included), with their
exact counts; between two knots the CDF is interpolated linearly. The true ``F`` lies in the band
between the two knots' counts, so ``|F~ - F| <= ks_error_bound <= 1/(grid - 1)`` everywhere: the
KS statistic is off by at most that much (the new side is always exact), and the Wasserstein
distance by at most ``wasserstein_error_bound`` = sum of (knot spacing x band height), both
stored per column and reported in the details. PSI bins are fitted on the raw data, so PSI is
exact on both paths.

Categorical column: counts per category (keys from `columns.category_key`) and the missing
count. Pure computation on numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from pipeline.drift.columns import (
    CATEGORICAL,
    NUMERIC,
    finite_or_none,
    mean_std,
    share_of,
    sorted_finite,
)


@dataclass(frozen=True, eq=False)
class NumericProfile:
    """One numeric column of the reference: its CDF as knots with exact counts, and a summary."""

    n_rows: int
    n_missing: int
    n_infinite: int
    knots: np.ndarray  # sorted distinct values: every one (exact) or the grid's order statistics
    cum_le: np.ndarray  # reference values <= knot
    cum_lt: np.ndarray  # reference values < knot
    sketch: bool
    mean: float | None
    std: float | None
    q25: float | None
    q75: float | None
    psi_edges: np.ndarray  # bins (-inf, e0], (e0, e1], ..., (e_last, inf)
    psi_counts: np.ndarray
    ks_error_bound: float  # sup |F~ - F| over the real line; 0 when exact
    wasserstein_error_bound: float  # integral of |F~ - F|, in the column's units; 0 when exact

    kind = NUMERIC

    @property
    def n(self) -> int:
        """Finite values: what the statistics are computed on."""
        return int(self.cum_le[-1]) if len(self.cum_le) else 0

    @property
    def constant(self) -> bool:
        return len(self.knots) == 1

    def cdf(self, x: npt.ArrayLike) -> np.ndarray:
        """Share of reference values <= x (interpolated between knots on the sketch path)."""
        x = np.asarray(x, dtype=np.float64)
        start, base, slope, _, _ = self.cdf_table
        i = np.searchsorted(self.knots, x, side="right")
        return base[i] + slope[i] * (x - start[i])

    @cached_property
    def cdf_table(self) -> tuple[np.ndarray, ...]:
        return _cdf_table(self)

    def quantile(self, q: npt.ArrayLike) -> np.ndarray:
        """Inverse of `cdf` (the empirical quantile when exact); used to sample and to plot."""
        r = np.asarray(q, dtype=np.float64) * self.n
        k = np.minimum(np.searchsorted(self.cum_le, r, side="left"), len(self.knots) - 1)
        out = self.knots[k].astype(np.float64)
        between = r < self.cum_lt[k]  # in a gap between knot k-1 and knot k (sketch only)
        if between.any():
            kb = k[between]
            lo_count, hi_count = self.cum_le[kb - 1], self.cum_lt[kb]
            frac = (r[between] - lo_count) / (hi_count - lo_count)
            out[between] = self.knots[kb - 1] + frac * (self.knots[kb] - self.knots[kb - 1])
        return out

    def summary(self) -> dict[str, Any]:
        """Plain numbers for the database and the report."""
        empty = self.n == 0
        iqr = None if self.q25 is None or self.q75 is None else self.q75 - self.q25
        return {
            "kind": NUMERIC,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "n_infinite": self.n_infinite,
            "missing_share": share_of(self.n_missing, self.n_rows),
            "mean": self.mean,
            "std": self.std,
            "iqr": finite_or_none(iqr),
            "min": None if empty else float(self.knots[0]),
            "max": None if empty else float(self.knots[-1]),
            "sketch": self.sketch,
            "ks_error_bound": self.ks_error_bound,
        }


@dataclass(frozen=True, eq=False)
class CategoricalProfile:
    """One categorical column of the reference: counts per category, most frequent first."""

    n_rows: int
    n_missing: int
    categories: tuple[str, ...]
    counts: np.ndarray

    kind = CATEGORICAL

    @property
    def n(self) -> int:
        return int(self.counts.sum())

    def summary(self) -> dict[str, Any]:
        return {
            "kind": CATEGORICAL,
            "n_rows": self.n_rows,
            "n_missing": self.n_missing,
            "missing_share": share_of(self.n_missing, self.n_rows),
            "categories": dict(zip(self.categories, self.counts.tolist(), strict=True)),
        }


ColumnProfile = NumericProfile | CategoricalProfile


def fit_numeric(values: np.ndarray, exact_max: int, grid: int, psi_bins: int) -> NumericProfile:
    """Profile one numeric column: exact up to `exact_max` finite values, a sketch above."""
    n_rows = len(values)
    x, n_missing = sorted_finite(values)
    n = len(x)
    if n == 0:
        nothing, none = np.empty(0, np.float64), np.empty(0, np.int64)
        return NumericProfile(
            n_rows=n_rows,
            n_missing=n_missing,
            n_infinite=n_rows - n_missing,
            knots=nothing,
            cum_le=none,
            cum_lt=none,
            sketch=False,
            mean=None,
            std=None,
            q25=None,
            q75=None,
            psi_edges=nothing,
            psi_counts=none,
            ks_error_bound=0.0,
            wasserstein_error_bound=0.0,
        )
    sketch = n > exact_max
    if not sketch:
        last = np.flatnonzero(np.append(x[1:] != x[:-1], True))
        knots = x[last]
        cum_le = last + 1
        cum_lt = np.concatenate([[0], cum_le[:-1]])
        ks_bound = w_bound = 0.0
    else:
        # Order statistics at evenly spaced ranks: consecutive ranks differ by at most
        # ceil((n-1)/(grid-1)), so at most that minus one values fall strictly between two knots.
        ranks = np.rint(np.linspace(0, n - 1, grid)).astype(np.int64)
        picked = x[ranks]
        knots = picked[np.append(picked[1:] != picked[:-1], True)]
        cum_le = np.searchsorted(x, knots, side="right")
        cum_lt = np.searchsorted(x, knots, side="left")
        gaps = cum_lt[1:] - cum_le[:-1]  # values strictly between consecutive knots
        ks_bound = float(gaps.max() / n) if len(gaps) else 0.0
        w_bound = float(np.sum(np.diff(knots) * gaps) / n)
    mean, std = mean_std(x)
    # PSI bins: the reference's deciles (numpy's "inverted_cdf" quantiles), fitted on raw data.
    idx = np.ceil(np.arange(1, psi_bins) * n / psi_bins).astype(np.int64) - 1
    edges = x[idx]
    edges = edges[np.append(edges[1:] != edges[:-1], True)]
    psi_counts = np.diff(np.concatenate([[0], np.searchsorted(x, edges, side="right"), [n]]))
    return NumericProfile(
        n_rows=n_rows,
        n_missing=n_missing,
        n_infinite=n_rows - n_missing - n,
        knots=knots,
        cum_le=cum_le.astype(np.int64),
        cum_lt=cum_lt.astype(np.int64),
        sketch=sketch,
        mean=finite_or_none(mean),
        std=finite_or_none(std),
        q25=_sorted_quantile(x, 0.25),
        q75=_sorted_quantile(x, 0.75),
        psi_edges=edges,
        psi_counts=psi_counts.astype(np.int64),
        ks_error_bound=ks_bound,
        wasserstein_error_bound=w_bound,
    )


def _sorted_quantile(x: np.ndarray, q: float) -> float:
    """numpy's default ("linear") quantile of an already sorted array."""
    h = (len(x) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(x) - 1)
    return float(x[lo] + (h - lo) * (x[hi] - x[lo]))


def _cdf_table(prof: NumericProfile) -> tuple[np.ndarray, ...]:
    """Per-knot pieces of F~, indexed by i = (index of the last knot <= x) + 1, 0 below all.

    F~(x) = base[i] + slope[i] * (x - start[i]); the left limit at a knot is lower by drop[i];
    integral[i] is the integral of F~ from the first knot to start[i].
    """
    n, size = prof.n, len(prof.knots)
    start = np.concatenate([[0.0], prof.knots])
    base = np.concatenate([[0.0], prof.cum_le / n])
    drop = np.concatenate([[0.0], (prof.cum_le - prof.cum_lt) / n])
    slope = np.zeros(size + 1)
    integral = np.zeros(size + 1)
    if size > 1:
        width = np.diff(prof.knots)
        if prof.sketch:
            slope[1:size] = (prof.cum_lt[1:] - prof.cum_le[:-1]) / n / width
        integral[2:] = np.cumsum(width * (base[1:size] + 0.5 * slope[1:size] * width))
    return start, base, slope, drop, integral
