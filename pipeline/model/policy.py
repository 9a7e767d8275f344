"""The retrain and promote policies. Pure: numbers in, a decision with its evidence out."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

from pipeline.formatting import fmt_drift, fmt_metric, fmt_score_source
from pipeline.model.metrics import Score, higher_is_better

# 0.80 - 0.78 is 0.020000000000000018 in floating point: a drop exactly at the tolerance, or a
# loss exactly at the margin, must not count as beyond it.
_FLOAT_SLACK = 1e-9


@dataclass(frozen=True)
class Decision:
    outcome: bool
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


def retrain_decision(
    new: Score,
    baseline: float | None,
    *,
    tolerance: float,
    require_interval: bool,
    min_rows: int,
    confidence: float,
    baseline_ci: tuple[float, float] | None = None,
    baseline_source: str = "holdout",
) -> Decision:
    """Retrain when the production metric on new data fell below its recorded value.

    The recorded value is the production version's score where `baseline_source` says: on its
    holdout, on the test file (trained without a holdout) or cross-validated (cv:K).

    A drop counts only when it exceeds `tolerance` and, with `require_interval`, when it is clear
    of noise: the recorded value (measured on a holdout, so uncertain too) and the new score
    differ beyond the `confidence` interval of their difference, whose standard error combines
    both bootstrap intervals. Without the recorded value's interval, the recorded value must lie
    outside the new score's interval. Tolerance 0 and no interval check retrain on any drop.
    """
    metric = new.metric
    evidence: dict[str, Any] = {
        "metric": metric,
        "production_metric": baseline,
        "production_ci": list(baseline_ci) if baseline_ci else None,
        "production_score_source": baseline_source,
        "new_score": new.value,
        "ci_low": new.ci_low,
        "ci_high": new.ci_high,
        "confidence": confidence,
        "n_rows": new.n_rows,
        "tolerance": tolerance,
        "require_interval": require_interval,
        "min_rows": min_rows,
    }
    if new.n_rows < min_rows:
        return Decision(
            False,
            f"only {new.n_rows} new labelled rows, fewer than policy.min_rows={min_rows}: "
            "too few to judge the model",
            evidence,
        )
    if new.value is None:
        return Decision(False, f"{metric} is undefined on the new rows (one class only?)", evidence)
    if baseline is None:
        why = "the production model has no recorded metric to compare with"
        return Decision(False, why, evidence)
    up = higher_is_better(metric)
    drop = (baseline - new.value) if up else (new.value - baseline)
    evidence["drop"] = drop
    clear = _drop_is_clear(new, baseline, baseline_ci, drop, confidence, up, evidence)
    where = (
        f"{metric} {fmt_metric(new.value)} [{fmt_metric(new.ci_low)}, {fmt_metric(new.ci_high)}] "
        f"on {new.n_rows} "
        f"new rows vs production {fmt_metric(baseline)} ({fmt_score_source(baseline_source)})"
    )
    if drop <= tolerance + _FLOAT_SLACK:
        if drop <= _FLOAT_SLACK:
            return Decision(False, f"no drop: {where}", evidence)
        return Decision(False, f"drop {drop:.4f} within tolerance {tolerance:g}: {where}", evidence)
    if require_interval and new.ci_low is None:
        return Decision(
            False,
            f"drop {drop:.4f} beyond tolerance {tolerance:g}, but no {confidence:.0%} interval "
            f"could be computed on these rows to tell it from noise: {where}",
            evidence,
        )
    if require_interval and not clear:
        return Decision(
            False,
            f"drop {drop:.4f} beyond tolerance {tolerance:g} but within the noise of the "
            f"{confidence:.0%} interval: {where}",
            evidence,
        )
    why = f"drop {drop:.4f} beyond tolerance {tolerance:g}"
    if require_interval:
        why += f" and clear of the {confidence:.0%} interval"
    return Decision(True, f"model degraded, {why}: {where}", evidence)


def _drop_is_clear(
    new: Score,
    baseline: float,
    baseline_ci: tuple[float, float] | None,
    drop: float,
    confidence: float,
    up: bool,
    evidence: dict[str, Any],
) -> bool:
    """Is the drop beyond noise at `confidence`? Records the interval it used in `evidence`."""
    if new.ci_low is None or new.ci_high is None:
        evidence["drop_interval"] = None
        return False
    if baseline_ci is None:
        outside = new.ci_high < baseline if up else new.ci_low > baseline
        evidence["baseline_outside_interval"] = outside
        return outside
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    se_new = (new.ci_high - new.ci_low) / (2 * z)
    se_base = (baseline_ci[1] - baseline_ci[0]) / (2 * z)
    half = z * math.sqrt(se_new**2 + se_base**2)
    evidence["drop_interval"] = [drop - half, drop + half]
    return drop - half > 0


def promote_decision(
    champion: Score | None, challenger: Score, *, margin: float, min_rows: int = 1
) -> Decision:
    """Promote the challenger unless it is worse than the champion by more than `margin`.

    Both are scored on the same holdout. A holdout of fewer than `min_rows` rows still decides
    (there is nothing better to compare the two on: the champion cannot be cross-validated
    without refitting it), but the decision says the comparison is weak.
    """
    metric = challenger.metric
    weak = challenger.n_rows < min_rows
    evidence: dict[str, Any] = {
        "metric": metric,
        "compared": champion is not None,
        "champion": None if champion is None else champion.value,
        "challenger": challenger.value,
        "champion_ci": None if champion is None else [champion.ci_low, champion.ci_high],
        "challenger_ci": [challenger.ci_low, challenger.ci_high],
        "holdout_rows": challenger.n_rows,
        "min_rows": min_rows,
        "weak": weak,
        "margin": margin,
    }
    if champion is None:
        return Decision(True, "no production model yet: the first model is deployed", evidence)
    caveat = (
        f" (a weak comparison: {challenger.n_rows} holdout rows, fewer than "
        f"policy.min_rows={min_rows})"
        if weak
        else ""
    )
    if challenger.value is None:
        why = f"challenger's {metric} is undefined on the holdout{caveat}"
        return Decision(False, why, evidence)
    if champion.value is None:
        return Decision(True, f"champion's {metric} is undefined on the holdout{caveat}", evidence)
    up = higher_is_better(metric)
    gain = (challenger.value - champion.value) if up else (champion.value - challenger.value)
    evidence["gain"] = gain
    both = (
        f"challenger {fmt_metric(challenger.value)} vs champion {fmt_metric(champion.value)} "
        f"({metric}, same holdout of {challenger.n_rows} rows){caveat}"
    )
    if gain >= -margin - _FLOAT_SLACK:
        return Decision(True, f"challenger is not worse: {both}", evidence)
    why = f"challenger is worse by {-gain:.4f} (margin {margin:g}): {both}"
    return Decision(False, why, evidence)


def deploy_without_holdout(first: bool, recorded: Score, source: str) -> Decision:
    """split.holdout_fraction = 0: the retrained model is deployed, compared with nothing (as
    the original system did); its recorded score, from `source`, is what later ticks face."""
    evidence: dict[str, Any] = {
        "metric": recorded.metric,
        "compared": False,
        "holdout_rows": 0,
        "recorded_score": recorded.value,
        "recorded_ci": [recorded.ci_low, recorded.ci_high],
        "score_source": source,
    }
    if recorded.value is None and not first:
        # Deployed, it could never be held to anything again: the metric trigger would be dead.
        why = (
            "no holdout (split.holdout_fraction = 0) and no recorded "
            f"{recorded.metric} could be had for the retrained model (no usable test file, "
            "and cross-validation failed): the champion stays"
        )
        return Decision(False, why, evidence)
    what = "the first model is deployed" if first else "the retrained model is deployed"
    why = (
        f"no holdout (split.holdout_fraction = 0): {what} without comparison with the "
        f"champion; its {recorded.metric} {fmt_metric(recorded.value)} on "
        f"{recorded.n_rows} rows ({fmt_score_source(source)}) is the production metric from now on"
    )
    return Decision(True, why, evidence)


def estimated_decision(
    estimate: Score,
    reliable: bool,
    why_unreliable: str | None,
    baseline: float | None,
    *,
    tolerance: float,
    require_interval: bool,
    min_rows: int,
    confidence: float,
    baseline_ci: tuple[float, float] | None = None,
    baseline_source: str = "holdout",
) -> Decision:
    """Retrain on a clear drop of the metric estimated without labels: the rules of
    `retrain_decision` (tolerance, the interval of the difference, policy.min_rows) applied to
    the estimate and its interval. An unreliable estimate (or none) is no evidence of a drop."""
    if estimate.value is None:
        why = why_unreliable or f"{estimate.metric} could not be estimated on the new rows"
        return Decision(False, f"not estimated: {why}", {"estimated": None})
    if estimate.n_rows < min_rows:
        why = (
            f"estimated on {estimate.n_rows} new rows, fewer than policy.min_rows={min_rows}: "
            "too few to judge the model"
        )
        return Decision(False, why, {"estimated": estimate.value, "n_rows": estimate.n_rows})
    decision = retrain_decision(
        estimate,
        baseline,
        tolerance=tolerance,
        require_interval=require_interval,
        min_rows=min_rows,
        confidence=confidence,
        baseline_ci=baseline_ci,
        baseline_source=baseline_source,
    )
    evidence = {**decision.evidence, "estimated": True, "reliable": reliable}
    reason = "estimated " + decision.reason
    if not reliable:
        # A drop the estimate shows is not trusted either: the reasons say why.
        return Decision(
            False, f"{reason}; but the estimate is unreliable: {why_unreliable}", evidence
        )
    return Decision(decision.outcome, reason, evidence)


def with_trigger(
    trigger: str,
    metric: Decision,
    drift: dict[str, Any] | None,
    estimated: Decision | None = None,
) -> Decision:
    """Combine the metric decision with data drift, or the estimate, as `policy.trigger` says.

    metric: the metric decision alone; drift: confirmed data drift alone; either: one of them;
    both: the two together; estimated: a clear drop of the estimated metric (`estimated`, from
    `estimated_decision`; None when nothing was estimated, which counts as no). Without drift
    results (drift off, no profile), drift counts as no; a data set too small to test counts
    as no too, and the reason says it was not tested.
    """
    if trigger == "estimated":
        evidence = {
            **metric.evidence,
            "trigger": trigger,
            "data_drift": drift,
            "estimate": None if estimated is None else estimated.evidence,
        }
        if estimated is None:
            why = (
                "trigger estimated: the metric is not one estimated without labels (a "
                "classifier's accuracy, precision, recall, f1, roc_auc; a regressor's mae)"
            )
            return Decision(False, f"{why}; metric: {metric.reason}", evidence)
        why = f"trigger estimated: {estimated.reason}; metric: {metric.reason}"
        return Decision(estimated.outcome, why, evidence)
    drifted = bool(drift and drift.get("confirmed"))
    evidence = {**metric.evidence, "trigger": trigger, "data_drift": drift}
    if drift is None:
        drift_why = "drift was not computed"
    elif drift.get("status") == "not_tested":
        drift_why = f"data drift {fmt_drift(drift)} (counted as no drift)"
    elif drifted:
        drift_why = f"data drift: {fmt_drift(drift)}"
    else:
        drift_why = f"no confirmed data drift: {fmt_drift(drift)}"
    outcome = {
        "metric": metric.outcome,
        "drift": drifted,
        "either": metric.outcome or drifted,
        "both": metric.outcome and drifted,
    }[trigger]
    if trigger == "metric":
        return Decision(metric.outcome, metric.reason, evidence)
    return Decision(outcome, f"trigger {trigger}: {drift_why}; metric: {metric.reason}", evidence)
