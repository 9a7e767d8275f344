"""Estimates for a run that brings no rows of its own (a labels run, a predict run): the periods
that got predictions since the production version's periods were last estimated (the API's
requests, a backfill's files), each over every prediction stored in it
(`estimate_step.stored_periods`). A tick's estimate step does the same after its own periods.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pipeline.run import estimate_period
from pipeline.run.estimate_step import stored_periods
from pipeline.run.record import Run
from pipeline.storage import estimates

if TYPE_CHECKING:
    from pipeline.model.registry import LoadedModel

log = logging.getLogger("riskwatch")


def estimate_stored(run: Run, loaded: LoadedModel | None = None) -> dict[str, Any] | None:
    """`stored_periods` for a run that brings no rows of its own to estimate (a labels run, a
    predict run): the `estimate` object of its summary, or None when there is no production
    model, no calibration or no period to estimate. `loaded`: the production model, when the
    run has it loaded already."""
    from pipeline.model import registry

    s = run.settings
    version = loaded.version if loaded is not None else registry.production_version(s, run.engine)
    if version is None:
        return None
    with run.engine.connect() as conn:
        cal = estimates.calibration_of(conn, version)
        if cal is None or cal["method"] is None:
            return None
        if not estimate_period.new_period_starts(run, conn, version, set()):
            return None
    production = loaded if loaded is not None else registry.load_production(run.engine, s)
    periods: list[dict[str, Any]] = []
    with run.engine.connect() as conn:
        rows = stored_periods(run, conn, production, cal, set(), periods)
    estimates.record_estimates(run.engine, run.run_id, rows)
    if not periods:
        return None
    log.info("estimate: %d period(s) with stored predictions estimated", len(periods))
    return {
        "model_version": version,
        "estimated": True,
        "calibration": {"method": cal["method"], "ece": cal["ece"]},
        "confidence": s["policy.confidence"],
        "period": s["monitoring.period"],
        "periods": periods,
    }
