"""The data contract and the checks of the quality gate, on small literal data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from pipeline.ingest import contract as contracts
from pipeline.ingest.checks import check_frame, check_header, file_problem, flag_invalid_share
from pipeline.ingest.contract import ContractError
from pipeline.vocabulary import DEFAULT_CRITICALITY, ERROR_TYPES


def _training() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "corporation": ["C1", "C2", "C3", "C4"],
            "employees": [10, 20, 30, 40],
            "activity": [1.5, np.nan, 3.0, 4.5],
            "industry": ["retail", "finance", "retail", "tech"],
            "exited": [0, 1, 0, 1],
        }
    )


def _inferred(**kw) -> contracts.Contract:
    """The contract of `_training()`, its structural rules inferred from its four rows."""
    return contracts.infer(
        _training(),
        target="exited",
        id_columns=["corporation"],
        features=["employees", "activity", "industry"],
        categorical=["industry"],
        task="classification",
        range_margin=0.5,
        evidence=1,
        **kw,
    )


@pytest.fixture
def contract():
    """The inferred contract with every learned rule enforced, as a person would after review."""
    return contracts.enforced(_inferred(), None)


def test_inferred_contract_reads_like_the_data(contract):
    c = contract.columns
    assert (c["employees"].kind, c["employees"].min, c["employees"].max) == ("integer", 0, 55)
    assert (c["activity"].kind, c["activity"].nullable) == ("numeric", True)
    assert c["activity"].max_missing_share == pytest.approx(0.3)
    assert c["industry"].categories == ("finance", "retail", "tech")
    assert contract.label_values == (0, 1)
    assert contract.unique_ids


def test_contract_text_round_trips_and_versions_change_with_edits(contract):
    again = contracts.from_toml(contract.text)
    assert again.columns == contract.columns and again.version == contract.version
    edited = contracts.from_toml(contract.text.replace("max = 55", "max = 60"))
    assert edited.version != contract.version
    assert edited.columns["employees"].max == 60


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[contract\n", "not valid TOML"),
        ("[columns.x]\nkind = 'numeric'\n", "'target' string is required"),
        ("[contract]\ntarget = 'y'\n", "at least one"),
        (
            "[contract]\ntarget = 'y'\n[columns.y]\nkind = 'label'\n[columns.x]\nkind = 'float'\n",
            "columns.x.kind: expected one of",
        ),
        (
            "[contract]\ntarget = 'y'\n[columns.y]\nkind = 'label'\n[columns.x]\nkind = 'numeric'\n"
            "min = 5\nmax = 1\n",
            "min 5 is above max 1",
        ),
        (
            "[contract]\ntarget = 'y'\n[columns.y]\nkind = 'label'\n[columns.x]\nkind = 'numeric'\n"
            "mn = 5\n",
            "unknown key(s) ['mn']",
        ),
        ("[contract]\ntarget = 'y'\n[columns.x]\nkind = 'numeric'\n", "needs [columns.y]"),
        (
            "[contract]\ntarget = 'y'\nid_columns = ['id']\n[columns.y]\nkind = 'label'\n",
            "id column 'id'",
        ),
        (
            "[contract]\ntarget = 'y'\n[columns.y]\nkind = 'label'\n[columns.x]\nkind = 'numeric'\n"
            "max = nan\n",
            "columns.x.max: expected a finite number",
        ),
    ],
)
def test_a_broken_contract_names_the_key(text: str, message: str):
    with pytest.raises(ContractError, match=re.escape(message)):
        contracts.from_toml(text, "contract.toml")


def test_missing_contract_says_how_to_make_one(tmp_path):
    with pytest.raises(ContractError, match="riskwatch contract infer"):
        contracts.load(tmp_path / "contract.toml")


def test_clean_file_passes_untouched(contract):
    result = check_frame(_training(), contract)
    assert (result.violations, result.rows_invalid, result.criticality) == ([], 0, None)


BAD_ROWS = {
    "wrong_type": ("employees", "many"),
    "missing_value": ("employees", None),
    "out_of_range": ("employees", -3),
    "unknown_category": ("industry", "aliens"),
    "invalid_label": ("exited", 7),
    "infinite_value": ("activity", float("inf")),
}


@pytest.mark.parametrize("error_type", sorted(BAD_ROWS))
def test_each_row_error_is_caught_with_type_column_row_and_criticality(contract, error_type):
    column, value = BAD_ROWS[error_type]
    frame = _training().astype({column: object})
    frame.loc[2, column] = value
    result = check_frame(frame, contract)
    [v] = result.violations
    assert (v.error_type, v.column, v.rows.tolist(), v.count) == (error_type, column, [2], 1)
    assert v.criticality == DEFAULT_CRITICALITY[error_type]
    assert result.bad.tolist() == [False, False, True, False]
    assert result.row_errors().to_dict() == {2: f"{error_type}:{column}"}


def test_missing_values_are_fine_where_training_had_them(contract):
    frame = _training()  # one of four rows lacks activity, as in training
    frame.loc[[1, 2], "activity"] = [2.0, np.nan]
    assert check_frame(frame, contract).violations == []


@pytest.mark.parametrize(
    ("k", "n", "p", "flagged"),
    [
        (1, 5, 0.05, False),
        (2, 4, 0.3, False),
        (3000, 10_000, 0.05, True),
        (540, 10_000, 0.05, False),
        (700, 10_000, 0.05, True),
        (0, 100, 0.0, False),
        (1, 100, 0.0, True),
        (10, 10, 1.0, False),
    ],
)
def test_missing_share_is_judged_by_significance_not_by_ratio(k, n, p, flagged):
    from pipeline.ingest.checks import _share_exceeded

    assert _share_exceeded(k, n, p, 0.001) is flagged


def test_more_missing_than_the_contract_allows_flags_the_file_not_the_rows(contract):
    frame = pd.concat([_training()] * 50, ignore_index=True)
    frame["corporation"] = [f"C{i}" for i in range(len(frame))]
    frame["employees"] = 20
    frame.loc[: len(frame) * 3 // 4, "activity"] = np.nan  # 75% missing; the contract allows 30%
    result = check_frame(frame, contract)
    result = type(result)(
        result.rows_read,
        [v for v in result.violations if v.error_type == "missing_value"],
        result.bad,
    )
    [v] = result.violations
    assert (v.error_type, v.column, len(v.rows)) == ("missing_value", "activity", 0)
    assert v.count == frame["activity"].isna().sum()
    assert "more than the contract's 30.0%" in v.message
    assert not result.bad.any()


def test_duplicates_row_and_id(contract):
    frame = pd.concat([_training(), _training().iloc[[1]]], ignore_index=True)
    same_id = _training().iloc[[2]].assign(employees=33)
    frame = pd.concat([frame, same_id], ignore_index=True)
    result = check_frame(frame, contract)
    assert result.errors_by_type == {"duplicate_id": 1, "duplicate_row": 1}
    by_type = {v.error_type: v.rows.tolist() for v in result.violations}
    assert by_type == {"duplicate_row": [4], "duplicate_id": [5]}


def test_ids_whose_key_is_too_long_for_an_index_are_out_of_range(contract):
    """The key of a row's ids in UTF-8 bytes, quotes and escapes counted (a quote is escaped
    as two): at MAX_KEY_BYTES a row passes, one more and it is quarantined; numbers and
    missing ids never are."""
    from pipeline.model.keys import MAX_KEY_BYTES

    room = MAX_KEY_BYTES - len('[""]')
    frame = pd.concat([_training()] * 2, ignore_index=True)
    frame["corporation"] = frame["corporation"].astype(object)
    frame.loc[4:, "corporation"] = [
        "a" * room,
        "a" * (room + 1),
        '"' * (room // 2) + "a",  # 1,997 characters, each quote two bytes as stored
        None,
    ]
    result = check_frame(frame, contract)
    [long] = [v for v in result.violations if v.error_type == "out_of_range"]
    assert long.column == "corporation" and long.rows.tolist() == [5, 6]
    assert result.bad.tolist() == [False] * 5 + [True, True] + [result.bad[7]]
    numbers = check_frame(_training().assign(corporation=[10**30, 2, 3, 4]), contract)
    assert not [v for v in numbers.violations if v.error_type == "out_of_range"]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (
            ["corporation", "employees", "activity", "industry", "exited", "note"],
            {("extra_column", "note")},
        ),
        (["corporation", "activity", "industry", "exited"], {("missing_column", "employees")}),
        (
            ["corporation", "employee_count", "activity", "industry", "exited"],
            {("missing_column", "employees"), ("extra_column", "employee_count")},
        ),
        (
            ["corporation", "Employees", "activity", "industry", "exited"],
            {("renamed_column", "employees")},
        ),
        (
            ["corporation", "employees", "employees", "activity", "industry", "exited"],
            {("duplicate_column", "employees")},
        ),
    ],
)
def test_header_checks(contract, columns, expected):
    assert {(v.error_type, v.column) for v in check_header(columns, contract)} == expected


def test_criticality_can_be_changed_by_setting(contract):
    frame = _training().astype({"industry": object})
    frame.loc[0, "industry"] = "aliens"
    [v] = check_frame(frame, contract, {"unknown_category": "high"}).violations
    assert v.criticality == "high"


def test_every_violation_of_a_file_is_collected(contract):
    frame = _training().astype({"employees": object, "industry": object})
    frame.loc[0, "employees"] = "x"
    frame.loc[1, "industry"] = "aliens"
    frame.loc[3, "exited"] = 5
    frame["extra"] = 1
    result = check_frame(frame, contract)
    assert result.errors_by_type == {
        "extra_column": 1,
        "invalid_label": 1,
        "unknown_category": 1,
        "wrong_type": 1,
    }
    assert result.rows_invalid == 3 and result.criticality == "high"
    assert result.errors_by_criticality == {"low": 2, "medium": 1, "high": 1}


def test_unreadable_files_have_their_own_verdict():
    result = file_problem("unreadable", "the file is binary")
    assert result.rejected.error_type == "unreadable" and result.criticality == "high"


def test_error_type_names_are_stable():
    assert ERROR_TYPES == (
        "unreadable",
        "empty",
        "missing_column",
        "extra_column",
        "duplicate_column",
        "wrong_type",
        "missing_value",
        "out_of_range",
        "unknown_category",
        "duplicate_row",
        "duplicate_id",
        "invalid_label",
        "infinite_value",
        "renamed_column",
        "invalid_share",
        "unlabelled",
    )


def test_a_million_rows_are_checked_column_by_column(contract):
    # Vectorised: a million rows in one call; the result is exact, not sampled.
    n = 1_000_000
    frame = pd.DataFrame(
        {
            "corporation": [f"C{i}" for i in range(n)],
            "employees": np.full(n, 20),
            "activity": np.full(n, 2.0),
            "industry": np.full(n, "retail"),
            "exited": np.zeros(n, dtype=int),
        }
    )
    frame.loc[[5, 500_000], "employees"] = 10_000
    result = check_frame(frame, contract)
    assert result.errors_by_type == {"out_of_range": 2}
    assert result.violations[0].rows.tolist() == [5, 500_000]


# --- the column checks, one part at a time --------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "nullable", "expected"),
    [
        ("label", False, None),  # a row without a label is inference data (issue 12)
        ("numeric", False, ("missing_value", 1)),
        ("numeric", True, None),  # one missing of three is no clear excess over 30% at n=3
    ],
)
def test_check_missing_by_kind(kind, nullable, expected):
    from pipeline.ingest.checks import _check_missing
    from pipeline.ingest.contract import ColumnRule

    series = pd.Series([1.0, np.nan, 3.0])
    rule = ColumnRule("x", kind, nullable=nullable, max_missing_share=0.3)
    v = _check_missing(series, series.isna().to_numpy(), rule, None, 0.001)
    assert (None if v is None else (v.error_type, v.count)) == expected


def test_check_numbers_type_infinity_and_range_in_that_order(contract):
    from pipeline.ingest.checks import _check_numbers
    from pipeline.ingest.contract import ColumnRule

    series = pd.Series(["1", "x", "inf", "99", "2.5"], dtype=object)
    rule = ColumnRule("n", "integer", min=0, max=10)
    found = _check_numbers(series, series.isna().to_numpy(), rule, contract, None)
    assert [(v.error_type, v.rows.tolist()) for v in found if v] == [
        ("wrong_type", [1, 4]),
        ("infinite_value", [2]),
        ("out_of_range", [3]),
    ]


@pytest.mark.parametrize(
    ("bad_rows", "max_share", "flagged"),
    [
        (0, 0.05, False),
        (1, 0.05, False),
        (2, 0.05, False),
        (3, 0.05, True),
        (40, 0.05, True),
        (1, 0.0, True),
        (40, 1.0, False),
    ],
)
def test_a_file_losing_more_than_the_allowed_share_gets_an_invalid_share_issue(
    contract, bad_rows: int, max_share: float, flagged: bool
):
    # 40 rows; 2 bad is exactly 5%, not above it.
    frame = pd.concat([_training()] * 10, ignore_index=True)
    frame["corporation"] = [f"C{i}" for i in range(40)]
    if bad_rows:
        frame.loc[: bad_rows - 1, "employees"] = -1  # below the contract's range
    result = flag_invalid_share(check_frame(frame, contract), max_share)
    assert result.rows_invalid == bad_rows
    found = [v for v in result.violations if v.error_type == "invalid_share"]
    assert bool(found) == flagged
    if flagged:
        [v] = found
        assert (v.level, v.count, v.column, result.criticality) == ("file", 1, None, "high")
        assert f"{bad_rows} of 40 rows" in v.message


def test_invalid_share_criticality_can_be_overridden_and_a_rejected_file_is_not_flagged(contract):
    frame = _training().assign(employees=[-1, -2, -3, 40])
    result = flag_invalid_share(check_frame(frame, contract), 0.05, {"invalid_share": "low"})
    [v] = [v for v in result.violations if v.error_type == "invalid_share"]
    assert v.criticality == "low" and result.criticality == "medium"  # out_of_range's
    rejected = check_frame(_training().drop(columns=["employees"]), contract)
    before = list(rejected.violations)
    assert flag_invalid_share(rejected, 0.0).violations == before  # it says why already
    empty = file_problem("empty", "the file has a header but no rows")
    assert flag_invalid_share(empty, 0.0).violations == empty.violations
