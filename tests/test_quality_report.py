"""The per-file data-quality HTML page, built from real quality results on small literal frames."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from pipeline.ingest import checks as Q
from pipeline.ingest import contract as C
from pipeline.report.file_page import (
    MAX_BARS,
    bar_chart,
    relative_path,
    render,
    row_numbers,
    write_file_report,
)

REPO = Path(__file__).resolve().parent.parent
SHA = "5e" * 32
RUN_ID = "9f" * 16
CHECKED = datetime(2024, 5, 6, 2, 0, 0, tzinfo=UTC)
HOSTILE_NAME = 'batch <b>05</b> & "Zürich" ✓.csv'
SCRIPT = "<script>alert(1)</script>"
ODD_CATEGORY = 'A & "B" Zürich ✓'

TRAIN = pd.DataFrame(
    {
        "id": ["c1", "c2", "c3", "c4", "c5", "c6"],
        "employees": [1, 5, 10, 20, 50, 100],
        "revenue": [1.5, 2.5, 3.0, 10.0, 7.25, 4.0],
        "industry": ["retail", "finance", "retail", "finance", "tech", "tech"],
        "exited": [0, 1, 0, 1, 0, 0],
    }
)
# One problem per row after the first; the comment is the 1-based data-row number.
BAD = pd.DataFrame(
    {
        "id": ["n1", "n2", "n3", "n4", "n5", "n1", "n2", "n8", "n9"],
        "employees": [10, "many", -5, 10, 10, 10, 11, 10, 10],
        "revenue": [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, float("inf")],
        "industry": ["tech", "tech", "tech", SCRIPT, ODD_CATEGORY, "tech", "tech", "tech", "tech"],
        "exited": [0, 0, 0, 0, 0, 0, 0, 3, 0],
    }
)
# (error type, column, offending data rows as the page must number them)
EXPECTED = [
    ("wrong_type", "employees", [2]),
    ("out_of_range", "employees", [3]),
    ("unknown_category", "industry", [4, 5]),
    ("duplicate_row", None, [6]),
    ("duplicate_id", "id", [7]),
    ("invalid_label", "exited", [8]),
    ("infinite_value", "revenue", [9]),
]


@pytest.fixture(scope="module")
def contract() -> C.Contract:
    """The inferred contract, its learned rules enforced and its structure inferred from a few
    rows, so each bad row below is quarantined."""
    inferred = C.infer(
        TRAIN,
        target="exited",
        id_columns=["id"],
        features=["employees", "revenue", "industry"],
        categorical=["industry"],
        task="classification",
        evidence=1,
    )
    return C.enforced(inferred, None)


class Page(HTMLParser):
    """Check that every element is closed in order; collect the text and the table's rows."""

    VOID = frozenset({"meta", "br", "link", "img", "hr", "input", "wbr", "col"})

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.chunks: list[str] = []
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs) -> None:
        self.seen.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_startendtag(self, tag: str, attrs) -> None:
        self.seen.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
            return
        self.stack.pop()
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self.stack and self.stack[-1] == "style":
            return
        self.chunks.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    def violation_row(self, error_type: str, column: str | None) -> dict[str, str]:
        header = self.rows[0]
        wanted = column if column is not None else "(whole row)"
        found = [
            dict(zip(header, r, strict=True))
            for r in self.rows[1:]
            if r[1] == error_type and r[2] == wanted
        ]
        assert len(found) == 1, (error_type, column, self.rows)
        return found[0]


def parse(text: str) -> Page:
    page = Page(text)
    assert not page.errors, page.errors
    assert page.stack == [], f"unclosed: {page.stack}"
    if "html" in page.seen:
        for tag in ("html", "head", "style", "body", "main", "header", "footer"):
            assert page.seen.count(tag) == 1, tag
    return page


def assert_self_contained(text: str) -> None:
    lower = text.lower()
    for banned in ("http://", "https://", "<script", "<link", "@import", "url(", "src=", "//cdn"):
        assert banned not in lower, banned


def write(tmp_path: Path, result: Q.QualityResult, contract, name: str = HOSTILE_NAME) -> str:
    target = tmp_path / "reports" / relative_path(SHA)
    written = write_file_report(
        target,
        file_name=name,
        sha256=SHA,
        result=result,
        contract=contract,
        run_id=RUN_ID,
        checked_at=CHECKED,
    )
    assert written == target
    assert target.is_file()
    return target.read_text(encoding="utf-8")


def test_every_violation_is_listed_with_rows_and_escaped_examples(tmp_path, contract) -> None:
    result = Q.check_frame(BAD, contract)
    assert sorted((v.error_type, v.column) for v in result.violations) == sorted(
        (kind, column) for kind, column, _ in EXPECTED
    )
    text = write(tmp_path, result, contract)
    assert_self_contained(text)
    page = parse(text)

    assert page.seen.count("html") == page.seen.count("main") == page.seen.count("table") == 1
    for kind, column, rows in EXPECTED:
        row = page.violation_row(kind, column)
        assert row["Rows"] == str(len(rows))
        assert row["Row numbers"] == ", ".join(map(str, rows))
        assert row["Level"] == "row"
    assert page.violation_row("out_of_range", "employees")["Example values"] == "-5"
    assert page.violation_row("wrong_type", "employees")["Example values"] == "'many'"
    industry = page.violation_row("unknown_category", "industry")
    assert industry["Example values"] == f"{SCRIPT!r} {ODD_CATEGORY!r}"
    assert industry["Criticality"] == "low"
    assert page.violation_row("invalid_label", "exited")["Criticality"] == "high"

    # Hostile text arrives as text, never as markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<b>" not in text
    assert "batch &lt;b&gt;05&lt;/b&gt; &amp; &quot;Zürich&quot; ✓.csv" in text
    assert "<title>Data quality: batch &lt;b&gt;05" in text

    flat = page.text
    assert "rows quarantined" in flat
    assert "whole file rejected" not in flat
    for label, value in (("Rows read", 9), ("Valid rows", 1), ("Invalid rows", 8)):
        assert f"{value} {label}" in flat
    assert "88.9% Share invalid" in flat
    assert SHA in flat and RUN_ID in flat
    assert "2024-05-06 02:00:00 UTC" in flat
    assert contract.version[:12] in flat and contract.version[:13] not in flat
    # The overall criticality is the highest one (invalid_label), in its colour.
    assert 'Overall criticality</dt><dd><span class="badge crit-high">high</span>' in text
    # Two bar charts: by type and by column, a bar per type (7) and per column (6 with the row).
    assert page.seen.count("svg") == 2
    assert page.seen.count("rect") == 7 + 6


def test_a_rejected_file_says_why(tmp_path, contract) -> None:
    result = Q.check_frame(BAD.drop(columns=["industry"]), contract)
    assert result.rejected is not None
    text = write(tmp_path, result, contract)
    assert_self_contained(text)
    page = parse(text)

    flat = page.text
    assert "whole file rejected" in flat
    assert "Why the whole file was rejected required column 'industry' is missing" in flat
    assert "9 Rows read 0 Valid rows 9 Invalid rows 100.0% Share invalid" in flat
    row = page.violation_row("missing_column", "industry")
    assert (row["Level"], row["Rows"], row["Criticality"]) == ("file", "file", "high")
    assert "svg" not in page.seen


def test_an_unreadable_file_without_contract(tmp_path) -> None:
    result = Q.file_problem("unreadable", "not text: binary content at byte 0 <\x00>")
    text = write(tmp_path, result, None, name="image.png.csv")
    page = parse(text)

    flat = page.text
    assert "whole file rejected" in flat
    assert "not text: binary content at byte 0 <\\x00>" in flat
    assert "Contract version none" in flat
    assert "0 Rows read 0 Valid rows 0 Invalid rows n/a Share invalid" in flat


def test_a_clean_file_says_clean(tmp_path, contract) -> None:
    result = Q.check_frame(BAD.iloc[[0]], contract)
    assert result.violations == []
    page = parse(write(tmp_path, result, contract))

    flat = page.text
    assert "clean" in flat and "Every row passed the contract" in flat
    assert "rows quarantined" not in flat and "rejected" not in flat
    assert "Every violation (0) None: the file meets its contract." in flat
    assert "table" not in page.seen and "svg" not in page.seen


def test_a_warning_alone_keeps_the_file_clean(tmp_path, contract) -> None:
    result = Q.check_frame(BAD.iloc[[0]].assign(**{"<i>note</i>": "x"}), contract)
    page = parse(write(tmp_path, result, contract))

    assert "clean low" in page.text
    assert "1 file-level issue(s) are listed below" in page.text
    row = page.violation_row("extra_column", "<i>note</i>")
    assert row["Row numbers"] == "the whole file"


def test_row_numbers_stop_at_twenty(tmp_path, contract) -> None:
    frame = pd.concat([BAD.iloc[[0]]] * 30, ignore_index=True)
    frame["id"] = [f"r{i}" for i in range(30)]
    frame.loc[3:, "employees"] = 1000  # 27 rows out of range, data rows 4..30
    result = Q.check_frame(frame, contract)
    page = parse(write(tmp_path, result, contract))

    row = page.violation_row("out_of_range", "employees")
    assert row["Rows"] == "27"
    expected = ", ".join(str(n) for n in range(4, 24)) + " … and 7 more"
    assert row["Row numbers"] == expected


def test_many_columns_keep_the_charts_short(tmp_path, contract) -> None:
    frame = BAD.iloc[[0, 2]].copy()
    for i in range(40):
        frame[f"employees_{i}"] = 1
    frame.loc[:, "revenue"] = [-1.0, -2.0]
    result = Q.check_frame(frame, contract)
    page = parse(write(tmp_path, result, contract))

    assert len(page.rows) == 1 + len(result.violations) == 1 + 40 + 2
    # One type (out_of_range) in two columns; the extra columns are file-level: no bar.
    assert page.seen.count("rect") == 1 + 2


def test_a_chart_shows_the_biggest_bars_and_counts_the_rest() -> None:
    bars = [(f"<col {i}>", 100 - i, "low") for i in range(MAX_BARS + 5)]
    svg = bar_chart("By column", bars, "rows")
    page = parse(svg)

    assert page.seen.count("rect") == MAX_BARS
    assert "… and 5 more" in page.text
    assert "&lt;col 0&gt;: 100 rows" in svg and "<col" not in svg
    assert f"&lt;col {MAX_BARS}&gt;" not in svg


def test_control_characters_and_undecodable_names_survive(tmp_path, contract) -> None:
    name = "bad\udcff\x1b[31m.csv"  # what os.listdir gives for bytes that are not UTF-8
    page = parse(write(tmp_path, Q.check_frame(BAD.iloc[[0]], contract), contract, name=name))
    assert "bad\\udcff\\x1b[31m.csv" in page.text


def test_writing_is_atomic_and_replaces(tmp_path, contract) -> None:
    first = write(tmp_path, Q.check_frame(BAD, contract), contract)
    second = write(tmp_path, Q.check_frame(BAD.iloc[[0]], contract), contract)
    folder = tmp_path / "reports" / "quality"
    assert [p.name for p in folder.iterdir()] == [f"{SHA[:16]}.html"]
    assert first != second and "Every row passed the contract" in second


@pytest.mark.parametrize("with_base", [True, False])
def test_a_rejection_naming_server_paths_shows_none(tmp_path, contract, with_base) -> None:
    """The page is served as it is written (issue 11): a path of the project shows relative to
    it, any other by its file name; without the project's folder, every one by its name."""
    project = tmp_path / "project"
    copy = project / "ingesteddata" / "quarantine" / ".source-5e5e-ab12.tmp"
    library = Path(sys.prefix) / "lib" / "pyarrow" / "parquet.py"
    why = f"cannot read as parquet: Could not open Parquet input source '{copy}' ({library})"
    result = Q.file_problem("unreadable", why)
    text = render(
        file_name="bad.parquet",
        sha256=SHA,
        result=result,
        contract=contract,
        run_id=RUN_ID,
        checked_at=CHECKED,
        base=project if with_base else None,
    )
    page = parse(text)
    for folder in (tmp_path, tmp_path.resolve(), Path(sys.prefix), REPO):
        assert str(folder) not in text, folder
    shown = "ingesteddata/quarantine/" if with_base else "…/"
    shown += ".source-5e5e-ab12.tmp"
    expected = f"Could not open Parquet input source '{shown}' (…/parquet.py)"
    assert expected in page.text
    assert page.text.count(expected) == 2  # why the file was rejected, and the violations table


def test_time_is_shown_in_utc_and_must_be_aware(contract) -> None:
    result = Q.check_frame(BAD.iloc[[0]], contract)
    args = dict(file_name="x.csv", sha256=SHA, result=result, contract=contract, run_id=RUN_ID)
    paris = datetime(2024, 5, 6, 4, 0, tzinfo=timezone(timedelta(hours=2)))
    assert "2024-05-06 02:00:00 UTC" in render(**args, checked_at=paris)
    with pytest.raises(ValueError, match="timezone-aware"):
        render(**args, checked_at=datetime(2024, 5, 6, 2, 0))


@pytest.mark.parametrize(
    ("rows", "count", "expected"),
    [
        ([], 0, ""),
        ([0], 1, "1"),
        ([0, 4, 1999], 3, "1, 5, 2,000"),
        (list(range(25)), 25, ", ".join(str(n) for n in range(1, 21)) + " … and 5 more"),
        (list(range(20)), 1500, ", ".join(str(n) for n in range(1, 21)) + " … and 1,480 more"),
    ],
)
def test_row_numbers(rows, count, expected) -> None:
    assert row_numbers(rows, count) == expected


def test_relative_path_is_named_by_content_only() -> None:
    assert relative_path(SHA) == f"quality/{SHA[:16]}.html"
    with pytest.raises(ValueError, match="not a SHA-256"):
        relative_path("../../etc/passwd")


def test_importing_the_module_is_cheap() -> None:
    code = (
        "import sys, pipeline.report.file_page\n"
        "heavy = {'pandas', 'numpy', 'matplotlib', 'reportlab', 'jinja2'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


TEMPLATE_SYNTAX = "{{ 7 * 7 }}{% raw %}{# x #}"


def test_template_syntax_and_quotes_in_input_stay_text(tmp_path, contract) -> None:
    frame = BAD.iloc[[0]].assign(**{f"<svg onload='1'>{TEMPLATE_SYNTAX}": "x"})
    result = Q.check_frame(frame, contract)
    name = f"{TEMPLATE_SYNTAX}<script>'\"&.csv"
    text = write(tmp_path, result, contract, name=name)
    assert_self_contained(text)
    page = parse(text)

    assert "{{ 7 * 7 }}{% raw %}{# x #}&lt;script&gt;&#x27;&quot;&amp;.csv" in text
    # Shown as typed in the title, heading, file name, the column and its message.
    assert page.text.count("{{ 7 * 7 }}") == 5
    row = page.violation_row("extra_column", f"<svg onload='1'>{TEMPLATE_SYNTAX}")
    assert row["Level"] == "file"
    assert "<svg onload" not in text and "&lt;svg onload=&#x27;1&#x27;&gt;" in text


def test_the_templates_ship_in_the_wheel() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["pipeline"]
    package = REPO / "pipeline"
    shipped = {p for pattern in patterns for p in package.glob(pattern)}
    templates = set((package / "report" / "templates").iterdir())
    assert templates and templates <= shipped, templates - shipped
