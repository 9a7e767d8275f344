"""The stable sort's permutation of a vector, in less time than the merge sort takes.

Ranks, ROC-AUC sums and isotonic blocks sum rows in sorted order, rows of equal score in their
own order: the permutation must be `np.argsort(a, kind="mergesort")`'s, to the last digit of
every sum made in it. NumPy's default sort (a vectorised quicksort) takes about half the time
but leaves equal values in any order. The permutation that sorts distinct values is unique, so
the two differ only inside runs of equal values; those runs (ties, and the NaNs, which both
sorts put last) are put back in the vector's own order. When ties are many that repair costs
more than it saves, and the merge sort is taken: when a few hundred of the rows spread evenly
through the vector already hold equal values, or when more than a tenth of all rows turn out
tied. On this project's machine (20 different vectors, best of 9) the merge sort takes 0.32 ms
for 5,000 distinct values and this 0.24 ms; for 20,000, 3.3 ms and 1.0 ms; below about 1,000
values they are alike, and the merge sort is taken.

NumPy only, imported inside the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Above this share of rows in runs of equal values, the merge sort itself is cheaper.
_MOST_TIED = 0.1
# Below this many values the merge sort is as fast.
_MERGE_BELOW = 1_000
# Rows looked at first: when even these hold equal values, ties are many (the merge sort).
_PROBE = 256


def stable_argsort(a: np.ndarray, *, merge_below: int = _MERGE_BELOW) -> np.ndarray:
    """The permutation `np.argsort(a, kind="mergesort")` gives, for a 1-d array `a` (by the
    merge sort itself below `merge_below` values)."""
    import numpy as np

    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "fiu" or len(a) < max(2, merge_below):
        return np.argsort(a, kind="mergesort")
    probe = np.sort(a[:: max(1, len(a) // _PROBE)])
    if np.any(probe[1:] == probe[:-1]):  # ties even among a few hundred rows: many of them
        return np.argsort(a, kind="mergesort")
    order = np.argsort(a)
    s = a[order]
    same = s[1:] == s[:-1]
    if a.dtype.kind == "f" and np.isnan(s[-1]):
        same |= np.isnan(s[:-1]) & np.isnan(s[1:])  # the NaNs: one run, as the merge sort's
    if not same.any():
        return order
    in_run = np.zeros(len(a), dtype=bool)  # the positions in a run of two or more
    in_run[:-1] |= same
    in_run[1:] |= same
    at = np.flatnonzero(in_run)
    if len(at) > _MOST_TIED * len(a):
        return np.argsort(a, kind="mergesort")
    # Each tied row keyed by its run, then its index: one sort of distinct keys puts every
    # run's rows in their own order (the runs are in sorted order already).
    n = len(a)
    run = np.zeros(n, dtype=np.int64)  # which run of equal values each position is in
    np.cumsum(~same, out=run[1:])
    key = np.sort(run[at] * n + order[at])
    order[at] = key % n
    return order
