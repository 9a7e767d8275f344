"""Model metrics, their bootstrap confidence intervals and k-fold assignment. Pure: no I/O.

Count-based metrics (accuracy, precision, recall, F1) depend on the rows only through the
confusion matrix, so resampling rows with replacement is exactly a multinomial draw of the
matrix's cells: the bootstrap is exact and costs the same for 30 rows or 30 million. Metrics that
need every row (ROC-AUC, MAE, RMSE, R2) resample rows; above `max_rows` they resample m of the n
rows and shrink the interval around the full-sample value by sqrt(m/n) (the m-out-of-n
bootstrap), which keeps the cost bounded while the width stays right for large n.

Binary or multiclass is the model's (`classes`, its `classes_`): a multiclass model's precision,
recall and F1 are the macro mean over the classes present among the labels or predictions
(scikit-learn's `average="macro"`), even when a batch shows one class or two.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.settings.table import default

if TYPE_CHECKING:
    from pipeline.settings import Settings

COUNT_METRICS = frozenset({"accuracy", "precision", "recall", "f1"})
LOWER_IS_BETTER = frozenset({"mae", "rmse"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


@dataclass(frozen=True)
class Score:
    metric: str
    value: float | None  # None when the metric is undefined on this data (one class, say)
    ci_low: float | None
    ci_high: float | None
    n_rows: int


def multiclass(classes: Sequence[Any] | np.ndarray | None) -> bool:
    """Whether a model of these classes (its `classes_`; None when not known) is scored as a
    multiclass one, macro over the classes: three or more. Decided by the model, never by the
    labels of the rows scored: a batch of a 3-class model may show one class or two."""
    return classes is not None and len(classes) > 2


def class_labels(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[Any] | np.ndarray | None = None
) -> np.ndarray:
    """Sorted labels seen in either array. A binary model's (or one whose `classes` are not
    known): a lone 0 or 1 is completed to the binary pair, whose positive class is 1. A
    multiclass model's: only the labels seen, the classes its macro average is over."""
    labels = np.unique(np.concatenate([np.asarray(y_true), np.asarray(y_pred)]))
    if multiclass(classes):
        return labels
    if len(labels) == 1 and labels.dtype.kind in "iuf" and labels[0] in (0, 1):
        labels = np.array([0, 1], dtype=labels.dtype)
    return labels


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Return the confusion matrix (actual in rows, predicted in columns) for sorted `labels`.

    Rows whose actual or predicted value is not among `labels` are not counted.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = len(labels)
    t = np.clip(np.searchsorted(labels, y_true), 0, k - 1)
    p = np.clip(np.searchsorted(labels, y_pred), 0, k - 1)
    keep = (labels[t] == y_true) & (labels[p] == y_pred)
    return np.bincount(t[keep] * k + p[keep], minlength=k * k).reshape(k, k)


def _from_confusion(metric: str, cm: np.ndarray, macro: bool = False) -> np.ndarray:
    """Metric for a stack of confusion matrices, shape (..., k, k); 0 where a ratio is 0/0
    (in a bootstrap draw: `compute` says None of a binary metric that is 0/0 on the rows).

    Precision, recall and F1 are the positive class's for two labels, unless `macro` (a
    multiclass model's); else the mean over the classes present in each matrix (among its
    labels or predictions), as scikit-learn's macro average over the labels of the rows: a
    bootstrap draw that lost a rare class averages over the others, as its rows would."""
    cm = cm.astype(float)
    total = cm.sum(axis=(-2, -1))
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    if metric == "accuracy":
        return np.divide(diag.sum(axis=-1), total, out=np.zeros_like(total), where=total > 0)
    predicted = cm.sum(axis=-2)
    actual = cm.sum(axis=-1)
    precision = np.divide(diag, predicted, out=np.zeros_like(diag), where=predicted > 0)
    recall = np.divide(diag, actual, out=np.zeros_like(diag), where=actual > 0)
    if metric == "precision":
        per_class = precision
    elif metric == "recall":
        per_class = recall
    else:
        denom = precision + recall
        per_class = np.divide(
            2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0
        )
    if cm.shape[-1] == 2 and not macro:
        # Binary: the positive class is the larger label (1 of 0/1), as scikit-learn does.
        return per_class[..., -1]
    present = (predicted + actual > 0).astype(float)
    count = present.sum(axis=-1)
    total = (per_class * present).sum(axis=-1)
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _undefined(metric: str, cm: np.ndarray, macro: bool) -> bool:
    """Whether a binary model's precision, recall or F1 is 0/0 on these rows: precision with
    no row predicted positive, recall with no positive row, F1 with neither (a batch of
    negatives all predicted right is not an F1 of 0, which would read as a collapse)."""
    if metric not in ("precision", "recall", "f1") or cm.shape != (2, 2) or macro:
        return False
    predicted, actual = cm[:, 1].sum(), cm[1, :].sum()
    if metric == "precision":
        return bool(predicted == 0)
    if metric == "recall":
        return bool(actual == 0)
    return bool(predicted == 0 and actual == 0)


def _roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float | None:
    positive = y_true == y_true.max()
    n_pos = int(positive.sum())
    n_neg = len(y_true) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(y_score, kind="mergesort")
    ranks = np.empty(len(y_score), dtype=float)
    sorted_scores = y_score[order]
    # Average ranks over ties (Mann-Whitney U).
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# Past this size a regression metric's sums or squares could overflow (a label of 1e308: a
# bootstrap draw holding it twice summed to inf), so the values are scaled first.
_SCALE_ABOVE = 2.0**400


def _row_metric(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """MAE, RMSE or R2 of at least one row. Values past _SCALE_ABOVE are divided by a power of
    two first, an exact division (a value too small beside them to count may underflow to 0);
    below it nothing is scaled, the very numbers as before."""
    y_true, y_pred = y_true.astype(float), y_pred.astype(float)
    size = max(float(np.abs(y_true).max()), float(np.abs(y_pred).max()))
    scale = 1.0
    if _SCALE_ABOVE < size < np.inf:
        scale = float(np.ldexp(1.0, int(np.frexp(size)[1]) - 1))  # values within +-2
        y_true, y_pred = y_true / scale, y_pred / scale
    err = y_pred - y_true
    if metric == "mae":
        return float(np.abs(err).mean()) * scale
    if metric == "rmse":
        return float(np.sqrt((err**2).mean())) * scale
    if metric == "r2":
        ss_tot = float(((y_true - y_true.mean()) ** 2).sum())
        return None if ss_tot == 0 else 1.0 - float((err**2).sum()) / ss_tot
    raise ValueError(f"unknown metric {metric!r}")


def compute(
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    *,
    classes: Sequence[Any] | np.ndarray | None = None,
) -> float | None:
    """Return the metric's value, or None when it is undefined on this data. `classes`: the
    model's (`multiclass`); None: binary or multiclass as the labels seen say."""
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return None
    if metric in COUNT_METRICS:
        labels = class_labels(y_true, y_pred, classes)
        cm = confusion_counts(y_true, np.asarray(y_pred), labels)
        if _undefined(metric, cm, multiclass(classes)):
            return None
        return float(_from_confusion(metric, cm, multiclass(classes)))
    if metric == "roc_auc":
        if y_score is None:
            raise ValueError("roc_auc needs predicted probabilities")
        return _roc_auc(y_true, np.asarray(y_score, dtype=float))
    return _row_metric(metric, y_true, np.asarray(y_pred))


def score_with_interval(
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    *,
    samples: int = default("policy.bootstrap_samples"),
    confidence: float = default("policy.confidence"),
    seed: int = 0,
    max_rows: int = default("policy.bootstrap_max_rows"),
    classes: Sequence[Any] | np.ndarray | None = None,
) -> Score:
    """Return the metric with a percentile bootstrap interval at `confidence`; `classes` as
    `compute` takes them."""
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    y_score = None if y_score is None else np.asarray(y_score, dtype=float)
    n = len(y_true)
    value = compute(metric, y_true, y_pred, y_score, classes=classes)
    if value is None or n < 2:
        return Score(metric, value, None, None, n)
    rng = np.random.default_rng(seed)
    alpha = (1 - confidence) / 2
    if metric in COUNT_METRICS:
        cm = confusion_counts(y_true, y_pred, class_labels(y_true, y_pred, classes))
        draws = rng.multinomial(n, cm.ravel() / cm.sum(), size=samples)
        stats = _from_confusion(metric, draws.reshape(samples, *cm.shape), multiclass(classes))
        low, high = np.quantile(stats, [alpha, 1 - alpha])
        return Score(metric, value, float(low), float(high), n)

    m = min(n, max_rows)
    stats_list = []
    for _ in range(samples):
        idx = rng.integers(0, n, size=m)
        part = None if y_score is None else y_score[idx]
        s = compute(metric, y_true[idx], y_pred[idx], part, classes=classes)
        if s is not None:
            stats_list.append(s)
    if len(stats_list) < samples // 2:
        return Score(metric, value, None, None, n)
    stats = np.asarray(stats_list)
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    if m < n:
        shrink = np.sqrt(m / n)
        low, high = value - (value - low) * shrink, value + (high - value) * shrink
    return Score(metric, value, float(low), float(high), n)


def fold_ids(y: np.ndarray, k: int, seed: int, *, stratified: bool) -> np.ndarray:
    """The fold (0 to k-1) of each row for k-fold cross-validation, seeded.

    Stratified, each class's rows are shuffled and dealt out to the folds in turn, one deal
    continuing where the previous class's ended, so every fold holds each class in proportion
    (to within one row) and fold sizes differ by at most one row.
    """
    y = np.asarray(y)
    if k < 2:
        raise ValueError(f"k-fold cross-validation needs k >= 2, got {k}")
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratified else [np.arange(len(y))]
    folds = np.empty(len(y), dtype=np.int64)
    dealt = 0
    for rows in groups:
        folds[rng.permutation(rows)] = (dealt + np.arange(len(rows))) % k
        dealt += len(rows)
    return folds


def settings_score(
    settings: Settings,
    metric: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_score: np.ndarray | None = None,
    *,
    most_samples: int | None = None,
    classes: Sequence[Any] | np.ndarray | None = None,
) -> Score:
    """`metric` with the interval the policy's bootstrap settings give (policy.bootstrap_samples,
    at most `most_samples`; policy.confidence, policy.bootstrap_max_rows, seeded by
    model.random_seed): how a run scores and how labels that arrive later are scored, the same
    number for the same rows. `classes`: the model's, as `compute` takes them."""
    samples = settings["policy.bootstrap_samples"]
    return score_with_interval(
        metric,
        y_true,
        y_pred,
        y_score,
        samples=samples if most_samples is None else min(samples, most_samples),
        confidence=settings["policy.confidence"],
        seed=settings["model.random_seed"],
        max_rows=settings["policy.bootstrap_max_rows"],
        classes=classes,
    )
