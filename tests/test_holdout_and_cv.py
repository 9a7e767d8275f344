"""A version's recorded metric: without a holdout (`split.holdout_fraction = 0`) the model is
deployed uncompared and held to its test-file score; with a holdout smaller than
`policy.min_rows`, the metric is k-fold cross-validated on the window. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pypdf
import pytest
import sqlalchemy as sa

from pipeline.model.metrics import Score, fold_ids
from pipeline.model.policy import deploy_without_holdout, promote_decision, retrain_decision
from pipeline.storage import reads
from pipeline.tools.sampledata import write_sample_data
from tests.e2e import drop, invoke, rows, run_json

QUICK = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"
ANY_DROP = "tolerance = 0\nrequire_interval = false\nmin_rows = 1\n"


# --- pure parts --------------------------------------------------------------------------


def test_folds_are_stratified_seeded_and_cover_every_row_once() -> None:
    y = np.array([0] * 37 + [1] * 13)
    folds = fold_ids(y, 5, seed=42, stratified=True)
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3, 4]
    assert np.bincount(folds).max() - np.bincount(folds).min() <= 1
    for label in (0, 1):  # each class spread evenly: 13 positives give 3, 3, 3, 2, 2
        counts = np.bincount(folds[y == label], minlength=5)
        assert counts.max() - counts.min() <= 1
    assert np.array_equal(folds, fold_ids(y, 5, seed=42, stratified=True))
    assert not np.array_equal(folds, fold_ids(y, 5, seed=43, stratified=True))
    plain = fold_ids(np.arange(11.0), 3, seed=0, stratified=False)
    assert np.bincount(plain).tolist() in ([4, 4, 3], [4, 3, 4], [3, 4, 4])
    with pytest.raises(ValueError, match="k >= 2"):
        fold_ids(y, 1, seed=0, stratified=True)


def test_no_holdout_deploys_and_says_no_comparison_was_made() -> None:
    recorded = Score("f1", 0.71, 0.6, 0.8, 150)
    decision = deploy_without_holdout(False, recorded, "test")
    assert decision.outcome
    assert (
        "without comparison" in decision.reason and "split.holdout_fraction = 0" in decision.reason
    )
    assert "0.7100 on 150 rows (test file)" in decision.reason
    assert decision.evidence["compared"] is False and decision.evidence["holdout_rows"] == 0


@pytest.mark.parametrize(("rows_held", "weak"), [(12, True), (30, False)])
def test_a_small_holdout_comparison_is_marked_weak(rows_held: int, weak: bool) -> None:
    champion, challenger = (
        Score("f1", 0.7, 0.5, 0.9, rows_held),
        Score("f1", 0.8, 0.6, 1, rows_held),
    )
    decision = promote_decision(champion, challenger, margin=0, min_rows=30)
    assert decision.outcome and decision.evidence["weak"] is weak
    assert decision.evidence["compared"] is True
    assert ("a weak comparison: 12 holdout rows" in decision.reason) is weak


def test_the_retrain_reason_names_where_the_production_metric_comes_from() -> None:
    new = Score("f1", 0.5, 0.4, 0.6, 40)
    decision = retrain_decision(
        new,
        0.8,
        tolerance=0,
        require_interval=False,
        min_rows=1,
        confidence=0.95,
        baseline_source="cv:5",
    )
    assert decision.outcome and "vs production 0.8000 (5-fold CV)" in decision.reason
    assert decision.evidence["production_score_source"] == "cv:5"


# --- end to end --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    write_sample_data(out, batches=2, rows=300, test_rows=150)
    return out


def _settings(project: Path, policy: str = "", rest: str = "") -> None:
    (project / "riskwatch.toml").write_text(QUICK + policy + rest)


def _with_test_file(project: Path, sample: Path) -> None:
    (project / "testdata").mkdir(exist_ok=True)
    shutil.copyfile(sample / "testdata" / "testdata.csv", project / "testdata" / "testdata.csv")


def _head(sample: Path, n: int, target: Path, flip: bool = False) -> Path:
    frame = pd.read_csv(sample / "sourcedata" / "clients_batch_02.csv").head(n)
    if flip:  # labels the model gets wrong: any model's F1 drops on them
        frame["exited"] = 1 - frame["exited"]
    frame.to_csv(target, index=False)
    return target


def _version(url: str, version: int) -> dict:
    (row,) = rows(url, f"SELECT * FROM model_versions WHERE version = {version}")
    return row


def _decisions(url: str, run_id: str) -> dict[str, dict]:
    found = rows(
        url, f"SELECT kind, outcome, reason, evidence FROM decisions WHERE run_id = '{run_id}'"
    )
    for d in found:
        if isinstance(d["evidence"], str):  # SQLite hands JSON back as text through sa.text
            d["evidence"] = json.loads(d["evidence"])
    return {d["kind"]: d for d in found}


def test_without_a_holdout_the_model_is_deployed_and_held_to_its_test_file_score(
    project: Path, database_url: str, sample: Path, tmp_path: Path
) -> None:
    _settings(project, ANY_DROP, "\n[split]\nholdout_fraction = 0\n")
    _with_test_file(project, sample)
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    first = run_json(project, database_url)
    assert first["production_version"] == 1
    v1 = _version(database_url, 1)
    assert (v1["score_source"], v1["score_rows"], v1["holdout_rows"]) == ("test", 150, 0)
    assert v1["train_rows"] == first["rows_ingested"]  # every row of the window is learned
    promote = _decisions(database_url, first["run_id"])["promote"]
    assert promote["evidence"]["compared"] is False and "no holdout" in promote["reason"]
    # The diagnose step scores production on the test file: the very score it is held to.
    (diagnosed,) = rows(
        database_url,
        f"SELECT value FROM scores WHERE run_id = '{first['run_id']}' "
        "AND role = 'production' AND dataset = 'test'",
    )
    assert diagnosed["value"] == pytest.approx(v1["holdout_score"], rel=1e-12)

    drop(project, _head(sample, 10, tmp_path / "flipped.csv", flip=True))
    tick = run_json(project, database_url)
    assert tick["score"]["production_metric"] == pytest.approx(v1["holdout_score"], rel=1e-12)
    assert tick["score"]["production_metric_source"] == "test"
    assert tick["decision"]["retrain"] is True, tick["decision"]["reason"]
    assert "(test file)" in tick["decision"]["reason"]
    promotion = tick["promotion"]
    assert promotion["promoted"] is True and promotion["compared"] is False
    assert promotion["challenger"] is None and promotion["champion"] is None
    assert tick["production_version"] == 2
    decided = _decisions(database_url, tick["run_id"])
    assert decided["retrain"]["evidence"]["production_score_source"] == "test"
    assert decided["promote"]["evidence"]["compared"] is False

    trained = invoke(project, "train", "--json", database_url=database_url)
    assert trained.returncode == 0, trained.stderr
    summary = json.loads(trained.stdout)
    assert summary["promotion"]["promoted"] and not summary["promotion"]["compared"]
    assert summary["production_version"] == 3
    assert _version(database_url, 3)["score_source"] == "test"


def test_without_a_holdout_or_a_test_file_the_metric_is_cross_validated(
    project: Path, database_url: str, sample: Path
) -> None:
    _settings(project, "", '\n[split]\nholdout_fraction = 0\n\n[paths]\ntest_data = "none.csv"\n')
    drop(project, sample / "sourcedata" / "clients_batch_01.csv")
    first = run_json(project, database_url)
    v1 = _version(database_url, 1)
    assert (v1["score_source"], v1["score_rows"]) == ("cv:5", first["rows_ingested"])
    assert v1["holdout_ci_low"] is not None and v1["holdout_ci_high"] is not None


def test_a_small_holdout_gives_a_cross_validated_metric_with_its_interval(
    project: Path, database_url: str, sample: Path, tmp_path: Path
) -> None:
    _settings(project)  # policy.min_rows = 30: a 20% holdout of 60 rows (12) is too small
    drop(project, _head(sample, 60, tmp_path / "sixty.csv"))
    first = run_json(project, database_url)
    assert first["rows_ingested"] == 60
    v1 = _version(database_url, 1)
    assert (v1["score_source"], v1["score_rows"], v1["holdout_rows"]) == ("cv:5", 60, 12)
    low, value, high = v1["holdout_ci_low"], v1["holdout_score"], v1["holdout_ci_high"]
    assert low is not None and high is not None and low <= value <= high
    (cv,) = rows(
        database_url,
        f"SELECT * FROM scores WHERE run_id = '{first['run_id']}' AND dataset = 'cv:5'",
    )
    assert (cv["role"], cv["n_rows"]) == ("challenger", 60)
    assert (cv["value"], cv["ci_low"], cv["ci_high"]) == (value, low, high)
    meta = json.loads((project / "models" / "1" / "metadata.json").read_text())
    assert (meta["score_source"], meta["score_rows"]) == ("cv:5", 60)
    promote = _decisions(database_url, first["run_id"])["promote"]["evidence"]
    assert (promote["score_source"], promote["weak"]) == ("cv:5", True)

    status = invoke(project, "status", database_url=database_url)
    assert "(5-fold CV of 60 rows)" in status.stdout
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:  # what GET /scoring serves
            assert reads.latest_scores(conn, 1)["score_source"] == "cv:5"
    finally:
        engine.dispose()
    scoring = invoke(project, "report", database_url=database_url)
    assert scoring.returncode == 0, scoring.stderr
    text = "\n".join(p.extract_text() for p in pypdf.PdfReader(scoring.stdout.strip()).pages)
    assert "cv:5" in text

    # The same rows and seed give the same folds, models, predictions and bootstrap.
    again = invoke(project, "train", "--json", database_url=database_url)
    assert again.returncode == 0, again.stderr
    promotion = json.loads(again.stdout)["promotion"]
    assert "a weak comparison: 12 holdout rows" in promotion["reason"]
    v2 = _version(database_url, 2)
    assert (v2["holdout_score"], v2["holdout_ci_low"], v2["holdout_ci_high"]) == (value, low, high)


def _cv_settings(tmp_path: Path, folds: int = 5):  # type: ignore[no-untyped-def]
    from pipeline.settings import load_settings

    (tmp_path / "riskwatch.toml").write_text(QUICK + f"cv_folds = {folds}\n")
    return load_settings(tmp_path / "riskwatch.toml", environ={})


@pytest.mark.parametrize("folds", [3, 5])
def test_cross_validation_pools_out_of_fold_predictions(
    tmp_path: Path, sample: Path, folds: int
) -> None:
    from pipeline.model.features import infer_features
    from pipeline.run.evaluation import cross_validated

    settings = _cv_settings(tmp_path, folds)
    window = pd.read_csv(sample / "sourcedata" / "clients_batch_01.csv").head(40)
    features = infer_features(window, settings)
    result = cross_validated(settings, features, window)
    assert result is not None
    score, source = result
    assert source == f"cv:{folds}" and score.n_rows == 40 and score.metric == "f1"
    assert score.ci_low is not None and score.ci_high is not None
    assert cross_validated(settings, features, window) == result  # seeded


def test_a_fold_that_cannot_be_fitted_gives_no_cross_validated_score(
    tmp_path: Path, sample: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pipeline.model.features import infer_features
    from pipeline.run.evaluation import cross_validated

    settings = _cv_settings(tmp_path)
    window = pd.read_csv(sample / "sourcedata" / "clients_batch_01.csv").head(30)
    window["exited"] = [1] + [0] * 29  # the fold holding the lone 1 trains on one class
    features = infer_features(window, settings)
    assert cross_validated(settings, features, window) is None
    assert "cannot be fitted" in caplog.text


def test_a_retrained_model_without_any_recorded_score_is_not_deployed() -> None:
    """Deployed with no recorded metric, production could never be judged again: the champion
    stays. The first model has no champion to keep, so it is deployed as before."""
    nothing = Score("f1", None, None, None, 0)
    kept = deploy_without_holdout(False, nothing, "none")
    assert kept.outcome is False and "the champion stays" in kept.reason
    assert deploy_without_holdout(True, nothing, "none").outcome is True


@pytest.mark.parametrize("content", [b"", b"\x00\x01\x02binary\xff\xfe", b"a,b\n1,2\n"])
def test_a_test_file_that_cannot_be_used_falls_back_to_cross_validation(
    tmp_path: Path, content: bytes
) -> None:
    from pipeline.model.features import FeatureSpec
    from pipeline.run.evaluation import recorded_score, test_frame
    from pipeline.settings import load_settings

    (tmp_path / "testdata").mkdir()
    (tmp_path / "testdata" / "testdata.csv").write_bytes(content)
    (tmp_path / "riskwatch.toml").write_text(
        '[data]\ntarget = "y"\nid_columns = []\n\n[split]\nholdout_fraction = 0\n'
        "\n[policy]\nbootstrap_samples = 50\n"
    )
    settings = load_settings(tmp_path / "riskwatch.toml", environ={})
    features = FeatureSpec(("x",), ())
    assert test_frame(settings, features) is None
    rng = np.random.default_rng(0)
    x = rng.normal(size=60)
    window = pd.DataFrame({"x": x, "y": (x + rng.normal(size=60) > 0).astype(int)})
    from pipeline.model.estimator import fit

    model = fit(settings, features, window)
    recorded = recorded_score(settings, model, features, window, None)
    assert recorded.source == "cv:5" and recorded.score.value is not None
