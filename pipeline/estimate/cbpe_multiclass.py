"""Confidence-based performance estimation (CBPE) of a multiclass classifier, with its interval.

The rows' calibrated probabilities (`multiclass`: one map per class, normalised) give each row
a distribution over its label. With the model's own decisions, the expected confusion matrix
(actual in rows, predicted in columns, as `pipeline.model.metrics.confusion_counts`) is

    E[C][i, j] = sum of P(class i) over the rows predicted j,

and accuracy (its trace over n), macro precision, recall and F1 (the mean of each class's, 0
where a ratio is 0/0, over the classes present among the labels or the predictions, as the
realised ones are scored: in each simulation the classes its draw has; the estimate weighs each
class by its chance of being present, or, when a class may or may not be, is the simulations'
mean, the expectation of the ratio the realised value is) are read off it. ROC-AUC is
one-vs-rest and macro: for each class, the binary estimate of `cbpe` (the rows ranked by the
model's own P(class), each row positive with its calibrated P(class)), averaged over the
classes where it is defined (scikit-learn's roc_auc_score(multi_class="ovr")).

The interval is a prediction interval, simulated as the binary one is: each simulation takes one
of the calibrations the holdout could as well have given (`multiclass.draws_all`), then draws
every row's label from its distribution. Up to EXACT_DRAWS rows x simulations every label is
drawn; beyond, the sums the metrics are made of (per predicted class, the count of each actual
class and each class's rank sum) are drawn from their joint normal law with exact means and
covariances (sums over independent rows of one-hot draws), so the cost grows with the rows plus
the simulations, not their product. Pure; NumPy imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pipeline.estimate.cbpe import (
    EXACT_DRAWS,
    METRICS,
    Estimate,
    average_ranks,
    expected_roc_auc,
    with_interval,
)

if TYPE_CHECKING:
    import numpy as np

_CHUNK_VALUES = 2_000_000  # probabilities held at a time (maps x rows x classes)


def expected_confusion(p: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """E[confusion matrix] (k x k): `p` the calibrated probabilities (rows x k), `predicted`
    each row's predicted class index."""
    import numpy as np

    p = np.asarray(p, dtype=float)
    k = p.shape[1]
    onehot = np.eye(k)[np.asarray(predicted, dtype=int)]
    return p.T @ onehot


def from_confusion(metric: str, cm: np.ndarray, present: np.ndarray | None = None) -> np.ndarray:
    """A count metric of (a stack of) k x k confusion matrices: accuracy, or the macro mean of
    precision, recall or F1 (0 where a ratio is 0/0) over the classes present, as the realised
    value is scored (`metrics.class_labels`: a class among the labels or the predictions).
    `present`: each class's weight (k; the chance it is present); None: present where a matrix
    counts it (at least half a row: the normal law's draws are not whole)."""
    import numpy as np

    cm = np.asarray(cm, dtype=float)
    diag = np.diagonal(cm, axis1=-2, axis2=-1)
    if metric == "accuracy":
        total = cm.sum(axis=(-2, -1))
        return np.divide(diag.sum(axis=-1), total, out=np.zeros_like(total), where=total > 0)
    predicted, actual = cm.sum(axis=-2), cm.sum(axis=-1)
    num = 2 * diag if metric == "f1" else diag
    den = {"precision": predicted, "recall": actual, "f1": predicted + actual}[metric]
    each = np.divide(num, den, out=np.zeros_like(den), where=den > 0)
    weight = (predicted + actual >= 0.5).astype(float) if present is None else present
    total = np.sum(weight * np.ones_like(each), axis=-1)
    return np.divide((each * weight).sum(axis=-1), total, out=np.zeros_like(total), where=total > 0)


def presence(p: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Each class's chance of being present among the rows' labels or predictions: 1 when a
    row is predicted as it, else 1 - the chance that no row's label is it."""
    import numpy as np

    k = p.shape[1]
    predicted_some = np.bincount(np.asarray(predicted, dtype=int), minlength=k) > 0
    absent = np.exp(np.sum(np.log1p(-np.clip(p, 0.0, 1.0 - 1e-12)), axis=0))
    return np.where(predicted_some, 1.0, 1.0 - absent)


def expected_roc_auc_ovr(p: np.ndarray, score: np.ndarray) -> float | None:
    """Macro one-vs-rest expected ROC-AUC (`cbpe.expected_roc_auc` per class, averaged over
    the classes where it is defined); None when it is defined for none."""
    found = [expected_roc_auc(p[:, c], score[:, c]) for c in range(p.shape[1])]
    defined = [v for v in found if v is not None]
    return None if not defined else sum(defined) / len(defined)


def _auc_ovr(rank_sums: np.ndarray, n_pos: np.ndarray, n: int) -> np.ndarray:
    """Per simulation, the macro one-vs-rest ROC-AUC from each class's rank sum and count
    (simulations x k); NaN when no class has both positives and negatives."""
    import numpy as np

    den = n_pos * (n - n_pos)
    u = rank_sums - n_pos * (n_pos + 1) / 2.0
    auc = np.divide(u, den, out=np.full_like(u, np.nan, dtype=float), where=den > 0)
    auc = np.clip(auc, 0.0, 1.0)
    defined = (den > 0).sum(axis=1)
    total = np.where(den > 0, auc, 0.0).sum(axis=1)
    return np.divide(total, defined, out=np.full(len(total), np.nan), where=defined > 0)


def _exact_sums(
    probs: np.ndarray, pred: np.ndarray, ranks: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Every label drawn: per simulation the confusion matrix (samples x k x k) and each
    class's rank sum (samples x k); simulation s under map s % len(probs) (probs: maps x rows
    x k, few rows here)."""
    import numpy as np

    m, n, k = probs.shape
    cum = np.cumsum(probs, axis=-1)
    which = np.arange(samples) % m
    u = rng.random((samples, n, 1)) * cum[which][:, :, -1:]
    labels = np.minimum((u >= cum[which]).sum(axis=-1), k - 1)  # samples x rows
    cells = np.arange(samples)[:, None] * k * k + labels * k + pred[None, :]
    cm = np.bincount(cells.ravel(), minlength=samples * k * k).reshape(samples, k, k)
    rank_sums = np.stack([(labels == c) @ ranks[c] for c in range(k)], axis=1)
    return cm.astype(float), rank_sums


def _moments(
    probs_of: Callable[[slice], np.ndarray], n: int, pred: np.ndarray, ranks: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per map and predicted class j: the mean (maps x k x 2k) and covariance (maps x k x 2k x
    2k) of the rows predicted j's (count of each actual class, each class's rank sum). A row's
    vector is (e, r * e) for its one-hot label e ~ Multinomial(1, p) and its ranks r, so its
    covariance is (u u') * [[S, S], [S, S]], u = (1, r), S = diag(p) - p p'."""
    import numpy as np

    maps = probs_of(slice(0, 1)).shape[0]
    mean = np.zeros((maps, k, 2 * k))
    cov = np.zeros((maps, k, 2 * k, 2 * k))
    same = np.tile(np.eye(k), (2, 2)).astype(bool)
    step = max(1, _CHUNK_VALUES // (maps * k))
    for lo in range(0, n, step):
        part = slice(lo, min(n, lo + step))
        probs = probs_of(part)  # maps x rows x k
        u = np.concatenate([np.ones((probs.shape[1], k)), ranks[:, part].T], axis=1)
        for j in range(k):
            rows = pred[part] == j
            if not rows.any():
                continue
            a = u[rows]  # rows x 2k
            ap = np.tile(probs[:, rows], (1, 1, 2)) * a[None]  # maps x rows x 2k
            mean[:, j] += ap.sum(axis=1)
            apt = ap.transpose(0, 2, 1)  # batched matrix products (BLAS), not einsum
            cov[:, j] += np.where(same, apt @ a, 0.0) - apt @ ap
    return mean, cov


def _normal_sums(
    mean: np.ndarray, cov: np.ndarray, sizes: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The confusion matrices and rank sums from their normal law, group by group (the rows
    predicted j are independent of the others); simulation s under map s % maps."""
    import numpy as np

    maps, k, d = mean.shape
    w, v = np.linalg.eigh(cov)  # maps x k x d, maps x k x d x d: a square root of each
    root = v * np.sqrt(np.maximum(w, 0.0))[..., None, :]
    which = np.arange(samples) % maps
    z = rng.standard_normal((samples, k, d))
    draw = mean[which] + np.einsum("skij,skj->ski", root[which], z)  # samples x k(pred) x 2k
    counts = np.clip(draw[..., :k], 0.0, sizes[None, :, None])
    cm = np.swapaxes(counts, 1, 2)  # actual in rows, predicted in columns
    return cm, draw[..., k:].sum(axis=1)


def estimate(
    p: np.ndarray,
    predicted: np.ndarray,
    score: np.ndarray,
    *,
    metrics: tuple[str, ...] = METRICS,
    samples: int,
    confidence: float,
    seed: int,
    p_draws: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Estimate]:
    """Estimate `metrics` on rows without labels: `p` their calibrated, normalised class
    probabilities (rows x k), `predicted` the model's decisions as class indices, `score` the
    model's own probabilities (rows x k, what ROC-AUC ranks by). `p_draws` (scores of some
    rows -> maps x rows x k: `multiclass.DrawnMulticlass.apply`) carries the calibration's
    uncertainty into the interval, as in `cbpe.estimate`."""
    import numpy as np

    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    pred = np.asarray(predicted, dtype=int)
    score = np.asarray(score, dtype=float)
    n = len(p)
    if n == 0:
        return {m: Estimate(m, None, None, None, 0) for m in metrics}
    k = p.shape[1]
    ranks = np.stack([average_ranks(score[:, c]) for c in range(k)])
    rng = np.random.default_rng(seed)

    def probs_of(rows: slice) -> np.ndarray:
        return p[None, rows] if p_draws is None else p_draws(score[rows])

    if n * samples <= EXACT_DRAWS:
        cm, rank_sums = _exact_sums(probs_of(slice(0, n)), pred, ranks, samples, rng)
    else:
        mean, cov = _moments(probs_of, n, pred, ranks, k)
        sizes = np.bincount(pred, minlength=k).astype(float)
        cm, rank_sums = _normal_sums(mean, cov, sizes, samples, rng)
    expected = expected_confusion(p, pred)
    present = presence(p, pred)
    uncertain = bool(((present > 1e-9) & (present < 1 - 1e-9)).any())
    out = {}
    for m in metrics:
        if m == "roc_auc":
            value = expected_roc_auc_ovr(p, score)
            sims = _auc_ovr(rank_sums, cm.sum(axis=2), n)
        else:
            sims = from_confusion(m, cm)
            value = float(from_confusion(m, expected, present))
            if m != "accuracy" and uncertain and not np.isnan(sims).all():
                # Whether a class will be present is itself uncertain: the mean over the
                # simulations is the expectation of the ratio the realised value is.
                value = float(np.nanmean(sims))
        out[m] = with_interval(m, value, sims, n, samples=samples, confidence=confidence)
    return out
