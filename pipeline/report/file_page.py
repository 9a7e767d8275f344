"""The data-quality report of one source file: a self-contained HTML page a person can open.

One page per checked file: the verdict, the numbers, two small bar charts and every violation
with examples of the offending values and their row numbers. Everything is inline (CSS, SVG):
no script, no external address, so the page opens anywhere, offline, and prints. The markup is
in templates/ (quality_page.html and its partials), rendered by Jinja with autoescaping: file
names and values are hostile input and are escaped, always. A message of riskwatch's (a reason
the file was rejected) that names a server path shows it by `pipeline.formatting.shown_paths`,
the rule of the API's answers (issue 11): the page is served as it is written. This module
computes what the page says; importing it loads neither Jinja, pandas nor numpy (the run
imports it lazily).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.formatting import fmt_part, fmt_time, shown_paths
from pipeline.infra.files import atomic_write
from pipeline.report.charts import (
    ACCENT,
    BAD,
    CRITICALITY_COLOURS,
    GOOD,
    INK,
    MUTED,
    RULE,
    STRIPE,
    short,
)
from pipeline.vocabulary import CRITICALITIES, VERDICT_WORDS, criticality_rank, file_verdict

if TYPE_CHECKING:
    import jinja2
    import numpy as np

    from pipeline.ingest.checks import QualityResult, Violation
    from pipeline.ingest.contract import Contract

ROW_NUMBERS_SHOWN = 20  # the same first 20 that quality_issues.rows_sample keeps
MAX_BARS = 15  # a chart with more bars is unreadable; the table lists everything
LABEL_CHARS = 28
VERDICT_COLOURS = {"clean": GOOD, "quarantined": CRITICALITY_COLOURS["medium"], "rejected": BAD}
COLOURS = {
    "ink": INK,
    "accent": ACCENT,
    "muted": MUTED,
    "stripe": STRIPE,
    "rule": RULE,
    "bad": BAD,
    "good": GOOD,
}
# Geometry of a bar chart, in SVG units: one row per bar, label, bar and value side by side.
_ROW, _TOP, _LABEL_W, _BAR_W, _VALUE_W = 24, 6, 200, 330, 90

# C0 control characters (an ESC in a file name, say) shown as escapes instead of vanishing.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if chr(c) not in "\t\n"}


def _e(value: object) -> str:
    """Escape any text for HTML: markup, quotes, control characters, lone surrogates."""
    text = str(value).translate(_CONTROLS)
    # os.listdir hands undecodable bytes back as lone surrogates, which UTF-8 cannot hold.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(text, quote=True)


def relative_path(sha256: str) -> str:
    """Return where a file's report goes, relative to paths.reports: named by content."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f"quality/{sha256[:16]}.html"


def verdict_of(result: QualityResult) -> str:
    """Return 'rejected', 'quarantined' or 'clean'."""
    return file_verdict(result.rejected is not None, result.rows_invalid)


def row_numbers(
    rows: Sequence[int] | np.ndarray, count: int, shown: int = ROW_NUMBERS_SHOWN
) -> str:
    """Say which data rows (1-based, header not counted) from 0-based positions."""
    first = [int(r) + 1 for r in rows[:shown]]
    text = ", ".join(f"{r:,}" for r in first)
    rest = max(count, len(rows)) - len(first)
    return f"{text} … and {rest:,} more" if rest > 0 else text


# --------------------------------------------------------------------------- templates


@cache
def _environment() -> jinja2.Environment:
    """The Jinja environment of the page, made once, on the first page rendered."""
    import jinja2
    from markupsafe import Markup

    def finalize(value: object) -> Markup:
        # Autoescaping, plus what html.escape alone misses: control characters and lone
        # surrogates; markup the templates make themselves (macros) passes as it is.
        return value if isinstance(value, Markup) else Markup(_e(value))

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pipeline.report", "templates"),
        autoescape=True,
        finalize=finalize,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["short"] = short
    env.globals.update(
        criticality_colours=CRITICALITY_COLOURS, colours=COLOURS, label_chars=LABEL_CHARS
    )
    return env


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    colour: str
    y: int  # top of the bar's row
    length: float


@dataclass(frozen=True)
class Chart:
    """What chart.html draws: the biggest bars, and how many more the table lists."""

    title: str
    unit: str
    bars: list[Bar]
    hidden: int
    width: int
    height: int
    label_width: int = _LABEL_W

    @property
    def more_y(self) -> int:
        return _TOP + len(self.bars) * _ROW


def _chart(title: str, bars: Sequence[tuple[str, int, str | None]], unit: str) -> Chart:
    shown = list(bars[:MAX_BARS])
    hidden = len(bars) - len(shown)
    height = _TOP * 2 + _ROW * (len(shown) + (1 if hidden else 0))
    peak = max((value for _, value, _ in shown), default=0) or 1
    drawn = [
        Bar(
            label=label,
            value=value,
            colour=CRITICALITY_COLOURS.get(level or "", MUTED),
            y=_TOP + i * _ROW,
            length=max(2.0, _BAR_W * value / peak),
        )
        for i, (label, value, level) in enumerate(shown)
    ]
    width = _LABEL_W + _BAR_W + _VALUE_W
    return Chart(title, unit, drawn, hidden, width, height)


def bar_chart(title: str, bars: Sequence[tuple[str, int, str | None]], unit: str) -> str:
    """An inline SVG horizontal bar chart: (label, value, criticality) per bar, in order."""
    return _environment().get_template("chart.html").render(chart=_chart(title, bars, unit))


def _bars(violations: Iterable[Violation], key: str) -> list[tuple[str, int, str | None]]:
    """Offending rows summed by error type or by column, worst criticality per bar."""
    totals: dict[str, int] = {}
    worst: dict[str, str] = {}
    for v in violations:
        if v.level != "row":
            continue
        if key == "type":
            label = v.error_type
        else:
            label = v.column if v.column is not None else "(whole row)"
        totals[label] = totals.get(label, 0) + v.count
        if criticality_rank(v.criticality) > criticality_rank(worst.get(label)):
            worst[label] = v.criticality
    return sorted(
        ((label, n, worst.get(label)) for label, n in totals.items()),
        key=lambda bar: (-bar[1], bar[0]),
    )


# --------------------------------------------------------------------------- the page


@dataclass(frozen=True)
class ViolationRow:
    """One row of the violations table, its numbers already written out."""

    criticality: str
    error_type: str
    column: str | None
    level: str
    count: str
    message: str
    examples: Sequence[str]
    rows: str

    @classmethod
    def of(cls, v: Violation, bases: Sequence[Path] = ()) -> ViolationRow:
        """`v` as the table shows it; paths in its message by `shown_paths` against `bases`."""
        row_level = v.level == "row"
        return cls(
            criticality=v.criticality,
            error_type=v.error_type,
            column=v.column,
            level=v.level,
            count=f"{v.count:,}" if row_level else "file",
            message=shown_paths(v.message, *bases),
            examples=v.examples,
            rows=row_numbers(v.rows, v.count) if row_level else "",
        )


def _sorted(violations: Iterable[Violation]) -> list[Violation]:
    """Worst first, file-level before row-level, then the most rows, then as found."""
    order = sorted(
        enumerate(violations),
        key=lambda iv: (
            -criticality_rank(iv[1].criticality),
            iv[1].level != "file",
            -iv[1].count,
            iv[0],
        ),
    )
    return [v for _, v in order]


def _detail(kind: str, result: QualityResult, file_issues: int) -> str:
    """The sentence under the verdict: what happens to the file's rows."""
    detail = {
        "clean": "Every row passed the contract; all of them go on to ingestion.",
        "quarantined": (
            f"{result.rows_invalid:,} of {result.rows_read:,} rows were quarantined with the "
            f"reason for each; the {result.rows_valid:,} valid rows go on to ingestion."
        ),
        "rejected": "No row of this file is used: the whole file is quarantined.",
    }[kind]
    kept = sum(v.count for v in result.kept if v.level == "row" and len(v.rows))
    if kind == "clean" and kept:
        detail = "No row was quarantined; all of them go on to ingestion."
    if kind != "rejected" and kept:
        detail += (
            f" {kept:,} finding(s) of learned rules (a range or a category list not enforced) "
            "are listed below; their rows are kept."
        )
    if kind != "rejected" and file_issues:
        detail += f" {file_issues:,} file-level issue(s) are listed below."
    return detail


def _summary_line(result: QualityResult, n: int) -> str:
    if not n:
        return "No violation."
    levels = ", ".join(
        f"{level} {count:,}" for level, count in reversed(result.errors_by_criticality.items())
    )
    return f"{n:,} violation(s). By criticality: {levels} (offending rows; 1 per file-level issue)."


@dataclass(frozen=True)
class Card:
    label: str
    value: str
    colour: str | None = None


def _cards(result: QualityResult) -> list[Card]:
    return [
        Card("Rows read", f"{result.rows_read:,}"),
        Card("Valid rows", f"{result.rows_valid:,}", GOOD if result.rows_valid else None),
        Card("Invalid rows", f"{result.rows_invalid:,}", BAD if result.rows_invalid else None),
        Card("Share invalid", fmt_part(result.rows_invalid, result.rows_read)),
    ]


def _charts(violations: list[Violation]) -> list[Chart]:
    """The two charts, by error type and by column; none when no row was offending."""
    by_type = _bars(violations, "type")
    if not by_type:
        return []
    return [
        _chart("By error type", by_type, "rows"),
        _chart("By column", _bars(violations, "column"), "rows"),
    ]


def render(
    *,
    file_name: str,
    sha256: str,
    result: QualityResult,
    contract: Contract | None,
    run_id: str,
    checked_at: datetime,
    base: Path | None = None,
) -> str:
    """Return the HTML page of one file's quality check.

    A path in a message shows relative to the project folder `base`, else (and without `base`)
    by its file name: no server path on the page.
    """
    if checked_at.tzinfo is None:
        raise ValueError("checked_at must be timezone-aware")
    bases = () if base is None else (base, base.resolve())
    rejected = None if result.rejected is None else shown_paths(result.rejected.message, *bases)
    kind = verdict_of(result)
    violations = _sorted(result.violations)
    file_issues = sum(1 for v in violations if v.level == "file")
    return (
        _environment()
        .get_template("quality_page.html")
        .render(
            file_name=file_name,
            sha256=sha256,
            run_id=run_id,
            checked=fmt_time(checked_at),
            contract=contract,
            result=result,
            rejected_message=rejected,
            verdict=VERDICT_WORDS[kind],
            verdict_colour=VERDICT_COLOURS[kind],
            detail=_detail(kind, result, file_issues),
            cards=_cards(result),
            summary=_summary_line(result, len(violations)),
            charts=_charts(violations),
            legend=list(reversed(CRITICALITIES)),
            violations=[ViolationRow.of(v, bases) for v in violations],
            rows_shown=ROW_NUMBERS_SHOWN,
        )
    )


def write_file_report(
    path: Path,
    *,
    file_name: str,
    sha256: str,
    result: QualityResult,
    contract: Contract | None,
    run_id: str,
    checked_at: datetime,
    base: Path | None = None,
) -> Path:
    """Write one file's data-quality report to `path` atomically; return the path. `base`: the
    project folder, as for `render`."""
    page = render(
        file_name=file_name,
        sha256=sha256,
        result=result,
        contract=contract,
        run_id=run_id,
        checked_at=checked_at,
        base=base,
    )

    def write(tmp: Path) -> None:
        tmp.write_text(page, encoding="utf-8")

    atomic_write(path, write)
    return path
