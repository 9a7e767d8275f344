"""The shares the report plots for one column: reference and new, on the profile's PSI bins
(numeric) or its top categories; recorded by `step` with each drift result.

numpy and pandas are imported inside: the step calls it with both loaded.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from pipeline.drift.column_profile import ColumnProfile


def distribution(
    prof: ColumnProfile,
    values: np.ndarray,
    top: int = 12,
    *,
    counted: tuple[list[str], np.ndarray, int] | None = None,
) -> dict[str, Any]:
    """Reference and new shares on the profile's PSI bins or top categories, for the plots.

    `counted`: `columns.category_counts(values)` when the caller has it already (the step
    counts a categorical column once for this and its histogram); counted here otherwise. The
    new categories beyond the profile's are the most frequent, ties by name."""
    import numpy as np

    from pipeline.drift.column_profile import NumericProfile

    if isinstance(prof, NumericProfile):
        x = np.asarray(values, dtype="float64")
        x = x[np.isfinite(x)]
        edges = prof.psi_edges
        new = np.bincount(np.searchsorted(edges, x, side="left"), minlength=len(edges) + 1)
        ref = prof.psi_counts
        if not len(edges):  # no value in the reference (a column missing in every row): one bin
            labels = ["all values"]
            ref = np.asarray(ref, dtype=float)[:1] if len(ref) else np.zeros(1)
        else:
            labels = (
                ["≤ " + f"{edges[0]:.4g}"]
                + [f"{a:.4g} – {b:.4g}" for a, b in itertools.pairwise(edges)]
                + ["> " + f"{edges[-1]:.4g}"]
            )
    else:
        from pipeline.drift.columns import category_counts

        names, numbers, _ = category_counts(values) if counted is None else counted
        counts = dict(zip(names, numbers.tolist(), strict=True))
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        cats = list(prof.categories[:top])
        cats += [c for c, _ in ordered[:top] if c not in cats][: max(0, top - len(cats))]
        known = dict(zip(prof.categories, prof.counts.tolist(), strict=True))
        ref = np.array([known.get(c, 0) for c in cats], dtype=float)
        new = np.array([counts.get(c, 0) for c in cats], dtype=float)
        labels = cats
    ref_total, new_total = float(np.sum(ref)) or 1.0, float(np.sum(new)) or 1.0
    return {
        "labels": labels,
        "reference": [round(float(v) / ref_total, 6) for v in ref],
        "current": [round(float(v) / new_total, 6) for v in new],
    }
