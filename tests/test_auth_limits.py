"""Rate limits and the daily prediction cap, shared through the database by every app on it;
no server path or traceback in any answer; the OpenAPI document's security (issue 11)."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import SimpleNamespace

import pypdf
import pytest
import sqlalchemy as sa
from flask import Flask

from app import limits
from pipeline.settings import Settings
from pipeline.storage import api_tables, db, tables, tokens
from tests.conftest import copy_project
from tests.e2e import invoke
from tests.test_api import RECORD, assert_error, make_app
from tests.test_auth import ROUTE_ROLES, ROUTES, bearer, call, concrete, new_token

T0 = 1_800_000_000.0 + 20.5  # 20.5 s into a minute (1_800_000_000 is a multiple of 60)
DAY_T0 = 1_800_000_000.0  # 08:00 UTC: 16 h to midnight


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The limits' clock, set by the test (a window never ends in the middle of one)."""
    now = [T0]
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: now[0]))
    return now


@contextmanager
def two_apps(settings: Settings) -> Iterator[tuple[Flask, Flask]]:
    """Two apps on one database, as two gunicorn workers (or two dynos) are."""
    with ExitStack() as stack:
        yield stack.enter_context(make_app(settings)), stack.enter_context(make_app(settings))


def _count(settings: Settings, table: sa.Table) -> int:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    finally:
        engine.dispose()


# --- requests per minute ----------------------------------------------------------------


def test_the_rate_limit_holds_across_two_apps_on_one_database(
    settings: Settings, clock: list[float]
) -> None:
    settings = settings.with_values(api__requests_per_minute=4)
    a, b = new_token(settings, "a", "read"), new_token(settings, "b", "read")
    with two_apps(settings) as (first, second):
        apps = [first.test_client(), second.test_client()]
        for i in range(4):
            assert apps[i % 2].get("/runs", headers=bearer(a)).status_code == 200
        for client in apps:
            response = client.get("/runs", headers=bearer(a))
            body = assert_error(response, 429)
            assert response.headers["Retry-After"] == "40"
            assert "token 'a' made 4 this minute" in body["error"]
            assert "api.requests_per_minute" in body["error"]
        # Per token: another token has its own count; anonymous clients share one.
        assert apps[0].get("/runs", headers=bearer(b)).status_code == 200
        for i in range(4):
            assert apps[i % 2].get("/scoring").status_code == 200
        body = assert_error(apps[1].get("/diagnostics"), 429)
        assert "anonymous clients made 4" in body["error"]
        assert apps[0].get("/health").status_code == 200  # public: never counted
        # The next minute counts again.
        clock[0] += 60
        assert apps[1].get("/runs", headers=bearer(a)).status_code == 200
        assert apps[0].get("/runs").status_code == 200
    assert _count(settings, api_tables.api_usage) == 3  # one row per client and kind, no more


def test_the_limits_are_off_at_zero(settings: Settings, clock: list[float]) -> None:
    settings = settings.with_values(api__requests_per_minute=0)
    with make_app(settings) as app:
        client = app.test_client()
        assert all(client.get("/runs").status_code == 200 for _ in range(30))
    assert _count(settings, api_tables.api_usage) == 0


@pytest.mark.parametrize("kind", ["requests", "predictions"])
def test_a_charge_is_exact_under_concurrency(engine: sa.Engine, kind: str) -> None:
    """Eight threads, each with its own engine (its own connections), race for 25 units."""
    granted: list[bool] = []
    start = threading.Barrier(8)

    def worker() -> None:
        own = db.make_engine(engine.url.render_as_string(hide_password=False))
        try:
            start.wait()
            for _ in range(10):
                granted.append(tokens.charge(own, "token:1", kind, 7, 1, 25))
        finally:
            own.dispose()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(granted) == 80 and sum(granted) == 25
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_tables.api_usage)).one()
    assert (row.client, row.kind, row.period, row.used) == ("token:1", kind, 7, 25)
    # A later window starts again; a lagging worker's earlier window counts in the current one.
    assert tokens.charge(engine, "token:1", kind, 8, 20, 25)
    assert not tokens.charge(engine, "token:1", kind, 7, 6, 25)
    assert tokens.charge(engine, "token:1", kind, 7, 5, 25)
    assert not tokens.charge(engine, "token:1", kind, 9, 26, 25)  # more than the limit alone


# --- predictions per day ----------------------------------------------------------------


def test_the_daily_prediction_cap_holds_across_two_apps(
    predicting: Settings, clock: list[float]
) -> None:
    settings = predicting.with_values(api__predictions_per_day=5, api__requests_per_minute=0)
    clock[0] = DAY_T0
    secret = new_token(settings, "batch", "predict")
    headers = bearer(secret)
    stored = _count(settings, tables.predictions)
    with two_apps(settings) as (first, second):
        one, two = first.test_client(), second.test_client()
        assert one.post("/prediction", json=[RECORD] * 3, headers=headers).status_code == 200
        refused = two.post("/prediction", json=[RECORD] * 3, headers=headers)
        body = assert_error(refused, 429)
        assert refused.headers["Retry-After"] == str(16 * 3600)
        assert "token 'batch' would pass 5 predictions stored today" in body["error"]
        assert _count(settings, tables.predictions) == stored + 3  # the refused 3: not stored
        assert two.post("/prediction", json=[RECORD] * 2, headers=headers).status_code == 200
        assert_error(one.post("/prediction", json=[RECORD], headers=headers), 429)
        alone = one.post("/prediction", json=[RECORD] * 6, headers=headers)
        assert "send fewer records" in assert_error(alone, 429)["error"]
        assert "Retry-After" not in alone.headers
        # Anonymous clients share one count of their own.
        assert one.post("/prediction", json=[RECORD] * 5).status_code == 200
        assert_error(two.post("/prediction", json=[RECORD]), 429)
        clock[0] += 16 * 3600  # midnight UTC: a new day
        assert two.post("/prediction", json=[RECORD] * 5, headers=headers).status_code == 200
    assert _count(settings, tables.predictions) == stored + 15


# --- no server path, log line or traceback in an answer -------------------------------------


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    return copy_project(built_project, tmp_path_factory.mktemp("walk"))


def _assert_clean(settings: Settings, what: str, data: bytes, *others: Path) -> None:
    """No path of the project (nor of `others`, where it was copied from), nor of riskwatch's
    code, nor a traceback in `data`; a PDF's text (compressed in its bytes) is extracted first,
    with its spaces taken out (a table cell may wrap a path anywhere)."""
    if data.startswith(b"%PDF"):
        pages = pypdf.PdfReader(io.BytesIO(data)).pages
        text = "".join("".join(page.extract_text().split()) for page in pages)
    else:
        text = data.decode("utf-8", "replace")
    for root in (settings.base_dir, *others, Path(__file__).parents[1]):
        assert str(root.resolve()) not in text, f"{what}: {root} in {text[:2000]}"
    assert "Traceback" not in text, what


def test_no_answer_holds_a_server_path_or_a_traceback(
    walked: Settings, built_project: Path
) -> None:
    """Every route, with an admin token and without, and error answers: the project's folder
    (and the folder it was built in, which its database still names) appears in none."""
    settings = walked.with_values(auth__required="true", api__requests_per_minute=0)
    admin = bearer(new_token(settings, "walker", "admin"))
    engine = db.make_engine(settings.database_url)
    with engine.connect() as conn:
        run_id = conn.execute(sa.select(tables.runs.c.id)).scalar_one()
        file_id = conn.execute(sa.select(tables.quality_files.c.id)).scalar_one()
    engine.dispose()
    ids = {
        "<run_id>": run_id,
        "<int:file_id>": str(file_id),
        "<path:filename>": "style.css",
        "<int:version>": "1",
    }
    errors = [
        ("GET", "/runs/feedface"),
        ("GET", "/runs/feedface/report.pdf"),
        ("GET", "/quality/999999.html"),
        ("GET", "/no/such/route"),
        ("POST", "/health"),
        ("GET", "/runs?limit=0"),
    ]
    with make_app(settings) as app:
        client = app.test_client()
        for method, rule in [*ROUTES, *errors]:
            url = concrete(rule, ids) if (rule, method) in ROUTE_ROLES else rule
            for headers in (admin, {}):
                with call(client, method, url, headers) as response:
                    _assert_clean(settings, f"{method} {url}", response.get_data(), built_project)
        run = client.get(f"/runs/{run_id}", headers=admin).get_json()
        assert "log" not in run
        # Written where the project was built: only the file's name is left.
        assert run["summary"]["report"] == f"…/run-{run_id}.pdf"

    # A tampered artifact: the 503 names it relative to the project.
    artifact = settings.path("paths.models") / "1" / "model.joblib"
    artifact.write_bytes(artifact.read_bytes() + b"tampered")
    with make_app(settings) as app:
        response = app.test_client().post("/prediction", json=[RECORD], headers=admin)
    body = assert_error(response, 503)
    _assert_clean(settings, "503 of a tampered artifact", response.get_data())
    assert "artifact models/1/model.joblib has SHA-256" in body["error"]


def test_a_pdf_report_shows_no_server_path(tmp_path: Path, built_project: Path) -> None:
    """A run whose error and steps name absolute paths (a tampered artifact, a temporary file):
    its PDF, rebuilt by `riskwatch report`, served as it is written, names none (issue 11)."""
    settings = copy_project(built_project, tmp_path / "project")
    base = settings.base_dir.resolve()
    artifact = base / "models" / "1" / "model.joblib"
    engine = db.make_engine(settings.database_url)
    with engine.begin() as conn:
        run_id = conn.execute(sa.select(tables.runs.c.id)).scalar_one()
        error = f"ModelIntegrityError: artifact {artifact} has SHA-256 0f0f, expected 1a1a"
        conn.execute(sa.update(tables.runs).values(status="failed", error=error))
        detail = f"wrote {tmp_path}/elsewhere/scratch.parquet; read {Path(__file__).resolve()}"
        conn.execute(sa.update(tables.steps).where(tables.steps.c.name == "train").values(
            detail=detail))  # fmt: skip
    engine.dispose()
    done = invoke(settings.base_dir, "report", "--run", run_id)
    assert done.returncode == 0, done.stderr
    admin = bearer(new_token(settings, "reader", "read"))
    url = f"/runs/{run_id}/report.pdf"
    with make_app(settings) as app, call(app.test_client(), "GET", url, admin) as response:
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        data = response.get_data()
    _assert_clean(settings, "the PDF of a failed run", data, built_project, tmp_path)
    text = " ".join(
        " ".join(page.extract_text().split()) for page in pypdf.PdfReader(io.BytesIO(data)).pages
    )
    assert "artifact models/1/model.joblib has SHA-256" in text
    assert "…/scratch.parquet" in text and "…/test_auth_limits.py" in text


def test_a_database_url_never_reaches_an_answer(walked: Settings) -> None:
    settings = walked.with_values(
        database__url="postgresql+psycopg://someone:hunter2@127.0.0.1:1/secretdb"
    )
    with make_app(settings) as app:
        response = app.test_client().get("/health")
    body = assert_error(response, 503)
    assert "secretdb" not in body["error"] and "someone" not in body["error"]
    assert "<database.url>" in body["error"]


def test_the_database_host_never_reaches_an_answer(walked: Settings) -> None:
    """The driver's own reason names the server ('could not translate host name ...'): the
    host is cut out of the answer too."""
    host = "riskwatch-db.invalid"  # RFC 2606: never resolves, fails at once
    settings = walked.with_values(database__url=f"postgresql+psycopg://someone@{host}:5432/db")
    with make_app(settings) as app:
        response = app.test_client().get("/health")
    body = assert_error(response, 503)
    assert host not in json.dumps(body)
    assert "<database host>" in body["error"] or "<database.url>" in body["error"]


# --- the OpenAPI document ----------------------------------------------------------------


@pytest.mark.parametrize("required", ["true", "false"])
def test_openapi_declares_the_bearer_scheme_and_each_operations_security(
    walked: Settings, required: str
) -> None:
    settings = walked.with_values(auth__required=required)
    if required == "true":
        new_token(settings, f"openapi-{required}", "read")
    with make_app(settings) as app:
        doc = app.test_client().get("/openapi.json").get_json()  # public, even when required
    assert doc["components"]["securitySchemes"]["bearer"] == {
        **doc["components"]["securitySchemes"]["bearer"],
        "type": "http",
        "scheme": "bearer",
    }
    ops = {(p, m): op for p, item in doc["paths"].items() for m, op in item.items()}
    assert ops["/health", "get"]["security"] == []
    assert ops["/openapi.json", "get"]["security"] == []
    assert "401" not in ops["/health", "get"]["responses"]
    prediction = ops["/prediction", "post"]
    assert prediction["x-riskwatch-role"] == "predict"
    assert {"401", "403", "429"} <= prediction["responses"].keys()
    runs = ops["/runs", "get"]
    assert {"401", "429"} <= runs["responses"].keys() and "403" not in runs["responses"]
    anonymous_allowed = {} in runs["security"]
    assert anonymous_allowed is (required == "false")
    assert {"bearer": []} in runs["security"]
    retry = doc["components"]["responses"]["TooManyRequests"]["headers"]["Retry-After"]
    assert retry["schema"]["type"] == "integer"
    assert json.dumps(doc).count("WWW-Authenticate") == 1


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("/srv/app/reports/run-1.pdf", "reports/run-1.pdf"),
        ("see /srv/app/models/1/model.joblib: modified", "see models/1/model.joblib: modified"),
        ("/old/home/reports/run-1.pdf", "…/run-1.pdf"),
        ("FileNotFoundError: /etc/riskwatch/x.csv", "FileNotFoundError: …/x.csv"),
        ("1/2 of the rows, and/or more", "1/2 of the rows, and/or more"),
        ("https://hooks.example/T0/B0 answered 404", "https://hooks.example/T0/B0 answered 404"),
        ("no slash at all", "no slash at all"),
    ],
)
def test_stored_text_shows_paths_relative_to_the_project(stored: str, shown: str) -> None:
    from app.redact import stored_paths

    base = Path("/srv/app")
    assert stored_paths(stored, base) == shown
    assert stored_paths({"a": [stored, 3, None]}, base) == {"a": [shown, 3, None]}


def test_paths_outside_the_project_are_named_by_their_setting(walked: Settings) -> None:
    from app.redact import replacements, scrub

    settings = walked.with_values(paths__models="/var/lib/riskwatch/models")
    pairs = replacements(settings)
    base = str(settings.base_dir.resolve())
    text = json.dumps(
        {"error": f"{base}/reports/x.pdf and /var/lib/riskwatch/models/1/model.joblib; {base}"}
    ).encode()
    assert json.loads(scrub(text, pairs)) == {
        "error": "reports/x.pdf and <paths.models>/1/model.joblib; ."
    }
    assert scrub(b'{"a": "/"}', pairs) == b'{"a": "/"}'
