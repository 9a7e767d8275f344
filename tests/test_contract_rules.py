"""Structural and learned contract rules (issue 9, point 1): inference from many files through
merged summaries, label values from the task, nullability only from enough rows, learned rules
that keep rows until enforced, and the TOML keys for them. Pure, on small literal data.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.ingest import contract as contracts
from pipeline.ingest.checks import check_frame, flag_invalid_share
from pipeline.ingest.contract import ContractError
from pipeline.ingest.contract_summary import evidence_rows

FEATURES = ["employees", "activity", "industry"]


def _frame(n: int, seed: int, labels: list[int] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "corporation": [f"S{seed}-{i}" for i in range(n)],
            "employees": rng.integers(1, 500, n),
            "activity": rng.normal(50, 10, n).round(3),
            "industry": rng.choice(["retail", "finance", "tech"], n),
            "exited": labels if labels is not None else rng.integers(0, 2, n),
        }
    )


def _infer(frame: pd.DataFrame, **kw) -> contracts.Contract:
    kw = {"task": "classification", "categorical": ["industry"], **kw}
    return contracts.infer(
        frame, target="exited", id_columns=["corporation"], features=FEATURES, **kw
    )


def _from_summaries(frames: list[pd.DataFrame], **kw) -> contracts.Contract:
    task = kw.pop("task", "classification")
    parts = [
        contracts.summarise(
            f, categorical=["industry"], target="exited" if task == "classification" else None
        )
        for f in frames
    ]
    return contracts.infer_summary(
        contracts.merge(parts),
        target="exited",
        id_columns=["corporation"],
        features=FEATURES,
        categorical=["industry"],
        task=task,
        **kw,
    )


@pytest.mark.parametrize("sizes", [[2] * 100, [300], [1, 7, 150, 40], [500, 3]])
def test_merged_summaries_infer_what_the_concatenation_infers(sizes):
    frames = [_frame(n, seed) for seed, n in enumerate(sizes)]
    frames[0].loc[0, "activity"] = np.nan  # a missing value in one file only
    merged = _from_summaries(frames)
    whole = _infer(pd.concat(frames, ignore_index=True))
    assert merged.text == whole.text and merged.columns == whole.columns


def test_a_column_some_files_lack_is_optional_not_a_reason_to_reject_them():
    frames = [_frame(200, 1), _frame(200, 2).drop(columns=["activity"])]
    contract = _from_summaries(frames)
    assert not contract.columns["activity"].required
    assert contract.columns["employees"].required


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        ([0, 0], (0, 1)),
        ([1], (0, 1)),
        ([0.0, 1.0], (0, 1)),
        ([True, True], (False, True)),
        ([2, 0], (0, 2)),
    ],
)
def test_a_binary_task_knows_both_classes_even_when_the_data_shows_one(seen, expected):
    frames = [_frame(1, i, [label]) for i, label in enumerate(seen)]
    assert _from_summaries(frames).label_values == expected


def test_other_label_sets_are_the_union_over_every_file_and_regression_has_none():
    frames = [_frame(2, 1, [3, 4]), _frame(2, 2, [7, 3])]
    assert _from_summaries(frames).label_values == (3, 4, 7)
    assert _from_summaries(frames, task="regression").label_values is None


def test_the_evidence_rule_is_the_binomial_one():
    # (1 - 0.05)^n <= 0.001 first at n = 135; never without a margin; one row with margin 1
    assert evidence_rows(0.05, 0.001) == 135
    assert 0.95**134 > 0.001 >= 0.95**135
    assert evidence_rows(0.0, 0.001) == float("inf")
    assert evidence_rows(1.0, 0.001) == 1


@pytest.mark.parametrize("rows", [2, 20, 134])
def test_few_rows_without_a_missing_value_do_not_make_a_column_required(rows):
    contract = _infer(_frame(rows, 0))
    for name in FEATURES:
        rule = contract.columns[name]
        assert rule.nullable and rule.max_missing_share == pytest.approx(0.05)
    assert contract.columns["employees"].kind == "numeric"  # whole numbers, but too few to say
    assert contract.columns["employees"].sign is None
    late = _frame(5, 9).astype({"employees": "float64"})
    late.loc[1, "activity"] = np.nan
    late.loc[2, "employees"] = 2.5
    assert check_frame(late, contract).rows_invalid == 0


def test_enough_rows_make_nullability_integer_and_sign_structural():
    contract = _infer(_frame(135, 0))
    rule = contract.columns["employees"]
    assert (rule.nullable, rule.kind, rule.sign) == (False, "integer", "non-negative")
    assert contract.columns["activity"].sign == "non-negative"
    late = _frame(4, 9).astype({"employees": object})
    late.loc[0, "employees"] = None
    late.loc[1, "employees"] = 2.5
    late.loc[2, "employees"] = -1
    result = check_frame(late, contract)
    assert result.bad.tolist() == [True, True, True, False]
    kinds = {(v.error_type, int(v.rows[0])) for v in result.violations}
    assert kinds == {("missing_value", 0), ("wrong_type", 1), ("out_of_range", 2)}
    [sign] = [v for v in result.violations if v.error_type == "out_of_range"]
    assert "negative" in sign.message and not sign.kept


def test_a_learned_range_or_category_flags_the_row_and_keeps_it():
    contract = _infer(_frame(300, 0))
    assert not contract.columns["employees"].enforce
    late = _frame(6, 5)
    late.loc[1, "employees"] = 10_000  # above the learned max, still a whole positive number
    late.loc[2, "industry"] = "aerospace"
    late.loc[3, "exited"] = 5  # a label is structural
    result = check_frame(late, contract)
    by_type = {v.error_type: v for v in result.violations}
    assert set(by_type) == {"out_of_range", "unknown_category", "invalid_label"}
    for t in ("out_of_range", "unknown_category"):
        v = by_type[t]
        assert v.kept and "rows kept" in v.message and v.count == 1
    assert result.bad.tolist() == [False, False, False, True, False, False]
    assert (result.rows_invalid, result.rows_valid) == (1, 5)
    assert result.errors_by_type == {"invalid_label": 1, "out_of_range": 1, "unknown_category": 1}
    assert result.criticality == "high"
    assert result.row_errors().to_dict() == {3: "invalid_label:exited"}
    # Kept rows are not lost rows: the invalid share counts quarantined rows only.
    flag_invalid_share(result, 0.2)  # 1 of 6 quarantined
    assert "invalid_share" not in result.errors_by_type


def test_a_file_with_kept_rows_only_still_has_their_criticality_for_alerts():
    contract = _infer(_frame(300, 0))
    late = _frame(3, 5)
    late.loc[1, "employees"] = 10_000
    result = check_frame(late, contract, {"out_of_range": "high"})
    assert (result.rows_invalid, result.criticality) == (0, "high")
    assert result.rows_read == result.rows_valid + result.rows_invalid


def test_enforce_true_quarantines_what_the_learned_rule_finds():
    contract = contracts.enforced(_infer(_frame(300, 0)), ["employees"])
    assert contract.columns["employees"].enforce and not contract.columns["industry"].enforce
    late = _frame(3, 5)
    late.loc[1, "employees"] = 10_000
    late.loc[2, "industry"] = "aerospace"
    result = check_frame(late, contract)
    assert result.bad.tolist() == [False, True, False]
    assert {v.error_type: v.kept for v in result.violations} == {
        "out_of_range": False,
        "unknown_category": True,
    }


HAND_WRITTEN = """
[contract]
target = "exited"
id_columns = ["corporation"]
label_values = [0, 1]

[columns.corporation]
kind = "id"

[columns.employees]
kind = "integer"
nullable = false
min = 0
max = 100

[columns.industry]
kind = "categorical"
nullable = false
categories = ["retail"]

[columns.exited]
kind = "label"
"""


def test_a_hand_written_rule_without_an_enforce_key_quarantines_as_before():
    contract = contracts.from_toml(HAND_WRITTEN)
    assert contract.columns["employees"].enforce and contract.columns["industry"].enforce
    frame = pd.DataFrame(
        {
            "corporation": ["a", "b", "c"],
            "employees": [5, 500, 7],
            "industry": ["retail", "retail", "tech"],
            "exited": [0, 1, 0],
        }
    )
    result = check_frame(frame, contract)
    assert result.bad.tolist() == [False, True, True]
    assert not any(v.kept for v in result.violations)


def test_enforce_edits_the_text_in_place_and_is_a_new_version():
    text = HAND_WRITTEN.replace("max = 100\n", "max = 100\nenforce = false  # under review\n")
    text = text.replace(
        'categories = ["retail"]\n', '# a comment stays\ncategories = ["retail"]\nenforce = false\n'
    )
    contract = contracts.from_toml(text)
    assert not contract.columns["employees"].enforce
    assert not contract.columns["industry"].enforce
    after = contracts.enforced(contract, None)
    assert after.columns["employees"].enforce and after.columns["industry"].enforce
    assert "# a comment stays" in after.text and after.version != contract.version
    assert after.text.count("enforce = true") == 2 and "enforce = false" not in after.text
    assert contracts.enforced(after, None).text == after.text


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (["nope"], "no column 'nope'"),
        (["corporation"], "column 'corporation' has no learned rule"),
    ],
)
def test_enforce_names_a_column_it_cannot_enforce(columns, message):
    with pytest.raises(ContractError, match=re.escape(message)):
        contracts.enforced(contracts.from_toml(HAND_WRITTEN), columns)


HEAD = "[contract]\ntarget = 'y'\n[columns.y]\nkind = 'label'\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("kind = 'numeric'\nenforce = 'yes'\n", "columns.x.enforce: expected true or false"),
        ("kind = 'numeric'\nsign = 'positive'\n", "columns.x.sign: expected one of non-negative"),
        ("kind = 'categorical'\nsign = 'non-negative'\n", "columns.x.sign: only numeric"),
        ("kind = 'numeric'\nsign = 'non-negative'\nmax = -1\n", "columns.x: sign 'non-negative'"),
        ("kind = 'numeric'\nsign = 3\n", "columns.x.sign: expected one of"),
        ("kind = 'id'\nenforce = true\n", "columns.x.enforce: only numeric, integer and"),
    ],
)
def test_a_wrong_new_key_names_itself(body: str, message: str):
    with pytest.raises(ContractError, match=re.escape(message)):
        contracts.from_toml(HEAD + "[columns.x]\n" + body, "contract.toml")


def test_an_inferred_contract_says_enforce_false_and_explains_it():
    contract = _infer(_frame(300, 0))
    text = contract.text
    assert text.count("\nenforce = false\n") == 3  # employees, activity, industry
    assert 'sign = "non-negative"' in text
    assert "riskwatch contract enforce" in text and "Structural rules quarantine" in text
    assert contracts.from_toml(text).columns == contract.columns


@pytest.mark.parametrize("unique", [True, False])
def test_unique_ids_come_from_the_setting_and_decide_duplicate_ids(unique: bool) -> None:
    """data.unique_ids = false: a client may come back with other values (kept), while an exact
    copy of a row is still a duplicate_row."""
    frame = pd.DataFrame({"id": ["a", "b", "a", "b"], "x": [1.0, 2.0, 3.0, 2.0], "y": [0, 1, 0, 1]})
    contract = contracts.infer(
        frame,
        target="y",
        id_columns=["id"],
        features=["x"],
        categorical=[],
        task="classification",
        unique_ids=unique,
    )
    assert contract.unique_ids is unique
    assert f"unique_ids = {str(unique).lower()}" in contract.text
    result = check_frame(frame, contract)
    assert result.errors_by_type.get("duplicate_row") == 1  # row 4 copies row 2
    assert result.errors_by_type.get("duplicate_id") == (1 if unique else None)  # row 3


def test_a_few_text_values_in_one_file_keep_a_numeric_column_numeric_and_checked() -> None:
    """One file with "12,5" among 200 files' worth of numbers: the column stays numeric (the
    stray rows are wrong_type at the gate), not a categorical that nothing checks."""
    from pipeline.ingest.contract_summary import merge, summarise

    numbers = pd.DataFrame({"x": np.arange(200.0), "y": [0, 1] * 100})
    stray = pd.DataFrame({"x": ["12,5", "7"], "y": [0, 1]})
    summary = merge([summarise(numbers, target="y"), summarise(stray, target="y")])
    assert summary.columns["x"].kind == "numeric"
    assert (summary.columns["x"].rows, summary.columns["x"].files) == (202, 2)
    contract = contracts.infer_summary(
        summary, target="y", id_columns=[], features=["x"], categorical=[], task="classification"
    )
    assert contract.columns["x"].kind in ("numeric", "integer")
    result = check_frame(stray, contract)
    assert result.errors_by_type.get("wrong_type") == 1  # "12,5"; "7" is a number
    mostly_text = pd.DataFrame({"x": [f"v{i}" for i in range(300)], "y": [0, 1] * 150})
    merged = merge([summarise(numbers, target="y"), summarise(mostly_text, target="y")])
    assert merged.columns["x"].kind == "text"


def test_a_model_taking_features_as_they_are_needs_every_one_in_every_file(
    tmp_path: Path,
) -> None:
    """model.preprocessing = "none": an optional feature is required at the gate, so a file
    without it is refused rather than reaching the estimator as a column of NaN."""
    from pipeline.ingest.contract_tools import features_required
    from pipeline.settings import load_settings

    frame = pd.DataFrame({"x": [1.0, 2.0], "z": [3.0, 4.0], "y": [0, 1]})
    contract = contracts.infer(
        frame,
        target="y",
        id_columns=[],
        features=["x", "z"],
        categorical=[],
        task="classification",
    )
    import dataclasses

    optional = dataclasses.replace(contract.columns["z"], required=False)
    contract = dataclasses.replace(contract, columns={**contract.columns, "z": optional})
    (tmp_path / "riskwatch.toml").write_text(
        '[data]\ntarget = "y"\nid_columns = []\nfeatures = ["x", "z"]\n\n'
        '[model]\npreprocessing = "none"\n\n[paths]\nmodels = "models"\n'
    )
    settings = load_settings(tmp_path / "riskwatch.toml", environ={})
    strict = features_required(contract, settings)
    assert strict.columns["z"].required and not strict.columns["z"].nullable
    verdict = check_frame(frame[["x", "y"]], strict)
    assert verdict.rejected is not None and verdict.rejected.error_type == "missing_column"


def test_a_header_of_another_delimiter_says_so_with_each_missing_column() -> None:
    from pipeline.ingest.checks import delimiter_hint

    said = delimiter_hint(["corporation;region;exited"])
    assert "looks delimited by semicolons" in said and "'corporation;region;exited'" in said
    assert delimiter_hint(["corporation\tregion"]).endswith("riskwatch reads CSV with commas")
    assert delimiter_hint(["corporation", "region;x"]) == ""  # two columns: read as CSV
    assert delimiter_hint(["corporation"]) == ""
    from pipeline.ingest.checks import check_header

    contract = _infer(_frame(200, 1))
    found = check_header(["corporation;employees;activity;industry;exited"], contract)
    missing = [v for v in found if v.error_type == "missing_column"]
    assert missing and all("looks delimited by semicolons" in v.message for v in missing)
