"""Your own model end to end (issue 9, point 5), through the in-process CLI and the API's test
client: model.preprocessing = "none" quarantines a row missing a feature value at the gate and
the API refuses one; model.pipeline trains, registers, round-trips, weighs drift and predicts;
each bad factory stops `run` and `train` at start with exit 2; a model whose module cannot be
imported where it is loaded is refused, not a traceback. On SQLite and a real PostgreSQL where
the registry's records are the point.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader

from app import create_app
from pipeline.model import registry
from pipeline.model.estimator import predict
from pipeline.settings import Settings, load_settings
from pipeline.storage import db
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import count, drop, invoke, run_json
from tests.test_api import RECORD  # a record with the sample data's features
from tests.test_own_model import BAD_FACTORIES

pytestmark = pytest.mark.slow

NUMERIC = ["lastmonth_activity", "lastyear_activity", "number_of_employees"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=2, rows=300, test_rows=100)
    return out


def _project(project: Path, sample: Path, settings: str) -> None:
    toml = project / "riskwatch.toml"
    toml.write_text(toml.read_text() + settings)
    (project / "testdata").mkdir(exist_ok=True)
    (project / "testdata" / "testdata.csv").write_bytes(
        (sample / "testdata" / "testdata.csv").read_bytes()
    )
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")


def _settings(project: Path, database_url: str) -> Settings:
    return load_settings(
        project / "riskwatch.toml", environ={}, overrides={"database.url": database_url}
    )


def _post(settings: Settings, records: list[dict[str, Any]]) -> Any:
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        return app.test_client().post("/prediction", json=records)
    finally:
        app.extensions["riskwatch"].engine.dispose()


def _status_versions(project: Path, database_url: str) -> list[dict[str, Any]]:
    proc = invoke(project, "status", "--json", database_url=database_url)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["model_versions"]


PARAMS = {"solver": "liblinear", "random_state": 0}  # the original system's model, C=1.0
NONE = f"""
[data]
features = {json.dumps(NUMERIC)}

[model]
preprocessing = "none"
params = {{ solver = "liblinear", random_state = 0 }}
"""


def test_none_quarantines_a_row_missing_a_feature_at_the_gate(
    project: Path, sample: Path, database_url: str
) -> None:
    _project(project, sample, NONE)
    batch = pd.read_csv(sample / "sourcedata" / "clients_batch_01.csv")
    holes = int(batch[NUMERIC].isna().any(axis=1).sum())
    assert holes > 0  # the sample data leaves some lastmonth_activity blank
    summary = run_json(project, database_url)
    [quality] = summary["quality"]["files"]
    assert quality["errors_by_type"].get("missing_value") == holes
    assert summary["rows_quarantined"] == holes
    assert summary["rows_ingested"] == len(batch) - holes
    # The inferred contract file still says what the data showed; only the gate's copy is strict.
    assert "nullable = true" in (project / "contract.toml").read_text()
    # `contract check` gives the gate's verdict: the same rows would be quarantined.
    check = invoke(
        project,
        "contract",
        "check",
        "--json",
        str(sample / "sourcedata" / "clients_batch_02.csv"),
        database_url=database_url,
    )
    later = pd.read_csv(sample / "sourcedata" / "clients_batch_02.csv")
    verdict = json.loads(check.stdout)
    assert verdict["rows_quarantined"] >= int(later[NUMERIC].isna().any(axis=1).sum()) > 0
    assert verdict["errors_by_type"]["missing_value"] >= int(later[NUMERIC].isna().sum().sum())

    [version] = _status_versions(project, database_url)
    assert (version["preprocessing"], version["pipeline"]) == ("none", None)
    assert version["model"] == "sklearn.linear_model.LogisticRegression, preprocessing none"
    status = invoke(project, "status", database_url=database_url).stdout
    assert "model: sklearn.linear_model.LogisticRegression, preprocessing none" in status
    meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
    assert (meta["preprocessing"], meta["pipeline"], meta["params"]) == ("none", None, PARAMS)
    first_page = PdfReader(summary["report"]).pages[0].extract_text()
    assert "version 1 (sklearn.linear_model.LogisticRegression, preprocessing none)" in " ".join(
        first_page.split()
    )

    settings = _settings(project, database_url)
    null = {**RECORD, "lastyear_activity": None}
    refused = _post(settings, [RECORD, null])
    assert refused.status_code == 400
    assert refused.get_json()["error"].startswith(
        "record 1: feature column 'lastyear_activity' is null; this model takes its features as"
    )
    assert refused.get_json()["column"] == "lastyear_activity"
    answered = _post(settings, [RECORD])
    assert answered.status_code == 200, answered.get_data(as_text=True)
    # The API's answer is the plain scikit-learn model's, fitted on the ingested rows as they are.
    engine = db.make_engine(settings.database_url)
    try:
        loaded = registry.load_production(engine, settings)
    finally:
        engine.dispose()
    x = pd.DataFrame([RECORD])[NUMERIC].to_numpy(dtype=float)
    assert answered.get_json()["probabilities"] == [loaded.model[-1].predict_proba(x)[0, 1]]


def test_a_production_model_without_preprocessing_keeps_the_gate_strict(
    project: Path, sample: Path
) -> None:
    """Settings back to "standard": until a standard model is in production, the rows that the
    production model predicts still need every one of its features, so the tick never fails."""
    _project(project, sample, NONE)
    run_json(project)
    toml = project / "riskwatch.toml"
    toml.write_text(toml.read_text().replace('preprocessing = "none"', ""))
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    batch = pd.read_csv(sample / "sourcedata" / "clients_batch_02.csv")
    holes = int(batch[NUMERIC].isna().any(axis=1).sum())
    assert holes > 0
    second = run_json(project)
    assert second["status"] == "succeeded"
    [quality] = second["quality"]["files"]
    assert quality["errors_by_type"].get("missing_value") == holes


def test_none_leaves_test_file_rows_it_cannot_take_out_of_the_score(
    project: Path, sample: Path
) -> None:
    _project(project, sample, NONE)
    run_json(project)
    test = pd.read_csv(sample / "testdata" / "testdata.csv")
    complete = int(test[NUMERIC].notna().all(axis=1).sum())
    assert complete < len(test)
    proc = invoke(project, "score", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["score"]["n_rows"] == complete
    assert f"{len(test) - complete} row(s) lack a feature value" in proc.stderr


def test_without_a_holdout_the_recorded_score_is_on_the_test_rows_it_can_take(
    project: Path, sample: Path
) -> None:
    _project(project, sample, NONE + "\n[split]\nholdout_fraction = 0\n")
    summary = run_json(project)
    assert summary["production_version"] == 1
    test = pd.read_csv(sample / "testdata" / "testdata.csv")
    complete = int(test[NUMERIC].notna().all(axis=1).sum())
    meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
    assert (meta["score_source"], meta["score_rows"]) == ("test", complete)


@pytest.mark.parametrize(
    "factory", ["pipeline.model.examples:scaled_forest", "tests.model_factories:logistic_no_proba"]
)
def test_a_pipeline_of_ones_own_trains_scores_weighs_drift_and_predicts(
    project: Path, sample: Path, database_url: str, factory: str
) -> None:
    _project(
        project, sample, f'\n[model]\npipeline = "{factory}"\n\n[drift]\nweights = "importance"\n'
    )
    first = run_json(project, database_url)
    assert first["production_version"] == 1
    [version] = _status_versions(project, database_url)
    assert (version["preprocessing"], version["pipeline"]) == ("pipeline", factory)
    assert version["model"] == f"pipeline {factory}"
    meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
    assert (meta["estimator"], meta["params"], meta["pipeline"]) == (factory, {}, factory)
    first_page = PdfReader(first["report"]).pages[0].extract_text()
    assert f"version 1 (pipeline {factory})" in " ".join(first_page.split())
    importance = json.loads((project / "models" / "1" / "importance.json").read_text())
    assert set(importance) == {*NUMERIC, "years_as_client", "support_tickets", "industry", "region"}

    # A second tick: the user's model predicts the new rows, is scored, and drift is weighed.
    drop(project, sample / "sourcedata" / "clients_batch_02.csv")
    second = run_json(project, database_url)
    assert second["status"] == "succeeded"
    assert second["score"]["n_rows"] == second["rows_ingested"] > 250
    assert second["drift"] is not None and "dataset_drift" in second["drift"]

    settings = _settings(project, database_url)
    engine = db.make_engine(settings.database_url)
    try:
        loaded = registry.load(engine, settings, 1)  # verified and unpickled
    finally:
        engine.dispose()
    assert loaded.features.preprocessing == "pipeline"
    records = [RECORD, {**RECORD, "lastmonth_activity": None, "industry": "retail"}]
    answered = _post(settings, records)
    assert answered.status_code == 200, answered.get_data(as_text=True)
    body = answered.get_json()
    expected, proba = predict(loaded.model, loaded.features, pd.DataFrame(records))
    assert body["predictions"] == expected.tolist()
    if proba is None:
        assert body["probabilities"] is None
    else:
        np.testing.assert_allclose(body["probabilities"], proba)


@pytest.mark.parametrize(("factory", "message"), BAD_FACTORIES)
def test_a_bad_factory_stops_run_and_train_at_start(
    project: Path, sample: Path, factory: str, message: str
) -> None:
    _project(project, sample, f'\n[model]\npipeline = "{factory}"\n')
    url = f"sqlite:///{project / 'riskwatch.db'}"
    for command in ("run", "train"):
        proc = invoke(project, command, database_url=url)
        assert proc.returncode == 2, proc.stderr
        assert "setting 'model.pipeline': " in proc.stderr
        assert message in proc.stderr
        assert "Traceback" not in proc.stderr
    assert count(url, "ingested_files") == 0  # stopped before the gate


MODULE = '''
"""A factory whose model holds a class of this module: the pickle names the module."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline


class Numbers(TransformerMixin, BaseEstimator):
    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return np.nan_to_num(X.select_dtypes("number").to_numpy())


def make():
    return make_pipeline(Numbers(), LogisticRegression())
'''


def test_a_model_whose_module_cannot_be_imported_is_refused_when_loaded(
    project: Path, sample: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: Any
) -> None:
    modules = tmp_path_factory.mktemp("user-modules")
    (modules / "riskwatch_user_models.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(modules))
    _project(project, sample, '\n[model]\npipeline = "riskwatch_user_models:make"\n')
    assert run_json(project)["production_version"] == 1
    # Elsewhere (another machine, the app's process) the module is not installed, and the
    # settings no longer name it as model.pipeline (they would be refused at start: see the
    # bad factories), only as trusted.
    monkeypatch.delitem(sys.modules, "riskwatch_user_models")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(modules)])
    toml = project / "riskwatch.toml"
    toml.write_text(
        toml.read_text().replace(
            'pipeline = "riskwatch_user_models:make"',
            '\n[registry]\ntrusted_modules = ["riskwatch_user_models"]',
        )
    )
    needs = "cannot be loaded: it needs 'riskwatch_user_models', which cannot be imported here"
    for command in ("score", "run"):
        drop(project, sample / "sourcedata" / "clients_batch_02.csv")
        proc = invoke(project, command)
        assert proc.returncode == 4, proc.stderr
        assert needs in proc.stderr
        assert "Traceback" not in proc.stderr
    response = _post(load_settings(toml, environ={}), [RECORD])
    assert response.status_code == 503
    assert needs in response.get_json()["error"]
