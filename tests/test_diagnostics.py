"""Diagnostics: summary statistics, missing values, and pip's answer or 'unknown' in time."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.infra import versions
from pipeline.report import diagnostics

REPO = Path(__file__).resolve().parent.parent


def test_summary_stats_skip_missing_and_match_pandas():
    frame = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0, np.inf], "b": [np.nan] * 5})
    a, b = diagnostics.summary_stats(frame, ["a", "b"], "new")
    finite = pd.Series([1.0, 2.0, 4.0])
    assert a == {
        "dataset": "new",
        "column_name": "a",
        "count": 3,
        "mean": pytest.approx(finite.mean()),
        "median": 2.0,
        "std": pytest.approx(finite.std()),
        "min": 1.0,
        "max": 4.0,
    }
    assert b["count"] == 0 and b["mean"] is None and b["std"] is None


def test_missing_values_count_and_share():
    frame = pd.DataFrame({"a": [1, None, 3, None], "b": ["x", "y", None, "z"]})
    rows = {r["column_name"]: r for r in diagnostics.missing_values(frame, ["a", "b"], "test")}
    assert (rows["a"]["missing"], rows["a"]["share"]) == (2, 0.5)
    assert (rows["b"]["missing"], rows["b"]["rows"], rows["b"]["share"]) == (1, 4, 0.25)
    assert diagnostics.missing_values(frame.iloc[:0], ["a"], "new")[0]["share"] == 0.0


def test_outdated_packages_give_up_in_time(monkeypatch: pytest.MonkeyPatch):
    # A pip that never answers (no network, a hung index) must not hold the run up.
    monkeypatch.setattr(diagnostics.OutdatedPackages, "_command", lambda self: ["/bin/sleep", "30"])
    t0 = time.monotonic()
    check = diagnostics.OutdatedPackages(timeout=0.5)
    assert check.result() == "unknown"
    assert time.monotonic() - t0 < 10


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["/bin/false"], "unknown"),
        (["/bin/echo", "not json"], "unknown"),
        (
            ["/bin/echo", '[{"name": "numpy", "version": "1.0", "latest_version": "2.0"}]'],
            [{"name": "numpy", "installed": "1.0", "latest": "2.0"}],
        ),
        (["/nonexistent/pip"], "unknown"),
    ],
)
def test_outdated_packages_parse_pips_answer(monkeypatch: pytest.MonkeyPatch, command, expected):
    monkeypatch.setattr(diagnostics.OutdatedPackages, "_command", lambda self: command)
    assert diagnostics.OutdatedPackages(timeout=10).result() == expected


def test_library_versions_name_the_stack():
    versions = diagnostics.library_versions()
    assert versions["python"].count(".") == 2
    assert versions["scikit-learn"] and versions["pandas"]
    assert not any(isinstance(v, float) and math.isnan(v) for v in versions.values())


def test_library_versions_live_in_infra_and_need_no_library():
    code = (
        "import sys\n"
        "from pipeline.infra.versions import LIBRARIES, library_versions\n"
        "versions = library_versions()\n"
        "assert list(versions) == ['python', *LIBRARIES], versions\n"
        "heavy = {'pandas', 'numpy', 'sklearn', 'flask'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert diagnostics.library_versions is versions.library_versions
