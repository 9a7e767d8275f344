"""The report's formatters: evidence and thresholds in words, column names, table widths that
break no word, headers on every page, a time axis fitted to its data, labels that never overlap."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pypdf
import pytest

from pipeline.drift import step as drift_step
from pipeline.formatting import OUTPUT_COLUMNS, fmt_column, plain_names
from pipeline.report.pdf_doc import CELL_PADDING, Doc
from pipeline.report.sections import steps_span
from pipeline.report.timeline import LABEL_ROWS, axis_title, stagger, time_span, time_ticks
from pipeline.report.wording import (
    column_label,
    evidence_rows,
    key_label,
    readable,
    thresholds_text,
)

T0 = datetime(2026, 12, 2, 0, 45, 53, tzinfo=UTC).timestamp()


def test_the_output_columns_are_the_drift_steps() -> None:
    assert set(OUTPUT_COLUMNS) == {drift_step.PREDICTION, drift_step.TARGET}
    assert column_label("__prediction__") == "model prediction"
    assert column_label("__target__") == "label"
    assert fmt_column("region") == "region"
    assert plain_names("__prediction__ drifted, __target__ not drifted") == (
        "model prediction drifted, label not drifted"
    )


@pytest.mark.parametrize(
    ("value", "key", "expected"),
    [
        (None, "", "n/a"),
        (True, "", "yes"),
        (False, "", "no"),
        (0.05, "", "0.0500"),
        (1500, "", "1,500"),
        ({}, "excluded", "none"),
        ([], "drifted_features", "none"),
        ([0.2104, 0.6429], "production_ci", "0.2104 – 0.6429"),
        ([0.0121, 0.4616], "drop_interval", "0.0121 – 0.4616"),
        ([1, 1], "persistence", "1 of 1"),
        ([1, 2, 3], "sizes", "1, 2, 3"),
        (["lastmonth_activity", "region"], "drifted_features", "lastmonth_activity, region"),
        ("not_drifted", "status", "not drifted"),
        ("years_as_client", "column", "years_as_client"),
        ("__prediction__", "column", "model prediction"),
        (
            {"__prediction__": "drifted", "__target__": "not_drifted"},
            "outputs",
            "model prediction: drifted; label: not drifted",
        ),
        ({"region": "too few rows"}, "excluded", "region: too few rows"),
        ("challenger 0.4885 vs champion 0.1965", "", "challenger 0.4885 vs champion 0.1965"),
    ],
)
def test_readable_gives_words_never_a_repr(value, key, expected) -> None:
    assert readable(value, key) == expected


def test_evidence_rows_are_labelled_sentences() -> None:
    evidence = {
        "metric": "f1",
        "production_ci": [0.2104, 0.6429],
        "n_rows": 500,
        "require_interval": True,
        "data_drift": {
            "status": "not_drifted",
            "drifted_features": ["region"],
            "outputs": {"__prediction__": "drifted", "__target__": "not_drifted"},
            "persistence": [1, 1],
            "excluded": {},
        },
        "empty": {},
    }
    assert evidence_rows(evidence) == [
        ("Metric", "f1"),
        ("Production interval", "0.2104 – 0.6429"),
        ("Rows", "500"),
        ("Require interval", "yes"),
        ("Data drift: status", "not drifted"),
        ("Data drift: drifted features", "region"),
        ("Data drift: model outputs", "model prediction: drifted; label: not drifted"),
        ("Data drift: persistence (runs drifted of runs)", "1 of 1"),
        ("Data drift: columns left out", "none"),
        ("Empty", "none"),
    ]
    assert evidence_rows(None) == [] and evidence_rows({}) == []
    for label, value in evidence_rows(evidence):
        assert "{" not in label + value and "'" not in label + value and "__" not in value


def test_thresholds_read_as_one_phrase() -> None:
    text = thresholds_text(
        {"alpha": 0.05, "min_wasserstein": 0.15, "min_rows": 30, "persistence": [1, 1]}
    )
    assert text == (
        "alpha 0.0500, minimum Wasserstein effect 0.1500, minimum rows 30, "
        "persistence (runs drifted of runs) 1 of 1"
    )
    assert key_label("psi_epsilon") == "PSI epsilon"


def _pdf_text(flowables: list) -> list[str]:
    doc = Doc()
    out = io.BytesIO()
    template = doc.SimpleDocTemplate(out, pagesize=doc.pagesize)
    template.build(flowables)
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(out.getvalue())).pages]


def test_a_long_table_repeats_its_header_on_every_page_and_splits_no_row() -> None:
    doc = Doc()
    rows = [[f"row {i}", "a cell long enough to wrap " * 3] for i in range(150)]
    table = doc.table(["Name", "Long text"], rows, [0.3, 0.7])
    assert table.repeatRows == 1 and table.splitInRow == 0
    pages = _pdf_text([table])
    assert len(pages) > 2
    for text in pages:
        assert text.startswith("Name\nLong text") or text.startswith("Name Long text"), text[:40]
    kv = doc.key_values([(f"k{i}", "v") for i in range(200)], header=("Evidence", "Value"))
    assert all(p.startswith(("Evidence\nValue", "Evidence Value")) for p in _pdf_text([kv]))


def test_no_word_is_broken_inside_a_cell() -> None:
    doc = Doc()
    names = ["number_of_employees", "lastmonth_activity", "support_tickets"]
    rows = [[n, "numeric", "ks", "0.143", "0.001", "0.253", "0.127", "ok", "yes"] for n in names]
    widths = [0.12, 0.14, 0.08, 0.12, 0.12, 0.1, 0.1, 0.12, 0.1]
    table = doc.table(
        ["Column", "Kind", "Test", "Statistic", "p", "E", "PSI", "S", "D"], rows, widths
    )
    need = doc.stringWidth("number_of_employees", doc.cell.fontName, doc.cell.fontSize)
    assert table._colWidths[0] >= need + 2 * CELL_PADDING
    assert sum(table._colWidths) == pytest.approx(doc.width)
    text = _pdf_text([table])[0]
    assert all(n in text.split("\n") for n in names)
    # A table that cannot fit its words keeps the widths it was given.
    crowded = doc.table(None, [["x" * 40] * 6], [1 / 6] * 6)
    assert crowded._colWidths == pytest.approx([doc.width / 6] * 6)


def test_the_time_axis_fits_seconds_and_months() -> None:
    runs = [T0, T0 + 46, T0 + 92]
    t0, t1 = time_span(runs)
    assert t1 - t0 == pytest.approx(92 * 1.08)
    ticks = time_ticks(t0, t1)
    assert 3 <= len(ticks) <= 7 and all(label.count(":") == 2 for _, label in ticks)
    assert axis_title(t0, t1) == "time (UTC) on 02 Dec 2026"
    one = time_span([T0])
    assert one[1] - one[0] < 15 and one[0] < T0 < one[1]
    months = [T0, T0 + 120 * 86400]
    ticks = time_ticks(*time_span(months))
    assert 3 <= len(ticks) <= 7 and all(":" not in label for _, label in ticks)
    assert axis_title(*time_span(months)) == "time (UTC)"
    assert time_span([]) == (0.0, 10.0)


def test_deployment_labels_never_overlap() -> None:
    xs, widths = [100.0, 102.0, 104.0, 300.0, 301.0], [20.0] * 5
    lines = stagger(xs, widths)
    assert lines == [0, 1, 2, 0, 1]
    placed = list(zip(xs, widths, lines, strict=True))
    for i, (x, w, line) in enumerate(placed):
        for x2, _, line2 in placed[i + 1 :]:
            assert line != line2 or x2 >= x + w
    assert max(stagger([float(i) for i in range(10)], [20.0] * 10)) == LABEL_ROWS - 1
    assert stagger([], []) == []


def test_the_duration_is_the_steps_span() -> None:
    start = datetime(2026, 12, 2, 0, 45, 53, tzinfo=UTC)
    steps = [
        {"started_at": start, "finished_at": start + timedelta(seconds=0.5), "seconds": 0.5},
        {"started_at": start + timedelta(seconds=1), "finished_at": None, "seconds": 0.25},
    ]
    assert steps_span(steps) == pytest.approx(1.25)
    assert steps_span([]) is None
