"""Performance without labels, the pure parts: the expected confusion matrix and the metrics
from it against numbers worked out by hand, the intervals' coverage where the method's
assumptions hold, the calibration's choice, and when an estimate is unreliable."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.estimate import calibration, cbpe, reliability
from pipeline.model.metrics import compute

# Five rows: calibrated P(positive) and the model's decisions.
P = np.array([0.9, 0.8, 0.3, 0.6, 0.1])
PREDICTED = np.array([True, True, True, False, False])


def test_the_expected_confusion_matrix_is_the_sums_of_the_probabilities() -> None:
    # Predicted positive: rows 0, 1, 2. TP = 0.9 + 0.8 + 0.3 = 2.0, FP = 0.1 + 0.2 + 0.7 = 1.0.
    # Predicted negative: rows 3, 4. FN = 0.6 + 0.1 = 0.7, TN = 0.4 + 0.9 = 1.3.
    cm = cbpe.expected_confusion(P, PREDICTED)
    assert cm == pytest.approx(np.array([[1.3, 1.0], [0.7, 2.0]]))


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", (2.0 + 1.3) / 5),  # 0.66
        ("precision", 2.0 / (2.0 + 1.0)),
        ("recall", 2.0 / (2.0 + 0.7)),
        ("f1", 2 * 2.0 / (2 * 2.0 + 1.0 + 0.7)),
    ],
)
def test_count_metrics_are_read_off_the_expected_matrix(metric: str, expected: float) -> None:
    found = cbpe.estimate(P, PREDICTED, P, metrics=(metric,), samples=200, confidence=0.95, seed=0)
    assert found[metric].value == pytest.approx(expected)
    assert found[metric].n_rows == 5


def test_roc_auc_is_the_ratio_of_expected_pairs() -> None:
    # p = .8, .5, .2 ranked 3 > 2 > 1; q = 1 - p. Pairs ranked right (positive above negative):
    # .8*.5 + .8*.8 + .5*.8 = 1.44; all pairs of distinct rows: 1.5*1.5 - (.16+.25+.16) = 1.68.
    p = np.array([0.8, 0.5, 0.2])
    assert cbpe.expected_roc_auc(p, np.array([3.0, 2.0, 1.0])) == pytest.approx(1.44 / 1.68)
    # Rows 0 and 1 tied: their two orders count half, (.8*.5 + .5*.2) / 2 = .25 instead of .4.
    tied = cbpe.expected_roc_auc(p, np.array([2.0, 2.0, 1.0]))
    assert tied == pytest.approx((0.25 + 0.64 + 0.4) / 1.68)


def test_roc_auc_matches_a_direct_sum_over_pairs() -> None:
    rng = np.random.default_rng(3)
    p, score = rng.random(40), rng.integers(0, 8, 40).astype(float)  # many ties
    right = pairs = 0.0
    for i in range(40):
        for j in range(40):
            if i != j:
                w = p[i] * (1 - p[j])
                pairs += w
                right += w * (1.0 if score[i] > score[j] else 0.5 if score[i] == score[j] else 0)
    assert cbpe.expected_roc_auc(p, score) == pytest.approx(right / pairs)


def test_certain_probabilities_give_the_realised_metrics_and_no_width() -> None:
    y = np.array([1, 1, 0, 1, 0, 0, 1, 0])
    pred = np.array([1, 0, 0, 1, 1, 0, 1, 0])
    score = np.array([0.9, 0.4, 0.2, 0.7, 0.6, 0.1, 0.8, 0.3])
    found = cbpe.estimate(y.astype(float), pred == 1, score, samples=100, confidence=0.9, seed=1)
    for metric, e in found.items():
        realised = compute(metric, y, pred, score)
        assert e.value == pytest.approx(realised), metric
        assert e.ci_low == pytest.approx(realised) and e.ci_high == pytest.approx(realised)


def _coverage(n: int, trials: int, seed: int) -> dict[str, float]:
    """Share of trials whose realised metric falls in the 95% interval, labels drawn from
    the very probabilities the estimate is given (the method's assumption, exactly)."""
    rng = np.random.default_rng(seed)
    inside = dict.fromkeys(cbpe.METRICS, 0)
    for t in range(trials):
        x = rng.normal(size=n) + t / trials  # the covariates shift from trial to trial
        p = 1 / (1 + np.exp(-(2 * x - 0.5)))
        score = p + rng.normal(scale=0.05, size=n)  # the model ranks by its own noisy score
        y = (rng.random(n) < p).astype(int)
        pred = score > 0.5
        for m, e in cbpe.estimate(p, pred, score, samples=400, confidence=0.95, seed=t).items():
            inside[m] += e.ci_low <= compute(m, y, pred.astype(int), score) <= e.ci_high
    return {m: k / trials for m, k in inside.items()}


@pytest.mark.parametrize("n", [400, 6000], ids=["exact-draws", "normal-sums"])
def test_intervals_cover_the_realised_value_at_their_rate(n: int) -> None:
    # 400 rows x 400 samples draws every label; 6000 x 400 takes the normal sums.
    assert (n * 400 <= cbpe.EXACT_DRAWS) == (n == 400)
    coverage = _coverage(n, trials=150, seed=n)
    # 95% stated; over 150 trials the share's standard error is 1.8 points.
    assert all(0.89 <= c <= 0.995 for c in coverage.values()), coverage


def test_a_calibrated_model_under_covariate_shift_is_covered() -> None:
    """A model fitted and calibrated on training data, then faced with shifted covariates
    (P(label | features) fixed): the estimates fall in their intervals at about the rate."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)

    def data(n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(n, 3)) + np.array([shift, -shift / 2, 0])
        p = 1 / (1 + np.exp(-(1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] - 0.3)))
        return x, (rng.random(n) < p).astype(int)

    x, y = data(8000, 0)
    model = LogisticRegression().fit(x[:5000], y[:5000])
    held = model.predict_proba(x[5000:])[:, 1]
    cal = calibration.choose(held, y[5000:], folds=5, bins=10, seed=0)
    inside, errors, periods = dict.fromkeys(cbpe.METRICS, 0), [], 30
    for t in range(periods):
        xs, ys = data(3000, shift=t / periods * 1.5)
        proba = model.predict_proba(xs)[:, 1]
        pred = proba > 0.5
        found = cbpe.estimate(cal.apply(proba), pred, proba, samples=500, confidence=0.95, seed=t)
        for m, e in found.items():
            realised = compute(m, ys, pred.astype(int), proba)
            inside[m] += e.ci_low <= realised <= e.ci_high
            errors.append(abs(e.value - realised))
    assert all(k / periods >= 0.83 for k in inside.values()), inside
    assert np.mean(errors) < 0.015


def test_exact_and_normal_simulations_agree() -> None:
    rng = np.random.default_rng(11)
    p = rng.beta(2, 2, 2500)
    score = p + rng.normal(scale=0.1, size=2500)
    pred = score > 0.5
    ranks = cbpe.average_ranks(score)
    exact = cbpe._exact_sums(p[None, :], pred, ranks, 800, rng)
    moments = cbpe._moments(lambda rows: p[None, rows], len(p), pred, ranks)
    normal = cbpe._normal_sums(moments, pred, 800, rng)
    for a, b in zip(exact, normal, strict=True):
        assert a.mean() == pytest.approx(b.mean(), rel=0.01)
        assert a.std() == pytest.approx(b.std(), rel=0.12)


def test_no_rows_estimate_nothing() -> None:
    empty = np.array([])
    found = cbpe.estimate(empty, empty.astype(bool), empty, samples=100, confidence=0.95, seed=0)
    assert all(e.value is None and e.n_rows == 0 for e in found.values())


# Calibration: the choice, its parameters as JSON, its error.


def _labels(p: np.ndarray, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(len(p)) < p).astype(float)


def test_platt_scaling_is_chosen_and_undoes_a_sigmoid_distortion() -> None:
    rng = np.random.default_rng(0)
    true_p = 1 / (1 + np.exp(-rng.normal(scale=1.5, size=6000)))
    y = _labels(true_p, 1)
    logit = np.log(true_p / (1 - true_p))
    overconfident = 1 / (1 + np.exp(-3 * logit))  # the model's logit is 3x the truth's
    cal = calibration.choose(overconfident, y, folds=5, bins=10, seed=0)
    assert cal.method == "sigmoid"
    assert cal.params["a"] == pytest.approx(1 / 3, abs=0.04)
    assert cal.params["b"] == pytest.approx(0, abs=0.08)
    assert cal.ece < cal.ece_uncalibrated
    assert set(cal.candidates) == {"none", "sigmoid", "isotonic"}
    assert cal.candidates["sigmoid"] < cal.candidates["none"]


def test_isotonic_is_chosen_for_a_step_no_sigmoid_can_follow() -> None:
    raw = np.random.default_rng(2).random(6000)
    true_p = np.where(raw < 0.5, 0.1, 0.9)  # any score below 0.5 means 10%, above 90%
    cal = calibration.choose(raw, _labels(true_p, 3), folds=5, bins=10, seed=0)
    assert cal.method == "isotonic"
    assert cal.apply(np.array([0.2, 0.8])) == pytest.approx([0.1, 0.9], abs=0.03)


@pytest.mark.parametrize(("rows", "method"), [(300, "none"), (1000, "none"), (20000, "isotonic")])
def test_isotonic_is_kept_unless_clearly_beaten(rows: int, method: str) -> None:
    """Calibrated probabilities: on small holdouts isotonic overfits by more than the margin
    and the model's own probabilities stay; on a large one it costs almost nothing and stays."""
    p = np.random.default_rng(4).random(rows)
    cal = calibration.choose(p, _labels(p, 5), folds=5, bins=10, seed=0, margin=0.002)
    assert cal.method == method, cal.candidates
    # Out-of-fold ECE over 10 bins is mostly noise: about 0.06 with 30 rows a bin, 0.03 with 100.
    assert cal.ece < (0.1 if rows < 20000 else 0.02)
    if method == "none":
        assert set(cal.params) == {"cov"}  # the identity map's uncertainty, for the draws


def test_a_calibration_is_json_and_applies_the_same_after() -> None:
    raw = np.random.default_rng(6).random(3000)
    cal = calibration.choose(raw, _labels(raw**2, 7), folds=4, bins=10, seed=1)
    doc = json.loads(json.dumps(cal.to_json()))
    again = calibration.Calibration.from_json(doc)
    assert again == cal
    assert again.apply(raw) == pytest.approx(cal.apply(raw))
    assert doc["criterion"] == (
        "log loss, 4-fold cross-validated on the holdout; isotonic unless another map is lower "
        "by more than 0.002"
    )


def test_a_holdout_with_too_few_of_a_class_is_not_calibrated() -> None:
    y = np.array([1, 0, 0, 0, 0, 0, 1, 0, 0, 0.0])
    with pytest.raises(ValueError, match="2 positive and 8 negative rows: too few"):
        calibration.choose(np.linspace(0, 1, 10), y, folds=5, bins=10, seed=0)


def test_ece_of_equal_count_bins_by_hand() -> None:
    # Two bins of two rows: p means .15 and .85, positive shares 0 and 1: |0-.15|, |1-.85|.
    p = np.array([0.1, 0.2, 0.8, 0.9])
    y = np.array([0.0, 0.0, 1.0, 1.0])
    assert calibration.ece(y, p, bins=2) == pytest.approx(0.15)


# Reliability.

RULES = {"max_calibration_error": 0.05, "min_rows": 100, "check_periods": 3, "confidence": 0.95}
HIT = reliability.Check(0.7, 0.8, 0.75)
MISS = reliability.Check(0.7, 0.8, 0.6)


def test_a_well_calibrated_estimate_on_enough_rows_is_reliable() -> None:
    assert reliability.judge(n_rows=500, ece=0.01, checks=[HIT, MISS, HIT], **RULES) == (True, None)


@pytest.mark.parametrize(
    ("n_rows", "ece", "checks", "says"),
    [
        (500, 0.08, [], "poorly calibrated on its holdout: ECE 0.080 above "),
        (99, 0.01, [], "only 99 rows, fewer than monitoring.min_period_rows=100"),
        (500, 0.01, [MISS], "estimates of 1 of the last 1 period(s) whose labels arrived missed"),
        (500, 0.01, [MISS, HIT, MISS], "estimates of 2 of the last 3 period(s)"),
        (500, 0.01, [MISS, MISS, HIT, HIT], "2 of the last 3"),  # only the newest 3 count
    ],
)
def test_unreliable_estimates_say_why(n_rows: int, ece: float, checks: list, says: str) -> None:
    reliable, why = reliability.judge(n_rows=n_rows, ece=ece, checks=checks, **RULES)
    assert not reliable
    assert why is not None and says in why


def test_one_miss_in_three_is_what_95_percent_intervals_do() -> None:
    assert reliability.judge(n_rows=500, ece=0.0, checks=[MISS, HIT, HIT], **RULES)[0]
    unknown = reliability.Check(None, None, 0.5)  # not estimated then: no evidence either way
    assert reliability.judge(n_rows=500, ece=0.0, checks=[unknown, HIT], **RULES)[0]


def test_an_interval_wider_than_the_setting_is_unreliable() -> None:
    """Wider than monitoring.max_interval_width is unreliable; narrower, or without a limit (a
    regressor's MAE) or without an interval to judge, it is not, by this rule."""
    wide = {"n_rows": 500, "ece": 0.01, **RULES}
    reliable, why = reliability.judge(ci=(0.507, 0.993), max_width=0.3, **wide)
    assert not reliable and why is not None
    assert "95% interval [0.507, 0.993] is wider than monitoring.max_interval_width=0.3" in why
    assert reliability.judge(ci=(0.5, 0.75), max_width=0.3, **wide)[0]
    assert reliability.judge(ci=(0.0, 1.0), max_width=None, **wide)[0]
    assert reliability.judge(ci=(None, None), max_width=0.3, **wide)[0]


def test_binomial_tail() -> None:
    assert reliability.binomial_tail(1, 1, 0.05) == pytest.approx(0.05)
    assert reliability.binomial_tail(2, 3, 0.05) == pytest.approx(3 * 0.05**2 * 0.95 + 0.05**3)
    assert reliability.binomial_tail(0, 4, 0.3) == pytest.approx(1.0)
