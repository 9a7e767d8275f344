"""Retrain and promote policies: every branch, with the numbers in the reason and evidence."""

from __future__ import annotations

import math
import re
from statistics import NormalDist

import pytest

from pipeline.model.metrics import Score
from pipeline.model.policy import promote_decision, retrain_decision

DEFAULTS = {"tolerance": 0.02, "require_interval": True, "min_rows": 30, "confidence": 0.95}


def score(
    value: float | None, low: float | None = None, high: float | None = None, n: int = 500
) -> Score:
    return Score("f1", value, low, high, n)


# (id, metric, baseline, new value, ci, n rows, policy changes, retrain?, words in the reason)
RETRAIN_CASES = [
    ("no-drop", "f1", 0.80, 0.82, (0.78, 0.86), 500, {}, False, ["no drop", "0.8200", "0.8000"]),
    ("equal", "f1", 0.80, 0.80, (0.76, 0.84), 500, {}, False, ["no drop"]),
    (
        "within-tolerance",
        "f1",
        0.80,
        0.79,
        (0.75, 0.83),
        500,
        {},
        False,
        ["within tolerance 0.02", "0.7900", "0.8000"],
    ),
    (
        "beyond-tolerance-inside-interval",
        "f1",
        0.80,
        0.75,
        (0.69, 0.81),
        500,
        {},
        False,
        ["beyond tolerance 0.02", "95% interval", "[0.6900, 0.8100]", "500 new rows"],
    ),
    (
        "beyond-and-clear",
        "f1",
        0.80,
        0.70,
        (0.66, 0.74),
        500,
        {},
        True,
        ["degraded", "drop 0.1000", "clear of the 95% interval", "0.7000", "[0.6600, 0.7400]"],
    ),
    (
        "beyond-and-clear-90",
        "accuracy",
        0.90,
        0.80,
        (0.77, 0.83),
        300,
        {"confidence": 0.9},
        True,
        ["accuracy", "90% interval", "300 new rows"],
    ),
    (
        "interval-off-inside",
        "f1",
        0.80,
        0.75,
        (0.69, 0.81),
        500,
        {"require_interval": False},
        True,
        ["degraded", "drop 0.0500"],
    ),
    (
        "any-drop-tolerance-0-interval-off",
        "f1",
        0.80,
        0.799,
        (0.70, 0.90),
        500,
        {"tolerance": 0.0, "require_interval": False},
        True,
        ["degraded", "drop 0.0010", "tolerance 0"],
    ),
    (
        "tolerance-0-interval-off-no-drop",
        "f1",
        0.80,
        0.80,
        (0.70, 0.90),
        500,
        {"tolerance": 0.0, "require_interval": False},
        False,
        ["no drop"],
    ),
    (
        "too-few-rows",
        "f1",
        0.80,
        0.40,
        (0.30, 0.50),
        10,
        {},
        False,
        ["only 10 new labelled rows", "policy.min_rows=30"],
    ),
    (
        "min-rows-is-enough",
        "f1",
        0.80,
        0.40,
        (0.30, 0.50),
        30,
        {},
        True,
        ["degraded"],
    ),
    (
        "undefined-score",
        "roc_auc",
        0.80,
        None,
        (None, None),
        500,
        {},
        False,
        ["roc_auc", "undefined"],
    ),
    ("no-baseline", "f1", None, 0.50, (0.45, 0.55), 500, {}, False, ["no recorded metric"]),
    (
        "mae-rise-is-a-drop",
        "mae",
        0.50,
        0.60,
        (0.57, 0.63),
        500,
        {},
        True,
        ["degraded", "drop 0.1000", "mae 0.6000", "production 0.5000"],
    ),
    ("mae-fall-is-no-drop", "mae", 0.50, 0.40, (0.37, 0.43), 500, {}, False, ["no drop"]),
    (
        "mae-rise-within-tolerance",
        "mae",
        0.50,
        0.51,
        (0.48, 0.54),
        500,
        {},
        False,
        ["within tolerance"],
    ),
    (
        "mae-rise-inside-interval",
        "mae",
        0.50,
        0.55,
        (0.49, 0.61),
        500,
        {},
        False,
        ["beyond tolerance 0.02", "95% interval", "[0.4900, 0.6100]"],
    ),
    ("rmse-rise-clear", "rmse", 1.0, 1.3, (1.2, 1.4), 500, {}, True, ["degraded", "drop 0.3000"]),
    ("r2-fall-clear", "r2", 0.60, 0.40, (0.35, 0.45), 500, {}, True, ["degraded", "drop 0.2000"]),
    ("r2-rise", "r2", 0.60, 0.70, (0.65, 0.75), 500, {}, False, ["no drop"]),
]


@pytest.mark.parametrize(
    ("metric", "baseline", "value", "ci", "n", "changes", "retrain", "words"),
    [pytest.param(*case[1:], id=case[0]) for case in RETRAIN_CASES],
)
def test_retrain_decision(
    metric: str,
    baseline: float | None,
    value: float | None,
    ci: tuple[float | None, float | None],
    n: int,
    changes: dict,
    retrain: bool,
    words: list[str],
) -> None:
    policy = {**DEFAULTS, **changes}
    new = Score(metric, value, ci[0], ci[1], n)
    decision = retrain_decision(new, baseline, **policy)
    assert decision.outcome is retrain, decision.reason
    for word in words:
        assert word in decision.reason
    ev = decision.evidence
    assert ev["metric"] == metric
    assert ev["production_metric"] == baseline
    assert ev["new_score"] == value
    assert (ev["ci_low"], ev["ci_high"]) == ci
    assert ev["n_rows"] == n
    assert ev["tolerance"] == policy["tolerance"]
    assert ev["require_interval"] is policy["require_interval"]
    assert ev["min_rows"] == policy["min_rows"]
    assert ev["confidence"] == policy["confidence"]
    if n >= policy["min_rows"] and value is not None and baseline is not None:
        lower_better = metric in ("mae", "rmse")
        expected_drop = (value - baseline) if lower_better else (baseline - value)
        assert ev["drop"] == pytest.approx(expected_drop)


@pytest.mark.parametrize(
    ("metric", "baseline", "value", "tolerance"),
    [
        pytest.param("f1", 0.80, 0.78, 0.02, id="f1"),
        pytest.param("accuracy", 0.75, 0.70, 0.05, id="accuracy"),
        pytest.param("mae", 0.50, 0.52, 0.02, id="mae"),
    ],
)
def test_drop_equal_to_tolerance_does_not_count(
    metric: str, baseline: float, value: float, tolerance: float
) -> None:
    # "A drop counts only when it exceeds tolerance"; 0.80 - 0.78 is 0.020000000000000018 in
    # floating point, which must not turn a drop of exactly the tolerance into a retrain.
    new = Score(metric, value, value - 0.001, value + 0.001, 500)
    policy = {**DEFAULTS, "tolerance": tolerance}
    decision = retrain_decision(new, baseline, **policy)
    assert decision.outcome is False, decision.reason
    assert "within tolerance" in decision.reason


@pytest.mark.parametrize("production_ci", [None, (0.76, 0.84)])
def test_retrain_without_an_interval_does_not_call_the_drop_noise(
    production_ci: tuple[float, float] | None,
) -> None:
    # The bootstrap can give no interval (too few valid resamples, one row). No retrain is
    # taken, but the reason must say the interval is missing, not that the drop is noise
    # "within" or "inside" an interval that does not exist.
    new = Score("roc_auc", 0.60, None, None, 40)
    decision = retrain_decision(new, 0.80, baseline_ci=production_ci, **DEFAULTS)
    assert decision.outcome is False
    assert decision.evidence["drop_interval"] is None
    assert "within the noise" not in decision.reason
    assert "inside" not in decision.reason
    assert re.search(r"\bno\b.*interval", decision.reason), decision.reason


# (id, production, its interval, new, its interval, retrain?)
DIFFERENCE_CASES = [
    # Both intervals narrow: the drop of 0.10 is far beyond the noise of the difference.
    ("clear", 0.80, (0.76, 0.84), 0.70, (0.66, 0.74), True),
    # Production outside the new interval, but production's own interval is wide: the
    # difference's interval holds zero, so the old "outside the new interval" rule is not enough.
    ("noisy-production", 0.80, (0.72, 0.88), 0.74, (0.70, 0.78), False),
    ("both-wide", 0.80, (0.60, 1.00), 0.70, (0.50, 0.90), False),
]


@pytest.mark.parametrize(
    ("baseline", "baseline_ci", "value", "ci", "retrain"),
    [pytest.param(*case[1:], id=case[0]) for case in DIFFERENCE_CASES],
)
def test_retrain_with_production_interval_uses_the_difference(
    baseline: float,
    baseline_ci: tuple[float, float],
    value: float,
    ci: tuple[float, float],
    retrain: bool,
) -> None:
    new = Score("f1", value, ci[0], ci[1], 500)
    decision = retrain_decision(new, baseline, baseline_ci=baseline_ci, **DEFAULTS)
    assert decision.outcome is retrain, decision.reason
    z = NormalDist().inv_cdf(0.975)
    half = z * math.hypot((ci[1] - ci[0]) / (2 * z), (baseline_ci[1] - baseline_ci[0]) / (2 * z))
    drop = baseline - value
    assert decision.evidence["production_ci"] == list(baseline_ci)
    assert decision.evidence["drop_interval"] == pytest.approx([drop - half, drop + half])
    assert f"{drop:.4f}" in decision.reason


def test_interval_off_ignores_the_production_interval() -> None:
    new = Score("f1", 0.74, 0.70, 0.78, 500)
    policy = {**DEFAULTS, "require_interval": False}
    decision = retrain_decision(new, 0.80, baseline_ci=(0.72, 0.88), **policy)
    assert decision.outcome is True, decision.reason


# --- promote --------------------------------------------------------------------------------

NO_CHAMPION = "no champion"  # no production model at all, not a champion with no score

# (id, metric, champion, challenger, margin, promote?, words in the reason, gain)
PROMOTE_CASES = [
    ("no-champion", "f1", NO_CHAMPION, 0.70, 0.0, True, ["no production model yet"], None),
    ("better", "f1", 0.70, 0.75, 0.0, True, ["not worse", "0.7500", "0.7000"], 0.05),
    ("equal", "f1", 0.70, 0.70, 0.0, True, ["not worse"], 0.0),
    ("worse-within-margin", "f1", 0.70, 0.69, 0.02, True, ["not worse"], -0.01),
    (
        "worse-beyond-margin",
        "f1",
        0.70,
        0.65,
        0.02,
        False,
        ["worse by 0.0500", "margin 0.02", "0.6500", "0.7000", "200 rows"],
        -0.05,
    ),
    ("worse-margin-0", "f1", 0.70, 0.6999, 0.0, False, ["worse by 0.0001"], -0.0001),
    ("challenger-undefined", "roc_auc", 0.70, None, 0.0, False, ["challenger", "undefined"], None),
    ("champion-undefined", "roc_auc", None, 0.70, 0.0, True, ["champion", "undefined"], None),
    ("mae-lower-is-better", "mae", 0.50, 0.40, 0.0, True, ["not worse"], 0.10),
    ("mae-higher-is-worse", "mae", 0.50, 0.60, 0.05, False, ["worse by 0.1000"], -0.10),
    ("mae-worse-within-margin", "mae", 0.50, 0.53, 0.05, True, ["not worse"], -0.03),
    ("rmse-worse", "rmse", 1.0, 1.2, 0.0, False, ["worse by 0.2000"], -0.2),
]


@pytest.mark.parametrize(
    ("metric", "champion", "challenger", "margin", "promote", "words", "gain"),
    [pytest.param(*case[1:], id=case[0]) for case in PROMOTE_CASES],
)
def test_promote_decision(
    metric: str,
    champion: float | str | None,
    challenger: float | None,
    margin: float,
    promote: bool,
    words: list[str],
    gain: float | None,
) -> None:
    no_champion = champion == NO_CHAMPION
    champ = None if no_champion else Score(metric, champion, None, None, 200)
    chall = Score(metric, challenger, None if challenger is None else challenger - 0.03, None, 200)
    decision = promote_decision(champ, chall, margin=margin)
    assert decision.outcome is promote, decision.reason
    for word in words:
        assert word in decision.reason
    ev = decision.evidence
    assert ev["metric"] == metric
    assert ev["champion"] == (None if no_champion else champion)
    assert ev["challenger"] == challenger
    assert ev["holdout_rows"] == 200
    assert ev["margin"] == margin
    if gain is None:
        assert "gain" not in ev
    else:
        assert ev["gain"] == pytest.approx(gain)


@pytest.mark.parametrize(
    ("metric", "champion", "challenger", "margin"),
    [
        pytest.param("f1", 0.80, 0.79, 0.01, id="f1"),
        pytest.param("mae", 0.50, 0.52, 0.02, id="mae"),
    ],
)
def test_worse_by_exactly_the_margin_is_promoted(
    metric: str, champion: float, challenger: float, margin: float
) -> None:
    # "promoted when it is at most this much worse"; float noise must not make 0.01 > 0.01.
    decision = promote_decision(
        Score(metric, champion, None, None, 200),
        Score(metric, challenger, None, None, 200),
        margin=margin,
    )
    assert decision.outcome is True, decision.reason
