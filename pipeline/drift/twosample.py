"""Two-sample statistics between a reference profile's column and a new batch.

Numeric: two-sample Kolmogorov-Smirnov, p-value as `scipy.stats.ks_2samp` (method "auto")
computes it: exact distribution when both sides have <= 10,000 values (delegated to scipy
itself on the stored values), otherwise ``kstwo.sf(D, round(n*m/(n+m)))``, with scipy's
algorithm ported (see `special.kstwo_sf`) so that large batches need no scipy at all; and the
Wasserstein-1 distance, computed together with KS from the profile's CDF in one pass.
Categorical: chi-square test of homogeneity on the 2 x K table over the union of categories,
without Yates' correction, also for 2 x 2, where it is exactly the pooled two-proportion
z-test (z**2 = chi2, same p-value); Jensen-Shannon distance (base 2). Both: the population
stability index (PSI). Pure computation on numpy (scipy only for small exact KS tests).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from pipeline.drift.column_profile import NumericProfile
from pipeline.drift.special import chi2_sf, ks_pvalue

# scipy.stats.ks_2samp's method="auto" uses the exact distribution up to this many values a side.
KS_EXACT_MAX_N = 10_000


def _antiderivative(prof: NumericProfile, x: np.ndarray) -> np.ndarray:
    """Integral of F~ from -infinity to x."""
    start, base, slope, _, integral = prof.cdf_table
    i = np.searchsorted(prof.knots, x, side="right")
    dx = np.where(i > 0, x - start[i], 0.0)
    return integral[i] + dx * (base[i] + 0.5 * slope[i] * dx)


def _cdf_at(prof: NumericProfile, u: np.ndarray) -> tuple[np.ndarray, ...]:
    """F~ at sorted distinct new values u, and where the knots sit among them.

    Returns (F~(u), positions p where u[p] is a knot, those knots' indexes, intervals p whose
    open span (u[p], u[p+1]) holds a knot). Costs O(len(u) + knots) when u is the longer (the
    knots' pieces are repeated over the new values they cover), O(len(u) log knots) otherwise.
    """
    knots, size = prof.knots, len(u)
    start, base, slope, _, _ = prof.cdf_table
    if len(knots) >= size:
        i = np.searchsorted(knots, u, side="right")  # knots <= u[p]
        on = np.flatnonzero((i > 0) & (knots[np.maximum(i - 1, 0)] == u))
        ends_on_knot = np.zeros(size, dtype=bool)
        ends_on_knot[on] = True
        split = np.flatnonzero(i[1:] - ends_on_knot[1:] > i[:-1])
        right = base[i]
        if prof.sketch:
            right += slope[i] * (u - start[i])
        return right, on, i[on] - 1, split
    below = np.searchsorted(u, knots, side="left")  # knot k lies in (u[below-1], u[below]]
    hit = np.flatnonzero(below < size)
    hit = hit[u[below[hit]] == knots[hit]]
    inside = np.ones(len(knots), dtype=bool)
    inside[hit] = False
    inside &= (below > 0) & (below < size)
    split = np.unique(below[inside]) - 1
    per_piece = np.diff(np.concatenate([[0], below, [size]]))
    right = np.repeat(base, per_piece)
    if prof.sketch:
        step = u - np.repeat(start, per_piece)
        step *= np.repeat(slope, per_piece)
        right += step
    return right, below[hit], hit, split


def _dot(x: np.ndarray, y: np.ndarray) -> float:
    """Inner product without BLAS: OpenBLAS would spin up threads for a single pass."""
    return float(np.einsum("i,i->", x, y))


def _mean_abs(a: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Mean of |y| over an interval where y goes linearly from a to c."""
    total = np.abs(a) + np.abs(c)
    out = total * 0.5
    cross = (np.signbit(a) != np.signbit(c)) & (total > 0)
    # y changes sign inside: two triangles, (a^2 + c^2) / (2 (|a| + |c|))
    out[cross] = (a[cross] ** 2 + c[cross] ** 2) / (2 * total[cross])
    return out


def ks_wasserstein(prof: NumericProfile, b: np.ndarray) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 distance between the profile's F~ and sorted values b.

    F~ is non-decreasing and G is flat between consecutive new values, so |F~ - G| peaks at a new
    value (right value or left limit): the sup needs F~ at the new values only. For the integral,
    an interval between two new values with no knot inside has F~ linear (a trapezoid, or two
    triangles when F~ - G changes sign); one with knots inside is split where F~ crosses G (one
    crossing at most, F~ being monotone) and integrated with F~'s antiderivative. The cost is
    O(new values + knots), or O(new values x log knots) when the knots outnumber them. On the
    exact path F~ is the empirical CDF and both statistics equal scipy's to rounding.
    """
    m = len(b)
    distinct = b[1:] != b[:-1]
    if distinct.all():  # continuous data: no gather
        u = b
        g = np.arange(1, m + 1, dtype=np.float64)
        g /= m
    else:
        last = np.flatnonzero(np.append(distinct, True))
        u, g = b[last], (last + 1) / m
    right, on, which, split = _cdf_at(prof, u)
    jump = prof.cdf_table[3][which + 1]  # at a new value that is a knot, F~ jumps by its mass
    a_all = right - g  # F~ - G at u[p]
    c = right[1:] - g[:-1]  # F~ - G just left of u[p+1]
    later = on > 0
    c[on[later] - 1] -= jump[later]
    first_left = float(right[0] - jump[~later].sum())
    ks = max(float(a_all.max()), -float(a_all.min()), abs(first_left))
    if len(c):
        ks = max(ks, float(c.max()), -float(c.min()))
    a = a_all[:-1]
    width = np.diff(u)
    width[split] = 0.0  # intervals with a knot inside are done below, exactly
    abs_a = np.abs(a)
    if prof.sketch:
        abs_c = np.abs(c)
        w1 = 0.5 * _dot(abs_a + abs_c, width)
        cross = np.flatnonzero(a * c < 0)
        if len(cross):  # F~ - G changes sign inside: two triangles, not a trapezoid
            exact = _mean_abs(a[cross], c[cross])
            w1 -= _dot(0.5 * (abs_a[cross] + abs_c[cross]) - exact, width[cross])
    else:  # F~ is flat between new values when no knot is inside (and then c == a)
        w1 = _dot(abs_a, width)
    lo, hi, level = u[split], u[split + 1], g[split]
    middle = np.clip(prof.quantile(level), lo, hi)  # F~ <= level before it, >= level after
    at_lo, at_mid, at_hi = np.split(_antiderivative(prof, np.concatenate([lo, middle, hi])), 3)
    w1 += float(np.sum(level * (middle - lo) - (at_mid - at_lo)))
    w1 += float(np.sum((at_hi - at_mid) - level * (hi - middle)))
    # Tails: G = 0 before the first new value, 1 after the last; F~ is 1 from the last knot.
    top = float(prof.knots[-1])
    at_first, at_last, at_top = _antiderivative(prof, np.array([u[0], u[-1], max(top, u[-1])]))
    w1 += float(at_first) + max(top - float(u[-1]), 0.0) - float(at_top - at_last)
    return ks, w1


def ks_test(prof: NumericProfile, b: np.ndarray, d: float) -> tuple[float, float, str]:
    """(statistic, p-value, method): scipy's own exact test when its "auto" would use it."""
    if max(prof.n, len(b)) <= KS_EXACT_MAX_N and not prof.sketch:
        from scipy import stats

        a = np.repeat(prof.knots, prof.cum_le - prof.cum_lt)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = stats.ks_2samp(a, b)
        fell_back = any("Switching to" in str(w.message) for w in caught)
        return float(res.statistic), float(res.pvalue), "asymp" if fell_back else "exact"
    return d, ks_pvalue(d, prof.n, len(b)), "asymp"


def population_stability(p_ref: np.ndarray, p_new: np.ndarray, epsilon: float) -> float:
    """PSI between two share vectors; a share below `epsilon` counts as `epsilon`."""
    p_ref = np.maximum(p_ref, epsilon)
    p_new = np.maximum(p_new, epsilon)
    return float(np.sum((p_new - p_ref) * np.log(p_new / p_ref)))


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance, base 2, between two count or probability vectors."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.sum(np.where(p > 0, p * np.log2(p / m), 0.0))
        kl_q = np.sum(np.where(q > 0, q * np.log2(q / m), 0.0))
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def chi2_homogeneity(ref_counts: np.ndarray, new_counts: np.ndarray) -> tuple[float, int, float]:
    """(chi2, dof, p) of the 2 x K table, no continuity correction; categories empty on both
    sides are dropped. Equals scipy.stats.chi2_contingency(table, correction=False)."""
    table = np.vstack([ref_counts, new_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    stat = float(np.sum((table - expected) ** 2 / expected))
    dof = table.shape[1] - 1
    return stat, dof, chi2_sf(stat, dof) if dof > 0 else 1.0
