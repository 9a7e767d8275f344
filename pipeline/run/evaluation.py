"""A version's recorded metric, the one later ticks hold production to: its score on the holdout;
by k-fold cross-validation on the training window when the holdout has fewer rows than
`policy.min_rows`; on the test file (`paths.test_data`) when there is no holdout
(`split.holdout_fraction = 0`), or cross-validated when there is no usable test file either.

pandas, numpy and scikit-learn are imported inside the functions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline.errors import DataError
from pipeline.run.score_step import model_classes, scorable, score_predictions
from pipeline.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from pipeline.model.features import FeatureSpec
    from pipeline.model.metrics import Score

log = logging.getLogger("riskwatch")


@dataclass(frozen=True)
class Recorded:
    score: Score  # the recorded metric, with its interval and the rows it was measured on
    source: str  # holdout, test, cv:K; none when no score could be had
    test: pd.DataFrame | None = None  # the test file's rows, when source is test


def recorded_score(
    settings: Settings,
    model: Pipeline,
    features: FeatureSpec,
    window: pd.DataFrame,
    held: Score | None,
) -> Recorded:
    """The recorded metric of `model`, fitted on `window` less its holdout (scored `held`, or
    None when there is no holdout)."""
    from pipeline.model.metrics import Score

    if held is not None and held.n_rows >= settings["policy.min_rows"]:
        return Recorded(held, "holdout")
    if held is None:
        test = test_frame(settings, features)
        if test is not None:
            from pipeline.model.estimator import predict

            pred, proba = predict(model, features, test)
            y = test[settings["data.target"]].to_numpy()
            on_test = score_predictions(settings, y, pred, proba, classes=model_classes(model))
            if on_test.value is not None:
                return Recorded(on_test, "test", test)
            log.warning(
                "%s is undefined on the test file's %d usable row(s): the recorded metric is "
                "cross-validated",
                settings["model.metric"],
                on_test.n_rows,
            )
    cv = cross_validated(settings, features, window)
    if cv is not None:
        return Recorded(*cv)
    if held is not None:
        return Recorded(held, "holdout")
    return Recorded(Score(settings["model.metric"], None, None, None, 0), "none")


def test_frame(settings: Settings, features: FeatureSpec) -> pd.DataFrame | None:
    """The labelled rows of paths.test_data, or None (and why, in the log) when unusable."""
    from pipeline.ingest.readers import read_file

    path = settings.path("paths.test_data")
    if not path.is_file():
        log.info("no holdout and no test file at %s: the recorded metric is cross-validated", path)
        return None
    try:
        test = read_file(path, features.categorical)
    except DataError as exc:
        log.warning("test file %s cannot be read (%s): the metric is cross-validated", path, exc)
        return None
    missing = [c for c in [*features.columns, settings["data.target"]] if c not in test.columns]
    if missing:
        log.warning("test file %s lacks column(s) %s: the metric is cross-validated", path, missing)
        return None
    return scorable(test, features, path)


def cross_validated(
    settings: Settings, features: FeatureSpec, window: pd.DataFrame
) -> tuple[Score, str] | None:
    """k-fold cross-validation on the window's rows: the metric of the pooled out-of-fold
    predictions, with its bootstrap interval, and "cv:K". None when a fold cannot be fitted
    (a fold's training rows hold one class only, say), with the reason in the log."""
    import numpy as np

    from pipeline.model.estimator import fit, predict
    from pipeline.model.metrics import fold_ids

    y = window[settings["data.target"]].to_numpy()
    k = min(settings["policy.cv_folds"], len(window))
    if k < 2:
        log.warning("%d row(s) in the training window: too few to cross-validate", len(window))
        return None
    classify = settings["model.task"] == "classification"
    folds = fold_ids(y, k, settings["model.random_seed"], stratified=classify)
    rows, preds, probas = [], [], []  # probas: one array per fold, while every fold has them
    for fold in range(k):
        inside = folds == fold
        try:
            model = fit(settings, features, window[~inside])
            pred, proba = predict(model, features, window[inside])
        except (DataError, ValueError) as exc:  # ValueError: an estimator refusing a fold
            log.warning("%d-fold cross-validation: fold %d cannot be fitted (%s)", k, fold, exc)
            return None
        rows.append(np.flatnonzero(inside))
        preds.append(pred)
        if proba is not None:
            probas.append(proba)
    order = np.concatenate(rows)
    proba_all = np.concatenate(probas) if len(probas) == k else None
    log.info("recorded metric: %d-fold cross-validation on %d rows", k, len(window))
    # The classes of the model the folds stand for, fitted on the whole window.
    classes = np.unique(y).tolist() if classify else None
    pred = np.concatenate(preds)
    return score_predictions(settings, y[order], pred, proba_all, classes=classes), f"cv:{k}"
