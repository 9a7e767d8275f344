"""Confidence-based performance estimation (CBPE) of a binary classifier, with its interval.

A calibrated probability p of a row is the chance that its label is positive. Given the model's
own decisions (its predicted class) the expected confusion matrix of rows without labels is

    TP = sum of p over rows predicted positive     FP = sum of (1 - p) over the same rows
    FN = sum of p over rows predicted negative     TN = sum of (1 - p) over the same rows

and accuracy, precision, recall and F1 are read off it as from a realised one. ROC-AUC ranks the
model's own scores (its uncalibrated probabilities, as the realised ROC-AUC does): its estimate
is the ratio of expectations E[pairs ranked right] / E[positive-negative pairs], over pairs of
distinct rows, each a positive with probability p_i and a negative with 1 - p_j.

The interval is a prediction interval for the value the labels will give: under the method's
assumption (the probabilities stay calibrated on the new rows: true under covariate shift, where
P(label | features) is unchanged) the labels are independent Bernoulli(p) draws, so the realised
metric is distributed exactly as the metric on simulated labels. It is simulated `samples`
times, vectorised, and the interval is the quantiles at `confidence`. For counts, every
simulated label is drawn while n * samples <= EXACT_DRAWS; beyond, the sums the metrics are made
of (positives among predicted-positive and predicted-negative rows, and the rank sums of
positives) are drawn from their joint normal law, whose moments are exact sums over the rows:
with thousands of rows those Poisson-binomial sums are normal to well within the quantiles'
own noise, and the cost no longer grows with the rows times the samples.

The interval covers the labels' randomness, not an error of the calibration itself (fitted on a
finite holdout) nor a change of P(label | features) (concept drift): `reliability` says when
those make the estimate untrustworthy. Pure computation; NumPy imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
EXACT_DRAWS = 2_000_000  # simulated labels drawn one by one up to this many (rows x samples)
_CHUNK_DRAWS = 1_000_000  # labels drawn at a time in the exact simulation (about 8 MB)


@dataclass(frozen=True)
class Estimate:
    """One metric estimated on rows without labels, with its prediction interval."""

    metric: str
    value: float | None  # None when undefined (ROC-AUC when every p is 0 or every p is 1)
    ci_low: float | None
    ci_high: float | None
    n_rows: int


def expected_confusion(p: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The expected confusion matrix [[TN, FP], [FN, TP]] (actual in rows, predicted in
    columns, as `pipeline.model.metrics.confusion_counts`): `p` the calibrated P(positive),
    `predicted` the model's decisions as booleans (True: positive)."""
    import numpy as np

    p = np.asarray(p, dtype=float)
    pos = np.asarray(predicted, dtype=bool)
    tp, fp = float(p[pos].sum()), float((1 - p[pos]).sum())
    fn, tn = float(p[~pos].sum()), float((1 - p[~pos]).sum())
    return np.array([[tn, fp], [fn, tp]])


def from_counts(metric: str, tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, n: int) -> np.ndarray:
    """A count metric from (arrays of) TP, FP, FN of n rows; 0 where a ratio is 0/0, as
    `pipeline.model.metrics` scores realised ones."""
    import numpy as np

    tp, fp, fn = (np.asarray(v, dtype=float) for v in (tp, fp, fn))
    if metric == "accuracy":
        return (n - fp - fn) / n
    num = tp if metric in ("precision", "recall") else 2 * tp
    den = {"precision": tp + fp, "recall": tp + fn, "f1": 2 * tp + fp + fn}[metric]
    return np.divide(num, den, out=np.zeros_like(den), where=den > 0)


def average_ranks(score: np.ndarray) -> np.ndarray:
    """1-based ranks of `score`, ties sharing their average rank (Mann-Whitney)."""
    import numpy as np

    order = np.argsort(score, kind="mergesort")
    _, first, counts = np.unique(score[order], return_index=True, return_counts=True)
    ranks = np.empty(len(score))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def expected_roc_auc(p: np.ndarray, score: np.ndarray) -> float | None:
    """E[positive-negative pairs ranked right] / E[positive-negative pairs] over pairs of
    distinct rows, ties counting half: `p` calibrated, `score` what the model ranks by."""
    import numpy as np

    p = np.asarray(p, dtype=float)
    q = 1.0 - p
    order = np.argsort(score, kind="mergesort")
    s, ps, qs = np.asarray(score)[order], p[order], q[order]
    _, first, counts = np.unique(s, return_index=True, return_counts=True)
    q_groups = np.add.reduceat(qs, first)  # negatives' mass at each distinct score
    below = np.concatenate([[0.0], np.cumsum(q_groups)[:-1]])  # at lower scores
    group = np.repeat(np.arange(len(first)), counts)
    # A row with another at its own score: half of those rows' negative mass, not its own.
    tied = q_groups[group] - qs
    right = float(np.sum(ps * (below[group] + 0.5 * tied)))
    pairs = float(p.sum() * q.sum() - np.sum(p * q))
    return None if pairs <= 0 else right / pairs


def _auc_from_sums(rank_sum: np.ndarray, n_pos: np.ndarray, n: int) -> np.ndarray:
    import numpy as np

    n_neg = n - n_pos
    den = n_pos * n_neg
    u = rank_sum - n_pos * (n_pos + 1) / 2.0
    auc = np.divide(u, den, out=np.full_like(u, np.nan, dtype=float), where=den > 0)
    return np.clip(auc, 0.0, 1.0)


def _exact_sums(
    p: np.ndarray, pos: np.ndarray, ranks: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per simulation: positives among predicted-positive rows (TP), among predicted-negative
    rows (FN), and the rank sum of positives; every label drawn."""
    import numpy as np

    tp, fn, rank_sum = (np.zeros(samples) for _ in range(3))
    step = max(1, _CHUNK_DRAWS // samples)
    for lo in range(0, len(p), step):
        labels = rng.random((samples, min(step, len(p) - lo))) < p[lo : lo + step]
        tp += labels[:, pos[lo : lo + step]].sum(axis=1)
        fn += labels[:, ~pos[lo : lo + step]].sum(axis=1)
        rank_sum += labels @ ranks[lo : lo + step]
    return tp, fn, rank_sum


def _normal_sums(
    p: np.ndarray, pos: np.ndarray, ranks: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same three sums from their joint normal law: per group of rows (predicted positive,
    predicted negative, independent of each other) the count of positives and their rank sum,
    with exact means and covariances."""
    import numpy as np

    out = []
    for rows in (pos, ~pos):
        pr, r = p[rows], ranks[rows]
        v = pr * (1 - pr)
        mean = np.array([pr.sum(), (pr * r).sum()])
        cov = np.array([[v.sum(), (v * r).sum()], [(v * r).sum(), (v * r * r).sum()]])
        draws = rng.multivariate_normal(mean, cov, size=samples, method="eigh")
        draws[:, 0] = np.clip(np.rint(draws[:, 0]), 0, rows.sum())
        out.append(draws)
    (tp, rs1), (fn, rs0) = out[0].T, out[1].T
    return tp, fn, rs1 + rs0


def estimate(
    p: np.ndarray,
    predicted: np.ndarray,
    score: np.ndarray,
    *,
    metrics: tuple[str, ...] = METRICS,
    samples: int,
    confidence: float,
    seed: int,
) -> dict[str, Estimate]:
    """Estimate `metrics` on rows without labels: `p` their calibrated P(positive),
    `predicted` the model's decisions (True: positive), `score` what the model ranks by (its
    own probabilities). Each with the `confidence` interval of `samples` simulations."""
    import numpy as np

    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    pos = np.asarray(predicted, dtype=bool)
    score = np.asarray(score, dtype=float)
    n = len(p)
    if n == 0:
        return {m: Estimate(m, None, None, None, 0) for m in metrics}
    cm = expected_confusion(p, pos)
    ranks = average_ranks(score)
    rng = np.random.default_rng(seed)
    draw = _exact_sums if n * samples <= EXACT_DRAWS else _normal_sums
    tp, fn, rank_sum = draw(p, pos, ranks, samples, rng)
    fp = pos.sum() - tp
    alpha = (1 - confidence) / 2
    out = {}
    for m in metrics:
        if m == "roc_auc":
            value = expected_roc_auc(p, score)
            sims = _auc_from_sums(rank_sum, tp + fn, n)
            sims = sims[~np.isnan(sims)]
        else:
            value = float(from_counts(m, cm[1, 1], cm[0, 1], cm[1, 0], n))
            sims = from_counts(m, tp, fp, fn, n)
        if value is None or len(sims) < samples // 2:
            out[m] = Estimate(m, value, None, None, n)
            continue
        low, high = np.quantile(sims, [alpha, 1 - alpha])
        out[m] = Estimate(m, value, float(low), float(high), n)
    return out
