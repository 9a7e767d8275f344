"""The predict and past-predictions pages (issue 13, points 6 and 7) through Flask's test client
with bearer tokens, on SQLite and PostgreSQL: the form is the contract's, POST /predict answers
each record with POST /prediction's own error, the source a page's prediction is stored under,
the past-predictions page's filters, paging, 400 pages, CSV download and realised labels."""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app.predict_form import form_fields
from pipeline.ingest.contract import enforced, from_toml
from pipeline.model.features import FeatureSpec
from pipeline.settings import Settings
from pipeline.storage import db, label_tables, page_reads, tables
from tests.conftest import PgDatabases, copy_pg_project, copy_project
from tests.test_api import RECORD, assert_error, empty_project, make_app
from tests.test_auth import bearer, new_token

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
CHOSEN, OFFERED = "region", "industry"  # categories enforced (made so below), then not


def enforce_columns(settings: Settings, columns: list[str]) -> None:
    """Model v1's contract with these columns' learned rules enforced, as `riskwatch contract
    enforce` writes it: a new contract version that v1 now points to."""
    engine = db.make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            text = enforced(from_toml(page_reads.contract_text(conn, 1) or ""), columns).text
            version = hashlib.sha256(text.encode()).hexdigest()
            conn.execute(
                tables.contracts.insert().values(
                    version=version, created_at=tables.utcnow(), path="contract.toml", text=text
                )
            )
            m = tables.model_versions
            conn.execute(m.update().where(m.c.version == 1).values(contract_version=version))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def sqlite_project(tmp_path_factory: pytest.TempPathFactory, built_project: Path) -> Settings:
    settings = copy_project(built_project, tmp_path_factory.mktemp("pages-sqlite"))
    enforce_columns(settings, [CHOSEN])
    return settings


@pytest.fixture(scope="module")
def postgres_project(
    tmp_path_factory: pytest.TempPathFactory,
    built_pg_project: tuple[Path, str],
    pg_databases: PgDatabases,
) -> Settings:
    target = tmp_path_factory.mktemp("pages-postgres")
    settings = copy_pg_project(built_pg_project, target, pg_databases)
    enforce_columns(settings, [CHOSEN])
    return settings


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def built(request: pytest.FixtureRequest) -> Settings:
    """A project after one real run, tokens required."""
    settings: Settings = request.getfixturevalue(f"{request.param}_project")
    return settings.with_values(auth__required="true")


@pytest.fixture(scope="module")
def secrets(built: Settings) -> dict[str, str]:
    return {role: new_token(built, f"pages-{role}", role) for role in ("read", "predict")}


@pytest.fixture
def client(built: Settings) -> Iterator[FlaskClient]:
    with make_app(built) as app:
        yield app.test_client()


def _html(client: FlaskClient, url: str, secret: str, **params: Any) -> tuple[int, str]:
    response = client.get(url, query_string=params or None, headers={**HTML, **bearer(secret)})
    assert response.mimetype == "text/html"
    return response.status_code, response.get_data(as_text=True)


class _Tags(HTMLParser):
    """Every start tag with its attributes, the text of each <select>'s <option> (by the
    select's name) and the value of each <datalist>'s <option> (by the datalist's id)."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.options: dict[str, list[str]] = {}
        self.offered: dict[str, list[str]] = {}
        self._select: str | None = None
        self._datalist: str | None = None
        self._in_option = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append((tag, found))
        if tag == "select":
            self._select = found.get("name")
            self.options[self._select or ""] = []
        if tag == "datalist":
            self._datalist = found.get("id") or ""
            self.offered[self._datalist] = []
        if tag == "option" and self._datalist is not None:
            self.offered[self._datalist].append(found.get("value") or "")
        self._in_option = tag == "option"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("select", "datalist"):
            self._select = self._datalist = None
        self._in_option = False

    def handle_data(self, data: str) -> None:
        if self._in_option and self._select is not None:
            self.options[self._select].append(data.strip())


def _parsed(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    return parser


def _rows(page: str) -> list[str]:
    """The rows of the past-predictions table, as HTML."""
    body = page.split("<tbody>")
    return (
        [] if len(body) == 1 else re.findall(r"<tr>(.*?)</tr>", body[1].split("</tbody>")[0], re.S)
    )


# --- the predict page -----------------------------------------------------------------------


def test_the_form_is_the_production_models_features_under_its_contract(
    client: FlaskClient, built: Settings, secrets: dict[str, str]
) -> None:
    status, page = _html(client, "/predict", secrets["read"])
    assert status == 200
    engine = db.make_engine(built.database_url)
    try:
        with engine.connect() as conn:
            contract = from_toml(page_reads.contract_text(conn, 1) or "")
    finally:
        engine.dispose()
    parsed = _parsed(page)
    inputs = {a["name"]: a for t, a in parsed.tags if t in ("input", "select") and a.get("name")}
    labels = {a["for"] for t, a in parsed.tags if t == "label"}
    hints = dict(re.findall(r'<small id="([^"]+)" class="hint">([^<]*)</small>', page))
    features = [c for c in contract.features]
    assert set(features) <= inputs.keys()
    assert "corporation" in inputs and "required" not in inputs["corporation"]  # the id, optional
    for name in features:
        rule, field = contract.columns[name], inputs[name]
        assert field["id"] in labels  # every input has its label
        if rule.kind in ("numeric", "integer"):
            assert field["type"] == "number"
            # Inference writes enforce = false: the learned range is the hint, not a bound
            # (the API accepts a value outside it); the sign, a structural rule, bounds.
            assert rule.enforce is False and rule.min is not None and rule.max is not None
            assert "max" not in field
            assert field.get("min") == ("0.0" if rule.sign == "non-negative" else None)
            hint = hints[field["aria-describedby"] or ""]
            assert f"training range {rule.min:g} to {rule.max:g}, not enforced" in hint
            assert field["step"] == ("1" if rule.kind == "integer" else "any")
        else:
            _assert_categorical(parsed, field, rule, hints)
        assert ("required" in field) == (not rule.nullable)
    assert 'href="/predict"' in page and 'href="/past-predictions"' in page  # the nav links
    # Inference wrote enforce = false on both; the project enforces one (as `riskwatch
    # contract enforce` does): a select for it, a text input offering the other's.
    assert contract.columns[CHOSEN].enforce and not contract.columns[OFFERED].enforce
    assert inputs[CHOSEN]["data-kind"] == "choice" and inputs[OFFERED]["data-kind"] == "suggest"


def _assert_categorical(
    parsed: _Tags, field: dict[str, str | None], rule: Any, hints: dict[str, str]
) -> None:
    """A select of the categories where the contract enforces them; else a text input with a
    datalist of them (another typeable), its hint saying the list is not enforced."""
    categories = list(rule.categories or ())
    hint = hints[field["aria-describedby"] or ""]
    if rule.enforce:
        assert field["data-kind"] == "choice" and "list" not in field
        assert parsed.options[field["name"] or ""][1:] == categories
        assert hint == f"one of {len(categories)}"
    else:
        assert field["data-kind"] == "suggest" and field["type"] == "text"
        assert field["name"] not in parsed.options  # no select
        assert parsed.offered[field["list"] or ""] == categories
        assert hint == f"{len(categories)} known, not enforced: another may be typed"


# Each way a contract may hold a numeric column's range: learned and not enforced (inference's
# `enforce = false`), learned and enforced, written by hand (no enforce key: enforced), a sign.
RANGES = """
[contract]
target = "y"

[columns.y]
kind = "label"

[columns.hinted]
kind = "numeric"
nullable = false
sign = "non-negative"
min = 2.5
max = 40.0
enforce = false

[columns.bounded]
kind = "integer"
nullable = false
min = -3.0
max = 12.0
enforce = true

[columns.by_hand]
kind = "numeric"
nullable = true
min = 1.0
max = 9.0

[columns.signed]
kind = "numeric"
nullable = true
sign = "non-positive"
"""


@pytest.mark.parametrize(
    ("name", "low", "high", "hint"),
    [
        ("hinted", 0.0, None, "training range 2.5 to 40, not enforced"),  # the sign bounds
        ("bounded", -3.0, 12.0, "a whole number; training range -3 to 12"),
        ("by_hand", 1.0, 9.0, "training range 1 to 9"),
        ("signed", None, 0.0, "not positive"),
    ],
)
def test_the_learned_range_bounds_the_input_only_where_the_contract_enforces_it(
    name: str, low: float | None, high: float | None, hint: str
) -> None:
    assert from_toml(RANGES).columns[name].enforce is (name != "hinted")  # as a run reads it
    features = FeatureSpec(("hinted", "bounded", "by_hand", "signed"), ())
    field = {f.name: f for f in form_fields(features, RANGES)}[name]
    assert (field.min, field.max, field.hint) == (low, high, hint)


CATEGORIES = """
[contract]
target = "y"

[columns.y]
kind = "label"

[columns.learned]
kind = "categorical"
nullable = false
categories = ["east", "west"]
enforce = false

[columns.enforced]
kind = "categorical"
nullable = true
categories = ["a", "b", "c"]
enforce = true

[columns.by_hand]
kind = "categorical"
nullable = true
categories = ["x"]

[columns.unlisted]
kind = "categorical"
nullable = true
"""


@pytest.mark.parametrize(
    ("name", "kind", "choices", "hint"),
    [
        ("learned", "suggest", ("east", "west"), "2 known, not enforced: another may be typed"),
        ("enforced", "choice", ("a", "b", "c"), "one of 3"),
        ("by_hand", "choice", ("x",), "one of 1"),  # no enforce key: enforced
        ("unlisted", "text", (), "a category (the contract lists none)"),
    ],
)
def test_a_category_list_is_a_select_only_where_the_contract_enforces_it(
    name: str, kind: str, choices: tuple[str, ...], hint: str
) -> None:
    rules = from_toml(CATEGORIES).columns
    assert rules["learned"].enforce is False and rules["by_hand"].enforce is True
    features = FeatureSpec((), ("learned", "enforced", "by_hand", "unlisted"))
    field = {f.name: f for f in form_fields(features, CATEGORIES)}[name]
    assert (field.kind, field.choices, field.hint) == (kind, choices, hint)
    assert field.required is (name == "learned")  # nullable = false


def test_predict_answers_each_record_with_the_apis_own_error(
    client: FlaskClient, built: Settings, secrets: dict[str, str]
) -> None:
    bad = [
        {k: v for k, v in RECORD.items() if k != "region"},
        {**RECORD, "lastyear_activity": "1e400"},
        {**RECORD, "industry": {"nested": 1}},
        "not an object",
    ]
    records = [RECORD, *bad, {**RECORD, "corporation": "pages-ok"}]
    before = _count(built)
    answer = client.post("/predict", json={"records": records}, headers=bearer(secrets["predict"]))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["stored"] == 2 and body["model_version"] == 1
    results = body["results"]
    assert [r["row"] for r in results] == list(range(len(records)))
    assert "prediction" in results[0] and set(results[0]["probabilities"]) == {"0", "1"}
    assert "prediction" in results[-1] and "error" not in results[-1]
    for i, record in enumerate(bad, start=1):
        api = client.post(
            "/prediction", json=[RECORD] * i + [record], headers=bearer(secrets["predict"])
        )
        said = assert_error(api, 400)
        assert results[i]["error"] == said["error"]
        assert results[i].get("column") == said.get("column")
    assert _count(built) == before + 2  # the valid ones only (the API's calls stored none)
    assert _count(built, tables.predictions.c.row_key == '["pages-ok"]') == 1


def test_predict_refuses_what_post_prediction_refuses(
    client: FlaskClient, secrets: dict[str, str]
) -> None:
    token = bearer(secrets["predict"])
    assert_error(client.post("/predict", json={"records": []}, headers=token), 400)
    assert_error(client.post("/predict", data="[{}]", headers=token), 415)
    assert_error(client.post("/predict", json={"rows": [RECORD]}, headers=token), 400)
    said = assert_error(
        client.post("/predict", json={"records": [RECORD], "source": "x"}, headers=token), 400
    )
    assert said["parameter"] == "source"
    assert (
        client.post("/predict", json=[RECORD], headers=bearer(secrets["read"])).status_code == 403
    )
    assert client.post("/predict", json=[RECORD]).status_code == 401


def _count(settings: Settings, where: Any = None) -> int:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(tables.predictions)
            return int(conn.execute(query if where is None else query.where(where)).scalar_one())
    finally:
        engine.dispose()


def test_without_a_model_the_predict_page_says_so(tmp_path: Path) -> None:
    settings = empty_project(tmp_path, migrate=True)
    with make_app(settings) as app:
        response = app.test_client().get("/predict", headers=HTML)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert "no model is deployed yet" in page and "Traceback" not in page


# --- the past-predictions page --------------------------------------------------------------


def test_the_past_predictions_page_filters_by_source_date_and_version(
    client: FlaskClient, secrets: dict[str, str]
) -> None:
    read = secrets["read"]
    status, page = _html(client, "/past-predictions", read, source="scheduled", limit="5")
    assert status == 200
    rows = _rows(page)
    assert len(rows) == 5 and all(">scheduled<" in r for r in rows)
    assert re.search(r'<option value="scheduled" selected>', page)
    _, diagnostics = _html(client, "/past-predictions", read, source="diagnostics", limit="5")
    assert all(">diagnostics<" in r for r in _rows(diagnostics)) and _rows(diagnostics)
    today = datetime.now(UTC).date()
    # The end date is inclusive: today's predictions are there up to today, none before it.
    assert _rows(_html(client, "/past-predictions", read, end=str(today), limit="3")[1])
    yesterday = str(today - timedelta(days=1))
    assert "No predictions match" in _html(client, "/past-predictions", read, end=yesterday)[1]
    tomorrow = str(today + timedelta(days=1))
    assert not _rows(_html(client, "/past-predictions", read, start=tomorrow)[1])
    assert not _rows(_html(client, "/past-predictions", read, model_version="2")[1])
    # Empty fields (a form sends them) are filters not set.
    _, blank = _html(
        client, "/past-predictions", read, start="", end="", model_version="", limit="3"
    )
    assert len(_rows(blank)) == 3


def test_the_past_predictions_page_pages_by_its_cursor(
    client: FlaskClient, secrets: dict[str, str]
) -> None:
    seen: list[str] = []
    url, params = "/past-predictions", {"source": "scheduled", "limit": "40"}
    for _ in range(3):
        status, page = _html(client, url, secrets["read"], **params)
        assert status == 200
        seen += re.findall(r'data-label="Features" class="features">(.*?)</td>', page, re.S)
        found = re.search(r'id="next-page" href="([^"]+)"', page)
        assert found is not None
        url, params = found.group(1).replace("&amp;", "&"), {}
        assert "source=scheduled" in url and "cursor=" in url and "limit=40" in url
    assert len(seen) == 120
    ids = _json(client, secrets["read"], source="scheduled", limit="120")
    assert len({p["id"] for p in ids}) == 120  # the pages' rows are the API's, none repeated


def _json(client: FlaskClient, secret: str, **params: str) -> list[dict[str, Any]]:
    response = client.get("/past-predictions", query_string=params, headers=bearer(secret))
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Vary"] == "Accept"
    return response.get_json()["predictions"]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("start", "yesterday"),
        ("end", "2026-13-40"),
        ("source", "robots"),
        ("model_version", "-1"),
        ("limit", "100000"),
        ("cursor", "'; drop table predictions; --"),
    ],
)
def test_a_bad_parameter_is_a_400_page_naming_it(
    client: FlaskClient, secrets: dict[str, str], parameter: str, value: str
) -> None:
    status, page = _html(client, "/past-predictions", secrets["read"], **{parameter: value})
    assert status == 400
    assert f"Bad parameter <code>{parameter}</code>" in page
    assert "Traceback" not in page
    said = assert_error(
        client.get(
            "/past-predictions", query_string={parameter: value}, headers=bearer(secrets["read"])
        ),
        400,
    )
    assert said["parameter"] == parameter  # the API's answer is unchanged


def test_the_csv_download_is_what_the_filters_match(
    client: FlaskClient, built: Settings, secrets: dict[str, str]
) -> None:
    read = bearer(secrets["read"])
    _, page = _html(client, "/past-predictions", secrets["read"], source="diagnostics")
    link = re.search(r'id="csv-download" href="([^"]+)"', page)
    assert link is not None and "source=diagnostics" in link.group(1)
    response = client.get(link.group(1).replace("&amp;", "&"), headers=read)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = _count(built, tables.predictions.c.source == "diagnostics")
    assert len(rows) == expected > 0
    assert {r["source"] for r in rows} == {"diagnostics"}
    assert {"lastmonth_activity", "industry", "region"} <= rows[0].keys()
    assert all(r["industry"] for r in rows)
    none = client.get("/past-predictions.csv", query_string={"start": "2999-01-01"}, headers=read)
    assert none.get_data(as_text=True).count("\n") == 1  # the header alone
    said = assert_error(client.get("/past-predictions.csv?source=x", headers=read), 400)
    assert said["parameter"] == "source"


def test_the_csv_download_is_bounded(built: Settings, secrets: dict[str, str]) -> None:
    with make_app(built.with_values(predict__download_limit=7)) as app:
        response = app.test_client().get("/past-predictions.csv", headers=bearer(secrets["read"]))
        lines = response.get_data(as_text=True).splitlines()  # streamed: read while it is served
    assert response.status_code == 200 and len(lines) == 1 + 7


def _join_a_label(settings: Settings, key: str, label: str, status: str = "joined") -> int:
    """A label for the newest prediction of `key`, recorded as the labels step records it."""
    engine = db.make_engine(settings.database_url)
    now = datetime.now(UTC)
    try:
        with engine.begin() as conn:
            p = tables.predictions
            pid = conn.execute(
                sa.select(p.c.id).where(p.c.row_key == key).order_by(p.c.id.desc()).limit(1)
            ).scalar_one()
            run_id = conn.execute(sa.select(tables.runs.c.id).limit(1)).scalar_one()
            file_id = conn.execute(
                label_tables.label_files.insert().values(
                    run_id=run_id,
                    sha256=f"{key}{status}".ljust(64, "0")[:64],
                    name="l.csv",
                    size_bytes=1,
                    status="taken",
                    invalid_by_type={},
                    received_at=now,
                )
            ).inserted_primary_key[0]
            conn.execute(
                label_tables.labels.insert().values(
                    run_id=run_id,
                    label_file_id=file_id,
                    row_number=0,
                    row_key=key,
                    label=label,
                    received_at=now,
                    status=status,
                    prediction_id=pid,
                    model_version=1,
                )
            )
        return int(pid)
    finally:
        engine.dispose()


def test_realised_labels_stand_beside_their_predictions(
    client: FlaskClient, built: Settings, secrets: dict[str, str]
) -> None:
    token = bearer(secrets["predict"])
    for name in ("labelled-a", "labelled-b", "pending-c"):
        record = {**RECORD, "corporation": name}
        assert client.post("/prediction", json=[record], headers=token).status_code == 200
    joined = _join_a_label(built, '["labelled-a"]', "1")
    _join_a_label(built, '["pending-c"]', "0", status="pending")  # not joined: not shown
    status, page = _html(client, "/past-predictions", secrets["read"], source="api", limit="10")
    assert status == 200
    rows = {re.search(r'data-label="Ids">(.*?)</td>', r).group(1): r for r in _rows(page)}  # type: ignore[union-attr]
    assert 'class="realised">1</td>' in rows["labelled-a"]
    assert 'class="realised">–</td>' in rows["labelled-b"]
    assert 'class="realised">–</td>' in rows["pending-c"]
    engine = db.make_engine(built.database_url)
    try:
        with engine.connect() as conn:
            assert page_reads.joined_labels(conn, [(joined, '["labelled-a"]')]) == {joined: "1"}
            assert page_reads.joined_labels(conn, [(joined, '["labelled-b"]')]) == {}
            assert page_reads.joined_labels(conn, [(joined, None)]) == {}
    finally:
        engine.dispose()
    api = _json(client, secrets["read"], source="api", limit="10")
    assert all("realised_label" not in p for p in api)  # the JSON is unchanged
