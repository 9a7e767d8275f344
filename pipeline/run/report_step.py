"""The report step: the run's PDF, built from what the run recorded."""

from __future__ import annotations

import logging

from pipeline.run.record import Run

log = logging.getLogger("riskwatch")


def report(run: Run) -> str:
    """Build the run's PDF report; return its path."""
    from pipeline.report.run_pdf import build_report

    result = build_report(run.engine, run.settings, run.run_id)
    log.info("report: %s", result.path)
    return str(result.path)
