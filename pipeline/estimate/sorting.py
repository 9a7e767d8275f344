"""The stable sort's permutation of a vector, in less time than the merge sort takes.

Ranks, ROC-AUC sums and isotonic blocks sum rows in sorted order, rows of equal score in their
own order: the permutation must be `np.argsort(a, kind="mergesort")`'s, to the last digit of
every sum made in it. NumPy's default sort (a vectorised quicksort) takes about half the time
but leaves equal values in any order. The permutation that sorts distinct values is unique, so
the two differ only inside runs of equal values; those runs (ties, and the NaNs, which both
sorts put last) are put back in the vector's own order. When ties are many that repair costs
more than it saves, and the merge sort is taken; so it is below a few thousand values, where
the merge sort works in cache and is the faster (on this project's machine 5,000 random values
take it 0.13 ms against the quicksort's 0.16; 20,000, 1.8 ms against 0.9).

NumPy only, imported inside the function.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# Above this share of rows in runs of equal values, the merge sort itself is cheaper.
_MOST_TIED = 0.1
# Below this many values the merge sort itself is (it stays in the processor's cache).
_MERGE_BELOW = 8_000


def stable_argsort(a: np.ndarray, *, merge_below: int = _MERGE_BELOW) -> np.ndarray:
    """The permutation `np.argsort(a, kind="mergesort")` gives, for a 1-d array `a` (by the
    merge sort itself below `merge_below` values)."""
    import numpy as np

    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind not in "fiu" or len(a) < max(2, merge_below):
        return np.argsort(a, kind="mergesort")
    order = np.argsort(a)
    s = a[order]
    same = s[1:] == s[:-1]
    if a.dtype.kind == "f" and np.isnan(s[-1]):
        same |= np.isnan(s[:-1]) & np.isnan(s[1:])  # the NaNs: one run, as the merge sort's
    if not same.any():
        return order
    in_run = np.r_[same, False] | np.r_[False, same]
    at = np.flatnonzero(in_run)
    if len(at) > _MOST_TIED * len(a):
        return np.argsort(a, kind="mergesort")
    run = np.cumsum(np.r_[True, ~same])[at]  # which run each tied position is in
    rows = order[at]
    order[at] = rows[np.lexsort((rows, run))]
    return order
