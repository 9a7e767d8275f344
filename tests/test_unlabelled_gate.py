"""The gate on unlabelled data and on event times (issue 12, point 1): pure checks, and one file
ingested to Parquet."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.ingest import contract as contracts
from pipeline.ingest.checks import check_frame
from pipeline.ingest.discovery import SourceFile
from pipeline.ingest.ingestion import Gate, ingest_file
from pipeline.ingest.timestamps import parse_event_times

CONTRACT = contracts.from_toml("""
[contract]
target = "exited"
id_columns = ["corporation"]
label_values = [0, 1]

[columns.corporation]
kind = "id"

[columns.employees]
kind = "integer"
nullable = true

[columns.at]
kind = "timestamp"

[columns.exited]
kind = "label"
""")
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _frame(**columns: list) -> pd.DataFrame:
    n = max((len(v) for v in columns.values() if v is not None), default=2)
    base = {
        "corporation": [f"C{i}" for i in range(n)],
        "employees": list(range(1, n + 1)),
        "at": ["2026-05-01T10:00:00Z"] * n,
        "exited": [0, 1] * (n // 2) + [0] * (n % 2),
    }
    base.update(columns)
    return pd.DataFrame({k: v for k, v in base.items() if v is not None})


def _source(path: Path) -> SourceFile:
    st = path.stat()
    return SourceFile(
        path, st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()
    )


def test_a_file_without_the_target_is_inference_data():
    frame = _frame(exited=None)
    result = check_frame(frame, CONTRACT)
    assert result.violations == [] and result.rows_invalid == 0


def test_rows_without_a_label_are_kept_and_a_wrong_label_is_still_quarantined():
    frame = _frame(exited=[0, None, 7, "yes", 1, np.nan])
    result = check_frame(frame, CONTRACT)
    assert result.bad.tolist() == [False, False, True, True, False, False]
    assert result.errors_by_type == {"invalid_label": 2}  # 7 is not a class, "yes" no number


@pytest.mark.parametrize(
    ("header", "renamed_to"),
    [("Exited", "Exited"), ("exited_", "exited_"), ("EXITED ", "EXITED "), ("exit", "exit")],
)
def test_a_renamed_target_is_caught_not_taken_for_unlabelled(header: str, renamed_to: str):
    frame = _frame().rename(columns={"exited": header})
    result = check_frame(frame, CONTRACT)
    assert result.rejected is not None
    assert result.rejected.error_type == "renamed_column"
    assert f"it looks renamed to {renamed_to!r}" in result.rejected.message


def test_an_unrelated_extra_column_leaves_the_file_unlabelled():
    frame = _frame(exited=None, note=["a", "b"])
    result = check_frame(frame, CONTRACT)
    assert result.rejected is None
    assert result.errors_by_type == {"extra_column": 1}


@pytest.mark.parametrize("how", ["absent", "empty"])
def test_quarantine_setting_refuses_a_file_without_any_label(how: str):
    frame = _frame(exited=None if how == "absent" else [None, None])
    result = check_frame(frame, CONTRACT, unlabelled="quarantine")
    assert result.rejected is not None and result.rejected.error_type == "unlabelled"
    assert 'data.unlabelled_files = "quarantine"' in result.rejected.message
    assert check_frame(_frame(exited=[None, 1]), CONTRACT, unlabelled="quarantine").rejected is None


def test_event_times_iso_with_and_without_offsets_are_utc():
    series = pd.Series(
        [
            "2024-01-05",
            "2024-01-05T10:00:00+02:00",
            "2024-01-05 10:00:00Z",
            "2024-01-05T10:00-05:00",
        ]
    )
    times = parse_event_times(series)
    assert str(times.values.dtype) == "datetime64[us, UTC]"
    assert [t.isoformat() for t in times.values] == [
        "2024-01-05T00:00:00+00:00",
        "2024-01-05T08:00:00+00:00",
        "2024-01-05T10:00:00+00:00",
        "2024-01-05T15:00:00+00:00",
    ]


def test_a_time_to_the_nanosecond_does_not_make_far_years_unreadable():
    """pandas parses a column with one nanosecond time in nanoseconds, where years outside
    1677 to 2262 do not fit: they are read again alone, and kept."""
    series = pd.Series(["2026-12-01T12:00:00.123456789Z", "9999-12-31T23:59:59", "0001-01-01"])
    times = parse_event_times(series)
    assert not times.unparseable.any()
    assert [t.year for t in times.values] == [2026, 9999, 1]
    assert times.values.iloc[0].isoformat() == "2026-12-01T12:00:00.123456+00:00"


HOSTILE_TIMES = [
    ("garbage", "wrong_type", "must hold ISO 8601 times"),
    ("2024-13-45", "wrong_type", "must hold ISO 8601 times"),
    ("1714557600", "wrong_type", "an epoch number is ambiguous"),
    ("1714557600.5", "wrong_type", "an epoch number is ambiguous"),
    ("9999-01-01T00:00:00Z", "out_of_range", "more than 1 day(s) after the file was checked"),
    (None, "missing_value", "no event time in 'at'"),
    ("", "missing_value", "no event time in 'at'"),
]


@pytest.mark.parametrize(("value", "error_type", "why"), HOSTILE_TIMES)
def test_a_hostile_event_time_quarantines_its_row_with_a_reason(value, error_type, why):
    frame = _frame(at=["2026-05-01T10:00:00+02:00", value or None])
    result = check_frame(frame, CONTRACT, now=NOW)
    assert result.bad.tolist() == [False, True]
    [v] = result.violations
    assert (v.error_type, v.column) == (error_type, "at")
    assert why in v.message


def test_numbers_read_as_numbers_are_refused_too():
    frame = _frame(at=[1714557600, 1714557601])
    result = check_frame(frame, CONTRACT, now=NOW)
    assert result.errors_by_type == {"wrong_type": 2}


def test_a_missing_timestamp_column_rejects_the_file():
    result = check_frame(_frame(at=None), CONTRACT)
    assert result.rejected is not None and result.rejected.error_type == "missing_column"


def test_ingested_parquet_has_the_target_and_a_utc_timestamp(tmp_path: Path):
    path = tmp_path / "in" / "unlabelled.csv"
    path.parent.mkdir()
    path.write_text(
        "corporation,employees,at\n"
        "C1,10,2026-05-01T10:00:00+02:00\n"
        "C2,11,2026-05-01 10:00:00\n"
        "C3,12,garbage\n"
    )
    item = ingest_file(_source(path), tmp_path / "out", CONTRACT, gate=Gate(now=NOW))
    assert (item.status, item.rows, item.rows_quarantined, item.labelled_rows) == (
        "ingested",
        2,
        1,
        0,
    )
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert list(stored.columns) == ["corporation", "employees", "at", "exited"]
    assert stored["exited"].isna().all()
    assert str(stored["at"].dtype).startswith("datetime64") and str(stored["at"].dt.tz) == "UTC"
    assert [t.isoformat() for t in stored["at"]] == [
        "2026-05-01T08:00:00+00:00",
        "2026-05-01T10:00:00+00:00",
    ]


def test_partly_labelled_file_counts_its_labelled_rows(tmp_path: Path):
    path = tmp_path / "in" / "partly.csv"
    path.parent.mkdir()
    path.write_text(
        "corporation,employees,at,exited\n"
        "C1,10,2026-05-01,1\nC2,11,2026-05-01,\nC3,12,2026-05-01,0\nC4,13,2026-05-01,5\n"
    )
    item = ingest_file(_source(path), tmp_path / "out", CONTRACT, gate=Gate(learn_labels=True))
    assert (item.rows, item.labelled_rows, item.rows_quarantined) == (3, 2, 1)
    assert item.labels == frozenset({0, 1})
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["exited"].tolist()[0::2] == [1, 0] and pd.isna(stored["exited"][1])


def test_contract_inferred_from_unlabelled_data_has_no_label_set_yet():
    frame = _frame(exited=None)
    inferred = contracts.infer(
        frame,
        target="exited",
        categorical=[],
        task="classification",
        id_columns=["corporation"],
        features=["employees"],
        timestamp="at",
    )
    assert inferred.label_values is None
    assert inferred.columns["at"].kind == "timestamp"
    assert "at" not in inferred.features
    again = contracts.from_toml(inferred.text)
    assert again.label_values is None and again.columns["at"].kind == "timestamp"
    # Any number is a label until the set is learned; text is not.
    result = check_frame(_frame(at=None, exited=[1, "yes"]).assign(at="2026-01-01"), again)
    assert result.bad.tolist() == [False, True]


def test_a_label_of_spaces_alone_is_no_label_and_other_text_is_checked(tmp_path: Path):
    """A cell of spaces (or a tab) in the target is empty to the eye and to the gate: the row
    is inference data; "-" is a value, and not a label the contract allows."""
    path = tmp_path / "in" / "blanks.csv"
    path.parent.mkdir()
    path.write_text(
        "corporation,employees,at,exited\n"
        'C1,10,2026-05-01,1\nC2,11,2026-05-01," "\nC3,12,2026-05-01,"\t"\nC4,13,2026-05-01,-\n'
    )
    item = ingest_file(_source(path), tmp_path / "out", CONTRACT, gate=Gate())
    assert (item.rows, item.labelled_rows, item.rows_quarantined) == (3, 1, 1)
    assert item.quality is not None and item.quality.errors_by_type["invalid_label"] == 1  # "-"
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["corporation"].tolist() == ["C1", "C2", "C3"]
    assert stored["exited"].isna().tolist() == [False, True, True]
