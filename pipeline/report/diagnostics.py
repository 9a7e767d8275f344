"""Diagnostics of a run: summary statistics, missing values, library versions, outdated packages.

`library_versions` lives in `pipeline.infra.versions` (the registry records it too, and must not
import the report); it is re-exported here with the run's other diagnostics.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from pipeline.infra.versions import library_versions

__all__ = ["OutdatedPackages", "library_versions", "missing_values", "summary_stats"]


def summary_stats(frame: pd.DataFrame, numeric: Sequence[str], dataset: str) -> list[dict]:
    """Mean, median, std, min, max and count of each numeric column (missing values skipped)."""
    rows = []
    for col in numeric:
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
    n = len(frame)
    counts = frame[list(columns)].isna().sum()
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


class OutdatedPackages:
    """`pip list --outdated`, started in the background so it never holds up a run."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._started = time.monotonic()
        self._proc: subprocess.Popen[str] | None = None
        try:
            self._proc = subprocess.Popen(
                self._command(),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except OSError:
            self._proc = None

    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "pip", "list", "--outdated", "--format", "json",
            "--disable-pip-version-check", "--timeout", str(max(1, int(self.timeout))),
            "--retries", "0",
        ]  # fmt: skip

    def result(self) -> list[dict[str, str]] | str:
        """The outdated packages, or "unknown" when pip could not tell in time (offline)."""
        if self._proc is None:
            return "unknown"
        remaining = max(0.0, self.timeout - (time.monotonic() - self._started))
        try:
            out, _ = self._proc.communicate(timeout=remaining)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            return "unknown"
        if self._proc.returncode != 0:
            return "unknown"
        try:
            items = json.loads(out)
        except json.JSONDecodeError:
            return "unknown"
        return [
            {"name": i["name"], "installed": i["version"], "latest": i["latest_version"]}
            for i in items
        ]
