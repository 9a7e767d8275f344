"""One row of the settings table: a key of riskwatch.toml with its default, kind, range and help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CLASSIFICATION_METRICS = ("f1", "accuracy", "roc_auc", "precision", "recall")
REGRESSION_METRICS = ("mae", "rmse", "r2")


@dataclass(frozen=True)
class Setting:
    """One key of riskwatch.toml: its default, its kind and what it means."""

    key: str
    default: Any  # a value of the row's kind: text, number, bool, list or table
    kind: str  # path, str (non-empty), text (may be empty), int, float, bool, list, dict, choice
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    env: str | None = None
    exclusive_max: bool = False

    @property
    def env_var(self) -> str:
        """The environment variable that sets the key: `model.params` is
        RISKWATCH_MODEL__PARAMS (any key, beside the `env` some have of their own)."""
        section, _, name = self.key.partition(".")
        return f"RISKWATCH_{section.upper()}__{name.upper()}"

    def below_minimum(self, value: float) -> bool:
        return self.minimum is not None and value < self.minimum

    def above_maximum(self, value: float) -> bool:
        if self.maximum is None:
            return False
        return value >= self.maximum if self.exclusive_max else value > self.maximum

    def range_words(self) -> list[str]:
        """The range in words, e.g. ['at least 1e-09', 'at most 0.5']; empty when unbounded."""
        words = [] if self.minimum is None else [f"at least {self.minimum}"]
        if self.maximum is not None:
            words.append(f"{'below' if self.exclusive_max else 'at most'} {self.maximum}")
        return words
