"""Build, fit and apply the model, in one of three ways the settings choose:

- `model.estimator` behind today's impute, scale and one-hot (`model.preprocessing =
  "standard"`, `pipeline.model.design.Preprocessor`);
- `model.estimator` on the numeric features exactly as they are (`"none"`, `design.AsIs`);
- `model.pipeline`, the user's own factory of an unfitted estimator or Pipeline, fitted on the
  feature frame (`features.feature_frame`: the feature columns, numeric then categorical).

Whichever it is, `predict` applies it the same way, a slice of rows at a time. The features it
is fitted on are `pipeline.model.features`' `FeatureSpec`, which records the way.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, DataError
from pipeline.model.features import FeatureSpec, feature_frame
from pipeline.settings import Settings

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

PREDICT_CHUNK_ROWS = 100_000  # bounds the memory of scoring, not its result
FACTORY_KEY = "model.pipeline"


def import_estimator(path: str) -> type:
    module_name, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(f"setting 'model.estimator': cannot import {path!r} ({exc})") from exc
    if not (inspect.isclass(cls) and hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise ConfigError(f"setting 'model.estimator': {path!r} is not an estimator class")
    return cls


def import_factory(path: str) -> Callable[[], Any]:
    """The function `model.pipeline` names ('package.module:function'), callable with no
    arguments; ConfigError naming the key otherwise."""
    module_name, _, name = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: cannot import {path!r} ({exc}); the module must be "
            "importable by riskwatch's Python (installed, or on PYTHONPATH)"
        ) from exc
    except Exception as exc:  # the user's module itself failed while importing
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: importing {module_name!r} raised {type(exc).__name__}: {exc}"
        ) from exc
    if inspect.isclass(factory) or not callable(factory):
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: {path!r} is not a function returning an estimator"
        )
    try:
        inspect.signature(factory).bind()
    except TypeError as exc:
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: {path!r} must be callable with no arguments, but its "
            f"signature is {name}{inspect.signature(factory)} ({exc})"
        ) from exc
    except ValueError:
        pass  # a builtin without a signature: calling it will tell
    return factory


def build_from_factory(settings: Settings) -> BaseEstimator:
    """The unfitted estimator or Pipeline that model.pipeline's factory returns, checked."""
    path = settings[FACTORY_KEY]
    factory = import_factory(path)
    try:
        model = factory()
    except Exception as exc:  # the user's code: whatever it raises is a bad setting
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: {path}() raised {type(exc).__name__}: {exc}"
        ) from exc
    if inspect.isclass(model) or not (hasattr(model, "fit") and hasattr(model, "predict")):
        what = f"the class {model.__name__}" if inspect.isclass(model) else type(model).__name__
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: {path}() returned {what}, not an unfitted scikit-learn "
            "estimator or Pipeline (an object with fit and predict)"
        )
    _check_task(settings, path, model)
    return model


def _check_task(settings: Settings, path: str, model: object) -> None:
    """A regressor for a classification task (or the other way round), or a model without
    probabilities for a metric that needs them, is a bad setting."""
    from sklearn.base import is_classifier, is_regressor

    task = settings["model.task"]
    try:
        wrong = is_regressor(model) if task == "classification" else is_classifier(model)
    except Exception:  # an estimator without scikit-learn's tags: nothing to compare
        return
    if wrong:
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: {path}() returned a "
            f"{'regressor' if task == 'classification' else 'classifier'} "
            f"({type(model).__name__}), but model.task is {task!r}"
        )
    if settings["model.metric"] == "roc_auc" and not hasattr(model, "predict_proba"):
        raise ConfigError(
            f"setting {FACTORY_KEY!r}: {path}() returned {type(model).__name__}, which has no "
            "predict_proba, and model.metric 'roc_auc' needs predicted probabilities"
        )


def check_model(settings: Settings) -> None:
    """Import (and for model.pipeline, call) what the settings name; ConfigError naming the key.

    Settings load checks the import paths without importing them (the no-op tick must not
    import scikit-learn); a run calls this as soon as it has work, `riskwatch train` at once."""
    if settings[FACTORY_KEY]:
        build_from_factory(settings)
        return
    cls = import_estimator(settings["model.estimator"])
    if settings["model.metric"] == "roc_auc" and not hasattr(cls, "predict_proba"):
        raise ConfigError(
            f"setting 'model.estimator': {settings['model.estimator']} has no predict_proba, "
            "and model.metric 'roc_auc' needs predicted probabilities"
        )


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


def build_model(settings: Settings, features: FeatureSpec) -> BaseEstimator:
    """The unfitted model: the user's pipeline, or the estimator behind the preprocessing."""
    from sklearn.pipeline import Pipeline

    from pipeline.model.design import AsIs, Preprocessor

    if features.preprocessing == "pipeline":
        return build_from_factory(settings)
    estimator = build_estimator(settings)
    if features.preprocessing == "none":
        if features.categorical:
            raise DataError(
                f"feature column {features.categorical[0]!r} is categorical, and "
                'model.preprocessing = "none" takes numeric features only; leave it out of '
                'data.features, or use model.preprocessing = "standard" or model.pipeline',
                column=features.categorical[0],
            )
        return Pipeline([("prepare", AsIs(features.numeric)), ("estimator", estimator)])
    prepare = Preprocessor(features.numeric, features.categorical, sparse=takes_sparse(estimator))
    return Pipeline([("prepare", prepare), ("estimator", estimator)])


def fit(settings: Settings, features: FeatureSpec, frame: pd.DataFrame) -> BaseEstimator:
    target = settings["data.target"]
    model = build_model(settings, features)
    y = frame[target].to_numpy()
    if settings["model.task"] == "classification" and len(np.unique(y)) < 2:
        raise DataError(f"cannot train a classifier: the target {target!r} has one class only")
    if features.preprocessing != "pipeline":
        # The preprocessing reads the frame's columns itself, a column or a slice of rows at a
        # time: no converted copy of the training rows is made first.
        model.fit(frame, y)
        return model
    try:
        model.fit(feature_frame(frame, features), y)
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"the model of {FACTORY_KEY} {settings[FACTORY_KEY]!r} could not be fitted on the "
            f"training rows: {type(exc).__name__}: {exc}"
        ) from exc
    return model


def _stages(model: Any, features: FeatureSpec) -> tuple[Any | None, Any]:
    """(the preprocessing or None, what predicts). riskwatch's own Pipeline is split, so its
    design matrix is built once per slice for both predictions and probabilities; a user's
    model is applied whole, as it was built (a Pipeline's head alone may refuse to transform:
    a stateless step looks unfitted to scikit-learn)."""
    if features.preprocessing == "pipeline":
        return None, model
    try:
        known = _SPLIT.get(model)
    except TypeError:  # not weakly referable: split it each time
        known = None
    if known is None:
        head = model[:-1]  # a new Pipeline each time: kept while the model lives
        # One step: that step itself, as the one-step Pipeline would call it.
        known = (head.steps[0][1] if len(head.steps) == 1 else head, model[-1])
        with contextlib.suppress(TypeError):
            _SPLIT[model] = known
    return known


# Each loaded model's split (`_stages`): the API predicts a few rows at a time, and slicing a
# Pipeline (a new one, checked) cost as much as transforming one row.
_SPLIT: weakref.WeakKeyDictionary[Any, tuple[Any, Any]] = weakref.WeakKeyDictionary()


def _designs(prepare: Any | None, features: FeatureSpec, frame: pd.DataFrame) -> Iterator[Any]:
    """The rows of `frame` as the estimator takes them, a slice at a time: rows are
    independent, so predicting a million rows never holds a million-row design matrix."""
    for start in range(0, len(frame), PREDICT_CHUNK_ROWS):
        # A request's few rows are the frame itself: no slice (a new frame) made of them.
        part = (
            frame
            if len(frame) <= PREDICT_CHUNK_ROWS
            else frame.iloc[start : start + PREDICT_CHUNK_ROWS]
        )
        x = feature_frame(part, features)
        yield x if prepare is None else prepare.transform(x)


@contextmanager
def _refused() -> Iterator[None]:
    """A row the model refuses (a ValueError, as scikit-learn raises for a missing value it
    cannot take) is a DataError."""
    try:
        yield
    except ValueError as exc:
        raise DataError(
            f"the model cannot predict these rows: {type(exc).__name__}: {exc}"[:500]
        ) from exc


def predict(
    model: Any, features: FeatureSpec, frame: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray | None]:
    """Return predictions and, for binary classifiers, P(larger class); else None.

    `model` is any fitted estimator or Pipeline that takes the feature frame. A row it refuses
    (a ValueError, as scikit-learn raises for a missing value it cannot take) is a DataError.
    """
    prepare, estimator = _stages(model, features)
    binary = hasattr(estimator, "predict_proba") and len(getattr(model, "classes_", [])) == 2
    if len(frame) == 0:  # scikit-learn refuses zero rows; there is nothing to predict
        return np.empty(0), np.empty(0) if binary else None
    # Rows are independent: transform a slice at a time, once for both outputs, so scoring a
    # million rows never holds a million-row design matrix (or two).
    preds, probas = [], []
    one_call = binary and _class_from_proba(estimator)
    with _refused():
        for x in _designs(prepare, features, frame):
            if one_call:
                pred, p1 = _binary_from_proba(estimator, x)
                preds.append(pred)
                probas.append(p1)
                continue
            preds.append(estimator.predict(x))
            if binary:
                probas.append(estimator.predict_proba(x)[:, 1])
    return np.concatenate(preds), np.concatenate(probas) if binary else None


@functools.cache
def _proba_classes() -> frozenset[type]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression

    return frozenset(
        {
            ExtraTreesClassifier,
            GradientBoostingClassifier,
            HistGradientBoostingClassifier,
            LogisticRegression,
            RandomForestClassifier,
        }
    )


def _class_from_proba(estimator: Any) -> bool:
    """Whether a binary `estimator`'s class follows from its predict_proba (`_binary_from_proba`).

    These classes' predict (scikit-learn's code, not their subclasses': one may override it, as
    a tuned threshold does) gives classes_[1] exactly where its decision is positive (zero too,
    for gradient boosting) and predict_proba's second column is the decision's sigmoid, with
    the first column 1 minus it; or the argmax of predict_proba itself (the forests). Either
    way: the larger column's class, and a tie (an exact 0.5) is predict's own to decide. A
    Pipeline ending in one of them (a user's model.pipeline) transforms once instead of twice.
    """
    from sklearn.pipeline import Pipeline

    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    return type(final) in _proba_classes()


def _binary_from_proba(estimator: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
    """(predict(x), predict_proba(x)[:, 1]) from one predict_proba: the design checked and the
    decision computed once, not twice (half of a one-row prediction's time)."""
    proba = _logistic_proba(estimator, x)
    if proba is None:
        proba = estimator.predict_proba(x)
    first, second = proba[:, 0], proba[:, 1]
    larger = second > first
    if not (larger | (second < first)).all():  # a tie (or a NaN): predict() decides, exactly
        return estimator.predict(x), second
    return estimator.classes_.take(larger.astype(np.intp)), second


def _logistic_proba(estimator: Any, x: Any) -> np.ndarray | None:
    """predict_proba(x) of a binary LogisticRegression computed as scikit-learn computes it
    (decision_function's product plus the intercept, then expit; the same calls, so the same
    numbers), without its input checks, for riskwatch's own design matrix: float64, CSR or a
    C-ordered array, of the fitted width, every value finite. Anything else (a NaN, an
    estimator fitted on named columns, another estimator) is None: predict_proba's own, which
    checks it and refuses what it refuses. The checks were about a tenth of a one-record
    request's CPU time."""
    from scipy import sparse
    from scipy.special import expit
    from sklearn.linear_model import LogisticRegression

    if type(estimator) is not LogisticRegression or hasattr(estimator, "feature_names_in_"):
        return None
    coef = getattr(estimator, "coef_", None)
    if coef is None or coef.shape[0] != 1 or len(estimator.classes_) != 2:
        return None
    if sparse.isspmatrix_csr(x):
        values = x.data
    elif type(x) is np.ndarray and x.ndim == 2 and x.flags.c_contiguous:
        values = x
    else:
        return None
    if x.dtype != np.float64 or x.shape[1] != coef.shape[1] or not np.isfinite(values).all():
        return None
    scores = (x @ coef.T + estimator.intercept_).reshape(-1)
    prob = expit(scores, out=scores)
    return np.stack([1 - prob, prob], axis=1)


def class_probabilities(
    model: Any, features: FeatureSpec, frame: pd.DataFrame
) -> np.ndarray | None:
    """Return predict_proba's matrix (rows x classes, columns in the order of `classes_`) for a
    classifier of more than two classes that gives probabilities; else None (a binary one's
    P(larger class) comes with `predict`)."""
    prepare, estimator = _stages(model, features)
    classes = getattr(model, "classes_", [])
    if not hasattr(estimator, "predict_proba") or len(classes) <= 2:
        return None
    if len(frame) == 0:
        return np.empty((0, len(classes)))
    with _refused():
        parts = [estimator.predict_proba(x) for x in _designs(prepare, features, frame)]
    return np.concatenate(parts).astype(float)
