"""The data-quality report of one source file: a self-contained HTML page a person can open.

One page per checked file: the verdict, the numbers, two small bar charts and every violation
with examples of the offending values and their row numbers. Everything is inline (CSS, SVG):
no script, no external address, so the page opens anywhere, offline, and prints. File names
and values are hostile input and are escaped, always. Pure string building: importing this
module loads neither pandas nor numpy.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.formatting import fmt_part
from pipeline.infra.files import atomic_write
from pipeline.ingest.vocabulary import CRITICALITIES
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

if TYPE_CHECKING:
    from pipeline.ingest.checks import QualityResult, Violation
    from pipeline.ingest.contract import Contract

ROW_NUMBERS_SHOWN = 20  # the same first 20 that quality_issues.rows_sample keeps
MAX_BARS = 15  # a chart with more bars is unreadable; the table lists everything
LABEL_CHARS = 28

VERDICTS = {
    "clean": ("clean", GOOD),
    "quarantined": ("rows quarantined", CRITICALITY_COLOURS["medium"]),
    "rejected": ("whole file rejected", BAD),
}

# C0 control characters (an ESC in a file name, say) shown as escapes instead of vanishing.
_CONTROLS = {c: f"\\x{c:02x}" for c in [*range(0x20), 0x7F] if chr(c) not in "\t\n"}


def _e(value: object) -> str:
    """Escape any text for HTML: markup, quotes, control characters, lone surrogates."""
    text = str(value).translate(_CONTROLS)
    # os.listdir hands undecodable bytes back as lone surrogates, which UTF-8 cannot hold.
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return html.escape(text, quote=True)


def _rank(criticality: str | None) -> int:
    """Higher is worse; unknown or none is below low."""
    return CRITICALITIES.index(criticality) if criticality in CRITICALITIES else -1


def _badge(criticality: str | None) -> str:
    level = criticality if criticality in CRITICALITY_COLOURS else "none"
    return f'<span class="badge crit-{level}">{_e(criticality or "none")}</span>'


def relative_path(sha256: str) -> str:
    """Return where a file's report goes, relative to paths.reports: named by content."""
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"not a SHA-256 hex digest: {sha256!r}")
    return f"quality/{sha256[:16]}.html"


def verdict_of(result: QualityResult) -> str:
    """Return 'rejected', 'quarantined' or 'clean'."""
    if result.rejected is not None:
        return "rejected"
    return "quarantined" if result.rows_invalid else "clean"


def row_numbers(rows: Sequence[int], count: int, shown: int = ROW_NUMBERS_SHOWN) -> str:
    """Say which data rows (1-based, header not counted) from 0-based positions."""
    first = [int(r) + 1 for r in rows[:shown]]
    text = ", ".join(f"{r:,}" for r in first)
    rest = max(count, len(rows)) - len(first)
    return f"{text} … and {rest:,} more" if rest > 0 else text


# --------------------------------------------------------------------------- charts


def bar_chart(title: str, bars: Sequence[tuple[str, int, str | None]], unit: str) -> str:
    """An inline SVG horizontal bar chart: (label, value, criticality) per bar, in order."""
    if not bars:
        return f'<p class="none">{_e(title)}: no row-level problems.</p>'
    shown = list(bars[:MAX_BARS])
    hidden = len(bars) - len(shown)
    row, top, label_w, bar_w, value_w = 24, 6, 200, 330, 90
    height = top * 2 + row * (len(shown) + (1 if hidden else 0))
    width = label_w + bar_w + value_w
    peak = max(value for _, value, _ in shown) or 1
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{_e(title)}">'
    ]
    for i, (label, value, level) in enumerate(shown):
        y = top + i * row
        length = max(2.0, bar_w * value / peak)
        colour = CRITICALITY_COLOURS.get(level or "", MUTED)
        parts.append(
            f"<g><title>{_e(label)}: {value:,} {_e(unit)}</title>"
            f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end">'
            f"{_e(short(label, LABEL_CHARS))}</text>"
            f'<rect x="{label_w}" y="{y + 4}" width="{length:.1f}" height="16" rx="2" '
            f'fill="{colour}"/>'
            f'<text x="{label_w + length + 6:.1f}" y="{y + 16}">{value:,}</text></g>'
        )
    if hidden:
        y = top + len(shown) * row
        parts.append(
            f'<text class="more" x="{label_w}" y="{y + 16}">… and {hidden:,} more '
            "(see the table)</text>"
        )
    parts.append("</svg>")
    return f"<figure><figcaption>{_e(title)}</figcaption>{''.join(parts)}</figure>"


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
        if _rank(v.criticality) > _rank(worst.get(label)):
            worst[label] = v.criticality
    return sorted(
        ((label, n, worst.get(label)) for label, n in totals.items()),
        key=lambda bar: (-bar[1], bar[0]),
    )


# --------------------------------------------------------------------------- the page


def _sorted(violations: Iterable[Violation]) -> list[Violation]:
    order = sorted(
        enumerate(violations),
        key=lambda iv: (-_rank(iv[1].criticality), iv[1].level != "file", -iv[1].count, iv[0]),
    )
    return [v for _, v in order]


def _violation_row(v: Violation) -> str:
    if v.column is not None:
        column = f"<code>{_e(v.column)}</code>"
    else:
        column = '<span class="muted">(whole row)</span>' if v.level == "row" else "(file)"
    examples = " ".join(f"<code>{_e(x)}</code>" for x in v.examples) or "—"
    if v.level == "row":
        count = f"{v.count:,}"
        rows = _e(row_numbers(v.rows, v.count)) or "—"
    else:
        count, rows = "file", '<span class="muted">the whole file</span>'
    return (
        f"<tr><td>{_badge(v.criticality)}</td><td><code>{_e(v.error_type)}</code></td>"
        f'<td class="wrap col">{column}</td><td>{_e(v.level)}</td><td class="num">{count}</td>'
        f'<td class="wrap">{_e(v.message)}</td><td class="wrap ex">{examples}</td>'
        f'<td class="wrap rows">{rows}</td></tr>'
    )


def render(
    *,
    file_name: str,
    sha256: str,
    result: QualityResult,
    contract: Contract | None,
    run_id: str,
    checked_at: datetime,
) -> str:
    """Return the HTML page of one file's quality check."""
    if checked_at.tzinfo is None:
        raise ValueError("checked_at must be timezone-aware")
    kind = verdict_of(result)
    verdict, verdict_colour = VERDICTS[kind]
    violations = _sorted(result.violations)
    when = checked_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    if contract is None:
        contract_text = "none"
    else:
        contract_text = (
            f"<code>{_e(contract.version[:12])}</code> ({len(contract.columns)} columns)"
        )
    file_issues = sum(1 for v in violations if v.level == "file")
    detail = {
        "clean": "Every row passed the contract; all of them go on to ingestion.",
        "quarantined": (
            f"{result.rows_invalid:,} of {result.rows_read:,} rows were quarantined with the "
            f"reason for each; the {result.rows_valid:,} valid rows go on to ingestion."
        ),
        "rejected": "No row of this file is used: the whole file is quarantined.",
    }[kind]
    if kind != "rejected" and file_issues:
        detail += f" {file_issues:,} file-level issue(s) are listed below."

    out: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="generator" content="riskwatch">',
        f"<title>Data quality: {_e(file_name)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        "<main>",
        "<header>",
        '<p class="kicker">riskwatch · data-quality report</p>',
        f'<h1 class="file">{_e(file_name)}</h1>',
        f'<p class="verdict" style="border-color: {verdict_colour}">'
        f'<span class="verdict-word" style="color: {verdict_colour}">{_e(verdict)}</span>'
        f" {_badge(result.criticality)}<br><span>{_e(detail)}</span></p>",
        '<dl class="meta">',
        f"<dt>File</dt><dd>{_e(file_name)}</dd>",
        f"<dt>SHA-256</dt><dd><code>{_e(sha256)}</code></dd>",
        f"<dt>Run</dt><dd><code>{_e(run_id)}</code></dd>",
        f"<dt>Checked</dt><dd>{_e(when)}</dd>",
        f"<dt>Contract version</dt><dd>{contract_text}</dd>",
        f"<dt>Overall criticality</dt><dd>{_badge(result.criticality)}</dd>",
        "</dl>",
        "</header>",
    ]
    if result.rejected is not None:
        out += [
            '<section class="rejected">',
            "<h2>Why the whole file was rejected</h2>",
            f'<p class="reason">{_e(result.rejected.message)}</p>',
            f"<p>Error type <code>{_e(result.rejected.error_type)}</code>, criticality "
            f"{_badge(result.rejected.criticality)}. None of its {result.rows_read:,} rows "
            "reached ingestion, training, scoring or drift.</p>",
            "</section>",
        ]
    out += [
        '<section class="summary">',
        "<h2>Summary</h2>",
        '<div class="cards">',
        _card("Rows read", f"{result.rows_read:,}"),
        _card("Valid rows", f"{result.rows_valid:,}", GOOD if result.rows_valid else None),
        _card("Invalid rows", f"{result.rows_invalid:,}", BAD if result.rows_invalid else None),
        _card("Share invalid", fmt_part(result.rows_invalid, result.rows_read)),
        "</div>",
        f"<p>{_summary_line(result, len(violations))}</p>",
        "</section>",
        '<section class="charts">',
        "<h2>Offending rows</h2>",
        *_charts(result, violations),
        "</section>",
        '<section class="violations">',
        f"<h2>Every violation ({len(violations):,})</h2>",
    ]
    if violations:
        out += [
            "<table>",
            "<thead><tr><th>Criticality</th><th>Error type</th><th>Column</th><th>Level</th>"
            '<th class="num">Rows</th><th>Message</th><th>Example values</th>'
            "<th>Row numbers</th></tr></thead>",
            "<tbody>",
            *(_violation_row(v) for v in violations),
            "</tbody>",
            "</table>",
        ]
    else:
        out.append('<p class="none">None: the file meets its contract.</p>')
    out += [
        "</section>",
        "<footer>",
        f"<p>Row numbers count data rows from 1; the header line is not counted. The first "
        f"{ROW_NUMBERS_SHOWN} are listed per violation. Example values are shown as Python "
        "literals, cut at 80 characters.</p>",
        "</footer>",
        "</main>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(out)


def _summary_line(result: QualityResult, n: int) -> str:
    if not n:
        return "No violation."
    levels = ", ".join(
        f"{_e(level)} {count:,}" for level, count in reversed(result.errors_by_criticality.items())
    )
    return f"{n:,} violation(s). By criticality: {levels} (offending rows; 1 per file-level issue)."


def _charts(result: QualityResult, violations: list[Violation]) -> list[str]:
    by_type, by_column = _bars(violations, "type"), _bars(violations, "column")
    if result.rejected is not None and not by_type:
        return ['<p class="none">None counted: the file was rejected before its rows were '
                "checked one by one.</p>"]  # fmt: skip
    if not by_type:
        return ['<p class="none">None.</p>']
    legend = " ".join(_badge(level) for level in reversed(CRITICALITIES))
    return [
        '<div class="chart-row">',
        bar_chart("By error type", by_type, "rows"),
        bar_chart("By column", by_column, "rows"),
        "</div>",
        f'<p class="note">Bars are coloured by criticality: {legend}. A row with problems in '
        "two columns counts in both.</p>",
    ]


def _card(label: str, value: str, colour: str | None = None) -> str:
    style = f' style="color: {colour}"' if colour else ""
    return (
        f'<div class="card"><div class="value"{style}>{_e(value)}</div><div>{_e(label)}</div></div>'
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
) -> Path:
    """Write one file's data-quality report to `path` atomically; return the path."""
    page = render(
        file_name=file_name,
        sha256=sha256,
        result=result,
        contract=contract,
        run_id=run_id,
        checked_at=checked_at,
    )
    atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


_CRITICALITY_CSS = "\n".join(
    f".crit-{level} {{ background: {colour}; }}" for level, colour in CRITICALITY_COLOURS.items()
)

_CSS = f"""
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: #fff; color: {INK};
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 24px 28px 40px; }}
h1 {{ font-size: 22px; margin: 2px 0 12px; }}
h2 {{ font-size: 16px; color: {ACCENT}; margin: 26px 0 10px; }}
code {{ font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  background: {STRIPE}; padding: 0 3px; border-radius: 3px; }}
.file {{ overflow-wrap: anywhere; }}
.kicker {{ margin: 0; color: {MUTED}; font-size: 12px; text-transform: uppercase;
  letter-spacing: .06em; }}
.verdict {{ border-left: 6px solid; background: {STRIPE}; padding: 10px 14px; margin: 0 0 14px; }}
.verdict-word {{ font-size: 19px; font-weight: 700; margin-right: 6px; }}
.badge {{ display: inline-block; min-width: 54px; text-align: center; color: #fff;
  font-size: 12px; font-weight: 700; padding: 1px 8px; border-radius: 10px; }}
{_CRITICALITY_CSS}
.crit-none {{ background: {GOOD}; }}
.meta {{ display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 0; }}
.meta dt {{ font-weight: 700; }}
.meta dd {{ margin: 0; overflow-wrap: anywhere; }}
.rejected {{ border: 2px solid {BAD}; background: #fdecea; padding: 4px 18px 12px;
  border-radius: 4px; margin-top: 18px; }}
.rejected h2 {{ color: {BAD}; }}
.rejected .reason {{ font-size: 17px; font-weight: 700; overflow-wrap: anywhere; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ border: 1px solid {RULE}; border-radius: 4px; padding: 10px 16px; min-width: 150px; }}
.card .value {{ font-size: 24px; font-weight: 700; }}
.chart-row {{ display: flex; flex-wrap: wrap; gap: 12px 32px; }}
figure {{ margin: 0; }}
figcaption {{ font-weight: 700; margin-bottom: 4px; }}
svg.chart {{ max-width: 100%; height: auto; }}
svg.chart text {{ font-size: 12px; fill: {INK}; }}
svg.chart text.more {{ fill: {MUTED}; font-style: italic; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th {{ background: {ACCENT}; color: #fff; text-align: left; padding: 5px 7px; }}
td {{ border-bottom: 1px solid {RULE}; padding: 5px 7px; vertical-align: top; }}
tbody tr:nth-child(even) td {{ background: {STRIPE}; }}
.num {{ text-align: right; white-space: nowrap; }}
.wrap {{ overflow-wrap: anywhere; }}
.wrap code {{ display: inline-block; margin: 0 2px 2px 0; }}
.rows {{ min-width: 11em; max-width: 240px; }}
.col {{ min-width: 14em; }}
.ex {{ min-width: 10em; }}
.muted, .note, footer {{ color: {MUTED}; }}
.none {{ color: {MUTED}; font-style: italic; }}
footer {{ margin-top: 28px; border-top: 1px solid {RULE}; font-size: 12px; }}
@media print {{
  * {{ -webkit-print-color-adjust: exact; print-color-adjust: exact; }}
  body {{ font-size: 10pt; }}
  main {{ max-width: none; padding: 0; }}
  thead {{ display: table-header-group; }}
  tr, .card, figure, .rejected, .verdict {{ break-inside: avoid; }}
  h2 {{ break-after: avoid; }}
  table {{ font-size: 8.5pt; }}
  code {{ font-size: 8pt; }}
  .ex, .rows {{ min-width: 0; }}
  .col {{ min-width: 10em; }}
}}
"""
