"""Alert events of real runs (issue 13, point 10): model degraded, retrained, promoted, data-set
drift, run failed, inbox missing, each delivered to a real webhook on 127.0.0.1 when
`alerts.events` chooses it (and only then); an unknown event name is refused by name. The events
no sample run raises on its own (kept, estimated drop) go through the same functions with a
run's real decisions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.model.policy import Decision
from pipeline.monitor.events import Event, message
from pipeline.run import events
from pipeline.run.record import Run
from pipeline.settings import load_settings
from pipeline.settings.keys_quality import ALERT_EVENTS, DEFAULT_ALERT_EVENTS
from pipeline.storage import db
from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS
from tests.e2e import drop, invoke, rows, run_json
from tests.test_alerts import webhook  # noqa: F401  (the fixture: a real HTTP server)

pytestmark = pytest.mark.slow
EVERY = ",".join(ALERT_EVENTS)


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Batches 1-2 like the training data, batch 3 drifted."""
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=3, rows=500, test_rows=300)
    return out


def _sqlite(project: Path) -> str:
    url = f"sqlite:///{project / 'riskwatch.db'}"
    assert invoke(project, "db", "upgrade", database_url=url).returncode == 0
    return url


def delivered(hook) -> list[str]:
    """The events the webhook received, in order."""
    return [json.loads(r.body)["riskwatch"].get("event") for r in hook.received]


def names(summary: dict) -> list[str]:
    return [e["event"] for e in summary.get("events", [])]


def test_a_model_that_degrades_on_drifted_data_and_is_replaced(project, batches, webhook):  # noqa: F811
    url, hook = _sqlite(project), webhook()
    env = {
        "RISKWATCH_WEBHOOK_URL": hook.url,
        "RISKWATCH_ALERTS__EVENTS": EVERY,
        "RISKWATCH_DRIFT__DATASET_SHARE": "0.3",  # batch 3 drifts in 3 of its 7 features
    }
    src = batches / "sourcedata"
    drop(project, src / "clients_batch_01.csv")
    t1 = run_json(project, url, env=env)
    assert names(t1) == ["retrained", "promoted"]  # the first model
    drop(project, src / "clients_batch_02.csv")
    t2 = run_json(project, url, env=env)
    assert names(t2) == []  # the model holds, the data is like its training data
    drop(project, src / "clients_batch_03.csv")
    t3 = run_json(project, url, env=env)
    assert names(t3) == ["model_degraded", "dataset_drift", "retrained", "promoted"]
    assert delivered(hook) == names(t1) + names(t3)
    degraded, drift, _, promoted = (json.loads(r.body) for r in hook.received[2:])
    assert degraded["riskwatch"]["evidence"]["n_rows"] == 500
    assert "degraded" in degraded["riskwatch"]["message"]
    assert drift["riskwatch"]["evidence"]["drifted_share"] == t3["drift"]["drifted_share"]
    assert promoted["riskwatch"]["run_id"] == t3["run_id"]
    assert promoted["riskwatch"]["model_version"] == 2 == t3["production_version"]
    assert promoted["type"] == "message" and promoted["text"].startswith("*MEDIUM* run alert")
    card = promoted["attachments"][0]["content"]
    assert card["body"][0]["text"] == "MEDIUM: new model in production"
    sent = rows(url, "SELECT run_id, quality_file_id, delivered, payload FROM alerts")
    assert len(sent) == len(hook.received) and all(r["delivered"] for r in sent)
    assert {r["quality_file_id"] for r in sent} == {None}


def test_by_default_only_what_needs_a_person_is_sent(project, batches, webhook):  # noqa: F811
    url, hook = _sqlite(project), webhook()
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    t1 = run_json(project, url, env={"RISKWATCH_WEBHOOK_URL": hook.url})
    assert names(t1) == ["retrained", "promoted"]  # both said in the summary and the log
    assert delivered(hook) == ["promoted"]  # retrained is not among the defaults


def test_none_chosen_none_sent(project, batches, webhook):  # noqa: F811
    url, hook = _sqlite(project), webhook()
    (project / "riskwatch.toml").write_text(QUICK_SETTINGS + "\n[alerts]\nevents = []\n")
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    t1 = run_json(project, url, env={"RISKWATCH_WEBHOOK_URL": hook.url})
    assert names(t1) == ["retrained", "promoted"]
    assert hook.received == []


def test_a_missing_inbox_is_its_own_event(project, webhook):  # noqa: F811
    url, hook = _sqlite(project), webhook()
    (project / "sourcedata").rmdir()
    proc = invoke(project, "run", database_url=url, env={"RISKWATCH_WEBHOOK_URL": hook.url})
    assert proc.returncode == 2 and "the inbox" in proc.stderr
    assert delivered(hook) == ["inbox_missing"]  # not also run_failed
    body = json.loads(hook.received[0].body)
    assert "paths.source" in body["riskwatch"]["message"]
    assert body["riskwatch"]["criticality"] == "high"


def test_a_failed_run_is_an_event(project, batches, webhook):  # noqa: F811
    url, hook = _sqlite(project), webhook()
    # Checked only once a run has work (no-op ticks never import scikit-learn): it fails then.
    env = {
        "RISKWATCH_WEBHOOK_URL": hook.url,
        "RISKWATCH_MODEL__ESTIMATOR": "sklearn.linear_model.NoSuchModel",
    }
    drop(project, batches / "sourcedata" / "clients_batch_01.csv")
    proc = invoke(project, "run", database_url=url, env=env)
    assert proc.returncode != 0
    assert delivered(hook) == ["run_failed"]
    body = json.loads(hook.received[0].body)
    [run] = rows(url, "SELECT id, status FROM runs")
    assert (body["riskwatch"]["run_id"], run["status"]) == (run["id"], "failed")
    assert "NoSuchModel" in body["riskwatch"]["message"]


def test_kept_and_estimated_drop_reach_the_webhook(project, webhook):  # noqa: F811
    """What a run does when its challenger loses and when its estimate drops, with the
    decisions `estimated_decision` and `train` give (the sample data raises neither)."""
    url, hook = _sqlite(project), webhook()
    settings = load_settings(
        project / "riskwatch.toml",
        environ={"RISKWATCH_WEBHOOK_URL": hook.url, "RISKWATCH_ALERTS__EVENTS": EVERY},
        overrides={"database.url": url},
    )
    engine = db.make_engine(url)
    try:
        run = Run(settings, engine, "run", run_id="")
        from pipeline.storage import writes

        run.run_id = writes.start_run(engine, "run")
        drop_ = Decision(True, "estimated f1 dropped", {"estimate": 0.3, "baseline": 0.5})
        events.decided(run, 1, Decision(False, "holds", {}), drop_, None)
        promotion = {"promoted": False, "reason": "challenger worse", "challenger_version": 2}
        events.trained(run, promotion)
    finally:
        engine.dispose()
    assert delivered(hook) == ["estimated_drop", "retrained", "kept"]
    assert names(run.summary) == ["estimated_drop", "retrained", "kept"]


def test_an_unknown_event_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "riskwatch.toml").write_text('[alerts]\nevents = ["promoted", "promotd"]\n')
    unknown = re.escape("setting 'alerts.events': unknown event 'promotd'")
    with pytest.raises(ConfigError, match=unknown):
        load_settings(tmp_path / "riskwatch.toml", environ={})
    with pytest.raises(ConfigError, match=re.escape("unknown event 'nope'")):
        load_settings(tmp_path / "riskwatch.toml", environ={"RISKWATCH_ALERTS__EVENTS": "nope"})
    assert set(DEFAULT_ALERT_EVENTS) < set(ALERT_EVENTS)
    from pipeline.monitor.events import CRITICALITY

    older = {"data_quality", "constant_predictions", "positive_share"}  # their own modules
    assert set(ALERT_EVENTS) == older | set(CRITICALITY)
    with pytest.raises(ValueError, match="unknown event"):
        Event("nope", "x")


def test_the_message_escapes_what_slack_reads_as_control() -> None:
    body = message(Event("run_failed", "file <!channel> & co"), "r1", "https://rw/runs/r1")
    assert "&lt;!channel&gt; &amp; co" in body["text"]
    assert body["riskwatch"]["message"] == "file <!channel> & co"  # unformatted there
    assert body["attachments"][0]["content"]["actions"][0]["url"] == "https://rw/runs/r1"
    assert (
        "actions" not in message(Event("kept", "x"), "r1", "file:///x")["attachments"][0]["content"]
    )
