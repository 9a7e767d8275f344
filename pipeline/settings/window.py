"""The training window: which ingested rows a model is trained on (`training.window`).

"all" (every ingested row), "files:N" (the newest N ingested files), "rows:N" (the newest N
rows), "days:N" (the files ingested in the N days up to the newest ingestion) or "runs:N" (the
files the newest N ingesting runs brought: "runs:1" trains on the latest batch only). One string,
so it reads the same in riskwatch.toml, in `riskwatch settings` and in a version's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.errors import ConfigError

KINDS = ("files", "rows", "days", "runs")
SYNTAX = '"all", "files:N", "rows:N", "days:N" or "runs:N" with N a whole number of at least 1'


@dataclass(frozen=True)
class Window:
    kind: str  # all, files, rows, days, runs
    size: int | None  # None for all

    def __str__(self) -> str:
        return "all" if self.size is None else f"{self.kind}:{self.size}"


def parse_window(value: object, key: str = "training.window") -> Window:
    """The window a setting's value names, or ConfigError naming the key and the syntax."""
    text = value.strip().lower() if isinstance(value, str) else None
    if text == "all":
        return Window("all", None)
    kind, sep, size = (text or "").partition(":")
    size = size.strip()
    if sep and kind.strip() in KINDS and size.isascii() and size.isdigit() and int(size) >= 1:
        return Window(kind.strip(), int(size))
    raise ConfigError(f"setting {key!r}: expected {SYNTAX}, got {value!r}")
