"""Drift detection (issue 4): right at every size, agrees with scipy, explicit statuses, no NaN."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from pipeline.drift import DriftThresholds, ReferenceProfile, Status, detect, persistent
from pipeline.drift.decision import benjamini_hochberg
from pipeline.drift.selftest import selftest
from pipeline.drift.special import ks_pvalue, kstwo_sf
from pipeline.drift.twosample import chi2_homogeneity, jensen_shannon
from pipeline.errors import ConfigError
from pipeline.settings import BY_KEY, load_settings

REPO = Path(__file__).resolve().parent.parent
SIZES = [1_000, 100_000, 1_000_000]
DRIFTED = {"num_shift_normal", "num_shift_gamma", "cat_shift", "__prediction__"}
KINDS = {"__target__": "categorical"}  # an integer-coded label is a category


def synthetic(n: int, seed: int, shifted: bool) -> pd.DataFrame:
    """Known truth: with `shifted`, two numeric columns move by 0.5 std, one category swaps
    shares (JS distance 0.19), and the prediction follows the first shifted column."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(10.0, 2.0, n)
    gamma = rng.gamma(2.0, 1.0, n)
    if shifted:
        normal += 0.5 * 2.0
        gamma += 0.5 * math.sqrt(2.0)
    counts = rng.poisson(4.0, n).astype(float)  # heavy ties, and 5% missing
    counts[rng.random(n) < 0.05] = np.nan
    shares = [0.3, 0.5, 0.2] if shifted else [0.5, 0.3, 0.2]
    letters = np.array(["v", "w", "x", "y", "z"])
    return pd.DataFrame(
        {
            "num_shift_normal": normal,
            "num_shift_gamma": gamma,
            "num_normal": rng.normal(0.0, 1.0, n),
            "num_gamma": rng.gamma(3.0, 2.0, n),
            "num_uniform": rng.random(n),
            "num_counts": counts,
            "cat_shift": rng.choice(np.array(["a", "b", "c"]), n, p=shares),
            "cat_same": rng.choice(letters, n, p=[0.3, 0.25, 0.2, 0.15, 0.1]),
            "cat_binary": rng.random(n) < 0.3,
            "__prediction__": 1 / (1 + np.exp(-(normal - 10.0))),
            "__target__": (rng.random(n) < 0.2).astype(int),
        }
    )


@pytest.fixture(scope="module")
def data() -> dict[int, dict]:
    """Per size: the reference, its profile, a shifted batch and an independent same-law batch."""
    out: dict[int, dict] = {}
    for n in SIZES:
        reference = synthetic(n, seed=n + 1, shifted=False)
        out[n] = {
            "reference": reference,
            "profile": ReferenceProfile().fit(reference, kinds=KINDS),
            "shifted": synthetic(n, seed=n + 2, shifted=True),
        }
    out[1_000_000]["same"] = synthetic(1_000_000, seed=3, shifted=False)
    return out


def assert_json_clean(result) -> dict:
    """The decision never holds NaN or infinity, in the short JSON and in the full record."""
    json.dumps(result.to_dict(), allow_nan=False)
    body = json.loads(result.to_json())
    assert math.isfinite(result.drifted_share)
    assert isinstance(result.dataset_drift, bool) or result.status == "not_tested"
    for column in result.columns:
        assert isinstance(column.drifted, bool)
        for value in (column.statistic, column.p_value, column.p_adjusted, column.effect_size):
            assert value is None or math.isfinite(value)
    return body


# --- known truth at every size ----------------------------------------------------------------


@pytest.mark.parametrize("n", SIZES)
def test_every_drifted_column_flagged_and_no_other(data, n):
    result = detect(data[n]["profile"], data[n]["shifted"])
    assert set(result.drifted_columns) == DRIFTED
    assert {c.status for c in result.columns} == {Status.OK}
    assert result.n_tested == 11
    assert result.drifted_share == pytest.approx(4 / 11)
    assert result.dataset_drift is False  # 4 of 11 is below the default share of 0.5
    assert_json_clean(result)


def test_two_samples_of_the_same_law_at_a_million_rows_flag_nothing(data):
    result = detect(data[1_000_000]["profile"], data[1_000_000]["same"])
    assert result.drifted_columns == []
    assert result.dataset_drift is False
    assert result.drifted_share == 0.0
    # The effect sizes are what keeps large batches quiet: all far below the minimum.
    effects = {c.column: c.effect_size for c in result.columns}
    assert max(effects.values()) < 0.01


def test_the_reference_against_itself_is_exactly_zero(data):
    reference = data[1_000]["reference"]
    result = detect(data[1_000]["profile"], reference)
    for column in result.columns:
        assert column.statistic == pytest.approx(0.0, abs=1e-12)
        assert column.effect_size == pytest.approx(0.0, abs=1e-12)
        assert column.p_value == pytest.approx(1.0)
        assert not column.drifted


def test_weights_make_the_share_an_importance_weighted_one(data):
    weights = {"num_shift_normal": 3.0, "num_normal": 1.0}  # the rest weigh 0
    result = detect(data[1_000]["profile"], data[1_000]["shifted"], weights=weights)
    assert result.drifted_share == pytest.approx(0.75)
    assert result.dataset_drift is True
    assert result.weighted is True
    with pytest.raises(ValueError, match="weight of column 'num_normal'"):
        detect(data[1_000]["profile"], data[1_000]["shifted"], weights={"num_normal": -1.0})
    with pytest.raises(ValueError, match="'nope', which is in neither"):
        detect(data[1_000]["profile"], data[1_000]["shifted"], weights={"nope": 1.0})


# --- statuses ---------------------------------------------------------------------------------


def normal(n: int, seed: int = 0, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(shift, 1.0, n)


STATUS_CASES = {
    "constant reference": (
        {"x": np.full(500, 5.0)},
        {"x": normal(500)},
        Status.CONSTANT,
    ),
    "all missing in the reference": (
        {"x": np.full(500, np.nan)},
        {"x": normal(500)},
        Status.ALL_MISSING,
    ),
    "all missing in the new data": (
        {"x": normal(500)},
        {"x": np.full(500, np.nan)},
        Status.ALL_MISSING,
    ),
    "single row": (
        {"x": normal(500)},
        {"x": np.array([0.3])},
        Status.TOO_FEW_ROWS,
    ),
    "single categorical row": (
        {"c": np.array(["a", "b"] * 250, dtype=object)},
        {"c": np.array(["a"], dtype=object)},
        Status.TOO_FEW_ROWS,
    ),
    "one category on both sides": (
        {"c": np.array(["a"] * 500, dtype=object)},
        {"c": np.array(["a"] * 400 + [None] * 100, dtype=object)},
        Status.CONSTANT,
    ),
    "unseen categories": (
        {"c": np.array(["a", "b", "c"] * 200, dtype=object)},
        {"c": np.array(["a", "b", "c"] * 190 + ["d"] * 20 + ["e"] * 10, dtype=object)},
        Status.UNSEEN_CATEGORIES,
    ),
    "an empty batch": (
        {"x": normal(500)},
        {"x": np.array([], dtype=np.float64)},
        Status.ALL_MISSING,
    ),
    "column missing in the new data": (
        {"x": normal(500)},
        {"y": normal(500)},
        Status.MISSING_IN_NEW,
    ),
}


@pytest.mark.parametrize("case", sorted(STATUS_CASES))
def test_degenerate_columns_get_their_status_never_an_exception_or_nan(case):
    reference, new, status = STATUS_CASES[case]
    healthy = {"h": normal(500, seed=1)}
    profile = ReferenceProfile().fit({**reference, **healthy})
    result = detect(profile, {**new, "h": normal(500, seed=2)})
    column = result.columns[0]
    assert column.status == status
    assert_json_clean(result)
    assert column.drifted is False or column.status in (Status.OK, Status.UNSEEN_CATEGORIES)
    healthy_result = result.column("h")
    assert healthy_result.status == Status.OK and healthy_result.p_adjusted is not None
    if status in (Status.OK, Status.UNSEEN_CATEGORIES):
        assert result.n_tested == 2
    else:  # outside the BH family and the share's denominator, and said so
        assert result.n_tested == 1
        assert result.excluded[column.column] == str(status)
        assert column.p_adjusted is None
        assert healthy_result.p_adjusted == pytest.approx(healthy_result.p_value)


def test_status_details_say_what_is_wrong():
    profile = ReferenceProfile().fit(
        {
            "const": np.full(300, 2.0),
            "few": normal(300),
            "gone": normal(300),
            "cat": np.array(["a", "b"] * 150, dtype=object),
        }
    )
    new = {
        "const": np.r_[np.full(200, 2.0), np.full(100, 3.0)],
        "few": normal(12),
        "cat": np.array(["a", "b", "zz", "zz", "yy"] * 60, dtype=object),
        "extra": normal(300),
    }
    new = {k: pd.Series(v) for k, v in new.items()}  # uneven lengths: a mapping, not a frame
    result = detect(profile, new)
    const = result.column("const")
    assert const.details["reference_value"] == 2.0
    assert const.details["new_share_different"] == pytest.approx(1 / 3)
    assert const.effect_size is None and const.statistic == pytest.approx(1 / 3)
    few = result.column("few")
    assert few.details["min_rows"] == 30 and few.details["n_new"] == 12
    assert few.p_value is not None and few.p_adjusted is None  # computed, not decided on
    cat = result.column("cat")
    assert cat.status == Status.UNSEEN_CATEGORIES
    assert cat.details["unseen"] == {
        "categories": 2,
        "rows": 180,
        "share": pytest.approx(0.6),
        "listed": ["zz", "yy"],
    }
    assert cat.drifted  # tested on the union: 60% of rows in new categories is drift
    assert result.column("gone").status == Status.MISSING_IN_NEW
    assert result.column("extra").status == Status.NEW_COLUMN
    assert result.excluded == {
        "const": "constant",
        "few": "too_few_rows",
        "gone": "missing_in_new",
        "extra": "new_column",
    }
    assert result.n_tested == 1 and result.drifted_share == 1.0


def test_a_new_batch_stuck_at_one_value_is_tested_and_flagged():
    profile = ReferenceProfile().fit({"x": normal(2_000)})
    result = detect(profile, {"x": np.full(2_000, 0.0)})
    column = result.column("x")
    assert column.status == Status.OK and column.details["new_constant"] is True
    assert column.drifted


def test_nothing_testable_is_not_tested_and_an_empty_family():
    profile = ReferenceProfile().fit({"x": np.full(100, 1.0)})
    result = detect(profile, {"x": np.full(100, 1.0)})
    assert result.n_tested == 0 and result.drifted_share == 0.0
    assert result.dataset_drift is None and result.status == "not_tested"  # not "no drift"
    assert result.reason == "no feature could be tested: x is constant"
    assert json.loads(result.to_json())["columns"][0]["status"] == "constant"


# --- agreement with scipy ---------------------------------------------------------------------


def ties(x: np.ndarray) -> np.ndarray:
    return np.round(x, 1)


@pytest.mark.parametrize(
    ("n_ref", "n_new", "shift", "rounded"),
    [
        (300, 200, 0.0, False),  # scipy's exact distribution
        (2_000, 2_000, 0.2, True),  # exact, equal sizes, ties
        (5_000, 9_000, 0.05, False),
        (50_000, 30_000, 0.02, False),  # asymptotic
        (150_000, 400_000, 0.01, True),  # asymptotic, ties, kstwo's smirnov branch
        (1_000, 1, 0.0, False),  # a single new value
    ],
)
def test_exact_profile_matches_scipy_on_the_raw_data(n_ref, n_new, shift, rounded):
    a, b = normal(n_ref, seed=3), normal(n_new, seed=4, shift=shift)
    if rounded:
        a, b = ties(a), ties(b)
    profile = ReferenceProfile().fit({"x": a})
    assert not profile.columns_["x"].sketch
    column = detect(profile, {"x": b}, DriftThresholds(min_rows=1)).column("x")
    expected = stats.ks_2samp(a, b)
    assert column.statistic == pytest.approx(expected.statistic, rel=1e-12, abs=1e-15)
    assert column.p_value == pytest.approx(expected.pvalue, rel=1e-8)
    w1 = stats.wasserstein_distance(a, b)
    assert column.details["wasserstein"] == pytest.approx(w1, rel=1e-9)
    assert column.effect_size == pytest.approx(w1 / np.std(a, ddof=1), rel=1e-9)


@pytest.mark.parametrize(
    ("exact_max", "grid", "n_ref", "n_new", "shift"),
    [
        (10_000, 1_001, 200_000, 50_000, 0.03),
        (10_000, 101, 100_000, 20_000, 0.0),  # a coarse grid: the bound must still hold
        (50_000, 2_001, 300_000, 300_000, 0.01),
    ],
)
def test_sketch_profile_is_within_its_stated_bound_of_scipy(exact_max, grid, n_ref, n_new, shift):
    rng = np.random.default_rng(5)
    a = np.r_[rng.normal(0, 1, n_ref // 2), rng.lognormal(0, 1, n_ref - n_ref // 2)]
    b = np.r_[rng.normal(shift, 1, n_new // 2), rng.lognormal(shift, 1, n_new - n_new // 2)]
    b[:50] = ties(b[:50])  # a few new values tie
    a[:1000] = 3.0  # a point mass in the reference
    profile = ReferenceProfile(exact_max=exact_max, grid=grid).fit({"x": a})
    numeric = profile.columns_["x"]
    assert numeric.sketch and numeric.ks_error_bound <= 1 / (grid - 1)
    column = detect(profile, {"x": b}).column("x")
    expected = stats.ks_2samp(a, b)
    bound = numeric.ks_error_bound
    assert abs(column.statistic - expected.statistic) <= bound + 1e-12
    # The p-value is the asymptotic one at our statistic, and scipy's lies within the bound's span.
    p_low, p_high = (
        ks_pvalue(column.statistic + bound, n_ref, n_new),
        ks_pvalue(max(column.statistic - bound, 0.0), n_ref, n_new),
    )
    assert p_low - 1e-12 <= expected.pvalue <= p_high + 1e-12
    w1 = stats.wasserstein_distance(a, b)
    assert abs(column.details["wasserstein"] - w1) <= numeric.wasserstein_error_bound + 1e-12
    assert numeric.std == pytest.approx(np.std(a, ddof=1))
    assert numeric.summary()["iqr"] == pytest.approx(np.subtract(*np.quantile(a, [0.75, 0.25])))


def ks_w1_by_brute_force(numeric, b: np.ndarray) -> tuple[float, float]:
    """KS and W1 between the profile's F~ and the ECDF of b, computed another way: KS from
    F~ at every knot and new value (left limits by nextafter), W1 in the quantile domain."""
    b = np.sort(b)
    m = len(b)
    points = np.union1d(numeric.knots, b)
    before = np.nextafter(points, -np.inf)
    ks = max(
        np.max(np.abs(numeric.cdf(points) - np.searchsorted(b, points, side="right") / m)),
        np.max(np.abs(numeric.cdf(before) - np.searchsorted(b, before, side="right") / m)),
    )
    # Between consecutive breakpoints of both quantile functions, b's is flat and F~'s linear.
    breaks = np.union1d(np.r_[numeric.cum_le, numeric.cum_lt] / numeric.n, np.arange(m + 1) / m)
    lo, hi = breaks[:-1], breaks[1:]
    flat = b[np.ceil((lo + hi) / 2 * m).astype(int) - 1]
    q1, q3 = numeric.quantile(lo + (hi - lo) / 4), numeric.quantile(lo + 3 * (hi - lo) / 4)
    start, end = 1.5 * q1 - 0.5 * q3 - flat, 1.5 * q3 - 0.5 * q1 - flat  # linear: extrapolate
    total = np.abs(start) + np.abs(end)
    cross = start * end < 0
    mean_abs = np.where(cross, (start**2 + end**2) / (2 * np.where(total > 0, total, 1)), total / 2)
    return float(ks), float(np.sum(mean_abs * (hi - lo)))


@pytest.mark.parametrize(
    ("exact_max", "n_ref", "n_new", "seed"),
    [(200_000, 3_000, 800, 0), (1_000, 30_000, 4_000, 1), (1_000, 30_000, 40, 2)],
)
def test_sketch_statistics_are_exact_for_the_sketch(exact_max, n_ref, n_new, seed):
    """Beyond the bound: KS and W1 are computed exactly for F~ itself (ties, point masses and
    new values outside the reference's range included)."""
    rng = np.random.default_rng(seed)
    a = np.r_[rng.normal(0, 1, n_ref - 500), np.full(500, 0.5)]
    b = np.r_[ties(rng.normal(0.2, 1.3, n_new - 10)), [0.5] * 5, [-9.0, 9.0, 0.0, 0.1, 0.2]]
    profile = ReferenceProfile(exact_max=exact_max, grid=201).fit({"x": a})
    numeric = profile.columns_["x"]
    column = detect(profile, {"x": b}, DriftThresholds(min_rows=1)).column("x")
    ks, w1 = ks_w1_by_brute_force(numeric, b)
    assert column.statistic == pytest.approx(ks, rel=1e-12)
    assert column.details["wasserstein"] == pytest.approx(w1, rel=1e-9)


@pytest.mark.parametrize("exact_max", [200_000, 1_000])
def test_new_data_starting_on_a_reference_value(exact_max):
    """The sup can sit just left of the first new value when it is a reference value."""
    a = np.arange(20_000, dtype=np.float64)
    profile = ReferenceProfile(exact_max=exact_max, grid=201).fit({"x": a})
    knots = profile.columns_["x"].knots
    first = knots[3 * len(knots) // 4]  # a reference value, and a knot on both paths
    b = np.arange(first, first + 12_000)
    column = detect(profile, {"x": b}).column("x")
    # F(first-) against G(first-) = 0; the sketch is within its bound of that
    bound = profile.columns_["x"].ks_error_bound
    assert column.statistic == pytest.approx(first / 20_000, abs=bound + 1e-12)
    if exact_max > len(a):
        assert column.statistic == pytest.approx(stats.ks_2samp(a, b).statistic, rel=1e-12)
    assert (column.statistic, column.details["wasserstein"]) == pytest.approx(
        ks_w1_by_brute_force(profile.columns_["x"], b)
    )


def test_default_sketch_at_a_million_rows_matches_scipy(data):
    reference = data[1_000_000]["reference"]["num_gamma"].to_numpy()
    new = data[1_000_000]["shifted"]["num_gamma"].to_numpy()
    numeric = data[1_000_000]["profile"].columns_["num_gamma"]
    assert numeric.sketch and numeric.ks_error_bound <= 1 / 20_000
    column = detect(data[1_000_000]["profile"], data[1_000_000]["shifted"]).column("num_gamma")
    expected = stats.ks_2samp(reference, new)
    assert abs(column.statistic - expected.statistic) <= numeric.ks_error_bound
    w1 = stats.wasserstein_distance(reference, new)
    assert abs(column.details["wasserstein"] - w1) <= numeric.wasserstein_error_bound


def psi_by_hand(a: np.ndarray, b: np.ndarray, bins: int = 10, eps: float = 1e-4) -> float:
    edges = np.unique(np.quantile(a, np.arange(1, bins) / bins, method="inverted_cdf"))
    p = np.bincount(np.searchsorted(edges, a, side="left"), minlength=len(edges) + 1) / len(a)
    q = np.bincount(np.searchsorted(edges, b, side="left"), minlength=len(edges) + 1) / len(b)
    p, q = np.maximum(p, eps), np.maximum(q, eps)
    return float(np.sum((q - p) * np.log(q / p)))


@pytest.mark.parametrize("exact_max", [200_000, 1_000])
@pytest.mark.parametrize("shift", [0.3, 10.0])  # 10: all new values in the top bin
def test_psi_is_exact_on_both_paths(exact_max, shift):
    a, b = normal(20_000, seed=6), normal(5_000, seed=7, shift=shift)
    profile = ReferenceProfile(exact_max=exact_max).fit({"x": a, "t": ties(a)})
    result = detect(profile, {"x": b, "t": ties(b)})
    assert result.column("x").psi == pytest.approx(psi_by_hand(a, b), rel=1e-12)
    assert result.column("t").psi == pytest.approx(psi_by_hand(ties(a), ties(b)), rel=1e-12)


@pytest.mark.parametrize(
    ("ref_counts", "new_counts"),
    [
        ({"a": 500, "b": 300, "c": 200}, {"a": 450, "b": 380, "c": 170}),
        ({"a": 60, "b": 40}, {"a": 45, "b": 55}),  # 2 x 2: no Yates correction
        ({"a": 90, "b": 10}, {"a": 88, "b": 9, "new": 3}),  # an unseen category joins the table
    ],
)
def test_categorical_statistics_match_scipy(ref_counts, new_counts):
    ref = np.repeat(list(ref_counts), list(ref_counts.values())).astype(object)
    new = np.repeat(list(new_counts), list(new_counts.values())).astype(object)
    column = detect(ReferenceProfile().fit({"c": ref}), {"c": new}).column("c")
    categories = sorted(set(ref_counts) | set(new_counts))
    table = np.array(
        [[ref_counts.get(c, 0) for c in categories], [new_counts.get(c, 0) for c in categories]]
    )
    expected = stats.chi2_contingency(table, correction=False)
    assert column.statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert column.p_value == pytest.approx(expected.pvalue, rel=1e-10)
    assert column.details["dof"] == expected.dof
    assert column.effect_size == pytest.approx(jensenshannon(table[0], table[1], base=2))
    shares = np.maximum(table / table.sum(axis=1, keepdims=True), 1e-4)  # an unseen one is 0
    assert column.psi == pytest.approx(
        np.sum((shares[1] - shares[0]) * np.log(shares[1] / shares[0]))
    )
    if len(categories) > 2:  # Yates only ever applies to one degree of freedom
        assert column.statistic == pytest.approx(stats.chi2_contingency(table).statistic)
    else:  # and 2 x 2 without it is the pooled two-proportion z-test
        p1, p2 = table[0, 0] / table[0].sum(), table[1, 0] / table[1].sum()
        pooled = table[:, 0].sum() / table.sum()
        z = (p1 - p2) / math.sqrt(pooled * (1 - pooled) * (1 / table[0].sum() + 1 / table[1].sum()))
        assert column.p_value == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)


def test_jensen_shannon_and_chi2_helpers_handle_zeros():
    assert jensen_shannon([1, 0], [0, 1]) == pytest.approx(1.0)
    assert jensen_shannon([3, 1], [6, 2]) == pytest.approx(0.0, abs=1e-12)
    stat, dof, p = chi2_homogeneity(np.array([5, 0, 5]), np.array([5, 0, 5]))
    assert (stat, dof, p) == (0.0, 1, 1.0)


@pytest.mark.parametrize("n", [141, 1_000, 20_000, 150_000])
@pytest.mark.parametrize("z", [0.5, 1.0, 1.3, 1.6, 2.5, 5.0, 12.0])
def test_kstwo_sf_matches_scipy(n, z):
    d = z / math.sqrt(n)
    assert kstwo_sf(d, n) == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-7, abs=1e-300)


@pytest.mark.parametrize("n", [141, 1_000, 99_000, 150_000])
@pytest.mark.parametrize("z", [0.25, 0.4, 0.6, 0.9, 1.2])
def test_kstwo_lower_tail_matches_scipy(n, z):
    """Where the survival function is near 1, check the CDF it is 1 minus (Durbin, Pelz-Good)."""
    d = z / math.sqrt(n)
    assert 1 - kstwo_sf(d, n) == pytest.approx(float(stats.kstwo.cdf(d, n)), rel=1e-9, abs=1e-15)


def test_kstwo_sf_matches_scipy_for_large_statistics():
    for n, d in [(1_000, 0.5), (200, 0.7), (5_000, 0.6), (150, 0.999)]:
        assert kstwo_sf(d, n) == pytest.approx(float(stats.kstwo.sf(d, n)), rel=1e-7, abs=1e-300)


# --- decision ---------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_benjamini_hochberg_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    p = np.r_[rng.random(15), rng.random(5) * 1e-3, [0.02, 0.02, 1.0, 0.0]]
    rng.shuffle(p)
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p), rtol=1e-14)
    rows = rng.random((4, 7))
    np.testing.assert_allclose(
        benjamini_hochberg(rows), stats.false_discovery_control(rows, axis=-1), rtol=1e-14
    )


def test_benjamini_hochberg_edges():
    assert benjamini_hochberg([]).shape == (0,)
    assert benjamini_hochberg([0.3]).tolist() == [0.3]
    with pytest.raises(ValueError, match=r"p-values must lie in \[0, 1\]"):
        benjamini_hochberg([0.1, float("nan")])


@pytest.mark.parametrize(
    ("history", "m", "n", "expected"),
    [
        ([], 1, 1, False),
        ([True], 1, 1, True),
        ([True, False, False], 2, 3, False),
        ([True, False, True], 2, 3, True),
        ([True, True, False, False, False], 2, 3, False),  # the old alarms left the window
        ([False, True], 2, 3, False),
    ],
)
def test_persistence_is_m_of_the_last_n_runs(history, m, n, expected):
    assert persistent(history, m, n) is expected


def test_persistence_rejects_an_impossible_rule():
    with pytest.raises(ValueError, match="1 <= m <= n"):
        persistent([True], 3, 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [("alpha", 0.0), ("alpha", 1.0), ("min_wasserstein", -0.1), ("dataset_share", 0.0),
     ("min_rows", 0), ("min_jensen_shannon", 1.5), ("psi_epsilon", 0.0)],
)  # fmt: skip
def test_thresholds_name_the_bad_setting(field, value):
    with pytest.raises(ValueError, match=f"drift threshold '{field}'"):
        DriftThresholds(**{field: value})


def test_thresholds_defaults_are_the_settings_table_s():
    th = DriftThresholds()
    names = DriftThresholds.setting_names()
    assert names == ("alpha", "min_wasserstein", "min_jensen_shannon", "dataset_share", "min_rows")
    assert {n: getattr(th, n) for n in names} == {n: BY_KEY[f"drift.{n}"].default for n in names}


@pytest.mark.parametrize(
    ("field", "value", "bound"),
    [("alpha", 0.6, "maximum"), ("alpha", 0.0, "minimum"), ("dataset_share", 0.005, "minimum"),
     ("min_jensen_shannon", 1.5, "maximum"), ("min_wasserstein", -0.1, "minimum"),
     ("min_rows", 0, "minimum")],
)  # fmt: skip
def test_an_out_of_range_threshold_names_the_settings_table_s_range(field, value, bound):
    row = BY_KEY[f"drift.{field}"]
    word = "at least" if bound == "minimum" else "below" if row.exclusive_max else "at most"
    with pytest.raises(ValueError, match=f"drift threshold '{field}' is out of range") as info:
        DriftThresholds(**{field: value})
    assert f"setting 'drift.{field}': expected " in str(info.value)
    assert f"{word} {getattr(row, bound)}" in str(info.value)


@pytest.mark.parametrize(
    ("key", "value"),
    [("drift.alpha", 0.5), ("drift.alpha", 0.51), ("drift.alpha", 1e-9), ("drift.alpha", 0.0),
     ("drift.dataset_share", 0.01), ("drift.dataset_share", 0.009), ("drift.dataset_share", 1),
     ("drift.min_jensen_shannon", 1.0), ("drift.min_jensen_shannon", 1.01),
     ("drift.min_rows", 1), ("drift.min_rows", 0), ("drift.min_rows", 2.0),
     ("drift.min_wasserstein", float("inf"))],
)  # fmt: skip
def test_thresholds_accept_exactly_what_the_settings_file_accepts(tmp_path, key, value):
    config = tmp_path / "riskwatch.toml"
    config.write_text("")
    try:
        settings = load_settings(config, environ={}, overrides={key: value})
    except ConfigError:
        with pytest.raises(ValueError, match="drift threshold"):
            DriftThresholds(**{key.removeprefix("drift."): value})
    else:
        assert getattr(DriftThresholds.from_settings(settings), key.removeprefix("drift.")) == value


def test_the_package_exports_its_pure_api_lazily():
    script = (
        "import sys, pipeline.drift as drift\n"
        "assert 'numpy' not in sys.modules\n"
        "assert set(drift.__all__) == {*drift._EXPORTS, 'adhoc', 'step'}  # the I/O modules\n"
        "for name in drift._EXPORTS:\n"
        "    assert getattr(drift, name).__module__.startswith('pipeline.drift.'), name\n"
        "import pipeline.drift.selftest, pipeline.drift.special\n"
        "io = ('sqlalchemy', 'pipeline.storage', 'pipeline.infra', 'pipeline.model')\n"
        "assert not [m for m in sys.modules if m.startswith(io)], 'the pure modules do no I/O'\n"
        "from pipeline.drift import step\n"
        "assert step.thresholds.__module__ == 'pipeline.drift.step'\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO)
    import pipeline.drift

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        _ = pipeline.drift.nope


def test_json_has_exactly_the_issue_s_keys(data):
    body = json.loads(detect(data[1_000]["profile"], data[1_000]["shifted"]).to_json())
    assert set(body) == {
        "status", "dataset_drift", "reason", "drifted_share", "features_tested",
        "features_drifted", "drifted_features", "outputs", "weighted", "min_rows", "columns",
    }  # fmt: skip
    assert set(body["columns"][0]) == {
        "column", "kind", "test", "statistic", "p_value", "p_adjusted", "effect_size", "status",
        "drifted",
    }  # fmt: skip
    tests = {c["column"]: (c["kind"], c["test"]) for c in body["columns"]}
    assert tests["num_normal"] == ("numeric", "ks")
    assert tests["cat_binary"] == ("categorical", "chi2")
    assert tests["__target__"] == ("categorical", "chi2")


# --- the profile ------------------------------------------------------------------------------


def test_profile_round_trips_through_bytes(data):
    frame = data[1_000]["reference"].assign(empty=np.nan)
    profile = ReferenceProfile(exact_max=500).fit(frame, kinds=KINDS)  # sketch and exact
    restored = ReferenceProfile.from_bytes(profile.to_bytes())
    assert restored.n_rows_ == profile.n_rows_ == 1_000
    assert (restored.exact_max, restored.grid, restored.psi_bins) == (500, 20_001, 10)
    assert restored.summary() == profile.summary()
    new = data[1_000]["shifted"].assign(empty=1.0)
    assert detect(restored, new).to_dict() == detect(profile, new).to_dict()


def test_profile_of_a_million_rows_is_compact(data):
    size = len(data[1_000_000]["profile"].to_bytes())
    assert size < 8_000_000  # 7 numeric sketches, 4 categorical columns


def test_garbage_is_not_a_profile():
    with pytest.raises(ValueError, match="not a riskwatch drift profile"):
        ReferenceProfile.from_bytes(b"garbage")


def test_fit_and_detect_name_the_problem():
    with pytest.raises(ValueError, match="column 'age' is missing from the reference data"):
        ReferenceProfile().fit({"x": normal(10)}, columns=["age"])
    with pytest.raises(ValueError, match="kind of column 'x' must be one of"):
        ReferenceProfile().fit({"x": normal(10)}, kinds={"x": "text"})
    with pytest.raises(ValueError, match="grid must be an integer >= 2"):
        ReferenceProfile(grid=1).fit({"x": normal(10)})
    with pytest.raises(ValueError, match="not fitted yet"):
        detect(ReferenceProfile(), {"x": normal(10)})
    profile = ReferenceProfile().fit({"x": normal(10)})
    with pytest.raises(ValueError, match="column 'x' is numeric in the reference profile"):
        detect(profile, {"x": np.array(["a", "b"], dtype=object)})


def test_import_and_a_large_batch_need_neither_pandas_nor_scipy():
    """A run on large batches stays on numpy: scipy's import alone costs a second."""
    script = (
        "import sys, numpy as np\n"
        "from pipeline.drift import ReferenceProfile, detect\n"
        "assert 'pandas' not in sys.modules and 'scipy' not in sys.modules\n"
        "rng = np.random.default_rng(0)\n"
        "ref = {'x': rng.normal(size=50_000), 'c': rng.integers(0, 3, 50_000).astype(str)}\n"
        "new = {'x': rng.normal(0.05, 1, 20_000), 'c': rng.integers(0, 3, 20_000).astype(str)}\n"
        "result = detect(ReferenceProfile().fit(ref), new)\n"
        "assert result.column('x').p_value < 0.05\n"
        "assert 'scipy' not in sys.modules, sorted(m for m in sys.modules if 'scipy' in m)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO)


def test_categories_are_strings_and_integral_floats_read_as_integers():
    profile = ReferenceProfile().fit(
        {"code": pd.Series([1, 2, 2, None], dtype="Int64"), "flag": [True, False, True, True]},
        kinds={"code": "categorical"},
    )
    assert profile.columns_["code"].categories == ("2", "1")
    assert profile.columns_["code"].n_missing == 1
    assert profile.columns_["flag"].categories == ("True", "False")
    # A float column of the same codes (pandas turns ints with NaN into floats) matches.
    result = detect(profile, {"code": np.array([1.0, 2.0, np.nan]), "flag": [False, True]})
    assert "unseen" not in result.column("code").details


def test_object_columns_count_the_same_with_or_without_pandas_loaded(monkeypatch):
    values = np.array(["b", "a", None, "b", float("nan"), 3, 3.0, pd.NA, "b"], dtype=object)
    with_pandas = ReferenceProfile().fit({"c": values}).columns_["c"]
    monkeypatch.delitem(sys.modules, "pandas")  # the module then counts with a Counter
    without = ReferenceProfile().fit({"c": values}).columns_["c"]
    for prof in (with_pandas, without):
        assert prof.categories == ("b", "3", "a")
        assert prof.counts.tolist() == [3, 2, 1]
        assert prof.n_missing == 3


def test_exact_quantile_and_cdf_are_the_empirical_ones():
    a = ties(normal(1_001, seed=9))
    numeric = ReferenceProfile().fit({"x": a}).columns_["x"]
    q = np.array([0.0, 0.1, 0.5, 0.93, 1.0])
    expected = np.quantile(a, q, method="inverted_cdf")
    np.testing.assert_array_equal(numeric.quantile(q[1:]), expected[1:])
    assert numeric.quantile([0.0])[0] == a.min()
    x = np.array([-5.0, a[3], 0.0, 5.0])
    np.testing.assert_allclose(numeric.cdf(x), [np.mean(a <= v) for v in x])


# --- self-test --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def selftest_profile() -> ReferenceProfile:
    rng = np.random.default_rng(11)
    n = 20_000
    return ReferenceProfile().fit(
        {
            "normal": rng.normal(0, 1, n),
            "skewed": rng.gamma(2.0, 1.0, n),
            "cat": rng.choice(np.array(["a", "b", "c"]), n, p=[0.5, 0.3, 0.2]),
            "flag": rng.random(n) < 0.3,
        }
    )


def test_selftest_false_alarms_near_alpha_and_power_high(selftest_profile):
    report = selftest(selftest_profile, batch_size=500, runs=200, seed=1)
    json.dumps(report, allow_nan=False)
    assert report["dataset_false_alarm_rate"] <= 0.05
    columns = report["columns"]
    for name in ("normal", "skewed", "cat", "flag"):
        assert columns[name]["status"] == "ok" and columns[name]["tested_share"] == 1.0
        assert columns[name]["false_alarm_rate"] <= 0.05
        # The test alone, before BH and the effect size: about alpha, as a calibrated test is.
        assert 0.01 <= columns[name]["p_below_alpha_rate"] <= 0.10
    for name in ("normal", "skewed"):
        assert columns[name]["power"]["mean_shift"] >= 0.95
        assert columns[name]["power"]["scale_change"] >= 0.9
    assert columns["cat"]["power"]["category_swap"] >= 0.9
    assert columns["flag"]["power"]["category_swap"] >= 0.9
    assert report["notes"] == []


def test_selftest_is_deterministic_for_a_seed(selftest_profile):
    first = selftest(selftest_profile, batch_size=100, runs=20, seed=7)
    assert selftest(selftest_profile, batch_size=100, runs=20, seed=7) == first


def test_selftest_reports_what_it_cannot_test():
    profile = ReferenceProfile().fit({"const": np.full(200, 1.0), "x": normal(200)})
    report = selftest(profile, batch_size=20, runs=5, seed=0)
    assert report["columns"]["const"]["status"] == "too_few_rows"
    assert report["columns"]["const"]["false_alarm_rate"] is None
    assert report["columns"]["x"]["power"] == {"mean_shift": None, "scale_change": None}
    assert any("10% of the reference" in note for note in report["notes"])


def test_drift_columns_are_converted_when_read_not_all_at_once() -> None:
    from pipeline.drift import step as drift_step
    from pipeline.model.features import FeatureSpec, feature_frame

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=50),
            "industry": pd.array(rng.choice(["a", "b", None], 50), dtype="str"),
            "exited": rng.integers(0, 2, 50),
        }
    )
    features = FeatureSpec(("amount",), ("industry",))
    settings = {"model.task": "classification", "data.target": "exited"}
    proba = rng.random(50)
    data, kinds, weights = drift_step._columns(settings, features, frame, None, proba)
    assert list(data) == ["amount", "industry", drift_step.PREDICTION, drift_step.TARGET]
    assert len(data) == 4 and "amount" in data and "nope" not in data
    eager = feature_frame(frame, features)
    np.testing.assert_array_equal(data["amount"], eager["amount"].to_numpy())
    assert pd.Series(data["industry"]).equals(pd.Series(eager["industry"].to_numpy()))
    assert data[drift_step.PREDICTION] is proba
    assert kinds == {
        "amount": "numeric",
        "industry": "categorical",
        drift_step.PREDICTION: "numeric",
        drift_step.TARGET: "categorical",
    }
    assert weights == {"amount": 1.0, "industry": 1.0}
    with pytest.raises(KeyError):
        data["nope"]


def test_comparing_two_files_imports_no_database_code(tmp_path: Path) -> None:
    """`riskwatch drift --reference --current` starts fast: no SQLAlchemy, storage or model."""
    for name, rows in (("reference", "1,x\n2,y\n3,x\n"), ("current", "2,x\n3,y\n4,y\n")):
        (tmp_path / f"{name}.csv").write_text("a,b\n" + rows)
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from pipeline.cli import main\n"
        "from pipeline.drift.adhoc import compare_files\n"
        f"result = compare_files(Path({str(tmp_path / 'reference.csv')!r}), "
        f"Path({str(tmp_path / 'current.csv')!r}))\n"
        "assert result.status == 'not_tested', result.status\n"
        "io = ('sqlalchemy', 'pipeline.storage', 'pipeline.model', 'sklearn')\n"
        "loaded = [m for m in sys.modules if m.startswith(io)]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=REPO)


def test_comparing_files_whose_column_changes_kind_names_the_file(tmp_path: Path) -> None:
    """A numeric column that holds text in the other file is bad data, not a crash."""
    from pipeline.drift.adhoc import compare_files
    from pipeline.errors import DataError

    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    reference.write_text("a,b\n1,x\n2,y\n3,x\n")
    current.write_text("a,b\nfoo,x\nbar,y\nbaz,x\n")
    with pytest.raises(DataError, match=r"current\.csv: column 'a' is numeric in the reference"):
        compare_files(reference, current)
