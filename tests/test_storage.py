"""The schema the migrations build, UTC times, and the model registry, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from pipeline.errors import DatabaseNotReady, ModelIntegrityError, NoProductionModel, NotFound
from pipeline.model import registry
from pipeline.model.estimator import fit
from pipeline.model.features import infer_features
from pipeline.settings import Settings, load_settings
from pipeline.storage import db, tables
from tests.conftest import QUICK_SETTINGS


def test_migrations_build_exactly_the_declared_schema(engine: sa.Engine):
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), tables.metadata) == []
    db.check_schema(engine)


def test_schema_revision_is_the_newest_migration():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(db.migrations_dir()))
    assert ScriptDirectory.from_config(cfg).get_current_head() == tables.SCHEMA_REVISION


def test_downgrade_and_upgrade_round_trip(engine: sa.Engine):
    db.downgrade(engine, "base")
    with pytest.raises(DatabaseNotReady, match="riskwatch db upgrade"):
        db.check_schema(engine)
    assert db.upgrade(engine) == tables.SCHEMA_REVISION


def test_times_are_stored_and_read_as_utc(engine: sa.Engine):
    paris = timezone(timedelta(hours=1))
    started = datetime(2026, 11, 22, 9, 30, tzinfo=paris)
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(
                id="a" * 32, kind="run", started_at=started, status="running"
            )
        )
        back = conn.execute(sa.select(tables.runs.c.started_at)).scalar()
    assert back == started and back.tzinfo is not None
    assert back.astimezone(UTC).hour == 8
    with pytest.raises(sa.exc.StatementError, match="timezone-aware"), engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(
                id="b" * 32, kind="run", started_at=datetime(2026, 1, 1), status="x"
            )
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """One small model, fitted once: the tests register and load it, never change it."""
    root = tmp_path_factory.mktemp("trained")
    (root / "riskwatch.toml").write_text(QUICK_SETTINGS)
    settings = load_settings(root / "riskwatch.toml", environ={})
    frame = pd.DataFrame(
        {
            "corporation": [f"C{i}" for i in range(40)],
            "employees": [i % 7 + 1 for i in range(40)],
            "industry": ["retail", "finance"] * 20,
            "exited": [i % 2 for i in range(40)],
        }
    )
    features = infer_features(frame, settings)
    return fit(settings, features, frame), features


def _register(engine, settings, trained) -> int:
    model, features = trained
    return registry.register(
        engine,
        settings,
        model,
        features=features,
        metric="f1",
        holdout_score=0.7,
        train_rows=32,
        holdout_rows=8,
        training_files=[{"name": "a.csv", "sha256": "0" * 64, "rows": 40}],
        run_id=None,
    )


def test_register_deploy_load_and_rollback(engine: sa.Engine, settings: Settings, trained):
    with pytest.raises(NoProductionModel):
        registry.load_production(engine, settings)
    v1 = _register(engine, settings, trained)
    v2 = _register(engine, settings, trained)
    assert (v1, v2) == (1, 2)
    meta = json.loads((settings.path("paths.models") / "2" / "metadata.json").read_text())
    assert meta["features"] == {
        "numeric": ["employees"],
        "categorical": ["industry"],
        "preprocessing": "standard",
    }
    assert (meta["preprocessing"], meta["pipeline"]) == ("standard", None)
    assert meta["library_versions"]["scikit-learn"]
    assert meta["training_files"][0]["name"] == "a.csv"
    registry.deploy(engine, settings, v1, kind="initial", reason="first", run_id=None)
    registry.deploy(engine, settings, v2, kind="promote", reason="better", run_id=None)
    assert registry.load_production(engine, settings).version == 2
    assert registry.rollback(engine, settings, None, reason="bad", run_id=None) == 1
    assert registry.production_version(settings) == 1
    with pytest.raises(NotFound, match="already in production"):
        registry.rollback(engine, settings, 1, reason="again", run_id=None)
    with pytest.raises(NotFound, match="version 7"):
        registry.rollback(engine, settings, 7, reason="nope", run_id=None)


def test_metadata_and_the_version_row_say_the_same(engine: sa.Engine, settings: Settings, trained):
    model, features = trained
    v = registry.register(
        engine,
        settings,
        model,
        features=features,
        metric="f1",
        holdout_score=0.7,
        holdout_ci=(0.6, 0.8),
        train_rows=32,
        holdout_rows=8,
        training_files=[{"name": "a.csv", "sha256": "0" * 64, "rows": 40}],
        run_id=None,
    )
    meta = json.loads((settings.path("paths.models") / str(v) / "metadata.json").read_text())
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(tables.model_versions).where(tables.model_versions.c.version == v)
        ).one()
    assert (meta["holdout_score"], meta["holdout_ci"]) == (0.7, [0.6, 0.8])
    assert (row.holdout_score, row.holdout_ci_low, row.holdout_ci_high) == (0.7, 0.6, 0.8)
    assert datetime.fromisoformat(meta["created_at"]) == row.created_at
    for key in ("version", "sha256", "estimator", "params", "features", "metric", "train_rows"):
        assert meta[key] == getattr(row, key), key
    assert registry.load(engine, settings, v).holdout_ci == (0.6, 0.8)
    assert _register(engine, settings, trained) == v + 1  # no interval: null in both
    meta = json.loads((settings.path("paths.models") / str(v + 1) / "metadata.json").read_text())
    assert meta["holdout_ci"] is None
    assert registry.load(engine, settings, v + 1).holdout_ci is None


@pytest.mark.parametrize("damage", ["append", "truncate", "delete"])
def test_damaged_artifact_is_refused(engine: sa.Engine, settings: Settings, trained, damage: str):
    v = _register(engine, settings, trained)
    registry.deploy(engine, settings, v, kind="initial", reason="first", run_id=None)
    artifact = settings.path("paths.models") / str(v) / registry.ARTIFACT
    if damage == "append":
        artifact.write_bytes(artifact.read_bytes() + b"x")
    elif damage == "truncate":
        artifact.write_bytes(artifact.read_bytes()[:100])
    else:
        artifact.unlink()
    with pytest.raises(ModelIntegrityError, match=f"model version {v}"):
        registry.load_production(engine, settings)


def test_rollback_refuses_a_damaged_target(engine: sa.Engine, settings: Settings, trained):
    v1, v2 = _register(engine, settings, trained), _register(engine, settings, trained)
    registry.deploy(engine, settings, v1, kind="initial", reason="first", run_id=None)
    registry.deploy(engine, settings, v2, kind="promote", reason="better", run_id=None)
    (settings.path("paths.models") / "1" / registry.ARTIFACT).write_bytes(b"evil")
    with pytest.raises(ModelIntegrityError):
        registry.rollback(engine, settings, None, reason="bad", run_id=None)
    assert registry.production_version(settings) == 2  # production untouched


def test_corrupt_pointer_is_a_clear_error(settings: Settings):
    pointer = settings.path("paths.models") / registry.POINTER
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text("{not json")
    with pytest.raises(ModelIntegrityError, match="production pointer"):
        registry.production_version(settings)


def test_version_numbers_are_never_reused(engine: sa.Engine, settings: Settings, trained):
    (settings.path("paths.models") / "5").mkdir(parents=True)  # left by a killed run
    assert _register(engine, settings, trained) == 6
    assert not list(Path(settings.path("paths.models")).glob(".staging-*"))


def test_extra_files_live_in_the_version_and_are_verified(engine, settings, trained):
    model, features = trained
    v = registry.register(
        engine,
        settings,
        model,
        features=features,
        metric="f1",
        holdout_score=0.7,
        train_rows=32,
        holdout_rows=8,
        training_files=[],
        run_id=None,
        extra_files={"profile.bin": b"reference profile"},
    )
    assert registry.read_extra(settings, v, "profile.bin") == b"reference profile"
    assert registry.read_extra(settings, v, "absent.bin") is None
    (settings.path("paths.models") / str(v) / "profile.bin").write_bytes(b"tampered")
    with pytest.raises(ModelIntegrityError, match=r"profile\.bin"):
        registry.read_extra(settings, v, "profile.bin")
    with pytest.raises(ValueError, match="not a valid extra file name"):
        registry.register(
            engine,
            settings,
            model,
            features=features,
            metric="f1",
            holdout_score=0.7,
            train_rows=32,
            holdout_rows=8,
            training_files=[],
            run_id=None,
            extra_files={"../evil": b"x"},
        )


# --- the registry's steps of writing a version, one at a time ---------------------------------


def test_fresh_staging_clears_what_a_killed_run_left(tmp_path: Path):
    left = tmp_path / ".staging-old"
    (left / "half").mkdir(parents=True)
    staging = registry._fresh_staging(tmp_path)
    assert not left.exists()
    assert staging.is_dir() and staging.parent == tmp_path and not any(staging.iterdir())


def test_extra_file_names_are_checked():
    from pipeline.errors import InvalidArgument

    assert registry._checked_extras({"profile.json": b"{}"}) == {"profile.json": b"{}"}
    for bad in ("../x", registry.ARTIFACT, registry.METADATA, ".hidden", ""):
        with pytest.raises(InvalidArgument, match="not a valid extra file name"):
            registry._checked_extras({bad: b""})


def test_the_artifact_bytes_are_joblibs_pickle_of_the_model():
    import joblib

    data = registry._dumped({"a": 1})
    assert joblib.load(io.BytesIO(data)) == {"a": 1}


def test_publish_writes_the_files_then_renames(tmp_path: Path):
    staging, final = tmp_path / ".staging-x", tmp_path / "7"
    staging.mkdir()
    registry._publish(staging, final, {registry.METADATA: b'{"version": 7}', "x.bin": b"\0"})
    assert not staging.exists()
    assert json.loads((final / registry.METADATA).read_text()) == {"version": 7}
    assert (final / "x.bin").read_bytes() == b"\0"


def test_an_artifact_saved_before_the_engine_became_subpackages_still_loads() -> None:
    """tests/data/model-7776dd8.joblib was saved by riskwatch at commit 7776dd8, whose pickles
    name `pipeline.design.Preprocessor`; production models of that release must keep serving."""

    artifact = Path(__file__).parent / "data" / "model-7776dd8.joblib"
    assert b"pipeline.design" in artifact.read_bytes()

    model = registry.unpickle(artifact.read_bytes(), artifact)

    frame = pd.DataFrame({"x": [-2.0, 2.0], "c": ["a", "b"]})
    assert model.predict(frame).tolist() == [0, 1]
    assert model.predict_proba(frame)[:, 1].round(6).tolist() == [0.001347, 0.998833]
    assert type(model[0]).__module__ == "pipeline.model.design"


def test_a_pointer_to_a_version_no_row_knows_is_not_recorded_as_a_deployment(
    built_project: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Only a hand (or a forger) points production.json at an unregistered version: reconcile
    records no deployment for it (it would vouch for it), says so, and every load refuses it."""
    from tests.conftest import copy_project

    settings = copy_project(built_project, tmp_path / "p")
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            before = conn.execute(sa.select(sa.func.count()).select_from(tables.deployments))
            deployments = before.scalar()
        pointer = settings.path("paths.models") / registry.POINTER
        pointer.write_text(json.dumps({"version": 99}))
        with caplog.at_level("WARNING", logger="riskwatch"):
            assert registry.reconcile(engine, settings, None) == 99
        assert "names model version 99, which the registry database does not hold" in caplog.text
        with engine.connect() as conn:
            after = conn.execute(sa.select(sa.func.count()).select_from(tables.deployments))
            assert after.scalar() == deployments
        with pytest.raises(NotFound):
            registry.load_production(engine, settings)
    finally:
        engine.dispose()
