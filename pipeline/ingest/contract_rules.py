"""The data contract's rules: what every incoming file must hold.

Pure data, no I/O: the rules (`Contract`, `ColumnRule`). Their inference from training data is
`contract_infer`'s, their TOML text `contract_toml`'s; the version is the SHA-256 of that text,
so any edit is a new, recorded contract version. The checks import this; the file itself is
`contract`'s.

Two kinds of rule (issue 9). *Structural* rules quarantine a row: the column exists, its kind
(numbers, whole numbers, text), a sign the training data never crossed, nullability, a label
that is missing or not a label value, infinite values. *Learned* rules (a numeric range, a
category list, a missing share) describe the training sample, not what is possible: a row that
breaks one is counted, reported and alerted, and kept, until a person sets `enforce = true` on
the column. Structural rules inferred from the absence of something (no missing value, no
fraction, no negative number) are inferred only from enough rows
(`contract_summary.evidence_rows`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from pipeline.errors import RiskwatchError

KINDS = ("numeric", "integer", "categorical", "id", "label", "timestamp")
SIGNS = ("non-negative", "non-positive")
Label = str | int | float  # a class label as TOML writes it (bool is an int)


class ContractError(RiskwatchError):
    """The contract file is missing, not TOML, or holds a wrong key or value."""

    exit_code = 2


@dataclass(frozen=True)
class ColumnRule:
    name: str
    # numeric, integer, categorical, id, label, timestamp (the event time: data.timestamp_column)
    # (and "row" for whole-row checks)
    kind: str
    required: bool = True
    nullable: bool = False  # may a row lack a value here (structural)
    max_missing_share: float = 0.0  # learned; a file above it is flagged, its rows kept
    min: float | None = None  # learned range
    max: float | None = None
    categories: tuple[str, ...] | None = None  # learned category list
    sign: str | None = None  # structural: "non-negative" or "non-positive"
    # Do rows outside the learned range or category list go to quarantine? True for a rule a
    # person wrote (no `enforce` key); inference writes `enforce = false`.
    enforce: bool = True

    @property
    def learned(self) -> bool:
        """Does the rule hold a learned range or category list?"""
        return self.min is not None or self.max is not None or self.categories is not None


@dataclass(frozen=True)
class Contract:
    target: str
    id_columns: tuple[str, ...]
    unique_ids: bool
    label_values: tuple[Label, ...] | None  # None: any value (regression)
    columns: dict[str, ColumnRule] = field(default_factory=dict)
    text: str = ""  # the TOML it was read from or written as

    @property
    def version(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def numeric_label(self) -> bool:
        return self.label_values is None or all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in self.label_values
        )

    @property
    def features(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.kind not in ("id", "label", "timestamp")]

    @property
    def text_columns(self) -> tuple[str, ...]:
        """The columns a reader keeps as text: categories, ids, event times (parsed by the
        gate, never guessed by a reader), and a label that is not a number."""
        kinds = ("categorical", "id", "timestamp")
        text = tuple(c.name for c in self.columns.values() if c.kind in kinds)
        return text if self.numeric_label else (*text, self.target)

    @property
    def timestamp_column(self) -> str | None:
        """The event-time column (kind timestamp), if the contract has one."""
        return next((c.name for c in self.columns.values() if c.kind == "timestamp"), None)
