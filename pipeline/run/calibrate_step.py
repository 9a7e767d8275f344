"""At training time: the calibration of a new classifier's probabilities on its holdout (the
rows it did not learn from), chosen as `monitoring.calibration` says, as the row that
`calibrations` and the version's metadata.json record; or why the version has none.

Performance estimation without labels reads it later (`pipeline.run.estimate_step`).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipeline.settings import Settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

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


def calibration_row(
    settings: Settings,
    model: Any,
    holdout: pd.DataFrame,
    proba: np.ndarray | None,
) -> dict[str, Any]:
    """The calibration of `model` fitted on `holdout` (whose P(positive) is `proba`; not read
    when the holdout is empty), as the columns of a `calibrations` row (without the version's),
    or a row saying why not."""
    import numpy as np

    from pipeline.estimate import calibration

    rows = len(holdout)
    if settings["model.task"] != "classification":
        why = "a regressor: confidence-based estimation is for classifiers"
        return _not_calibrated(why, rows)
    if rows == 0:
        return _not_calibrated("no holdout (split.holdout_fraction = 0) to calibrate on", rows)
    if proba is None:
        why = (
            "not a binary classifier with probabilities: multiclass estimation needs per-class "
            "probabilities, which riskwatch's predictions do not carry yet"
        )
        return _not_calibrated(why, rows)
    positive = getattr(model, "classes_", [0, 1])[-1]
    y = (holdout[settings["data.target"]].to_numpy() == positive).astype(float)
    folds = settings["policy.cv_folds"]
    why_small = calibration.too_small(y, folds)
    if why_small is not None:
        return _not_calibrated(why_small, rows)
    choice = settings["monitoring.calibration"]
    methods = calibration.METHODS if choice == "auto" else (choice,)
    fitted = calibration.choose(
        np.asarray(proba, dtype=float),
        y,
        folds=folds,
        bins=settings["monitoring.calibration_bins"],
        seed=settings["model.random_seed"],
        margin=settings["monitoring.calibration_margin"],
        methods=methods,
    )
    log.info(
        "calibration on %d holdout rows: %s (ECE %.4f, uncalibrated %.4f)",
        rows,
        fitted.method,
        fitted.ece,
        fitted.ece_uncalibrated,
    )
    doc = fitted.to_json()
    if choice != "auto":
        doc["criterion"] = f"monitoring.calibration = {choice!r} (not chosen by the data)"
    doc["reason"] = None
    return doc
