"""The per-run PDF report, built from rows written straight into a real database."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdf
import pytest
import sqlalchemy as sa

from pipeline.errors import NotFound
from pipeline.formatting import fmt_duration, fmt_num, fmt_part, fmt_score, fmt_share
from pipeline.report.data_sections import MAX_QUALITY_ISSUES
from pipeline.report.pdf_doc import NOT_COMPUTED, flatten, label
from pipeline.report.run_pdf import build_report
from pipeline.storage import tables as t
from pipeline.vocabulary import (
    CRITICALITIES,
    VERDICT_WORDS,
    criticality_rank,
    file_verdict,
)

REPO = Path(__file__).resolve().parent.parent
TMP = Path(tempfile.gettempdir()).resolve()
T0 = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)
RUN_1, RUN_2, RUN_3 = "a1" * 16, "b2" * 16, "c3" * 16
RETRAIN_REASON = (
    "model degraded, drop 0.0490 beyond tolerance 0.02 and clear of the 95% interval: "
    "f1 0.8123 [0.7900, 0.8330] on 1200 new rows vs production 0.8613"
)
PROMOTE_REASON = "challenger is not worse: challenger 0.8420 vs champion 0.8010"


def add_run(engine: sa.Engine, run_id: str, started: datetime, **values) -> None:
    row = {
        "id": run_id,
        "kind": "run",
        "started_at": started,
        "finished_at": started + timedelta(seconds=74),
        "status": "succeeded",
        **values,
    }
    with engine.begin() as conn:
        conn.execute(sa.insert(t.runs).values(row))


def add_model(conn: sa.Connection, version: int, run_id: str, when: datetime, score: float):
    conn.execute(
        sa.insert(t.model_versions).values(
            version=version,
            run_id=run_id,
            created_at=when,
            artifact=f"{version}/model.joblib",
            sha256=f"{version:064x}",
            estimator="sklearn.linear_model.LogisticRegression",
            params={},
            features={"numeric": ["lastmonth_activity"], "categorical": ["industry"]},
            metric="f1",
            holdout_score=score,
            train_rows=4000,
            holdout_rows=1000,
            training_files=[],
        )
    )


def add_score(conn, run_id, when, version, role, dataset, value, low, high, n_rows) -> None:
    conn.execute(
        sa.insert(t.scores).values(
            run_id=run_id,
            created_at=when,
            model_version=version,
            role=role,
            dataset=dataset,
            metric="f1",
            value=value,
            ci_low=low,
            ci_high=high,
            n_rows=n_rows,
        )
    )


def add_file(conn, run_id, when, name, sha, rows, status="ingested", reason=None) -> None:
    conn.execute(
        sa.insert(t.ingested_files).values(
            run_id=run_id,
            sha256=sha,
            name=name,
            size_bytes=rows * 80 + 100,
            status=status,
            reason=reason,
            rows=rows,
            rows_quarantined=0 if status == "ingested" else 12,
            data_path=f"{sha[:12]}.parquet" if status == "ingested" else None,
            ingested_at=when,
        )
    )


def add_checked_file(conn, run_id, when, name, sha, read, invalid, criticality, rejected=False):
    """One quality_files row; return its id for the issues."""
    result = conn.execute(
        sa.insert(t.quality_files).values(
            run_id=run_id,
            checked_at=when,
            sha256=sha,
            file_name=name,
            contract_version="c" * 64,
            rows_read=read,
            rows_valid=0 if rejected else read - invalid,
            rows_invalid=read if rejected else invalid,
            criticality=criticality,
            rejected=rejected,
            report_path=f"quality/{sha[:16]}.html",
        )
    )
    return result.inserted_primary_key[0]


def add_issue(conn, run_id, file_id, kind, column, criticality, count, message, examples=(),
              rows=()) -> None:  # fmt: skip
    conn.execute(
        sa.insert(t.quality_issues).values(
            run_id=run_id,
            quality_file_id=file_id,
            error_type=kind,
            column_name=column,
            criticality=criticality,
            level="row" if rows else "file",
            count=count,
            message=message,
            examples=list(examples),
            rows_sample=list(rows),
        )
    )


def fill_history(engine: sa.Engine) -> None:
    """Two earlier runs: the first deploys version 1, the second keeps it."""
    add_run(engine, RUN_1, T0, new_files=1, rows_ingested=5000, production_version=1)
    add_run(engine, RUN_2, T0 + timedelta(days=1), new_files=1, rows_ingested=1200)
    with engine.begin() as conn:
        add_model(conn, 1, RUN_1, T0 + timedelta(seconds=40), 0.8613)
        conn.execute(
            sa.insert(t.deployments).values(
                run_id=RUN_1,
                from_version=None,
                to_version=1,
                deployed_at=T0 + timedelta(seconds=41),
                kind="initial",
                reason="no production model yet: the first model is deployed",
            )
        )
        when = T0 + timedelta(days=1, seconds=20)
        add_score(conn, RUN_2, when, 1, "production", "new", 0.855, 0.83, 0.878, 1200)


# The run's prediction health, as `pipeline.run.health_step.check` records it in its summary.
PREDICTION_HEALTH = {
    "period": "day",
    "periods": [
        {
            "period_start": "2026-01-03T00:00:00+00:00",
            "model_version": 2,
            "count": 2400,
            "class_counts": {"0": 1900, "1": 500},
            "class_shares": {"0": 1900 / 2400, "1": 500 / 2400},
            "positive_label": "1",
            "positive_share": 500 / 2400,
            "mean": None,
            "std": None,
            "histogram": {
                "edges": [i / 10 for i in range(11)],
                "counts": [1200, 400, 200, 100, 0, 0, 100, 150, 150, 100],
            },
        }
    ],
    "alerts": [],
}


def fill_run(engine: sa.Engine, run_id: str = RUN_3, file_name: str = "batch_03.csv") -> None:
    """One run that writes every table: it retrains, promotes version 2 and is diagnosed."""
    start = T0 + timedelta(days=2)
    add_run(
        engine,
        run_id,
        start,
        new_files=3,
        rows_ingested=2400,
        files_quarantined=1,
        production_version=2,
        summary={"prediction_health": PREDICTION_HEALTH},
    )
    at = [start + timedelta(seconds=s) for s in range(80)]
    with engine.begin() as conn:
        add_file(conn, run_id, at[1], file_name, "d" * 64, 1200)
        add_file(conn, run_id, at[1], "batch_04.parquet", "e" * 64, 1200)
        add_file(
            conn, run_id, at[1], "broken.csv", "f" * 64, 0, "quarantined", "no column 'exited'"
        )
        good = add_checked_file(conn, run_id, at[1], file_name, "d" * 64, 1212, 12, "medium")
        add_issue(conn, run_id, good, "out_of_range", "number_of_employees", "medium", 9,
                  "9 row(s): 'number_of_employees' outside [0, 2549]", ["-5", "-12"],
                  [4, 18, 230, 231, 400, 401, 402, 900, 1201])  # fmt: skip
        add_issue(conn, run_id, good, "unknown_category", "industry", "low", 3,
                  "3 row(s): category not among the 6 known for 'industry'", ["'mining'"],
                  [7, 8, 9])  # fmt: skip
        add_checked_file(conn, run_id, at[1], "batch_04.parquet", "e" * 64, 1200, 0, None)
        broken = add_checked_file(conn, run_id, at[1], "broken.csv", "f" * 64, 40, 40, "high",
                                  rejected=True)  # fmt: skip
        add_issue(conn, run_id, broken, "missing_column", "exited", "high", 1,
                  "required column 'exited' is missing")  # fmt: skip
        add_score(conn, run_id, at[10], 1, "production", "new", 0.8123, 0.79, 0.833, 1200)
        add_score(conn, run_id, at[30], 1, "champion", "holdout", 0.801, 0.78, 0.822, 1000)
        add_score(conn, run_id, at[30], 2, "challenger", "holdout", 0.842, 0.822, 0.861, 1000)
        add_score(conn, run_id, at[60], 2, "production", "test", 0.838, None, None, 500)
        retrain_evidence = {
            "metric": "f1",
            "production_metric": 0.8613,
            "new_score": 0.8123,
            "ci_low": 0.79,
            "ci_high": 0.833,
            "confidence": 0.95,
            "n_rows": 1200,
            "tolerance": 0.02,
            "require_interval": True,
            "drop": 0.049,
            "baseline_outside_interval": True,
        }
        promote_evidence = {
            "metric": "f1",
            "champion": 0.801,
            "challenger": 0.842,
            "champion_ci": [0.78, 0.822],
            "challenger_ci": [0.822, None],
            "holdout_rows": 1000,
            "margin": 0.0,
            "thresholds": {"promote_margin": 0.0},
        }
        conn.execute(
            sa.insert(t.decisions),
            [
                {
                    "run_id": run_id,
                    "kind": "retrain",
                    "outcome": True,
                    "reason": RETRAIN_REASON,
                    "evidence": retrain_evidence,
                    "decided_at": at[11],
                },
                {
                    "run_id": run_id,
                    "kind": "promote",
                    "outcome": True,
                    "reason": PROMOTE_REASON,
                    "evidence": promote_evidence,
                    "decided_at": at[31],
                },
            ],
        )
        add_model(conn, 2, run_id, at[29], 0.842)
        conn.execute(
            sa.insert(t.deployments).values(
                run_id=run_id,
                from_version=1,
                to_version=2,
                deployed_at=at[32],
                kind="promote",
                reason=PROMOTE_REASON,
            )
        )
        matrix = [("0", "0", 410), ("0", "1", 23), ("1", "0", 19), ("1", "1", 48)]
        conn.execute(
            sa.insert(t.confusion_matrices),
            [
                {"run_id": run_id, "model_version": v, "dataset": d, "actual": a,
                 "predicted": p, "count": n}
                for v, d in ((2, "test"), (1, "holdout"))
                for a, p, n in matrix
            ],
        )  # fmt: skip
        stats = [
            ("lastmonth_activity", "new", 2400, 1523.4567, 1210.0, 980.25, 0.0, 9875.5),
            ("lastyear_activity", "new", 2400, 18234.2, 15000.0, 9000.75, 12.0, 99000.0),
            ("number_of_employees", "new", 2390, 212.345, 120.0, 300.5, 1.0, 5000.0),
            ("number_of_employees", "test", 500, 208.9, 118.0, None, 1.0, 4100.0),
        ]
        conn.execute(
            sa.insert(t.feature_stats),
            [
                {"run_id": run_id, "column_name": c, "dataset": d, "count": n, "mean": mean,
                 "median": med, "std": std, "min": lo, "max": hi}
                for c, d, n, mean, med, std, lo, hi in stats
            ],
        )  # fmt: skip
        conn.execute(
            sa.insert(t.missing_values),
            [
                {"run_id": run_id, "column_name": c, "dataset": "new", "missing": m,
                 "rows": 2400, "share": m / 2400}
                for c, m in (("number_of_employees", 10), ("industry", 0), ("region", 1))
            ],
        )  # fmt: skip
        names = ["discover", "ingest", "score", "decide", "retrain", "promote", "diagnose"]
        conn.execute(
            sa.insert(t.steps),
            [
                {"run_id": run_id, "name": name, "started_at": at[i * 9],
                 "finished_at": at[i * 9 + 8], "seconds": 0.5 + i * 1.25,
                 "status": "succeeded", "detail": None}
                for i, name in enumerate(names)
            ],
        )  # fmt: skip
        outdated = [
            {"name": "pandas", "installed": "2.2.1", "latest": "2.2.3"},
            {"name": "scikit-learn", "installed": "1.4.0", "latest": "1.5.2"},
        ]
        conn.execute(
            sa.insert(t.diagnostics),
            [
                {"run_id": run_id, "name": "outdated_packages", "value": outdated},
                {"run_id": run_id, "name": "library_versions",
                 "value": {"python": "3.11.7", "pandas": "2.2.1", "scikit-learn": "1.4.0"}},
            ],
        )  # fmt: skip
        conn.execute(
            sa.insert(t.drift_summaries).values(
                run_id=run_id,
                model_version=1,
                dataset_drift=True,
                drifted_share=0.5,
                reference_rows=4000,
                current_rows=2400,
                created_at=at[10],
                thresholds={"alpha": 0.05, "persistence": [1, 1]},
            )
        )
        dist = {"labels": ["north", "east"], "reference": [0.9, 0.1], "current": [0.4, 0.6]}
        conn.execute(
            sa.insert(t.drift_results),
            [
                {"run_id": run_id, "column_name": "region", "kind": "categorical", "test": "chi2",
                 "statistic": 812.5, "p_value": 1e-90, "p_adjusted": 2e-90, "effect_size": 0.41,
                 "psi": 1.2, "status": "ok", "drifted": True, "details": {"distribution": dist}},
                {"run_id": run_id, "column_name": "number_of_employees", "kind": "numeric",
                 "test": "ks", "statistic": 0.02, "p_value": 0.6, "p_adjusted": 0.6,
                 "effect_size": 0.03, "psi": 0.01, "status": "ok", "drifted": False,
                 "details": {}},
            ],
        )  # fmt: skip


def pdf_text(path: Path) -> tuple[int, str]:
    reader = pypdf.PdfReader(path)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def report_rows(engine: sa.Engine, run_id: str) -> list[dict]:
    with engine.connect() as conn:
        query = sa.select(t.reports).where(t.reports.c.run_id == run_id)
        return [dict(r) for r in conn.execute(query).mappings()]


def test_full_run_report_shows_every_section(engine, settings) -> None:
    fill_history(engine)
    fill_run(engine)
    result = build_report(engine, settings, RUN_3)

    assert result.path == settings.path("paths.reports") / f"run-{RUN_3}.pdf"
    assert result.path.is_file()
    assert result.size_bytes == result.path.stat().st_size
    pages, text = pdf_text(result.path)
    assert pages >= 2
    assert result.pages == pages
    flat = " ".join(text.split())
    assert f"riskwatch run {RUN_3}" in flat
    assert RETRAIN_REASON in flat
    assert "0.812 [0.790, 0.833]" in flat
    assert "batch_03.csv" in flat
    assert "no column 'exited'" in flat
    assert "number_of_employees" in flat
    assert "1,523.457" in flat  # feature statistics, three decimals
    assert "0.4%" in flat  # 10 missing of 2,400
    assert "scikit-learn" in flat and "1.5.2" in flat
    assert "v1 v2 promote" in flat
    assert "Files checked by the quality gate" in flat
    assert "7c. Predictions" in flat and "2026-01-03 v2 2,400 0: 79.2%, 1: 20.8% 20.8%" in flat
    assert "predictions by P(1), period 2026-01-03, v2" in flat
    assert "No new prediction-health alert." in flat
    assert "batch_03.csv 1,212 1,200 12 medium rows quarantined" in flat
    assert "batch_04.parquet 1,200 1,200 0 none clean" in flat
    assert "broken.csv 40 0 40 high whole file rejected" in flat
    assert "Issues in batch_03.csv" in flat
    assert "out_of_range number_of_employees medium 9" in flat
    assert "outside [0, 2549]" in flat
    assert "-5, -12 rows 4, 18, 230, 231, 400, 401, 402, 900 …" in flat
    assert "'mining' rows 7, 8, 9" in flat
    assert "Issues in broken.csv" in flat
    assert "missing_column exited high file required column 'exited' is missing" in flat
    assert "quality/ffffffffffffffff.html" in flat
    assert "Issues in batch_04.parquet" not in flat  # a clean file has no issue table
    assert "retrain" in flat and "diagnose" in flat
    assert "7b. Data drift" in flat and "Reference vs new, most drifted columns" in flat
    assert "region categorical chi2" in flat
    # Every section had data: no placeholder at all.
    assert NOT_COMPUTED not in flat

    [row] = report_rows(engine, RUN_3)
    assert row["path"] == f"run-{RUN_3}.pdf"
    assert row["pages"] == pages
    assert row["size_bytes"] == result.size_bytes


def test_building_twice_replaces_file_and_row(engine, settings) -> None:
    fill_run(engine)
    first = build_report(engine, settings, RUN_3)
    second = build_report(engine, settings, RUN_3)

    assert second.path == first.path
    assert len(report_rows(engine, RUN_3)) == 1
    # The atomic write leaves no temporary file behind.
    assert sorted(p.name for p in second.path.parent.iterdir()) == [second.path.name]
    assert pypdf.PdfReader(second.path).pages


def test_a_bare_run_gives_a_valid_pdf_with_placeholders(engine, settings) -> None:
    add_run(engine, RUN_1, T0, status="noop", finished_at=None)
    result = build_report(engine, settings, RUN_1)

    pages, text = pdf_text(result.path)
    assert pages >= 1
    flat = " ".join(text.split())
    assert RUN_1 in flat
    for section in ("Decisions", "Ingested files", "Scores", "Confusion matrix",
                    "Metric history", "Quality checks", "Feature statistics", "Missing values",
                    "Step timings", "Diagnostics"):  # fmt: skip
        assert f"{section}: {NOT_COMPUTED}" in flat
    assert report_rows(engine, RUN_1)[0]["pages"] == pages


def test_unknown_run_id_raises_not_found(engine, settings) -> None:
    with pytest.raises(NotFound, match="run 'deadbeef' does not exist"):
        build_report(engine, settings, "deadbeef")
    assert not settings.path("paths.reports").exists() or not any(
        settings.path("paths.reports").iterdir()
    )


def test_null_scores_render_as_na(engine, settings) -> None:
    add_run(engine, RUN_1, T0)
    with engine.begin() as conn:
        add_score(conn, RUN_1, T0, 3, "challenger", "holdout", None, None, None, 40)
    text = " ".join(pdf_text(build_report(engine, settings, RUN_1).path)[1].split())
    assert re.search(r"challenger v3 holdout f1 n/a 40", text), text


def test_hostile_text_is_escaped_not_parsed(engine, settings) -> None:
    hostile = "bad <b>file</b> & \"quoted\" 'single' Zürich ✓ </para> <font color=x>"
    long_name = "very_long_" * 60 + ".csv"
    add_run(
        engine,
        RUN_1,
        T0,
        status="failed",
        error="Traceback:\n  <module> failed & stopped </i>\n" + "x" * 3000,
    )
    with engine.begin() as conn:
        add_file(conn, RUN_1, T0, hostile, "1" * 64, 10, "quarantined", "<unclosed & bad")
        add_file(conn, RUN_1, T0, long_name, "2" * 64, 10)
        conn.execute(
            sa.insert(t.missing_values).values(
                run_id=RUN_1, dataset="new", column_name="<i>col & ✓</i>", missing=0, rows=10,
                share=0.0,
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(t.decisions).values(
                run_id=RUN_1,
                kind="retrain",
                outcome=False,
                reason="no drop: <br/> & <b>",
                evidence={"<k>": "<v & w>", "nested": {"a&b": [1, None]}},
                decided_at=T0,
            )
        )
        conn.execute(
            sa.insert(t.diagnostics).values(run_id=RUN_1, name="outdated_packages", value="unknown")
        )
        checked = add_checked_file(conn, RUN_1, T0, hostile, "1" * 64, 10, 1, "low")
        add_issue(conn, RUN_1, checked, "unknown_category", "<b>region</b>", "low", 1,
                  "1 row(s): category not among the 4 known for '<b>region</b>'",
                  ["'<script>alert(1)</script>'", "'A & \"B\" Zürich ✓'"], [3])  # fmt: skip
    result = build_report(engine, settings, RUN_1)

    flat = " ".join(pdf_text(result.path)[1].split())
    assert "<b>file</b> &" in flat
    assert "Zürich ✓" in flat
    assert "<unclosed & bad" in flat
    assert "<i>col & ✓</i>" in flat
    assert "no drop: <br/> & <b>" in flat
    assert "<module> failed & stopped" in flat
    assert "very_long_very_long_" in flat
    assert "unknown" in flat
    assert f"Issues in {hostile}" in flat
    assert "'<script>alert(1)</script" in flat  # the narrow cell may break the word
    assert "known for '<b>region</b>'" in flat
    assert "'A & \"B\" Zürich ✓'" in flat


def test_the_pdf_shows_no_server_path(engine, settings) -> None:
    """A run whose error, steps, decisions and reasons name absolute paths (issue 11): the PDF is
    served as it is written, so its text shows them relative to the project, or by file name."""
    base = settings.base_dir.resolve()
    artifact = base / "models" / "3" / "model.joblib"
    outside = "/srv/other/riskwatch/models/3/model.joblib"
    add_run(
        engine,
        RUN_1,
        T0,
        status="failed",
        error=f"ModelIntegrityError: artifact {artifact} has SHA-256 0f0f, the registry says 1a1a; "
        f"see also {outside} and {REPO}/pipeline/run/steps.py",
    )
    with engine.begin() as conn:
        conn.execute(
            sa.insert(t.steps).values(
                run_id=RUN_1, name="train", started_at=T0, finished_at=T0, seconds=1.5,
                status="failed", detail=f"cannot write {TMP}/scratch/x.parquet",
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(t.decisions).values(
                run_id=RUN_1, kind="promote", outcome=False,
                reason=f"no challenger: {base}/models/4/model.joblib is missing",
                evidence={"artifact": str(artifact)}, decided_at=T0,
            )
        )  # fmt: skip
        conn.execute(
            sa.insert(t.diagnostics).values(
                run_id=RUN_1, name="interpreter", value={"python": f"{sys.prefix}/bin/python3"}
            )
        )
        add_file(conn, RUN_1, T0, "bad.parquet", "1" * 64, 0, "quarantined",
                 f"cannot read {base}/ingesteddata/quarantine/.source-1111-ab.tmp")  # fmt: skip
        checked = add_checked_file(conn, RUN_1, T0, "bad.parquet", "1" * 64, 0, 0, "high", True)
        add_issue(conn, RUN_1, checked, "unreadable", None, "high", 1,
                  f"Could not open Parquet input source '{base}/sourcedata/bad.parquet'",
                  ["'/a/b/c' is a value of the data"])  # fmt: skip
    text = pdf_text(build_report(engine, settings, RUN_1).path)[1]
    # A cell may wrap a long path anywhere: look for the folders with every space taken out.
    solid = "".join(text.split())
    for folder in (base, settings.base_dir, TMP, REPO, sys.prefix, "/srv/"):
        assert str(folder) not in solid, f"{folder} in the PDF:\n{text}"
    flat = " ".join(text.split())
    assert "artifact models/3/model.joblib has SHA-256" in flat
    assert "see also …/model.joblib and …/steps.py" in flat
    assert "no challenger: models/4/model.joblib is missing" in flat
    assert "…/x.parquet" in solid and "…/python3" in solid
    assert "'sourcedata/bad.parquet'" in solid
    assert "ingesteddata/quarantine/.source-1111-ab.tmp" in solid
    assert "'/a/b/c'isavalueofthedata" in solid  # a value of the data is shown as it is


def test_quality_issues_are_capped_per_file(engine, settings) -> None:
    add_run(engine, RUN_1, T0)
    with engine.begin() as conn:
        wide = add_checked_file(conn, RUN_1, T0, "wide.csv", "a" * 64, 5, 0, "low")
        for i in range(MAX_QUALITY_ISSUES + 7):
            add_issue(conn, RUN_1, wide, "extra_column", f"col_{i:03d}", "low", 1,
                      f"column 'col_{i:03d}' is not in the contract (ignored)")  # fmt: skip
        message = "2 row(s): missing value in required column 'region'"
        add_issue(
            conn, RUN_1, wide, "missing_value", "region", "medium", 2, message, ["nan"], [2, 5]
        )
    flat = " ".join(pdf_text(build_report(engine, settings, RUN_1).path)[1].split())

    # The worst issue comes first, and what does not fit is counted, not dropped silently.
    assert "Issues in wide.csv" in flat
    assert flat.index("missing_value region medium 2") < flat.index("extra_column col_000")
    assert f"col_{MAX_QUALITY_ISSUES - 2:03d}" in flat
    assert f"col_{MAX_QUALITY_ISSUES - 1:03d}" not in flat.split("… and")[0]
    assert "… and 8 more issues." in flat
    assert "quality/aaaaaaaaaaaaaaaa.html" in flat
    assert f"Quality checks: {NOT_COMPUTED}" not in flat


@pytest.mark.parametrize(
    ("rejected", "invalid", "expected"),
    [(True, 40, "whole file rejected"), (False, 3, "rows quarantined"), (False, 0, "clean")],
)
def test_verdict(rejected, invalid, expected) -> None:
    assert VERDICT_WORDS[file_verdict(rejected, invalid)] == expected


@pytest.mark.parametrize(
    ("rejected", "invalid", "kind"),
    [(True, 0, "rejected"), (True, 5, "rejected"), (False, 1, "quarantined"), (False, 0, "clean")],
)
def test_file_verdict_names_what_the_gate_did(rejected, invalid, kind) -> None:
    assert file_verdict(rejected, invalid) == kind
    assert set(VERDICT_WORDS) == {"clean", "quarantined", "rejected"}


def test_criticality_rank_orders_worst_highest() -> None:
    assert [criticality_rank(c) for c in CRITICALITIES] == [0, 1, 2]
    assert sorted(["high", None, "low", "medium"], key=criticality_rank) == [
        None,
        "low",
        "medium",
        "high",
    ]
    assert criticality_rank("critical") == criticality_rank(None) == -1


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"a": 1, "b": {"c": 2, "d": {}}}, [("a", 1), ("b.c", 2), ("b.d", {})]),
        ({}, [("value", {})]),
        (3, [("value", 3)]),
    ],
)
def test_flatten_keeps_order_and_dots_keys(value, expected) -> None:
    assert flatten(value) == expected


def test_label_reads_snake_case_as_words() -> None:
    assert label("train_rows") == "train rows"


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (0.8123, 0.79, 0.8333, "0.812 [0.790, 0.833]"),
        (0.5, None, None, "0.500"),
        (None, 0.1, 0.2, "n/a"),
        (float("nan"), None, None, "n/a"),
        (1234.5678, 1200.0, 1300.0, "1,234.568 [1,200.000, 1,300.000]"),
    ],
)
def test_fmt_score(value, low, high, expected) -> None:
    assert fmt_score(value, low, high) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "n/a"), (True, "yes"), (12000, "12,000"), (0.0, "0.000"), (0.00012, "0.00012")],
)
def test_fmt_num(value, expected) -> None:
    assert fmt_num(value) == expected


@pytest.mark.parametrize(
    ("share", "expected"),
    [
        (0.0, "0.0%"),
        (0.125, "12.5%"),
        (0.0004, "<0.1%"),
        (0.9996, ">99.9%"),
        (1.0, "100.0%"),
        (None, "n/a"),
        (float("nan"), "n/a"),
    ],
)
def test_fmt_share(share, expected) -> None:
    assert fmt_share(share) == expected


@pytest.mark.parametrize(
    ("part", "whole", "expected"), [(0, 0, "n/a"), (1, 8, "12.5%"), (9999, 10000, ">99.9%")]
)
def test_fmt_part(part, whole, expected) -> None:
    assert fmt_part(part, whole) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(None, "n/a"), (4.25, "4.2 s"), (123, "2 min 03 s"), (7384, "2 h 03 min")],
)
def test_fmt_duration(seconds, expected) -> None:
    assert fmt_duration(seconds) == expected


def test_importing_the_report_module_is_cheap() -> None:
    code = (
        "import sys, pipeline.report.run_pdf, pipeline.report.sections\n"
        "import pipeline.report.data_sections, pipeline.report.load, pipeline.report.pdf_doc\n"
        "heavy = {'pandas', 'numpy', 'matplotlib', 'reportlab'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_the_report_has_no_raster_image(engine, settings) -> None:
    fill_history(engine)
    fill_run(engine)
    reader = pypdf.PdfReader(build_report(engine, settings, RUN_3).path)
    assert all(not page.images for page in reader.pages)
    text = " ".join(" ".join(p.extract_text() for p in reader.pages).split())
    assert "Predicted" in text and "offending rows" in text and "time (UTC)" in text


def test_a_cell_that_fits_on_one_line_is_a_plain_string_and_the_others_wrap() -> None:
    from reportlab.platypus import Paragraph

    from pipeline.report.pdf_doc import Doc

    doc = Doc()
    table = doc.table(
        ["Name", "Reason"],
        [["short <b>", "word " * 200], ["tab\there", "Zürich ✓"]],
        [0.3, 0.7],
        right=(1,),
    )
    header, first, second = table._cellvalues
    assert header == ["Name", "Reason"]
    assert first[0] == "short <b>"  # a string is never parsed as markup: no escaping needed
    assert isinstance(first[1], Paragraph)  # too long for one line: it wraps
    assert isinstance(second[0], Paragraph) and second[1] == "Zürich ✓"
