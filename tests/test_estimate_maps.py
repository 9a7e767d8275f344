"""The calibration maps: riskwatch's own pool-adjacent-violators against scikit-learn's, the maps
drawn from a fitted one's uncertainty, and the interval that carries it."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.estimate import cbpe, maps


def _shapes(rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = 300
    return {
        "noise": rng.random(n),
        "labels rising": (rng.random(n) < np.linspace(0, 1, n)).astype(float),
        "ties": rng.integers(0, 3, n).astype(float),
        # A pass per block for whole-run merging: the one-block-at-a-time path finishes it.
        "long rise, deep fall": np.r_[np.arange(n - 1, dtype=float), -1e6],
        "falling": np.arange(n, 0, -1, dtype=float),
        "one value": np.array([0.5]),
    }


@pytest.mark.parametrize("shape", list(_shapes(np.random.default_rng(0))))
def test_pool_adjacent_violators_matches_scikit_learn(shape: str) -> None:
    from sklearn.isotonic import isotonic_regression

    rng = np.random.default_rng(0)
    y = _shapes(rng)[shape]
    w = rng.integers(1, 5, len(y)).astype(float)
    starts, means = maps.pool(y, w)
    assert np.all(np.diff(means) > 0)  # blocks at one level are one block
    fitted = np.repeat(means, np.diff(np.r_[starts, len(y)]))
    assert fitted == pytest.approx(isotonic_regression(y, sample_weight=w), rel=1e-12, abs=1e-12)


def test_sigmoid_keeps_its_tails() -> None:
    t = np.array([-800.0, -40.0, -1.0, 0.0, 1.0, 40.0, 800.0])
    expected = [0.0, np.exp(-40.0), 1 / (1 + np.e), 0.5, 1 / (1 + np.exp(-1.0)), 1.0, 1.0]
    assert maps.sigmoid(t) == pytest.approx(expected, rel=1e-14, abs=0)


@pytest.mark.parametrize("holdout, rows", [(20_000, 5_000), (300, 1_000), (40, 7), (2_000, 30_000)])
def test_isotonic_moments_summed_per_knot_equal_the_rows_sums(holdout: int, rows: int) -> None:
    rng = np.random.default_rng(holdout)
    p = rng.random(holdout)
    drawn = maps.draws("isotonic", maps.fit_map("isotonic", p, (rng.random(holdout) < p) * 1.0),
                       50, np.random.default_rng(1))  # fmt: skip
    score = np.clip(rng.random(rows) * 1.2 - 0.1, 0, 1)  # some beyond the holdout's ends
    score[: rows // 10] = score[0]  # and ties
    pos, ranks = score > 0.5, cbpe.average_ranks(score)
    by_rows = cbpe._moments(lambda part: drawn.apply(score[part]), rows, pos, ranks)
    by_knots = cbpe._linear_moments(drawn.pieces(score), pos, ranks)
    for a, b in zip(by_rows, by_knots, strict=True):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-6)


def test_a_one_knot_map_is_linear_too() -> None:
    params = {"lo": [0.3], "hi": [0.3], "mean": [0.4], "rows": [10]}
    drawn = maps.draws("isotonic", params, 5, np.random.default_rng(1))
    score = np.random.default_rng(2).random(300)
    pos, ranks = score > 0.5, cbpe.average_ranks(score)
    assert drawn.apply(score) == pytest.approx(np.repeat(drawn.values, 300, axis=1))
    by_rows = cbpe._moments(lambda part: drawn.apply(score[part]), 300, pos, ranks)
    by_knots = cbpe._linear_moments(drawn.pieces(score), pos, ranks)
    for a, b in zip(by_rows, by_knots, strict=True):
        assert b == pytest.approx(a, rel=1e-9, abs=1e-6)


def test_isotonic_blocks_by_hand() -> None:
    # Scores .1 .2 .3 .4 with labels 0 1 0 1: .2 and .3 violate and pool (1 of 2 positive).
    params = maps.fit_map("isotonic", np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1.0]))
    assert params["lo"] == [0.1, 0.2, 0.4] and params["hi"] == [0.1, 0.3, 0.4]
    assert params["rows"] == [1, 2, 1]
    # Posterior means (positives + 1/2) / (rows + 1): 0.5/2, 1.5/3, 1.5/2.
    assert params["mean"] == pytest.approx([0.25, 0.5, 0.75])
    # Flat inside a block, linear between blocks, flat beyond the ends.
    got = maps.apply_map("isotonic", params, np.array([0.0, 0.15, 0.25, 0.35, 0.9]))
    assert got == pytest.approx([0.25, 0.375, 0.5, 0.625, 0.75])


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic"])
def test_drawn_maps_centre_on_the_fitted_one(method: str) -> None:
    rng = np.random.default_rng(1)
    p = rng.random(4000)
    params = maps.fit_map(method, p, (rng.random(4000) < p).astype(float))
    drawn = maps.draws(method, params, 400, np.random.default_rng(2))
    grid = np.linspace(0.05, 0.95, 7)
    values = drawn.apply(grid)
    assert values.shape == (400, 7)
    assert values.mean(axis=0) == pytest.approx(maps.apply_map(method, params, grid), abs=0.02)
    assert 0 < values.std(axis=0).max() < 0.08


def test_the_draws_are_wider_where_the_holdout_is_thin() -> None:
    """What an estimate sums: the mean calibrated probability of rows over a range of scores is
    pinned down where the holdout had many rows, loose where it had few."""
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(5000) * 0.8, 0.8 + rng.random(50) * 0.2])  # few above 0.8
    params = maps.fit_map("isotonic", p, (rng.random(len(p)) < p).astype(float))
    drawn = maps.draws("isotonic", params, 300, np.random.default_rng(4))
    dense = drawn.apply(np.linspace(0.3, 0.5, 500)).mean(axis=1).std()
    thin = drawn.apply(np.linspace(0.8, 1.0, 500)).mean(axis=1).std()
    assert thin > 1.5 * dense


def test_the_calibrations_uncertainty_widens_the_interval() -> None:
    rng = np.random.default_rng(5)
    held = rng.random(400)
    params = maps.fit_map("isotonic", held, (rng.random(400) < held).astype(float))
    score = rng.random(3000)
    p = maps.apply_map("isotonic", params, score)
    drawn = maps.draws("isotonic", params, 50, np.random.default_rng(6))
    kw = {"metrics": ("accuracy",), "samples": 1000, "confidence": 0.95, "seed": 0}
    alone = cbpe.estimate(p, score > 0.5, score, **kw)["accuracy"]
    both = cbpe.estimate(p, score > 0.5, score, p_draws=drawn, **kw)["accuracy"]
    assert both.value == alone.value
    assert both.ci_high - both.ci_low > 1.5 * (alone.ci_high - alone.ci_low)


@pytest.mark.parametrize("separated", [False, True])
def test_the_sigmoid_fit_is_platts_as_scikit_learn_fits_it(separated: bool) -> None:
    """Platt's smoothed targets, as scikit-learn's sigmoid calibration: the same (a, b). On a
    holdout the scores separate (20 rows, a class the model never confuses) the labels alone
    have no best fit: the slope would run off and the drawn maps with it."""
    from sklearn.calibration import _sigmoid_calibration

    rng = np.random.default_rng(11)
    if separated:
        p = np.concatenate([rng.uniform(0.0, 0.3, 10), rng.uniform(0.7, 1.0, 10)])
        y = np.repeat([0.0, 1.0], 10)
    else:
        p = rng.uniform(0.01, 0.99, 2000)
        y = (rng.random(2000) < p**1.3).astype(float)
    big_a, big_b = _sigmoid_calibration(maps.logit(p), y)
    fitted = maps.fit_map("sigmoid", p, y)
    assert fitted["a"] == pytest.approx(-big_a, abs=1e-5)
    assert fitted["b"] == pytest.approx(-big_b, abs=1e-5)
    assert np.abs(np.asarray(fitted["cov"])).max() < 1.0


def test_a_separated_holdout_leaves_the_estimate_a_narrow_interval() -> None:
    """150 new rows, the map fitted on 20 holdout rows the model separates: the calibration's
    uncertainty widens the interval, but within reason (the labels' randomness is a few
    hundredths here), not across most of [0, 1]."""
    rng = np.random.default_rng(12)
    held = np.concatenate([rng.uniform(0.0, 0.2, 10), rng.uniform(0.8, 1.0, 10)])
    params = maps.fit_map("sigmoid", held, np.repeat([0.0, 1.0], 10))
    score = np.concatenate([rng.uniform(0.0, 0.2, 75), rng.uniform(0.8, 1.0, 75)])
    p = maps.apply_map("sigmoid", params, score)
    drawn = maps.draws("sigmoid", params, 50, np.random.default_rng(6))
    kw = {"metrics": ("accuracy",), "samples": 1000, "confidence": 0.95, "seed": 0}
    found = cbpe.estimate(p, score > 0.5, score, p_draws=drawn, **kw)["accuracy"]
    assert found.ci_high - found.ci_low < 0.35, found


def test_the_estimated_vs_realised_chart() -> None:
    from datetime import UTC, datetime, timedelta

    from reportlab.graphics.shapes import Circle, Line, Polygon
    from reportlab.lib.colors import HexColor

    from pipeline.report import chart_data
    from pipeline.report.charts import ACCENT, GREY_BAR
    from pipeline.report.estimates import estimate_chart
    from pipeline.report.timeline import HOLDOUT
    from tests.test_report_charts import shapes, texts

    day = datetime(2026, 11, 2, tzinfo=UTC)
    rows = [
        {"period": "day", "period_start": day + timedelta(days=i), "value": 0.8 - 0.05 * i,
         "ci_low": 0.75 - 0.05 * i, "ci_high": 0.85 - 0.05 * i, "reliable": i < 2,
         "realised_value": 0.79 if i == 0 else None, "metric": "f1"}
        for i in range(3)
    ]  # fmt: skip
    d = estimate_chart(chart_data.estimates(rows, "f1"), "Helvetica")
    assert {"02 Nov", "03 Nov", "04 Nov", "f1", "day (UTC)", "realised"} <= set(texts(d))
    dots = shapes(d, Circle)
    assert [c.fillColor for c in dots] == [HexColor(ACCENT)] * 2 + [HexColor(GREY_BAR)]
    assert dots[0].cy > dots[1].cy > dots[2].cy  # the estimate falls period by period
    bars = [ln for ln in shapes(d, Line) if ln.x1 == ln.x2 and ln.strokeWidth == 1.4]
    assert len(bars) == 3 and all(b.y2 > b.y1 for b in bars)
    [realised] = [p for p in shapes(d, Polygon) if p.fillColor == HexColor(HOLDOUT)]
    assert realised is not None
