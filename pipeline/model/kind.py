"""How a model version was built, from its `model_versions` row: the standard preprocessing, the
features as they are ("none"), or model.pipeline's factory. Standard library only: `riskwatch
status` shows it without importing pandas.
"""

from __future__ import annotations

from typing import Any


def model_kind(features: dict[str, Any], estimator: str) -> dict[str, str | None]:
    """How a version's model was built, from its row: `preprocessing` (standard, none, or
    pipeline) and `pipeline` (model.pipeline's factory, or None)."""
    preprocessing = str(features.get("preprocessing", "standard"))
    return {
        "preprocessing": preprocessing,
        "pipeline": estimator if preprocessing == "pipeline" else None,
    }


def describe(features: dict[str, Any], estimator: str) -> str:
    """One line saying how a version's model was built, as `riskwatch status` shows it."""
    kind = model_kind(features, estimator)
    if kind["pipeline"]:
        return f"pipeline {kind['pipeline']}"
    return f"{estimator}, preprocessing {kind['preprocessing']}"
