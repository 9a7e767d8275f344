"""The design matrix: impute, scale and one-hot encode, fitted by column, built by row chunk
(`Preprocessor`), or the numeric columns as they are (`AsIs`, model.preprocessing = "none").

`Preprocessor` computes what scikit-learn's

    ColumnTransformer([
        ("numeric", Pipeline([SimpleImputer(strategy="median"), StandardScaler()]), numeric),
        ("categorical", Pipeline([SimpleImputer(strategy="most_frequent"),
                                  OneHotEncoder(handle_unknown="ignore")]), categorical),
    ])

computes (the same columns, in the same order, to floating-point rounding; the tests compare
the two, and `reference_transformer` builds that ColumnTransformer), with two differences that
matter on a million rows:

- fitting reads one column at a time: a median, a mean and a variance, or a category count;
  scikit-learn's imputer copies the whole numeric block into a masked array and sorts it;
- the matrix is written a slice of rows at a time into arrays allocated once at their final
  size: no full-size intermediate (the imputed block, the scaled block, COO triplets for the
  sparse stack) ever exists beside it.

Where scikit-learn would drop a column that has no value at all (with a warning), this keeps
it: a numeric column without values is imputed with 0 and scales to 0; a categorical one has
no categories and so adds no column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from pipeline.errors import DataError

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix
    from sklearn.compose import ColumnTransformer

CHUNK_ROWS = 100_000  # rows transformed at once: bounds the temporaries, not the result
_EPS = np.finfo(np.float64).eps
# Up to this many rows, categories are looked up one value at a time in a dictionary: for the
# few rows of an API request that is many times quicker than building an Index to look them up.
FEW_ROWS = 1_000


def _floats(column: pd.Series) -> np.ndarray:
    """A column as float64 with NaN for missing (and for anything that is not a number)."""
    if column.dtype == np.float64:
        return column.to_numpy()  # already what the conversion gives (a feature frame's)
    from pipeline.model.features import feature_column

    return feature_column(column, categorical=False).to_numpy()


def _missing(value: object) -> bool:
    """A missing value as pandas' isna sees one in an object column: None, NaN, NA or NaT."""
    return (
        value is None
        or value is pd.NA
        or value is pd.NaT
        or (isinstance(value, float) and value != value)
    )


def _categories(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct values, count of each), missing values left out."""
    as_category = column.astype("category")
    codes = as_category.cat.codes.to_numpy()
    levels = np.asarray(as_category.cat.categories.to_numpy(), dtype=object)
    counts = np.bincount(codes[codes >= 0], minlength=len(levels))
    return levels, counts


class Preprocessor(TransformerMixin, BaseEstimator):
    """Median-impute and standardise numeric columns; mode-impute and one-hot categorical ones.

    Output columns: the numeric columns in order, then one column per (categorical column,
    category), categories sorted. A category not seen in fitting gives a row of zeros for its
    column (scikit-learn's handle_unknown="ignore"). `sparse=True` returns a CSR matrix.
    """

    def __init__(
        self, numeric: Sequence[str] = (), categorical: Sequence[str] = (), sparse: bool = True
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.sparse = sparse

    # --- fitting: one column at a time ---------------------------------------------------

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> Preprocessor:
        n = len(X)
        if n == 0:
            raise ValueError("cannot fit the preprocessing on zero rows")
        k = len(self.numeric)
        self.median_ = np.zeros(k)
        self.mean_ = np.zeros(k)
        self.scale_ = np.ones(k)
        for j, name in enumerate(self.numeric):
            values = _floats(X[name])
            present = values[~np.isnan(values)]
            del values
            if not len(present):
                continue  # no value at all: imputed with 0, which scales to 0
            median = float(np.median(present))
            missing = n - len(present)
            # Mean and (population) variance of the imputed column, without building it.
            mean = (float(present.sum()) + missing * median) / n
            var = (float(np.square(present - mean).sum()) + missing * (median - mean) ** 2) / n
            self.median_[j], self.mean_[j] = median, mean
            # As StandardScaler: a feature constant up to rounding error is not scaled.
            constant = var <= n * _EPS * var + (n * mean * _EPS) ** 2
            self.scale_[j] = 1.0 if constant else float(np.sqrt(var))
        self.categories_: list[np.ndarray] = []
        self.most_frequent_: list[object] = []  # a level of each column, None if it has none
        for name in self.categorical:
            levels, counts = _categories(X[name])
            # As SimpleImputer(strategy="most_frequent"): the smallest of the most frequent.
            self.most_frequent_.append(levels[int(np.argmax(counts))] if len(levels) else None)
            self.categories_.append(levels)
        self.n_features_in_ = k + len(self.categorical)
        self.feature_names_in_ = np.asarray([*self.numeric, *self.categorical], dtype=object)
        return self

    # --- the matrix: a slice of rows at a time -------------------------------------------

    def _offsets(self) -> np.ndarray:
        sizes = [len(levels) for levels in self.categories_]
        return len(self.numeric) + np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)

    @property
    def n_output_(self) -> int:
        return len(self.numeric) + sum(len(levels) for levels in self.categories_)

    def _built(self, chunk: pd.DataFrame) -> tuple[np.ndarray, list[list[Any]]] | None:
        """The arrays an API request's frame was built from (features.built_columns), for
        this preprocessor's columns; None for any other frame, read a column at a time."""
        from pipeline.model.features import built_columns

        return built_columns(chunk, tuple(self.numeric), tuple(self.categorical))

    def _numeric_block(
        self, chunk: pd.DataFrame, built: tuple[np.ndarray, list[list[Any]]] | None = None
    ) -> np.ndarray:
        if built is not None:
            block = built[0].T.copy()  # rows x columns, as below; the request's own untouched
        else:
            block = np.empty((len(chunk), len(self.numeric)))
            for j, name in enumerate(self.numeric):
                block[:, j] = _floats(chunk[name])
        np.copyto(block, self.median_, where=np.isnan(block))  # the median of its column
        block -= self.mean_
        block /= self.scale_
        return block

    def _codes(
        self, chunk: pd.DataFrame, built: tuple[np.ndarray, list[list[Any]]] | None = None
    ) -> np.ndarray:
        """Per row and categorical column: the category's index, or -1 (unknown)."""
        m = len(chunk)
        codes = np.full((m, len(self.categorical)), -1, dtype=np.int64)
        for j, name in enumerate(self.categorical):
            levels = self.categories_[j]
            if not len(levels):
                continue
            if m <= FEW_ROWS:  # a dictionary look-up per value: what an API request has
                values = built[1][j] if built is not None else chunk[name]
                positions = self._positions(j)
                fill = self.most_frequent_[j]
                codes[:, j] = [positions.get(fill if _missing(v) else v, -1) for v in values]
                continue
            column = chunk[name]
            if column.isna().any():
                column = column.astype(object).where(column.notna(), self.most_frequent_[j])
            codes[:, j] = pd.Index(levels, dtype=object).get_indexer(column)
        return codes

    def _positions(self, j: int) -> dict[object, int]:
        """{category: its index} of categorical column j, made once per loaded model (never
        pickled: `__getstate__` leaves it out). Python's == and hash, as the Index's look-up."""
        cache = self.__dict__.setdefault("_positions_cache", {})
        if j not in cache:
            cache[j] = {level: i for i, level in enumerate(self.categories_[j].tolist())}
        return cache[j]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_positions_cache", None)
        return state

    def transform(self, X: pd.DataFrame) -> np.ndarray | csr_matrix:
        check_is_fitted(self, "categories_")
        missing = [c for c in [*self.numeric, *self.categorical] if c not in X.columns]
        if missing:
            raise ValueError(f"columns missing from the data: {missing}")
        n = len(X)
        return self._sparse(X, n) if self.sparse else self._dense(X, n)

    def _dense(self, X: pd.DataFrame, n: int) -> np.ndarray:
        out = np.zeros((n, self.n_output_))
        k, offsets = len(self.numeric), self._offsets()
        for start in range(0, n, CHUNK_ROWS):
            chunk = X if n <= CHUNK_ROWS else X.iloc[start : start + CHUNK_ROWS]
            rows = slice(start, start + len(chunk))
            built = self._built(chunk) if n <= CHUNK_ROWS else None
            out[rows, :k] = self._numeric_block(chunk, built)
            codes = self._codes(chunk, built)
            for j in range(codes.shape[1]):
                known = np.flatnonzero(codes[:, j] >= 0)
                out[start + known, offsets[j] + codes[known, j]] = 1.0
        return out

    def _sparse(self, X: pd.DataFrame, n: int) -> csr_matrix:
        from scipy import sparse

        k = len(self.numeric)
        per_row = k + len(self.categorical)  # at most: an unknown category adds no entry
        capacity = n * per_row
        index_type = np.int32 if max(capacity, self.n_output_) < 2**31 else np.int64
        data = np.empty(capacity)
        indices = np.empty(capacity, dtype=index_type)
        indptr = np.zeros(n + 1, dtype=index_type)
        offsets = self._offsets()
        columns = np.arange(k, dtype=np.int64)
        filled = 0
        for start in range(0, n, CHUNK_ROWS):
            # A request's few rows are the frame itself: no slice (a new frame) made of them.
            chunk = X if n <= CHUNK_ROWS else X.iloc[start : start + CHUNK_ROWS]
            m = len(chunk)
            built = self._built(chunk) if n <= CHUNK_ROWS else None
            codes = self._codes(chunk, built)
            values = np.empty((m, per_row))
            values[:, :k] = self._numeric_block(chunk, built)
            values[:, k:] = 1.0
            cols = np.empty((m, per_row), dtype=np.int64)
            cols[:, :k] = columns
            cols[:, k:] = offsets + codes
            keep = np.ones((m, per_row), dtype=bool)
            keep[:, k:] = codes >= 0
            entries = int(keep.sum())
            # Row-major: each row's entries in increasing column order, as CSR wants them.
            data[filled : filled + entries] = values[keep]
            indices[filled : filled + entries] = cols[keep]
            indptr[start + 1 : start + m + 1] = filled + np.cumsum(keep.sum(axis=1))
            filled += entries
        return sparse.csr_matrix(
            (data[:filled], indices[:filled], indptr), shape=(n, self.n_output_), copy=False
        )

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        check_is_fitted(self, "categories_")
        names = [f"numeric__{c}" for c in self.numeric]
        for name, levels in zip(self.categorical, self.categories_, strict=True):
            names.extend(f"categorical__{name}_{level}" for level in levels)
        return np.asarray(names, dtype=object)


class AsIs(TransformerMixin, BaseEstimator):
    """The numeric columns exactly as they are, in order, as a float64 matrix (model.preprocessing
    = "none"): nothing is imputed, scaled or encoded, so an estimator behind it is fitted on the
    same numbers as one given the file's columns directly.

    A missing value (or one that is not a number) has no stand-in here: it raises DataError
    naming the column and the row, in fitting and in transforming, rather than reaching the
    estimator as NaN.
    """

    def __init__(self, numeric: Sequence[str] = ()) -> None:
        self.numeric = numeric

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> AsIs:
        self.transform(X, fitting=True)
        self.n_features_in_ = len(self.numeric)
        self.feature_names_in_ = np.asarray(list(self.numeric), dtype=object)
        return self

    def transform(self, X: pd.DataFrame, fitting: bool = False) -> np.ndarray:
        if not fitting:
            check_is_fitted(self, "n_features_in_")
        missing = [c for c in self.numeric if c not in X.columns]
        if missing:
            raise ValueError(f"columns missing from the data: {missing}")
        # Column-major, as a frame of float columns converts: the estimator's arithmetic then
        # runs in the same order, and so rounds the same, as on the file's columns directly.
        out = np.empty((len(X), len(self.numeric)), order="F")
        for j, name in enumerate(self.numeric):
            out[:, j] = _floats(X[name])
            absent = np.flatnonzero(np.isnan(out[:, j]))
            if len(absent):
                raise DataError(
                    f"feature column {name!r} has no number in {len(absent)} of {len(X)} rows: "
                    'with model.preprocessing = "none" nothing imputes, so every feature value '
                    "is needed",
                    column=name,
                    error_type="missing_value",
                )
        return out

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        return np.asarray(list(self.numeric), dtype=object)


def reference_transformer(
    numeric: Sequence[str], categorical: Sequence[str], sparse: bool
) -> ColumnTransformer:
    """The scikit-learn ColumnTransformer that `Preprocessor` computes the same matrix as."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    parts = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        parts.append(("numeric", Pipeline(steps), list(numeric)))
    if categorical:
        steps = [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore")),
        ]
        parts.append(("categorical", Pipeline(steps), list(categorical)))
    return ColumnTransformer(parts, sparse_threshold=1.0 if sparse else 0.0)
