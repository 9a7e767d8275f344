"""Multiclass performance without labels, the pure parts: the expected confusion matrix and the
macro metrics from it against numbers worked out by hand and against scikit-learn, the
intervals' coverage where the method's assumptions hold, and the per-class calibration."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pipeline.estimate import cbpe, cbpe_multiclass, multiclass
from pipeline.model.metrics import compute

# Four rows, three classes: calibrated probabilities and the model's decisions (class index).
P = np.array(
    [
        [0.7, 0.2, 0.1],
        [0.1, 0.6, 0.3],
        [0.2, 0.2, 0.6],
        [0.5, 0.4, 0.1],
    ]
)
PREDICTED = np.array([0, 1, 2, 1])


def test_the_expected_confusion_matrix_sums_each_class_over_the_rows_predicted() -> None:
    # Predicted 0: row 0. Predicted 1: rows 1 and 3, P(actual 0) = .1 + .5, 1: .6 + .4, 2: .3 +
    # .1. Predicted 2: row 2. Actual in rows, predicted in columns.
    cm = cbpe_multiclass.expected_confusion(P, PREDICTED)
    assert cm == pytest.approx(np.array([[0.7, 0.6, 0.2], [0.2, 1.0, 0.2], [0.1, 0.4, 0.6]]))


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", (0.7 + 1.0 + 0.6) / 4),
        # Per class, diagonal / predicted (columns 1, 2, 1): .7, .5, .6.
        ("precision", (0.7 / 1 + 1.0 / 2 + 0.6 / 1) / 3),
        # Diagonal / actual (rows 1.5, 1.4, 1.1).
        ("recall", (0.7 / 1.5 + 1.0 / 1.4 + 0.6 / 1.1) / 3),
        # 2 diagonal / (predicted + actual).
        ("f1", (1.4 / 2.5 + 2.0 / 3.4 + 1.2 / 2.1) / 3),
    ],
)
def test_macro_metrics_are_read_off_the_expected_matrix(metric: str, expected: float) -> None:
    found = cbpe_multiclass.estimate(
        P, PREDICTED, P, metrics=(metric,), samples=200, confidence=0.95, seed=0
    )
    assert found[metric].value == pytest.approx(expected)
    assert found[metric].n_rows == 4


def test_roc_auc_is_the_mean_of_each_class_against_the_rest() -> None:
    rng = np.random.default_rng(2)
    p = rng.dirichlet([1, 1, 1], 30)
    score = p + rng.normal(scale=0.05, size=p.shape)
    per_class = [cbpe.expected_roc_auc(p[:, c], score[:, c]) for c in range(3)]
    assert cbpe_multiclass.expected_roc_auc_ovr(p, score) == pytest.approx(np.mean(per_class))


def test_certain_probabilities_give_scikit_learns_macro_metrics_and_no_width() -> None:
    y = np.array([0, 1, 2, 2, 1, 0, 1, 2, 0, 1])
    pred = np.array([0, 1, 1, 2, 1, 2, 0, 2, 0, 1])
    score = np.random.default_rng(4).dirichlet([2, 2, 2], len(y))
    found = cbpe_multiclass.estimate(np.eye(3)[y], pred, score, samples=100, confidence=0.9, seed=1)
    for metric, e in found.items():
        if metric == "roc_auc":
            realised = roc_auc_score(y, score, multi_class="ovr", average="macro")
        else:
            realised = compute(metric, y, pred)  # macro over the classes, as a run scores them
        assert e.value == pytest.approx(realised), metric
        assert e.ci_low == pytest.approx(realised) and e.ci_high == pytest.approx(realised)


def _realised(metric: str, y: np.ndarray, pred: np.ndarray, score: np.ndarray) -> float:
    if metric == "roc_auc":  # one-vs-rest, macro (the scores need not sum to 1)
        return float(np.mean([roc_auc_score(y == c, score[:, c]) for c in range(3)]))
    return float(compute(metric, y, pred))


@pytest.mark.parametrize("n", [300, 4000], ids=["exact-draws", "normal-sums"])
def test_intervals_cover_the_realised_value_at_their_rate(n: int) -> None:
    """Labels drawn from the very probabilities the estimate is given (the method's
    assumption, exactly), the covariates shifting from trial to trial."""
    assert (n * 400 <= cbpe.EXACT_DRAWS) == (n == 300)
    rng = np.random.default_rng(n)
    inside, trials = dict.fromkeys(cbpe.METRICS, 0), 120
    for t in range(trials):
        x = rng.normal(size=(n, 2)) + t / trials
        logits = np.column_stack([x[:, 0], x[:, 1], -x[:, 0] - 0.5 * x[:, 1]]) * 1.5
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        score = p + rng.normal(scale=0.03, size=p.shape)  # the model ranks by its own score
        y = (rng.random((n, 1)) > np.cumsum(p, axis=1)).sum(axis=1)
        pred = score.argmax(axis=1)
        found = cbpe_multiclass.estimate(p, pred, score, samples=400, confidence=0.95, seed=t)
        for m, e in found.items():
            inside[m] += e.ci_low <= _realised(m, y, pred, score) <= e.ci_high
    coverage = {m: k / trials for m, k in inside.items()}
    # 95% stated; over 120 trials the share's standard error is 2 points.
    assert all(0.88 <= c <= 1.0 for c in coverage.values()), coverage


def test_exact_and_normal_simulations_agree() -> None:
    rng = np.random.default_rng(11)
    p = rng.dirichlet([2, 2, 2], 2000)
    score = p + rng.normal(scale=0.1, size=p.shape)
    pred = score.argmax(axis=1)
    ranks = np.stack([cbpe.average_ranks(score[:, c]) for c in range(3)])
    exact = cbpe_multiclass._exact_sums(p[None], pred, ranks, 600, rng)
    mean, cov = cbpe_multiclass._moments(lambda rows: p[None, rows], len(p), pred, ranks, 3)
    sizes = np.bincount(pred, minlength=3).astype(float)
    normal = cbpe_multiclass._normal_sums(mean, cov, sizes, 600, rng)
    for a, b in zip(exact, normal, strict=True):
        assert a.mean(axis=0) == pytest.approx(b.mean(axis=0), rel=0.01)
        assert a.std(axis=0) == pytest.approx(b.std(axis=0), rel=0.15, abs=1e-9)


def test_no_rows_estimate_nothing() -> None:
    found = cbpe_multiclass.estimate(
        np.empty((0, 3)), np.empty(0), np.empty((0, 3)), samples=100, confidence=0.95, seed=0
    )
    assert all(e.value is None and e.n_rows == 0 for e in found.values())


# The per-class calibration.


def _distorted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the model's overconfident probabilities, the true ones, labels drawn from the truth)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=1.2, size=(n, 3))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    model = np.exp(2.5 * logits) / np.exp(2.5 * logits).sum(axis=1, keepdims=True)
    y = (rng.random((n, 1)) > np.cumsum(truth, axis=1)).sum(axis=1)
    return model, truth, y


def test_each_class_is_calibrated_and_the_rows_sum_to_one() -> None:
    model, _, y = _distorted(9000, 0)
    cal = multiclass.choose_multiclass(model, y, ["a", "b", "c"], folds=5, bins=10, seed=0)
    assert [c.method for c in cal.per_class] != ["none"] * 3
    assert cal.ece < cal.ece_uncalibrated
    fresh, fresh_truth, _ = _distorted(4000, 1)
    p = cal.apply(fresh)
    assert p.sum(axis=1) == pytest.approx(np.ones(len(p)))
    assert np.abs(p - fresh_truth).mean() < 0.5 * np.abs(fresh - fresh_truth).mean()


def test_the_calibration_is_json_and_applies_the_same_after() -> None:
    model, _, y = _distorted(3000, 2)
    cal = multiclass.choose_multiclass(model, y, ["a", "b", "c"], folds=5, bins=10, seed=0)
    doc = json.loads(json.dumps(cal.to_json()))
    assert doc["method"] == multiclass.METHOD and doc["params"]["classes"] == ["a", "b", "c"]
    assert set(doc["candidates"]) == {"a", "b", "c"}
    again = multiclass.apply_all(doc["params"], model[:50])
    assert again == pytest.approx(cal.apply(model[:50]))
    drawn = multiclass.draws_all(doc["params"], 7, np.random.default_rng(0)).apply(model[:50])
    assert drawn.shape == (7, 50, 3)
    assert drawn.sum(axis=2) == pytest.approx(np.ones((7, 50)))


def test_a_holdout_with_too_few_of_a_class_is_not_calibrated() -> None:
    y = np.array([0] * 20 + [1] * 20 + [2] * 3)
    why = multiclass.too_small(y, 3, folds=5)
    assert why is not None and "3 rows of its rarest class" in why
    with pytest.raises(ValueError, match="rarest class"):
        multiclass.choose_multiclass(np.full((43, 3), 1 / 3), y, ["a", "b", "c"], folds=5,
                                     bins=10, seed=0)  # fmt: skip


def test_a_rare_class_never_predicted_is_averaged_as_the_realised_value_averages_it() -> None:
    """The realised macro average counts the classes among the labels or the predictions only:
    a rare class never predicted is in some periods and not others. The estimate averages it the
    same way (its chance of being present), so it is unbiased, where averaging over every class
    of the model was about 0.08 too low."""
    rng = np.random.default_rng(1)
    n, trials = 100, 150
    errors: dict[str, list[float]] = {"precision": [], "recall": [], "f1": []}
    for t in range(trials):
        a = rng.random(n)
        p = np.column_stack([0.8 * a + 0.095, 0.895 - 0.8 * a, np.full(n, 0.01)])
        pred = p.argmax(axis=1)  # never class 2
        y = np.array([rng.choice(3, p=row) for row in p])
        found = cbpe_multiclass.estimate(p, pred, p, samples=200, confidence=0.95, seed=t)
        for metric, out in errors.items():
            out.append(found[metric].value - compute(metric, y, pred))
    for metric, out in errors.items():
        assert abs(np.mean(out)) < 0.015, (metric, np.mean(out))
    # Where every class is predicted its presence is certain: the expected matrix's macro mean.
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]] * 10)
    pred = p.argmax(axis=1)
    found = cbpe_multiclass.estimate(p, pred, p, samples=50, confidence=0.95, seed=0)
    cm = cbpe_multiclass.expected_confusion(p, pred)
    assert found["f1"].value == pytest.approx(float(cbpe_multiclass.from_confusion("f1", cm)))
