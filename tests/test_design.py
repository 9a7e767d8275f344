"""The design matrix: riskwatch's Preprocessor against scikit-learn's ColumnTransformer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from pipeline.model import design
from pipeline.model.design import Preprocessor, reference_transformer
from pipeline.model.features import FeatureSpec, feature_frame

FEATURES = FeatureSpec(("amount", "count", "flat"), ("industry", "region"))


def _frame(n: int = 5_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 20, n),
            "count": rng.integers(0, 4, n).astype(float),
            "flat": np.full(n, 3.5),  # constant: not scaled
            "industry": pd.array(rng.choice(["retail", "finance", "energy", "007"], n), "str"),
            "region": rng.choice(["north", "south"], n).astype(object),
            "exited": rng.integers(0, 2, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(n) < 0.1, "industry"] = None
    frame.loc[rng.random(n) < 0.05, "region"] = np.nan
    return frame


def _dense(matrix) -> np.ndarray:
    return matrix.toarray() if sparse.issparse(matrix) else np.asarray(matrix)


def _both(frame: pd.DataFrame, sparse_output: bool, features: FeatureSpec = FEATURES):
    ours = Preprocessor(features.numeric, features.categorical, sparse=sparse_output).fit(frame)
    theirs = reference_transformer(features.numeric, features.categorical, sparse_output)
    theirs.fit(feature_frame(frame, features))
    return ours, theirs


@pytest.mark.parametrize("sparse_output", [True, False])
def test_same_matrix_as_scikit_learn_on_fit_and_new_data(sparse_output: bool) -> None:
    frame = _frame()
    ours, theirs = _both(frame, sparse_output)
    new = _frame(700, seed=1)
    new.loc[new.index[:9], "industry"] = "mining"  # unseen: a row of zeros, as "ignore" does
    new.loc[new.index[9:12], "region"] = None
    for data in (frame, new):
        got = ours.transform(data)
        assert sparse.issparse(got) is sparse_output
        want = _dense(theirs.transform(feature_frame(data, FEATURES)))
        np.testing.assert_allclose(_dense(got), want, rtol=1e-12, atol=1e-12)
    assert list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())


def test_chunks_do_not_change_the_matrix(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(2_345)
    whole = Preprocessor(FEATURES.numeric, FEATURES.categorical).fit(frame).transform(frame)
    monkeypatch.setattr(design, "CHUNK_ROWS", 100)  # 24 slices, the last one short
    sliced = Preprocessor(FEATURES.numeric, FEATURES.categorical).fit(frame).transform(frame)
    assert (whole != sliced).nnz == 0
    assert sliced.has_sorted_indices
    np.testing.assert_array_equal(whole.indptr, sliced.indptr)


def test_imputation_values_are_scikit_learns() -> None:
    frame = _frame()
    # A tie for the most frequent category: scikit-learn takes the smallest; so does this.
    frame["region"] = ["north", "south"] * (len(frame) // 2)
    ours, theirs = _both(frame, True)
    numeric = theirs.named_transformers_["numeric"]
    np.testing.assert_allclose(ours.median_, numeric["impute"].statistics_)
    np.testing.assert_allclose(ours.mean_, numeric["scale"].mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.scale_, numeric["scale"].scale_, rtol=1e-12)
    categorical = theirs.named_transformers_["categorical"]
    assert ours.most_frequent_ == list(categorical["impute"].statistics_)
    for mine, sk in zip(ours.categories_, categorical["onehot"].categories_, strict=True):
        assert list(mine) == list(sk)


def test_a_column_without_any_value_is_kept_not_dropped() -> None:
    frame = _frame(300)
    frame["amount"] = np.nan
    frame["industry"] = pd.array([None] * len(frame), dtype="str")
    prep = Preprocessor(FEATURES.numeric, FEATURES.categorical).fit(frame)
    matrix = prep.transform(frame).toarray()
    assert prep.median_[0] == 0.0 and prep.scale_[0] == 1.0
    assert np.all(matrix[:, 0] == 0.0)  # imputed with 0, scaled to 0
    assert len(prep.categories_[0]) == 0  # no category, no column
    assert matrix.shape[1] == 3 + 0 + 2


def test_numbers_declared_categorical_and_text_numbers() -> None:
    frame = _frame(400)
    frame["count"] = frame["count"].astype(object)  # numbers as Python objects
    frame.loc[frame.index[:3], "count"] = "n/a"  # not a number: missing, as to_numeric says
    features = FeatureSpec(("amount", "count"), ("region", "flat"))
    ours, theirs = _both(frame, False, features)
    np.testing.assert_allclose(
        ours.transform(frame), theirs.transform(feature_frame(frame, features)), atol=1e-12
    )


def test_same_model_as_with_scikit_learns_transformer() -> None:
    frame = _frame(4_000)
    y = frame["exited"].to_numpy()
    ours = Pipeline(
        [
            ("prepare", Preprocessor(FEATURES.numeric, FEATURES.categorical)),
            ("estimator", LogisticRegression()),
        ]
    ).fit(frame, y)
    theirs = Pipeline(
        [
            ("prepare", reference_transformer(FEATURES.numeric, FEATURES.categorical, True)),
            ("estimator", LogisticRegression()),
        ]
    ).fit(feature_frame(frame, FEATURES), y)
    np.testing.assert_allclose(ours[-1].coef_, theirs[-1].coef_, rtol=1e-6, atol=1e-8)
    new = _frame(500, seed=3)
    np.testing.assert_allclose(
        ours.predict_proba(feature_frame(new, FEATURES)),
        theirs.predict_proba(feature_frame(new, FEATURES)),
        rtol=1e-6,
    )


def test_bad_input_is_refused_clearly() -> None:
    frame = _frame(50)
    with pytest.raises(ValueError, match="zero rows"):
        Preprocessor(FEATURES.numeric, FEATURES.categorical).fit(frame.iloc[:0])
    prep = Preprocessor(FEATURES.numeric, FEATURES.categorical).fit(frame)
    with pytest.raises(ValueError, match=r"columns missing from the data: \['region'\]"):
        prep.transform(frame.drop(columns=["region"]))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Preprocessor(FEATURES.numeric, FEATURES.categorical).transform(frame)


def test_empty_frame_transforms_to_an_empty_matrix() -> None:
    frame = _frame(50)
    prep = Preprocessor(FEATURES.numeric, FEATURES.categorical).fit(frame)
    assert prep.transform(frame.iloc[:0]).shape == (0, prep.n_output_)
    prep.sparse = False
    assert prep.transform(frame.iloc[:0]).shape == (0, prep.n_output_)


@pytest.mark.parametrize("sparse_output", [True, False])
@pytest.mark.parametrize(
    "features", [FeatureSpec(("amount", "count"), ()), FeatureSpec((), ("industry", "region"))]
)
def test_only_numbers_or_only_categories(features: FeatureSpec, sparse_output: bool) -> None:
    frame = _frame(600)
    ours, theirs = _both(frame, sparse_output, features)
    np.testing.assert_allclose(
        _dense(ours.transform(frame)),
        _dense(theirs.transform(feature_frame(frame, features))),
        atol=1e-12,
    )
