"""Direct loss estimation (DLE) of a regressor: its mean absolute error on rows without labels.

At training time a model of the absolute error is fitted on the holdout (rows the regressor did
not learn from), |y - prediction| from the prediction and the numeric features, two ways:

- `dle_linear`: least squares on the prediction and the numeric features (each imputed by its
  holdout median and standardised), each with its absolute value (its distance from the
  centre);
- `dle_trees`: gradient-boosted trees on the same inputs (`loss_trees`), as NannyML's DLE,
  which follow a loss that bends with the features or grows where two of them meet.

`choose` keeps the one with the lower k-fold cross-validated squared error of |error| on the
holdout (each fold's model fitted on the other folds; at most TREE_ROWS rows): the trees when
the error has a shape a line cannot follow and the holdout is large enough to show it, the
line otherwise (on a small holdout the trees fit noise and lose). Both are JSON (coefficients
and their covariance, or the trees' arrays; never a pickle). Categorical features are not
used.

On new rows the estimated MAE is the mean of the predicted absolute errors (clipped at 0). Its
interval is normal, from the two errors it carries: the rows' own scatter around their
predicted loss (residual variance / n) and the fitted model's uncertainty (the line's: x' Cov x
at the rows' mean design row; the trees': their out-of-fold residual variance over the holdout's
rows, the uncertainty of a mean anchored on the holdout's). Under covariate shift the loss model
is extrapolated like any model; under concept drift it is as blind as CBPE (`reliability`).
Pure; estimating takes NumPy only (the trees are fitted with scikit-learn at training time).
"""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from pipeline.estimate.cbpe import Estimate

if TYPE_CHECKING:
    import numpy as np

METHOD = "dle_linear"  # the linear loss model's `calibrations.method`
TREES = "dle_trees"
METHODS = (METHOD, TREES)
# The choice and the trees take a seeded sample of at most this many holdout rows (the line is
# fitted on them all): gradient boosting costs seconds per 10,000 rows and fold, and a model of
# one noisy |error| per row gains little from more.
TREE_ROWS = 10_000


def _design(params: dict[str, Any], numeric: np.ndarray, pred: np.ndarray) -> np.ndarray:
    import numpy as np

    x = np.asarray(numeric, dtype=float).reshape(len(pred), -1)
    median = np.asarray(params["median"], dtype=float)
    scale = np.asarray(params["scale"], dtype=float)
    x = np.where(np.isnan(x), median, x)
    p = (np.asarray(pred, dtype=float) - params["pred_mean"]) / params["pred_scale"]
    z = (x - median) / scale
    # Each input and its distance from the centre: errors often grow away from where the
    # training rows were dense, on either side, which a line alone cannot follow.
    return np.column_stack([np.ones(len(p)), p, np.abs(p), z, np.abs(z)])


def fit(numeric: np.ndarray, pred: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The loss model's JSON parameters, from the holdout's numeric features (rows x columns,
    NaN where missing), the regressor's predictions and the labels."""
    import numpy as np

    pred = np.asarray(pred, dtype=float)
    x = np.asarray(numeric, dtype=float).reshape(len(pred), -1)
    with np.errstate(all="ignore"):
        median = np.nan_to_num(np.nanmedian(x, axis=0)) if x.shape[1] else np.zeros(0)
        filled = np.where(np.isnan(x), median, x)
        scale = filled.std(axis=0) if x.shape[1] else np.zeros(0)
    params: dict[str, Any] = {
        "median": median.tolist(),
        "scale": np.where(scale > 0, scale, 1.0).tolist(),
        "pred_mean": float(pred.mean()),
        "pred_scale": float(pred.std()) or 1.0,
    }
    design = _design(params, x, pred)
    target = np.abs(np.asarray(y, dtype=float) - pred)
    gram = design.T @ design + 1e-9 * np.eye(design.shape[1])
    coef = np.linalg.solve(gram, design.T @ target)
    resid = target - design @ coef
    dof = max(1, len(target) - design.shape[1])
    var = float(resid @ resid / dof)
    params.update(
        coef=coef.tolist(),
        cov=(var * np.linalg.pinv(gram)).tolist(),
        resid_var=var,
        holdout_mae=float(target.mean()),
        r2=float(1 - resid.var() / target.var()) if target.var() > 0 else 0.0,
    )
    return params


def _trees_input(params: dict[str, Any], numeric: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The trees' inputs: the prediction and the numeric features, NaN as the median."""
    import numpy as np

    x = np.asarray(numeric, dtype=float).reshape(len(pred), -1)
    x = np.where(np.isnan(x), np.asarray(params["median"], dtype=float), x)
    return np.column_stack([np.asarray(pred, dtype=float), x])


def predicted_loss(
    method: str, params: dict[str, Any], numeric: np.ndarray, pred: np.ndarray
) -> np.ndarray:
    """Each row's predicted absolute error under the loss model (clipped at 0)."""
    import numpy as np

    from pipeline.estimate import loss_trees

    if method == TREES:
        raw = loss_trees.apply(params["trees"], _trees_input(params, numeric, pred))
    else:
        raw = _design(params, numeric, pred) @ np.asarray(params["coef"])
    return np.clip(raw, 0.0, None)


def fit_trees(numeric: np.ndarray, pred: np.ndarray, y: np.ndarray, *, seed: int) -> dict[str, Any]:
    """The trees' JSON parameters (`loss_trees`), with the holdout's medians and MAE."""
    import numpy as np

    from pipeline.estimate import loss_trees

    pred = np.asarray(pred, dtype=float)
    x = np.asarray(numeric, dtype=float).reshape(len(pred), -1)
    with np.errstate(all="ignore"):
        median = np.nan_to_num(np.nanmedian(x, axis=0)) if x.shape[1] else np.zeros(0)
    params: dict[str, Any] = {"median": median.tolist()}
    target = np.abs(np.asarray(y, dtype=float) - pred)
    params["trees"] = loss_trees.fit(_trees_input(params, x, pred), target, seed=seed)
    params["holdout_mae"] = float(target.mean())
    return params


def choose(
    numeric: np.ndarray, pred: np.ndarray, y: np.ndarray, *, folds: int, seed: int,
    methods: tuple[str, ...] = METHODS,
) -> tuple[str, dict[str, Any], dict[str, float]]:  # fmt: skip
    """(method, its parameters fitted on the whole holdout, every method's cross-validated
    mean squared error of |error|): the loss model with the lower one. A holdout of fewer than
    two rows per fold cannot be cross-validated: the line, fitted on it all, without a choice
    (no errors in the third place)."""
    import numpy as np

    from pipeline.model.metrics import fold_ids

    pred, y = np.asarray(pred, dtype=float), np.asarray(y, dtype=float)
    x_all = np.asarray(numeric, dtype=float).reshape(len(pred), -1)
    if len(pred) < 2 * folds:
        return METHOD, fit(x_all, pred, y), {}
    x, p_all, y_all = x_all, pred, y
    if len(pred) > TREE_ROWS and TREES in methods:  # the trees' cost grows with the rows
        keep = np.sort(np.random.default_rng(seed).choice(len(pred), TREE_ROWS, replace=False))
        x, pred, y = x[keep], pred[keep], y[keep]
    target = np.abs(y - pred)
    fold = fold_ids(target, folds, seed, stratified=False)
    oof = {m: np.empty(len(target)) for m in methods}
    for k in range(folds):
        test = fold == k
        for m in methods:
            part = (x[~test], pred[~test], y[~test])
            params = fit_trees(*part, seed=seed) if m == TREES else fit(*part)
            oof[m][test] = predicted_loss(m, params, x[test], pred[test])
    mse = {m: float(np.mean((oof[m] - target) ** 2)) for m in methods}
    best = min(methods, key=lambda m: (mse[m], methods.index(m)))
    params = fit_trees(x, pred, y, seed=seed) if best == TREES else fit(x_all, p_all, y_all)
    if best == TREES:
        resid = oof[TREES] - target
        params.update(
            resid_var=float(resid.var()),
            holdout_rows=len(target),
            r2=float(1 - np.mean(resid**2) / target.var()) if target.var() > 0 else 0.0,
        )
    return best, params, mse


class LossSum:
    """The sums `estimate_mae` is made of, added a chunk of rows at a time: a period of many
    files is estimated with memory bounded by a chunk, and gives what one call on all its
    rows gives (up to the order of the additions)."""

    def __init__(self, params: dict[str, Any], method: str = METHOD) -> None:
        self.params, self.method = params, method
        self.n, self.loss = 0, 0.0
        self.design: np.ndarray | None = None  # the line's: the sum of its design rows

    def add(self, numeric: np.ndarray, pred: np.ndarray) -> None:
        """Add rows: their numeric features (rows x columns, NaN where missing), predictions."""
        if len(pred) == 0:
            return
        self.n += len(pred)
        self.loss += float(predicted_loss(self.method, self.params, numeric, pred).sum())
        if self.method != TREES:
            rows = _design(self.params, numeric, pred).sum(axis=0)
            self.design = rows if self.design is None else self.design + rows

    def estimate(self, *, confidence: float) -> Estimate:
        """The estimated MAE of the rows added, with its normal `confidence` interval."""
        import numpy as np

        n = self.n
        if n == 0:
            return Estimate("mae", None, None, None, 0)
        if self.method == TREES:
            var = self.params["resid_var"] * (1 / n + 1 / self.params["holdout_rows"])
        else:
            assert self.design is not None
            mean_row = self.design / n
            cov = np.asarray(self.params["cov"])
            var = self.params["resid_var"] / n + float(mean_row @ cov @ mean_row)
        half = NormalDist().inv_cdf(0.5 + confidence / 2) * float(np.sqrt(max(var, 0.0)))
        value = self.loss / n
        return Estimate("mae", value, max(0.0, value - half), value + half, n)


def estimate_mae(
    params: dict[str, Any],
    numeric: np.ndarray,
    pred: np.ndarray,
    *,
    confidence: float,
    method: str = METHOD,
) -> Estimate:
    """The estimated MAE of rows without labels, with its normal `confidence` interval."""
    total = LossSum(params, method)
    total.add(numeric, pred)
    return total.estimate(confidence=confidence)
