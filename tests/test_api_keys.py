"""A prediction request's ids and event time (`predictions.check_keys`): a label that arrives
later finds its prediction by them, so a value no label could name is a 400 naming its column
and nothing is stored (the API and the web page's rows, SQLite and PostgreSQL); past predictions
stored with text no encoder writes are still exported as CSV; and `riskwatch predictions --csv`
never writes over the project's own files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from pipeline.settings import Settings
from pipeline.storage import db, tables
from tests.e2e import invoke
from tests.test_api import RECORD, _api_predictions, _post_raw, assert_error, make_app


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[Settings, FlaskClient]]:
    """The built project (SQLite, then PostgreSQL) and a client of its app."""
    settings = request.getfixturevalue(f"{request.param}_project")
    with make_app(settings) as app:
        yield settings, app.test_client()


@pytest.mark.parametrize(
    "literal",
    ['["a"]', '{"a": 1}', "Infinity", "NaN", '"\\ud800"', '"acme\\u0000corp"'],
)
def test_an_id_no_label_could_name_is_a_400_naming_it(served: Any, literal: str) -> None:
    built, client = served
    before = len(_api_predictions(built))
    record = json.dumps({**RECORD, "corporation": 0})
    record = record.replace('"corporation": 0', f'"corporation": {literal}')
    body = assert_error(_post_raw(client, f"[{record}]"), 400)
    assert body["column"] == "corporation"
    assert body["error"].startswith("record 0: id column 'corporation'")
    assert len(_api_predictions(built)) == before


def test_ids_of_every_kind_a_label_can_name_are_kept(served: Any) -> None:
    built, client = served
    ids = ["acme ß 😀", 42, 42.5, None]
    answer = client.post("/prediction", json=[{**RECORD, "corporation": v} for v in ids])
    assert answer.status_code == 200, answer.get_json()
    keys = [r.row_key for r in _api_predictions(built)[-4:]]
    assert keys == ['["acme ß 😀"]', '["42"]', '["42.5"]', None]


def test_ids_longer_than_a_key_may_be_are_a_400_and_the_longest_allowed_is_stored(
    served: Any,
) -> None:
    """A key is at most MAX_KEY_BYTES of UTF-8 (PostgreSQL's index holds no longer one: it
    was a 503 there); counted in bytes, so 1,001 é's are too many."""
    from pipeline.predictions import MAX_KEY_BYTES

    built, client = served
    before = len(_api_predictions(built))
    room = MAX_KEY_BYTES - len('[""]')
    for value in ("x" * (room + 1), "é" * (room // 2 + 1), "é" * 200_000):
        answer = client.post("/prediction", json=[{**RECORD, "corporation": value}])
        body = assert_error(answer, 400)
        assert body["column"] == "corporation" and "the ids are too long" in body["error"]
    assert len(_api_predictions(built)) == before
    answer = client.post("/prediction", json=[{**RECORD, "corporation": "x" * room}])
    assert answer.status_code == 200, answer.get_json()
    assert _api_predictions(built)[-1].row_key == '["' + "x" * room + '"]'


@pytest.fixture
def timed(served: Any) -> Any:
    settings = served[0].with_values(data__timestamp_column="seen_at")
    with make_app(settings) as app:
        yield settings, app.test_client()


@pytest.mark.parametrize(
    "value", ["garbage", 1700000000, True, ["x"], "10000-01-01", "", "2026-W45", "2026-335"]
)
def test_an_event_time_that_is_not_a_time_is_a_400_naming_it(timed: Any, value: object) -> None:
    settings, client = timed
    before = len(_api_predictions(settings))
    body = assert_error(client.post("/prediction", json=[{**RECORD, "seen_at": value}]), 400)
    assert body["column"] == "seen_at"
    assert "must be an ISO 8601 time" in body["error"]
    assert len(_api_predictions(settings)) == before


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("9999-12-31T23:59:59-14:00", "is not a time in UTC"),
        ("0001-01-01T00:00:00+14:00", "is not a time in UTC"),
        ("2999-01-01T00:00:00Z", "later than quality.timestamp_max_future_days allows"),
    ],
)
def test_an_event_time_the_gate_would_refuse_is_a_400(timed: Any, value: str, says: str) -> None:
    """As the gate takes a file's event times: a time before the year 1 or after 9999 in UTC
    (was stored clamped to the ends of time), or further ahead than the setting allows (was
    stored, and made periods no file could have)."""
    settings, client = timed
    before = len(_api_predictions(settings))
    body = assert_error(client.post("/prediction", json=[{**RECORD, "seen_at": value}]), 400)
    assert body["column"] == "seen_at" and says in body["error"]
    assert len(_api_predictions(settings)) == before
    soon = (datetime.now(UTC) + timedelta(hours=12)).isoformat()  # within the day allowed
    assert client.post("/prediction", json=[{**RECORD, "seen_at": soon}]).status_code == 200


def test_an_event_time_or_none_is_stored(timed: Any) -> None:
    from datetime import UTC, datetime

    settings, client = timed
    records = [{**RECORD, "seen_at": "2026-12-01T09:30:00+01:00"}, {**RECORD, "seen_at": None}]
    assert client.post("/prediction", json=records).status_code == 200
    times = [r.event_time for r in _api_predictions(settings)[-2:]]
    assert times == [datetime(2026, 12, 1, 8, 30, tzinfo=UTC), None]


def test_the_web_pages_rows_say_which_id_is_refused(served: Any) -> None:
    with make_app(served[0].with_values(auth__required=False)) as app:
        page = app.test_client()
        answer = page.post("/predict", json=[RECORD, {**RECORD, "corporation": ["x"]}])
    assert answer.status_code == 200, answer.get_json()
    doc = answer.get_json()
    assert doc["stored"] == 1
    assert doc["results"][1]["column"] == "corporation"
    assert "id column 'corporation' must be" in doc["results"][1]["error"]


def test_a_stored_lone_surrogate_is_escaped_in_the_csv(served: Any) -> None:
    """A row stored before the API refused such ids (here written straight to the table)."""
    built, client = served
    engine = db.make_engine(built.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                tables.predictions.insert().values(
                    source="api", model_version=1, created_at=tables.utcnow(),
                    features={**RECORD}, row_key='["\\ud800"]', prediction=1.0, label="1",
                )
            )  # fmt: skip
    finally:
        engine.dispose()
    answer = client.get("/past-predictions.csv?source=api")
    assert answer.status_code == 200
    text = answer.get_data(as_text=True)
    assert text.count("\n") >= 2 and "ud800" in text


def test_the_predictions_text_shows_an_id_with_a_line_break_or_an_override_escaped(
    served: Any,
) -> None:
    """An id is any text: in `riskwatch predictions`' lines it cannot start a line of its own
    or turn the text around it (the JSON keeps it as it is)."""
    built, client = served
    tricky = "C\r\nline \u202eevil"
    answer = client.post("/prediction", json=[{**RECORD, "corporation": tricky}])
    assert answer.status_code == 200, answer.get_json()
    args = ("predictions", "--source", "api", "--limit", "1")
    text = invoke(built.base_dir, *args, database_url=built.database_url).stdout
    assert "ids=C\\r\\nline \\u202eevil" in text and "\u202e" not in text
    assert text.splitlines()[1].startswith("more: --cursor")  # the row is one line
    doc = invoke(built.base_dir, *args, "--json", database_url=built.database_url).stdout
    assert json.loads(doc)["predictions"][0]["ids"] == [tricky]


def _settled(database: Path) -> bytes:
    """The database file's bytes once its log is checkpointed: an earlier test's app (this
    project is shared) checkpoints a moment after its commits, which is no export's write."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return database.read_bytes()


def test_the_csv_export_never_writes_over_the_projects_own_files(
    sqlite_project: Settings, tmp_path: Path
) -> None:
    base = sqlite_project.base_dir
    database = base / "riskwatch.db"
    before = _settled(database)
    refused = {
        "riskwatch.db": "one of the project's own files",
        str(database): "one of the project's own files",
        "riskwatch.toml": "one of the project's own files",
        "sourcedata/x.csv": "inside the project's paths.source",
        "ingesteddata/x.csv": "inside the project's paths.ingested",
        "models/1/x.csv": "inside the project's paths.models",
        "": "give the CSV file to write",
        str(tmp_path): "is a directory",
        "/dev/null": "is not a regular file",
        str(tmp_path / "out.csv" / "x.csv"): "is not a folder",
    }
    (tmp_path / "out.csv").write_text("")  # a file where the last target's folder would be
    for target, says in refused.items():
        result = invoke(base, "predictions", "--csv", target)
        said = result.stdout + result.stderr
        assert result.returncode == 2, (target, said)
        assert says in " ".join(said.split()), (target, said)
    assert _settled(database) == before
    out = tmp_path / "out.csv"
    assert invoke(base, "predictions", "--csv", str(out)).returncode == 0
    assert out.read_text().startswith("id,created_at,source")
    streamed = invoke(base, "predictions", "--csv", "-")  # to stdout, no file named -
    assert streamed.returncode == 0 and streamed.stdout == out.read_text()
    assert not (base / "-").exists()
    assert invoke(base, "predictions", "--csv", "-", "--json").returncode == 2
    with sa.create_engine(f"sqlite:///{database}").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM runs")).scalar()


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("/past-predictions?limit=1&limit=2", "limit"),
        ("/past-predictions?source=all&source=api", "source"),
        ("/performance?metric=f1&metric=accuracy", "metric"),
        ("/predictions/summary?start=2026-01-01&start=2026-02-01", "start"),
        ("/runs?limit=1&limit=3&limit=4", "limit"),
    ],
)
def test_a_parameter_given_twice_is_a_400_naming_it(served: Any, url: str, name: str) -> None:
    _, client = served
    body = assert_error(client.get(url), 400)
    assert body["parameter"] == name and "give it once" in body["error"]


def test_a_page_says_it_as_a_page_and_unknown_keys_are_ignored(served: Any) -> None:
    _, client = served
    page = client.get("/quality?range=week&range=month")
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert 'data-parameter="range"' in page.get_data(as_text=True)
    assert client.get("/performance?unused=1&unused=2").status_code == 200
