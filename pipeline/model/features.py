"""The model's features: which columns, of which kind, with the dtypes the design matrix expects.

`FeatureSpec` is stored with every model version; `feature_frame` turns any frame (a file, API
records, a past prediction's row) into the model's columns the same way everywhere.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import ConfigError, DataError
from pipeline.settings import Settings

# The largest magnitude a number feature may have: what a float holds, rounded down to 1e308
# so that it is exact in decimal (the float maximum's shortest form, 1.7976931348623157e308, is
# not its value): the OpenAPI document states the same bound, and a JSON Schema validator
# reads it as the decimal number it is written as.
NUMBER_LIMIT = 1e308
_INT_LIMIT = 10**308

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
    """Select the model's columns with the dtypes the pipeline expects."""
    if _built(frame) and list(frame.columns) == features.columns:
        return frame  # records_frame's, for these features
    if _is_feature_frame(frame, features):
        return frame  # converting it would change nothing
    out = pd.DataFrame(index=frame.index)
    for c in features.numeric:
        out[c] = feature_column(frame[c], categorical=False)
    for c in features.categorical:
        out[c] = feature_column(frame[c], categorical=True)
    return out


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


def labels(column: pd.Series) -> pd.Series:
    """Labels as training saw them: a numeric column that held gaps (float) holding whole
    numbers only is int64 again, so that class 1 is 1, never 1.0."""
    if pd.api.types.is_float_dtype(column) and len(column):
        values = column.to_numpy(dtype="float64")
        if np.isfinite(values).all() and bool((values == np.round(values)).all()):
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
    numeric = frozenset(features.numeric)
    columns = features.columns
    # Without preprocessing nothing imputes: a missing value would reach the estimator.
    nullable = features.preprocessing != "none"
    rows = []
    for i, rec in enumerate(records):
        if type(rec) is not dict:  # what JSON gives; anything else is checked as it comes
            rows.append(_checked_row(i, rec, columns, numeric, nullable))
            continue
        try:
            row = {col: rec[col] for col in columns}
        except KeyError:  # the first feature it lacks, after any bad value before it
            rows.append(_checked_row(i, rec, columns, numeric, nullable))
            continue
        for col, value in row.items():
            # What most records hold, plainly good: a finite number, plain text.
            kind = type(value)
            if col in numeric:
                if (kind is float and -NUMBER_LIMIT <= value <= NUMBER_LIMIT) or (
                    kind is int and -_INT_LIMIT <= value <= _INT_LIMIT
                ):
                    continue
            elif kind is str and value.isascii() and "\x00" not in value:
                continue
            _check_value(i, col, value, col in numeric, nullable)
        rows.append(row)
    frame = _typed_frame(rows, features)
    _BUILT[id(frame)] = frame
    return frame


def check_record(i: int, rec: object, features: FeatureSpec) -> dict[str, Any]:
    """Record `i` of a prediction request, checked: its features' values, in the model's order.

    Raises DataError naming the record and the column for a missing or wrongly typed feature
    (records_frame stops at the first; the predict page shows each record's own).
    """
    # Without preprocessing nothing imputes: a missing value would reach the estimator.
    nullable = features.preprocessing != "none"
    return _checked_row(i, rec, features.columns, frozenset(features.numeric), nullable)


def _checked_row(
    i: int, rec: object, columns: list[str], numeric: frozenset[str], nullable: bool
) -> dict[str, Any]:
    """Record `i`'s features, each checked in the model's order: the first that is missing or
    wrong raises DataError naming it."""
    if not isinstance(rec, dict):
        raise DataError(f"record {i} is not an object")
    row = {}
    for col in columns:
        if col not in rec:
            raise DataError(f"record {i}: feature column {col!r} is missing", column=col)
        _check_value(i, col, rec[col], col in numeric, nullable)
        row[col] = rec[col]
    return row


def _check_value(i: int, col: str, value: object, numeric: bool, nullable: bool) -> None:
    """DataError naming record `i` and column `col` unless `value` is one it may hold."""
    if value is None and not nullable:
        raise DataError(
            f"record {i}: feature column {col!r} is null; this model takes its "
            'features as they are (model.preprocessing = "none"): every value is needed',
            column=col,
        )
    if numeric:
        if not (value is None or _finite_number(value)):
            raise DataError(
                f"record {i}: feature column {col!r} must be a finite number (at most "
                f"{NUMBER_LIMIT:g} in size) or null, got {_shown(value)}",
                column=col,
            )
    elif value is not None and not (
        isinstance(value, bool) or _finite_number(value) or isinstance(value, str)
    ):
        raise DataError(
            f"record {i}: feature column {col!r} must be a string, a finite number, a "
            f"boolean or null, got {_shown(value)}",
            column=col,
        )
    elif isinstance(value, str) and not storable_text(value):
        raise DataError(
            f"record {i}: feature column {col!r} holds a NUL character or a lone "
            "surrogate, which no database stores as text",
            column=col,
        )


def _typed_frame(rows: list[dict[str, Any]], features: FeatureSpec) -> pd.DataFrame:
    """Checked records as a feature frame, built column by column with its final dtypes (what
    feature_frame would make of them, without converting a frame a second time: for the one
    record of an API call the conversion cost more than the model)."""
    # Two blocks from two 2-D arrays: a pandas Series per column costs more than the model.
    numbers = np.array(
        [[np.nan if r[c] is None else float(r[c]) for c in features.numeric] for r in rows],
        dtype=np.float64,
    ).reshape(len(rows), len(features.numeric))
    objects = np.empty((len(rows), len(features.categorical)), dtype=object)
    objects[:] = [[np.nan if r[c] is None else r[c] for c in features.categorical] for r in rows]
    numeric, categorical, every = _column_indexes(features)
    k = len(features.numeric)
    parts = [(a, at) for a, at in ((numbers, range(k)), (objects, range(k, len(every)))) if a.size]
    if _FROM_BLOCKS is not None and parts:
        # The two blocks as pandas holds them (columns x rows), handed to it as they are: a
        # frame per block and their concat cost five times as much for one record.
        blocks_at = [(a.T, np.asarray(at, dtype=np.intp)) for a, at in parts]
        return _FROM_BLOCKS(blocks_at, index=pd.RangeIndex(len(rows)), columns=every)
    blocks = [
        pd.DataFrame(numbers, columns=numeric, copy=False),
        pd.DataFrame(objects, columns=categorical, dtype=object, copy=False),
    ]
    # Numbered columns (no labels to join), then the shared labels.
    frame = pd.concat([b for b in blocks if b.shape[1]] or blocks[:1], axis=1, ignore_index=True)
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


def _finite_number(value: object) -> bool:
    """A JSON number of at most NUMBER_LIMIT in size: not a bool, not NaN or an infinity
    (Python's parser reads 1e400 as one), not an integer beyond float range (a 400-digit one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= _INT_LIMIT  # exact: no float conversion that overflows
    return abs(value) <= NUMBER_LIMIT  # False for NaN and the infinities


def storable_text(text: str) -> bool:
    """Text that SQLite and PostgreSQL both store: no NUL, no lone surrogate (JSON's \\ud800)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: object) -> str:
    """A bad value as an error message shows it: its type, and a short repr (a 400-digit
    integer is not repeated whole)."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**40 else "a huge integer"
    return f"{type(value).__name__} {text[:60]}"
