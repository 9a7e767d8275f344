"""Diagnostics of a run: summary statistics, missing values, library versions, outdated packages.

`library_versions` lives in `pipeline.infra.versions` (the registry records it too, and must not
import the report) and `OutdatedPackages` (pip's cached answer) in `pipeline.infra.outdated` (the
refresh it starts runs without pandas); both are re-exported here with the run's other
diagnostics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.infra.outdated import OutdatedPackages
from pipeline.infra.versions import library_versions

__all__ = ["OutdatedPackages", "library_versions", "missing_values", "summary_stats"]


def summary_stats(frame: pd.DataFrame, numeric: Sequence[str], dataset: str) -> list[dict]:
    """Mean, median, std, min, max and count of each numeric column (missing values skipped;
    a column `frame` lacks, one its contract does not require, has none: a count of 0)."""
    rows = []
    for col in numeric:
        if col not in frame.columns:
            values = np.empty(0)
        else:
            values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        has = len(values) > 0
        rows.append(
            {
                "dataset": dataset,
                "column_name": col,
                "count": len(values),
                "mean": float(values.mean()) if has else None,
                "median": float(np.median(values)) if has else None,
                "std": float(values.std(ddof=1)) if len(values) > 1 else None,
                "min": float(values.min()) if has else None,
                "max": float(values.max()) if has else None,
            }
        )
    return rows


def missing_values(frame: pd.DataFrame, columns: Sequence[str], dataset: str) -> list[dict]:
    """Each column's missing values in `frame`: a column it lacks (one its contract does not
    require) is missing in every row."""
    n = len(frame)
    present = [c for c in columns if c in frame.columns]
    counts = frame[present].isna().sum().reindex(list(columns), fill_value=n)
    return [
        {
            "dataset": dataset,
            "column_name": col,
            "missing": int(counts[col]),
            "rows": n,
            "share": float(counts[col] / n) if n else 0.0,
        }
        for col in columns
    ]
