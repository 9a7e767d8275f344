"""Prediction health through the real CLI (issue 12, point 6): a run's predictions counted per
period, a period predicted as one class alerted once to a real webhook on 127.0.0.1, and
`GET /predictions/summary` with good and bad parameters; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest

from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS, create_pg, drop_pg, ensure_postgres
from tests.e2e import invoke, rows, run_json
from tests.test_alerts import webhook  # noqa: F401  (the fixture: a real HTTP server)
from tests.test_report import pdf_text

pytestmark = pytest.mark.slow
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SETTINGS = QUICK_SETTINGS + "\n[monitoring]\nhealth_min_rows = 50\n"
# Only prediction health's alerts reach the webhook here (a run's other events are
# tests/test_run_events.py's).
HEALTH_EVENTS = "constant_predictions,positive_share"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=2, rows=500, test_rows=200)
    return out


@pytest.fixture(params=BACKENDS)
def project(request: pytest.FixtureRequest, tmp_path: Path):
    root = tmp_path / "p"
    (root / "sourcedata").mkdir(parents=True)
    (root / "riskwatch.toml").write_text(SETTINGS)
    name = None
    if request.param == "sqlite":
        url = f"sqlite:///{root / 'riskwatch.db'}"
    else:
        name = f"riskwatch_health_{uuid.uuid4().hex[:10]}"
        url = create_pg(ensure_postgres(), name)
    assert invoke(root, "db", "upgrade", database_url=url).returncode == 0
    yield root, url
    if name:
        drop_pg(ensure_postgres(), name)


def _batch(sample: Path, n: int) -> pd.DataFrame:
    path = sample / "sourcedata" / f"clients_batch_{n:02d}.csv"
    return pd.read_csv(path, dtype={"corporation": str})


def _one_class(sample: Path, rows_: int) -> pd.DataFrame:
    """`rows_` copies of one client under new ids: the model predicts one class for all."""
    one = _batch(sample, 2).iloc[[0] * rows_].reset_index(drop=True)
    return one.assign(corporation=[f"X{i:06d}" for i in range(rows_)]).drop(columns=["exited"])


def test_health_per_period_and_a_single_class_alert_sent_once(project, sample, webhook):  # noqa: F811
    root, url = project
    hook = webhook()
    env = {"RISKWATCH_WEBHOOK_URL": hook.url, "RISKWATCH_ALERTS__EVENTS": HEALTH_EVENTS}
    _batch(sample, 1).to_csv(root / "sourcedata" / "first.csv", index=False)
    first = run_json(root, url, env=env)
    assert first["production_version"] == 1
    health = first["prediction_health"]
    [period] = health["periods"]  # every prediction made today: one day, one version
    assert (period["model_version"], period["count"]) == (1, 500)
    assert sum(period["histogram"]["counts"]) == 500
    assert sum(period["class_counts"].values()) == 500
    assert set(period["class_counts"]) <= {"0", "1"}

    _one_class(sample, 200).to_csv(root / "sourcedata" / "same.csv", index=False)
    second = run_json(root, url, env=env)
    [today] = second["prediction_health"]["periods"]
    assert today["count"] == 700  # the whole period, not only this run's rows
    # 500 varied predictions and 200 identical ones: not a single class yet.
    assert [a["kind"] for a in second["prediction_health"]["alerts"]] in ([], ["positive_share"])

    # The run's PDF shows the period's predictions and their P(positive) distribution.
    _, text = pdf_text(root / second["report"] if not Path(second["report"]).is_absolute()
                       else Path(second["report"]))  # fmt: skip
    flat = " ".join(text.split())
    assert "7c. Predictions" in flat and "700" in flat
    assert "0.9–1.0" in flat and "predictions by P(1)" in flat
    events = rows(url, "SELECT count(*) AS n FROM prediction_alerts")[0]["n"]
    sent = len(hook.received)
    assert sent == events  # every event recorded was delivered (min_criticality high)


def test_single_class_by_event_time_alerts_once(tmp_path: Path, sample: Path, webhook):  # noqa: F811
    root = tmp_path / "p"
    (root / "sourcedata").mkdir(parents=True)
    (root / "riskwatch.toml").write_text(SETTINGS + '\n[data]\ntimestamp_column = "at"\n')
    url = f"sqlite:///{root / 'riskwatch.db'}"
    assert invoke(root, "db", "upgrade", database_url=url).returncode == 0
    hook = webhook()
    env = {"RISKWATCH_WEBHOOK_URL": hook.url, "RISKWATCH_ALERTS__EVENTS": HEALTH_EVENTS}
    _batch(sample, 1).assign(at="2026-05-04T10:00:00Z").to_csv(
        root / "sourcedata" / "first.csv", index=False
    )
    assert run_json(root, url, env=env)["production_version"] == 1
    same = _one_class(sample, 120).assign(at="2026-05-05T09:00:00+02:00")
    same.to_csv(root / "sourcedata" / "same.csv", index=False)
    t = run_json(root, url, env=env)
    kinds = sorted(a["kind"] for a in t["prediction_health"]["alerts"])
    assert "single_class" in kinds
    [alert] = [a for a in t["prediction_health"]["alerts"] if a["kind"] == "single_class"]
    assert alert["period_start"] == "2026-05-05T00:00:00+00:00"
    assert "for all 120 predictions of the period starting 2026-05-05" in alert["message"]
    bodies = [r.json() for r in hook.received]
    assert any(b["riskwatch"]["kind"] == "single_class" for b in bodies)
    assert all(r.path.endswith("s3cr3t-token") for r in hook.received)
    [delivery] = rows(
        url,
        "SELECT a.delivered, a.quality_file_id FROM prediction_alerts p JOIN alerts a "
        "ON a.id = p.alert_id WHERE p.kind = 'single_class'",
    )
    assert delivery["delivered"] in (1, True) and delivery["quality_file_id"] is None
    # More predictions of the same day: the alert is not raised again.
    more = _one_class(sample, 60).assign(at="2026-05-05T12:00:00Z")
    more["corporation"] = [f"Y{i:06d}" for i in range(60)]
    more.to_csv(root / "sourcedata" / "more.csv", index=False)
    before = len(hook.received)
    t = run_json(root, url, env=env)
    assert t["prediction_health"]["alerts"] == []
    assert len(hook.received) == before
    [day] = [
        p for p in t["prediction_health"]["periods"] if p["period_start"].startswith("2026-05-05")
    ]
    assert day["count"] == 180 and day["positive_share"] in (0.0, 1.0)


BAD_PARAMS = [
    ("start=yesterday", "start"),
    ("start=", "start"),
    ("model_version=", "model_version"),
    ("end=2026-13-01", "end"),
    ("model_version=0", "model_version"),
    ("model_version=v1", "model_version"),
    ("source=cron", "source"),
]


def test_predictions_summary_api_good_and_bad_parameters(project, sample):
    from pipeline.settings import load_settings
    from tests.test_api import assert_error, make_app

    root, url = project
    _batch(sample, 1).to_csv(root / "sourcedata" / "first.csv", index=False)
    assert run_json(root, url)["production_version"] == 1
    settings = load_settings(root / "riskwatch.toml", environ={"DATABASE_URL": url})
    with make_app(settings) as app:
        client = app.test_client()
        body = client.get("/predictions/summary").get_json()
        assert body["period"] == "day" and body["time"] == "created_at"
        [period] = body["periods"]
        assert period["count"] == 500 and period["baseline"]["source"] == "holdout"
        assert len(period["histogram"]["counts"]) == 10
        only = client.get("/predictions/summary?model_version=1&source=scheduled").get_json()
        assert only["periods"][0]["count"] == 500
        none = client.get("/predictions/summary?source=api").get_json()
        assert none["periods"] == [] and none["alerts"] == []
        backwards = client.get("/predictions/summary?start=2026-05-02&end=2026-05-01")
        assert backwards.status_code == 200 and backwards.get_json()["periods"] == []
        later = client.get("/predictions/summary?start=2999-01-01").get_json()
        assert later["periods"] == [] and later["start"] == "2999-01-01T00:00:00+00:00"
        for query, name in BAD_PARAMS:
            error = assert_error(client.get(f"/predictions/summary?{query}"), 400)
            assert error["parameter"] == name and repr(name) in error["error"]
        spec = client.get("/openapi.json").get_json()
        assert "/predictions/summary" in spec["paths"]


def test_prediction_summary_cli_is_the_api_document(project, sample):
    """`riskwatch prediction-summary --json` answers what `GET /predictions/summary` does, with
    the same filters; its text names the period, the count and the share; a bad option is
    refused by its name (exit 2)."""
    from pipeline.settings import load_settings
    from tests.test_api import make_app

    root, url = project
    _batch(sample, 1).to_csv(root / "sourcedata" / "first.csv", index=False)
    assert run_json(root, url)["production_version"] == 1
    settings = load_settings(root / "riskwatch.toml", environ={"DATABASE_URL": url})
    query = "?model_version=1&source=scheduled&start=2000-01-01"
    with make_app(settings) as app:
        api = app.test_client().get("/predictions/summary" + query).get_json()
    args = ["--model-version", "1", "--source", "scheduled", "--since", "2000-01-01", "--json"]
    proc = invoke(root, "prediction-summary", *args, database_url=url)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == api and api["periods"][0]["count"] == 500
    text = invoke(root, "prediction-summary", database_url=url)
    assert text.returncode == 0, text.stderr
    assert "prediction health per day (by created_at)" in text.stdout
    assert "v1  500 predictions  P(1) share" in text.stdout
    none = invoke(root, "prediction-summary", "--source", "api", database_url=url)
    assert none.stdout.startswith("no predictions in the window")
    for args, option in [(["--source", "cron"], "--source"), (["--until", "x"], "--until")]:
        bad = invoke(root, "prediction-summary", *args, database_url=url)
        assert bad.returncode == 2 and option in bad.stderr, bad.stderr
