"""The feature page's distributions (pipeline.drift.histogram): both sides on the same edges,
counted exactly from the profile's knots, the open bins, the missing values, the categories'
top and others, and the sides that are not there; on small literal data."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.drift.column_profile import CategoricalProfile, fit_numeric
from pipeline.drift.histogram import (
    category_shares,
    edges_for,
    histogram,
    numeric_histogram,
    profile_counts,
    value_counts,
)

NAN, INF = float("nan"), float("inf")


def _profile(values: list[float], exact_max: int = 1000, grid: int = 101):
    return fit_numeric(np.array(values, dtype=np.float64), exact_max, grid, psi_bins=4)


def test_both_sides_share_the_edges_and_count_left_closed_bins() -> None:
    prof = _profile([1, 2, 2, 3, 4, 5, NAN])
    doc = numeric_histogram(prof, np.array([2.0, 2, 6, INF, NAN]), bins=4, tail=0)
    assert doc is not None
    assert doc["edges"] == [1.0, 2.25, 3.5, 4.75, 6.0]  # from both sides' least to greatest
    assert doc["labels"] == ["1 – 2.25", "2.25 – 3.5", "3.5 – 4.75", "4.75 – 6"]
    # [1, 2.25): 1, 2, 2 | [2.25, 3.5): 3 | [3.5, 4.75): 4 | [4.75, 6]: 5; one NaN.
    assert doc["reference"] == {"counts": [3, 1, 1, 1], "missing": 1, "rows": 7}
    # The infinite value counts as missing: it has no bar.
    assert doc["current"] == {"counts": [2, 0, 0, 1], "missing": 2, "rows": 5}
    assert doc["approximate"] is False


@pytest.mark.parametrize(
    "values",
    [
        [0.0, 1.0, 1.0, 1.0, 2.5, 3.0, 3.0, 7.0, 10.0],  # ties on the edges
        [5.0, 5.0, 5.0],  # one value: one edge
        [-3.5, 0.0, 1e-9, 2.0],
    ],
)
def test_the_profile_counts_are_the_values_counts(values: list[float]) -> None:
    """Counted from the knots or from the values, the same data gives the same bars."""
    prof = _profile(values)
    x = np.array(values)
    for edges in (edges_for(prof, x, bins=4, tail=0), np.array([1.0, 3.0]), np.array([3.0])):
        assert edges is not None
        assert profile_counts(prof, edges).tolist() == value_counts(x, edges).tolist()
        assert int(value_counts(x, edges).sum()) == len(values)


def test_one_wild_value_has_an_open_bin_and_the_rest_keep_their_bars() -> None:
    reference = np.linspace(0, 10, 1001)
    recent = np.append(np.linspace(0, 10, 999), 1e9)
    doc = numeric_histogram(_profile(list(reference)), recent, bins=10, tail=0.005)
    assert doc is not None
    assert doc["labels"][-1].startswith("> ")  # the wild value's bin, open above
    assert doc["current"]["counts"][-1] == 1
    assert doc["edges"][-1] == 10.0  # the range reaches the true maximum of the central part
    assert max(doc["current"]["counts"][:-1]) < 200  # ten bars of about a hundred each
    assert not doc["labels"][0].startswith("< ")  # nothing below: no open bin


def test_a_constant_column_is_one_bin() -> None:
    doc = numeric_histogram(_profile([3.0] * 4), np.array([3.0, 3.0, 4.0]), bins=5, tail=0)
    assert doc is not None
    assert doc["reference"]["counts"][0] == 4 and sum(doc["current"]["counts"]) == 3


def test_a_sketched_reference_is_close_and_says_it_is_approximate() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(size=5000)
    sketch = _profile(list(values), exact_max=100, grid=501)
    doc = numeric_histogram(sketch, values, bins=8, tail=0)
    assert doc is not None and doc["approximate"] is True
    bound = 5000 * sketch.ks_error_bound * 2 + 1  # each bin has two edges
    for ref, new in zip(doc["reference"]["counts"], doc["current"]["counts"], strict=True):
        assert abs(ref - new) <= bound


@pytest.mark.parametrize(
    ("reference", "recent", "ref_side", "cur_side"),
    [
        (None, [1.0, 2.0], None, {"counts": [1, 1], "missing": 0, "rows": 2}),  # no reference
        ([1.0, 2.0], None, {"counts": [1, 1], "missing": 0, "rows": 2}, None),  # not in new data
        ([1.0, 2.0], [NAN, NAN, NAN], {"counts": [1, 1], "missing": 0, "rows": 2},
         {"counts": [0, 0], "missing": 3, "rows": 3}),  # all missing in the new data
        ([NAN], [NAN], {"counts": [], "missing": 1, "rows": 1},
         {"counts": [], "missing": 1, "rows": 1}),  # all missing on both: no bins at all
    ],
)  # fmt: skip
def test_a_side_that_is_not_there_or_empty(reference, recent, ref_side, cur_side) -> None:
    prof = None if reference is None else _profile(reference)
    new = None if recent is None else np.array(recent)
    doc = numeric_histogram(prof, new, bins=2, tail=0)
    assert doc is not None
    assert doc["reference"] == ref_side and doc["current"] == cur_side
    assert len(doc["labels"]) == len((ref_side or cur_side)["counts"])


def test_no_side_at_all_is_no_document() -> None:
    assert numeric_histogram(None, None) is None
    assert category_shares(None, None) is None
    assert histogram("numeric", None, None) is None


@pytest.mark.parametrize(("bins", "tail"), [(0, 0.0), (5, 0.5), (5, -0.1)])
def test_bad_bins_or_tail_are_refused(bins: int, tail: float) -> None:
    with pytest.raises(ValueError, match="bins must be at least 1 and tail in"):
        numeric_histogram(None, np.array([1.0]), bins=bins, tail=tail)


def _categories(**counts: int) -> CategoricalProfile:
    return CategoricalProfile(
        n_rows=sum(counts.values()) + 1,
        n_missing=1,
        categories=tuple(counts),
        counts=np.array(list(counts.values()), dtype=np.int64),
    )


def test_categories_are_the_top_of_both_sides_and_the_rest_grouped() -> None:
    prof = _categories(a=5, b=3, c=1)
    recent = np.array(["a", "z", "z", "z", "z", None, "b", "<script>"], dtype=object)
    doc = category_shares(prof, recent, top=3)
    assert doc is not None
    # Summed shares: a 5/9 + 1/7, z 0 + 4/7, b 3/9 + 1/7; then c and <script> are grouped.
    assert doc["labels"] == ["a", "z", "b"]
    assert doc["others"] == 2
    assert doc["reference"] == {"counts": [5, 0, 3], "others": 1, "missing": 1, "rows": 10}
    assert doc["current"] == {"counts": [1, 4, 1], "others": 1, "missing": 1, "rows": 8}


def test_a_hundred_thousand_distinct_categories_store_top_plus_one_numbers() -> None:
    prof = _categories(**{f"k{i}": 1 for i in range(50)})
    recent = np.array([f"v{i}" for i in range(100_000)] + ["v7"], dtype=object)
    doc = category_shares(prof, recent, top=4)
    assert doc is not None
    assert doc["labels"] == ["k0", "k1", "k10", "k11"]  # 1/50 each beats 2/100,001, by name
    assert doc["others"] == 100_050 - 4
    assert sum(doc["current"]["counts"]) + doc["current"]["others"] == 100_001


def test_ties_are_ordered_by_name_every_time() -> None:
    prof = _categories(b=1, a=1, c=1)
    doc = category_shares(prof, np.array(["c", "b", "a"], dtype=object), top=2)
    assert doc is not None and doc["labels"] == ["a", "b"]


def test_the_kind_picks_the_side_of_its_kind() -> None:
    prof = _categories(yes=2, no=1)
    numeric = histogram("numeric", prof, np.array([1.0, 2.0]), bins=2, tail=0)
    assert numeric is not None and numeric["reference"] is None  # a categorical profile
    categorical = histogram("categorical", prof, np.array([1, 1, 0]))
    assert categorical is not None  # the labels' values keyed as the profile keys them
    assert categorical["labels"] == ["1", "yes", "0", "no"]
