"""The diagnose step: summary statistics and missing shares of the new rows and of the test
file, the production model's score and predictions on the test file, library versions and the
outdated-packages check (pip's cached answer, read when the run starts; never waited on).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pipeline import predictions
from pipeline.infra.outdated import OutdatedPackages
from pipeline.model import registry
from pipeline.run.record import Run
from pipeline.run.score_step import read_scorable, record_scored, score
from pipeline.settings import Settings
from pipeline.storage import tables, writes

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.model.metrics import Score

log = logging.getLogger("riskwatch")

# Where pip's answer is cached, in the reports folder.
OUTDATED_CACHE = "outdated_packages.json"


def outdated_check(settings: Settings) -> OutdatedPackages | None:
    """Read pip's cached answer (and start its refresh when stale), or None when switched off."""
    if not settings["diagnostics.outdated_packages"]:
        return None
    return OutdatedPackages(
        settings.path("paths.reports") / OUTDATED_CACHE,
        max_age_hours=settings["diagnostics.outdated_cache_hours"],
        timeout=settings["diagnostics.outdated_timeout_seconds"],
    )


def diagnose(run: Run, new_frame: pd.DataFrame | None, outdated: OutdatedPackages | None) -> None:
    """Record the diagnostics of the production model, and the outdated packages if asked."""
    from pipeline.model.features import absent_features
    from pipeline.report import diagnostics

    s = run.settings
    loaded = registry.load_production(run.engine, s)
    features = loaded.features
    if new_frame is not None and len(new_frame):
        cols = [c for c in new_frame.columns if not str(c).startswith("_")]
        cols += absent_features(cols, features)  # missing in every row: the model sees so
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
        test = read_scorable(test_path, loaded)
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
        status = outdated.status()
        writes.record_diagnostic(run.engine, run.run_id, "outdated_packages_checked", status)
        when = status["checked_at"]
        checked = f"checked at {when}" if when else "never checked yet"
        log.info("outdated packages: %s (%s)", status["reason"], checked)


def _on_test_file(run: Run, loaded: registry.LoadedModel, test: pd.DataFrame) -> None:
    """Score the production model on the test file; record its predictions and statistics."""
    import json

    from pipeline.model.features import feature_frame
    from pipeline.report import diagnostics

    features = loaded.features
    result, pred, proba = score(run, loaded, test)
    record_scored(run, loaded.version, "production", "test", test, result, pred)
    _versus_on_test(run, loaded, test, result)
    y = test[run.settings["data.target"]].to_numpy()
    records = json.loads(feature_frame(test, features).to_json(orient="records"))
    predictions.record(
        run.engine,
        predictions.request_rows(
            loaded, run.settings, records, pred, proba, "diagnostics", run_id=run.run_id, actual=y
        ),
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


def _versus_on_test(run: Run, loaded: registry.LoadedModel, test: pd.DataFrame, own: Score) -> None:
    """When the run trained a challenger against a champion, score both on the test file (rows
    neither was trained on), as roles champion and challenger: the PDF and the run page set
    them side by side. The one in production is `loaded` (scored already, `own`); the other
    is loaded from the registry. Scores only: the confusion counts stay the production
    model's. A challenger scored on the test file at training time (no holdout) is not scored
    again."""
    promotion = run.summary.get("promotion") or {}
    champion = (run.summary.get("score") or {}).get("model_version")
    challenger = promotion.get("challenger_version")
    if not promotion.get("compared") or champion is None or challenger is None:
        return
    for role, version in (("champion", champion), ("challenger", challenger)):
        if role == "challenger" and promotion.get("score_source") == "test":
            continue
        if version == loaded.version:
            result = own
        else:
            result, _, _ = score(run, registry.load(run.engine, run.settings, version), test)
        writes.record_score(run.engine, run.run_id, version, role, "test", result)
