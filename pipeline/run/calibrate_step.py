"""At training time: the calibration of a new classifier's probabilities on its holdout (the
rows it did not learn from), chosen as `monitoring.calibration` says (a multiclass classifier's:
one map per class against the rest, `pipeline.estimate.multiclass`), as the row that
`calibrations` and the version's metadata.json record; or why the version has none. A
regressor's row holds its loss model instead (direct loss estimation, `pipeline.estimate.loss`,
as `monitoring.loss_model` says).

Performance estimation without labels reads it later (`pipeline.run.estimate_step`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from pipeline.model.features import FeatureSpec

log = logging.getLogger("riskwatch")


def _not_calibrated(reason: str, rows: int) -> dict[str, Any]:
    return {
        "method": None,
        "params": {},
        "criterion": None,
        "candidates": {},
        "ece": None,
        "ece_uncalibrated": None,
        "holdout_rows": rows,
        "reason": reason,
    }


def numeric_matrix(frame: pd.DataFrame, features: FeatureSpec) -> np.ndarray:
    """The numeric features of `frame` as floats, NaN where missing (the loss model's input)."""
    import numpy as np

    if not features.numeric:
        return np.zeros((len(frame), 0))
    return frame[list(features.numeric)].to_numpy(dtype=float, na_value=np.nan)


def _loss_model(
    settings: Settings, features: FeatureSpec, holdout: pd.DataFrame, pred: np.ndarray
) -> dict[str, Any]:
    """A regressor's direct loss estimation model fitted on its holdout, as a row: the one of
    `monitoring.loss_model` (auto: the lower cross-validated error of |error|)."""
    from pipeline.estimate import loss

    y = holdout[settings["data.target"]].to_numpy(dtype=float)
    choice = settings["monitoring.loss_model"]
    methods = loss.METHODS if choice == "auto" else (f"dle_{choice}",)
    folds = settings["policy.cv_folds"]
    method, params, mse = loss.choose(
        numeric_matrix(holdout, features), pred, y, folds=folds, seed=settings["model.random_seed"],
        methods=methods,
    )  # fmt: skip
    log.info(
        "loss model on %d holdout rows: %s, R2 %.3f of |error|", len(holdout), method, params["r2"]
    )
    inputs = "the prediction and the numeric features"
    criterion = (
        f"least squares on {inputs}: {len(holdout)} holdout rows are too few to choose by "
        f"{folds}-fold cross-validation"
        if not mse
        else f"mean squared error of |error|, {folds}-fold cross-validated on the holdout, of "
        f"least squares and gradient-boosted trees on {inputs} (direct loss estimation)"
        if choice == "auto"
        else f"monitoring.loss_model = {choice!r} on {inputs} (not chosen by the data)"
    )
    return {
        "method": method,
        "params": params,
        "criterion": criterion,
        "candidates": mse,
        "ece": None,
        "ece_uncalibrated": None,
        "holdout_rows": len(holdout),
        "reason": None,
    }


def calibration_row(
    settings: Settings,
    model: Any,
    features: FeatureSpec,
    holdout: pd.DataFrame,
    pred: np.ndarray,
    proba: np.ndarray | None,
) -> dict[str, Any]:
    """The calibration of `model` fitted on `holdout` (whose P(positive) is `proba`, its
    predictions `pred`; neither read when the holdout is empty), as the columns of a
    `calibrations` row (without the version's), or a row saying why not. For a regressor, the
    model of its absolute error (direct loss estimation) takes the calibration's place."""
    import numpy as np

    from pipeline.estimate import calibration

    rows = len(holdout)
    if rows == 0:
        return _not_calibrated("no holdout (split.holdout_fraction = 0) to calibrate on", rows)
    if settings["model.task"] != "classification":
        return _loss_model(settings, features, holdout, pred)
    if proba is None:
        return _multiclass(settings, model, features, holdout)
    positive = getattr(model, "classes_", [0, 1])[-1]
    y = (holdout[settings["data.target"]].to_numpy() == positive).astype(float)
    kw = _choice(settings)
    why_small = calibration.too_small(y, kw["folds"])
    if why_small is not None:
        return _not_calibrated(why_small, rows)
    fitted = calibration.choose(np.asarray(proba, dtype=float), y, **kw)
    log.info(
        "calibration on %d holdout rows: %s (ECE %.4f, uncalibrated %.4f)",
        rows,
        fitted.method,
        fitted.ece,
        fitted.ece_uncalibrated,
    )
    return _fixed(settings, fitted.to_json())


def _choice(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of `calibration.choose` the settings give."""
    from pipeline.estimate import calibration

    choice = settings["monitoring.calibration"]
    return {
        "folds": settings["policy.cv_folds"],
        "bins": settings["monitoring.calibration_bins"],
        "seed": settings["model.random_seed"],
        "margin": settings["monitoring.calibration_margin"],
        "methods": calibration.METHODS if choice == "auto" else (choice,),
    }


def _fixed(settings: Settings, doc: dict[str, Any]) -> dict[str, Any]:
    """The row, its criterion saying so when the method was set rather than chosen."""
    choice = settings["monitoring.calibration"]
    if choice != "auto":
        doc["criterion"] = f"monitoring.calibration = {choice!r} (not chosen by the data)"
    doc["reason"] = None
    return doc


def _multiclass(
    settings: Settings, model: Any, features: FeatureSpec, holdout: pd.DataFrame
) -> dict[str, Any]:
    """A classifier of more than two classes: one map per class, one-vs-rest, on its
    predict_proba of the holdout (`pipeline.estimate.multiclass`); or why not."""
    import numpy as np

    from pipeline.estimate import multiclass
    from pipeline.model.estimator import class_probabilities
    from pipeline.predictions import value_text

    rows = len(holdout)
    matrix = class_probabilities(model, features, holdout)
    if matrix is None:
        return _not_calibrated("the classifier gives no probabilities (no predict_proba)", rows)
    names = [str(value_text(c)) for c in model.classes_]
    index = {name: i for i, name in enumerate(names)}
    # A class the model never learned is a negative of every class's map.
    y = np.array([index.get(str(value_text(v)), -1) for v in holdout[settings["data.target"]]])
    kw = _choice(settings)
    why_small = multiclass.too_small(y, len(names), kw["folds"])
    if why_small is not None:
        return _not_calibrated(why_small, rows)
    fitted = multiclass.choose_multiclass(matrix, y, names, **kw)
    log.info(
        "calibration on %d holdout rows, %d classes one-vs-rest: %s (classwise ECE %.4f, "
        "uncalibrated %.4f)",
        rows,
        len(names),
        ", ".join(c.method for c in fitted.per_class),
        fitted.ece,
        fitted.ece_uncalibrated,
    )
    return _fixed(settings, fitted.to_json())
