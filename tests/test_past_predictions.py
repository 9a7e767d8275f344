"""GET /past-predictions and `riskwatch predictions`, on SQLite and PostgreSQL: every source's
predictions with their features, keyset pages that neither skip nor repeat, the filters, and
hostile parameters answered 400 naming the parameter (never a 500, never SQL run)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from pipeline.settings import Settings
from pipeline.storage import db, tables, tokens
from tests.e2e import invoke
from tests.test_api import RECORD, assert_error, make_app
from tests.test_signin import csrf_of, sign_in


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(request: pytest.FixtureRequest) -> Settings:
    """A project after one real run (300 scheduled predictions, 200 diagnostics), with 2 api
    predictions added through the API and 3 webapp ones by a browser signed in at /signin."""
    settings: Settings = request.getfixturevalue(f"{request.param}_project")
    engine = db.make_engine(settings.database_url)
    try:
        secret = tokens.create(engine, "past-webapp", "predict")[1]
    finally:
        engine.dispose()
    with make_app(settings) as app:
        client = app.test_client()
        assert (
            client.post("/prediction", json=[RECORD, {**RECORD, "region": "east"}]).status_code
            == 200
        )
        browser = app.test_client()
        assert sign_in(browser, token=secret).status_code == 303
        signed = {"X-CSRF-Token": csrf_of(browser)}
        assert browser.post("/prediction", json=[RECORD] * 3, headers=signed).status_code == 200
    return settings


@pytest.fixture
def client(built: Settings) -> Iterator[FlaskClient]:
    with make_app(built) as app:
        yield app.test_client()


def _get(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/past-predictions", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def _all(client: FlaskClient, **params: Any) -> list[dict[str, Any]]:
    out, cursor = [], None
    while True:
        page = _get(client, **params, **({"cursor": cursor} if cursor else {}))
        out += page["predictions"]
        cursor = page["next_cursor"]
        if cursor is None:
            return out


def _count(settings: Settings, where: Any = None) -> int:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(tables.predictions)
            return conn.execute(query if where is None else query.where(where)).scalar_one()
    finally:
        engine.dispose()


def test_pages_neither_skip_nor_repeat_and_are_newest_first(client, built) -> None:
    every = _all(client, limit=37)
    assert len(every) == _count(built) == 300 + 200 + 2 + 3
    assert len({p["id"] for p in every}) == len(every)
    keys = [(p["created_at"], p["id"]) for p in every]
    assert keys == sorted(keys, reverse=True)
    assert _get(client)["limit"] == 100 and len(_get(client)["predictions"]) == 100


@pytest.mark.parametrize(
    ("source", "n"), [("scheduled", 300), ("diagnostics", 200), ("api", 2), ("webapp", 3)]
)
def test_every_source_comes_with_its_features(client, built, source: str, n: int) -> None:
    found = _all(client, source=source, limit=50)
    assert len(found) == n and {p["source"] for p in found} == {source}
    features = set(RECORD)
    assert all(set(p["features"]) == features for p in found)
    if source in {"api", "webapp"}:
        assert all(p["features"]["industry"] == "finance" for p in found)
        assert all(p["file"] is None and p["run_id"] is None for p in found)


def _same(value: Any, stored: Any) -> bool:
    if value is None:
        return bool(pd.isna(stored))
    return value == pytest.approx(stored) if isinstance(value, float) else value == stored


def test_scheduled_features_are_the_rows_of_the_ingested_file(client, built) -> None:
    found = _all(client, source="scheduled", limit=1000)
    [path] = (built.path("paths.ingested") / "data").glob("*.parquet")
    frame = pd.read_parquet(path)
    for p in found:
        row = frame.iloc[p["file"]["row_number"]]
        assert p["ids"] == [row["corporation"]]
        for column, value in p["features"].items():
            assert _same(value, row[column]), (column, value, row[column])
        assert p["label"] in {"0", "1"} and p["prediction"] == float(p["label"])
        assert p["probabilities"][p["label"]] >= 0.5 - 1e-9
    assert {p["file"]["name"] for p in found} == {"clients_batch_01.csv"}


def test_filters_by_model_version_and_time(client, built) -> None:
    assert len(_all(client, model_version=1, limit=500)) == _count(built)
    assert _get(client, model_version=2)["predictions"] == []
    # An integral decimal is that integer (JSON Schema's integer; a number input may send it).
    assert (
        _get(client, model_version="1.0")["predictions"]
        == _get(client, model_version=1)["predictions"]
    )
    newest = _get(client, limit=1)["predictions"][0]["created_at"]
    after = _all(client, start=newest)
    assert after and all(p["created_at"] >= newest for p in after)
    before = _all(client, end=newest, limit=1000)
    assert len(before) + len(after) == _count(built)
    assert _get(client, start="2999-01-01")["predictions"] == []
    assert _get(client, start="2026-01-02", end="2026-01-01")["predictions"] == []


def test_a_date_alone_is_its_midnight_as_the_document_says(client, built) -> None:
    doc = client.get("/openapi.json").get_json()
    operation = doc["paths"]["/past-predictions"]["get"]
    schemas = {p["name"]: p["schema"] for p in operation["parameters"]}
    for name in ("start", "end"):
        assert schemas[name] == {
            "anyOf": [
                {"type": "string", "format": "date-time"},
                {"type": "string", "format": "date"},
            ]
        }
    today = datetime.now(UTC).date().isoformat()
    midnight = f"{today}T00:00:00Z"
    since = _all(client, start=today, limit=1000)
    assert since == _all(client, start=midnight, limit=1000)
    until = _all(client, end=today, limit=1000)
    assert until == _all(client, end=midnight, limit=1000)  # not that day: before its start
    assert len(since) + len(until) == _count(built)


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"start": "yesterday"}, "start"),
        ({"end": "2026-13-01"}, "end"),
        ({"start": "2026-01-01T12:99:00Z"}, "start"),
        ({"start": ""}, "start"),
        ({"source": "cron"}, "source"),
        ({"source": "api' OR '1'='1"}, "source"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"limit": "99999999999999999999"}, "limit"),
        ({"limit": "-5"}, "limit"),
        ({"model_version": "1; DROP TABLE predictions"}, "model_version"),
        ({"model_version": "2147483648"}, "model_version"),
        ({"model_version": "1.5"}, "model_version"),
        ({"model_version": "1."}, "model_version"),
        ({"cursor": "abc"}, "cursor"),
        ({"cursor": "'; DROP TABLE predictions; --"}, "cursor"),
        ({"cursor": "G" * 32}, "cursor"),
        ({"cursor": "0" * 33}, "cursor"),
    ],
)
def test_bad_parameters_are_400s_naming_them(client, built, params, parameter) -> None:
    before = _count(built)
    body = assert_error(client.get("/past-predictions", query_string=params), 400)
    assert body["parameter"] == parameter and f"'{parameter}'" in body["error"]
    assert _count(built) == before


def test_any_well_formed_cursor_is_answered(client) -> None:
    for cursor in ("0" * 32, "f" * 32, "7" + "f" * 31, "8" + "0" * 31):
        assert isinstance(_get(client, cursor=cursor)["predictions"], list)
    assert _get(client, cursor="0" * 32)["predictions"] == []  # before 1970: nothing


def test_a_source_the_request_may_not_claim_is_refused(client, built) -> None:
    before = _count(built)
    for source in ("cron", ["api"], "webapp"):  # webapp: no browser session signed this one in
        body = assert_error(
            client.post("/prediction", json={"records": [RECORD], "source": source}), 400
        )
        assert body["parameter"] == "source"
    assert "only for a browser signed in at /signin" in body["error"]
    assert _count(built) == before


def test_the_cli_pages_and_writes_every_row_as_csv(built, tmp_path: Path) -> None:
    project = built.base_dir
    url = built.database_url
    page = invoke(project, "predictions", "--limit", "5", "--source", "webapp", database_url=url)
    assert page.returncode == 0, page.stderr
    assert page.stdout.count("webapp") == 3 and "more:" not in page.stdout
    target = tmp_path / "out" / "all.csv"
    done = invoke(project, "predictions", "--csv", str(target), "--limit", "7", database_url=url)
    assert done.returncode == 0, done.stderr
    table = list(csv.DictReader(io.StringIO(target.read_text())))
    assert len(table) == _count(built)
    assert set(RECORD) <= set(table[0]) and {"ids", "file_sha256", "row_number"} <= set(table[0])
    scheduled = [r for r in table if r["source"] == "scheduled"]
    assert len(scheduled) == 300 and all(r["industry"] and r["row_number"] for r in scheduled)
    api = [r for r in table if r["source"] == "api"]
    assert {r["region"] for r in api} == {"west", "east"} and all(
        r["file_sha256"] == "" for r in api
    )


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--since", "last week"], "--since"),
        (["--until", "2026-02-30"], "--until"),
        (["--source", "robots"], "--source"),
        (["--limit", "100000"], "--limit"),
        (["--model-version", "x"], "--model-version"),
        (["--cursor", "1 OR 1=1"], "--cursor"),
    ],
)
def test_the_cli_refuses_bad_options_by_name(built, args, option) -> None:
    proc = invoke(built.base_dir, "predictions", *args, database_url=built.database_url)
    assert proc.returncode == 2 and option in proc.stderr, proc.stderr
