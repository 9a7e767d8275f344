"""GET /performance: realised and estimated performance per period and model version, side by
side with the estimation error, read from what the labels join and the estimate step recorded;
bad parameters are 400s naming the parameter (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.settings import Settings
from pipeline.storage import estimates, label_tables, tables
from tests.e2e import invoke
from tests.test_api import assert_error, make_app

DAY1 = datetime(2026, 11, 2, tzinfo=UTC)
DAY2 = datetime(2026, 11, 3, tzinfo=UTC)
DAY3 = datetime(2026, 11, 4, tzinfo=UTC)


def _estimate(start: datetime | None, version: int, value: float, **extra: object) -> dict:
    return {
        "run_id": "a" * 32,
        "created_at": datetime(2026, 11, 5, tzinfo=UTC),
        "period": "run" if start is None else "day",
        "period_start": start,
        "model_version": version,
        "metric": "f1",
        "value": value,
        "ci_low": value - 0.05,
        "ci_high": value + 0.05,
        "n_rows": 500,
        "reliable": True,
        "reason": None,
        **extra,
    }


def _realised(start: datetime, version: int, value: float, computed: int) -> dict:
    return {
        "run_id": "a" * 32,
        "period": "day",
        "period_start": start,
        "model_version": version,
        "metric": "f1",
        "value": value,
        "ci_low": value - 0.04,
        "ci_high": value + 0.04,
        "n_rows": 300,
        "computed_at": datetime(2026, 11, 5, computed, tzinfo=UTC),
    }


@pytest.fixture
def recorded(settings: Settings, engine: sa.Engine) -> Settings:
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(
                id="a" * 32, kind="run", started_at=DAY1, status="succeeded"
            )
        )
        conn.execute(
            estimates.performance_estimates.insert(),
            [
                _estimate(None, 1, 0.5),  # the run's own estimate: not a period
                _estimate(DAY1, 1, 0.80),
                _estimate(DAY2, 1, 0.70),
                _estimate(DAY2, 1, 0.72, reliable=False, reason="too few rows"),  # newer
                _estimate(DAY3, 2, 0.90),
                {**_estimate(DAY1, 1, 0.60), "metric": "accuracy"},
            ],
        )
        conn.execute(
            label_tables.realised_performance.insert(),
            [
                _realised(DAY1, 1, 0.70, 1),
                _realised(DAY1, 1, 0.75, 2),  # more labels came: the newest counts
                _realised(DAY2, 2, 0.65, 1),  # labels of version 2 only: no estimate beside
            ],
        )
    return settings


def test_realised_and_estimated_side_by_side(recorded: Settings) -> None:
    with make_app(recorded) as app:
        doc = app.test_client().get("/performance").get_json()
    assert doc["period"] == "day" and doc["metric"] == "f1"
    got = [
        (p["period_start"][:10], p["model_version"], p["realised"], p["estimated"])
        for p in doc["periods"]
    ]
    assert [(d, v) for d, v, _, _ in got] == [
        ("2026-11-02", 1),
        ("2026-11-03", 1),
        ("2026-11-03", 2),
        ("2026-11-04", 2),
    ]
    first = doc["periods"][0]
    assert first["realised"]["value"] == pytest.approx(0.75)
    assert first["estimated"]["value"] == pytest.approx(0.80)
    assert first["estimation_error"] == pytest.approx(0.05)
    second = doc["periods"][1]
    assert second["realised"] is None and second["estimation_error"] is None
    assert second["estimated"] == {
        "value": pytest.approx(0.72),
        "ci_low": pytest.approx(0.67),
        "ci_high": pytest.approx(0.77),
        "n_rows": 500,
        "reliable": False,
        "reason": "too few rows",
        "run_id": "a" * 32,  # the run that made the estimate: the pages link it
    }
    assert doc["periods"][2]["estimated"] is None
    assert doc["periods"][2]["realised"]["n_rows"] == 300


def test_filters_by_window_version_and_metric(recorded: Settings) -> None:
    with make_app(recorded) as app:
        client = app.test_client()
        doc = client.get("/performance?start=2026-11-03&end=2026-11-04").get_json()
        assert [p["model_version"] for p in doc["periods"]] == [1, 2]
        doc = client.get("/performance?model_version=2").get_json()
        assert [p["period_start"][:10] for p in doc["periods"]] == ["2026-11-03", "2026-11-04"]
        doc = client.get("/performance?metric=accuracy").get_json()
        assert [p["estimated"]["value"] for p in doc["periods"]] == [pytest.approx(0.60)]
        assert doc["metric"] == "accuracy"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("metric=mae", "metric"),  # a regression metric for a classifier
        ("metric=%27%3B+DROP+TABLE+runs", "metric"),
        ("start=yesterday", "start"),
        ("model_version=0", "model_version"),
        ("start=", "start"),
        ("model_version=" + "9" * 40, "model_version"),
    ],
)
def test_bad_parameters_are_400s_naming_them(
    recorded: Settings, query: str, parameter: str
) -> None:
    with make_app(recorded) as app:
        body = assert_error(app.test_client().get(f"/performance?{query}"), 400)
    assert body["parameter"] == parameter


def test_an_empty_window_answers_no_periods(settings: Settings, recorded: Settings) -> None:
    with make_app(settings) as app:
        client = app.test_client()
        doc = client.get("/performance?start=2026-11-04&end=2026-11-03").get_json()
        assert doc["periods"] == [] and doc["end"].startswith("2026-11-03")


def test_an_empty_database_answers_no_periods(settings: Settings) -> None:
    with make_app(settings) as app:
        doc = app.test_client().get("/performance").get_json()
    assert doc["periods"] == [] and doc["start"] is None


def test_the_cli_prints_the_api_document(recorded: Settings, project: Path, database_url: str):
    """`riskwatch performance --json` is `GET /performance`'s document, its options checked as
    the query parameters are (a bad one named by its option, exit 2)."""
    with make_app(recorded) as app:
        api = app.test_client().get("/performance?start=2026-11-03&model_version=1").get_json()
    proc = invoke(
        project,
        "performance",
        "--since",
        "2026-11-03",
        "--model-version",
        "1",
        "--json",
        database_url=database_url,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == api
    text = invoke(project, "performance", "--metric", "accuracy", database_url=database_url)
    assert text.returncode == 0, text.stderr
    assert "accuracy per day" in text.stdout and "estimated 0.600 [0.550, 0.650]" in text.stdout
    for args, option in [
        (["--metric", "mae"], "--metric"),
        (["--since", "yesterday"], "--since"),
        (["--model-version", "0"], "--model-version"),
    ]:
        bad = invoke(project, "performance", *args, database_url=database_url)
        assert bad.returncode == 2 and option in bad.stderr, bad.stderr


def test_the_cli_says_when_nothing_is_recorded(project: Path, database_url: str) -> None:
    proc = invoke(project, "performance", database_url=database_url)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "no realised or estimated f1 in the window (period: day)"
