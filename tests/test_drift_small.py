"""Drift on small data (issue 9, point 4): a data set too small to test says "not tested", why,
and how many rows it needs; and the counts and the share are over the same columns everywhere.
Pure: no files, no database."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.drift import DriftThresholds, ReferenceProfile, detect
from pipeline.formatting import fmt_drift
from pipeline.model.policy import Decision, with_trigger

FEATURES = {"a": 1.0, "b": 1.0, "c": 1.0}


def frame(n: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "a": rng.normal(shift, 1.0, n),
        "b": rng.normal(0.0, 1.0, n),
        "c": rng.normal(0.0, 1.0, n),
        "__prediction__": rng.normal(shift, 1.0, n),
        "__target__": rng.integers(0, 2, n),
    }


KINDS = {"__target__": "categorical"}


def run_like(n_ref: int, n_new: int, shift: float = 0.0, min_rows: int = 50):
    profile = ReferenceProfile().fit(frame(n_ref, 1), kinds=KINDS)
    th = DriftThresholds(min_rows=min_rows)
    return detect(profile, frame(n_new, 2, shift), th, weights=FEATURES)


@pytest.mark.parametrize(
    ("n_ref", "n_new", "reason"),
    [
        (21, 500, "the reference has 21 rows, drift.min_rows is 50"),
        (500, 12, "the new data has 12 rows, drift.min_rows is 50"),
        (21, 12, "the reference has 21 rows and the new data 12, drift.min_rows is 50"),
    ],
)
def test_too_few_rows_is_not_tested_with_the_rows_needed(n_ref, n_new, reason):
    result = run_like(n_ref, n_new)
    assert result.dataset_drift is None and result.status == "not_tested"
    assert result.reason == reason
    summary = result.summary()
    assert summary["status"] == "not_tested" and summary["dataset_drift"] is None
    assert summary["drifted_share"] is None and summary["min_rows"] == 50
    assert fmt_drift(summary) == f"not tested: {reason}"
    body = json.loads(result.to_json())
    assert body["dataset_drift"] is None and body["status"] == "not_tested"
    assert body["reason"] == reason
    assert "0 of 0" not in fmt_drift(summary) and "no drift" not in fmt_drift(summary)


def test_enough_rows_is_tested_and_says_no_drift():
    result = run_like(500, 500)
    assert result.dataset_drift is False and result.status == "not_drifted"
    assert result.reason is None
    assert fmt_drift(result.summary()).startswith("no drift: 0 of 3 tested features drifted")


def test_untestable_features_are_named_when_the_rows_suffice():
    profile = ReferenceProfile().fit({"k": np.full(200, 1.0), "m": np.full(200, np.nan)})
    result = detect(profile, {"k": np.full(200, 1.0), "m": np.full(200, np.nan)})
    assert result.status == "not_tested"
    assert result.reason == "no feature could be tested: k is constant; m has no value (both side)"


def test_one_testable_feature_is_enough_to_test_the_data_set():
    profile = ReferenceProfile().fit({"k": np.full(200, 1.0), "x": np.arange(200.0)})
    result = detect(profile, {"k": np.full(200, 1.0), "x": np.arange(200.0)})
    assert result.status == "not_drifted" and result.n_tested == 1
    assert result.excluded == {"k": "constant"}


def test_counts_and_share_are_over_the_features_only():
    # The prediction drifts with feature a; the label does not. Old printers said "2 of 5
    # tested columns" beside "share 0.33" (over the 3 features): one count, one share, now.
    result = run_like(2_000, 2_000, shift=1.0)
    assert result.n_tested == 3 and result.n_drifted == 1
    assert result.drifted_share == pytest.approx(result.n_drifted / result.n_tested)
    assert result.drifted_features == ["a"]
    assert result.outputs == {"__prediction__": "drifted", "__target__": "not_drifted"}
    text = fmt_drift(result.summary())
    assert text == (
        "no drift: 1 of 3 tested features drifted (share 0.33): a; "
        "model prediction drifted, label not drifted"
    )


def test_importance_weights_say_the_share_is_weighted():
    summary = {**run_like(2_000, 2_000, shift=1.0).summary(), "weights": "importance"}
    assert "(importance-weighted share 0.33)" in fmt_drift(summary)


@pytest.mark.parametrize("trigger", ["drift", "either"])
def test_the_drift_trigger_treats_not_tested_as_not_drifted_and_says_so(trigger):
    summary = {**run_like(21, 500).summary(), "confirmed": False}
    decision = with_trigger(trigger, Decision(False, "metric holds"), summary)
    assert decision.outcome is False
    assert "not tested: the reference has 21 rows, drift.min_rows is 50" in decision.reason
    assert "counted as no drift" in decision.reason


def test_a_summary_stored_before_the_status_reads_from_its_boolean():
    from pipeline.storage.reads import drift_of

    old = {
        "dataset_drift": False,
        "drifted_share": 0.0,
        "reference_rows": 21,
        "current_rows": 500,
        "thresholds": {"alpha": 0.05},
    }
    doc = drift_of(old)
    assert doc["status"] == "not_drifted" and doc["dataset_drift"] is False
    assert doc["features_tested"] is None
    assert fmt_drift(doc) == "no drift (share 0.00)"
    new = {**old, "thresholds": {"dataset": run_like(21, 500).summary()}}
    assert drift_of(new)["dataset_drift"] is None  # the tri-state comes back from the JSON
    assert drift_of(new)["drifted_share"] is None
