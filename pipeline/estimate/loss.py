"""Direct loss estimation (DLE) of a regressor: its mean absolute error on rows without labels.

At training time a model of the absolute error is fitted on the holdout (rows the regressor did
not learn from): |y - prediction| by least squares on the prediction and the numeric features
(each imputed by its holdout median and standardised), each with its absolute value (its
distance from the centre). It is a linear model, kept as JSON (its
coefficients, their covariance, the residual variance; never a pickle): NannyML's DLE fits a
gradient-boosting model instead, which would follow a loss that bends with the features, at the
price of a pickled artifact. Categorical features are not used.

On new rows the estimated MAE is the mean of the predicted absolute errors (clipped at 0). Its
interval is normal, from the two errors it carries: the rows' own scatter around their
predicted loss (residual variance / n) and the fitted coefficients' uncertainty
(x' Cov x at the rows' mean design row). Under covariate shift the loss model is extrapolated
like any model; under concept drift it is as blind as CBPE (`reliability`). Pure; NumPy only.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import TYPE_CHECKING, Any

from pipeline.estimate.cbpe import Estimate

if TYPE_CHECKING:
    import numpy as np

METHOD = "dle_linear"


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


def estimate_mae(
    params: dict[str, Any], numeric: np.ndarray, pred: np.ndarray, *, confidence: float
) -> Estimate:
    """The estimated MAE of rows without labels, with its normal `confidence` interval."""
    import numpy as np

    n = len(pred)
    if n == 0:
        return Estimate("mae", None, None, None, 0)
    design = _design(params, numeric, pred)
    loss = np.clip(design @ np.asarray(params["coef"]), 0.0, None)
    mean_row = design.mean(axis=0)
    var = params["resid_var"] / n + float(mean_row @ np.asarray(params["cov"]) @ mean_row)
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * float(np.sqrt(max(var, 0.0)))
    value = float(loss.mean())
    return Estimate("mae", value, max(0.0, value - half), value + half, n)
