"""The run's one-line verdict (pipeline.report.verdict), from literal run summaries."""

from __future__ import annotations

import pytest

from pipeline.report.verdict import verdict

FIRST = {
    "status": "succeeded",
    "new_files": 1,
    "rows_ingested": 500,
    "files_quarantined": 0,
    "rows_quarantined": 0,
    "score": None,
    "decision": {"retrain": True, "reason": "no production model yet: training the first one"},
    "promotion": {
        "promoted": True,
        "challenger_version": 1,
        "challenger": 0.4516,
        "champion": None,
        "compared": False,
        "recorded_score": 0.4516,
        "score_source": "holdout",
    },
    "production_version": 1,
}
SCORE = {
    "metric": "f1",
    "value": 0.6147,
    "ci_low": 0.5486,
    "ci_high": 0.677,
    "n_rows": 500,
    "model_version": 1,
    "production_metric": 0.4516,
    "production_metric_source": "holdout",
}
KEPT = {
    **FIRST,
    "score": SCORE,
    "decision": {"retrain": False, "reason": "no drop: f1 0.6147 [0.5486, 0.6770] ..."},
    "promotion": None,
    "drift": {
        "status": "not_drifted",
        "dataset_drift": False,
        "features_tested": 7,
        "features_drifted": 0,
        "outputs": {"__prediction__": "not_drifted", "__target__": "not_drifted"},
        "excluded": {},
    },
}
DEGRADED = {
    "retrain": True,
    "reason": "model degraded, drop 0.2368 beyond tolerance 0.02 and clear of the 95% "
    "interval: f1 0.2148 [0.1520, 0.2745] on 500 new rows vs production 0.4516 (holdout)",
}
PROMOTED = {
    **KEPT,
    "score": {**SCORE, "value": 0.2148},
    "decision": DEGRADED,
    "promotion": {
        "promoted": True,
        "challenger_version": 2,
        "challenger": 0.4885,
        "champion": 0.1965,
        "compared": True,
        "score_source": "holdout",
    },
    "production_version": 2,
}
NOT_PROMOTED = {
    **PROMOTED,
    "promotion": {**PROMOTED["promotion"], "promoted": False, "challenger": 0.15},
    "production_version": 1,
}
DRIFTED = {
    **KEPT,
    "drift": {
        **KEPT["drift"],
        "status": "drifted",
        "dataset_drift": True,
        "features_drifted": 5,
        "outputs": {"__prediction__": "drifted", "__target__": "not_drifted"},
    },
}
OUTPUT_DRIFT = {
    **KEPT,
    "drift": {**KEPT["drift"], "outputs": {"__prediction__": "drifted", "__target__": "drifted"}},
}
ALL_REJECTED = {
    "status": "succeeded",
    "new_files": 2,
    "rows_ingested": 0,
    "files_quarantined": 2,
    "rows_quarantined": 400,
    "score": None,
    "decision": {"retrain": False, "reason": "no usable rows yet: every new file was quarantined"},
    "promotion": None,
    "production_version": 1,
}
SOME_BAD_ROWS = {**KEPT, "rows_quarantined": 12}
NOOP = {
    "status": "noop",
    "skipped": [],
    "new_files": 0,
    "decision": {"retrain": False, "reason": "nothing new to process"},
    "production_version": 2,
}
NOOP_SKIPPED = {**NOOP, "skipped": [{"name": "link.csv", "kind": "symlink", "reason": "..."}]}
FAILED = {
    "status": "failed",
    "error": "DatabaseUnavailable: could not connect to the database\ntraceback ...",
    "new_files": 1,
}
UNLABELLED_FIRST = {
    **ALL_REJECTED,
    "rows_ingested": 300,
    "files_quarantined": 0,
    "rows_quarantined": 0,
    "decision": {"retrain": False, "reason": "no production model yet, and none of the 300 ..."},
    "production_version": None,
}


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        (FIRST, "First model trained and deployed as v1 (0.452 on its holdout)."),
        (NOOP, "Nothing new to process: model v2 stays."),
        (NOOP_SKIPPED, "Nothing new to process: model v2 stays; 1 inbox entry skipped."),
        (KEPT, "Model v1 kept: f1 0.615 on 500 new rows (recorded 0.452 on its holdout)."),
        (
            PROMOTED,
            "Retrained (model degraded): challenger v2 promoted (f1 0.488 vs champion 0.197 on "
            "the same holdout).",
        ),
        (
            NOT_PROMOTED,
            "Retrained (model degraded): challenger v2 not promoted (f1 0.150 vs champion 0.197 "
            "on the same holdout), v1 stays.",
        ),
        (
            FAILED,
            "Run failed: DatabaseUnavailable: could not connect to the database; the production "
            "model was not changed.",
        ),
        (
            DRIFTED,
            "Model v1 kept: f1 0.615 on 500 new rows (recorded 0.452 on its holdout); data-set "
            "drift (5 of 7 features).",
        ),
        (
            OUTPUT_DRIFT,
            "Model v1 kept: f1 0.615 on 500 new rows (recorded 0.452 on its holdout); model "
            "prediction and label drifted.",
        ),
        (
            ALL_REJECTED,
            "No usable rows: every new file was rejected; v1 stays; 2 files rejected by the "
            "quality gate.",
        ),
        (
            SOME_BAD_ROWS,
            "Model v1 kept: f1 0.615 on 500 new rows (recorded 0.452 on its holdout); 12 bad "
            "rows quarantined.",
        ),
        (
            UNLABELLED_FIRST,
            "No model trained yet (no production model yet, and none of the 300 ...).",
        ),
        ({"status": "running"}, "Run still in progress."),
        (None, "No summary recorded for this run."),
        ({}, "No summary recorded for this run."),
    ],
)
def test_every_outcome_has_one_sentence(summary, expected) -> None:
    assert verdict(summary) == expected


@pytest.mark.parametrize(
    "summary", [FIRST, NOOP, KEPT, PROMOTED, NOT_PROMOTED, FAILED, DRIFTED, ALL_REJECTED]
)
def test_a_verdict_is_one_line_in_words(summary) -> None:
    text = verdict(summary)
    assert "\n" not in text and text.endswith(".") and text[0].isupper()
    assert "__" not in text and "{" not in text and "None" not in text


def test_bad_input_gives_a_sentence_not_an_error() -> None:
    assert verdict({"status": "succeeded", "decision": None, "promotion": None}) == (
        "No model trained yet (no labelled rows)."
    )
    long_error = {"status": "failed", "error": "x" * 1000}
    assert len(verdict(long_error)) < 250
    assert verdict({"status": "failed", "error": None}).startswith("Run failed: no error text")
