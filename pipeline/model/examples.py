"""Example factories for `model.pipeline` ("pipeline.model.examples:liblinear_logistic").

A factory is a function called with no arguments that returns an unfitted scikit-learn
estimator or Pipeline; riskwatch fits it on the feature columns as a pandas DataFrame (numeric
columns as float64, then categorical ones as objects, missing values NaN), and predicts with it
the same way. Write your own in any module riskwatch's Python can import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline


def liblinear_logistic() -> LogisticRegression:
    """The original risk-assessment system's model: a plain logistic regression on the features
    as they are (no imputation, no scaling), with that system's parameters."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="liblinear", random_state=0, C=1.0)


def scaled_forest() -> Pipeline:
    """Numeric columns imputed and scaled, categorical ones one-hot encoded (chosen by dtype),
    then a random forest: a pipeline of one's own, built from scikit-learn's parts."""
    import numpy as np
    from sklearn.compose import make_column_selector, make_column_transformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prepare = make_column_transformer(
        (
            make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
            make_column_selector(dtype_include=np.number),
        ),
        (
            make_pipeline(
                SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
            ),
            make_column_selector(dtype_exclude=np.number),
        ),
    )
    return make_pipeline(prepare, RandomForestClassifier(n_estimators=50, random_state=0))
