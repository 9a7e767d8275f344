"""A run's verdict in one sentence, from its summary: the one source of that sentence.

`verdict(summary)` takes the object `riskwatch run --json` prints, which the database keeps in
`runs.summary` (written before the run's report). The PDF's first line is this sentence, and the
run page and the overview show the same one: `from pipeline.report import verdict`, then
`verdict.verdict(run_row["summary"])` (a run without a summary, `None`, has a sentence too).
Pure: no database, no settings, no clock; the wording of every outcome is tested.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pipeline.report.wording import column_label


def verdict(summary: Mapping[str, Any] | None, kind: str = "run") -> str:
    """One sentence: what the run found and what it did about the production model. `kind`
    is the run's (runs.kind: a tick is `run`; `predict`, `rollback` and the single steps of
    the CLI are runs of their own kind, whose summaries say less)."""
    s = summary or {}
    status = s.get("status")
    named = "Run" if kind == "run" else f"The {kind} run"
    if status == "failed":
        error = str(s.get("error") or "no error text recorded").strip().splitlines()[0]
        return _sentence(f"{named} failed: {_clip(error)}; the production model was not changed")
    if status == "running":
        return f"{named} still in progress."
    if not s:
        return "No summary recorded for this run."
    if status == "noop":
        return _sentence(_noop(s))
    if kind == "rollback":
        back = f"Rolled back from v{s.get('from_version')} to v{s.get('production_version')}"
        return _sentence(back)
    if kind == "predict":
        return _sentence(_predicted(s))
    if status == "skipped":
        return _sentence(f"{named} had nothing to do ({s.get('reason') or 'nothing new'})")
    clauses = [_outcome(s)]
    clauses += [c for c in (_quality(s), _drift(s)) if c]
    return _sentence("; ".join(clauses))


def _predicted(s: Mapping[str, Any]) -> str:
    """A `riskwatch predict` run: what it predicted, with which version."""
    version = s.get("model_version")
    if s.get("status") == "skipped":
        return f"Nothing to predict ({s.get('reason') or 'no new file'})"
    files, rows = s.get("files") or [], int(s.get("rows") or 0)
    text = f"{rows:,} rows of {len(files)} file{'' if len(files) == 1 else 's'} predicted"
    text += f" by model v{version}" if version is not None else ""
    failed = s.get("failed") or []
    if failed:
        text += f"; {len(failed)} file{'' if len(failed) == 1 else 's'} not predicted"
    return text


def _noop(s: Mapping[str, Any]) -> str:
    version = s.get("production_version")
    model = "no production model yet" if version is None else f"model v{version} stays"
    skipped = s.get("skipped") or []
    text = f"Nothing new to process: {model}"
    if skipped:
        text += f"; {len(skipped)} inbox entr{'y' if len(skipped) == 1 else 'ies'} skipped"
    return text


def _outcome(s: Mapping[str, Any]) -> str:
    """What became of the production model, with the score that decided it."""
    decision = s.get("decision") or {}
    promotion = s.get("promotion") or {}
    version = s.get("production_version")
    if decision.get("retrain") and promotion:
        new = promotion.get("challenger_version")
        if not promotion.get("compared") and promotion.get("champion") is None:
            source = promotion.get("score_source") or "holdout"
            recorded = _score_words(promotion.get("recorded_score"), source)
            return f"First model trained and deployed as v{new}{recorded}"
        why = _why(decision.get("reason"))
        head = f"Retrained ({why})" if why else "Retrained"
        vs = _versus(promotion, (s.get("score") or {}).get("metric"))
        if promotion.get("promoted"):
            return f"{head}: challenger v{new} promoted{vs}"
        return f"{head}: challenger v{new} not promoted{vs}, v{version} stays"
    if decision.get("retrain"):
        return f"Retraining was due but no challenger was recorded; v{version} stays"
    if s.get("new_files") and not s.get("rows_ingested"):
        after = f"v{version} stays" if version else "no model yet"
        return f"No usable rows: every new file was rejected; {after}"
    if version is None:
        return f"No model trained yet ({_why(decision.get('reason')) or 'no labelled rows'})"
    measured: Mapping[str, Any] = s.get("score") or {}
    if measured.get("value") is not None:
        return (
            f"Model v{version} kept: {measured.get('metric', 'score')} {measured['value']:.3f} "
            f"on {measured.get('n_rows', 0):,} new rows"
            + _against(measured.get("production_metric"), measured.get("production_metric_source"))
        )
    return f"Model v{version} kept ({_why(decision.get('reason')) or 'no new labelled rows'})"


def _quality(s: Mapping[str, Any]) -> str:
    files, rows = s.get("files_quarantined") or 0, s.get("rows_quarantined") or 0
    if files:
        return f"{files} file{'s' if files != 1 else ''} rejected by the quality gate"
    if rows:
        return f"{rows:,} bad row{'s' if rows != 1 else ''} quarantined"
    return ""


def _drift(s: Mapping[str, Any]) -> str:
    drift = s.get("drift") or {}
    if drift.get("dataset_drift"):
        return (
            f"data-set drift ({drift.get('features_drifted', 0)} of "
            f"{drift.get('features_tested', 0)} features)"
        )
    drifted = [column_label(k) for k, v in (drift.get("outputs") or {}).items() if v == "drifted"]
    return f"{' and '.join(drifted)} drifted" if drifted else ""


def _versus(promotion: Mapping[str, Any], metric: object) -> str:
    challenger, champion = promotion.get("challenger"), promotion.get("champion")
    if challenger is None or champion is None:
        return ""
    source = promotion.get("score_source") or "holdout"
    name = f"{metric} " if metric else ""
    return f" ({name}{challenger:.3f} vs champion {champion:.3f} on the same {source})"


def _against(value: object, source: object) -> str:
    if not isinstance(value, int | float):
        return ""
    return f" (recorded {value:.3f}" + (f" on its {source})" if source else ")")


def _score_words(value: object, source: str) -> str:
    return f" ({value:.3f} on its {source})" if isinstance(value, int | float) else ""


def _why(reason: object) -> str:
    """The decision's reason up to its first colon: 'model degraded, drop 0.2368 ...'."""
    text = str(reason or "").split(":")[0].strip()
    return _clip(text.split(", drop")[0])


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."
