"""Data for the run and model page tests: runs of every status and kind beside a real one, and
a second model version (the first one's artifact) promoted over it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pipeline.model import registry
from pipeline.settings import Settings
from pipeline.storage import db, tables

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
START = datetime(2026, 1, 1, tzinfo=UTC)


def fake_id(n: int) -> str:
    return f"{n:032x}"


def add_runs(settings: Settings, statuses: list[tuple[str, str]]) -> list[str]:
    """Runs (status, kind) one minute apart from START, oldest first, without steps; ids."""
    engine = db.make_engine(settings.database_url)
    ids = []
    try:
        with engine.begin() as conn:
            for n, (status, kind) in enumerate(statuses, start=1):
                started = START + timedelta(minutes=n)
                conn.execute(
                    tables.runs.insert().values(
                        id=fake_id(n),
                        kind=kind,
                        status=status,
                        started_at=started,
                        finished_at=started + timedelta(seconds=3),
                        error="boom: the disk is full" if status == "failed" else None,
                    )
                )
                ids.append(fake_id(n))
    finally:
        engine.dispose()
    return ids


def real_run(settings: Settings) -> dict[str, Any]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(sa.select(tables.runs).where(tables.runs.c.kind == "run")).first()
            assert row is not None
            return dict(row._mapping)
    finally:
        engine.dispose()


def add_version_two(settings: Settings) -> None:
    """v2: v1's artifact with another score and window, promoted; both scored on the test file
    in the real run (the same rows), v2 alone on a holdout of its own."""
    engine = db.make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            mv = tables.model_versions
            one = dict(conn.execute(sa.select(mv).where(mv.c.version == 1)).one()._mapping)
            conn.execute(
                mv.insert().values(
                    {
                        **one,
                        "version": 2,
                        "holdout_score": 0.9,
                        "holdout_ci_low": 0.8,
                        "holdout_ci_high": 0.95,
                        "training_window": "last 2 files",
                        "holdout_rows": 70,
                        "score_rows": 70,
                    }
                )
            )
            run_id = one["run_id"]
            conn.execute(
                tables.scores.insert().values(
                    run_id=run_id, created_at=tables.utcnow(), model_version=2,
                    role="challenger", dataset="test", metric="f1", value=0.75, ci_low=0.65,
                    ci_high=0.84, n_rows=200,
                )
            )  # fmt: skip
        registry.deploy(engine, settings, 2, kind="promote", reason="v2 beat v1", run_id=None)
    finally:
        engine.dispose()


def production(settings: Settings) -> int | None:
    engine = db.make_engine(settings.database_url)
    try:
        return registry.production_version(settings, engine)
    finally:
        engine.dispose()


def add_drift_and_quality(settings: Settings, run_id: str) -> None:
    """A drift summary with two columns (one drifted) and a file rejected whole, for `run_id`."""
    engine = db.make_engine(settings.database_url)
    now = tables.utcnow()
    summary = {"status": "drifted", "features_tested": 2, "features_drifted": 1,
               "drifted_features": ["lastmonth_activity"]}  # fmt: skip
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.drift_summaries.insert().values(
                    run_id=run_id, model_version=1, dataset_drift=True, drifted_share=0.5,
                    reference_rows=240, current_rows=120, thresholds={"dataset": summary},
                    created_at=now,
                )
            )  # fmt: skip
            for column, drifted in (("lastmonth_activity", True), ("region", False)):
                conn.execute(
                    tables.drift_results.insert().values(
                        run_id=run_id, column_name=column, kind="numeric", test="ks",
                        statistic=0.31 if drifted else 0.05, p_value=0.0001, p_adjusted=0.0002,
                        effect_size=0.42 if drifted else 0.03, psi=0.2, drifted=drifted,
                        status="drifted" if drifted else "not_drifted", details={},
                    )
                )  # fmt: skip
            conn.execute(
                tables.quality_files.insert().values(
                    run_id=run_id, checked_at=now, sha256="ab" * 32, file_name="broken.csv",
                    rows_read=50, rows_valid=0, rows_invalid=50, criticality="critical",
                    rejected=True, report_path=None,
                )
            )  # fmt: skip
    finally:
        engine.dispose()
