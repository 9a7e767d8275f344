"""Where a model version's settings came from: the settings that train a model, their
fingerprint, and the DVC experiment that proposed them.

The training settings are every key of the sections dvc.yaml's stages read as parameters
(`TRAINING_SECTIONS`). An experiment's train stage writes `experiments/experiment.json` with its
name and the fingerprint of the settings it ran with; `dvc exp apply` brings that file back with
the experiment's riskwatch.toml. A version trained later records the experiment only while the
settings still have that fingerprint: edit one of them after applying, and the version says it
no longer matches.

Standard library only: the cron job reads it without DVC.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pipeline.settings.load import Settings
from pipeline.settings.table import SETTINGS

# The sections whose keys train a model (and decide whether it would be promoted): dvc.yaml's
# train stage declares them as its parameters, so a change to any of them reruns it.
TRAINING_SECTIONS = ("data", "model", "split", "training", "policy")
EXPERIMENTS_DIR = "experiments"  # dvc.yaml's outputs, beside riskwatch.toml
EXPERIMENT_RECORD = "experiment.json"


def training_settings(settings: Settings) -> dict[str, Any]:
    """The settings that train a model, by dotted key."""
    return {s.key: settings[s.key] for s in SETTINGS if s.key.split(".", 1)[0] in TRAINING_SECTIONS}


def fingerprint(values: dict[str, Any]) -> str:
    """SHA-256 of the settings, in a canonical JSON form."""
    text = json.dumps(values, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def experiments_dir(settings: Settings) -> Path:
    return settings.base_dir / EXPERIMENTS_DIR


def read_experiment(settings: Settings) -> dict[str, Any] | None:
    """experiments/experiment.json, when present and readable; None otherwise."""
    path = experiments_dir(settings) / EXPERIMENT_RECORD
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("settings_sha256"), str) else None


def provenance(settings: Settings) -> dict[str, Any]:
    """What a version records of its settings: the values, their fingerprint, and the
    experiment they came from (when the settings are still that experiment's)."""
    values = training_settings(settings)
    digest = fingerprint(values)
    out: dict[str, Any] = {"settings": values, "settings_sha256": digest, "experiment": None}
    record = read_experiment(settings)
    if record is None:
        return out
    summary = {k: record.get(k) for k in ("name", "baseline_rev", "settings_sha256", "metrics")}
    if record["settings_sha256"] == digest:
        out["experiment"] = summary
    else:
        # Applied, then edited: the version is not that experiment's, and says so.
        out["differs_from_experiment"] = summary.get("name")
    return out
