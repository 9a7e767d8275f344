"""The pages' indexes (migration 0018) on SQLite and PostgreSQL: the migration makes them and
takes them away again, the pages' reads go through them (each statement a read runs is asked
for its query plan), and the reads that became one query answer as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from pipeline.storage import dashboard, db, health, model_views, run_views, tables
from tests.conftest import query_plans as _plans

NOW = datetime.now(UTC).replace(microsecond=0)
# name: (table, columns, the partial index's predicate or None)
PAGE_INDEXES = {
    "ix_runs_started_at_id": ("runs", ["started_at", "id"], None),
    "ix_runs_shown_started_at_id": ("runs", ["started_at", "id"], tables.SHOWN),
    "ix_runs_status_started_at_id": ("runs", ["status", "started_at", "id"], None),
    "ix_drift_summaries_created_at_id": ("drift_summaries", ["created_at", "id"], None),
    "ix_drift_results_run_id_column_name": ("drift_results", ["run_id", "column_name"], None),
    "ix_scores_model_version_id": ("scores", ["model_version", "id"], None),
    "ix_confusion_matrices_model_version_dataset": (
        "confusion_matrices",
        ["model_version", "dataset"],
        None,
    ),
    "ix_quality_files_sha256": ("quality_files", ["sha256"], None),
    "ix_alerts_sent_at_id": ("alerts", ["sent_at", "id"], None),
}


def _run_id(i: int) -> str:
    return f"{i:032x}"


def _seed(engine: sa.Engine) -> None:
    """Twelve runs an hour apart (every third a no-op tick, one skipped), each with a drift
    summary, two columns' drift results, a checked file and a score; two model versions (the
    second trained on the first two files), their holdout confusion counts, a quality alert."""
    statuses = ["noop" if i % 3 == 2 else "succeeded" for i in range(12)]
    statuses[7] = "skipped"
    with engine.begin() as conn:
        for i, status in enumerate(statuses):
            when, run_id = NOW - timedelta(hours=12 - i), _run_id(i)
            conn.execute(
                tables.runs.insert().values(
                    id=run_id, kind="run", started_at=when, finished_at=when, status=status
                )
            )
            conn.execute(
                tables.drift_summaries.insert().values(
                    run_id=run_id, model_version=1 + i // 6, dataset_drift=False,
                    drifted_share=i / 12, reference_rows=10, current_rows=10, thresholds={},
                    created_at=when,
                )
            )  # fmt: skip
            conn.execute(
                tables.drift_results.insert(),
                [{"run_id": run_id, "column_name": c, "kind": "numeric", "test": "ks",
                  "effect_size": i / 100, "status": "ok", "drifted": False, "details": {}}
                 for c in ("num_01", "industry")],
            )  # fmt: skip
            conn.execute(
                tables.quality_files.insert().values(
                    run_id=run_id, checked_at=when, sha256=f"{i:064x}", file_name=f"f{i}.csv",
                    rows_read=10, rows_valid=10, rows_invalid=0, rejected=False,
                    report_path=f"quality/f{i}.html",
                )
            )  # fmt: skip
            conn.execute(
                tables.scores.insert().values(
                    run_id=run_id, created_at=when, model_version=1 + i // 6, role="production",
                    dataset="new", metric="f1", value=0.5 + i / 100, n_rows=10,
                )
            )  # fmt: skip
        for version, holdout in ((1, 0.7), (2, None)):
            conn.execute(
                tables.model_versions.insert().values(
                    version=version, run_id=_run_id(0), created_at=NOW, artifact="a",
                    sha256="0" * 64, estimator="e", params={}, features={}, metric="f1",
                    holdout_score=holdout, train_rows=10, holdout_rows=5,
                    training_files=[{"name": f"f{i}.csv", "sha256": f"{i:064x}", "rows": 10}
                                    for i in range(2)],
                )
            )  # fmt: skip
        conn.execute(  # version 1's holdout only: version 2 has none
            tables.confusion_matrices.insert(),
            [{"run_id": _run_id(0), "model_version": 1, "dataset": d, "actual": a,
              "predicted": p, "count": n}
             for d, a, p, n in (("holdout", "0", "0", 3), ("holdout", "1", "0", 1),
                                ("holdout", "1", "1", 2), ("test", "0", "1", 9))],
        )  # fmt: skip
        conn.execute(
            tables.alerts.insert().values(
                run_id=_run_id(3), quality_file_id=1, sent_at=NOW - timedelta(hours=9),
                criticality="high", target="https://x", delivered=True, attempts=1, payload={},
            )
        )  # fmt: skip


@pytest.fixture
def seeded(database_url: str) -> Iterator[sa.Engine]:
    engine = db.make_engine(database_url)
    _seed(engine)
    yield engine
    engine.dispose()


def _indexes(engine: sa.Engine) -> dict[str, tuple[str, list[str], str | None]]:
    inspector = sa.inspect(engine)
    found = {}
    for table in {t for t, _, _ in PAGE_INDEXES.values()}:
        for ix in inspector.get_indexes(table):
            options = ix.get("dialect_options", {})
            where = options.get("postgresql_where") or options.get("sqlite_where")
            found[ix["name"]] = (table, list(ix["column_names"]), where)
    return found


def test_migration_0018_makes_the_page_indexes_and_takes_them_away(database_url: str) -> None:
    engine = db.make_engine(database_url)
    try:
        found = _indexes(engine)
        for name, (table, columns, where) in PAGE_INDEXES.items():
            assert found[name][:2] == (table, columns), name
            if where is not None:  # the predicate, however the database spells it back
                spelt = " ".join(str(found[name][2]).replace("(", " ").replace(")", " ").split())
                assert "noop" in spelt and "skipped" in spelt, spelt
                assert "NOT IN" in spelt.upper() or "<> ALL" in spelt.upper(), spelt
        db.downgrade(engine, "0017")
        assert not set(PAGE_INDEXES) & set(_indexes(engine))
        assert db.upgrade(engine) == tables.SCHEMA_REVISION
        assert set(PAGE_INDEXES) <= set(_indexes(engine))
    finally:
        engine.dispose()


def test_the_shown_runs_predicate_hides_exactly_the_quiet_ticks() -> None:
    quoted = ", ".join(f"'{s}'" for s in run_views.QUIET)
    assert f"status NOT IN ({quoted})" == tables.SHOWN


def _uses(plans: list[str], index: str) -> None:
    assert any(index in p for p in plans), f"{index} not in {plans}"


def test_the_runs_pages_read_their_runs_through_an_index(seeded: sa.Engine) -> None:
    shown = run_views.RunFilter()
    everything = run_views.RunFilter(show_quiet=True)
    one = run_views.RunFilter(status="succeeded")
    _uses(_plans(seeded, lambda c: run_views.runs_page(c, shown, 3)), "ix_runs_shown_started_at_id")
    _uses(_plans(seeded, lambda c: run_views.runs_page(c, everything, 3)), "ix_runs_started_at_id")
    _uses(_plans(seeded, lambda c: run_views.runs_page(c, one, 3)), "ix_runs_status_started_at_id")
    _uses(_plans(seeded, dashboard.last_run), "ix_runs_started_at_id")


def test_the_runs_list_in_the_partial_index_words_lists_what_it_did(seeded: sa.Engine) -> None:
    """The default list is the runs that are neither no-op nor skipped, newest first, paged."""
    with seeded.connect() as conn:
        every, _ = run_views.runs_page(conn, run_views.RunFilter(show_quiet=True), 50)
        first, cursor = run_views.runs_page(conn, run_views.RunFilter(), 4)
        after = run_views.run_position(conn, cursor or "")
        rest, end = run_views.runs_page(conn, run_views.RunFilter(), 50, after)
    wanted = [r["id"] for r in every if r["status"] not in run_views.QUIET]
    assert len(every) == 12 and len(wanted) == 7
    assert [r["id"] for r in first + rest] == wanted and end is None


def test_the_dashboards_read_their_slices_through_an_index(seeded: sa.Engine) -> None:
    start, end = NOW - timedelta(hours=5), NOW
    _uses(
        _plans(seeded, lambda c: dashboard.drift_runs(c, start, end)),
        "ix_drift_summaries_created_at_id",
    )
    _uses(
        _plans(seeded, lambda c: dashboard.feature_history(c, "num_01", start, end)),
        "ix_drift_results_run_id_column_name",
    )
    _uses(_plans(seeded, lambda c: dashboard.quality_alerts(c, start, end)), "ix_alerts_sent_at_id")
    _uses(
        _plans(seeded, lambda c: health.holdouts_predicted(c, [1, 2])),
        "ix_confusion_matrices_model_version_dataset",
    )


def test_a_version_page_reads_its_scores_and_files_through_an_index(seeded: sa.Engine) -> None:
    plans = _plans(seeded, lambda c: model_views.version_record(c, 2))
    _uses(plans, "ix_scores_model_version_id")
    _uses(plans, "ix_quality_files_sha256")


def test_holdout_scores_of_several_versions_in_one_query(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        scores = dashboard.holdout_scores(conn, [1, 2, 9])
        one_by_one = {v: (dashboard.production(conn, v) or {}).get("holdout_score") for v in (1, 2)}
        assert dashboard.holdout_scores(conn, []) == {}
    assert scores == one_by_one == {1: 0.7, 2: None}  # 9 is not registered: left out


def test_holdout_predictions_of_several_versions_in_one_query(seeded: sa.Engine) -> None:
    with seeded.connect() as conn:
        found = health.holdouts_predicted(conn, [2, 1, 1])
        assert health.holdouts_predicted(conn, []) == {}
    # Version 1's holdout counts (not its test file's); version 2 had no holdout.
    assert found == {1: (["0", "1"], {"0": 4, "1": 2})}


def test_a_feature_history_keeps_the_newest_runs_of_its_range(seeded: sa.Engine) -> None:
    """Through the runs' index, the history is still the column's results in the range,
    oldest first, bounded to the newest MAX_RUNS."""
    start, end = NOW - timedelta(hours=5, minutes=30), NOW
    with seeded.connect() as conn:
        history = dashboard.feature_history(conn, "num_01", start, end)
    assert [r["run_id"] for r in history] == [_run_id(i) for i in range(7, 12)]
    assert {r["column_name"] for r in history} == {"num_01"}


def test_the_heatmap_reads_only_its_newest_runs(seeded: sa.Engine) -> None:
    """`limit` runs are the newest of what the range's whole read would give, oldest first."""
    start, end = NOW - timedelta(days=1), NOW
    with seeded.connect() as conn:
        every = dashboard.drift_runs(conn, start, end)
        newest = dashboard.drift_runs(conn, start, end, 5)
        assert dashboard.drift_runs(conn, start, end, dashboard.MAX_RUNS + 1) == every
    assert len(every) == 12 and newest == every[-5:]
    assert [r["run_id"] for r in newest] == [_run_id(i) for i in range(7, 12)]
