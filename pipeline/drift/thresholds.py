"""What counts as drift: `DriftThresholds`, whose defaults and ranges are the settings table's.

Every threshold that a user may set is a ``drift.*`` row of `pipeline.settings.table`; its
default and its range are read from that row, never written here a second time, so a value
refused by riskwatch.toml is refused here too, with the same range in the message.
``psi_epsilon`` is the one field that is not a setting: it only keeps PSI's logarithm finite
and takes no part in the decision. Pure computation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Protocol

from pipeline.drift.columns import NUMERIC
from pipeline.settings.table import BY_KEY, Setting

_PREFIX = "drift."


class _Readable(Protocol):
    def __getitem__(self, key: str, /) -> Any: ...  # as Settings: each key's own type


def setting_row(name: str) -> Setting:
    """The settings table's row of a threshold, e.g. ``drift.alpha`` for ``alpha``."""
    return BY_KEY[_PREFIX + name]


def range_problem(row: Setting, value: object) -> str | None:
    """What is wrong with `value` for `row` (its kind, minimum and maximum), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected {'an integer' if row.kind == 'int' else 'a finite number'}"
    if row.kind == "int" and not isinstance(value, int):
        return "expected an integer"
    if not math.isfinite(value):
        return "expected a finite number"
    if row.below_minimum(value) or row.above_maximum(value):
        return f"expected {' and '.join(row.range_words())}"
    return None


@dataclass(frozen=True)
class DriftThresholds:
    """What counts as drift; `selftest` measures what these give at a batch size.

    alpha: false-discovery rate of the Benjamini-Hochberg procedure over the run's columns.
    min_wasserstein: smallest Wasserstein-1 distance, in reference standard deviations, that
        counts as drift for a numeric column (a mean shift of d std has exactly d). Noise at
        1,000 rows a side averages 0.055 and rarely passes 0.15; a real 0.5-std shift scores
        0.4 or more there (simulated, 600 runs each).
    min_jensen_shannon: smallest Jensen-Shannon distance (base 2) for a categorical column.
    dataset_share: the data set drifts when at least this (weighted) share of tested features does.
    min_rows: fewer non-missing values than this on either side gives ``too_few_rows``.
    psi_epsilon: share used for an empty PSI bin (or category) so the logarithm stays finite.
    """

    alpha: float = setting_row("alpha").default
    min_wasserstein: float = setting_row("min_wasserstein").default
    min_jensen_shannon: float = setting_row("min_jensen_shannon").default
    dataset_share: float = setting_row("dataset_share").default
    min_rows: int = setting_row("min_rows").default
    psi_epsilon: float = 1e-4

    def __post_init__(self) -> None:
        for name in self.setting_names():
            value = getattr(self, name)
            problem = range_problem(setting_row(name), value)
            if problem:
                raise ValueError(
                    f"drift threshold {name!r} is out of range: {value!r} "
                    f"(setting '{_PREFIX}{name}': {problem})"
                )
        if not 0 < self.psi_epsilon < 1:
            raise ValueError(
                f"drift threshold 'psi_epsilon' is out of range: {self.psi_epsilon!r} "
                "(expected above 0 and below 1)"
            )

    @classmethod
    def setting_names(cls) -> tuple[str, ...]:
        """The fields that are settings (``drift.<field>``), in declaration order."""
        return tuple(f.name for f in fields(cls) if _PREFIX + f.name in BY_KEY)

    @classmethod
    def from_settings(cls, settings: _Readable) -> DriftThresholds:
        """The thresholds a run uses: each field's ``drift.*`` setting (a `Settings` works)."""
        return cls(**{name: settings[_PREFIX + name] for name in cls.setting_names()})

    def min_effect(self, kind: str) -> float:
        """The smallest effect size that counts as drift for a column of this kind."""
        return self.min_wasserstein if kind == NUMERIC else self.min_jensen_shannon
