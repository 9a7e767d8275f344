"""Calibrating a binary classifier's probabilities on its holdout, chosen by cross-validation.

Confidence-based estimation reads a probability as the chance that the row is positive: it is
only as good as the probabilities are calibrated. At training time the three maps of `maps`
(none, sigmoid, isotonic) are compared on the holdout, the rows the model did not learn from,
by their k-fold cross-validated log loss (each fold's map fitted on the other folds; the loss
of the probabilities it gives the fold, pooled): a proper scoring rule, so it rewards
calibrated probabilities, and cross-validated, so the flexible isotonic map is not chosen for
fitting its own rows.

Isotonic is kept unless another map is better by more than `margin` (nats of log loss per
row, monitoring.calibration_margin). It assumes no shape, so it stays right where the model's
confidence is off in a way a sigmoid cannot follow, and the maps' draws (`maps.draws`) widen
the intervals where its blocks are thin: the new rows a covariate shift moves into the tails
lie where the maps differ most, while the bulk of a large holdout barely tells them apart. On a
small holdout its steps overfit and it loses by more than the margin: then the best of the
others (the simpler on a tie). The chosen map is then fitted on the whole holdout; its
expected calibration error (ECE) is measured on the out-of-fold probabilities, the honest figure
for rows it has not seen.

The result is plain JSON (`Calibration.to_json`): the method and its numbers, never a pickle.
NumPy is imported inside the functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from pipeline.estimate.maps import (
    METHODS,
    Drawn,
    apply_map,
    draws,
    fit_isotonic,
    fit_map,
    fit_sigmoid,
    sigmoid,
    sigmoid_design,
    unknown_method,
)

if TYPE_CHECKING:
    import numpy as np

__all__ = ["METHODS", "Calibration", "apply_map", "choose", "ece", "fit_map", "too_small"]

# log loss of a probability of exactly 0 or 1 that is wrong is infinite; the clip bounds one
# row's loss at about 14 nats, so a single such row cannot decide the choice on its own.
_EPS = 1e-6


@dataclass(frozen=True)
class Calibration:
    """A fitted map from the model's P(positive) to a calibrated one, and how it was chosen."""

    method: str  # none, sigmoid or isotonic
    params: dict[str, Any]  # see `maps`: sigmoid a, b, cov; isotonic blocks; none: cov
    ece: float  # expected calibration error of the chosen map, out of fold, on the holdout
    ece_uncalibrated: float  # the same of the model's own probabilities
    holdout_rows: int
    criterion: str  # what chose it
    candidates: dict[str, float] = field(default_factory=dict)  # method: cross-validated loss

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """The calibrated probabilities of `proba` (P(positive) of the model)."""
        return apply_map(self.method, self.params, proba)

    def draws(self, k: int, seed: int) -> Drawn:
        """`k` maps drawn from this one's uncertainty (`maps.draws`)."""
        import numpy as np

        return draws(self.method, self.params, k, np.random.default_rng(seed))

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


def row_losses(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Each row's log loss of probability `p` for its 0/1 label (clipped away from 0 and 1)."""
    import numpy as np

    q = np.clip(p, _EPS, 1 - _EPS)
    return -(y * np.log(q) + (1 - y) * np.log1p(-q))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean log loss of probabilities `p` for 0/1 labels `y`."""
    return float(row_losses(y, p).mean())


def ece(y: np.ndarray, p: np.ndarray, bins: int, order: np.ndarray | None = None) -> float:
    """Expected calibration error: over `bins` bins of equal count by p, the row-weighted mean
    of |share positive - mean p| (`order`: the stable argsort of p, when already known). Equal
    counts, so no bin is a handful of rows."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort

    n = len(p)
    if n == 0:
        return 0.0
    order = stable_argsort(p) if order is None else order
    edges = np.linspace(0, n, min(bins, n) + 1).astype(int)
    total = 0.0
    for lo, hi in pairwise(edges.tolist()):
        if hi > lo:
            rows = order[lo:hi]
            total += (hi - lo) * abs(float(y[rows].mean()) - float(p[rows].mean()))
    return total / n


def out_of_fold(
    method: str,
    proba: np.ndarray,
    y: np.ndarray,
    folds: np.ndarray,
    order: np.ndarray | None = None,
) -> np.ndarray:
    """`method`'s calibrated probability of every row from the map fitted on the other folds
    (`order`: the stable argsort of `proba`, when already known).

    What the folds share is made once: the map `none` leaves every row as it is; sigmoid's
    logits are taken of all rows, each fold fitted on its share of them; isotonic's rows are
    sorted once, each fold's taken from them in that order (the sort of a subset)."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort

    proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=float)
    if method == "none":
        return proba.copy()
    out = np.empty(len(proba))
    if method == "sigmoid":
        x = sigmoid_design(proba)
        for k in np.unique(folds):
            test = folds == k
            # take: the same rows as x[~test], in a tenth of the time for a 2-column array
            params = fit_sigmoid(x.take(np.flatnonzero(~test), axis=0), y[~test])
            out[test] = sigmoid(params["a"] * x[test, 0] + params["b"])
        return out
    if method != "isotonic":
        raise unknown_method(method)
    order = stable_argsort(proba) if order is None else order
    scores, labels, fold = proba[order], y[order], np.asarray(folds)[order]
    for k in np.unique(folds):
        test = folds == k
        params = fit_isotonic(scores[fold != k], labels[fold != k])
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
    margin: float = 0.002,
    methods: tuple[str, ...] = METHODS,
) -> Calibration:
    """Choose and fit the calibration of a binary classifier on its holdout: `proba` its
    P(positive), `y` the labels as 0/1. Raises ValueError when the holdout is too small
    (`too_small` says why)."""
    import numpy as np

    from pipeline.estimate.sorting import stable_argsort
    from pipeline.model.metrics import fold_ids

    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y, dtype=float)
    why = too_small(y, folds)
    if why is not None:
        raise ValueError(why)
    fold = fold_ids(y, folds, seed, stratified=True)
    order = stable_argsort(proba)  # shared by isotonic's folds, its fit and the raw ECE
    oof = {m: out_of_fold(m, proba, y, fold, order) for m in methods}
    losses = {m: row_losses(y, oof[m]) for m in methods}
    best = _chosen(losses, methods, margin)
    return Calibration(
        method=best,
        params=fit_map(best, proba, y, order),
        ece=ece(y, oof[best], bins),
        ece_uncalibrated=ece(y, proba, bins, order),
        holdout_rows=len(y),
        criterion=f"log loss, {folds}-fold cross-validated on the holdout; isotonic unless "
        f"another map is lower by more than {margin:g}",
        candidates={m: float(v.mean()) for m, v in losses.items()},
    )


def _chosen(losses: dict[str, np.ndarray], methods: tuple[str, ...], margin: float) -> str:
    """Isotonic unless beaten by more than `margin`; else the lowest (the simpler on a tie)."""
    mean = {m: float(v.mean()) for m, v in losses.items()}
    best = min(methods, key=lambda m: (round(mean[m], 12), METHODS.index(m)))
    if "isotonic" in methods and mean["isotonic"] - mean[best] <= margin:
        return "isotonic"
    return best
