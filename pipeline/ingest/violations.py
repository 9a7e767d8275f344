"""What the quality gate finds: one Violation per kind of problem, one QualityResult per file.

Plain data and the summaries people and scripts read from it (by type, column, criticality,
and each bad row's errors). The checks that find them are in `checks`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from pipeline.formatting import fmt_part, fmt_share
from pipeline.vocabulary import (
    CRITICALITIES,
    DEFAULT_CRITICALITY,
    FILE_LEVEL,
    REJECTING,
    criticality_rank,
)


@dataclass(frozen=True)
class Violation:
    """One kind of problem in one column (or in the file): how many rows, which, and examples."""

    error_type: str
    column: str | None
    criticality: str
    count: int  # offending rows for row-level types; 1 for file-level types
    message: str
    rows: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64), repr=False)
    examples: tuple[str, ...] = ()
    # A learned rule's finding (a range, a category list, a missing share not enforced): the
    # rows are named and counted, and kept; they are not in the result's `bad`.
    kept: bool = False

    @property
    def level(self) -> str:
        return "file" if self.error_type in FILE_LEVEL else "row"

    def summary(self, rows: int = 20) -> dict[str, Any]:
        """What people and scripts see of it: its fields, and the first data rows (1-based)."""
        return {
            "error_type": self.error_type,
            "column": self.column,
            "criticality": self.criticality,
            "level": self.level,
            "count": self.count,
            "message": self.message,
            "examples": list(self.examples),
            "rows": [int(r) + 1 for r in self.rows[:rows]],
        }


@dataclass
class QualityResult:
    """Everything wrong with one file: its violations and which rows are bad."""

    rows_read: int
    violations: list[Violation]
    bad: np.ndarray  # one bool per row read

    @property
    def rejected(self) -> Violation | None:
        """The violation that makes the whole file unusable, if any."""
        return next((v for v in self.violations if v.error_type in REJECTING), None)

    @property
    def kept(self) -> list[Violation]:
        """The learned rules' findings, whose rows are kept."""
        return [v for v in self.violations if v.kept]

    @property
    def rows_invalid(self) -> int:
        return self.rows_read if self.rejected else int(self.bad.sum())

    @property
    def rows_valid(self) -> int:
        return self.rows_read - self.rows_invalid

    @property
    def criticality(self) -> str | None:
        levels = [v.criticality for v in self.violations]
        return max(levels, key=criticality_rank) if levels else None

    @property
    def errors_by_type(self) -> dict[str, int]:
        """Offending rows per row-level type; files (1) per file-level type."""
        out: Counter[str] = Counter()
        for v in self.violations:
            out[v.error_type] += v.count
        return dict(sorted(out.items()))

    @property
    def errors_by_column(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for v in self.violations:
            out[v.column or "(file)"] += v.count
        return dict(sorted(out.items()))

    @property
    def errors_by_criticality(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for v in self.violations:
            out[v.criticality] += v.count
        return {c: out[c] for c in CRITICALITIES if out[c]}

    def row_errors(self) -> pd.Series:
        """For each bad row (by position), its errors as 'type:column' joined by '; '."""
        positions = np.nonzero(self.bad)[0]
        text = pd.Series("", index=positions, dtype=object)
        for v in self.violations:
            if v.level == "row" and len(v.rows) and not v.kept:
                text.loc[v.rows] = text.loc[v.rows] + f"{v.error_type}:{v.column}; "
        return text.str.rstrip("; ")


def criticality_of(error_type: str, overrides: Mapping[str, str] | None = None) -> str:
    return (overrides or {}).get(error_type, DEFAULT_CRITICALITY[error_type])


def file_problem(
    error_type: str,
    message: str,
    overrides: Mapping[str, str] | None = None,
    column: str | None = None,
) -> QualityResult:
    """A result for a file that could not be read at all (unreadable, empty, duplicate header)."""
    v = Violation(error_type, column, criticality_of(error_type, overrides), 1, message)
    return QualityResult(0, [v], np.zeros(0, dtype=bool))


def flag_invalid_share(
    result: QualityResult, max_share: float, overrides: Mapping[str, str] | None = None
) -> QualityResult:
    """Add an `invalid_share` issue to `result` when more than `max_share` of its rows are bad.

    A file rejected whole already says why; a file read without rows has no share. Returns
    `result`, changed in place.
    """
    n, bad = result.rows_read, result.rows_invalid
    if result.rejected or n == 0 or bad / n <= max_share:
        return result
    message = (
        f"{bad:,} of {n:,} rows ({fmt_part(bad, n)}) quarantined, more than "
        f"quality.max_invalid_share ({fmt_share(max_share)})"
    )
    criticality = criticality_of("invalid_share", overrides)
    result.violations.append(Violation("invalid_share", None, criticality, 1, message))
    return result


EXAMPLES = 5  # the values a row violation quotes


def examples(values: pd.Series) -> tuple[str, ...]:
    return tuple(repr(x)[:80] for x in values.head(EXAMPLES).tolist())


def row_violation(
    error_type: str,
    column: str | None,
    mask: np.ndarray,
    values: pd.Series,
    message: str,
    overrides: Mapping[str, str] | None,
    kept: bool = False,
) -> Violation | None:
    rows = np.nonzero(mask)[0]
    if not len(rows):
        return None
    if kept:
        message += " (learned rule, not enforced: rows kept)"
    return Violation(
        error_type,
        column,
        criticality_of(error_type, overrides),
        len(rows),
        f"{len(rows)} row(s): {message}",
        rows,
        examples(values.iloc[rows]),
        kept,
    )


def file_violation(
    error_type: str, column: str | None, message: str, overrides: Mapping[str, str] | None
) -> Violation:
    return Violation(error_type, column, criticality_of(error_type, overrides), 1, message)
