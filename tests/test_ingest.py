"""Ingesting one file: every format, and hostile files that must be quarantined with a reason."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import contract as contracts
from pipeline.ingest import ingestion
from pipeline.ingest.discovery import SourceFile
from pipeline.ingest.ingestion import ERRORS_COLUMN, ROW_COLUMN, ingest_file

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
min = 0
max = 100000

[columns.industry]
kind = "categorical"
nullable = false
categories = ["finance", "retail", "007", "r"]

[columns.exited]
kind = "label"
""")
GOOD = "corporation,employees,industry,exited\nC1,10,retail,0\nC2,250,finance,1\nC3,,retail,0\n"


def _source(path: Path) -> SourceFile:
    st = path.stat()
    return SourceFile(
        path, st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest()
    )


def _ingest(tmp_path: Path, name: str, content: bytes | str, contract=CONTRACT):
    path = tmp_path / "in" / name
    path.parent.mkdir(exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    before = path.read_bytes()
    item = ingest_file(_source(path), tmp_path / "out", contract)
    assert path.read_bytes() == before  # the source file is only ever read
    return item


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "corporation": ["C1", "C2"],
            "employees": [10, 250],
            "industry": ["retail", "finance"],
            "exited": [0, 1],
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "ndjson"])
def test_each_format_is_ingested_to_parquet(tmp_path: Path, fmt: str):
    frame = _frame()
    path = tmp_path / f"batch.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    item = ingest_file(_source(path), tmp_path / "out", CONTRACT)
    assert (item.status, item.rows, item.reason) == ("ingested", 2, None)
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["employees"].tolist() == [10, 250]
    assert stored["industry"].tolist() == ["retail", "finance"]


def test_clean_csv_keeps_every_row(tmp_path: Path):
    item = _ingest(tmp_path, "good.csv", GOOD)
    assert (item.status, item.rows, item.rows_quarantined) == ("ingested", 3, 0)
    assert item.quarantine_path is None


def test_bad_rows_are_quarantined_with_their_errors_and_nothing_is_lost(tmp_path: Path):
    extra = "C4,5,retail,7\nC5,-7,finance,1\nC6,8,aliens,0\nC2,9,retail,1\n"
    item = _ingest(tmp_path, "some.csv", GOOD + extra)
    assert (item.status, item.rows, item.rows_quarantined) == ("ingested", 3, 4)
    bad = pd.read_parquet(tmp_path / "out" / item.quarantine_path)
    assert bad["corporation"].tolist() == ["C4", "C5", "C6", "C2"]
    assert bad[ROW_COLUMN].tolist() == [4, 5, 6, 7]
    assert bad[ERRORS_COLUMN].tolist() == [
        "invalid_label:exited",
        "out_of_range:employees",
        "unknown_category:industry",
        "duplicate_id:corporation",
    ]
    good = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert len(good) + len(bad) == item.quality.rows_read == 7
    assert good["exited"].dtype == "int64"  # labels stay 0/1 once the gaps are gone
    assert item.quality.errors_by_type == {
        "duplicate_id": 1,
        "invalid_label": 1,
        "out_of_range": 1,
        "unknown_category": 1,
        "invalid_share": 1,  # 4 of 7 rows quarantined: above quality.max_invalid_share
    }


def test_extra_columns_are_reported_and_dropped(tmp_path: Path):
    item = _ingest(
        tmp_path, "extra.csv", "corporation,employees,industry,exited,note\nC1,1,r,0,hi\n"
    )
    assert item.status == "ingested"
    assert item.quality.errors_by_type == {"extra_column": 1}
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert list(stored.columns) == ["corporation", "employees", "industry", "exited"]


HOSTILE = [
    ("zero.csv", b"", "empty (0 bytes)"),
    ("blank.csv", b"\n\n\n", "no columns"),
    ("header_only.csv", b"corporation,employees,industry,exited\n", "header but no rows"),
    ("binary.csv", bytes(range(256)) * 64, "binary"),
    ("latin1.csv",
     "corporation,employees,industry,exited\nZ\xfcrich,1,r\xe9tail,0\n".encode("latin-1"),
     "not UTF-8"),
    ("semicolons.csv", b"corporation;employees;industry;exited\nC1;10;retail;0\n",
     "required column 'corporation' is missing"),
    ("no_target_renamed.csv", b"corporation,employees,industry,Exited\nC1,10,retail,0\n",
     "required column 'exited' is missing; it looks renamed to 'Exited'"),
    ("renamed.csv", b"corporation,employee_s,industry,exited\nC1,10,retail,0\n",
     "it looks renamed to 'employee_s'"),
    ("text_in_number.csv",
     b"corporation,employees,industry,exited\nC2,many,retail,1\n",
     "no row passed the checks: wrong_type (1)"),
    ("dupe.csv", b"corporation,employees,employees,industry,exited\nC1,1,2,retail,0\n",
     "column 'employees' appears more than once"),
    ("ragged_first.csv", b"corporation,employees,industry,exited\nC1,10,retail,0,extra,more\n",
     "more fields than the header"),
    ("ragged_later.csv", b"corporation,employees,industry,exited\nC1,1,r,0\nC2,1,r,0,x,y\n",
     "Expected 4 fields in line 3, saw 6"),
    ("bad.parquet", b"PAR1 this is not parquet", "cannot read the file as parquet"),
    ("bad.jsonl", b'{"corporation": "C1", "exited": 0}\n{not json\n',
     "cannot read the file as jsonl"),
    ("report.xlsx", b"PK\x03\x04", "unsupported file type '.xlsx'"),
    ("all_invalid_labels.csv", b"corporation,employees,industry,exited\nC1,10,retail,7\n",
     "no row passed the checks: invalid_label (1)"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "reason"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_files_are_quarantined_with_their_reason(
    tmp_path: Path, name: str, content: bytes, reason: str
):
    item = _ingest(tmp_path, name, content)
    assert item.status == "quarantined"
    assert reason in item.reason
    assert item.rows == 0 and item.data_path is None
    copy = tmp_path / "out" / item.quarantine_path
    assert copy.read_bytes() == content  # kept byte for byte
    assert reason in Path(str(copy) + ".reason.txt").read_text()


def test_a_10_mb_single_line_is_refused_cleanly(tmp_path: Path):
    item = _ingest(tmp_path, "one_line.csv", b"x" * 10_000_000)
    assert item.status == "quarantined"
    assert item.reason == "the file has a header but no rows"


def test_ten_thousand_columns(tmp_path: Path):
    extra = [f"c{i}" for i in range(10_000)]
    header = ",".join(["corporation", "employees", "industry", "exited", *extra])
    row = ",".join(["C1", "3", "retail", "1", *["0"] * len(extra)])
    item = _ingest(tmp_path, "wide.csv", f"{header}\n{row}\n")
    # Extra columns are not an error in the core (the quality gate will flag them).
    assert (item.status, item.rows) == ("ingested", 1)


def test_category_codes_stay_text(tmp_path: Path):
    item = _ingest(tmp_path, "codes.csv", "corporation,employees,industry,exited\nC1,1,007,0\n")
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["industry"].tolist() == ["007"]


def test_text_in_a_numeric_column_quarantines_only_that_row(tmp_path: Path):
    item = _ingest(
        tmp_path, "t.csv", "corporation,employees,industry,exited\nC1,10,r,0\nC2,many,r,1\n"
    )
    assert (item.status, item.rows, item.rows_quarantined) == ("ingested", 1, 1)
    assert item.quality.violations[0].examples == ("'many'",)
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["employees"].dtype == "int64"


def test_regression_target_must_be_numeric(tmp_path: Path):
    contract = contracts.from_toml(
        '[contract]\ntarget = "y"\n[columns.x]\nkind = "numeric"\n[columns.y]\nkind = "label"\n'
    )
    item = _ingest(tmp_path, "r.csv", "x,y\n1,2.5\n2,high\n", contract)
    assert (item.status, item.rows, item.rows_quarantined) == ("ingested", 1, 1)
    assert item.quality.errors_by_type == {"invalid_label": 1, "invalid_share": 1}  # 1 of 2


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_good_rows_are_written_a_slice_at_a_time_with_one_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
):
    """Slices of two rows: one all bad, one with a gap, one whose category is all missing:
    the Parquet file still has the whole file's types and exactly the good rows, in order."""
    import pyarrow.parquet as pq

    monkeypatch.setattr(ingestion, "PARQUET_SLICE_ROWS", 2)
    contract = contracts.from_toml(
        CONTRACT.text.replace("nullable = false\ncategories", "nullable = true\ncategories")
    )
    rows = [
        ("C1", 10, "retail", 0),
        ("C2", 250, "finance", 1),
        ("C3", -1, "retail", 0),  # out of range
        ("C4", 5, "aliens", 1),  # unknown category: this slice has no good row
        ("C5", None, None, 1),
        ("C6", 7, None, 0),
        ("C7", 8, "007", 1),
    ]
    frame = pd.DataFrame(rows, columns=["corporation", "employees", "industry", "exited"])
    path = tmp_path / f"slices.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    item = ingest_file(_source(path), tmp_path / "out", contract)
    assert (item.status, item.rows, item.rows_quarantined) == ("ingested", 5, 2)
    stored_path = tmp_path / "out" / item.data_path
    assert pq.ParquetFile(stored_path).metadata.num_row_groups == 3  # the empty slice: none
    stored = pd.read_parquet(stored_path)
    assert stored["corporation"].tolist() == ["C1", "C2", "C5", "C6", "C7"]
    assert stored["employees"].dtype == "float64"  # a gap in one slice: float everywhere
    assert stored["employees"].iloc[[0, 1, 3, 4]].tolist() == [10.0, 250.0, 7.0, 8.0]
    assert stored["exited"].dtype == "int64" and stored["exited"].tolist() == [0, 1, 1, 0, 1]
    assert stored["industry"].iloc[[0, 1, 4]].tolist() == ["retail", "finance", "007"]
    assert stored["industry"].iloc[[2, 3]].isna().all()


def test_write_parquet_equals_pandas_to_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from pipeline.ingest import ingestion

    monkeypatch.setattr(ingestion, "PARQUET_SLICE_ROWS", 3)
    frame = pd.DataFrame(
        {
            "a": [1.5, None, 3.0, 4.0, 5.0, 6.0, 7.0],
            "b": pd.array(["x", None, "z", "x", "y", "y", None], dtype="string"),
            "c": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    for name, data in (("all", frame), ("empty", frame.iloc[:0])):
        ingestion.write_parquet(data, tmp_path / f"{name}-ours.parquet")
        data.to_parquet(tmp_path / f"{name}-pandas.parquet", index=False)
        pd.testing.assert_frame_equal(
            pd.read_parquet(tmp_path / f"{name}-ours.parquet"),
            pd.read_parquet(tmp_path / f"{name}-pandas.parquet"),
        )


def test_row_groups_are_small_so_reading_a_row_back_decodes_little(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Slices of 5 rows written as row groups of 2: a past prediction's features are read back
    from the one small group that holds its row."""
    import pyarrow.parquet as pq

    from pipeline.predictions.features import read_rows

    monkeypatch.setattr(ingestion, "PARQUET_SLICE_ROWS", 5)
    monkeypatch.setattr(ingestion, "PARQUET_ROW_GROUP_ROWS", 2)
    frame = pd.DataFrame({"a": [float(i) for i in range(11)], "b": [f"x{i}" for i in range(11)]})
    path = tmp_path / "groups.parquet"
    ingestion.write_parquet(frame, path)
    meta = pq.ParquetFile(path).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sizes == [2, 2, 1, 2, 2, 1, 1]
    got = read_rows(path, [10, 0, 7, 11], ["b", "a"])
    assert got == {0: {"b": "x0", "a": 0.0}, 7: {"b": "x7", "a": 7.0}, 10: {"b": "x10", "a": 10.0}}


def test_a_bad_json_value_of_another_type_does_not_break_the_good_rows(tmp_path: Path):
    lines = [
        '{"corporation": "C1", "employees": 10, "industry": "retail", "exited": 0}',
        '{"corporation": "C2", "employees": 11, "industry": {"nested": 1}, "exited": 1}',
        '{"corporation": "C3", "employees": 12, "industry": 7, "exited": 1}',
        '{"corporation": "C4", "employees": 13, "industry": "finance", "exited": 0}',
    ]
    item = _ingest(tmp_path, "mixed.jsonl", "\n".join(lines) + "\n")
    assert (item.status, item.rows, item.rows_quarantined) == ("ingested", 2, 2)
    stored = pd.read_parquet(tmp_path / "out" / item.data_path)
    assert stored["industry"].tolist() == ["retail", "finance"]
    assert stored["employees"].tolist() == [10, 13]
