"""The diagnose step: summary statistics and missing shares of the new rows and of the test
file, the production model's score and predictions on the test file, library versions and the
outdated-packages check (started early by the caller, never waited on beyond its timeout).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pipeline.model import registry
from pipeline.run.record import Run
from pipeline.run.score_step import record_scored, score
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.report.diagnostics import OutdatedPackages

log = logging.getLogger("riskwatch")


def diagnose(run: Run, new_frame: pd.DataFrame | None, outdated: OutdatedPackages | None) -> None:
    """Record the diagnostics of the production model, and the outdated packages if asked."""
    from pipeline.ingest.readers import read_file
    from pipeline.report import diagnostics

    s = run.settings
    loaded = registry.load_production(run.engine, s)
    features = loaded.features
    if new_frame is not None and len(new_frame):
        cols = [c for c in new_frame.columns if not str(c).startswith("_")]
        writes.record_rows(
            run.engine,
            tables.feature_stats,
            run.run_id,
            diagnostics.summary_stats(new_frame, features.numeric, "new"),
        )
        writes.record_rows(
            run.engine,
            tables.missing_values,
            run.run_id,
            diagnostics.missing_values(new_frame, cols, "new"),
        )
    test_path = s.path("paths.test_data")
    if test_path.is_file():
        test = read_file(test_path, features.categorical)
        missing = [c for c in [*features.columns, s["data.target"]] if c not in test.columns]
        if missing:
            log.warning("test file %s lacks column(s) %s: not scored", test_path, missing)
        else:
            _on_test_file(run, loaded, test)
    else:
        log.info("no test file at %s: test diagnostics skipped", test_path)
    writes.record_diagnostic(
        run.engine, run.run_id, "library_versions", diagnostics.library_versions()
    )
    if outdated is not None:
        writes.record_diagnostic(run.engine, run.run_id, "outdated_packages", outdated.result())


def _on_test_file(run: Run, loaded: registry.LoadedModel, test: pd.DataFrame) -> None:
    """Score the production model on the test file; record its predictions and statistics."""
    import json

    from pipeline.model.features import feature_frame
    from pipeline.report import diagnostics

    features = loaded.features
    result, pred, proba = score(run, loaded, test)
    record_scored(run, loaded.version, "production", "test", test, result, pred)
    y = test[run.settings["data.target"]].to_numpy()
    records = json.loads(feature_frame(test, features).to_json(orient="records"))
    writes.record_predictions(
        run.engine,
        [
            {
                "run_id": run.run_id,
                "source": "diagnostics",
                "model_version": loaded.version,
                "features": rec,
                "prediction": float(p),
                "probability": None if proba is None else float(proba[i]),
                "actual": float(y[i]),
            }
            for i, (rec, p) in enumerate(zip(records, pred, strict=True))
        ],
    )
    writes.record_rows(
        run.engine,
        tables.feature_stats,
        run.run_id,
        diagnostics.summary_stats(test, features.numeric, "test"),
    )
    writes.record_rows(
        run.engine,
        tables.missing_values,
        run.run_id,
        diagnostics.missing_values(test, features.columns, "test"),
    )
