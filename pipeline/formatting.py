"""How numbers, shares, scores, times and durations read, wherever a person sees them.

The CLI, the PDF, the per-file HTML page and the policy's reasons format their numbers, shares,
scores, times and durations through here (a plain count is Python's own `f"{n:,}"`), and a
run's data-set drift through `fmt_drift`, so the same value reads the same everywhere. Stored
text that may name a server path (a run's error, a step's detail) is shown through
`shown_paths`, the one rule the API's answers, the PDF and the quality pages apply (issue 11).
Standard library only: the no-op tick may import it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import PurePath, PurePosixPath
from typing import Any

MISSING = "n/a"
# The drift step's names for the model's output columns (pipeline.drift.step PREDICTION,
# TARGET; a test holds them equal), as a person reads them.
OUTPUT_COLUMNS = {"__prediction__": "model prediction", "__target__": "label"}
# An absolute path inside stored text: a "/" that follows no word, path or URL character, then
# at least one folder ("/srv/app/reports/x.pdf"; not "1/2", "and/or", "https://host/path").
ABSOLUTE_PATH = re.compile(r"(?<![\w.:/#~{}-])/(?:[\w.@+-]+/)+[\w.@+-]*")


def fmt_num(value: object, decimals: int = 3) -> str:
    """Format a number for a table: n/a for NULL or NaN, thousands grouped."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value != 0 and (abs(value) < 10**-decimals or abs(value) >= 1e9):
            return f"{value:.{decimals}g}"
        return f"{value:,.{decimals}f}"
    return str(value)


def fmt_metric(value: float | None) -> str:
    """A metric or threshold in a sentence: four decimals, n/a when there is none; from
    10**15 on (a regressor's error on a hostile label), five significant digits."""
    if value is None:
        return MISSING
    return f"{value:.5g}" if abs(value) >= 1e15 else f"{value:.4f}"


def fmt_version(version: int | None) -> str:
    """A model version: 'v3', or 'none' before any model (never 'vNone')."""
    return "none" if version is None else f"v{version}"


def fmt_score(value: float | None, low: float | None, high: float | None) -> str:
    """Format a score with its interval: '0.812 [0.790, 0.833]'."""
    text = fmt_num(value)
    if value is not None and low is not None and high is not None:
        text += f" [{fmt_num(low)}, {fmt_num(high)}]"
    return text


def fmt_score_source(source: str | None, rows: int | None = None) -> str:
    """Where a recorded metric comes from: 'holdout of 40 rows', 'test file', '5-fold CV'."""
    source = source or "holdout"  # versions registered before sources were recorded
    if source.startswith("cv:"):
        shown = f"{source[3:]}-fold CV"
    else:
        shown = {"test": "test file", "none": "no score"}.get(source, source)
    return shown if rows is None or source == "none" else f"{shown} of {rows:,} rows"


def fmt_time(value: datetime | None) -> str:
    """A moment in UTC, to the second."""
    if value is None:
        return MISSING
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(seconds: float | None) -> str:
    """A duration a person reads at a glance: '4.2 s', '3 min 05 s', '1 h 02 min'."""
    if seconds is None or seconds < 0:
        return MISSING
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def fmt_share(share: float | None) -> str:
    """A share as a percentage; a few rows of many never read as 0.0% or 100.0%."""
    if share is None or math.isnan(share):
        return MISSING
    percent = share * 100
    if 0 < percent < 0.1:
        return "<0.1%"
    if 99.9 < percent < 100:
        return ">99.9%"
    return f"{percent:.1f}%"


def fmt_part(part: int, whole: int) -> str:
    """The share `part` is of `whole`, as `fmt_share` writes it; n/a of nothing."""
    return fmt_share(part / whole) if whole else MISSING


def fmt_value(value: object, decimals: int = 4) -> str:
    """Format any JSON value of the evidence or diagnostics."""
    if isinstance(value, list):
        if all(v is None or isinstance(v, int | float) for v in value):
            return "[" + ", ".join(fmt_num(v, decimals) for v in value) + "]"
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return fmt_num(value, decimals)


def fmt_drift(summary: Mapping[str, Any]) -> str:
    """A run's data-set drift in one line, the same wherever it is printed.

    `summary` is `DriftResult.summary()` (or what the database gives back of it): the counts and
    the share are over the tested features only; other columns (the prediction, the label) are
    named apart; a data set that could not be tested says so, and why.
    """
    if summary.get("status") == "not_tested":
        return f"not tested: {summary.get('reason') or 'no feature could be tested'}"
    verdict = "drifted" if summary.get("dataset_drift") else "no drift"
    share = summary.get("drifted_share")
    words = f"share {MISSING if share is None else f'{share:.2f}'}"
    if summary.get("weights") == "importance":
        words = "importance-weighted " + words
    tested, drifted = summary.get("features_tested"), summary.get("features_drifted")
    text = verdict if tested is None else f"{verdict}: {drifted} of {tested} tested features"
    text += f" drifted ({words})" if tested is not None else f" ({words})"
    if summary.get("drifted_features"):
        text += ": " + ", ".join(summary["drifted_features"])
    outputs = summary.get("outputs") or {}
    if outputs:
        text += "; " + ", ".join(
            f"{fmt_column(k)} {v.replace('_', ' ')}" for k, v in outputs.items()
        )
    return text


def fmt_column(name: str) -> str:
    """A column's name as shown: the drift step's output columns in words, others as they are."""
    return OUTPUT_COLUMNS.get(name, name)


def plain_names(text: str) -> str:
    """Stored riskwatch text (a reason written before `fmt_column`) with the output columns'
    internal names in words."""
    for name, words in OUTPUT_COLUMNS.items():
        text = text.replace(name, words)
    return text


def fmt_path(path: str, *bases: PurePath | str) -> str:
    """An absolute path as a client or a reader of a report may see it: relative to the project
    (the first of `bases`, its folder, that holds it), else its file name alone ("…/x.csv"):
    a folder of the server, or an old one of a project moved since, means nothing to them."""
    p = PurePosixPath(path)
    for base in bases:
        if p.is_relative_to(base):
            return str(p.relative_to(base)) or "."
    return f"…/{p.name}"


def shown_paths(value: Any, *bases: PurePath | str) -> Any:
    """`value` (text, or JSON-like lists and dicts of it) with every absolute path in its text
    shown by `fmt_path`; other values as they are. No file system access: a caller that wants
    the project's folder matched resolved as well passes both forms in `bases`."""
    if isinstance(value, str):
        if "/" not in value:
            return value
        return ABSOLUTE_PATH.sub(lambda m: fmt_path(m.group(0), *bases), value)
    if isinstance(value, dict):
        return {k: shown_paths(v, *bases) for k, v in value.items()}
    if isinstance(value, list):
        return [shown_paths(v, *bases) for v in value]
    return value
