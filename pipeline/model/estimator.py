"""Build, fit and apply the model: any scikit-learn estimator behind impute, scale, one-hot.

The features it is fitted on are `pipeline.model.features`' `FeatureSpec`.
"""

from __future__ import annotations

import importlib
import inspect
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, DataError
from pipeline.model.features import FeatureSpec, feature_frame
from pipeline.settings import Settings

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator
    from sklearn.pipeline import Pipeline

PREDICT_CHUNK_ROWS = 100_000  # bounds the memory of scoring, not its result


def import_estimator(path: str) -> type:
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"setting 'model.estimator': cannot import {path!r} ({exc})") from exc
    if not (inspect.isclass(cls) and hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ConfigError(f"setting 'model.estimator': {path!r} is not an estimator class")
    return cls


def build_estimator(settings: Settings) -> BaseEstimator:
    """The unfitted estimator the settings name, with the run's seed when it takes one."""
    cls = import_estimator(settings["model.estimator"])
    params = dict(settings["model.params"])
    if "random_state" in inspect.signature(cls).parameters and "random_state" not in params:
        params["random_state"] = settings["model.random_seed"]
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"setting 'model.params': {exc}") from exc


def takes_sparse(estimator: BaseEstimator) -> bool:
    """Does the estimator accept a sparse design matrix? The one-hot columns are mostly zeros,
    and a dense float64 copy of every training row is the largest thing a fit would hold."""
    from sklearn.utils import get_tags

    return bool(get_tags(estimator).input_tags.sparse)


def build_pipeline(settings: Settings, features: FeatureSpec) -> Pipeline:
    """Return an unfitted Pipeline: impute+scale numbers, impute+one-hot categories, estimator."""
    from sklearn.pipeline import Pipeline

    from pipeline.model.design import Preprocessor

    estimator = build_estimator(settings)
    prepare = Preprocessor(features.numeric, features.categorical, sparse=takes_sparse(estimator))
    return Pipeline([("prepare", prepare), ("estimator", estimator)])


def fit(settings: Settings, features: FeatureSpec, frame: pd.DataFrame) -> Pipeline:
    target = settings["data.target"]
    model = build_pipeline(settings, features)
    y = frame[target].to_numpy()
    if settings["model.task"] == "classification" and len(np.unique(y)) < 2:
        raise DataError(f"cannot train a classifier: the target {target!r} has one class only")
    # The preprocessing reads the frame's columns itself, a column or a slice of rows at a
    # time: no converted copy of the training rows is made first.
    model.fit(frame, y)
    return model


def predict(
    model: Pipeline, features: FeatureSpec, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return predictions and, for binary classifiers, P(larger class); else None."""
    # Rows are independent: transform a slice at a time, once for both outputs, so scoring a
    # million rows never holds a million-row design matrix (or two).
    if len(frame) == 0:
        return model.predict(feature_frame(frame, features)), None
    prepare, estimator = model[:-1], model[-1]
    binary = hasattr(model, "predict_proba") and len(getattr(model, "classes_", [])) == 2
    preds, probas = [], []
    for start in range(0, len(frame), PREDICT_CHUNK_ROWS):
        chunk = frame.iloc[start : start + PREDICT_CHUNK_ROWS]
        x = prepare.transform(feature_frame(chunk, features))
        preds.append(estimator.predict(x))
        if binary:
            probas.append(estimator.predict_proba(x)[:, 1])
    return np.concatenate(preds), np.concatenate(probas) if binary else None
