"""The three calibration maps, from a model's P(positive) to a calibrated one, as plain JSON
parameters: fitting, applying, and drawing the maps the holdout could as well have given.

- `none`: the probabilities as they are;
- `sigmoid` (Platt scaling): sigmoid(a * logit(p) + b), fitted by damped Newton steps on
  Platt's smoothed targets;
- `isotonic`: a non-decreasing step function, pool-adjacent-violators over the sorted scores:
  blocks (lowest and highest score, share positive, rows), linear between blocks and flat
  beyond them (as scikit-learn's IsotonicRegression(out_of_bounds="clip")), each block's share
  its posterior mean (positives + 1/2) / (rows + 1) so that no block claims certainty.

A map is fitted on a finite holdout, so it is uncertain, most where the holdout has few rows
(the tails a covariate shift moves the new rows into). `draws` gives maps drawn from that
uncertainty, for the estimate's interval to carry it: for isotonic each block's share positive
from its posterior, Beta(positives + 1/2, negatives + 1/2) (Jeffreys); for sigmoid, (a, b) from
the normal law of their maximum-likelihood estimate (the inverse of the log loss's Hessian); for
none, the same law around the identity map a = 1, b = 0 (how far from calibrated the holdout
cannot tell the model is).

NumPy only, imported inside the functions (the isotonic fit is its own: importing scikit-learn
costs more than the whole estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

METHODS = ("none", "sigmoid", "isotonic")
# Platt scaling works on logits: they are clipped far out (about +-28), so a model's confident
# probabilities keep their order and spacing there.
_LOGIT_EPS = 1e-12
# Pool-adjacent-violators merges vectorised while a pass leaves fewer than this share of the
# blocks, then goes on one block at a time.
_FEW_MERGED = 0.9


def unknown_method(method: str) -> ValueError:
    return ValueError(f"unknown calibration method {method!r}; one of {', '.join(METHODS)}")


def logit(p: np.ndarray) -> np.ndarray:
    import numpy as np

    q = np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)
    return np.log(q) - np.log1p(-q)


def sigmoid(t: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-t)), to full relative precision in both tails: where exp(-t) overflows
    (t below about -709) the true value is below the smallest double, and 1 / inf is 0."""
    import numpy as np

    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(t, dtype=float)))


def _knots(params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Interpolation knots of isotonic blocks: both ends of a block wider than one score."""
    import numpy as np

    lo, hi, mean = (np.asarray(params[k], dtype=float) for k in ("lo", "hi", "mean"))
    x = np.column_stack([lo, hi]).ravel()
    y = np.repeat(mean, 2)
    keep = np.ones(len(x), dtype=bool)
    keep[1::2] = hi > lo
    return x[keep], y[keep]


def apply_map(method: str, params: dict[str, Any], proba: np.ndarray) -> np.ndarray:
    """Apply a calibration map given by its method and JSON parameters."""
    import numpy as np

    p = np.asarray(proba, dtype=float)
    if method == "none":
        return p.copy()
    if method == "sigmoid":
        return sigmoid(params["a"] * logit(p) + params["b"])
    if method == "isotonic":
        x, y = _knots(params)
        return np.interp(p, x, y)
    raise unknown_method(method)


def sigmoid_design(p: np.ndarray) -> np.ndarray:
    """The rows (logit(p), 1) a sigmoid map's (a, b) multiply."""
    import numpy as np

    z = logit(p)
    return np.column_stack([z, np.ones_like(z)])


def _hessian(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The summed log loss's Hessian, q the sigmoid of each row's x @ w."""
    return x.T @ (x * (q * (1 - q))[:, None])


def _covariance(x: np.ndarray, q: np.ndarray) -> list[list[float]]:
    """The inverse of the summed log loss's Hessian (`_hessian`): the law of the fitted (a, b)."""
    import numpy as np

    cov = np.linalg.pinv(_hessian(x, q))
    return [[float(v) for v in row] for row in cov]


def fit_sigmoid(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Newton's method on the log loss of sigmoid(x @ (a, b)), `x` the rows' `sigmoid_design`,
    each step halved until the loss does not rise (a full step from saturated logits can
    overshoot). Each product x @ w is made once: the loss of an accepted step's w, its
    gradient, its Hessian and, at the end, the covariance all use the same one.

    The targets are Platt's, not the labels: (positives + 1) / (positives + 2) for a positive
    row and 1 / (negatives + 2) for a negative one (as scikit-learn's sigmoid calibration).
    On a holdout the scores separate (a small one, a class the model never confuses), the
    labels' log loss has no minimum: the fit would run to a huge slope, the Hessian to zero and
    the drawn maps anywhere, and every interval of the estimate with them. The targets keep
    the fit finite, and move a large holdout's by about one row's worth."""
    import numpy as np

    y = np.asarray(y, dtype=float)
    positives = float(y.sum())
    negatives = len(y) - positives
    y = np.where(y > 0.5, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))

    def loss(t: np.ndarray) -> float:
        # log(1 + exp(t)) - y t, the softplus written out: as exact as np.logaddexp(0, t)
        # and half its cost.
        return float(np.mean(np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t))) - y * t))

    w = np.array([1.0, 0.0])  # the identity map: where an already calibrated model stays
    t = x @ w
    current = loss(t)
    for _ in range(100):
        q = sigmoid(t)
        grad = x.T @ (q - y)
        step = np.linalg.solve(_hessian(x, q) + 1e-9 * np.eye(2), grad)
        for _ in range(40):
            t_trial = x @ (w - step)
            trial = loss(t_trial)
            if trial <= current:
                break
            step = step / 2
        else:
            break
        w, t, current = w - step, t_trial, trial
        if float(np.abs(step).max()) < 1e-10:
            break
    return {"a": float(w[0]), "b": float(w[1]), "cov": _covariance(x, sigmoid(t))}


def pool(means: Any, weights: Any) -> tuple[np.ndarray, np.ndarray]:
    """Pool adjacent violators: (the first index of each block, each block's mean) of the
    non-decreasing fit to `means` weighted by `weights`.

    Merging adjacent blocks that violate the order (or tie) never merges two blocks the fit
    keeps apart, whatever the order of the merges, and a run of blocks each at or above the
    next merges whole. So whole runs merge at once, vectorised, pass after pass, while a pass
    merges a good share of the blocks (the work shrinks geometrically); once one merges few
    (a long rise ending in a deep fall would take a pass per block) the rest go one block at
    a time, as the textbook algorithm does."""
    import numpy as np

    w = np.asarray(weights, dtype=float)
    sums = np.asarray(means, dtype=float) * w
    starts = np.arange(len(w))
    while len(w) > 1:
        block = sums / w
        violates = block[:-1] >= block[1:]
        if not violates.any():
            break
        first = np.flatnonzero(np.r_[True, ~violates])
        few = len(first) > _FEW_MERGED * len(w)
        sums, w, starts = np.add.reduceat(sums, first), np.add.reduceat(w, first), starts[first]
        if few:
            return _pool_one_by_one(starts, sums, w)
    return starts, sums / w


def _pool_one_by_one(
    starts: np.ndarray, sums: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The textbook pass over blocks given by their starts, weighted sums and weights."""
    import numpy as np

    out_start: list[int] = []
    out_sum: list[float] = []
    out_w: list[float] = []
    for start, s, w in zip(starts.tolist(), sums.tolist(), weights.tolist(), strict=True):
        while out_w and out_sum[-1] / out_w[-1] >= s / w:
            s, w = s + out_sum.pop(), w + out_w.pop()
            start = out_start.pop()
        out_start.append(start)
        out_sum.append(s)
        out_w.append(w)
    return np.asarray(out_start, dtype=int), np.asarray(out_sum) / np.asarray(out_w)


def fit_isotonic(scores: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The isotonic blocks of rows sorted by their scores, rows of equal score in their own
    order (a stable sort's: so each score's positives are summed in the rows' order, as the
    unsorted rows' sums are)."""
    import numpy as np

    n = len(scores)
    new = np.ones(n, dtype=bool)  # the first row of each distinct score
    np.not_equal(scores[1:], scores[:-1], out=new[1:])
    if n and np.isnan(scores[-1]):  # the NaNs, sorted last, one score (as np.unique counts)
        new[int(np.searchsorted(scores, scores[-1])) + 1 :] = False
    starts = np.flatnonzero(new)
    rows = np.diff(np.r_[starts, n])
    positives = np.bincount(np.cumsum(new) - 1, weights=y, minlength=len(starts))
    first, _ = pool(positives / rows, rows)
    last = np.r_[first[1:], len(starts)] - 1
    block_rows = np.add.reduceat(rows, first).astype(float)
    # Each block's share as its posterior mean, (positives + 1/2) / (rows + 1): never exactly 0
    # or 1, which a block of a few rows would otherwise claim (and a single later row refute
    # at infinite log loss); pooled again, as the shrinking can break the order of neighbours.
    shrunk = (np.add.reduceat(positives, first) + 0.5) / (block_rows + 1.0)
    again, means = pool(shrunk, block_rows)
    lengths = np.diff(np.r_[again, len(first)])
    return {
        "lo": scores[starts[first]].tolist(),
        "hi": scores[starts[last]].tolist(),
        "mean": np.repeat(means, lengths).tolist(),
        "rows": block_rows.astype(int).tolist(),
    }


def fit_map(
    method: str, proba: np.ndarray, y: np.ndarray, order: np.ndarray | None = None
) -> dict[str, Any]:
    """The parameters of `method`'s map fitted on probabilities `proba` and 0/1 labels `y`
    (`order`: the stable argsort of `proba`, when already known)."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort

    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=float)
    if method == "none":
        x = sigmoid_design(proba)
        return {"cov": _covariance(x, sigmoid(x @ np.array([1.0, 0.0])))}
    if method == "sigmoid":
        return fit_sigmoid(sigmoid_design(proba), y)
    if method == "isotonic":
        order = stable_argsort(proba) if order is None else order
        return fit_isotonic(proba[order], y[order])
    raise unknown_method(method)


@dataclass(frozen=True)
class Drawn:
    """`k` calibration maps drawn from a fitted one's uncertainty, applied together."""

    method: str  # sigmoid (for none and sigmoid) or isotonic
    params: dict[str, Any]  # the fitted map's (isotonic: its blocks' scores)
    values: np.ndarray  # sigmoid: (k, 2) of a, b; isotonic: (k, blocks) of shares

    @property
    def k(self) -> int:
        return int(self.values.shape[0])

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """The calibrated probabilities of `proba` under each map: shape (k, rows)."""
        import numpy as np

        p = np.asarray(proba, dtype=float)
        if self.method == "sigmoid":
            a, b = self.values[:, :1], self.values[:, 1:]
            return sigmoid(a * logit(p)[None, :] + b)
        shares, left, t = self.pieces(p)
        if shares.shape[1] == 1:
            return np.repeat(shares, len(p), axis=1)
        return shares[:, left] * (1 - t) + shares[:, left + 1] * t

    def pieces(
        self, proba: np.ndarray, order: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """An isotonic map is linear in its knots' shares: row i's probability under map j is
        shares[j, left[i]] * (1 - t[i]) + shares[j, left[i] + 1] * t[i] (one knot: shares[j,
        0]). Returns (shares (k, knots), left, t); what is summed over rows can then be summed
        per knot first (`order`: the argsort of `proba`, when known). Raises ValueError for
        the sigmoid maps, which are not linear."""
        import numpy as np

        if self.method != "isotonic":
            raise ValueError("only isotonic maps are linear in their parameters")
        p = np.asarray(proba, dtype=float)
        x, shares = self._knot_shares
        if len(x) == 1:
            return shares, np.zeros(len(p), dtype=int), np.zeros(len(p))
        # Each row between two knots, as np.interp: flat beyond the ends.
        right = np.clip(_knots_at_or_below(x, p, order), 1, len(x) - 1)
        left = right - 1
        span = np.where(x[right] > x[left], x[right] - x[left], 1.0)
        return shares, left, np.clip((p - x[left]) / span, 0.0, 1.0)

    @cached_property
    def _knot_shares(self) -> tuple[np.ndarray, np.ndarray]:
        """The knots' scores (`_knots`) and each map's share at each knot: made once, as an
        estimate asks for its pieces once per period."""
        import numpy as np

        x, _ = _knots(self.params)
        blocks = self.values.shape[1]
        return x, self.values[:, np.repeat(np.arange(blocks), 2)[_kept(self.params)]]


def _knots_at_or_below(x: np.ndarray, p: np.ndarray, order: np.ndarray | None) -> np.ndarray:
    """np.searchsorted(x, p, side="right"): how many knots are at or below each row's score.
    With the rows' sort order known, the knots are looked up among the sorted rows instead
    (a few searches, not one per row): knot j is at or below the rows from the first not
    below it on, so each sorted row's count is a running sum (NaN, sorted last by both,
    above every knot either way)."""
    import numpy as np

    if order is None:
        return np.searchsorted(x, p, side="right")
    starts = np.searchsorted(p[order], x, side="left")  # the first sorted row each knot is at
    counts = np.empty(len(p), dtype=np.intp)
    counts[order] = np.cumsum(np.bincount(starts, minlength=len(p) + 1)[: len(p)])
    return counts


def _kept(params: dict[str, Any]) -> np.ndarray:
    """Which of the two knots of each block `_knots` keeps."""
    import numpy as np

    lo, hi = np.asarray(params["lo"], dtype=float), np.asarray(params["hi"], dtype=float)
    keep = np.ones(2 * len(lo), dtype=bool)
    keep[1::2] = hi > lo
    return keep


def draws(method: str, params: dict[str, Any], k: int, rng: np.random.Generator) -> Drawn:
    """`k` maps drawn from the uncertainty of the fitted one (see the module's docstring). An
    isotonic block's share is drawn from its own posterior, not pooled again with its
    neighbours: a draw may step down where two thin blocks meet, which only widens the spread
    a little, and every draw costs one vectorised call."""
    import numpy as np

    if method in ("none", "sigmoid"):
        centre = [params.get("a", 1.0), params.get("b", 0.0)]
        cov = np.asarray(params.get("cov") or [[0.0, 0.0], [0.0, 0.0]], dtype=float)
        return Drawn("sigmoid", params, rng.multivariate_normal(centre, cov, size=k, method="eigh"))
    if method != "isotonic":
        raise unknown_method(method)
    rows = np.asarray(params["rows"], dtype=float)
    positives = np.asarray(params["mean"], dtype=float) * (rows + 1.0) - 0.5
    positives = np.clip(positives, 0.0, rows)
    shares = rng.beta(positives + 0.5, rows - positives + 0.5, size=(k, len(rows)))
    return Drawn("isotonic", params, shares)
