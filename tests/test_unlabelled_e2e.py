"""Unlabelled data through the real CLI (issue 12, point 1): files without the target or with
gaps in it, data.unlabelled_files, a renamed target, event times good and hostile, and a first
file without labels; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from pipeline.tools.sampledata import write_sample_data
from tests.conftest import QUICK_SETTINGS, create_pg, drop_pg, ensure_postgres
from tests.e2e import invoke, rows, run_json

pytestmark = pytest.mark.slow
TARGET = "exited"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=3, rows=500, test_rows=200)
    return out


def _batch(sample: Path, n: int) -> pd.DataFrame:
    return pd.read_csv(
        sample / "sourcedata" / f"clients_batch_{n:02d}.csv", dtype={"corporation": str}
    )


def _new_project(root: Path, backend: str, extra: str = "") -> tuple[Path, str, str | None]:
    """A migrated project folder: (folder, database URL, the PostgreSQL database's name)."""
    (root / "sourcedata").mkdir(parents=True)
    (root / "riskwatch.toml").write_text(QUICK_SETTINGS + extra)
    name = None
    if backend == "sqlite":
        url = f"sqlite:///{root / 'riskwatch.db'}"
    else:
        name = f"riskwatch_unl_{uuid.uuid4().hex[:10]}"
        url = create_pg(ensure_postgres(), name)
    assert invoke(root, "db", "upgrade", database_url=url).returncode == 0
    return root, url, name


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def first_tick(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sample: Path
) -> Iterator[tuple[Path, str | None]]:
    """A project whose first tick trained version 1 on a labelled file, once per backend."""
    project, url, name = _new_project(tmp_path_factory.mktemp("first") / "p", request.param)
    _batch(sample, 1).to_csv(project / "sourcedata" / "labelled.csv", index=False)
    assert run_json(project, url)["production_version"] == 1
    yield project, name
    if name:
        drop_pg(ensure_postgres(), name)


@pytest.fixture
def trained(first_tick, tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, str]:
    template_dir, template_db = first_tick
    project = tmp_path / "project"
    shutil.copytree(template_dir, project)
    if template_db is None:
        return project, f"sqlite:///{project / 'riskwatch.db'}"
    url = request.getfixturevalue("pg_database")
    create_pg(ensure_postgres(), url.rsplit("/", 1)[1], template=template_db)
    return project, url


def _file_row(url: str, name: str) -> dict:
    [row] = rows(url, f"SELECT * FROM ingested_files WHERE name = '{name}'")
    return row


def test_an_unlabelled_file_is_ingested_measured_for_drift_and_not_scored(trained, sample):
    project, url = trained
    _batch(sample, 2).drop(columns=[TARGET]).to_csv(project / "sourcedata" / "u.csv", index=False)
    t = run_json(project, url)
    assert t["status"] == "succeeded"
    assert (t["rows_ingested"], t["rows_labelled"], t["rows_unlabelled"]) == (500, 0, 500)
    assert t["files_quarantined"] == 0 and t["score"] is None
    assert "no labelled rows among the 500 new rows" in t["decision"]["reason"]
    assert t["drift"] is not None  # measured on every new row
    f = _file_row(url, "u.csv")
    assert (f["status"], f["rows"], f["labelled_rows"]) == ("ingested", 500, 0)
    stored = pd.read_parquet(project / "ingesteddata" / f["data_path"])
    assert TARGET in stored.columns and stored[TARGET].isna().all()
    [run] = rows(url, f"SELECT rows_labelled, rows_unlabelled FROM runs WHERE id = '{t['run_id']}'")
    assert run == {"rows_labelled": 0, "rows_unlabelled": 500}
    # No score row for the production model on these rows.
    scores = rows(url, f"SELECT * FROM scores WHERE run_id = '{t['run_id']}'")
    assert [s for s in scores if s["dataset"] == "new"] == []
    listed = json.loads(invoke(project, "runs", "--json", database_url=url).stdout)
    assert (listed[0]["rows_labelled"], listed[0]["rows_unlabelled"]) == (0, 500)
    text = invoke(project, "runs", database_url=url).stdout.splitlines()[0]
    assert "rows=500 (labelled 0)" in text


def test_a_partly_labelled_file_is_scored_on_its_labelled_rows_only(trained, sample):
    project, url = trained
    frame = _batch(sample, 2).astype({TARGET: "float64"})
    frame.loc[frame.index[::2], TARGET] = None  # 250 rows without a label
    frame.to_csv(project / "sourcedata" / "partly.csv", index=False)
    with (project / "riskwatch.toml").open("a") as fh:
        fh.write("min_rows = 300\n")  # under [policy]: more than the labelled rows
    t = run_json(project, url)
    assert (t["rows_ingested"], t["rows_labelled"], t["rows_unlabelled"]) == (500, 250, 250)
    assert t["rows_quarantined"] == 0
    assert t["score"]["n_rows"] == 250
    assert "only 250 new labelled rows, fewer than policy.min_rows=300" in t["decision"]["reason"]
    assert _file_row(url, "partly.csv")["labelled_rows"] == 250


def test_the_quarantine_setting_refuses_a_file_without_labels(trained, sample):
    project, url = trained
    frame = _batch(sample, 2)
    frame.drop(columns=[TARGET]).to_csv(project / "sourcedata" / "absent.csv", index=False)
    frame.assign(**{TARGET: None}).to_csv(project / "sourcedata" / "empty.csv", index=False)
    _batch(sample, 3).to_csv(project / "sourcedata" / "labelled2.csv", index=False)
    env = {"RISKWATCH_DATA__UNLABELLED_FILES": "quarantine"}
    t = run_json(project, url, env=env)
    reasons = {q["name"]: q["reason"] for q in t["quarantined"]}
    assert set(reasons) == {"absent.csv", "empty.csv"}
    assert "the file has no target column ('exited')" in reasons["absent.csv"]
    assert "the target is empty in every row ('exited')" in reasons["empty.csv"]
    assert all('data.unlabelled_files = "quarantine"' in r for r in reasons.values())
    assert t["rows_labelled"] == 500 and t["score"]["n_rows"] == 500


def test_a_renamed_target_is_quarantined_not_taken_for_unlabelled(trained, sample):
    project, url = trained
    renamed = _batch(sample, 2).rename(columns={TARGET: "Exited_"})
    renamed.to_csv(project / "sourcedata" / "renamed.csv", index=False)
    t = run_json(project, url)
    [q] = t["quarantined"]
    assert "required column 'exited' is missing; it looks renamed to 'Exited_'" in q["reason"]
    assert t["rows_unlabelled"] == 0


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unlabelled_first_file_makes_no_model_until_labels_come(
    tmp_path: Path, sample: Path, backend: str
):
    project, url, name = _new_project(tmp_path / "p", backend)
    try:
        inbox = project / "sourcedata"
        _batch(sample, 1).drop(columns=[TARGET]).to_csv(inbox / "first.csv", index=False)
        t = run_json(project, url)
        assert t["production_version"] is None and t["rows_unlabelled"] == 500
        assert "none of the 500 new rows is labelled" in t["decision"]["reason"]
        text = (project / "contract.toml").read_text()
        assert "label_values =" not in text  # the label set comes with the labels
        _batch(sample, 2).to_csv(inbox / "second.csv", index=False)
        t = run_json(project, url)
        assert t["production_version"] == 1
        assert "label_values = [0, 1]" in (project / "contract.toml").read_text()
        assert t["promotion"]["training_rows"] == 500  # the labelled file's rows only
        # The learned label set is enforced from now on.
        bad = _batch(sample, 3)
        bad.loc[:9, TARGET] = 7
        bad.to_csv(inbox / "third.csv", index=False)
        t = run_json(project, url)
        [quality] = t["quality"]["files"]
        assert quality["errors_by_type"].get("invalid_label") == 10
    finally:
        if name:
            drop_pg(ensure_postgres(), name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_classes_are_learned_after_an_unlabelled_first_file(
    tmp_path: Path, sample: Path, backend: str
):
    project, url, name = _new_project(tmp_path / "p", backend)
    try:
        inbox = project / "sourcedata"
        _batch(sample, 1).drop(columns=[TARGET]).to_csv(inbox / "first.csv", index=False)
        assert run_json(project, url)["production_version"] is None
        second = _batch(sample, 2)
        second[TARGET] = second[TARGET].map({0: "stays", 1: "leaves"})
        second.to_csv(inbox / "second.csv", index=False)
        (project / "testdata").mkdir()  # the diagnose step's test file, with text labels too
        second.iloc[:50].to_csv(project / "testdata" / "testdata.csv", index=False)
        t = run_json(project, url)
        assert t["rows_quarantined"] == 0 and t["rows_labelled"] == 500
        assert t["production_version"] == 1
        diagnosed = rows(url, "SELECT label, actual FROM predictions WHERE source = 'diagnostics'")
        assert len(diagnosed) == 50 and {r["label"] for r in diagnosed} <= {"leaves", "stays"}
        assert {r["actual"] for r in diagnosed} == {None}  # a text class is no number
        assert 'label_values = ["leaves", "stays"]' in (project / "contract.toml").read_text()
        third = _batch(sample, 3)
        third[TARGET] = third[TARGET].map({0: "stays", 1: "leaves"})
        third.loc[:4, TARGET] = "maybe"  # not in the learned set: refused from now on
        third.to_csv(inbox / "third.csv", index=False)
        [quality] = run_json(project, url)["quality"]["files"]
        assert quality["errors_by_type"].get("invalid_label") == 5
    finally:
        if name:
            drop_pg(ensure_postgres(), name)


def _stamped(frame: pd.DataFrame, times: list) -> pd.DataFrame:
    return frame.assign(at=(times * (len(frame) // len(times) + 1))[: len(frame)])


@pytest.mark.parametrize("backend", BACKENDS)
def test_event_times_good_and_hostile(tmp_path: Path, sample: Path, backend: str):
    project, url, name = _new_project(
        tmp_path / "p", backend, '\n[data]\ntimestamp_column = "at"\n'
    )
    try:
        inbox = project / "sourcedata"
        good = ["2026-05-01T10:00:00+02:00", "2026-05-01 10:00:00", "2026-05-02T03:00:00Z"]
        _stamped(_batch(sample, 1), good).to_csv(inbox / "good.csv", index=False)
        t = run_json(project, url)
        assert t["production_version"] == 1 and t["rows_quarantined"] == 0
        assert '[columns.at]\nkind = "timestamp"' in (project / "contract.toml").read_text()
        f = _file_row(url, "good.csv")
        stored = pd.read_parquet(project / "ingesteddata" / f["data_path"])
        assert str(stored["at"].dt.tz) == "UTC"
        assert [t.isoformat() for t in stored["at"][:3]] == [
            "2026-05-01T08:00:00+00:00",
            "2026-05-01T10:00:00+00:00",
            "2026-05-02T03:00:00+00:00",
        ]
        hostile = _batch(sample, 2)
        hostile["at"] = "2026-05-03T00:00:00-07:00"
        hostile.loc[0, "at"] = "garbage"
        hostile.loc[1, "at"] = "1714557600"
        hostile.loc[2, "at"] = None
        hostile.loc[3, "at"] = "2999-01-01T00:00:00Z"
        hostile.loc[4, "at"] = "2026-02-30T00:00:00Z"
        hostile.to_csv(inbox / "hostile.csv", index=False)
        t = run_json(project, url)
        [quality] = t["quality"]["files"]
        assert quality["errors_by_type"] == {"wrong_type": 3, "missing_value": 1, "out_of_range": 1}
        assert (quality["rows_valid"], quality["rows_invalid"]) == (495, 5)
        bad = pd.read_parquet(
            project / "ingesteddata" / _file_row(url, "hostile.csv")["quarantine_path"]
        )
        assert bad["_riskwatch_errors"].tolist() == [
            "wrong_type:at",
            "wrong_type:at",
            "missing_value:at",
            "out_of_range:at",
            "wrong_type:at",
        ]
        issues = rows(url, "SELECT error_type, message FROM quality_issues")
        messages = " ".join(i["message"] for i in issues)
        assert "an epoch number is ambiguous" in messages
        assert "must hold ISO 8601 times" in messages
        assert "no event time in 'at'" in messages
    finally:
        if name:
            drop_pg(ensure_postgres(), name)


def test_the_drift_trigger_works_on_unlabelled_rows_and_retrains_on_labelled_ones(trained, sample):
    project, url = trained
    with (project / "riskwatch.toml").open("a") as fh:
        fh.write('trigger = "drift"\n')  # under [policy]
    drifted = _batch(sample, 2).drop(columns=[TARGET])
    for column in ("lastmonth_activity", "lastyear_activity", "number_of_employees"):
        drifted[column] = drifted[column] * 5
    drifted.to_csv(project / "sourcedata" / "drifted.csv", index=False)
    t = run_json(project, url)
    assert t["score"] is None and t["rows_unlabelled"] == 500
    assert t["drift"]["confirmed"] is True
    assert t["decision"]["retrain"] is True
    assert "no labelled rows among the 500 new rows" in t["decision"]["reason"]
    # The challenger learns from the labelled rows of the window only: the first file's.
    assert t["promotion"]["training_rows"] == 500


def test_the_labelled_rows_of_a_partly_labelled_file_wait_for_no_label(trained, sample):
    """Its labelled rows are scored by their run: they are marked when predicted, so the
    period's estimate covers the rows that wait for labels, the same rows whose labels, once
    they arrive, make the period's realised value."""
    project, url = trained
    frame = _batch(sample, 2).astype({TARGET: "float64"})
    truth = frame[TARGET].copy()
    waiting = frame.index[::2]
    frame.loc[waiting, TARGET] = None  # 250 rows without a label
    frame.loc[frame.index[1], TARGET] = float("nan")  # and one more, as a NaN
    frame.to_csv(project / "sourcedata" / "partly.csv", index=False)
    t = run_json(project, url)
    assert (t["rows_labelled"], t["rows_unlabelled"]) == (249, 251)
    [f] = rows(url, "SELECT id FROM ingested_files WHERE name = 'partly.csv'")
    stored = rows(
        url,
        "SELECT row_number, labelled FROM predictions "
        f"WHERE file_id = {f['id']} ORDER BY row_number",
    )
    assert len(stored) == 500
    marked = {r["row_number"] for r in stored if r["labelled"] is not None}
    assert all(r["labelled"] in (None, True, 1) for r in stored)
    assert marked == set(range(500)) - set(waiting) - {1}
    [period] = rows(
        url,
        "SELECT n_rows, period_start FROM performance_estimates "
        f"WHERE run_id = '{t['run_id']}' AND period <> 'run' AND metric = 'accuracy'",
    )
    assert period["n_rows"] == 251
    # Their labels arrive: the realised value is of the same 251 rows, beside the estimate.
    (project / "labels").mkdir()
    late = frame.index.isin(waiting) | (frame.index == 1)
    lines = [
        f"{c},{int(y)}"
        for c, y in zip(frame.corporation[late], truth[late].astype(int), strict=True)
    ]
    (project / "labels" / "late.csv").write_text("corporation,exited\n" + "\n".join(lines) + "\n")
    done = json.loads(invoke(project, "labels", "--json", database_url=url).stdout)["labels"]
    assert done["joined"] == 251
    assert {r["n_rows"] for r in done["realised"]} == {251}
    [reconciled] = rows(
        url,
        "SELECT n_rows, realised_value FROM performance_estimates "
        f"WHERE run_id = '{t['run_id']}' AND period <> 'run' AND metric = 'accuracy'",
    )
    assert reconciled["n_rows"] == 251 and reconciled["realised_value"] is not None
