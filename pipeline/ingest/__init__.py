"""Ingestion and the quality gate: finding new files (`discovery`), reading them (`readers`)
from a private copy that holds the bytes their hash names (`intake`), the data contract
(`contract_rules`, `contract_infer`, `contract_summary`, `contract_toml`, pure;
`contract`, its file), the checks (`checks`, `violations`, pure; `history`, duplicates across
files, pure), keeping good rows and quarantining bad ones (`ingestion`), the gate's own commands
(`contract_tools`), and alerts about bad files (`alerts`, `webhook`).

`discovery` is standard library only: the no-op tick uses it. The gate's words (error types,
criticality, verdicts) are `pipeline.vocabulary`, below settings. This package may import
storage, the model's features and registry (how the production model takes its features),
settings, infra, formatting and vocabulary; nothing above it.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
__all__ = [
    "alerts",
    "checks",
    "contract",
    "contract_tools",
    "discovery",
    "history",
    "ingestion",
    "intake",
    "readers",
]
