"""How recorded values read in the report: the one formatter of evidence, thresholds and names.

A decision's evidence, the drift thresholds and a diagnostic are JSON: nested dicts, lists,
flags. `readable` turns any such value into words (never Python's or JSON's repr: no braces,
no quotes, no `{}`), `evidence_rows` a decision's evidence into (label, sentence) rows, and
`thresholds_text` the drift thresholds into one phrase. Column names go through
`column_label` (`pipeline.formatting.fmt_column`): the drift step's `__prediction__` and
`__target__` read "model prediction" and "label". Pure; standard library and formatting only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipeline.formatting import MISSING, OUTPUT_COLUMNS, fmt_column, fmt_num, plain_names

# Keys whose words are not the key with its underscores as spaces.
KEY_WORDS = {
    "ci": "interval",
    "ci_low": "interval low",
    "ci_high": "interval high",
    "n_rows": "rows",
    "min_rows": "minimum rows",
    "min_wasserstein": "minimum Wasserstein effect",
    "min_jensen_shannon": "minimum Jensen-Shannon distance",
    "dataset_share": "drifted share for data-set drift",
    "psi_epsilon": "PSI epsilon",
    "persistence": "persistence (runs drifted of runs)",
    "dataset_drift": "data-set drift",
    "outputs": "model outputs",
    "excluded": "columns left out",
}
OUTPUT_NAMES = frozenset(OUTPUT_COLUMNS)
# A pair of numbers under one of these key endings is an interval, two numbers and a dash.
INTERVAL_ENDINGS = ("ci", "interval")


def key_label(key: str) -> str:
    """A snake_case key in words, first letter capital: 'production_ci' reads 'Production
    interval'."""
    words = KEY_WORDS.get(key)
    if words is None:
        parts = key.split("_")
        words = " ".join(KEY_WORDS.get(p, p) if p in ("ci",) else p for p in parts)
    return words[:1].upper() + words[1:]


def column_label(name: object) -> str:
    """A column's name as the report shows it."""
    return fmt_column(str(name))


def readable(value: object, key: str = "") -> str:
    """Any JSON value in words: numbers formatted, flags yes/no, lists and dicts as phrases."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return fmt_num(value, 4)
    if isinstance(value, str):
        return _word(value, key)
    if isinstance(value, Mapping):
        if not value:
            return "none"
        # The values of `outputs` are the statuses of the columns it names.
        inner = (lambda k: "status") if key == "outputs" else str
        return "; ".join(f"{column_label(k)}: {readable(v, inner(k))}" for k, v in value.items())
    if isinstance(value, Sequence):
        if not value:
            return "none"
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        if numbers and len(value) == 2 and key.endswith(INTERVAL_ENDINGS):
            return f"{fmt_num(value[0], 4)} – {fmt_num(value[1], 4)}"
        if numbers and len(value) == 2 and key == "persistence":
            return f"{value[0]} of {value[1]}"
        return ", ".join(readable(v) for v in value)
    return _word(str(value), key)


def _word(text: str, key: str) -> str:
    """A stored word or phrase: a status ('not_drifted') reads 'not drifted', a column's
    internal name its label; other text (a column's name) stays as it is."""
    if text in OUTPUT_NAMES:
        return column_label(text)
    if key.endswith("status") and " " not in text:
        return text.replace("_", " ")
    return plain_names(text)


def evidence_rows(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A decision's evidence as (label, value) rows: a nested object is one row per inner key,
    labelled 'Data drift: status'; an empty inner value reads 'none'."""
    rows: list[tuple[str, str]] = []
    for key, value in (evidence or {}).items():
        if isinstance(value, Mapping) and value and key not in ("outputs", "excluded"):
            head = key_label(str(key))
            rows += [
                (f"{head}: {_lower_first(key_label(str(k)))}", readable(v, str(k)))
                for k, v in value.items()
            ]
        else:
            rows.append((key_label(str(key)), readable(value, str(key))))
    return rows


def thresholds_text(thresholds: Mapping[str, Any]) -> str:
    """The drift thresholds as one phrase: 'alpha 0.05, minimum Wasserstein effect 0.15, …'."""
    return ", ".join(
        f"{_lower_first(key_label(str(k)))} {readable(v, str(k))}" for k, v in thresholds.items()
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
