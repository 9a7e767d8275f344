"""What `writes` reads of the objects it records, as Protocols.

The classes themselves (the ingestion's `Ingested`, the model's `Score` and `Decision`, the
gate's `Contract`) live in layers above storage, which storage may not import, not even for
types; these Protocols name the attributes a row is made of, and mypy checks that the real
classes have them. Only the standard library here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol


class ScoreLike(Protocol):
    """A metric on some rows, with its interval (`pipeline.model.metrics.Score`)."""

    @property
    def metric(self) -> str: ...
    @property
    def value(self) -> float | None: ...
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...
    @property
    def n_rows(self) -> int: ...


class DecisionLike(Protocol):
    """A decision and its evidence (`pipeline.model.policy.Decision`)."""

    @property
    def outcome(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def evidence(self) -> dict[str, Any]: ...  # a JSON document


class ContractLike(Protocol):
    """A data contract version and its TOML text (`pipeline.ingest.contract.Contract`)."""

    @property
    def version(self) -> str: ...
    @property
    def text(self) -> str: ...


class _Source(Protocol):
    @property
    def sha256(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def size(self) -> int: ...


class _Violation(Protocol):
    def summary(self, rows: int = ...) -> dict[str, Any]: ...  # a JSON document


class _Quality(Protocol):
    @property
    def rows_read(self) -> int: ...
    @property
    def criticality(self) -> str | None: ...
    @property
    def violations(self) -> Sequence[_Violation]: ...


class IngestedLike(Protocol):
    """A file taken by the gate, and the gate's verdict (`pipeline.ingest.ingestion.Ingested`)."""

    @property
    def source(self) -> _Source: ...
    @property
    def status(self) -> str: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def rows(self) -> int: ...
    @property
    def rows_quarantined(self) -> int: ...
    @property
    def labelled_rows(self) -> int: ...
    @property
    def data_path(self) -> str | None: ...
    @property
    def quarantine_path(self) -> str | None: ...
    @property
    def quality(self) -> _Quality: ...


class SkippedLike(Protocol):
    """An inbox entry that is not taken (`pipeline.ingest.discovery.Skipped`)."""

    @property
    def key(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def mtime_ns(self) -> int: ...
