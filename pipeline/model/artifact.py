"""Reading a model artifact: the check of its bytes, and their unpickling.

The bytes are read once by the registry; `verified` checks them against the SHA-256 recorded at
registration and `unpickle` turns those same bytes into the model, through safe_pickle's
restricted unpickler, so a file swapped after the check, or a forged pickle, never runs.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path
from typing import Any

from pipeline.errors import ModelIntegrityError
from pipeline.model import safe_pickle
from pipeline.settings import Settings

# A pickle names the module of each class in it, so a module's path is part of the artifact's
# format. These moved when the engine became subpackages (issue 8); artifacts saved before
# still name the old paths, and still load.
MOVED_MODULES = {
    "pipeline.design": "pipeline.model.design",
    "pipeline.modeling": "pipeline.model.estimator",
}


def trusted_modules(settings: Settings) -> tuple[str, ...]:
    """The packages whose code a model artifact may name beyond what any fitted model needs
    (see safe_pickle): `registry.trusted_modules`, `model.pipeline`'s factory module, and the
    package of a `model.estimator` from outside scikit-learn (xgboost's, say)."""
    trusted = list(settings["registry.trusted_modules"])
    factory = settings["model.pipeline"]
    if factory:
        trusted.append(factory.split(":", 1)[0])
    estimator_root = str(settings["model.estimator"]).split(".", 1)[0]
    if estimator_root not in safe_pickle.KNOWN_PACKAGES:
        trusted.append(estimator_root)
    return tuple(trusted)


def unpickle(data: bytes, origin: str | Path, trusted: tuple[str, ...] = ()) -> Any:
    """The model in an artifact's bytes (already read once, and checked), whichever riskwatch
    release saved it (see MOVED_MODULES), admitting only what a fitted model is made of
    (safe_pickle) and the `trusted` packages; `origin` names the artifact in errors."""
    import importlib
    import sys

    for old, new in MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    try:
        return safe_pickle.load(data, trusted)
    except safe_pickle.RefusedGlobal as exc:
        package = exc.module.split(".", 1)[0]
        if package in safe_pickle.KNOWN_PACKAGES or package in ("builtins", "os", "posix", "nt"):
            why = "which a model artifact has no use for"
        else:
            why = (
                f"from the package {package!r}, which riskwatch does not trust: if it is your "
                "code, name it in registry.trusted_modules (or model.pipeline)"
            )
        raise ModelIntegrityError(
            f"the model in {origin} names {exc}, {why}; refusing to load it (riskwatch admits "
            "the classes scikit-learn, NumPy, SciPy and riskwatch models are made of, and the "
            "packages of model.pipeline, model.estimator and registry.trusted_modules)"
        ) from exc
    except (ImportError, AttributeError) as exc:
        # A model from model.pipeline names its factory's module (or a class in it): the module
        # must be importable wherever the model is loaded, not only where it was trained.
        missing = getattr(exc, "name", None) or str(exc)
        raise ModelIntegrityError(
            f"the model in {origin} cannot be loaded: it needs {missing!r}, which cannot be "
            f"imported here ({type(exc).__name__}: {exc}); a model built by model.pipeline "
            "needs its module importable by every riskwatch process that loads it"
        ) from exc
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError) as exc:
        raise ModelIntegrityError(
            f"the model in {origin} is not a readable model artifact ({type(exc).__name__}: {exc})"
        ) from exc


def verified(data: bytes, expected: str, version: int, origin: str) -> str:
    """The SHA-256 of `data`, after checking it is the one the registry recorded."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise ModelIntegrityError(
            f"model version {version}: artifact {origin} has SHA-256 {digest[:12]}…, the "
            f"registry recorded {expected[:12]}…; refusing to load a modified or partial artifact"
        )
    return digest
