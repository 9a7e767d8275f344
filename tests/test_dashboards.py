"""The dashboards (issue 13): overview, data quality, drift and one feature, through the Flask
test client with a bearer token, on SQLite and PostgreSQL: what they show, the time range and
filters changing it, the thresholds colouring it, and bad parameters naming themselves."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from pipeline.settings import Settings
from pipeline.storage import db, tables, tokens
from tests.test_api import make_app

NOW = datetime.now(UTC).replace(microsecond=0)
RECENT, OLD = "a" * 32, "b" * 32


def _seed(engine: sa.Engine) -> None:
    """Two runs, one 2 hours ago and one 10 days ago, each with drift and a checked file."""
    with engine.begin() as conn:
        for run_id, ago, share, effect, name, rejected in (
            (RECENT, timedelta(hours=2), 0.6, 0.3, "recent_batch.csv", False),
            (OLD, timedelta(days=10), 0.3, 0.1, "old_batch.csv", True),
        ):
            when = NOW - ago
            conn.execute(
                tables.runs.insert().values(
                    id=run_id, kind="run", started_at=when, finished_at=when, status="succeeded",
                    new_files=1, rows_ingested=100, production_version=1,
                )
            )  # fmt: skip
            conn.execute(
                tables.drift_summaries.insert().values(
                    run_id=run_id, model_version=1, dataset_drift=share >= 0.5,
                    drifted_share=share, reference_rows=500, current_rows=100, thresholds={},
                    created_at=when,
                )
            )  # fmt: skip
            for column, kind, size in (
                ("num_01", "numeric", effect),
                ("industry", "categorical", 0.01),
                ("__prediction__", "numeric", effect / 2),
            ):
                conn.execute(
                    tables.drift_results.insert().values(
                        run_id=run_id, column_name=column, kind=kind, test="ks",
                        effect_size=size, status="ok", drifted=size > 0.15,
                        details={"n_reference": 500, "n_new": 100, "reference_mean": 1.0,
                                 "new_mean": 1.0 + size, "reference_std": 1.0, "new_std": 1.1},
                    )
                )  # fmt: skip
            file_id = conn.execute(
                tables.quality_files.insert().values(
                    run_id=run_id, checked_at=when, sha256=run_id * 2, file_name=name,
                    rows_read=100, rows_valid=0 if rejected else 97,
                    rows_invalid=100 if rejected else 3,
                    criticality="high" if rejected else "low", rejected=rejected,
                )
            ).inserted_primary_key[0]  # fmt: skip
            conn.execute(
                tables.quality_issues.insert().values(
                    run_id=run_id, quality_file_id=file_id,
                    error_type="missing_column" if rejected else "out_of_range",
                    column_name="num_01", criticality="high" if rejected else "low",
                    level="file" if rejected else "row", count=1 if rejected else 3,
                    message="m", examples=[], rows_sample=[],
                )
            )  # fmt: skip


@pytest.fixture
def seeded(settings: Settings, engine: sa.Engine) -> tuple[Settings, str]:
    _seed(engine)
    return settings, tokens.create(engine, "dash", "read")[1]


def _get(settings: Settings, token: str, url: str) -> tuple[int, str]:
    with make_app(settings) as app:
        response = app.test_client().get(url, headers={"Authorization": f"Bearer {token}"})
    assert response.mimetype == "text/html"
    return response.status_code, response.get_data(as_text=True)


def _chart(html: str, chart_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" id="{chart_id}-data">(.*?)</script>', html, re.S
    )
    assert found, f"no chart {chart_id}"
    return json.loads(found.group(1))


def test_overview_shows_the_range_and_a_longer_range_shows_more(
    seeded: tuple[Settings, str],
) -> None:
    settings, token = seeded
    status, week = _get(settings, token, "/")
    assert status == 200
    assert "none deployed yet" in week  # no model registered in this database
    assert f'href="/runs/{RECENT}"' in week and f'href="/runs/{OLD}"' not in week
    with make_app(settings) as app:  # the verdict is the run page's: one sentence, one source
        run_page = app.test_client().get(
            f"/runs/{RECENT}", headers={"Authorization": f"Bearer {token}", "Accept": "text/html"}
        )
    said = re.compile(r'id="verdict">([^<]+)</')
    overview_says, run_says = said.search(week), said.search(run_page.get_data(as_text=True))
    assert overview_says and run_says and overview_says[1] == run_says[1]
    drift = _chart(week, "drift-share")
    assert drift["datasets"][0]["data"] == [0.6] and drift["links"] == [f"/runs/{RECENT}"]
    assert _chart(week, "invalid-share")["datasets"][0]["data"] == [0.03]
    _, month = _get(settings, token, "/?range=month")
    assert _chart(month, "drift-share")["datasets"][0]["data"] == [0.3, 0.6]
    assert "/quality/" in month and "old_batch.csv" in month
    # A custom range holding only the old run; the range is kept in the nav links.
    start = (NOW - timedelta(days=12)).date().isoformat()
    end = (NOW - timedelta(days=5)).date().isoformat()
    _, custom = _get(settings, token, f"/?range=custom&from={start}&to={end}")
    assert _chart(custom, "drift-share")["links"] == [f"/runs/{OLD}"]
    assert f"/quality?range=custom&amp;from={start}&amp;to={end}" in custom
    _, day = _get(settings, token, "/?range=day")
    assert _chart(day, "drift-share")["links"] == [f"/runs/{RECENT}"]


def test_thresholds_colour_the_points_and_are_settings(seeded: tuple[Settings, str]) -> None:
    settings, token = seeded
    _, month = _get(settings, token, "/?range=month")
    drift = _chart(month, "drift-share")
    assert drift["datasets"][0]["levels"] == ["orange", "red"]  # 0.3 and 0.6: 0.25 and 0.5
    assert [d.get("threshold") for d in drift["datasets"][1:]] == ["orange", "red"]
    assert _chart(month, "invalid-share")["datasets"][0]["levels"] == ["red", "orange"]
    assert "Current alerts" in month and "level-red" in month
    looser = settings.with_values(
        dashboard__drifted_share_red=0.7, dashboard__invalid_share_orange=0.05
    )
    _, month = _get(looser, token, "/?range=month")
    assert _chart(month, "drift-share")["datasets"][0]["levels"] == ["orange", "orange"]
    assert _chart(month, "invalid-share")["datasets"][0]["levels"] == ["red", "green"]


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/?range=year", "range"),
        ("/?range=custom", "from"),
        ("/?from=yesterday", "from"),
        ("/?from=2026-12-01&to=2026-11-01", "to"),
        ("/quality?criticality=severe", "criticality"),
        ("/quality?name=" + "x" * 201, "name"),
        ("/drift?range=fortnight", "range"),
        ("/drift/num_01?to=soon", "to"),
    ],
)
def test_a_bad_parameter_is_a_400_page_naming_it(
    seeded: tuple[Settings, str], url: str, parameter: str
) -> None:
    settings, token = seeded
    status, html = _get(settings, token, url)
    assert status == 400
    assert f"Bad parameter: {parameter}" in html and f'data-parameter="{parameter}"' in html


@pytest.mark.parametrize("page", ["/", "/quality", "/drift"])
def test_a_range_to_the_last_day_there_is_is_a_page(
    seeded: tuple[Settings, str], page: str
) -> None:
    """`to` a date is that whole day: the day after 9999-12-31 is past the last time there is,
    so the range ends there (it was a 500)."""
    settings, token = seeded
    for query in ("from=9999-12-31&to=9999-12-31", "from=0001-01-01&to=9999-12-31"):
        status, html = _get(settings, token, f"{page}?range=custom&{query}")
        assert status == 200, html


def test_quality_filters_by_name_and_criticality(seeded: tuple[Settings, str]) -> None:
    settings, token = seeded
    _, page = _get(settings, token, "/quality?range=month")
    assert "recent_batch.csv" in page and "old_batch.csv" in page
    assert "(rejected whole)" in page
    issues = _chart(page, "issues")
    assert {d["label"] for d in issues["datasets"]} == {"missing_column", "out_of_range"}
    assert _chart(page, "rows")["datasets"][1]["data"] == [100, 3]  # invalid rows, oldest first
    assert sum(_chart(page, "rejected")["datasets"][0]["data"]) == 1
    _, named = _get(settings, token, "/quality?range=month&name=RECENT")
    assert "recent_batch.csv" in named and "old_batch.csv" not in named
    _, high = _get(settings, token, "/quality?range=month&criticality=high")
    assert "old_batch.csv" in high and "recent_batch.csv" not in high
    _, week = _get(settings, token, "/quality")
    assert "old_batch.csv" not in week
    _, none = _get(settings, token, "/quality?range=month&name=100%25")
    assert "No file was checked in this range with these filters" in none


def test_drift_heatmap_is_coloured_by_the_thresholds(seeded: tuple[Settings, str]) -> None:
    settings, token = seeded
    _, page = _get(settings, token, "/drift?range=month")
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", page, re.S)
    assert len(rows) == 2  # the features; the prediction is charted apart
    num = next(r for r in rows if "num_01" in r)
    # 0.1 is orange (from half of drift.min_wasserstein = 0.15), 0.3 red; oldest run first.
    assert re.findall(r"level-(\w+)", num) == ["orange", "red"]
    industry = next(r for r in rows if "industry" in r)
    assert re.findall(r"level-(\w+)", industry) == ["green", "green"]
    assert "/drift/num_01?range=month" in page
    outputs = _chart(page, "outputs")
    assert outputs["datasets"][0]["data"] == [0.05, 0.15]
    _, week = _get(settings, token, "/drift")
    num = next(r for r in re.findall(r"<tr>\s*<th scope=\"row\">(.*?)</tr>", week, re.S)
               if "num_01" in r)  # fmt: skip
    assert re.findall(r"level-(\w+)", num) == ["red"]


def test_a_feature_page_shows_reference_and_recent_and_an_unknown_one_is_404(
    seeded: tuple[Settings, str],
) -> None:
    settings, token = seeded
    status, page = _get(settings, token, "/drift/num_01?range=month")
    assert status == 200 and "Drift of num_01" in page
    dist = _chart(page, "distribution")
    assert dist["datasets"][0]["data"] == [1.0, 1.0]  # reference mean
    assert dist["datasets"][1]["data"] == [1.1, 1.3]  # recent mean
    assert _chart(page, "effect")["datasets"][0]["levels"] == ["orange", "red"]
    _, prediction = _get(settings, token, "/drift/__prediction__?range=month")
    assert "Drift of prediction" in prediction
    with make_app(settings) as app:
        missing = app.test_client().get(
            "/drift/nothing", headers={"Authorization": f"Bearer {token}"}
        )
    assert missing.status_code == 404


def test_pages_on_a_real_run(predicting: Settings) -> None:
    engine = db.make_engine(predicting.database_url)
    try:
        token = tokens.create(engine, "dash-real", "read")[1]
    finally:
        engine.dispose()
    _, overview = _get(predicting, token, "/")
    assert "Production model:" in overview and "<strong>v1</strong>" in overview
    assert "Last run</a> (" in overview and "First model trained and deployed as v1" in overview
    assert "since " in overview and "initial" in overview  # the deployment: when and why
    invalid = _chart(overview, "invalid-share")
    assert all(link.startswith("/quality/") for link in invalid["links"])
    with make_app(predicting) as app:
        headers = {"Authorization": f"Bearer {token}"}
        with app.test_client().get(invalid["links"][0], headers=headers) as report:
            assert report.status_code == 200 and report.mimetype == "text/html"
    _, quality = _get(predicting, token, "/quality")
    assert "Checked files" in quality and ".html" in quality
    status, drift = _get(predicting, token, "/drift")
    assert status == 200 and "No drift was checked in this range." in drift  # the first run
    assert "Predicted class shares" in drift and _chart(drift, "classes")["labels"]
