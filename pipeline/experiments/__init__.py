"""Experiments with DVC: dvc.yaml's stages (`train_stage`, `evaluate_stage`) over the
experiments' snapshot of the ingested data and the registry, `riskwatch experiments init`
(`setup`), and the summary of experiments next to the model versions (`summary`).

The stages write only under experiments/ and never into the registry: the winner reaches
production when `dvc exp apply` writes its settings into riskwatch.toml and the cron job's gate
promotes what they train. It may import the run and everything below it; only the CLI imports it.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list).
__all__ = [
    "evaluate_stage",
    "setup",
    "summary",
    "train_stage",
]
