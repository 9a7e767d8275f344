"""Drift in the run, through the real CLI: the profile stored with each version, results per
column in SQL, the drift command (latest, ad hoc, self-test), the retrain trigger, the PDF."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from pipeline.model.policy import Decision, with_trigger
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import cli, count, drop, invoke, rows, run_json

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=3, rows=1000, test_rows=200)
    return out


def _first(project: Path, sample: Path, url: str | None = None) -> None:
    (project / "testdata").mkdir()
    shutil.copy(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    assert run_json(project, url)["production_version"] == 1
    assert (project / "models" / "1" / "profile.bin").is_file()


def test_drift_is_measured_and_recorded_each_run(project: Path, sample: Path, database_url: str):
    _first(project, sample, database_url)
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    like = run_json(project, database_url)
    assert like["drift"]["dataset_drift"] is False and like["drift"]["drifted_features"] == []
    assert like["drift"]["status"] == "not_drifted" and like["drift"]["reason"] is None
    drop(project, sample / "sourcedata" / "clients_batch_03.csv")
    moved = run_json(project, database_url)
    assert "region" in moved["drift"]["drifted_features"]
    assert moved["drift"]["drifted_share"] > 0

    latest = json.loads(invoke(project, "drift", "--json", database_url=database_url).stdout)
    assert latest["run_id"] == moved["run_id"]
    by_column = {c["column"]: c for c in latest["columns"]}
    assert by_column["region"]["drifted"] and by_column["region"]["test"] == "chi2"
    assert by_column["lastyear_activity"]["test"] == "ks"
    assert {"__prediction__", "__target__"} <= by_column.keys()
    for c in latest["columns"]:
        assert set(c) == {
            "column",
            "kind",
            "test",
            "statistic",
            "p_value",
            "p_adjusted",
            "effect_size",
            "status",
            "drifted",
        }
    assert count(database_url, "drift_results", f"WHERE run_id = '{moved['run_id']}'") == len(
        latest["columns"]
    )
    details = rows(
        database_url,
        "SELECT details FROM drift_results WHERE column_name = 'region' "
        f"AND run_id = '{moved['run_id']}'",
    )[0]["details"]
    details = details if isinstance(details, dict) else json.loads(details)
    assert len(details["distribution"]["reference"]) == len(details["distribution"]["labels"])
    text = "".join(p.extract_text() for p in PdfReader(moved["report"]).pages)
    assert "Data drift" in text and "Reference vs new" in text


def test_drift_can_trigger_the_retrain(project: Path, sample: Path):
    toml = project / "riskwatch.toml"
    text = toml.read_text().replace("[policy]\n", "[policy]\ntrigger = 'drift'\n")
    toml.write_text(text + "\n[drift]\ndataset_share = 0.3\n")  # 3 of the 7 features move
    assert invoke(project, "db", "upgrade").returncode == 0
    _first(project, sample)
    drop(project, sample / "sourcedata" / "clients_batch_03.csv")
    t = run_json(project)
    assert t["decision"]["retrain"] is True
    assert t["decision"]["reason"].startswith("trigger drift: data drift")


def test_ad_hoc_comparison_needs_no_run_and_no_settings(tmp_path: Path, sample: Path):
    src = sample / "sourcedata"
    out = invoke(
        tmp_path,
        "drift",
        "--reference",
        str(src / "clients_batch_01.csv"),
        "--current",
        str(src / "clients_batch_03.csv"),
        "--json",
    )
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert {"dataset_drift", "drifted_share", "status", "reason", "columns"} <= set(doc)
    flagged = {c["column"] for c in doc["columns"] if c["drifted"]}
    assert "region" in flagged and "industry" not in flagged
    same = invoke(
        tmp_path,
        "drift",
        "--reference",
        str(src / "clients_batch_01.csv"),
        "--current",
        str(src / "clients_batch_02.csv"),
        "--json",
    )
    assert not [c for c in json.loads(same.stdout)["columns"] if c["drifted"]]
    # The real console script: a usage error is exit status 2.
    bad = cli(tmp_path, "drift", "--reference", str(src / "clients_batch_01.csv"))
    assert bad.returncode == 2 and "go together" in bad.stderr


def test_selftest_reports_false_alarms_and_power(project: Path, sample: Path):
    assert invoke(project, "db", "upgrade").returncode == 0
    _first(project, sample)
    out = invoke(project, "drift", "selftest", "--runs", "20", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["model_version"] == 1 and doc["batch_size"] == 1000
    assert "region" in json.dumps(doc)


@pytest.mark.parametrize(
    ("trigger", "metric", "confirmed", "expected"),
    [
        ("metric", True, False, True),
        ("metric", False, True, False),
        ("drift", False, True, True),
        ("drift", True, False, False),
        ("either", False, True, True),
        ("either", True, False, True),
        ("both", True, False, False),
        ("both", True, True, True),
    ],
)
def test_the_trigger_combines_metric_and_drift(trigger, metric, confirmed, expected):
    drift = {
        "status": "drifted",
        "dataset_drift": True,
        "confirmed": confirmed,
        "drifted_share": 0.5,
        "features_tested": 2,
        "features_drifted": 1,
        "drifted_features": ["region"],
    }
    decision = with_trigger(trigger, Decision(metric, "metric says so"), drift)
    assert decision.outcome is expected
    assert decision.evidence["trigger"] == trigger
    assert with_trigger(trigger, Decision(metric, "m"), None).outcome is (
        metric if trigger in ("metric", "either") else False
    )


def test_importance_weights_are_stored_and_used(project: Path, sample: Path):
    toml = project / "riskwatch.toml"
    toml.write_text(toml.read_text() + "\n[drift]\nweights = 'importance'\n")
    assert invoke(project, "db", "upgrade").returncode == 0
    _first(project, sample)
    importance = json.loads((project / "models" / "1" / "importance.json").read_text())
    assert set(importance) == {
        "lastmonth_activity",
        "lastyear_activity",
        "number_of_employees",
        "years_as_client",
        "support_tickets",
        "industry",
        "region",
    }
    assert all(v >= 0 for v in importance.values()) and sum(importance.values()) > 0
    drop(project, sample / "sourcedata" / "clients_batch_03.csv")
    drift = run_json(project)["drift"]
    drifted = set(drift["drifted_features"])
    assert not drifted & {"__prediction__", "__target__"}
    expected = sum(importance[c] for c in drifted) / sum(importance.values())
    assert drift["drifted_share"] == pytest.approx(expected)


def test_the_run_summary_names_the_drifted_columns(project: Path, sample: Path):
    assert invoke(project, "db", "upgrade").returncode == 0
    _first(project, sample)
    drop(project, sample / "sourcedata" / "clients_batch_03.csv")
    out = invoke(project, "run")
    assert out.returncode == 0, out.stderr
    [line] = [x for x in out.stdout.splitlines() if x.startswith("data drift: ")]
    assert "region" in line and "share " in line
