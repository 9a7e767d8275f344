"""Factories for `model.pipeline` that the tests name: good ones, and each way one can be bad."""

from __future__ import annotations

from typing import Any

RAISED = "the factory could not build its model"


def logistic_no_proba() -> Any:
    """A bare estimator without predict_proba, on the feature frame's numeric columns only."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    numbers = make_column_transformer(
        (SimpleImputer(strategy="median"), make_column_selector(dtype_include="number"))
    )
    return make_pipeline(numbers, LinearSVC(random_state=0))


def dense_only() -> Any:
    """A pipeline whose estimator takes no sparse input, with its own one-hot encoding."""
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    prepare = make_column_transformer(
        (
            OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            make_column_selector(dtype_exclude="number"),
        ),
        remainder="passthrough",
    )
    return make_pipeline(prepare, HistGradientBoostingClassifier(max_iter=20, random_state=0))


def raises() -> Any:
    raise RuntimeError(RAISED)


def not_an_estimator() -> Any:
    return {"solver": "liblinear"}


def a_class() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression  # the class, not an estimator


def needs_an_argument(columns: list[str]) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


def a_regressor() -> Any:
    from sklearn.linear_model import LinearRegression

    return LinearRegression()


NOT_CALLABLE = 3
