"""The data contract: what every incoming file must hold; inferred from training data, edited.

`riskwatch contract infer` writes it as TOML (`contract.toml` by default) for review in git. Its
version is the SHA-256 of the file's text, so any edit is a new, recorded contract version.

The rules themselves are `contract_rules`, their inference `contract_infer` (from the per-file
summaries of `contract_summary`), their TOML text `contract_toml`: pure, and re-exported here.
This module adds reading and writing the file.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.ingest.contract_infer import infer, infer_summary
from pipeline.ingest.contract_rules import ColumnRule, Contract, ContractError, Label
from pipeline.ingest.contract_summary import DataSummary, merge, summarise
from pipeline.ingest.contract_toml import enforced, from_toml, to_toml

__all__ = [
    "ColumnRule",
    "Contract",
    "ContractError",
    "DataSummary",
    "Label",
    "enforced",
    "from_toml",
    "infer",
    "infer_summary",
    "load",
    "merge",
    "save",
    "summarise",
    "to_toml",
]


def load(path: Path) -> Contract:
    """Read the contract file; ContractError names it when it is missing or wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ContractError(
            f"no data contract at {path}: run `riskwatch contract infer` to write one"
        ) from exc
    return from_toml(text, str(path))


def save(contract: Contract, path: Path) -> None:
    """Write the contract's TOML text atomically (a crash leaves the old file or the new)."""
    from pipeline.infra.files import atomic_write_bytes

    atomic_write_bytes(path, contract.text.encode())
