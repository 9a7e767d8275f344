"""The shares the report plots for a drift column (pipeline.drift.shares)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.drift.column_profile import CategoricalProfile, fit_numeric
from pipeline.drift.shares import distribution


def test_numeric_shares_on_the_profile_psi_bins() -> None:
    reference = np.arange(100, dtype=np.float64)
    prof = fit_numeric(reference, exact_max=1000, grid=101, psi_bins=4)
    new = np.array([-5.0, 0.0, 99.0, 200.0, np.nan, np.inf])  # non-finite values are left out
    out = distribution(prof, new)
    edges = prof.psi_edges
    assert len(out["labels"]) == len(edges) + 1
    assert out["labels"][0] == f"≤ {edges[0]:.4g}"
    assert out["labels"][-1] == f"> {edges[-1]:.4g}"
    assert sum(out["reference"]) == pytest.approx(1.0)
    assert sum(out["current"]) == pytest.approx(1.0)
    # Four finite new values: each is a quarter of the new data.
    assert all(v in (0.0, 0.25, 0.5, 0.75, 1.0) for v in out["current"])


def test_categorical_shares_keep_the_reference_categories_first() -> None:
    prof = CategoricalProfile(
        n_rows=10, n_missing=0, categories=("a", "b"), counts=np.array([6, 4], dtype=np.int64)
    )
    new = np.array(["b", "b", "c", None], dtype=object)
    out = distribution(prof, new)
    assert out["labels"] == ["a", "b", "c"]
    assert out["reference"] == [0.6, 0.4, 0.0]
    assert out["current"] == [0.0, round(2 / 3, 6), round(1 / 3, 6)]


def test_categorical_shares_show_at_most_top_categories() -> None:
    prof = CategoricalProfile(
        n_rows=3, n_missing=0, categories=("x",), counts=np.array([3], dtype=np.int64)
    )
    new = np.array(["p", "q", "q", "r", "r", "r"], dtype=object)
    out = distribution(prof, new, top=2)
    assert out["labels"] == ["x", "r"]  # the reference's first, then the new data's most frequent
    assert out["current"] == [0.0, 1.0]  # shares of the plotted categories only
