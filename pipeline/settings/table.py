"""The table of settings: every key a user may set, with its default, kind, range and help.

The rows live in one module per group (`keys_where`, `keys_model`, `keys_quality`,
`keys_watch`, `keys_monitor`, `keys_dashboard`, `keys_auth`, `keys_experiments`); this module
joins them and holds what is derived from them (`default`, the README's table). It imports
nothing of riskwatch outside `settings`, so any code may read a setting's default or range from
here rather than writing it a second time.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.settings.keys_auth import AUTH
from pipeline.settings.keys_dashboard import DASHBOARD
from pipeline.settings.keys_experiments import EXPERIMENTS
from pipeline.settings.keys_model import MODEL
from pipeline.settings.keys_monitor import MONITOR
from pipeline.settings.keys_quality import QUALITY
from pipeline.settings.keys_watch import WATCH
from pipeline.settings.keys_where import WHERE
from pipeline.settings.setting import CLASSIFICATION_METRICS, REGRESSION_METRICS, Setting

__all__ = [
    "BY_KEY",
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "SETTINGS",
    "Setting",
    "default",
    "markdown_table",
    "task_metrics",
]

SETTINGS: tuple[Setting, ...] = (
    WHERE + MODEL + QUALITY + WATCH + MONITOR + DASHBOARD + AUTH + EXPERIMENTS
)
BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


def task_metrics(task: str) -> tuple[str, ...]:
    """The metrics of a model.task: those model.metric and GET /performance may name."""
    return CLASSIFICATION_METRICS if task == "classification" else REGRESSION_METRICS


def default(key: str) -> Any:
    """The default of one setting: code that takes the same value as a parameter defaults to it,
    so the value is written once, here."""
    return BY_KEY[key].default


def markdown_table() -> str:
    """The README's settings table: `riskwatch settings --markdown` prints it."""
    rows = ["| key | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        d = s.default
        if isinstance(d, bool):
            shown = str(d).lower()
        elif isinstance(d, dict):
            shown = "{}"
        elif isinstance(d, str | list):
            shown = json.dumps(d)
        else:
            shown = str(d)
        env = f" Environment: `{s.env}`." if s.env else ""
        rows.append(f"| `{s.key}` | `{shown}` | {s.help}{env} |")
    return "\n".join(rows)
