"""Demo tools: split a data set into files; corrupt a copy, and the gate finds exactly that."""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.errors import DataError, InvalidArgument
from pipeline.ingest.checks import QualityResult, check_frame, file_problem
from pipeline.ingest.contract import Contract, ContractError, enforced, infer, save
from pipeline.ingest.discovery import FORMATS
from pipeline.ingest.readers import read_file
from pipeline.settings import load_settings
from pipeline.tools.corrupt import (
    FILE_TYPES,
    ROW_TYPES,
    Injection,
    corrupt,
    corrupt_file,
    describe,
    parse_mix,
)
from pipeline.tools.sampledata import (
    FEATURES_CATEGORICAL,
    FEATURES_NUMERIC,
    ID_COLUMN,
    TARGET,
    generate_batch,
)
from pipeline.tools.split import split_dataset
from pipeline.vocabulary import DERIVED, ERROR_TYPES

ROWS = 400


def _contract(frame: pd.DataFrame, task: str = "classification") -> Contract:
    """The inferred contract with its learned rules enforced: every injected row is bad."""
    inferred = infer(
        frame,
        target=TARGET,
        id_columns=[ID_COLUMN],
        features=[*FEATURES_NUMERIC, *FEATURES_CATEGORICAL],
        categorical=FEATURES_CATEGORICAL,
        task=task,
    )
    return enforced(inferred, None)


@pytest.fixture(scope="module")
def batch() -> pd.DataFrame:
    return generate_batch(1, ROWS)


@pytest.fixture(scope="module")
def contract(batch: pd.DataFrame) -> Contract:
    return _contract(batch)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    fmt = FORMATS[path.suffix]
    if fmt == "csv":
        frame.to_csv(path, index=False, lineterminator="\n")
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_json(path, orient="records", lines=True)
    return path


def _read(path: Path, contract: Contract) -> pd.DataFrame:
    text = tuple(c.name for c in contract.columns.values() if c.kind in ("categorical", "id"))
    if not contract.numeric_label:
        text += (contract.target,)
    return read_file(path, text)


def _gate(path: Path, contract: Contract) -> QualityResult:
    """The gate's verdict on one file, reached the way ingestion reaches it."""
    try:
        frame = _read(path, contract)
    except DataError as exc:
        return file_problem(exc.error_type or "unreadable", str(exc), None, exc.column)
    return check_frame(frame, contract)


def _found(result: QualityResult) -> dict[tuple[str, str | None], tuple[int, ...]]:
    """Where the gate saw each (type, column): its rows, or () for a file-level type."""
    rows: dict[tuple[str, str | None], set[int]] = defaultdict(set)
    for v in result.violations:
        rows[(v.error_type, v.column)].update(int(r) for r in v.rows)
    return {k: tuple(sorted(r)) for k, r in rows.items()}


def _injected(injections: list[Injection]) -> dict[tuple[str, str | None], tuple[int, ...]]:
    return {(i.error_type, i.column): i.rows for i in injections}


def _assert_found_exactly(path: Path, contract: Contract, injections: list[Injection]) -> None:
    result = _gate(path, contract)
    assert result.errors_by_type == describe(injections)
    assert _found(result) == _injected(injections)
    injected_rows = {r for i in injections for r in i.rows}
    assert set(np.nonzero(result.bad)[0].tolist()) == injected_rows
    copies = sum(len(i.rows) for i in injections if i.error_type.startswith("duplicate_"))
    assert result.rows_read == ROWS + copies


# --- corrupt: the gate finds exactly what was injected -----------------------------------


@pytest.mark.parametrize(
    ("seed", "source_suffix", "out_suffix"),
    [
        (0, ".csv", ".csv"),
        (1, ".csv", ".csv"),
        (2, ".csv", ".csv"),
        (3, ".csv", ".csv"),
        (4, ".csv", ".csv"),
        (0, ".parquet", ".parquet"),
        (1, ".csv", ".parquet"),
        (2, ".jsonl", ".jsonl"),
        (3, ".csv", ".ndjson"),
    ],
)
def test_the_gate_finds_exactly_the_default_mix(
    tmp_path, batch, contract, seed, source_suffix, out_suffix
):
    source = _write(batch, tmp_path / f"clean{source_suffix}")
    before = source.read_bytes()
    out = tmp_path / f"bad{out_suffix}"

    injections = corrupt(source, out, seed=seed, contract=contract)

    counts = describe(injections)
    assert set(counts) == set(ROW_TYPES)  # the default mix has a few rows of every row type
    assert all(3 <= n <= 10 for n in counts.values())
    rows = [r for i in injections for r in i.rows]
    assert len(rows) == len(set(rows))  # one problem per row
    _assert_found_exactly(out, contract, injections)
    assert source.read_bytes() == before


@pytest.mark.parametrize("error_type", ROW_TYPES)
def test_each_row_type_alone_is_found_as_that_type(tmp_path, batch, contract, error_type):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    injections = corrupt(source, out, seed=11, contract=contract, mix={error_type: 7})
    assert describe(injections) == {error_type: 7}
    _assert_found_exactly(out, contract, injections)


def test_the_values_are_truly_bad_per_the_contract(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    mix = {"out_of_range": 30, "unknown_category": 20, "wrong_type": 20, "infinite_value": 10}
    injections = corrupt(source, out, seed=5, contract=contract, mix=mix)
    frame = pd.read_csv(out, dtype=str, keep_default_na=False)
    for inj in injections:
        rule = contract.columns[inj.column]
        values = frame[inj.column].iloc[list(inj.rows)]
        if inj.error_type == "out_of_range":
            numbers = values.astype(float)
            span = rule.max - rule.min
            beyond = np.maximum(rule.min - numbers, numbers - rule.max)
            assert (beyond >= max(1.0, 0.5 * span)).all(), values.tolist()
            if rule.kind == "integer":
                assert (numbers == numbers.round()).all()
        elif inj.error_type == "unknown_category":
            assert not values.isin(rule.categories).any()
            assert (values.str.strip() != "").all()
        elif inj.error_type == "infinite_value":
            assert values.astype(float).map(math.isinf).all()
        else:
            numbers = pd.to_numeric(values, errors="coerce")
            assert (numbers.isna() | (numbers != numbers.round())).all(), values.tolist()


def test_the_same_seed_writes_the_same_file(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    first = corrupt(source, tmp_path / "a.csv", seed=3, contract=contract)
    again = corrupt(source, tmp_path / "b.csv", seed=3, contract=contract)
    other = corrupt(source, tmp_path / "c.csv", seed=4, contract=contract)
    assert first == again
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert other != first


def test_extra_column_combines_with_row_types(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    mix = {"extra_column": 1, "duplicate_row": 4, "missing_value": 3}
    injections = corrupt(source, out, seed=2, contract=contract, mix=mix)
    assert describe(injections) == {"duplicate_row": 4, "extra_column": 1, "missing_value": 3}
    _assert_found_exactly(out, contract, injections)


def test_a_source_with_bad_rows_keeps_them_and_only_clean_rows_are_used(tmp_path, batch, contract):
    dirty = batch.copy()
    dirty.loc[[0, 1], "region"] = "atlantis"
    source = _write(dirty, tmp_path / "dirty.csv")
    out = tmp_path / "bad.csv"
    injections = corrupt(source, out, seed=0, contract=contract, mix={"unknown_category": 398})
    assert {r for i in injections for r in i.rows} == set(range(2, ROWS))
    result = _gate(out, contract)
    assert result.errors_by_type == {"unknown_category": 400}
    assert result.bad.all()


def test_a_regression_contract_is_corrupted_and_checked_like_any_other(tmp_path, batch):
    # The label of a regression task has no fixed values, and a missing one is no error (the
    # row is unlabelled, issue 12): no invalid_label can be injected, the rest is as ever.
    frame = batch.assign(**{TARGET: batch["lastyear_activity"] * 12})
    contract = _contract(frame, task="regression")
    source = _write(frame, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    injections = corrupt(source, out, seed=0, contract=contract)
    assert "invalid_label" not in describe(injections)
    assert "wrong_type" in describe(injections)
    _assert_found_exactly(out, contract, injections)


# --- corrupt: file-level types --------------------------------------------------------------


FILE_CASES = [
    (t, suffix)
    for t in FILE_TYPES
    for suffix in (".csv", ".parquet", ".jsonl")
    if t != "duplicate_column" or suffix == ".csv"
]


@pytest.mark.parametrize(("error_type", "suffix"), FILE_CASES)
def test_each_file_type_alone_is_found_as_that_type(tmp_path, batch, contract, error_type, suffix):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / f"bad{suffix}"
    injections = corrupt(source, out, seed=1, contract=contract, mix={error_type: 1})
    assert describe(injections) == {error_type: 1}
    result = _gate(out, contract)
    assert result.errors_by_type == {error_type: 1}
    assert _found(result) == _injected(injections)
    assert (result.rejected is None) == (error_type == "extra_column")
    [inj] = injections
    if error_type in ("missing_column", "renamed_column", "duplicate_column"):
        assert inj.column in contract.features


def test_renamed_column_keeps_the_values_under_a_look_alike_name(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    [inj] = corrupt(source, out, seed=0, contract=contract, mix={"renamed_column": 1})
    frame = _read(out, contract)
    assert inj.column not in frame.columns
    assert inj.detail != inj.column
    pd.testing.assert_series_equal(
        frame[inj.detail], batch[inj.column], check_names=False, check_dtype=False
    )


def test_duplicate_column_repeats_a_header_name(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    [inj] = corrupt(source, out, seed=0, contract=contract, mix={"duplicate_column": 1})
    with out.open(newline="") as fh:
        header = next(csv.reader(fh))
    assert header.count(inj.column) == 2
    assert len(header) == len(batch.columns) + 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_empty_writes_the_header_without_rows(tmp_path, batch, contract, suffix):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / f"bad{suffix}"
    corrupt(source, out, seed=0, contract=contract, mix={"empty": 1})
    frame = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert list(frame.columns) == list(batch.columns)
    assert frame.empty


def test_empty_json_lines_is_a_file_without_a_line(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.jsonl"
    corrupt(source, out, seed=0, contract=contract, mix={"empty": 1})
    assert out.read_bytes() == b""


def test_corrupt_knows_every_error_type_of_the_gate():
    # A derived type (invalid_share: too many bad rows) follows from the others injected.
    assert sorted(ROW_TYPES + FILE_TYPES) == sorted(set(ERROR_TYPES) - DERIVED)


# --- corrupt: refusals ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mix", "message"),
    [
        ({"typo": 1}, "unknown error type 'typo'"),
        ({"wrong_type": -1}, "wrong_type: the count must be a whole number"),
        ({"wrong_type": 2.5}, "wrong_type: the count must be a whole number"),
        ({"extra_column": 2}, "extra_column: a file-level type is injected once"),
        ({"wrong_type": ROWS + 1}, f"wrong_type: {ROWS + 1} rows asked.*only {ROWS} clean"),
        ({"wrong_type": 300, "missing_value": 300}, "600 rows in all"),
        ({"missing_column": 1, "wrong_type": 3}, "missing_column makes the gate reject"),
        ({"empty": 1, "unreadable": 1}, "empty makes the gate reject"),
        ({"renamed_column": 1, "extra_column": 1}, "renamed_column makes the gate reject"),
    ],
)
def test_a_bad_mix_is_refused_with_the_type_named(tmp_path, batch, contract, mix, message):
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    with pytest.raises(InvalidArgument, match=message):
        corrupt(source, out, seed=0, contract=contract, mix=mix)
    assert not out.exists()


def test_duplicate_column_needs_a_csv_output(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    with pytest.raises(InvalidArgument, match="duplicate_column: only a CSV file"):
        corrupt(
            source, tmp_path / "bad.parquet", seed=0, contract=contract, mix={"duplicate_column": 1}
        )


def test_a_type_the_contract_cannot_hold_is_refused(tmp_path, batch):
    no_ids = infer(
        batch,
        target=TARGET,
        id_columns=[],
        features=list(FEATURES_NUMERIC),
        categorical=[],
        task="classification",
    )
    source = _write(batch, tmp_path / "clean.csv")
    for t in ("duplicate_id", "unknown_category"):
        with pytest.raises(InvalidArgument, match=f"^{t}: "):
            corrupt(source, tmp_path / "bad.csv", seed=0, contract=no_ids, mix={t: 2})
    injections = corrupt(source, tmp_path / "bad.csv", seed=0, contract=no_ids)
    assert set(describe(injections)) == set(ROW_TYPES) - {"duplicate_id", "unknown_category"}


def test_corrupt_refuses_to_write_over_its_source_or_read_garbage(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clean.csv")
    with pytest.raises(InvalidArgument, match="in place"):
        corrupt(source, source, seed=0, contract=contract)
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\x00\x01\x02")
    with pytest.raises(InvalidArgument, match=r"cannot read .*garbage\.csv: the file is binary"):
        corrupt(garbage, tmp_path / "bad.csv", seed=0, contract=contract)
    with pytest.raises(InvalidArgument, match=r"unsupported file type '\.txt'"):
        corrupt(source, tmp_path / "bad.txt", seed=0, contract=contract)


def test_a_small_file_gets_a_smaller_default_mix(tmp_path, batch, contract):
    source = _write(batch.head(20), tmp_path / "small.csv")
    out = tmp_path / "bad.csv"
    injections = corrupt(source, out, seed=0, contract=contract)
    assert 0 < sum(describe(injections).values()) <= 20
    result = _gate(out, contract)
    assert result.errors_by_type == describe(injections)


def test_parse_mix_reads_the_cli_form():
    assert parse_mix("wrong_type=5, extra_column") == {"wrong_type": 5, "extra_column": 1}
    with pytest.raises(InvalidArgument, match="wrong_type: the count must be a whole number"):
        parse_mix("wrong_type=many")
    with pytest.raises(InvalidArgument, match="unknown error type 'nope'"):
        parse_mix("nope=1")


def test_corrupt_file_uses_the_settings_contract_and_reports_rows_from_one(
    tmp_path, batch, contract
):
    config = tmp_path / "riskwatch.toml"
    config.write_text('[paths]\ncontract = "rules/contract.toml"\n')
    settings = load_settings(config, environ={})
    source = _write(batch, tmp_path / "clean.csv")
    out = tmp_path / "bad.csv"
    with pytest.raises(ContractError, match="no data contract"):
        corrupt_file(settings, source, out, seed=3, mix="wrong_type=2")
    save(contract, tmp_path / "rules" / "contract.toml")
    written = "wrong_type=2,extra_column"
    summary = corrupt_file(settings, source, out, seed=3, mix=written)
    same = tmp_path / "same.csv"
    expected = corrupt(source, same, seed=3, contract=contract, mix=parse_mix(written))
    assert summary["file"] == str(out)
    assert summary["injected"] == describe(expected) == {"extra_column": 1, "wrong_type": 2}
    assert summary["details"] == [
        {"error_type": i.error_type, "column": i.column, "rows": [r + 1 for r in i.rows]}
        for i in expected
    ]
    assert out.read_bytes() == same.read_bytes()
    with pytest.raises(InvalidArgument, match="unknown error type 'typo'"):
        corrupt_file(settings, source, out, seed=3, mix="typo=1")
    default = corrupt_file(settings, source, out, seed=3)
    assert default["injected"] == describe(corrupt(source, out, seed=3, contract=contract))


# --- split ----------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_split_makes_n_files_of_near_equal_size_in_order(tmp_path, batch, contract, suffix):
    source = _write(batch, tmp_path / f"clients{suffix}")
    paths = split_dataset(source, tmp_path / "parts", 3)
    assert [p.name for p in paths] == [f"clients_part_00{i}{suffix}" for i in (1, 2, 3)]
    parts = [_read(p, contract) for p in paths]
    assert [len(p) for p in parts] == [134, 133, 133]
    joined = pd.concat(parts, ignore_index=True)
    pd.testing.assert_frame_equal(joined, _read(source, contract))


def test_split_keeps_csv_text_as_written(tmp_path):
    source = tmp_path / "ids.csv"
    source.write_text('id,name\n007,"a, b"\n008,"line\nbreak"\n009,\n010,x\n')
    paths = split_dataset(source, tmp_path / "out", 2)
    assert [p.read_text() for p in paths] == [
        'id,name\n007,"a, b"\n008,"line\nbreak"\n',
        "id,name\n009,\n010,x\n",
    ]


def test_split_with_a_seed_shuffles_the_same_way_and_conserves_rows(tmp_path, batch, contract):
    source = _write(batch, tmp_path / "clients.csv")
    first = split_dataset(source, tmp_path / "a", 4, seed=1)
    again = split_dataset(source, tmp_path / "b", 4, seed=1)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in again]
    joined = pd.concat([_read(p, contract) for p in first], ignore_index=True)
    assert joined[ID_COLUMN].tolist() != batch[ID_COLUMN].tolist()
    assert sorted(joined[ID_COLUMN]) == sorted(batch[ID_COLUMN])
    assert [len(_read(p, contract)) for p in first] == [100] * 4


def test_split_into_one_file_per_row_and_into_one_file(tmp_path, batch):
    source = _write(batch.head(5), tmp_path / "few.csv")
    paths = split_dataset(source, tmp_path / "rows", 5)
    assert [len(pd.read_csv(p)) for p in paths] == [1] * 5
    [whole] = split_dataset(source, tmp_path / "one", 1)
    assert whole.read_bytes() == source.read_bytes()


def test_split_names_grow_wider_past_999_files(tmp_path):
    source = tmp_path / "n.jsonl"
    source.write_text("".join(f'{{"i": {i}}}\n' for i in range(1000)))
    paths = split_dataset(source, tmp_path / "out", 1000)
    assert paths[0].name == "n_part_0001.jsonl"
    assert paths[-1].read_text() == '{"i": 999}\n'


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (0, "at least 1, got 0"),
        (-2, "at least 1, got -2"),
        (True, "at least 1, got True"),
        (6, "into 6 files: it has only 5 rows"),
    ],
)
def test_split_refuses_a_bad_number_of_files(tmp_path, batch, files, message):
    source = _write(batch.head(5), tmp_path / "few.csv")
    with pytest.raises(InvalidArgument, match=message):
        split_dataset(source, tmp_path / "out", files)
    assert not (tmp_path / "out").exists()


def test_split_refuses_unreadable_or_missing_input(tmp_path):
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"a,b\n\x00\xff\xfe\n")
    with pytest.raises(InvalidArgument, match=r"cannot read .*binary\.csv as csv"):
        split_dataset(binary, tmp_path / "out", 2)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"a": 1}\n{"a": \n')
    with pytest.raises(InvalidArgument, match=r"cannot read .*broken\.jsonl as jsonl"):
        split_dataset(broken, tmp_path / "out", 2)
    fake = tmp_path / "fake.parquet"
    fake.write_bytes(b"not parquet at all")
    with pytest.raises(InvalidArgument, match=r"cannot read .*fake\.parquet as parquet"):
        split_dataset(fake, tmp_path / "out", 2)
    with pytest.raises(InvalidArgument, match="no such file"):
        split_dataset(tmp_path / "absent.csv", tmp_path / "out", 2)
    with pytest.raises(InvalidArgument, match=r"unsupported file type '\.xlsx'"):
        split_dataset(tmp_path / "sheet.xlsx", tmp_path / "out", 2)


def test_split_refuses_to_overwrite_unless_asked(tmp_path, batch):
    source = _write(batch.head(10), tmp_path / "few.csv")
    out = tmp_path / "out"
    out.mkdir()
    (out / "few_part_001.csv").write_text("")  # an empty file is taken over
    (out / "few_part_002.csv").write_text("keep me\n")
    with pytest.raises(InvalidArgument, match=r"few_part_002\.csv already exists"):
        split_dataset(source, out, 2)
    assert (out / "few_part_002.csv").read_text() == "keep me\n"
    paths = split_dataset(source, out, 2, overwrite=True)
    assert [len(pd.read_csv(p)) for p in paths] == [5, 5]
