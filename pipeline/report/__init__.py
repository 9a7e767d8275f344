"""What people read: the PDF report per run, the HTML quality page per file, their charts, and
the run's diagnostics (summary statistics, missing values, packages), a run's verdict in one
sentence (`verdict.verdict(summary, kind)`: the PDF's first line, the one source the run page
and the overview use too), and its decisions' evidence in words for the pages (`evidence`).

The PDF: `load` reads the run's rows (the report's only reads), `sections` and `data_sections`
lay them out with the styles of `pdf_doc` (values in words through `wording`), and
`run_pdf.build_report` writes the file and its `reports` row. The per-file page: `file_page`,
rendered from `templates/` by Jinja. It may import storage, settings, the vocabulary,
formatting, infra and the model's `kind` (how a version was built), never the run or the CLI;
reportlab and Jinja are imported inside the functions that draw or render (the charts are
reportlab drawings: `charts`, `timeline`, made of `plot`'s shapes). What each chart shows is
computed once, by `chart_data` (pure: rows in, series out): the PDF draws it with reportlab and
the run page (`app.run_charts`) with Chart.js, from the rows `load.read_run` reads.
"""

# The modules other packages may import (tests/test_layout.py holds every import to this list);
# the rest are this package's own.
__all__ = [
    "chart_data",
    "diagnostics",
    "evidence",
    "file_page",
    "load",
    "run_pdf",
    "verdict",
]
