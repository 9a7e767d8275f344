"""A binary classifier whose class follows from its probabilities is applied once per slice
(`estimator.predict`): predict_proba alone, its class the larger column's, a tie decided by the
estimator's own predict(). The answers are predict()'s and predict_proba()'s to the last bit,
ties at exactly 0.5 included; any other estimator (a subclass that overrides predict, say)
keeps calling both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from pipeline.model.design import AsIs, Preprocessor
from pipeline.model.estimator import predict
from pipeline.model.features import FeatureSpec

NUMERIC = ("a", "b")
NONE = FeatureSpec(NUMERIC, (), "none")


class Shifted(LogisticRegression):
    """A classifier whose predict is not the sign of its decision (a threshold of its own)."""

    def predict(self, X: Any) -> np.ndarray:
        return self.classes_.take((self.predict_proba(X)[:, 1] > 0.3).astype(int))


ONE_CALL = [
    LogisticRegression(),
    HistGradientBoostingClassifier(max_iter=10, random_state=0),
    RandomForestClassifier(n_estimators=7, random_state=0),
    ExtraTreesClassifier(n_estimators=7, random_state=0),
    GradientBoostingClassifier(n_estimators=10, random_state=0),
]


def _frame(n: int = 300, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(3, 2, n)})
    score = frame["a"] - 0.5 * frame["b"] + rng.normal(0, 1, n)
    return frame, np.where(score > score.median(), "yes", "no")


def _counted(est: Any) -> dict[str, int]:
    """Count the calls of `est`'s predict and predict_proba (instance attributes: its type,
    which decides the path, is unchanged)."""
    calls = {"predict": 0, "predict_proba": 0}
    for name in calls:
        method = getattr(est, name)

        def counting(x: Any, method: Any = method, name: str = name) -> Any:
            calls[name] += 1
            return method(x)

        setattr(est, name, counting)
    return calls


@pytest.mark.parametrize("est", ONE_CALL, ids=lambda e: type(e).__name__)
def test_one_predict_proba_answers_what_predict_and_predict_proba_do(est: Any) -> None:
    frame, y = _frame()
    model = Pipeline([("prepare", AsIs(NUMERIC)), ("estimator", est)]).fit(frame, y)
    x = frame[list(NUMERIC)]
    expected, expected_p = model.predict(x), model.predict_proba(x)[:, 1]
    calls = _counted(model[-1])
    pred, proba = predict(model, NONE, frame)
    assert calls == {"predict": 0, "predict_proba": 1}
    assert pred.dtype == expected.dtype
    np.testing.assert_array_equal(pred, expected)
    np.testing.assert_array_equal(proba, expected_p)


def test_the_standard_preprocessing_and_a_users_pipeline_take_the_same_path() -> None:
    frame, y = _frame()
    frame["industry"] = np.where(frame["a"] > 0, "retail", "health")
    spec = FeatureSpec(NUMERIC, ("industry",), "standard")
    prepare = Preprocessor(NUMERIC, ("industry",), sparse=True)
    model = Pipeline([("prepare", prepare), ("estimator", LogisticRegression())]).fit(frame, y)
    own = make_pipeline(StandardScaler(), RandomForestClassifier(n_estimators=5, random_state=1))
    own.fit(frame[list(NUMERIC)], y)
    # The logistic regression's probabilities are computed as scikit-learn computes them,
    # without a call of it (estimator._logistic_proba); the forest is asked once.
    for fitted, features, asked in (
        (model, spec, 0),
        (own, FeatureSpec(NUMERIC, (), "pipeline"), 1),
    ):
        x = frame[features.columns]
        calls = _counted(fitted[-1])
        pred, proba = predict(fitted, features, frame)
        assert calls == {"predict": 0, "predict_proba": asked}
        np.testing.assert_array_equal(pred, fitted.predict(x))
        np.testing.assert_array_equal(proba, fitted.predict_proba(x)[:, 1])


# Decisions at and next to the boundary: 1e-20's sigmoid is exactly 0.5 in float64, as is 0's;
# logistic regression and histogram boosting answer 0 for the one, 1 for the other (decision
# > 0), gradient boosting 1 for both (decision >= 0). Only predict() itself can say.
EDGE = np.array([0.0, 1e-20, -1e-20, 2.0, -2.0, 1e-300, -0.0])


def _edge_frame() -> pd.DataFrame:
    return pd.DataFrame({"a": EDGE, "b": np.zeros(len(EDGE))})


def _fitted(est: Any) -> Pipeline:
    frame, y = _frame()
    return Pipeline([("prepare", AsIs(NUMERIC)), ("estimator", est)]).fit(frame, y)


def _decision_is_a(est: Any) -> None:
    """The estimator's decision (its raw score) is the column `a` itself."""
    if isinstance(est, LogisticRegression):
        est.coef_, est.intercept_ = np.array([[1.0, 0.0]]), np.array([0.0])
    elif isinstance(est, HistGradientBoostingClassifier):
        est._raw_predict = lambda x, **_: np.asarray(x)[:, :1].astype(float)
    else:
        est.decision_function = lambda x: np.asarray(x)[:, 0].astype(float)


@pytest.mark.parametrize(
    "est",
    [
        LogisticRegression(),
        HistGradientBoostingClassifier(max_iter=5, random_state=0),
        GradientBoostingClassifier(n_estimators=5, random_state=0),
    ],
    ids=lambda e: type(e).__name__,
)
def test_ties_at_one_half_are_decided_by_predict_itself(est: Any) -> None:
    model = _fitted(est)
    _decision_is_a(model[-1])
    x = _edge_frame()
    expected = model.predict(x)
    assert 0.5 in model.predict_proba(x)[:, 1]  # the case at hand: a tie
    assert set(expected[:2]) == (
        {"no", "yes"} if not isinstance(est, GradientBoostingClassifier) else {"yes"}
    )
    calls = _counted(model[-1])
    pred, proba = predict(model, NONE, x)
    assert calls == {"predict": 1, "predict_proba": 1}
    np.testing.assert_array_equal(pred, expected)
    np.testing.assert_array_equal(proba, model.predict_proba(x)[:, 1])


@pytest.mark.parametrize("cls", [RandomForestClassifier, ExtraTreesClassifier])
def test_a_forests_tie_and_missing_probabilities_are_its_argmax(cls: type) -> None:
    model = _fitted(cls(n_estimators=3, random_state=0))
    rows = np.array([[0.5, 0.5], [0.3, 0.7], [0.8, 0.2], [np.nan, 0.4], [0.4, np.nan]])
    model[-1].predict_proba = lambda x: rows[: len(x)].copy()
    x = pd.DataFrame({"a": np.zeros(len(rows)), "b": np.zeros(len(rows))})
    expected = model.predict(x)
    np.testing.assert_array_equal(expected, ["no", "yes", "no", "no", "yes"])
    pred, proba = predict(model, NONE, x)
    np.testing.assert_array_equal(pred, expected)
    np.testing.assert_array_equal(proba, rows[:, 1])


def test_an_estimator_with_its_own_predict_is_asked_both() -> None:
    model = _fitted(Shifted())
    frame, _ = _frame(seed=8)
    x = frame[list(NUMERIC)]
    expected = model.predict(x)
    assert (expected != model[-1].classes_.take(model.predict_proba(x).argmax(axis=1))).any()
    calls = _counted(model[-1])
    pred, proba = predict(model, NONE, frame)
    assert calls["predict"] == 1
    np.testing.assert_array_equal(pred, expected)
    np.testing.assert_array_equal(proba, model.predict_proba(x)[:, 1])
