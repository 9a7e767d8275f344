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
metric is distributed as the metric on simulated labels. It is simulated `samples` times,
vectorised, and the interval is the quantiles at `confidence`. The calibration was itself fitted
on a finite holdout: given `p_draws`, each simulation first takes one of the calibrations that
holdout could as well have given (`maps.draws`), then its labels, so the interval carries the
calibration's uncertainty too, widest where the holdout had few rows like the new ones.

Every simulated label is drawn while n * samples <= EXACT_DRAWS (200 rows at 1,000 samples);
beyond, the sums the metrics are made of (positives among predicted-positive and among
predicted-negative rows, and the rank sum of positives) are drawn from their joint normal law,
whose means and covariances are exact sums over the rows: with a few hundred rows or more those
Poisson-binomial sums are normal to well within the quantiles' own Monte Carlo noise, and the
cost grows with the rows plus the samples, not their product.

Nothing here sees a change of P(label | features) (concept drift): `reliability` says when the
realised values that came later show it. Pure computation; NumPy imported inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from pipeline.estimate.maps import Drawn

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
EXACT_DRAWS = 200_000  # simulated labels drawn one by one up to this many (rows x samples)
_CHUNK_VALUES = 2_000_000  # probabilities held at a time (maps x rows): about 16 MB


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
    yes, no = p[pos], p[~pos]
    tp, fp = float(yes.sum()), float((1 - yes).sum())
    fn, tn = float(no.sum()), float((1 - no).sum())
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


def _groups(sorted_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first index and the length of each run of equal values of a sorted array."""
    import numpy as np

    n = len(sorted_score)
    starts = np.ones(n, dtype=bool)
    np.not_equal(sorted_score[1:], sorted_score[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    ends = np.empty(len(first), dtype=first.dtype)
    ends[:-1], ends[-1:] = first[1:], n
    return first, ends - first


def average_ranks(score: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """1-based ranks of `score`, ties sharing their average rank (Mann-Whitney); `order` its
    stable argsort when already known."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort

    score = np.asarray(score)
    order = stable_argsort(score) if order is None else order
    first, counts = _groups(score[order])
    ranks = np.empty(len(score))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def expected_roc_auc(
    p: np.ndarray, score: np.ndarray, order: np.ndarray | None = None
) -> float | None:
    """E[positive-negative pairs ranked right] / E[positive-negative pairs] over pairs of
    distinct rows, ties counting half: `p` calibrated, `score` what the model ranks by
    (`order`: its stable argsort, when already known)."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort

    p = np.asarray(p, dtype=float)
    q = 1.0 - p
    order = stable_argsort(score) if order is None else order
    s, ps, qs = np.asarray(score)[order], p[order], q[order]
    first, counts = _groups(s)
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
    probs: np.ndarray, pos: np.ndarray, ranks: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per simulation: positives among predicted-positive rows (TP), among predicted-negative
    rows (FN), and the rank sum of positives; every label drawn, simulation s from the rows'
    probabilities probs[s % k] (probs: shape (k, rows), few rows here)."""
    import numpy as np

    p = probs[np.arange(samples) % len(probs)]
    labels = rng.random(p.shape) < p
    return labels[:, pos].sum(axis=1), labels[:, ~pos].sum(axis=1), labels @ ranks


def _moments(
    probs_of: Callable[[slice], np.ndarray], n: int, pos: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per map and per group of rows (predicted positive, predicted negative): the mean and
    covariance of (positives, their rank sum), columns E[n], E[R], Var n, Cov(n, R), Var R;
    summed over slices of rows, so that k maps times a million rows are never held at once."""
    import numpy as np

    k = probs_of(slice(0, 1)).shape[0]
    step = max(1, _CHUNK_VALUES // k)
    sums = [np.zeros((k, 5)), np.zeros((k, 5))]
    for lo in range(0, n, step):
        part = slice(lo, min(n, lo + step))
        probs = probs_of(part)
        for g, rows in enumerate((pos[part], ~pos[part])):
            p, r = probs[:, rows], ranks[part][rows]
            v = p * (1 - p)
            sums[g] += np.column_stack([p.sum(1), p @ r, v.sum(1), v @ r, v @ (r * r)])
    return sums[0], sums[1]


def _linear_moments(
    pieces: tuple[np.ndarray, np.ndarray, np.ndarray], pos: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`_moments` of maps linear in their knots' shares (isotonic: `Drawn.pieces`). A row's
    probability is S[:, l](1 - t) + S[:, l + 1] t, so a sum over rows of p r^a is S times the
    per-knot sums of the rows' weights, and one of p^2 r^a is S^2 and S[:, l] S[:, l + 1]
    times per-knot sums of (1 - t)^2, t^2 and 2t(1 - t): the work grows with the rows plus
    the maps times the knots, not with the maps times the rows."""
    import numpy as np

    shares, left, t = pieces
    knots = shares.shape[1]
    # One knot: no right neighbour. (Made as it is, in the shares' memory order: the products
    # with it below are BLAS's, whose last digits depend on that order.)
    padded = np.column_stack([shares, np.zeros(len(shares))])
    square, cross = padded**2, padded[:, :-1] * padded[:, 1:]
    out = []
    for rows in (pos, ~pos):
        lo, w, r = left[rows], t[rows], ranks[rows]
        a = 1 - w
        # A row's weight at its left knot, at its right one, their squares, their product.
        weights = ((a, lo), (w, lo + 1), (a**2, lo), (w**2, lo + 1), (2 * w * a, lo))
        sums_p, sums_q = [], []
        for ra in (None, r, r**2):  # r^0 (a product with 1 leaves each weight as it is), r, r^2
            at = [np.bincount(i, weights=v if ra is None else v * ra, minlength=knots + 1)
                  for v, i in weights]  # fmt: skip
            sums_p.append(padded @ (at[0] + at[1]))
            sums_q.append(square @ (at[2] + at[3]) + cross @ at[4][:knots])
        (p0, p1, p2), (q0, q1, q2) = sums_p, sums_q
        out.append(np.stack([p0, p1, p0 - q0, p1 - q1, p2 - q2], axis=1))
    return out[0], out[1]


def _normal_sums(
    moments: tuple[np.ndarray, np.ndarray], pos: np.ndarray, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same three sums from their joint normal law: per group of rows (predicted positive,
    predicted negative, independent of each other) the count of positives and their rank sum,
    with exact means and covariances (`_moments`); simulation s under map s % k."""
    import numpy as np

    out = []
    for group, size in zip(moments, (int(pos.sum()), int((~pos).sum())), strict=True):
        m = group[np.arange(samples) % len(group)]
        z = rng.standard_normal((samples, 2))
        # The 2x2 Cholesky factor of each simulation's covariance, written out.
        l11 = np.sqrt(np.maximum(m[:, 2], 0.0))
        l21 = np.divide(m[:, 3], l11, out=np.zeros(samples), where=l11 > 0)
        l22 = np.sqrt(np.maximum(m[:, 4] - l21**2, 0.0))
        count = np.clip(np.rint(m[:, 0] + l11 * z[:, 0]), 0, size)
        out.append((count, m[:, 1] + l21 * z[:, 0] + l22 * z[:, 1]))
    (tp, rs1), (fn, rs0) = out
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
    p_draws: Drawn | None = None,
) -> dict[str, Estimate]:
    """Estimate `metrics` on rows without labels: `p` their calibrated P(positive),
    `predicted` the model's decisions (True: positive), `score` what the model ranks by (its
    own probabilities). Each with the `confidence` interval of `samples` simulations; with
    `p_draws` (the rows' calibrated probabilities under k maps drawn from the calibration's
    own uncertainty: `maps.Drawn`), simulation s draws its labels under map s % k, so the
    interval carries that uncertainty too."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort

    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    pos = np.asarray(predicted, dtype=bool)
    score = np.asarray(score, dtype=float)
    n = len(p)
    if n == 0:
        return {m: Estimate(m, None, None, None, 0) for m in metrics}
    cm = expected_confusion(p, pos)
    order = stable_argsort(score)
    ranks = average_ranks(score, order)
    rng = np.random.default_rng(seed)

    def probs_of(rows: slice) -> np.ndarray:
        if p_draws is None:
            return p[None, rows]
        return np.clip(p_draws.apply(score[rows]), 0.0, 1.0)

    if n * samples <= EXACT_DRAWS:
        tp, fn, rank_sum = _exact_sums(probs_of(slice(0, n)), pos, ranks, samples, rng)
    else:
        if p_draws is not None and p_draws.method == "isotonic":
            moments = _linear_moments(p_draws.pieces(score, order), pos, ranks)
        else:
            moments = _moments(probs_of, n, pos, ranks)
        tp, fn, rank_sum = _normal_sums(moments, pos, samples, rng)
    fp = pos.sum() - tp
    values: dict[str, float | None] = {}
    sims: dict[str, np.ndarray] = {}
    for m in metrics:
        if m == "roc_auc":
            values[m] = expected_roc_auc(p, score, order)
            sims[m] = _auc_from_sums(rank_sum, tp + fn, n)
        else:
            values[m] = float(from_counts(m, cm[1, 1], cm[0, 1], cm[1, 0], n))
            sims[m] = from_counts(m, tp, fp, fn, n)
    return with_intervals(values, sims, n, samples=samples, confidence=confidence)


def with_intervals(
    values: dict[str, float | None],
    sims: dict[str, np.ndarray],
    n: int,
    *,
    samples: int,
    confidence: float,
) -> dict[str, Estimate]:
    """`with_interval` of each metric. The metrics with a value whose every simulation defines
    them have their quantiles taken in one call, one row each (a row's quantiles are the same
    numbers either way, and one call costs about half of three)."""
    import numpy as np

    whole = [m for m, v in values.items() if v is not None and not np.isnan(sims[m]).any()]
    out = {}
    if len(whole) > 1 and all(len(sims[m]) >= samples // 2 for m in whole):
        alpha = (1 - confidence) / 2
        low, high = np.quantile(np.stack([sims[m] for m in whole]), [alpha, 1 - alpha], axis=1)
        for m, lo, hi in zip(whole, low.tolist(), high.tolist(), strict=True):
            out[m] = Estimate(m, values[m], lo, hi, n)
    return {
        m: out.get(m) or with_interval(m, values[m], sims[m], n, samples=samples,
                                       confidence=confidence)
        for m in values
    }  # fmt: skip


def with_interval(
    metric: str, value: float | None, sims: np.ndarray, n: int, *, samples: int, confidence: float
) -> Estimate:
    """The estimate with the `confidence` quantiles of its simulations (NaN where a simulation
    left the metric undefined); none when fewer than half the `samples` define it."""
    import numpy as np

    sims = sims[~np.isnan(sims)]
    if value is None or len(sims) < samples // 2:
        return Estimate(metric, value, None, None, n)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(sims, [alpha, 1 - alpha])
    return Estimate(metric, value, float(low), float(high), n)
