"""The JSON API through Flask's test client, on a project that had one real run.

The key tests run on SQLite and on a real PostgreSQL. Every error answers in one shape, and the
OpenAPI document lists exactly the routes the app has.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.openapi import ERROR_REF, SCHEMAS
from pipeline.model import registry
from pipeline.run import run_once
from pipeline.settings import Settings, load_settings
from pipeline.storage import db, reads, tables
from pipeline.tools.sampledata import write_sample_data

# Quick and offline: no pip query, a small bootstrap.
CONFIG = "[diagnostics]\noutdated_packages = false\n\n[policy]\nbootstrap_samples = 200\n"

# One record with the sample data's features (see pipeline/tools/sampledata.py).
RECORD = {
    "lastmonth_activity": 86.7,
    "lastyear_activity": 71.2,
    "number_of_employees": 8,
    "years_as_client": 8.4,
    "support_tickets": 1,
    "industry": "finance",
    "region": "west",
}


def build_project(root: Path, database_url: str | None = None) -> Settings:
    """A real project: one sample batch, a migrated database, one whole run (model v1, PDF).

    Without `database_url` the database is the settings file's default SQLite file, so a
    process given only RISKWATCH_CONFIG (gunicorn, the CLI) finds the same data.
    """
    write_sample_data(root, batches=1, rows=300, test_rows=200)
    (root / "riskwatch.toml").write_text(CONFIG)
    overrides = {"database.url": database_url} if database_url else None
    settings = load_settings(root / "riskwatch.toml", environ={}, overrides=overrides)
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine)
    engine.dispose()
    run_once(settings)
    return settings


def empty_project(root: Path, *, migrate: bool) -> Settings:
    """A project with a database (migrated or not) and no run, hence no model."""
    (root / "riskwatch.toml").write_text(CONFIG)
    settings = load_settings(root / "riskwatch.toml", environ={})
    if migrate:
        engine = db.make_engine(settings.database_url)
        db.upgrade(engine)
        engine.dispose()
    return settings


@contextmanager
def make_app(settings: Settings) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "RISKWATCH_SETTINGS": settings})
    try:
        yield app
    finally:
        app.extensions["riskwatch"].engine.dispose()


def assert_error(response: Any, status: int) -> dict[str, Any]:
    """The response is an error of the one shape the OpenAPI Error schema describes."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    schema = SCHEMAS["Error"]
    assert set(schema["required"]) <= body.keys() <= schema["properties"].keys()
    assert body["ok"] is False
    assert body["status"] == status
    assert isinstance(body["error"], str) and body["error"]
    return body


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def built(request: pytest.FixtureRequest) -> Settings:
    """The built project on SQLite, then on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_project")


@pytest.fixture
def client(built: Settings) -> Iterator[FlaskClient]:
    with make_app(built) as app:
        yield app.test_client()


@pytest.fixture
def sqlite_client(sqlite_project: Settings) -> Iterator[FlaskClient]:
    with make_app(sqlite_project) as app:
        yield app.test_client()


def _api_predictions(settings: Settings) -> list[Any]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            t = tables.predictions
            return list(conn.execute(sa.select(t).where(t.c.source == "api").order_by(t.c.id)))
    finally:
        engine.dispose()


# --- predictions ---------------------------------------------------------------------------


def test_prediction_takes_an_array_or_an_object_with_records(
    client: FlaskClient, built: Settings
) -> None:
    records = [RECORD, {**RECORD, "industry": "retail", "lastmonth_activity": None}, RECORD]
    as_array = client.post("/prediction", json=records)
    assert as_array.status_code == 200, as_array.get_data(as_text=True)
    body = as_array.get_json()
    assert list(body) == ["predictions", "probabilities", "model_version"]
    assert body["model_version"] == registry.production_version(built) == 1
    assert len(body["predictions"]) == len(body["probabilities"]) == 3
    assert set(body["predictions"]) <= {0, 1}
    assert all(0 <= p <= 1 for p in body["probabilities"])
    assert body["probabilities"][0] == pytest.approx(body["probabilities"][2])

    as_object = client.post("/prediction", json={"records": records})
    assert as_object.status_code == 200
    assert as_object.get_json()["predictions"] == body["predictions"]


def test_predictions_are_stored_with_source_and_model_version(
    client: FlaskClient, built: Settings
) -> None:
    before = len(_api_predictions(built))
    records = [{**RECORD, "unused_column": "ignored"}, {**RECORD, "support_tickets": 9}]
    body = client.post("/prediction", json=records).get_json()
    stored = _api_predictions(built)[before:]
    assert len(stored) == 2
    for row, rec, pred, proba in zip(
        stored, records, body["predictions"], body["probabilities"], strict=True
    ):
        assert row.source == "api"
        assert row.model_version == body["model_version"]
        assert row.run_id is None and row.actual is None
        assert row.features == {k: v for k, v in rec.items() if k != "unused_column"}
        assert row.prediction == pred
        assert row.probability == pytest.approx(proba)
        assert row.created_at.tzinfo is not None


def test_missing_feature_is_a_400_naming_the_column(client: FlaskClient) -> None:
    records = [RECORD, {k: v for k, v in RECORD.items() if k != "industry"}]
    body = assert_error(client.post("/prediction", json=records), 400)
    assert body["column"] == "industry"
    assert body["error"] == "record 1: feature column 'industry' is missing"


def _raw(records: list[dict[str, Any]]) -> dict[str, Any]:
    # json.dumps writes float("inf") as Infinity and nan as NaN, as a careless client would.
    return {"data": json.dumps(records), "content_type": "application/json"}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("lastmonth_activity", "12.5"),
        ("lastmonth_activity", "abc"),
        ("number_of_employees", True),
        ("number_of_employees", {"value": 8}),
        ("years_as_client", [8.4]),
        ("lastyear_activity", math.inf),
        ("lastyear_activity", -math.inf),
        ("lastyear_activity", math.nan),
        ("industry", {"name": "finance"}),
        ("region", ["west"]),
        ("region", math.inf),
    ],
)
def test_wrongly_typed_feature_is_a_400_naming_the_column(
    sqlite_client: FlaskClient, column: str, value: Any
) -> None:
    response = sqlite_client.post("/prediction", **_raw([RECORD, {**RECORD, column: value}]))
    body = assert_error(response, 400)
    assert body["column"] == column
    assert body["error"].startswith(f"record 1: feature column {column!r} must be")


def test_no_production_model_is_a_503(tmp_path: Path) -> None:
    """503, not 409: the service cannot predict *yet*; the first run makes it able to."""
    with make_app(empty_project(tmp_path, migrate=True)) as app:
        client = app.test_client()
        body = assert_error(client.post("/prediction", json=[RECORD]), 503)
        assert "no model is deployed yet" in body["error"]
        assert client.get("/health").get_json()["production_version"] is None
        scoring = client.get("/scoring")
        assert scoring.status_code == 200
        assert scoring.get_json()["scores"] == []


def register_again(engine: sa.Engine, settings: Settings, v1: registry.LoadedModel) -> int:
    """A new version that is `v1`'s model again (a promotion to test with): its number."""
    return registry.register(
        engine,
        settings,
        v1.model,
        features=v1.features,
        metric=v1.metric,
        holdout_score=v1.holdout_score,
        train_rows=1,
        holdout_rows=1,
        training_files=[],
        run_id=None,
    )


def test_a_promotion_is_served_without_a_restart(
    sqlite_client: FlaskClient, sqlite_project: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sqlite_project
    loads = []
    real_load = registry.load
    monkeypatch.setattr(registry, "load", lambda *a: loads.append(a[2]) or real_load(*a))
    assert sqlite_client.post("/prediction", json=[RECORD]).get_json()["model_version"] == 1
    assert sqlite_client.post("/prediction", json=[RECORD]).get_json()["model_version"] == 1
    assert loads == [1], "the production model is loaded once, then served from the cache"

    engine = db.make_engine(settings.database_url)
    try:
        v2 = register_again(engine, settings, real_load(engine, settings, 1))
        registry.deploy(engine, settings, v2, kind="promote", reason="test", run_id=None)
        body = sqlite_client.post("/prediction", json=[RECORD]).get_json()
        assert body["model_version"] == v2
        assert loads == [1, v2]
    finally:
        registry.deploy(engine, settings, 1, kind="rollback", reason="test", run_id=None)
        engine.dispose()
    assert sqlite_client.post("/prediction", json=[RECORD]).get_json()["model_version"] == 1


# --- one error shape -----------------------------------------------------------------------

TOO_BIG = json.dumps([RECORD] * 12)  # > 1024 bytes, the smallest api.max_request_bytes

ERROR_CASES = [
    # (app, method, path, request kwargs, status)
    ("ok", "post", "/prediction", {"data": "[{", "content_type": "application/json"}, 400),
    ("ok", "post", "/prediction", {"data": b"\xff\xfe[", "content_type": "application/json"}, 400),
    ("ok", "post", "/prediction", {"data": "", "content_type": "application/json"}, 400),
    ("ok", "post", "/prediction", {"data": json.dumps([RECORD])}, 415),
    ("ok", "post", "/prediction", {"data": "[]", "content_type": "text/plain"}, 415),
    ("ok", "post", "/prediction", {"json": [1, 2]}, 400),
    ("ok", "post", "/prediction", {"json": [RECORD, "text"]}, 400),
    ("ok", "post", "/prediction", {"json": []}, 400),
    ("ok", "post", "/prediction", {"json": {"rows": [RECORD]}}, 400),
    ("ok", "post", "/prediction", {"json": "a string"}, 400),
    ("ok", "post", "/prediction", {"json": [{"industry": "finance"}]}, 400),
    ("small", "post", "/prediction", {"json": [RECORD] * 3}, 400),
    ("small", "post", "/prediction", {"data": TOO_BIG, "content_type": "application/json"}, 413),
    ("ok", "get", "/no/such/route", {}, 404),
    ("ok", "get", "/runs/0123456789abcdef0123456789abcdef", {}, 404),
    ("ok", "get", "/runs/0123456789abcdef0123456789abcdef/report.pdf", {}, 404),
    ("ok", "get", "/runs?limit=0", {}, 400),
    ("ok", "get", "/apireturns?limit=x", {}, 400),
    ("ok", "get", "/prediction", {}, 405),
    ("ok", "post", "/health", {}, 405),
    ("ok", "delete", "/runs", {}, 405),
    ("ok", "get", "/runs", {}, 500),
    ("nomodel", "post", "/prediction", {"json": [RECORD]}, 503),
    ("unmigrated", "get", "/health", {}, 503),
    ("unmigrated", "get", "/runs", {}, 503),
    ("unmigrated", "get", "/scoring", {}, 503),
    ("unreachable", "get", "/health", {}, 503),
    ("unreachable", "get", "/diagnostics", {}, 503),
]


@pytest.mark.parametrize(
    ("kind", "method", "path", "kwargs", "status"),
    ERROR_CASES,
    ids=[f"{c[4]}-{c[0]}-{c[1]}-{c[2]}-{i}" for i, c in enumerate(ERROR_CASES)],
)
def test_every_error_has_the_one_shape(
    kind: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    sqlite_project: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = {
        "ok": lambda: sqlite_project,
        "small": lambda: sqlite_project.with_values(
            api__max_records=2, api__max_request_bytes=1024
        ),
        "nomodel": lambda: empty_project(tmp_path, migrate=True),
        "unmigrated": lambda: empty_project(tmp_path, migrate=False),
        "unreachable": lambda: sqlite_project.with_values(
            database__url="postgresql+psycopg://riskwatch@127.0.0.1:1/nothing"
        ),
    }[kind]()
    if status == 500:
        monkeypatch.setattr(reads, "list_runs", lambda *a: 1 / 0)
    with make_app(settings) as app:
        response = getattr(app.test_client(), method)(path, **kwargs)
    body = assert_error(response, status)
    if status == 405:
        assert response.headers["Allow"]
        assert method.upper() in body["error"]
    if status == 500:
        assert body["error"] == "internal server error"  # no internals leak


def test_bad_limit_names_the_parameter(sqlite_client: FlaskClient) -> None:
    for bad in ("0", "-1", "1001", "abc", "1.5", "", "1e3"):
        body = assert_error(sqlite_client.get(f"/runs?limit={bad}"), 400)
        assert body["parameter"] == "limit"


# --- what the runs recorded ----------------------------------------------------------------


def _the_run(settings: Settings) -> str:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(tables.runs.c.id).where(tables.runs.c.kind == "run")
            ).scalar_one()
    finally:
        engine.dispose()


def test_runs_list_and_detail(client: FlaskClient, built: Settings) -> None:
    run_id = _the_run(built)
    runs = client.get("/runs").get_json()["runs"]
    assert [r["id"] for r in runs] == [run_id]
    assert runs[0]["status"] == "succeeded" and runs[0]["has_report"] is True
    assert runs[0]["production_version"] == 1
    assert len(client.get("/runs?limit=1").get_json()["runs"]) == 1

    run = client.get(f"/runs/{run_id}").get_json()
    assert run["id"] == run_id
    assert {s["name"] for s in run["steps"]} >= {"discover", "ingest", "train", "report"}
    assert run["reports"] and run["scores"]

    body = assert_error(client.get("/runs/feedface"), 404)
    assert "'feedface'" in body["error"]


def test_report_pdf(client: FlaskClient, built: Settings) -> None:
    with client.get(f"/runs/{_the_run(built)}/report.pdf") as response:
        assert response.status_code == 200
        assert response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF")


@pytest.mark.parametrize(
    "path",
    [
        "/runs/../../etc/passwd/report.pdf",
        "/runs/..%2F..%2F..%2Fetc%2Fpasswd/report.pdf",
        "/runs/%2e%2e/report.pdf",
        "/runs/..%5C..%5Cetc%5Cpasswd/report.pdf",
        "/runs/%2Fetc%2Fpasswd/report.pdf",
        "/runs/..%00/report.pdf",
    ],
)
def test_report_path_traversal_is_a_404(sqlite_client: FlaskClient, path: str) -> None:
    response = sqlite_client.get(path)
    assert_error(response, 404)
    assert b"root:" not in response.data


def test_a_report_path_outside_the_reports_folder_is_never_served(
    sqlite_client: FlaskClient, sqlite_project: Settings, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-not-yours")
    engine = db.make_engine(sqlite_project.database_url)
    long_ago = datetime(2000, 1, 1, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.runs.insert().values(
                    id="hostile", kind="run", started_at=long_ago, status="succeeded"
                )
            )
            conn.execute(
                tables.reports.insert().values(
                    run_id="hostile", created_at=long_ago, path=str(secret), pages=1, size_bytes=1
                )
            )
        response = sqlite_client.get("/runs/hostile/report.pdf")
        assert_error(response, 404)
        assert b"not-yours" not in response.data
    finally:
        with engine.begin() as conn:
            conn.execute(tables.reports.delete().where(tables.reports.c.run_id == "hostile"))
            conn.execute(tables.runs.delete().where(tables.runs.c.id == "hostile"))
        engine.dispose()


def test_scoring_summarystats_diagnostics_apireturns(
    client: FlaskClient, built: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Read from the database, never computed per request: no model is loaded for these.
    monkeypatch.setattr(registry, "load", lambda *a: pytest.fail("a model was loaded"))
    run_id = _the_run(built)

    scoring = client.get("/scoring").get_json()
    assert scoring["model_version"] == 1 and scoring["metric"] == "f1"
    assert scoring["run_id"] == run_id
    assert {(s["role"], s["dataset"]) for s in scoring["scores"]} == {
        ("challenger", "holdout"),
        ("production", "test"),
    }
    assert all(s["model_version"] == 1 for s in scoring["scores"])

    # By default the production model's training rows (tests/test_summarystats.py has more).
    stats = client.get("/summarystats").get_json()
    assert (stats["dataset"], stats["model_version"], stats["run_id"]) == ("training", 1, run_id)
    by_column = {(r["dataset"], r["column_name"]): r for r in stats["rows"]}
    assert by_column["training", "lastmonth_activity"]["median"] is not None
    stats = client.get("/summarystats?dataset=test").get_json()
    assert ("test", "number_of_employees") in {
        (r["dataset"], r["column_name"]) for r in stats["rows"]
    }

    diag = client.get("/diagnostics").get_json()
    assert list(diag) == ["steps", "missing_values", "outdated_packages", "library_versions"]
    assert diag["steps"]["run_id"] == run_id
    assert all(s["seconds"] >= 0 for s in diag["steps"]["rows"])
    assert diag["missing_values"]["rows"]
    assert diag["outdated_packages"] is None  # switched off in this project's settings
    assert "scikit-learn" in json.dumps(diag["library_versions"]["value"])

    assert client.get("/apireturns").get_json() == {"api_returns": []}


def test_health(client: FlaskClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {
        "ok": True,
        "database": "ok",
        "schema": tables.SCHEMA_REVISION,
        "production_version": 1,
    }


def test_health_is_503_until_the_database_is_migrated(tmp_path: Path) -> None:
    settings = empty_project(tmp_path, migrate=False)
    with make_app(settings) as app:
        client = app.test_client()
        body = assert_error(client.get("/health"), 503)
        assert "riskwatch db upgrade" in body["error"]
        engine = db.make_engine(settings.database_url)
        db.upgrade(engine)
        engine.dispose()
        assert client.get("/health").status_code == 200
        assert client.get("/runs").get_json() == {"runs": []}


def test_the_app_reads_through_storage_reads(sqlite_project: Settings) -> None:
    engine = db.make_engine(sqlite_project.database_url)
    try:
        assert reads.check_database(engine) == tables.SCHEMA_REVISION
        with engine.connect() as conn:
            assert reads.model_sha256(conn, 1) == registry.load(engine, sqlite_project, 1).sha256
            assert reads.model_sha256(conn, 99) is None
            assert reads.quality_report_path(conn, 10**6) is None
            assert reads.api_returns(conn, 5) == []
    finally:
        engine.dispose()
    # ... and runs no query of its own (a select in app/ belongs in pipeline/storage/reads.py).
    app_dir = Path(__file__).resolve().parents[1] / "app"
    for source in app_dir.glob("*.py"):
        query = r"\bsa\.select\(|(?<![.\w])select\(|\.execute\("  # not a selector's select()
        assert not re.search(query, source.read_text()), source.name


# --- the OpenAPI document ------------------------------------------------------------------


def _resolve(doc: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_openapi_describes_every_route_and_the_error_shape(sqlite_client: FlaskClient) -> None:
    doc = sqlite_client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    app = sqlite_client.application

    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <int:x>, <path:x>, <x>
        routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert documented == routes

    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert params == set(re.findall(r"\{(\w+)\}", path))
            # The sign-in's posts answer a redirect (303) or the form again, as a page.
            form = path in ("/signin", "/signout") and method == "post"
            assert ("303" if form else "200") in op["responses"], (path, method)
            for code, response in op["responses"].items():
                content = _resolve(doc, response).get("content", {})
                if form and "text/html" in content:
                    assert code in ("400", "401"), (path, method, code)
                elif "pages" in op.get("tags", []) and "text/html" in content:
                    continue  # a page's own error is a page (a bad parameter, no database)
                elif code == "default" or int(code) >= 400:
                    schema = content["application/json"]["schema"]
                    assert schema == {"$ref": ERROR_REF}, (path, method, code)
    prediction = doc["paths"]["/prediction"]["post"]
    assert prediction["requestBody"]["required"] is True
    assert {"400", "408", "413", "415", "503"} <= prediction["responses"].keys()
    assert _resolve(doc, {"$ref": ERROR_REF}) == SCHEMAS["Error"]


def test_openapi_path_groups_do_not_overlap_and_path_params_are_required() -> None:
    from app import (
        openapi,
        openapi_models,
        openapi_monitoring,
        openapi_ops,
        openapi_predict_pages,
        openapi_predictions,
    )

    groups = [
        openapi._page_paths(),
        openapi._prediction_paths(),
        openapi_predictions.paths(1000),
        openapi_predict_pages.paths(1000),
        openapi_monitoring.paths(),
        openapi._record_paths(),
        openapi._run_paths(),
        openapi_models.paths(),
        openapi_ops.paths(),
    ]
    keys = [k for g in groups for k in g]
    assert len(keys) == len(set(keys)) and keys == list(openapi.document()["paths"])
    assert openapi._path_param("x", {"type": "string"}, "an x") == {
        "name": "x",
        "in": "path",
        "required": True,
        "description": "an x",
        "schema": {"type": "string"},
    }


# --- hostile input: 4xx in the one shape, never a 500 or a 503 ------------------------------


def _post_raw(client: FlaskClient, body: str) -> Any:
    return client.post("/prediction", data=body, content_type="application/json")


@pytest.mark.parametrize("depth", [33, 2_000, 100_000])
def test_json_nested_too_deep_is_a_400_naming_the_limit(client: FlaskClient, depth: int) -> None:
    # 33: over the limit (32) but parsed; 2,000 and 100,000: past Python's recursion limit.
    body = assert_error(_post_raw(client, "[" * depth + "]" * depth), 400)
    assert body["error"] == (
        "the request body nests arrays and objects deeper than 32 levels "
        "(setting api.max_json_depth)"
    )


def test_json_nested_within_the_limit_is_accepted(client: FlaskClient) -> None:
    nested: Any = 1
    for _ in range(29):  # with the array and the record: 31 levels
        nested = [nested]
    response = client.post("/prediction", json=[{**RECORD, "unused": nested}])
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("column", "literal"),
    [
        ("lastmonth_activity", "1" * 400),  # a 400-digit integer (OverflowError once)
        ("lastmonth_activity", "-" + "9" * 400),
        ("number_of_employees", "1e400"),  # read as an infinity
        ("number_of_employees", "-1e400"),
        ("industry", "1" * 400),  # categorical: also a number past float range
        ("region", "1e400"),
    ],
)
def test_numbers_beyond_float_range_are_a_400_naming_the_column(
    client: FlaskClient, column: str, literal: str
) -> None:
    record = json.dumps({**RECORD, column: 0})
    record = record.replace(f'"{column}": 0', f'"{column}": {literal}')
    body = assert_error(_post_raw(client, f"[{record}]"), 400)
    assert body["column"] == column
    assert body["error"].startswith(f"record 0: feature column {column!r} must be")
    assert len(body["error"]) < 300  # the 400 digits are not echoed


def test_numbers_up_to_1e308_are_accepted_and_beyond_it_refused(client: FlaskClient) -> None:
    """1e308, exact in decimal, is the bound, for floats and integers alike (the document's)."""
    big = {**RECORD, "lastmonth_activity": 1e308, "support_tickets": -(10**308)}
    response = client.post("/prediction", json=[big])
    assert response.status_code == 200, response.get_data(as_text=True)
    for column, value in [("lastmonth_activity", 1.5e308), ("support_tickets", -(10**308) - 1)]:
        body = assert_error(client.post("/prediction", json=[{**RECORD, column: value}]), 400)
        assert body["column"] == column
        assert "must be a finite number (at most 1e+308 in size) or null" in body["error"]


def test_nan_and_infinity_literals_are_refused_only_in_a_feature(client: FlaskClient) -> None:
    """They are not JSON; a careless client writes them. A feature holding one is a 400
    naming it; a key that is not a feature is ignored, as any other."""
    record = json.dumps({**RECORD, "unused": 0}).replace('"unused": 0', '"unused": NaN')
    assert _post_raw(client, f"[{record}]").status_code == 200
    record = json.dumps(RECORD).replace('"support_tickets": 1', '"support_tickets": -Infinity')
    assert assert_error(_post_raw(client, f"[{record}]"), 400)["column"] == "support_tickets"


@pytest.mark.parametrize("text", ['"fin\\u0000ance"', '"\\ud800"', '"a\\udfffb"'])
def test_text_no_database_stores_is_a_400_naming_the_column(
    client: FlaskClient, built: Settings, text: str
) -> None:
    before = len(_api_predictions(built))
    record = json.dumps(RECORD).replace('"finance"', text)
    body = assert_error(_post_raw(client, f"[{record}]"), 400)
    assert body["column"] == "industry"
    assert "NUL character or a lone surrogate" in body["error"]
    assert len(_api_predictions(built)) == before


@pytest.mark.parametrize(
    "path",
    [
        f"/quality/{2**64}.html",  # past 64 bits: 500 on SQLite once
        f"/quality/{2**31}.html",  # past PostgreSQL's INTEGER: 503 there once
        "/quality/99999.html",
        "/runs/%00",  # NUL: 503 on PostgreSQL once
        "/runs/%00/report.pdf",
        "/runs/not-hex",
        "/runs/0123456789ABCDEF0123456789ABCDEF",  # ids are lowercase
        "/runs/0123456789abcdef0123456789abcdef0",  # 33 digits
        "/runs/%F0%9F%98%80",
        "/runs/" + "a" * 5000,
    ],
)
def test_ids_in_paths_are_checked_before_the_database(client: FlaskClient, path: str) -> None:
    assert_error(client.get(path), 404)


def test_a_chunked_body_over_the_limit_is_a_413(sqlite_project: Settings) -> None:
    """A body without Content-Length (chunked; the server ends the stream) is measured too."""
    import io

    settings = sqlite_project.with_values(api__max_request_bytes=1024)
    with make_app(settings) as app:
        client = app.test_client()

        def chunked(data: bytes) -> Any:
            return client.post(
                "/prediction",
                input_stream=io.BytesIO(data),
                content_type="application/json",
                environ_overrides={"wsgi.input_terminated": True},
            )

        body = assert_error(chunked(json.dumps([RECORD] * 12).encode()), 413)
        assert "larger than 1024 bytes (setting api.max_request_bytes)" in body["error"]
        exactly = json.dumps([RECORD]).encode().ljust(1024)  # the limit itself is allowed
        assert chunked(exactly).status_code == 200


def test_a_body_shorter_than_its_content_length_is_a_400(sqlite_client: FlaskClient) -> None:
    import io

    data = json.dumps([RECORD]).encode()
    response = sqlite_client.post(
        "/prediction",
        input_stream=io.BytesIO(data),
        content_type="application/json",
        environ_overrides={"CONTENT_LENGTH": str(len(data) + 10)},
    )
    body = assert_error(response, 400)
    assert body["error"] == (
        f"the body ended after {len(data)} of the {len(data) + 10} bytes its Content-Length "
        "announced"
    )


def test_openapi_record_names_the_production_features_all_required(
    sqlite_client: FlaskClient, sqlite_project: Settings
) -> None:
    doc = sqlite_client.get("/openapi.json").get_json()
    record = doc["components"]["schemas"]["Record"]
    engine = sqlite_client.application.extensions["riskwatch"].engine
    loaded = registry.load(engine, sqlite_project, 1).features
    assert record["required"] == loaded.columns == list(RECORD)
    assert set(record["properties"]) == {*RECORD, "corporation"}  # the id: optional
    assert "corporation" not in record["required"]
    number = record["properties"]["lastmonth_activity"]["anyOf"][0]
    assert number == {"type": "number", "minimum": -1e308, "maximum": 1e308}
    assert record["additionalProperties"] is True  # other keys are ignored, whatever they hold
    assert {"type": "null"} in record["properties"]["industry"]["anyOf"]  # imputed
    array = doc["components"]["schemas"]["PredictionRequest"]["oneOf"][0]
    assert array["maxItems"] == sqlite_project["api.max_records"]


def test_openapi_without_a_model_describes_any_record(tmp_path: Path) -> None:
    with make_app(empty_project(tmp_path, migrate=True)) as app:
        doc = app.test_client().get("/openapi.json").get_json()
    assert doc["components"]["schemas"]["Record"] == SCHEMAS["Record"]
