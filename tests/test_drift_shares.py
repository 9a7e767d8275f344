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


def test_new_categories_tied_in_count_are_taken_by_name() -> None:
    prof = CategoricalProfile(
        n_rows=3, n_missing=0, categories=("x",), counts=np.array([3], dtype=np.int64)
    )
    for order in (["q", "p", "r"], ["r", "q", "p"]):  # whichever comes first in the file
        out = distribution(prof, np.array(order * 2, dtype=object), top=3)
        assert out["labels"] == ["x", "p", "q"]


def test_counts_given_by_the_caller_give_what_counting_here_gives() -> None:
    from pipeline.drift.columns import category_counts

    prof = CategoricalProfile(
        n_rows=10, n_missing=1, categories=("a", "b"), counts=np.array([6, 3], dtype=np.int64)
    )
    rng = np.random.default_rng(7)
    new = rng.choice(np.array(["a", "b", "c", "d", "e", None], dtype=object), size=500)
    assert distribution(prof, new, top=4, counted=category_counts(new)) == distribution(
        prof, new, top=4
    )


def test_the_drift_step_counts_a_categorical_column_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test, the report's shares and the feature page's histogram come from one count of
    the column's categories (at a million rows, a count is about a tenth of a second)."""
    from pipeline.drift import columns, decision, histogram, step
    from pipeline.drift.profile import ReferenceProfile

    ref = {"industry": np.array(["a", "b", "a", "c"] * 50, dtype=object)}
    new = {"industry": np.array(["a", "d", "d", None] * 50, dtype=object)}
    profile = ReferenceProfile().fit(ref)
    calls: list[int] = []
    counting = columns.category_counts

    def counted(values: object) -> object:
        calls.append(1)
        return counting(values)  # type: ignore[arg-type]

    for module in (columns, decision, histogram):  # each one's own name for it
        monkeypatch.setattr(module, "category_counts", counted)
    seen: dict = {}
    result = decision.detect(profile, new, counted=seen)
    assert calls == [1] and set(seen) == {"industry"}
    written: list[dict] = []
    monkeypatch.setattr(step.writes, "record_rows", lambda _e, _t, _r, rows: written.extend(rows))
    step._record_columns(None, "r" * 32, profile, result, new, seen)  # type: ignore[arg-type]
    assert calls == [1]
    (row,) = written
    assert row["details"]["distribution"]["labels"][:3] == ["a", "b", "c"]
    assert row["details"]["histogram"]["current"]["missing"] == 50
    step._record_columns(None, "r" * 32, profile, result, new)  # type: ignore[arg-type]
    assert calls == [1, 1]  # without the test's counts: counted once here
    assert written[1]["details"] == row["details"]
