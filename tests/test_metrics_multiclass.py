"""A multiclass model's precision, recall and F1 are macro over the classes present, whatever
classes a batch's rows show: decided by the model's classes, never by the labels scored (rows
of a 3-class model that show one class or two are not a binary problem). A binary model's are
its positive class's, as before. Pure: literal arrays against scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score

from pipeline.labels.realised import realised
from pipeline.model.metrics import (
    _from_confusion,
    class_labels,
    compute,
    confusion_counts,
    multiclass,
    score_with_interval,
)
from pipeline.settings import load_settings

THREE = (0, 1, 2)  # the model's classes
SKLEARN = {"precision": precision_score, "recall": recall_score, "f1": f1_score}


def _macro(metric: str, y: np.ndarray, pred: np.ndarray) -> float:
    """scikit-learn's macro average over the classes present among the labels or predictions."""
    labels = np.union1d(y, pred)
    return float(SKLEARN[metric](y, pred, average="macro", labels=labels, zero_division=0))


CASES = {
    "one-class-all-right": ([0] * 30, [0] * 30),
    "one-class-some-wrong": ([0] * 10, [0] * 7 + [2] * 3),
    "one-class-of-1": ([1] * 8, [1] * 8),
    "two-classes-0-and-2": ([0] * 6 + [2] * 4, [0, 0, 0, 0, 2, 2, 2, 2, 2, 0]),
    "two-classes-0-and-1": ([0] * 5 + [1] * 5, [0, 0, 0, 1, 1, 1, 1, 1, 1, 0]),
    "three-classes": ([0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 1, 1, 0, 0]),
}


@pytest.mark.parametrize("metric", sorted(SKLEARN))
@pytest.mark.parametrize(("y", "pred"), list(CASES.values()), ids=list(CASES))
def test_a_multiclass_models_score_is_macro_whatever_classes_the_rows_show(
    metric: str, y: list, pred: list
) -> None:
    y_arr, p_arr = np.array(y), np.array(pred)
    expected = _macro(metric, y_arr, p_arr)
    assert compute(metric, y_arr, p_arr, classes=THREE) == pytest.approx(expected, abs=1e-12)
    scored = score_with_interval(metric, y_arr, p_arr, samples=300, seed=4, classes=THREE)
    assert scored.value == pytest.approx(expected, abs=1e-12)
    assert scored.ci_low is not None and scored.ci_high is not None
    assert scored.ci_low <= scored.value <= scored.ci_high


def test_rows_of_one_class_all_predicted_right_score_one_with_no_width() -> None:
    """The defect's own case: 30 rows of class 0 of a 3-class model, all right, were F1 0 (the
    lone class made the pair 0/1 and class 1's F1 taken)."""
    y = np.zeros(30, dtype=int)
    for metric in SKLEARN:
        s = score_with_interval(metric, y, y, samples=200, classes=THREE)
        assert (s.value, s.ci_low, s.ci_high) == (1.0, 1.0, 1.0), metric


def test_each_bootstrap_draw_is_scikit_learns_macro_on_the_rows_it_stands_for() -> None:
    """A draw of the confusion matrix that lost a rare class averages over the classes it
    holds, as scikit-learn does on the resampled rows."""
    rng = np.random.default_rng(7)
    y = np.array([0] * 20 + [2] * 3 + [1] * 2)
    pred = np.array([0] * 18 + [2] * 2 + [2, 0, 2] + [1, 0])
    labels = class_labels(y, pred, THREE)
    cm = confusion_counts(y, pred, labels)
    draws = rng.multinomial(len(y), cm.ravel() / cm.sum(), size=200).reshape(200, *cm.shape)
    assert (draws.sum(axis=-1) + draws.sum(axis=-2) == 0).any()  # some draw lost a class
    for metric in SKLEARN:
        stats = _from_confusion(metric, draws, macro=True)
        for draw, stat in zip(draws, stats, strict=True):
            cells = [(a, p, n) for (a, p), n in np.ndenumerate(draw) if n]
            t = np.repeat([labels[a] for a, _, _ in cells], [n for _, _, n in cells])
            q = np.repeat([labels[p] for _, p, _ in cells], [n for _, _, n in cells])
            assert stat == pytest.approx(_macro(metric, t, q), abs=1e-12), metric


@pytest.mark.parametrize(
    ("classes", "expected"),
    [((0, 1, 2), True), (("a", "b", "c", "d"), True), ((0, 1), False), (None, False)],
)
def test_multiclass_is_the_models_three_or_more_classes(classes, expected) -> None:
    assert multiclass(classes) is expected


@pytest.mark.parametrize("classes", [(0, 1), None])
def test_a_binary_models_score_is_its_positive_class_as_before(classes) -> None:
    """A lone 0 is still completed to the pair 0/1 (F1 of class 1: undefined, no positive
    row and none predicted), two labels are binary."""
    lone = np.zeros(10, dtype=int)
    assert class_labels(lone, lone, classes).tolist() == [0, 1]
    assert compute("f1", lone, lone, classes=classes) is None
    y, pred = np.array([0, 1, 1, 0, 1, 1]), np.array([0, 1, 0, 0, 1, 0])
    for metric, sk in SKLEARN.items():
        expected = sk(y, pred, zero_division=0)
        assert compute(metric, y, pred, classes=classes) == pytest.approx(expected), metric


def test_a_multiclass_models_lone_class_is_not_completed() -> None:
    assert class_labels(np.array([0, 0]), np.array([0, 0]), THREE).tolist() == [0]
    assert class_labels(np.array([1, 2]), np.array([2, 2]), THREE).tolist() == [1, 2]


def _settings(tmp_path, metric):
    (tmp_path / "riskwatch.toml").write_text(
        f'[model]\nmetric = "{metric}"\n[policy]\nbootstrap_samples = 200\n'
    )
    return load_settings(tmp_path / "riskwatch.toml", environ={})


@pytest.mark.parametrize("metric", sorted(SKLEARN))
@pytest.mark.parametrize(
    "case", ["one-class-all-right", "one-class-some-wrong", "two-classes-0-and-2"]
)
def test_realised_performance_of_a_multiclass_model_is_macro(tmp_path, metric, case) -> None:
    """The labels step passes the task's classes (the contract's label values): a period whose
    labels show one class or two is scored as the run scores a 3-class model."""
    y, pred = (np.array(v) for v in CASES[case])
    rows = pd.DataFrame(
        {
            "label": [str(v) for v in y],
            "prediction": pred.astype(float),
            "predicted_label": [str(v) for v in pred],
            "probability": np.nan,  # a multiclass model's P(positive): none
            "period_start": pd.Timestamp("2026-03-02", tz="UTC"),
            "model_version": 1,
        }
    )
    settings = _settings(tmp_path, metric)
    [r] = realised(rows, settings, numeric=True, classes=THREE)
    expected = _macro(metric, y, pred)
    assert r.score.value == pytest.approx(expected, abs=1e-12)
    others = {s.metric: s.value for s in r.others}
    for other in set(SKLEARN) - {metric}:
        assert others[other] == pytest.approx(_macro(other, y, pred), abs=1e-12), other
