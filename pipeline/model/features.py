"""The model's features: which columns, of which kind, with the dtypes the design matrix expects.

`FeatureSpec` is stored with every model version; `feature_frame` turns any frame (a file, API
records, a past prediction's row) into the model's columns the same way everywhere.
"""

from __future__ import annotations

import weakref
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, DataError
from pipeline.model.record_checks import absent_as_null as absent_as_null  # the app's
from pipeline.model.record_checks import checked_row, plain_columns, row_values
from pipeline.model.record_checks import storable_text as storable_text  # the predictions'
from pipeline.settings import Settings

# How the features reach the estimator: the settings' model.preprocessing ("standard", "none"),
# or "pipeline" when model.pipeline, the user's own, takes the feature frame as it is.
PREPROCESSING = ("standard", "none", "pipeline")


@dataclass(frozen=True)
class FeatureSpec:
    """The columns a model was trained on, by kind, in order, and how they reach the estimator
    (`preprocessing`, one of PREPROCESSING; versions saved before it existed are "standard")."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    preprocessing: str = "standard"

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_json(self) -> dict[str, Any]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "preprocessing": self.preprocessing,
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            tuple(doc["numeric"]),
            tuple(doc["categorical"]),
            str(doc.get("preprocessing", "standard")),
        )


def preprocessing_of(settings: Settings) -> str:
    """How the settings feed features to the estimator: one of PREPROCESSING."""
    return "pipeline" if settings["model.pipeline"] else str(settings["model.preprocessing"])


def infer_features(frame: pd.DataFrame, settings: Settings) -> FeatureSpec:
    """Features from settings, or every column but target and ids; kinds from dtypes or settings."""
    target = settings["data.target"]
    ids = set(settings["data.id_columns"])
    if settings["data.timestamp_column"]:
        ids.add(settings["data.timestamp_column"])  # an event time is never a feature
    wanted = settings["data.features"] or [c for c in frame.columns if c != target and c not in ids]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"feature column {missing[0]!r} (setting data.features) is not in the data")
    if not wanted:
        raise DataError("the data has no feature columns besides the target and id columns")
    categorical = set(settings["data.categorical"])
    unknown = categorical - set(wanted)
    if unknown:
        raise ConfigError(f"setting 'data.categorical': {sorted(unknown)} are not feature columns")
    if not categorical:
        categorical = {c for c in wanted if not pd.api.types.is_numeric_dtype(frame[c])}
    return FeatureSpec(
        tuple(c for c in wanted if c not in categorical),
        tuple(c for c in wanted if c in categorical),
        preprocessing_of(settings),
    )


def feature_column(column: pd.Series, categorical: bool) -> pd.Series:
    """One model column with the dtype the pipeline expects: float64, or objects with NaN."""
    if not categorical:
        return pd.to_numeric(column, errors="coerce").astype("float64")
    # Through a categorical: one Python string per level, not one per row.
    as_category = column.astype("category")
    return as_category.astype(object).where(as_category.notna(), np.nan)


# Up to this many rows, a frame that already is a feature frame is recognised and used as it
# is (the API's records, built typed by records_frame); larger frames are converted.
TYPED_ROWS = 10_000


# The frames records_frame built, by id (weakly: a frame gone is gone from here too): each is a
# feature frame by construction, so feature_frame need not look at its columns again.
_BUILT: weakref.WeakValueDictionary[int, pd.DataFrame] = weakref.WeakValueDictionary()


def feature_frame(frame: pd.DataFrame, features: FeatureSpec) -> pd.DataFrame:
    """Select the model's columns with the dtypes the pipeline expects.

    A feature `frame` lacks is missing in every row (NaN), as training saw it in the rows of
    a file without it (their concatenation with the others'): the gate lets a file in without
    a column its contract does not require (required = false), and a model that imputes
    predicts its rows as it was trained to. A required column never gets here missing (the
    gate quarantines the file, the API's checks refuse the record); a model imputing nothing
    refuses the NaN, a DataError from `estimator.predict`.
    """
    if _built(frame) and list(frame.columns) == features.columns:
        return frame  # records_frame's, for these features
    if _is_feature_frame(frame, features):
        return frame  # converting it would change nothing
    out = pd.DataFrame(index=frame.index)
    for c in features.numeric:
        out[c] = model_column(frame, c, categorical=False)
    for c in features.categorical:
        out[c] = model_column(frame, c, categorical=True)
    return out


def model_column(frame: pd.DataFrame, name: str, categorical: bool) -> pd.Series:
    """Column `name` of `frame` as feature_column types it; one `frame` lacks is missing in
    every row (NaN in float64, or NaN in objects)."""
    if name in frame.columns:
        return feature_column(frame[name], categorical)
    return pd.Series(np.nan, index=frame.index, dtype=object if categorical else np.float64)


def absent_features(columns: Collection[str], features: FeatureSpec) -> list[str]:
    """The model's features missing from `columns`, in the model's order."""
    present = set(columns)
    return [c for c in features.columns if c not in present]


def imputes(features: FeatureSpec) -> bool:
    """Whether a missing feature value reaches a model that fills it in: every model but one
    that takes its features as they are (model.preprocessing = "none"; a user's pipeline is
    given the NaN, as it was given the training rows' own)."""
    return features.preprocessing != "none"


def _built(frame: pd.DataFrame) -> bool:
    """Whether records_frame built this very frame (not merely one with its id, since gone)."""
    known = _BUILT.get(id(frame))
    return known is not None and known is frame


def labelled_mask(frame: pd.DataFrame, target: str) -> np.ndarray:
    """The rows that carry a label; the others are inference data (issue 12). A frame without
    the target column has none."""
    if target not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame[target].notna().to_numpy(dtype=bool)


# The range of int64, as floats: [-2**63, 2**63). A float past it cast to int64 wraps around (a
# label of 1e19 became -9223372036854775808).
_INT64_LOW, _INT64_HIGH = -(2.0**63), 2.0**63


def whole_int64(values: np.ndarray | pd.Series) -> bool:
    """Whether every value is a whole number that int64 holds, so the values may be stored as
    int64 (class 1 is 1, never 1.0); a missing or infinite value, a fraction or a number of
    2**63 or more in size is none, and such values stay float64 as they are."""
    v = np.asarray(values, dtype="float64")
    return bool(np.all((v == np.round(v)) & (v >= _INT64_LOW) & (v < _INT64_HIGH)))


def labels(column: pd.Series) -> pd.Series:
    """Labels as training saw them: a numeric column that held gaps (float) holding whole
    numbers only (`whole_int64`) is int64 again, so that class 1 is 1, never 1.0."""
    if pd.api.types.is_float_dtype(column) and len(column) and whole_int64(column):
        return column.astype("int64")
    return column


def labelled_rows(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The rows of `frame` that carry a label, their labels typed by `labels`, reindexed."""
    mask = labelled_mask(frame, target)
    out = frame if mask.all() else frame[mask].reset_index(drop=True)
    if target in out.columns:
        typed = labels(out[target])
        if typed.dtype != out[target].dtype:
            out = out.assign(**{target: typed})
    return out


def _is_feature_frame(frame: pd.DataFrame, features: FeatureSpec) -> bool:
    """Whether `frame` is what feature_frame would make of it: the model's columns in order,
    float64 numbers, objects with NaN (never None or pd.NA) for a missing category."""
    if len(frame) > TYPED_ROWS or list(frame.columns) != features.columns:
        return False
    if any(frame[c].dtype != np.float64 for c in features.numeric):
        return False
    for c in features.categorical:
        column = frame[c]
        if column.dtype != object or any(v is None or v is pd.NA for v in column.array):
            return False
    return True


def complete_rows(frame: pd.DataFrame, features: FeatureSpec) -> tuple[pd.DataFrame, int]:
    """The rows a model without preprocessing ("none") can take, and how many were left out:
    those missing a feature value (or holding one that is not a number). Other models take
    every row."""
    if features.preprocessing != "none" or not set(features.columns) <= set(frame.columns):
        return frame, 0  # a column missing altogether is the caller's to report
    complete = feature_frame(frame, features).notna().all(axis=1).to_numpy()
    left_out = int(len(frame) - complete.sum())
    return (frame[complete] if left_out else frame), left_out


def records_frame(records: object, features: FeatureSpec, max_records: int) -> pd.DataFrame:
    """Validate prediction records (a list of objects) and return them as a frame.

    Raises DataError naming the record and the column for a missing or wrongly typed feature.
    """
    if not isinstance(records, list):
        raise DataError("expected a JSON array of records, or an object with a 'records' array")
    if not records:
        raise DataError("no records to predict")
    if len(records) > max_records:
        raise DataError(f"{len(records)} records; at most {max_records} per request")
    # Without preprocessing nothing imputes: a missing value would reach the estimator.
    nullable = features.preprocessing != "none"
    plain = None
    if len(records) >= COLUMN_CHECKS:
        plain = plain_columns(records, features.numeric, features.categorical, nullable)
    if plain is None:  # a record at a time: the first bad value is the one named
        numeric = frozenset(features.numeric)
        columns = features.columns
        rows = [row_values(i, rec, columns, numeric, nullable) for i, rec in enumerate(records)]
        plain = _columns_of(rows, features)
    frame = _typed_frame(len(records), *plain, features)
    _BUILT[id(frame)] = frame
    _BLOCKS[id(frame)] = (features.numeric, features.categorical, *plain)
    weakref.finalize(frame, _BLOCKS.pop, id(frame), None)
    return frame


# What each frame records_frame built holds, by the frame's id (dropped with the frame): its
# numeric columns' matrix (columns x rows) and its categorical columns' values, for the design
# matrix to read instead of a pandas Series per column (a tenth of a one-record request).
_BLOCKS: dict[int, tuple[tuple[str, ...], tuple[str, ...], np.ndarray, list[list[Any]]]] = {}


def built_columns(
    frame: pd.DataFrame, numeric: tuple[str, ...], categorical: tuple[str, ...]
) -> tuple[np.ndarray, list[list[Any]]] | None:
    """(numbers: columns x rows, each categorical column's values) of a frame records_frame
    built with these columns, as it holds them; None for any other frame. Such a frame is the
    request's own: nothing changes it after it is built."""
    if not _built(frame):
        return None
    found = _BLOCKS.get(id(frame))
    if found is None or found[0] != numeric or found[1] != categorical:
        return None
    return found[2], found[3]


# From this many records up, they are checked a column at a time (`plain_columns`): a few calls
# per column over all of them, where one record's checks cost less one value at a time.
COLUMN_CHECKS = 8


def check_record(i: int, rec: object, features: FeatureSpec) -> dict[str, Any]:
    """Record `i` of a prediction request, checked: its features' values, in the model's order.

    Raises DataError naming the record and the column for a missing or wrongly typed feature
    (records_frame stops at the first; the predict page shows each record's own).
    """
    # Without preprocessing nothing imputes: a missing value would reach the estimator.
    nullable = features.preprocessing != "none"
    return checked_row(i, rec, features.columns, frozenset(features.numeric), nullable)


def _columns_of(
    rows: list[dict[str, Any]], features: FeatureSpec
) -> tuple[np.ndarray, list[list[Any]]]:
    """Checked records' features as `plain_columns` gives them: numbers (columns x rows,
    float64, NaN for a null) and each categorical column's values (NaN for a null)."""
    numbers = np.array(
        [[np.nan if r[c] is None else float(r[c]) for r in rows] for c in features.numeric],
        dtype=np.float64,
    ).reshape(len(features.numeric), len(rows))
    objects = [[np.nan if r[c] is None else r[c] for r in rows] for c in features.categorical]
    return numbers, objects


def _typed_frame(
    n: int, numbers: np.ndarray, objects: list[list[Any]], features: FeatureSpec
) -> pd.DataFrame:
    """`n` checked records as a feature frame, from their numbers (columns x rows) and their
    categorical columns' values: built with its final dtypes (what feature_frame would make of
    them, without converting a frame a second time: for the one record of an API call the
    conversion cost more than the model)."""
    # Two blocks from two 2-D arrays: a pandas Series per column costs more than the model.
    block = np.empty((len(features.categorical), n), dtype=object)
    for j, values in enumerate(objects):
        block[j] = values
    numeric, categorical, every = _column_indexes(features)
    k = len(features.numeric)
    parts = [(a, at) for a, at in ((numbers, range(k)), (block, range(k, len(every)))) if a.size]
    if _FROM_BLOCKS is not None and parts:
        # The two blocks as pandas holds them (columns x rows), handed to it as they are: a
        # frame per block and their concat cost five times as much for one record.
        blocks_at = [(a, np.asarray(at, dtype=np.intp)) for a, at in parts]
        return _FROM_BLOCKS(blocks_at, index=pd.RangeIndex(n), columns=every)
    frames = [
        pd.DataFrame(numbers.T, columns=numeric, copy=False),
        pd.DataFrame(block.T, columns=categorical, dtype=object, copy=False),
    ]
    # Numbered columns (no labels to join), then the shared labels.
    frame = pd.concat([b for b in frames if b.shape[1]] or frames[:1], axis=1, ignore_index=True)
    frame.columns = every
    return frame


try:  # pandas 3's; before it, records_frame's frames are built by a concat
    from pandas.api.internals import create_dataframe_from_blocks as _FROM_BLOCKS
except ImportError:  # pragma: no cover - the lock's pandas has it
    _FROM_BLOCKS = None

# The column labels of records_frame's frames, made once per feature list (a worker serves one
# model or a few) and shared: pandas 3 made an Arrow-backed Index of the names on every request,
# and built its look-up table again for each name looked up (Preprocessor.transform).
_INDEXES: dict[tuple[tuple[str, ...], ...], tuple[pd.Index, pd.Index, pd.Index]] = {}


def _column_indexes(features: FeatureSpec) -> tuple[pd.Index, pd.Index, pd.Index]:
    key = (features.numeric, features.categorical)
    found = _INDEXES.get(key)
    if found is None:
        if len(_INDEXES) > 16:
            _INDEXES.clear()
        found = _INDEXES[key] = tuple(
            pd.Index(list(names))
            for names in (features.numeric, features.categorical, features.columns)
        )
    return found
