"""The PDF reports of real runs, read back as text with pypdf: a first run, a kept model, a
retrain with a challenger (promoted), and a no-op; each says its verdict first, in words."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pypdf
import pytest
import sqlalchemy as sa

from pipeline.formatting import fmt_duration
from pipeline.report.run_pdf import build_report
from pipeline.report.sections import steps_span
from pipeline.report.verdict import verdict
from pipeline.settings import Settings, load_settings
from pipeline.storage import db
from pipeline.storage import tables as t
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS
from tests.e2e import drop, run_json

pytestmark = pytest.mark.slow

# What no reader should meet: a Python dict's repr, JSON's braces, the drift step's names.
FORBIDDEN = ("{'", "{}", '{"', "__prediction__", "__target__")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A project with four real ticks: first model, kept, retrained and promoted, no-op."""
    root = tmp_path_factory.mktemp("report-runs")
    batches = tmp_path_factory.mktemp("report-batches")
    write_sample_data(batches, batches=3, rows=500, test_rows=300)
    (root / "sourcedata").mkdir()
    (root / "testdata").mkdir()
    (root / "riskwatch.toml").write_text(QUICK_SETTINGS)
    (root / "testdata" / "testdata.csv").write_bytes(
        (batches / "testdata" / "testdata.csv").read_bytes()
    )
    ids = {}
    for kind, batch in (("first", 1), ("kept", 2), ("retrain", 3), ("noop", None)):
        if batch is not None:
            drop(root, batches / "sourcedata" / f"clients_batch_{batch:02d}.csv")
        ids[kind] = run_json(root)["run_id"]
    settings = load_settings(root / "riskwatch.toml", environ={})
    engine = db.make_engine(settings.database_url)
    build_report(engine, settings, ids["noop"])  # a no-op writes none; `riskwatch report` can
    yield {"settings": settings, "engine": engine, "ids": ids}
    engine.dispose()


def _text(settings: Settings, run_id: str) -> list[str]:
    path = settings.path("paths.reports") / f"run-{run_id}.pdf"
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


def _row(engine: sa.Engine, run_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().one()
        steps = conn.execute(sa.select(t.steps).where(t.steps.c.run_id == run_id)).mappings()
        found = dict(row)
        found["steps"] = [dict(s) for s in steps]
    if isinstance(found["summary"], str):
        found["summary"] = json.loads(found["summary"])
    return found


@pytest.mark.parametrize("kind", ["first", "kept", "retrain", "noop"])
def test_no_repr_and_no_internal_name_anywhere(runs, kind) -> None:
    text = "\n".join(_text(runs["settings"], runs["ids"][kind]))
    assert [w for w in FORBIDDEN if w in text] == []
    assert "None" not in text.replace("none", "")


@pytest.mark.parametrize(
    ("kind", "start"),
    [
        ("first", "First model trained and deployed as v1"),
        ("kept", "Model v1 kept: f1 "),
        ("retrain", "Retrained (model degraded): challenger v2 promoted"),
        ("noop", "Nothing new to process: model v2 stays."),
    ],
)
def test_the_verdict_is_the_first_line_and_the_one_function_says_it(runs, kind, start) -> None:
    run = _row(runs["engine"], runs["ids"][kind])
    first_page = _text(runs["settings"], run["id"])[0]
    after_title = first_page.split("from the riskwatch database.\n", 1)[1]
    sentence = verdict(run["summary"])
    assert sentence.startswith(start)
    assert " ".join(after_title.split("1. The run")[0].split()) == sentence


@pytest.mark.parametrize("kind", ["first", "retrain"])
def test_the_duration_is_the_span_of_the_step_timings(runs, kind) -> None:
    run = _row(runs["engine"], runs["ids"][kind])
    # The report step, running while its report was written, is not in it.
    steps = [s for s in run["steps"] if s["name"] != "report"]
    text = "\n".join(_text(runs["settings"], run["id"]))
    assert f"Duration\n{fmt_duration(steps_span(steps))}\n" in text
    assert "whole run" in text


def test_a_retrain_compares_champion_and_challenger_on_the_test_file(runs) -> None:
    text = "\n".join(_text(runs["settings"], runs["ids"]["retrain"]))
    assert "Champion vs challenger on the test file (f1)" in text
    section = text.split("Champion vs challenger on the test file (f1)", 1)[1]
    assert "champion\nv1\n" in section and "challenger\nv2\n" in section
    assert "Challenger minus champion:" in section
    for kind in ("first", "kept", "noop"):
        assert "Champion vs challenger" not in "\n".join(_text(runs["settings"], runs["ids"][kind]))


def test_long_names_are_never_broken_and_headers_repeat(runs) -> None:
    pages = _text(runs["settings"], runs["ids"]["retrain"])
    lines = "\n".join(pages).split("\n")
    assert "number_of_employees" in lines and "lastmonth_activity" in lines
    # The retrain decision's evidence runs onto page 2: its header comes with it.
    assert "Data drift: status" in pages[0]
    assert pages[1].split("page 2\n", 1)[1].startswith("Evidence\nValue")


def _links(settings: Settings, run_id: str) -> list[str]:
    reader = pypdf.PdfReader(settings.path("paths.reports") / f"run-{run_id}.pdf")
    found = []
    for page in reader.pages:
        for annot in page.get("/Annots") or []:
            action = annot.get_object().get("/A")
            if action is not None and "/URI" in action:
                found.append(str(action["/URI"]))
    return found


def test_each_checked_file_links_to_its_quality_report(runs, tmp_path: Path) -> None:
    settings, engine, run_id = runs["settings"], runs["engine"], runs["ids"]["retrain"]
    with engine.connect() as conn:
        (file_id,) = conn.execute(
            sa.select(t.quality_files.c.id).where(t.quality_files.c.run_id == run_id)
        ).scalars()
    assert _links(settings, run_id) == [f"/quality/{file_id}.html"]
    with_base = load_settings(
        settings.base_dir / "riskwatch.toml",
        environ={},
        overrides={
            "alerts.report_base_url": "https://riskwatch.example/app/",
            "paths.reports": str(tmp_path),
        },
    )
    build_report(engine, with_base, run_id)
    assert _links(with_base, run_id) == [f"https://riskwatch.example/app/quality/{file_id}.html"]
    assert _links(settings, runs["ids"]["noop"]) == []
