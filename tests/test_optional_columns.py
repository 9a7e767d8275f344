"""A feature column a file or a record may lack (one its contract does not require): missing in
every row of the model's frame, the diagnostics' counts, the API's records; refused by a model
that imputes nothing. The whole path is tests/test_optional_columns_e2e.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from app.predict_form import optional_features
from pipeline.errors import DataError
from pipeline.model.features import FeatureSpec, absent_as_null, absent_features, feature_frame
from pipeline.model.registry import LoadedModel
from pipeline.predictions import Columns, file_batches
from pipeline.report.diagnostics import missing_values, summary_stats

FEATURES = FeatureSpec(("a", "b"), ("c",))
CONTRACT = """
[contract]
target = "y"

[columns.a]
kind = "numeric"

[columns.b]
kind = "numeric"
required = false
nullable = false

[columns.c]
kind = "categorical"
required = false
"""


def test_a_feature_the_frame_lacks_is_missing_in_every_row() -> None:
    frame = pd.DataFrame({"a": [1, 2], "other": ["x", "y"]}, index=[5, 7])
    out = feature_frame(frame, FEATURES)
    assert list(out.columns) == ["a", "b", "c"] and list(out.index) == [5, 7]
    assert out["b"].dtype == np.float64 and out["b"].isna().all()
    assert out["c"].dtype == object and all(v is np.nan for v in out["c"])
    given = feature_frame(frame.assign(b=np.nan, c=np.nan), FEATURES)
    pd.testing.assert_frame_equal(out, given)
    assert absent_features(frame.columns, FEATURES) == ["b", "c"]


def test_records_without_an_optional_feature_get_it_as_null() -> None:
    records = [{"a": 1, "b": 2, "c": "x"}, {"a": 1}, {"a": 1, "c": None}, "not a record"]
    filled = absent_as_null(records, frozenset({"b", "c"}))
    assert filled[0] == records[0]
    assert filled[1] == {"a": 1, "b": None, "c": None}
    assert filled[2] == {"a": 1, "b": None, "c": None}
    assert filled[3] == "not a record"  # the checks refuse it, as before
    assert records[1] == {"a": 1}  # the request's own records are not changed
    whole = [{"a": 1, "b": 2, "c": "x"}]
    assert absent_as_null(whole, frozenset({"b"})) is whole
    assert absent_as_null({"records": []}, frozenset({"b"})) == {"records": []}
    assert absent_as_null(records, frozenset()) is records


def test_optional_features_are_the_contracts_not_required_ones() -> None:
    assert optional_features(FEATURES, CONTRACT) == {"b", "c"}
    assert optional_features(FEATURES, None) == frozenset()
    assert optional_features(FEATURES, "not toml [") == frozenset()
    unimputed = FeatureSpec(("a", "b"), ("c",), "none")  # needs every value: none optional
    assert optional_features(unimputed, CONTRACT) == frozenset()


def test_diagnostics_count_an_absent_column_as_missing_in_every_row() -> None:
    frame = pd.DataFrame({"a": [1.0, None, 3.0]})
    got = {r["column_name"]: r for r in missing_values(frame, ["a", "b"], "new")}
    assert got["a"]["missing"] == 1 and got["b"]["missing"] == 3 and got["b"]["share"] == 1.0
    stats = {r["column_name"]: r for r in summary_stats(frame, ["a", "b"], "new")}
    assert stats["a"]["count"] == 2
    assert stats["b"]["count"] == 0 and stats["b"]["mean"] is None


def test_a_model_imputing_nothing_refuses_a_file_without_a_feature(tmp_path: Path) -> None:
    path = tmp_path / "part.parquet"
    pd.DataFrame({"a": [1.0], "c": ["x"]}).to_parquet(path)
    spec = FeatureSpec(("a", "b"), ("c",), "none")
    loaded = LoadedModel(1, None, spec, "f1", None, None, "0" * 64)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"model v1 needs column\(s\) \['b'\] the file lacks"):
        next(file_batches(loaded, path, Columns(), 100))
