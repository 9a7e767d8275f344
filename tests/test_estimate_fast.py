"""The estimation's shortcuts give the straightforward computation's numbers to the last digit:
the stable sort, the folds' shared sort and logits, the isotonic blocks from sorted rows, the
Newton steps that reuse their products, the per-knot sums, the lazy settings import."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from pipeline.estimate import calibration, cbpe, maps
from pipeline.estimate.sorting import stable_argsort
from pipeline.model.metrics import fold_ids


def _vectors() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 3000
    nan = rng.random(n)
    nan[rng.random(n) < 0.05] = np.nan
    zeros = np.round(rng.random(n), 3)
    zeros[rng.random(n) < 0.2], zeros[rng.random(n) < 0.2] = 0.0, -0.0
    few = rng.random(n)
    few[:40] = few[0]
    # Pairs of equal values the first look (every 11th row) cannot see: put back in order
    # (9% of the rows), or, 18%, too many to put back (the merge sort after all).
    pairs, more = rng.random(n), rng.random(n)
    pairs[2::22], more[2::11] = pairs[1::22], more[1::11]
    return {
        "distinct": rng.random(n),
        "a few ties": few,
        "ties the first look misses": pairs,
        "more ties than it puts back": more,
        "many ties": np.round(rng.random(n), 2),
        "NaNs": nan,
        "zeros of both signs": zeros,
        "one value": np.full(n, 0.25),
        "integers": rng.integers(0, 50, n),
        "two": np.array([0.5, 0.5]),
        "one": np.array([0.3]),
        "none": np.array([]),
    }


@pytest.mark.parametrize("merge_below", [0, 8_000])
@pytest.mark.parametrize("name", list(_vectors()))
def test_the_stable_argsort_is_the_merge_sorts_permutation(name: str, merge_below: int) -> None:
    a = _vectors()[name]
    expected = np.argsort(a, kind="mergesort")
    assert np.array_equal(stable_argsort(a, merge_below=merge_below), expected)


def _holdout(n: int = 4000, ties: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(n)
    p = rng.random(n) ** 1.5
    if ties:
        p[: n // 5] = np.round(p[: n // 5], 2)
    y = (rng.random(n) < np.clip(1.2 * p - 0.05, 0, 1)).astype(float)
    return p, y, fold_ids(y, 5, 0, stratified=True)


def _isotonic_by_unique(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The isotonic fit as first written: np.unique, then each score's positives counted."""
    scores, inverse, rows = np.unique(p, return_inverse=True, return_counts=True)
    positives = np.bincount(inverse, weights=y, minlength=len(scores))
    first, _ = maps.pool(positives / rows, rows)
    last = np.r_[first[1:], len(scores)] - 1
    block_rows = np.add.reduceat(rows, first).astype(float)
    shrunk = (np.add.reduceat(positives, first) + 0.5) / (block_rows + 1.0)
    again, means = maps.pool(shrunk, block_rows)
    return {
        "lo": scores[first].tolist(),
        "hi": scores[last].tolist(),
        "mean": np.repeat(means, np.diff(np.r_[again, len(first)])).tolist(),
        "rows": block_rows.astype(int).tolist(),
    }


@pytest.mark.parametrize("ties", [True, False])
def test_isotonic_blocks_from_sorted_rows_are_np_uniques(ties: bool) -> None:
    p, y, _ = _holdout(ties=ties)
    y = y * np.random.default_rng(1).random(len(y))  # weights of any size: sums in row order
    assert maps.fit_map("isotonic", p, y) == _isotonic_by_unique(p, y)


def _sigmoid_by_recomputing(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The Newton fit as first written: every step's sigmoid made again where it is used."""
    x = np.column_stack([maps.logit(p), np.ones(len(p))])
    y = np.where(y > 0.5, (y.sum() + 1) / (y.sum() + 2), 1 / (len(y) - y.sum() + 2))  # Platt's

    def hessian(w: np.ndarray) -> np.ndarray:
        q = maps.sigmoid(x @ w)
        return x.T @ (x * (q * (1 - q))[:, None])

    def loss(w: np.ndarray) -> float:
        t = x @ w
        return float(np.mean(np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t))) - y * t))

    w = np.array([1.0, 0.0])
    current = loss(w)
    for _ in range(100):
        grad = x.T @ (maps.sigmoid(x @ w) - y)
        step = np.linalg.solve(hessian(w) + 1e-9 * np.eye(2), grad)
        for _ in range(40):
            trial = loss(w - step)
            if trial <= current:
                break
            step = step / 2
        else:
            break
        w, current = w - step, trial
        if float(np.abs(step).max()) < 1e-10:
            break
    cov = np.linalg.pinv(hessian(w))
    return {"a": float(w[0]), "b": float(w[1]), "cov": [[float(v) for v in r] for r in cov]}


@pytest.mark.parametrize("shape", ["calibrated", "overconfident", "saturated"])
def test_the_sigmoid_fit_reusing_its_products_is_the_plain_newton_fit(shape: str) -> None:
    p, y, _ = _holdout(ties=False)
    if shape == "overconfident":
        p = maps.sigmoid(3 * maps.logit(p))
    if shape == "saturated":
        p = np.where(p > 0.5, 1.0, 0.0) * 0.98 + p * 0.02**8
    assert maps.fit_map("sigmoid", p, y) == _sigmoid_by_recomputing(p, y)


@pytest.mark.parametrize("method", ["none", "sigmoid", "isotonic"])
def test_out_of_fold_with_shared_work_equals_a_fit_per_fold(method: str) -> None:
    p, y, folds = _holdout()
    plain = np.empty(len(p))
    for k in np.unique(folds):
        test = folds == k
        if method == "isotonic":
            params = _isotonic_by_unique(p[~test], y[~test])
        else:
            params = maps.fit_map(method, p[~test], y[~test])
        plain[test] = maps.apply_map(method, params, p[test])
    assert np.array_equal(calibration.out_of_fold(method, p, y, folds), plain)
    order = np.argsort(p, kind="mergesort")
    assert np.array_equal(calibration.out_of_fold(method, p, y, folds, order), plain)


def test_an_unknown_method_is_refused_out_of_fold() -> None:
    p, y, folds = _holdout(200)
    with pytest.raises(ValueError, match="unknown calibration method 'beta'"):
        calibration.out_of_fold("beta", p, y, folds)


def test_the_ece_with_a_known_order_is_the_same() -> None:
    p, y, _ = _holdout()
    assert calibration.ece(y, p, 10, np.argsort(p, kind="mergesort")) == calibration.ece(y, p, 10)


def _linear_moments_per_call(pieces: tuple, pos: np.ndarray, ranks: np.ndarray) -> list:
    """The per-knot sums as first written: each weight made and counted where it is used."""
    shares, left, t = pieces
    knots = shares.shape[1]
    padded = np.column_stack([shares, np.zeros(len(shares))])
    square, cross = padded**2, padded[:, :-1] * padded[:, 1:]
    out = []
    for rows in (pos, ~pos):
        lo, w, r = left[rows], t[rows], ranks[rows]

        def per_knot(weights: np.ndarray, at: np.ndarray = lo) -> np.ndarray:
            return np.bincount(at, weights=weights, minlength=knots + 1)

        sums_p, sums_q = [], []
        for power in (0, 1, 2):
            ra = r**power
            linear = per_knot((1 - w) * ra) + per_knot(w * ra, lo + 1)
            sq = per_knot((1 - w) ** 2 * ra) + per_knot(w**2 * ra, lo + 1)
            sums_p.append(padded @ linear)
            sums_q.append(square @ sq + cross @ per_knot(2 * w * (1 - w) * ra)[:knots])
        (p0, p1, p2), (q0, q1, q2) = sums_p, sums_q
        out.append(np.column_stack([p0, p1, p0 - q0, p1 - q1, p2 - q2]))
    return out


@pytest.mark.parametrize("holdout, rows", [(20_000, 5_000), (40, 300)])
def test_the_per_knot_sums_are_the_plain_ones_to_the_last_digit(holdout: int, rows: int) -> None:
    p, y, _ = _holdout(holdout)
    drawn = maps.draws("isotonic", maps.fit_map("isotonic", p, y), 50, np.random.default_rng(1))
    score = np.clip(np.random.default_rng(2).random(rows) * 1.2 - 0.1, 0, 1)
    score[: rows // 10] = score[0]
    pos, ranks = score > 0.5, cbpe.average_ranks(score)
    pieces = drawn.pieces(score)
    assert all(np.array_equal(a, b) for a, b in zip(drawn.pieces(score), pieces, strict=True))
    found = cbpe._linear_moments(pieces, pos, ranks)
    for a, b in zip(found, _linear_moments_per_call(pieces, pos, ranks), strict=True):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["distinct", "many ties", "one value", "one", "none"])
def test_runs_of_equal_scores_are_np_uniques(name: str) -> None:
    s = np.sort(_vectors()[name])
    first, counts = cbpe._groups(s)
    _, first_u, counts_u = np.unique(s, return_index=True, return_counts=True)
    assert np.array_equal(first, first_u) and np.array_equal(counts, counts_u)


def test_the_settings_table_is_read_without_the_loader() -> None:
    code = (
        "import sys\n"
        "from pipeline.settings.table import default\n"
        "assert default('policy.cv_folds') > 1\n"
        "print(sorted(m for m in ('tomllib', 'pipeline.settings.load') if m in sys.modules))\n"
        "from pipeline.settings import Settings, load_settings, parse_window\n"
        "import pipeline.settings.load as load\n"
        "assert Settings is load.Settings and load_settings is load.load_settings\n"
        "import pipeline.settings as s\n"
        "try:\n"
        "    s.no_such_name\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [
        "[]",
        "module 'pipeline.settings' has no attribute 'no_such_name'",
    ]


@pytest.mark.parametrize("name", ["distinct", "many ties", "NaNs", "one value", "one", "none"])
def test_knots_counted_among_the_sorted_rows_are_searchsorteds(name: str) -> None:
    p = _vectors()[name].astype(float)
    knots = np.sort(np.r_[-0.1, np.random.default_rng(3).random(40), 0.25, 0.5, 1.0])
    if len(p) > 10:
        p[:5] = knots[[1, 2, 3, 41, 43]]  # rows exactly at knots
    expected = np.searchsorted(knots, p, side="right")
    found = maps._knots_at_or_below(knots, p, np.argsort(p, kind="mergesort"))
    assert np.array_equal(found, expected)
    assert np.array_equal(maps._knots_at_or_below(knots, p, np.argsort(p)), expected)


@pytest.mark.parametrize("case", ["all defined", "a NaN", "no value", "one metric", "few"])
def test_quantiles_taken_together_are_each_metrics_own(case: str) -> None:
    rng = np.random.default_rng(4)
    sims = {m: np.round(rng.random(1000), 3) for m in ("f1", "roc_auc", "accuracy")}
    values: dict[str, float | None] = {"f1": 0.5, "roc_auc": 0.7, "accuracy": 0.6}
    if case == "a NaN":
        sims["roc_auc"][::3] = np.nan
    if case == "no value":
        values["roc_auc"] = None
    if case == "one metric":
        values, sims = {"f1": 0.5}, {"f1": sims["f1"]}
    samples = 3000 if case == "few" else 1000  # fewer than half the samples: no interval
    kw = {"samples": samples, "confidence": 0.95}
    each = {m: cbpe.with_interval(m, values[m], sims[m], 5000, **kw) for m in values}
    assert cbpe.with_intervals(values, sims, 5000, **kw) == each
