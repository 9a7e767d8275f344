"""The report step: the run's PDF, built from what the run recorded."""

from __future__ import annotations

import logging

from pipeline.run.record import Run
from pipeline.storage import db

log = logging.getLogger("riskwatch")


def report(run: Run) -> str:
    """Build the run's PDF report, showing the status the run ends with; return its path."""
    from pipeline.report.run_pdf import build_report

    result = build_report(run.engine, run.settings, run.run_id, status=run.summary.get("status"))
    log.info("report: %s", result.path)
    return str(result.path)


def report_of_dead_runs(run: Run) -> list[str]:
    """Write the report of each run found dead in its report step (`Run.recovered`): its work
    was done and recorded, only its report was missing. Return the reports' paths."""
    from pipeline.report.run_pdf import build_report

    written = []
    for dead in run.recovered:
        if dead["step"] != "report":
            continue
        try:
            result = build_report(run.engine, run.settings, dead["id"])
        except Exception as exc:
            if db.as_riskwatch_error(exc) is not None:
                raise
            # Tried once: this tick goes on, and the dead run stays failed, without a report.
            log.warning("could not write the report of run %s: %s", dead["id"], exc)
            continue
        log.info("report of run %s, which died writing it: %s", dead["id"], result.path)
        written.append(str(result.path))
    return written
