"""Your own model (issue 9, point 5), without a database: model.preprocessing = "none" fits the
estimator on the numbers as they are (a plain scikit-learn fit, to the last bit), refuses
categorical features and missing values clearly; model.pipeline's factory is checked, with the
key's name, for every way it can be bad; prediction works the same for any estimator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from pipeline.errors import ConfigError, DataError
from pipeline.model import estimator
from pipeline.model.estimator import check_model, fit, predict
from pipeline.model.features import FeatureSpec, infer_features, records_frame
from pipeline.settings import Settings, load_settings
from tests.conftest import QUICK_SETTINGS
from tests.model_factories import RAISED

NUMERIC = ["employees", "activity", "tickets"]
PLAIN = {"solver": "liblinear", "random_state": 0}  # the original system's model, C=1.0


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    (tmp_path / "riskwatch.toml").write_text(QUICK_SETTINGS)
    values = {"data.target": "exited", "data.id_columns": ["corporation"]}
    values.update({k.replace("__", "."): v for k, v in overrides.items()})
    return load_settings(tmp_path / "riskwatch.toml", environ={}, overrides=values)


def _frame(n: int = 120, seed: int = 3) -> pd.DataFrame:
    """Unscaled numbers of very different sizes (scaling would change the fit), an integer
    column, a categorical one, and a label that depends on them."""
    rng = np.random.default_rng(seed)
    employees = rng.integers(1, 5000, n)
    activity = rng.normal(80, 30, n)
    tickets = rng.poisson(2, n).astype(float)
    score = 0.0004 * employees - 0.03 * activity + 0.5 * tickets + rng.normal(0, 1, n)
    return pd.DataFrame(
        {
            "corporation": [f"C{i}" for i in range(n)],
            "employees": employees,
            "activity": activity,
            "tickets": tickets,
            "industry": rng.choice(["retail", "finance", "health"], n),
            "exited": (score > np.median(score)).astype(int),
        }
    )


def _plain(frame: pd.DataFrame) -> LogisticRegression:
    return LogisticRegression(**PLAIN).fit(frame[NUMERIC], frame["exited"])


@pytest.mark.parametrize(
    "how",
    [
        {"model__preprocessing": "none", "model__params": PLAIN},
        {"model__pipeline": "pipeline.model.examples:liblinear_logistic"},
    ],
    ids=["preprocessing-none", "example-factory"],
)
def test_the_numbers_as_they_are_reproduce_a_plain_scikit_learn_fit(
    tmp_path: Path, how: dict[str, object]
) -> None:
    frame = _frame()
    settings = _settings(tmp_path, data__features=NUMERIC, **how)
    features = infer_features(frame, settings)
    model = fit(settings, features, frame)
    plain = _plain(frame)
    final = model[-1] if hasattr(model, "steps") else model
    np.testing.assert_array_equal(final.coef_, plain.coef_)
    np.testing.assert_array_equal(final.intercept_, plain.intercept_)
    pred, proba = predict(model, features, frame)
    np.testing.assert_array_equal(pred, plain.predict(frame[NUMERIC]))
    assert proba is not None
    np.testing.assert_array_equal(proba, plain.predict_proba(frame[NUMERIC])[:, 1])


def test_standard_preprocessing_is_not_that_fit(tmp_path: Path) -> None:
    """The comparison above can fail: scaled features give other coefficients."""
    frame = _frame()
    settings = _settings(tmp_path, data__features=NUMERIC, model__params=PLAIN)
    features = infer_features(frame, settings)
    assert features.preprocessing == "standard"
    model = fit(settings, features, frame)
    assert not np.allclose(model[-1].coef_, _plain(frame).coef_)


def test_none_refuses_a_categorical_feature_at_start_and_at_train(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'model.preprocessing': \"none\" takes numeric"):
        _settings(tmp_path, model__preprocessing="none", data__categorical=["industry"])
    settings = _settings(tmp_path, model__preprocessing="none")
    features = infer_features(_frame(), settings)  # industry is text: categorical
    with pytest.raises(DataError, match=r"feature column 'industry' is categorical, and model"):
        fit(settings, features, _frame())


def test_none_refuses_a_missing_value_in_fitting_predicting_and_the_api(tmp_path: Path) -> None:
    settings = _settings(tmp_path, data__features=NUMERIC, model__preprocessing="none")
    frame = _frame()
    holed = frame.copy()
    holed.loc[[5, 9], "activity"] = np.nan
    features = infer_features(frame, settings)
    message = r"feature column 'activity' has no number in 2 of 120 rows: with model.prep"
    with pytest.raises(DataError, match=message):
        fit(settings, features, holed)
    model = fit(settings, features, frame)
    with pytest.raises(DataError, match="feature column 'activity' has no number in 2 of"):
        predict(model, features, holed)
    record = {"employees": 10, "activity": None, "tickets": 1}
    with pytest.raises(DataError, match=r"record 0: feature column 'activity' is null; this m"):
        records_frame([record], features, 10)
    standard = FeatureSpec(features.numeric, ())
    assert records_frame([record], standard, 10)["activity"].isna().all()


@pytest.mark.parametrize(
    "factory",
    [
        "tests.model_factories:logistic_no_proba",
        "tests.model_factories:dense_only",
        "pipeline.model.examples:scaled_forest",
        None,  # the standard preprocessing
    ],
)
def test_prediction_is_chunked_for_any_estimator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, factory: str | None
) -> None:
    settings = _settings(tmp_path, model__pipeline=factory or "")
    frame = _frame(n=200)
    frame.loc[[3, 17], "activity"] = np.nan
    features = infer_features(frame, settings)
    assert features.preprocessing == ("pipeline" if factory else "standard")
    assert features.categorical == ("industry",)
    model = fit(settings, features, frame)
    whole, whole_proba = predict(model, features, frame)
    monkeypatch.setattr(estimator, "PREDICT_CHUNK_ROWS", 7)
    pred, proba = predict(model, features, frame)
    np.testing.assert_array_equal(pred, whole)
    x = frame[features.columns]
    np.testing.assert_array_equal(pred, model.predict(x))
    if factory == "tests.model_factories:logistic_no_proba":
        assert proba is None and whole_proba is None  # no predict_proba: no probabilities
    else:
        assert proba is not None
        np.testing.assert_allclose(proba, model.predict_proba(x)[:, 1], rtol=0, atol=1e-12)
    empty, empty_proba = predict(model, features, frame.iloc[:0])
    assert len(empty) == 0 and (empty_proba is None or len(empty_proba) == 0)


def test_a_model_that_refuses_rows_is_a_data_error(tmp_path: Path) -> None:
    """A user pipeline that cannot take a NaN raises scikit-learn's ValueError: a DataError."""
    settings = _settings(tmp_path, model__pipeline="pipeline.model.examples:liblinear_logistic")
    settings = settings.with_values(data__features=NUMERIC)
    frame = _frame()
    features = infer_features(frame, settings)
    model = fit(settings, features, frame)
    frame.loc[4, "tickets"] = np.nan
    with pytest.raises(DataError, match="the model cannot predict these rows: ValueError: "):
        predict(model, features, frame)
    with pytest.raises(DataError, match=r"model.pipeline 'pipeline.model.examples:liblinear_lo"):
        fit(settings, features, frame)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"model__pipeline": "sklearn.linear_model.LogisticRegression"},
            "setting 'model.pipeline': expected 'package.module:function' such as",
        ),
        (
            {"model__pipeline": "nopackage_here.models:make"},
            "setting 'model.pipeline': cannot import 'nopackage_here.models:make' (no module "
            "'nopackage_here'",
        ),
        (
            {"model__pipeline": "tests.model_factories:raises", "model__params": {"C": 2}},
            "setting 'model.pipeline': the pipeline 'tests.model_factories:raises' replaces "
            "model.params; remove it",
        ),
        (
            {
                "model__pipeline": "tests.model_factories:raises",
                "model__preprocessing": "none",
                "model__estimator": "sklearn.svm.SVC",
            },
            "replaces model.estimator, model.preprocessing; remove them",
        ),
    ],
)
def test_a_bad_model_pipeline_setting_fails_when_the_settings_load(
    tmp_path: Path, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _settings(tmp_path, **overrides)
    assert message in str(caught.value)


# Each way a factory can be bad, with what the error says. The end-to-end test of the CLI's
# exit status (2) for each is tests/test_own_model_e2e.py.
BAD_FACTORIES = [
    (
        "tests.model_factories_nowhere:make",
        "cannot import 'tests.model_factories_nowhere:make' (No module named 'tests.model_fac",
    ),
    ("tests.model_factories:missing", "cannot import 'tests.model_factories:missing' (module"),
    ("tests.model_factories:NOT_CALLABLE", "is not a function returning an estimator"),
    (
        "tests.model_factories:raises",
        f"tests.model_factories:raises() raised RuntimeError: {RAISED}",
    ),
    ("tests.model_factories:not_an_estimator", "not_an_estimator() returned dict, not an unfitted"),
    ("tests.model_factories:a_class", "a_class() returned the class LogisticRegression, not an"),
    (
        "tests.model_factories:needs_an_argument",
        "'tests.model_factories:needs_an_argument' must be callable with no arguments, but its "
        "signature is needs_an_argument(columns: 'list[str]')",
    ),
    ("tests.model_factories:a_regressor", "returned a regressor (LinearRegression), but model.t"),
]


@pytest.mark.parametrize(("factory", "message"), BAD_FACTORIES)
def test_a_bad_factory_is_a_config_error_naming_the_key(
    tmp_path: Path, factory: str, message: str
) -> None:
    settings = _settings(tmp_path, model__pipeline=factory)  # loads: nothing imported yet
    with pytest.raises(ConfigError) as caught:
        check_model(settings)
    assert str(caught.value).startswith("setting 'model.pipeline': ")
    assert message in str(caught.value)


def test_a_factory_without_probabilities_for_roc_auc_is_a_config_error(tmp_path: Path) -> None:
    factory = "tests.model_factories:logistic_no_proba"
    with pytest.raises(ConfigError, match=r"Pipeline, which has no predict_proba, and model.m"):
        check_model(_settings(tmp_path, model__pipeline=factory, model__metric="roc_auc"))
    check_model(_settings(tmp_path, model__pipeline=factory))  # f1 needs labels only


def test_an_estimator_without_probabilities_for_roc_auc_is_a_config_error(tmp_path: Path) -> None:
    svc = "sklearn.svm.LinearSVC"
    with pytest.raises(ConfigError, match=r"'model.estimator': sklearn.svm.LinearSVC has no pre"):
        check_model(_settings(tmp_path, model__estimator=svc, model__metric="roc_auc"))
    check_model(_settings(tmp_path, model__estimator=svc))  # f1 needs labels only


def test_a_good_factory_passes_the_start_check(tmp_path: Path) -> None:
    check_model(_settings(tmp_path, model__pipeline="pipeline.model.examples:scaled_forest"))
    check_model(_settings(tmp_path))  # model.estimator, as before
