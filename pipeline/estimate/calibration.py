"""Calibrating a binary classifier's probabilities on its holdout, chosen by cross-validation.

Confidence-based estimation reads a probability as the chance that the row is positive: it is
only as good as the probabilities are calibrated. At training time, three maps from the model's
P(positive) to a calibrated one are compared on the holdout (rows the model did not learn from):

- `none`: the probabilities as they are (an already calibrated model, logistic regression say);
- `sigmoid` (Platt scaling): sigmoid(a * logit(p) + b), two parameters;
- `isotonic`: a non-decreasing step function (pool-adjacent-violators), as many knots as the
  data supports.

The criterion is the k-fold cross-validated log loss on the holdout (each fold's map is fitted on
the other folds, and the loss is that of the probabilities it gives the fold, pooled): a proper
scoring rule, so it rewards calibrated probabilities, and cross-validated, so the flexible
isotonic map is not chosen for fitting its own rows. The lowest wins; on a tie the simpler one.
The chosen map is then fitted on the whole holdout. Its expected calibration error (ECE) is
measured on the out-of-fold probabilities, the honest figure for rows it has not seen.

The result is plain JSON (`Calibration.to_json`): the method and its numbers, never a pickle.
NumPy and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

METHODS = ("none", "sigmoid", "isotonic")  # simplest first: ties go to the earlier one
# log loss of a probability of exactly 0 or 1 that is wrong is infinite; the clip bounds one
# row's loss at about 14 nats, so a single such row cannot decide the choice on its own.
_EPS = 1e-6
# Platt scaling works on logits: they are clipped far out (about +-28), so a model's confident
# probabilities keep their order and spacing there.
_LOGIT_EPS = 1e-12


@dataclass(frozen=True)
class Calibration:
    """A fitted map from the model's P(positive) to a calibrated one, and how it was chosen."""

    method: str  # none, sigmoid or isotonic
    params: dict[str, Any]  # sigmoid: a, b; isotonic: knots x and y; none: {}
    ece: float  # expected calibration error of the chosen map, out of fold, on the holdout
    ece_uncalibrated: float  # the same of the model's own probabilities
    holdout_rows: int
    criterion: str  # what chose it
    candidates: dict[str, float] = field(default_factory=dict)  # method: cross-validated loss

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """The calibrated probabilities of `proba` (P(positive) of the model)."""
        return apply_map(self.method, self.params, proba)

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "params": self.params,
            "ece": self.ece,
            "ece_uncalibrated": self.ece_uncalibrated,
            "holdout_rows": self.holdout_rows,
            "criterion": self.criterion,
            "candidates": self.candidates,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Calibration:
        return cls(
            method=doc["method"],
            params=doc["params"],
            ece=float(doc["ece"]),
            ece_uncalibrated=float(doc["ece_uncalibrated"]),
            holdout_rows=int(doc["holdout_rows"]),
            criterion=doc["criterion"],
            candidates=dict(doc.get("candidates") or {}),
        )


def _logit(p: np.ndarray) -> np.ndarray:
    import numpy as np

    q = np.clip(p, _LOGIT_EPS, 1 - _LOGIT_EPS)
    return np.log(q) - np.log1p(-q)


def _sigmoid(t: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-t)) without overflow for large |t|."""
    import numpy as np

    return np.exp(-np.logaddexp(0.0, -t))


def apply_map(method: str, params: dict[str, Any], proba: np.ndarray) -> np.ndarray:
    """Apply a calibration map given by its method and JSON parameters."""
    import numpy as np

    p = np.asarray(proba, dtype=float)
    if method == "none":
        return p.copy()
    if method == "sigmoid":
        return _sigmoid(params["a"] * _logit(p) + params["b"])
    if method == "isotonic":
        # Linear between knots and flat beyond them: IsotonicRegression(out_of_bounds="clip").
        return np.interp(p, np.asarray(params["x"]), np.asarray(params["y"]))
    raise ValueError(f"unknown calibration method {method!r}; one of {', '.join(METHODS)}")


def _fit_sigmoid(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Platt scaling: Newton's method on the log loss of sigmoid(a * logit(p) + b), each step
    halved until the loss does not rise (a full step from saturated logits can overshoot)."""
    import numpy as np

    z = _logit(p)
    x = np.column_stack([z, np.ones_like(z)])

    def loss(w: np.ndarray) -> float:
        t = x @ w
        return float(np.mean(np.logaddexp(0.0, t) - y * t))

    w = np.array([1.0, 0.0])  # the identity map: where an already calibrated model stays
    current = loss(w)
    for _ in range(100):
        q = _sigmoid(x @ w)
        grad = x.T @ (q - y)
        hess = x.T @ (x * (q * (1 - q))[:, None]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(hess, grad)
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
    return {"a": float(w[0]), "b": float(w[1])}


def _fit_isotonic(p: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    from sklearn.isotonic import IsotonicRegression

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
    return {"x": iso.X_thresholds_.tolist(), "y": iso.y_thresholds_.tolist()}


def fit_map(method: str, proba: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The parameters of `method`'s map fitted on probabilities `proba` and 0/1 labels `y`."""
    if method == "none":
        return {}
    if method == "sigmoid":
        return _fit_sigmoid(proba, y)
    if method == "isotonic":
        return _fit_isotonic(proba, y)
    raise ValueError(f"unknown calibration method {method!r}; one of {', '.join(METHODS)}")


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean log loss of probabilities `p` for 0/1 labels `y` (clipped away from 0 and 1)."""
    import numpy as np

    q = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(q) + (1 - y) * np.log1p(-q)))


def ece(y: np.ndarray, p: np.ndarray, bins: int) -> float:
    """Expected calibration error: over `bins` bins of equal count by p, the row-weighted mean
    of |share positive - mean p|. Equal counts, so no bin is a handful of rows."""
    import numpy as np

    n = len(p)
    if n == 0:
        return 0.0
    order = np.argsort(p, kind="mergesort")
    edges = np.linspace(0, n, min(bins, n) + 1).astype(int)
    total = 0.0
    for lo, hi in pairwise(edges.tolist()):
        if hi > lo:
            rows = order[lo:hi]
            total += (hi - lo) * abs(float(y[rows].mean()) - float(p[rows].mean()))
    return total / n


def out_of_fold(method: str, proba: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """`method`'s calibrated probability of every row from the map fitted on the other folds."""
    import numpy as np

    out = np.empty(len(proba))
    for k in np.unique(folds):
        test = folds == k
        params = fit_map(method, proba[~test], y[~test])
        out[test] = apply_map(method, params, proba[test])
    return out


def too_small(y: np.ndarray, folds: int) -> str | None:
    """Why these labels cannot be cross-validated in `folds` folds, or None when they can."""
    import numpy as np

    positives = int(np.sum(y == 1))
    negatives = len(y) - positives
    if min(positives, negatives) < folds:
        return (
            f"the holdout has {positives} positive and {negatives} negative rows: too few to "
            f"choose a calibration by {folds}-fold cross-validation (each class needs {folds})"
        )
    return None


def choose(
    proba: np.ndarray,
    y: np.ndarray,
    *,
    folds: int,
    bins: int,
    seed: int,
    methods: tuple[str, ...] = METHODS,
) -> Calibration:
    """Choose and fit the calibration of a binary classifier on its holdout: `proba` its
    P(positive), `y` the labels as 0/1. Raises ValueError when the holdout is too small
    (`too_small` says why)."""
    import numpy as np

    from pipeline.model.metrics import fold_ids

    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=float)
    why = too_small(y, folds)
    if why is not None:
        raise ValueError(why)
    fold = fold_ids(y, folds, seed, stratified=True)
    oof = {m: out_of_fold(m, proba, y, fold) for m in methods}
    losses = {m: log_loss(y, oof[m]) for m in methods}
    best = min(methods, key=lambda m: (round(losses[m], 12), methods.index(m)))
    return Calibration(
        method=best,
        params=fit_map(best, proba, y),
        ece=ece(y, oof[best], bins),
        ece_uncalibrated=ece(y, proba, bins),
        holdout_rows=len(y),
        criterion=f"log loss, {folds}-fold cross-validated on the holdout",
        candidates=losses,
    )
