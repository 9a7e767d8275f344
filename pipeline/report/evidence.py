"""A run's decisions and their evidence in words, for the web app's run, runs and model pages.

Pure: the rows a run recorded in, text out. (The run's verdict in one sentence is `verdict`'s,
the PDF's first line, so the page and the PDF say the same.) Evidence is the JSON a policy
recorded (pipeline.model.policy): each known key gets its name in words, intervals read "a to
b", nested objects (the drift summary, the estimate) are said, never dumped as dicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.formatting import (
    fmt_drift,
    fmt_num,
    fmt_part,
    fmt_score_source,
    fmt_share,
    fmt_version,
)

# Evidence keys as people read them; any other key is its own name in words.
LABELS = {
    "metric": "Metric",
    "production_metric": "Production model's recorded score",
    "production_ci": "Interval of the recorded score",
    "production_score_source": "Recorded score measured on",
    "new_score": "Score on the new labelled rows",
    "new_ci": "Interval of the score on the new rows",
    "confidence": "Confidence level",
    "n_rows": "Rows scored",
    "tolerance": "Drop tolerated (policy.tolerance)",
    "require_interval": "The drop must be clear of noise (policy.require_interval)",
    "min_rows": "Fewest rows to decide on (policy.min_rows)",
    "drop": "Drop from the recorded score",
    "drop_interval": "Interval of the drop",
    "baseline_outside_interval": "Recorded score outside the new score's interval",
    "compared": "Champion and challenger scored on the same holdout",
    "champion": "Champion's score on the holdout",
    "challenger": "Challenger's score on the holdout",
    "champion_ci": "Interval of the champion's score",
    "challenger_ci": "Interval of the challenger's score",
    "holdout_rows": "Holdout rows",
    "weak": "Holdout too small to be sure",
    "margin": "Margin the challenger must beat (policy.promote_margin)",
    "gain": "Challenger's gain over the champion",
    "challenger_version": "Challenger",
    "champion_version": "Champion",
    "training_window": "Training window",
    "training_files": "Training files",
    "training_rows": "Training rows",
    "recorded_score": "Score recorded for the version",
    "recorded_ci": "Interval of the recorded score",
    "score_source": "Score measured on",
    "score_rows": "Rows the score was measured on",
    "trigger": "What triggers a retrain (policy.trigger)",
    "data_drift": "Data drift",
    "estimate": "Estimate without labels",
    "estimated": "Estimated score",
    "reliable": "Estimate reliable",
}
_VERSIONS = {"challenger_version", "champion_version"}
_SHARES = {"confidence"}


def evidence_items(evidence: Mapping[str, Any] | None, prefix: str = "") -> list[tuple[str, str]]:
    """(label, text) pairs for a decision's evidence, in its order; nested objects said inline
    (the drift summary) or as their own labelled pairs (the estimate)."""
    if not evidence:
        return []
    items: list[tuple[str, str]] = []
    pairs = dict(evidence)
    if "ci_low" in pairs or "ci_high" in pairs:  # the new score's interval, as one pair
        low, high = pairs.pop("ci_low", None), pairs.pop("ci_high", None)
        pairs = _after(pairs, "new_score", "new_ci", [low, high])
    for key, value in pairs.items():
        name = LABELS.get(key) or key.replace("_", " ").capitalize()
        name = f"{prefix}{name[0].lower()}{name[1:]}" if prefix else name
        if isinstance(value, Mapping) and value and "status" not in value:
            items.extend(evidence_items(value, f"{name}: "))
        else:
            items.append((name, say(key, value)))
    return items


def _after(pairs: dict[str, Any], anchor: str, key: str, value: object) -> dict[str, Any]:
    """`pairs` with `key` placed right after `anchor` (at the end without one)."""
    out: dict[str, Any] = {}
    for k, v in pairs.items():
        out[k] = v
        if k == anchor:
            out[key] = value
    out.setdefault(key, value)
    return out


def say(key: str, value: object) -> str:
    """One evidence value in words."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key in _VERSIONS and isinstance(value, int):
        return fmt_version(value)
    if key in _SHARES and isinstance(value, float):
        return fmt_share(value)
    if key.endswith("score_source") and isinstance(value, str):
        return fmt_score_source(value)
    if isinstance(value, Mapping):
        if "status" in value:
            return fmt_drift(value)
        return "none" if not value else "; ".join(f"{k}: {say(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return _say_list(value)
    if isinstance(value, float):
        return fmt_num(value, 4)
    return fmt_num(value)


def _say_list(values: Sequence[Any]) -> str:
    if not values:
        return "none"
    if len(values) == 2 and all(isinstance(v, int | float) or v is None for v in values):
        if any(v is None for v in values):
            return "none"
        return f"{fmt_num(values[0], 4)} to {fmt_num(values[1], 4)}"
    return ", ".join(say("", v) for v in values)


DECISION_WORDS = {
    ("retrain", True): "retrain the model",
    ("retrain", False): "keep the production model",
    ("promote", True): "promote the challenger",
    ("promote", False): "keep the champion",
}


def decision_words(kind: str, outcome: bool) -> str:
    """What a decision decided, in words."""
    return DECISION_WORDS.get((kind, outcome), "yes" if outcome else "no")


def decision_summary(decisions: Sequence[Mapping[str, Any]]) -> str | None:
    """A run's decisions in a few words ('retrained, promoted'); None when it made none."""
    by_kind = {d["kind"]: bool(d["outcome"]) for d in decisions}
    if not by_kind:
        return None
    if by_kind.get("retrain") is False:
        return "kept (no retrain)"
    if "promote" in by_kind:
        return "retrained, promoted" if by_kind["promote"] else "retrained, champion kept"
    return "; ".join(decision_words(k, v) for k, v in by_kind.items())


def quality_words(files: Sequence[Mapping[str, Any]]) -> str | None:
    """A run's checked files in a few words: invalid rows of those read, files rejected."""
    if not files:
        return None
    read = sum(f["rows_read"] for f in files)
    invalid = sum(f["rows_invalid"] for f in files)
    rejected = sum(1 for f in files if f["rejected"])
    text = f"{fmt_num(invalid)} of {fmt_num(read)} rows invalid ({fmt_part(invalid, read)})"
    if rejected:
        text += f", {rejected} file{'s' if rejected > 1 else ''} rejected"
    return text
