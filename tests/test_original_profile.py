"""The `original` settings profile behaves like the original dynamic risk assessment system.

The files are shaped like that system's own: tiny CSVs (11 to 19 rows) of a corporation id,
three numeric features and the label, rows shared between the files of one drop, a corporation
coming back later with other figures. The reference is the original's algorithm written out
with pandas and scikit-learn (merge a drop's files and drop duplicate rows; fit
`LogisticRegression(C=1.0, solver="liblinear", random_state=0)` on the three columns as they
are; F1 on the test file is `latestscore`; retrain on the new drop when the deployed model's F1
on it is below that). riskwatch must give the same row counts, F1 scores, decisions and
predictions.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.settings import load_settings, profile_names, profile_text
from tests.e2e import drop, invoke, rows, run_json

FEATURES = ["lastmonth_activity", "lastyear_activity", "number_of_employees"]
COLUMNS = ["corporation", *FEATURES, "exited"]


def _clients(rng: np.random.Generator, n: int, flip: bool = False) -> pd.DataFrame:
    """n rows like the original's: whole-number activity and head counts, skewed, exits that
    follow the activity (the other way round when `flip`: the world has moved)."""
    ids = ["".join(rng.choice(list(string.ascii_lowercase), 4)) for _ in range(n)]
    month = rng.lognormal(5, 1.6, n).round().astype(int)
    year = rng.lognormal(6, 1.2, n).round().astype(int)
    staff = rng.lognormal(3.5, 1.8, n).round().astype(int)
    logit = 1.5 - 0.004 * month + 0.0004 * year - 0.002 * staff
    exited = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    if flip:
        exited = 1 - exited
    frame = pd.DataFrame(
        {
            "corporation": ids,
            "lastmonth_activity": month,
            "lastyear_activity": year,
            "number_of_employees": staff,
            "exited": exited,
        }
    )
    return frame[COLUMNS]


@pytest.fixture(scope="module")
def drops(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two drops of two files each (17 + 19 rows, then 11 + 15), and a test file of 12 rows."""
    rng = np.random.default_rng(7)
    out = tmp_path_factory.mktemp("original")
    first = _clients(rng, 33)
    a = first.iloc[:17]
    b = pd.concat([first.iloc[17:], first.iloc[[2, 5, 11]]])  # three rows of `a` again
    second = _clients(rng, 24, flip=True)
    c = second.iloc[:11]
    d = pd.concat([second.iloc[11:], second.iloc[[0, 4]]])  # two rows of `c` again
    d.iloc[-3, d.columns.get_loc("corporation")] = a.iloc[0]["corporation"]  # a client is back
    test = _clients(rng, 12)
    files = {"dataset1": a, "dataset2": b, "dataset3": c, "dataset4": d, "testdata": test}
    for name, frame in files.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    assert [len(files[f"dataset{i}"]) for i in (1, 2, 3, 4)] == [17, 19, 11, 15]
    return {name: out / f"{name}.csv" for name in files}


def _fit(frame: pd.DataFrame):  # type: ignore[no-untyped-def]
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, solver="liblinear", random_state=0)
    return model.fit(frame[FEATURES].to_numpy(), frame["exited"].to_numpy())


def _f1(model, frame: pd.DataFrame) -> float:  # type: ignore[no-untyped-def]
    from sklearn.metrics import f1_score

    return float(f1_score(frame["exited"], model.predict(frame[FEATURES].to_numpy())))


def _original(drops: dict[str, Path]) -> list[dict]:
    """What the original system does with the two drops: per drop, the rows it kept, its F1
    on them, whether it retrained, and the deployed model's latestscore and test predictions."""
    test = pd.read_csv(drops["testdata"])
    model, latest, out = None, None, []
    for names in (("dataset1", "dataset2"), ("dataset3", "dataset4")):
        merged = pd.concat([pd.read_csv(drops[n]) for n in names]).drop_duplicates()
        new_score = None if model is None else _f1(model, merged)
        retrain = model is None or new_score < latest
        if retrain:
            model = _fit(merged)
            latest = _f1(model, test)
        out.append(
            {
                "rows": len(merged),
                "new_score": new_score,
                "retrained": retrain,
                "latestscore": latest,
                "test_predictions": model.predict(test[FEATURES].to_numpy()).tolist(),
                "coef": model.coef_.ravel().tolist() + model.intercept_.tolist(),
            }
        )
    return out


def _project(tmp_path: Path, drops: dict[str, Path]) -> Path:
    project = tmp_path / "project"
    (project / "sourcedata").mkdir(parents=True)
    (project / "testdata").mkdir()
    (project / "testdata" / "testdata.csv").write_bytes(drops["testdata"].read_bytes())
    # The profile as a user gets it, with this suite's two speed settings added.
    text = invoke(project, "settings", "--profile", "original").stdout
    text += "\n[diagnostics]\noutdated_packages = false\n"
    (project / "riskwatch.toml").write_text(
        text.replace("[policy]\n", "[policy]\nbootstrap_samples = 200\n")
    )
    return project


def test_the_profile_is_shipped_and_loads() -> None:
    assert "original" in profile_names()
    text = profile_text("original")
    assert 'preprocessing = "none"' in text and "holdout_fraction = 0" in text


def test_an_unknown_profile_is_an_error_listing_the_profiles(tmp_path: Path) -> None:
    proc = invoke(tmp_path, "settings", "--profile", "udacity")
    assert proc.returncode == 2
    assert "no settings profile 'udacity'; the profiles are: original" in proc.stderr
    assert proc.stdout == ""


def test_the_profile_reproduces_the_original_system(tmp_path: Path, drops: dict[str, Path]) -> None:
    from pipeline.model import registry
    from pipeline.model.estimator import predict
    from pipeline.storage import db

    reference = _original(drops)
    assert reference[1]["retrained"], "the second drop must exercise a retrain"
    project = _project(tmp_path, drops)
    settings = load_settings(project / "riskwatch.toml", environ={})
    assert settings["model.preprocessing"] == "none"
    test = pd.read_csv(drops["testdata"])

    for tick, names in enumerate((("dataset1", "dataset2"), ("dataset3", "dataset4"))):
        for name in names:
            drop(project, drops[name], f"{name}.csv")
        got = run_json(project)
        want = reference[tick]
        # Row counts: a drop's duplicate rows are quarantined with the reason, never kept twice.
        assert got["rows_ingested"] == want["rows"]
        assert got["rows_quarantined"] == (36 - 33 if tick == 0 else 26 - 24)
        if tick == 1:
            # F1 of the deployed model on the new rows, held to its test-file F1: no interval,
            # no tolerance, any number of rows.
            assert got["score"]["value"] == pytest.approx(want["new_score"], abs=1e-12)
            assert got["score"]["production_metric"] == pytest.approx(
                reference[0]["latestscore"], abs=1e-12
            )
            assert got["decision"]["retrain"] is want["retrained"], got["decision"]["reason"]
        assert got["production_version"] == tick + 1
        with db.opened(settings.database_url) as engine:
            loaded = registry.load(engine, settings, got["production_version"])
        pred, _ = predict(loaded.model, loaded.features, test)
        assert pred.tolist() == want["test_predictions"]
        estimator = loaded.model[-1]
        coef = estimator.coef_.ravel().tolist() + estimator.intercept_.tolist()
        assert coef == pytest.approx(want["coef"], rel=1e-12, abs=1e-12)
        # latestscore: the deployed model's F1 on the test file is its recorded score.
        status = json.loads(invoke(project, "status", "--json").stdout)
        production = next(
            v for v in status["model_versions"] if v["version"] == got["production_version"]
        )
        assert production["score_source"] == "test"
        # The test file's confusion counts of the run's production model, each row once.
        [counted] = rows(
            settings.database_url,
            "SELECT SUM(count) AS n FROM confusion_matrices WHERE dataset = 'test' "
            f"AND run_id = '{got['run_id']}' AND model_version = {got['production_version']}",
        )
        assert counted["n"] == len(test)
        assert production["holdout_score"] == pytest.approx(want["latestscore"], abs=1e-12)


def test_a_drop_that_cannot_train_a_model_keeps_production_and_the_cron_going(
    tmp_path: Path, drops: dict[str, Path]
) -> None:
    """With training on the latest drop alone, a drop of one class only (every client stayed)
    drops F1 and asks for a retrain no classifier can do: production stays, the run succeeds,
    and the next tick has nothing left to do rather than failing on the same rows forever."""
    project = _project(tmp_path, drops)
    for name in ("dataset1", "dataset2"):
        drop(project, drops[name], f"{name}.csv")
    assert run_json(project)["production_version"] == 1
    stayed = pd.read_csv(drops["dataset3"]).assign(exited=0)
    stayed["lastmonth_activity"] = 0  # clients the model thinks leave: F1 0 on this drop
    stayed.to_csv(tmp_path / "stayed.csv", index=False)
    drop(project, tmp_path / "stayed.csv", "dataset5.csv")
    got = run_json(project)
    assert got["status"] == "succeeded"
    assert got["decision"]["retrain"] is True, got["decision"]["reason"]
    assert got["promotion"]["challenger_version"] is None
    assert "one class only" in got["promotion"]["reason"]
    assert "production v1 stays" in got["promotion"]["reason"]
    assert got["production_version"] == 1
    text = invoke(project, "runs").stdout
    assert "failed" not in text
    assert run_json(project)["status"] == "noop"
