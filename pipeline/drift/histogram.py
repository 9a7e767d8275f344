"""One column's reference and recent distributions on the same bins, for the feature page
(`/drift/<feature>`, issue 13): recorded by `step` with each drift result, so the page reads a
few hundred bytes per run and never the data.

Numeric: equal-width bins whose edges are shared by both sides. They span every value of
either side but the outliers: a value more than `FENCE` central ranges (from the lower `tail`
quantile of either side to the upper one of either) beyond the central range, so that one wild
value cannot squeeze every other value into one bar. The outliers are counted in an open bin
("< lo", "> hi") that is kept only when it holds something. The
reference is counted from its profile's CDF knots (exact up to the profile's `exact_max`
values; on the sketch path interpolated between the knots, so a bin is off by at most
n x `ks_error_bound` rows on each edge, and the document says `approximate`); the recent side
from its values, with no sort. Bins are [a, b), the last inner one [a, b].

Categorical: the `top` categories by the sum of their shares on the two sides, the rest grouped
as "others" (with how many categories it groups), so a column of a million distinct values
stores `top` + 1 numbers a side.

On both, the missing values (NaN, None; and the infinite ones of a numeric column) are a count
of their own, and each side's shares are over all its rows, so bars and missing add up to 1.
A side with no profile (a column the reference does not have) or no values (a column missing
from the new data) is None. Pure: numpy, and pandas only when the caller has it loaded.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.drift.column_profile import CategoricalProfile, NumericProfile
from pipeline.drift.columns import NUMERIC, category_counts

if TYPE_CHECKING:
    from pipeline.drift.column_profile import ColumnProfile

BINS = 20  # inner bins of a numeric histogram
TOP = 10  # categories shown by name; the others are grouped
TAIL = 0.005  # the central range: from the lower to the upper TAIL quantile of either side
FENCE = 0.5  # a value further than this many central ranges beyond it is an outlier


def histogram(
    kind: str,
    profile: ColumnProfile | None,
    values: np.ndarray | None,
    *,
    bins: int = BINS,
    top: int = TOP,
    tail: float = TAIL,
    counted: tuple[list[str], np.ndarray, int] | None = None,
) -> dict[str, Any] | None:
    """The column's document for the page, or None when neither side has a row. `counted`:
    a categorical column's `category_counts(values)` when the caller has it already."""
    if kind == NUMERIC:
        numeric = profile if isinstance(profile, NumericProfile) else None
        return numeric_histogram(numeric, values, bins=bins, tail=tail)
    categorical = profile if isinstance(profile, CategoricalProfile) else None
    return category_shares(categorical, values, top=top, counted=counted)


def _finite(values: np.ndarray | None) -> tuple[np.ndarray | None, int]:
    if values is None:
        return None, 0
    x = np.asarray(values, dtype=np.float64)
    finite = x[np.isfinite(x)]
    return finite, len(x) - len(finite)


def _bounds(
    profile: NumericProfile | None, x: np.ndarray | None, tail: float
) -> tuple[float, float] | None:
    """The inner range: from the least to the greatest value of either side within the fences
    (half the central range beyond it); the whole range when the central one is one value."""
    sides: list[np.ndarray] = []  # each side's sorted distinct values, or a sample of them
    central: list[tuple[float, float]] = []
    if profile is not None and profile.n:
        sides.append(profile.knots)
        q = profile.quantile([tail, 1 - tail])
        central.append((float(q[0]), float(q[1])))
    if x is not None and len(x):
        lo_q, hi_q = np.quantile(x, [tail, 1 - tail], method="inverted_cdf")
        sides.append(x)
        central.append((float(lo_q), float(hi_q)))
    if not sides:
        return None
    lo, hi = min(c[0] for c in central), max(c[1] for c in central)
    if hi <= lo:
        return min(float(s.min()) for s in sides), max(float(s.max()) for s in sides)
    low, high = lo - FENCE * (hi - lo), hi + FENCE * (hi - lo)
    inside = [s[(s >= low) & (s <= high)] for s in sides]
    return min(float(s.min()) for s in inside if len(s)), max(
        float(s.max()) for s in inside if len(s)
    )


def edges_for(
    profile: NumericProfile | None, values: np.ndarray | None, bins: int = BINS, tail: float = TAIL
) -> np.ndarray | None:
    """The shared bin edges, increasing (one edge when every value is the same)."""
    bounds = _bounds(profile, _finite(values)[0], tail)
    if bounds is None:
        return None
    lo, hi = bounds
    if hi <= lo:
        return np.array([lo])
    edges = np.linspace(lo, hi, bins + 1)
    return edges[np.append(edges[1:] != edges[:-1], True)]  # a subnormal range: no empty bins


def _counts_from(lt: np.ndarray, le: np.ndarray, n: int) -> np.ndarray:
    """[below, inner bins..., above] from the counts below (lt) and up to (le) each edge."""
    # A single edge is one bin, [v, v].
    inner = le - lt if len(lt) == 1 else np.append(np.diff(lt)[:-1], le[-1] - lt[-2])
    return np.concatenate([[lt[0]], inner, [n - le[-1]]]).astype(np.int64)


def profile_counts(profile: NumericProfile, edges: np.ndarray) -> np.ndarray:
    """The reference's finite values per bin, from its CDF knots."""
    n = profile.n
    if n == 0:
        return np.zeros(len(edges) + 1 + (len(edges) == 1), dtype=np.int64)
    le = np.rint(n * profile.cdf(edges)).astype(np.int64)
    k = np.minimum(np.searchsorted(profile.knots, edges, side="left"), len(profile.knots) - 1)
    ties = np.where(profile.knots[k] == edges, profile.cum_le[k] - profile.cum_lt[k], 0)
    return _counts_from(le - ties, le, n)


def value_counts(x: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Finite values per bin, with no sort: one binary search per value among the edges."""
    m = len(edges) + 1
    lt = np.cumsum(np.bincount(np.searchsorted(edges, x, side="right"), minlength=m))[:-1]
    le = np.cumsum(np.bincount(np.searchsorted(edges, x, side="left"), minlength=m))[:-1]
    return _counts_from(lt, le, len(x))


def _labels(edges: np.ndarray) -> list[str]:
    """'< lo', 'a - b' (with an en dash) per inner bin, '> hi'; with as many digits as it
    takes to tell the edges apart."""
    digits = 4
    while digits < 17 and len({f"{e:.{digits}g}" for e in edges}) < len(edges):
        digits += 1
    text = [f"{e:.{digits}g}" for e in edges]
    inner = [text[0]] if len(text) == 1 else [f"{a} – {b}" for a, b in itertools.pairwise(text)]
    return [f"< {text[0]}", *inner, f"> {text[-1]}"]


def numeric_histogram(
    profile: NumericProfile | None,
    values: np.ndarray | None,
    *,
    bins: int = BINS,
    tail: float = TAIL,
) -> dict[str, Any] | None:
    """Both sides on the same equal-width bins, with their missing counts."""
    if bins < 1 or not 0 <= tail < 0.5:
        raise ValueError(f"bins must be at least 1 and tail in [0, 0.5), got {bins} and {tail}")
    x, new_missing = _finite(values)
    edges = edges_for(profile, values, bins, tail)
    ref = cur = None
    if profile is not None:
        ref = profile_counts(profile, edges) if edges is not None else np.zeros(0, np.int64)
    if x is not None:
        cur = value_counts(x, edges) if edges is not None else np.zeros(0, np.int64)
    if profile is None and values is None:
        return None
    labels = _labels(edges) if edges is not None else []
    # The open bins are kept only when a side has a value in them.
    keep = [True] * len(labels)
    if labels:
        sides = [s for s in (ref, cur) if s is not None]
        keep[0] = any(int(s[0]) for s in sides)
        keep[-1] = any(int(s[-1]) for s in sides)
    return {
        "kind": NUMERIC,
        "edges": [] if edges is None else [float(e) for e in edges],
        "labels": [label for label, k in zip(labels, keep, strict=True) if k],
        "reference": _side(ref, keep, None if profile is None else profile.n_rows - profile.n),
        "current": _side(cur, keep, None if values is None else new_missing),
        "approximate": bool(profile is not None and profile.sketch),
    }


def _side(counts: np.ndarray | None, keep: Sequence[bool], missing: int | None) -> Any:
    if counts is None or missing is None:
        return None
    kept = [int(c) for c, k in zip(counts.tolist(), keep, strict=False) if k]
    return {"counts": kept, "missing": int(missing), "rows": sum(kept) + int(missing)}


def category_shares(
    profile: CategoricalProfile | None,
    values: np.ndarray | None,
    *,
    top: int = TOP,
    counted: tuple[list[str], np.ndarray, int] | None = None,
) -> dict[str, Any] | None:
    """The `top` categories by their summed shares on the two sides, the rest as others."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    if profile is None and values is None:
        return None
    ref = (
        None
        if profile is None
        else dict(zip(profile.categories, profile.counts.tolist(), strict=True))
    )
    cur: dict[str, int] | None = None
    new_missing = 0
    if values is not None:
        cats, counts, new_missing = category_counts(values) if counted is None else counted
        cur = dict(zip(cats, counts.tolist(), strict=True))
    shown = _top(ref or {}, cur or {}, top)
    return {
        "kind": "categorical",
        "labels": shown,
        "others": len((ref or {}).keys() | (cur or {}).keys()) - len(shown),
        "reference": _shares_of(ref, shown, None if profile is None else profile.n_missing),
        "current": _shares_of(cur, shown, None if values is None else new_missing),
        "approximate": False,
    }


def _top(ref: Mapping[str, int], cur: Mapping[str, int], top: int) -> list[str]:
    """The `top` heaviest categories by summed shares, ties by name (the same order on every
    run of the same data); vectorised, as a column may have a million of them."""
    names = list(ref) + [c for c in cur if c not in ref]
    if len(names) <= top:
        chosen = names
    else:
        ref_n, cur_n = sum(ref.values()) or 1, sum(cur.values()) or 1
        weight = np.zeros(len(names))
        weight[: len(ref)] = np.fromiter(ref.values(), np.float64, len(ref)) / ref_n
        weight += np.fromiter((cur.get(c, 0) for c in names), np.float64, len(names)) / cur_n
        cut = np.partition(weight, len(names) - top)[len(names) - top]  # the top-th weight
        above = [names[i] for i in np.flatnonzero(weight > cut)]
        tied = heapq.nsmallest(top - len(above), (names[i] for i in np.flatnonzero(weight == cut)))
        chosen = above + tied
    total = {c: ref.get(c, 0) / (sum(ref.values()) or 1) + cur.get(c, 0) / (sum(cur.values()) or 1)
             for c in chosen}  # fmt: skip
    return sorted(chosen, key=lambda c: (-total[c], c))


def _shares_of(counts: Mapping[str, int] | None, shown: Sequence[str], missing: int | None) -> Any:
    if counts is None or missing is None:
        return None
    kept = [int(counts.get(c, 0)) for c in shown]
    total = sum(counts.values())
    return {"counts": kept, "others": total - sum(kept), "missing": int(missing),
            "rows": total + int(missing)}  # fmt: skip
