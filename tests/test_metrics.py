"""Metrics agree with scikit-learn; bootstrap intervals are right in width, seed and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    root_mean_squared_error,
)

from pipeline.model.metrics import (
    COUNT_METRICS,
    class_labels,
    compute,
    confusion_counts,
    higher_is_better,
    score_with_interval,
)

SKLEARN_BINARY = {
    "accuracy": accuracy_score,
    # NaN where scikit-learn finds the metric ill-defined (0/0): riskwatch's None.
    "precision": lambda t, p: precision_score(t, p, zero_division=np.nan),
    "recall": lambda t, p: recall_score(t, p, zero_division=np.nan),
    "f1": lambda t, p: f1_score(t, p, zero_division=np.nan),
}
SKLEARN_MACRO = {
    "accuracy": accuracy_score,
    "precision": lambda t, p: precision_score(t, p, average="macro", zero_division=0),
    "recall": lambda t, p: recall_score(t, p, average="macro", zero_division=0),
    "f1": lambda t, p: f1_score(t, p, average="macro", zero_division=0),
}
SKLEARN_REGRESSION = {
    "mae": mean_absolute_error,
    "rmse": root_mean_squared_error,
    "r2": r2_score,
}


def noisy_labels(n: int, accuracy: float, seed: int, classes: int = 2) -> tuple:
    """y_true uniform over `classes`; y_pred right with probability `accuracy`, else another."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    wrong = rng.random(n) >= accuracy
    shift = rng.integers(1, classes, n) if classes > 2 else np.ones(n, dtype=int)
    return y, np.where(wrong, (y + shift) % classes, y)


# --- point values ---------------------------------------------------------------------------


@pytest.mark.parametrize("metric", sorted(SKLEARN_BINARY))
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n", [7, 100, 1000])
def test_binary_count_metrics_match_sklearn(metric: str, seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    pred = np.where(rng.random(n) < 0.7, y, rng.integers(0, 2, n))
    assert compute(metric, y, pred) == pytest.approx(SKLEARN_BINARY[metric](y, pred))


@pytest.mark.parametrize("metric", sorted(SKLEARN_MACRO))
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("classes", [3, 5])
def test_multiclass_count_metrics_match_sklearn_macro(metric: str, seed: int, classes: int) -> None:
    y, pred = noisy_labels(300, 0.6, seed, classes)
    assert compute(metric, y, pred) == pytest.approx(SKLEARN_MACRO[metric](y, pred))


def test_multiclass_with_a_class_never_predicted_matches_sklearn() -> None:
    y = np.array([0, 1, 2, 2, 1, 0, 2, 1])
    pred = np.array([0, 1, 1, 1, 1, 0, 0, 1])  # class 2 never predicted
    for metric, ref in SKLEARN_MACRO.items():
        assert compute(metric, y, pred) == pytest.approx(ref(y, pred)), metric


def test_string_labels_match_sklearn_macro() -> None:
    y = np.array(["a", "b", "c", "a", "b", "c", "a"])
    pred = np.array(["a", "b", "b", "a", "c", "c", "b"])
    for metric, ref in SKLEARN_MACRO.items():
        assert compute(metric, y, pred) == pytest.approx(ref(y, pred)), metric


@pytest.mark.parametrize(
    ("y", "pred"),
    [
        pytest.param([0, 0, 0, 0], [0, 1, 0, 1], id="true-all-negative"),
        pytest.param([1, 1, 1, 1], [0, 1, 0, 1], id="true-all-positive"),
        pytest.param([0, 1, 0, 1], [0, 0, 0, 0], id="pred-all-negative"),
        pytest.param([0, 1, 0, 1], [1, 1, 1, 1], id="pred-all-positive"),
        pytest.param([0, 0, 0], [0, 0, 0], id="all-negative-right"),
        pytest.param([1, 1, 1], [1, 1, 1], id="all-positive-right"),
        pytest.param([1, 1, 1], [0, 0, 0], id="all-wrong"),
        pytest.param([1], [1], id="one-row"),
    ],
)
@pytest.mark.parametrize("metric", sorted(SKLEARN_BINARY))
def test_binary_edge_cases_match_sklearn(metric: str, y: list, pred: list) -> None:
    y_arr, p_arr = np.array(y), np.array(pred)
    want = SKLEARN_BINARY[metric](y_arr, p_arr)
    got = compute(metric, y_arr, p_arr)
    assert got is None if np.isnan(want) else got == pytest.approx(want)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("levels", [0, 3, 11])  # 0: continuous scores; else many ties
def test_roc_auc_matches_sklearn(seed: int, levels: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 400)
    score = np.clip(0.3 * y + rng.random(400) * 0.8, 0, 1)
    if levels:
        score = np.round(score * (levels - 1)) / (levels - 1)
    pred = (score > 0.5).astype(int)
    assert compute("roc_auc", y, pred, score) == pytest.approx(roc_auc_score(y, score))


def test_roc_auc_all_scores_tied_is_one_half() -> None:
    y = np.array([0, 1, 0, 1, 1])
    score = np.full(5, 0.4)
    assert compute("roc_auc", y, np.zeros(5), score) == pytest.approx(roc_auc_score(y, score))
    assert compute("roc_auc", y, np.zeros(5), score) == pytest.approx(0.5)


def test_roc_auc_needs_scores() -> None:
    with pytest.raises(ValueError, match="roc_auc needs predicted probabilities"):
        compute("roc_auc", np.array([0, 1]), np.array([0, 1]))


@pytest.mark.parametrize("metric", sorted(SKLEARN_REGRESSION))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regression_metrics_match_sklearn(metric: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(10, 3, 250)
    pred = y + rng.normal(0.5, 2, 250)
    assert compute(metric, y, pred) == pytest.approx(SKLEARN_REGRESSION[metric](y, pred))


def test_regression_metrics_on_integer_targets_match_sklearn() -> None:
    y = np.array([1, 2, 3, 4, 10])
    pred = np.array([1.5, 2, 2, 5, 8])
    for metric, ref in SKLEARN_REGRESSION.items():
        assert compute(metric, y, pred) == pytest.approx(ref(y, pred)), metric


@pytest.mark.parametrize(
    ("metric", "y", "pred", "score"),
    [
        pytest.param("roc_auc", [1, 1, 1], [1, 0, 1], [0.9, 0.2, 0.6], id="auc-only-positives"),
        pytest.param("roc_auc", [0, 0], [0, 1], [0.1, 0.7], id="auc-only-negatives"),
        pytest.param("r2", [2.0, 2.0, 2.0], [1.0, 2.0, 3.0], None, id="r2-constant-y"),
        *[
            pytest.param(m, [], [], [] if m == "roc_auc" else None, id=f"{m}-empty")
            for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse", "r2")
        ],
    ],
)
def test_undefined_metrics_are_none(metric: str, y: list, pred: list, score: list | None) -> None:
    s = None if score is None else np.array(score, dtype=float)
    assert compute(metric, np.array(y), np.array(pred), s) is None
    scored = score_with_interval(metric, np.array(y), np.array(pred), s, samples=100)
    assert (scored.value, scored.ci_low, scored.ci_high, scored.n_rows) == (
        None,
        None,
        None,
        len(y),
    )


@pytest.mark.parametrize(
    ("metric", "up"),
    [("f1", True), ("roc_auc", True), ("r2", True), ("mae", False), ("rmse", False)],
)
def test_direction(metric: str, up: bool) -> None:
    assert higher_is_better(metric) is up


# --- confusion matrix -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "pred"),
    [
        pytest.param([0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0], id="binary"),
        pytest.param([0, 0, 0], [0, 0, 0], id="one-class-completed-to-binary"),
        pytest.param([1, 1, 1], [1, 0, 1], id="only-positives"),
        pytest.param([0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 1, 1, 0, 0], id="three-classes"),
        pytest.param(["no", "yes", "yes", "no"], ["yes", "yes", "no", "no"], id="strings"),
    ],
)
def test_confusion_counts_match_sklearn(y: list, pred: list) -> None:
    y_arr, p_arr = np.array(y), np.array(pred)
    labels = class_labels(y_arr, p_arr)
    expected = confusion_matrix(y_arr, p_arr, labels=labels)
    np.testing.assert_array_equal(confusion_counts(y_arr, p_arr, labels), expected)


def test_confusion_counts_ignore_rows_outside_the_labels() -> None:
    y = np.array([0, 1, 2, 1, 3, 0])
    pred = np.array([0, 1, 1, 2, 0, -1])
    labels = np.array([0, 1])
    expected = confusion_matrix(y, pred, labels=labels)
    np.testing.assert_array_equal(confusion_counts(y, pred, labels), expected)


@pytest.mark.parametrize(
    ("y", "pred", "labels"),
    [
        ([0, 0], [0, 0], [0, 1]),
        ([1], [1], [0, 1]),
        ([1, 2], [2, 2], [1, 2]),
        ([2, 2], [2, 2], [2]),
        (["b", "a"], ["a", "a"], ["a", "b"]),
    ],
)
def test_class_labels(y: list, pred: list, labels: list) -> None:
    assert class_labels(np.array(y), np.array(pred)).tolist() == labels


# --- bootstrap intervals --------------------------------------------------------------------


def regression_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0, 1, n)
    return y, y + rng.standard_t(4, n)  # heavy-ish tailed errors


def scored_case(metric: str, n: int, seed: int = 3) -> tuple:
    if metric in ("mae", "rmse", "r2"):
        y, pred = regression_data(n, seed)
        return y, pred, None
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + rng.random(n) * 0.7, 0, 1)
    return y, (score > 0.5).astype(int), score


@pytest.mark.parametrize(
    "metric", ["accuracy", "precision", "recall", "f1", "roc_auc", "mae", "r2"]
)
def test_interval_contains_the_value(metric: str) -> None:
    y, pred, score = scored_case(metric, 400)
    s = score_with_interval(metric, y, pred, score, samples=300, seed=5)
    assert s.value == pytest.approx(compute(metric, y, pred, score))
    assert s.n_rows == 400
    assert s.ci_low is not None and s.ci_high is not None
    assert s.ci_low < s.value < s.ci_high


@pytest.mark.parametrize("metric", ["f1", "roc_auc", "mae"])
def test_interval_is_reproducible_for_a_seed(metric: str) -> None:
    y, pred, score = scored_case(metric, 300)
    first = score_with_interval(metric, y, pred, score, samples=200, seed=11)
    again = score_with_interval(metric, y, pred, score, samples=200, seed=11)
    other = score_with_interval(metric, y, pred, score, samples=200, seed=12)
    assert first == again
    assert (first.ci_low, first.ci_high) != (other.ci_low, other.ci_high)


@pytest.mark.parametrize(
    ("metric", "max_rows"), [("accuracy", 100_000), ("f1", 100_000), ("mae", 5_000)]
)
def test_interval_narrows_as_n_grows(metric: str, max_rows: int) -> None:
    widths = []
    for n in (100, 100_000):
        y, pred, score = scored_case(metric, n)
        s = score_with_interval(metric, y, pred, score, samples=300, seed=0, max_rows=max_rows)
        widths.append(s.ci_high - s.ci_low)
    # Width goes as 1/sqrt(n): about 31.6 times narrower; leave room for noise.
    assert 15 < widths[0] / widths[1] < 60


def _row_bootstrap(metric: str, y: np.ndarray, pred: np.ndarray, b: int, seed: int) -> np.ndarray:
    """Plain bootstrap: resample rows, recompute the binary metric, `b` times."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(b, len(y)))
    t, p = y[idx], pred[idx]
    tp = ((t == 1) & (p == 1)).sum(axis=1).astype(float)
    fp = ((t == 0) & (p == 1)).sum(axis=1)
    fn = ((t == 1) & (p == 0)).sum(axis=1)
    if metric == "accuracy":
        return (t == p).mean(axis=1)
    precision = np.divide(tp, tp + fp, out=np.zeros_like(tp), where=(tp + fp) > 0)
    recall = np.divide(tp, tp + fn, out=np.zeros_like(tp), where=(tp + fn) > 0)
    if metric == "precision":
        return precision
    if metric == "recall":
        return recall
    denom = precision + recall
    return np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)


@pytest.mark.parametrize("metric", sorted(COUNT_METRICS))
def test_exact_multinomial_bootstrap_matches_row_resampling(metric: str) -> None:
    n, b = 2_000, 2_000
    rng = np.random.default_rng(7)
    y = (rng.random(n) < 0.3).astype(int)  # imbalanced, as attrition is
    pred = np.where(rng.random(n) < 0.8, y, 1 - y)
    stats = _row_bootstrap(metric, y, pred, b, seed=8)
    low, high = np.quantile(stats, [0.025, 0.975])
    s = score_with_interval(metric, y, pred, samples=b, confidence=0.95, seed=9)
    width = high - low
    assert abs(s.ci_low - low) < 0.15 * width
    assert abs(s.ci_high - high) < 0.15 * width
    assert (s.ci_high - s.ci_low) == pytest.approx(width, rel=0.15)


def test_m_out_of_n_bootstrap_keeps_the_width() -> None:
    y, pred = regression_data(20_000, seed=4)
    full = score_with_interval("mae", y, pred, samples=1000, seed=1, max_rows=20_000)
    sub = score_with_interval("mae", y, pred, samples=1000, seed=1, max_rows=2_000)
    assert full.value == sub.value
    full_width = full.ci_high - full.ci_low
    assert (sub.ci_high - sub.ci_low) == pytest.approx(full_width, rel=0.25)
    assert sub.ci_low < sub.value < sub.ci_high
    # Centred where the full bootstrap is.
    assert (sub.ci_low + sub.ci_high) / 2 == pytest.approx(
        (full.ci_low + full.ci_high) / 2, abs=0.2 * full_width
    )


def test_higher_confidence_gives_a_wider_interval() -> None:
    y, pred = noisy_labels(500, 0.8, seed=2)
    narrow = score_with_interval("accuracy", y, pred, confidence=0.8, seed=0)
    wide = score_with_interval("accuracy", y, pred, confidence=0.99, seed=0)
    assert wide.ci_low < narrow.ci_low < narrow.ci_high < wide.ci_high


def test_one_row_has_a_value_but_no_interval() -> None:
    s = score_with_interval("accuracy", np.array([1]), np.array([1]))
    assert (s.value, s.ci_low, s.ci_high, s.n_rows) == (1.0, None, None, 1)


@pytest.mark.parametrize("metric", ["accuracy", "f1"])
def test_interval_coverage(metric: str) -> None:
    # y balanced, each prediction right with probability 0.8: accuracy and F1 are both 0.8.
    truth, n, sims = 0.8, 200, 200
    covered = 0
    for i in range(sims):
        y, pred = noisy_labels(n, truth, seed=1000 + i)
        s = score_with_interval(metric, y, pred, samples=1000, confidence=0.95, seed=i)
        covered += s.ci_low <= truth <= s.ci_high
    assert 0.90 <= covered / sims <= 0.99


@pytest.mark.parametrize(
    ("y_true", "y_pred", "expected"),
    [
        # Negatives only, all predicted right: nothing positive to measure.
        ([0] * 6, [0] * 6, {"precision": None, "recall": None, "f1": None, "accuracy": 1.0}),
        # Positives all missed: no row predicted positive, and an F1 of 0 (they were missed).
        ([1, 1, 0, 0], [0, 0, 0, 0], {"precision": None, "recall": 0.0, "f1": 0.0}),
        # No positive row, one predicted positive: wrong, an F1 of 0.
        ([0, 0, 0, 0], [1, 0, 0, 0], {"precision": 0.0, "recall": None, "f1": 0.0}),
    ],
)
def test_a_binary_metric_that_is_zero_over_zero_is_undefined(y_true, y_pred, expected) -> None:
    """Not 0: a batch the model got all right would read as a collapse (and trigger a
    retrain). Where scikit-learn's value is defined, it is the same."""
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    sk = {"precision": precision_score, "recall": recall_score, "f1": f1_score}
    sk["accuracy"] = accuracy_score
    for metric, want in expected.items():
        got = compute(metric, np.array(y_true), np.array(y_pred), classes=[0, 1])
        assert got == want, metric
        if want is not None:
            assert got == pytest.approx(
                sk[metric](y_true, y_pred, zero_division=0.0)
                if metric != "accuracy"
                else sk[metric](y_true, y_pred)
            )
        score = score_with_interval(metric, np.array(y_true), np.array(y_pred), samples=50)
        assert score.value == want and (want is not None or score.ci_low is None)
