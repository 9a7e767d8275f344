"""`riskwatch experiments`: the DVC experiments (from `dvc exp show --json`) next to the model
versions, for a user who does not know DVC.

An experiment and a version are matched by the fingerprint of their training settings
(`pipeline.settings.provenance`): a version trained after `dvc exp apply NAME` has NAME's
fingerprint, whether DVC gave the experiment its name before or after it ran.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipeline.errors import ConfigError, ToolError
from pipeline.infra import dvc
from pipeline.model import registry
from pipeline.settings import Settings, from_document
from pipeline.settings.provenance import TRAINING_SECTIONS, fingerprint, training_settings
from pipeline.storage import db, reads

log = logging.getLogger("riskwatch")

PARAMS_FILE = "riskwatch.toml"
METRICS_FILE = "experiments/metrics.json"
EVALUATION_FILE = "experiments/evaluation.json"


def _fingerprint(settings: Settings, params: dict[str, Any]) -> str | None:
    doc = {k: v for k, v in params.items() if k in TRAINING_SECTIONS and isinstance(v, dict)}
    try:
        values = training_settings(from_document(doc, settings.base_dir, PARAMS_FILE))
    except ConfigError:
        return None
    return fingerprint(values)


def _flat(doc: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(doc, dict):
        return {prefix: doc}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def _entry(settings: Settings, row: dict[str, Any], base: dict[str, Any] | None) -> dict:
    data = row.get("data") or {}
    params = ((data.get("params") or {}).get(PARAMS_FILE) or {}).get("data") or {}
    metrics = data.get("metrics") or {}
    train = (metrics.get(METRICS_FILE) or {}).get("data") or {}
    test = (metrics.get(EVALUATION_FILE) or {}).get("data") or {}
    flat = _flat({k: v for k, v in params.items() if k in TRAINING_SECTIONS})
    changed = {} if base is None else {k: v for k, v in flat.items() if base.get(k) != v}
    metric = train.get("metric")
    challenger, production = train.get("challenger") or {}, train.get("production") or {}
    would = train.get("would_promote")
    return {
        "name": row.get("name") or row.get("rev"),
        "rev": row.get("rev"),
        "error": row.get("error"),
        "changed": changed,
        "params": flat,
        "settings_sha256": _fingerprint(settings, params) if params else None,
        "metric": metric,
        "challenger": challenger.get(metric) if metric else None,
        "production": production.get(metric) if metric else None,
        "production_version": production.get("version"),
        "would_promote": would if isinstance(would, bool) else None,
        "test": (test.get("challenger") or {}).get(metric) if metric else None,
    }


def experiments(settings: Settings) -> list[dict[str, Any]]:
    """The workspace, each baseline commit and its experiments, as `dvc exp show` lists them."""
    done = dvc.run("dvc", ["exp", "show", "--json"], settings.base_dir)
    try:
        rows = json.loads(done.stdout or "[]")
    except ValueError as exc:
        raise ToolError(f"`dvc exp show --json` printed what is not JSON: {exc}") from exc
    out = []
    for row in rows:
        base = _entry(settings, row, None)
        out.append({**base, "kind": "workspace" if row.get("rev") == "workspace" else "baseline"})
        for group in row.get("experiments") or []:
            for rev in group.get("revs") or []:
                out.append({**_entry(settings, rev, base["params"]), "kind": "experiment"})
    return out


def versions(settings: Settings) -> list[dict[str, Any]]:
    """Every model version with the settings fingerprint and experiment it records (the
    versions `riskwatch status` lists)."""
    production = registry.production_version(settings)
    with db.opened(settings.database_url) as engine, engine.connect() as conn:
        listed = reads.status(conn, production)["model_versions"]
    keep = ("version", "created_at", "metric", "score_source", "settings_sha256", "experiment")
    return [
        {
            **{k: v[k] for k in keep},
            "score": v["holdout_score"],
            "production": v["version"] == production,
        }
        for v in listed
    ]


def _uncommitted_settings(settings: Settings) -> bool | None:
    """Whether riskwatch.toml differs from git's HEAD (a workspace `dvc exp run` or `dvc exp
    apply` leaves its settings there: the next retrain trains with them); None without git."""
    if settings.source is None:
        return None
    try:
        done = dvc.run(
            "git", ["status", "--porcelain", "--", settings.source.name], settings.base_dir
        )
    except ToolError:
        return None
    return bool(done.stdout.strip())


def summary(settings: Settings) -> dict[str, Any]:
    """What `riskwatch experiments` prints: experiments and versions, matched."""
    listed: list[dict[str, Any]] = []
    note = None
    if not dvc.initialised(settings.base_dir):
        note = f"{settings.base_dir} is not a DVC project: run `riskwatch experiments init`"
    else:
        try:
            listed = experiments(settings)
        except ToolError as exc:
            note = str(exc)
    models = versions(settings)
    by_print: dict[str, list[int]] = {}
    for m in models:
        if m["settings_sha256"]:
            by_print.setdefault(m["settings_sha256"], []).append(m["version"])
    for e in listed:
        e["versions"] = by_print.get(e["settings_sha256"], []) if e["settings_sha256"] else []
    names = {
        e["settings_sha256"]: e["name"]
        for e in listed
        if e["kind"] == "experiment" and e["settings_sha256"]
    }
    for m in models:
        if not m["experiment"] and m["settings_sha256"]:
            m["experiment"] = names.get(m["settings_sha256"])
    return {
        "dvc": note is None,
        "note": note,
        "uncommitted_settings": _uncommitted_settings(settings) if note is None else None,
        "experiments": listed,
        "versions": models,
    }
