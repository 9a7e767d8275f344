"""The online prediction's own path (issue 12's serving goal): records built straight into a
typed feature frame, categories looked up in a dictionary for a few rows, and one commit per
request that counts the client's request and predictions with the stored predictions."""

from __future__ import annotations

import pickle
import re
import threading
import time
from collections.abc import Callable
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from app import limits
from app.commits import Committer
from pipeline.model import design
from pipeline.model.design import Preprocessor
from pipeline.model.features import FeatureSpec, feature_frame, records_frame
from pipeline.settings import Settings
from pipeline.storage import api_tables, db, tables
from tests.test_api import RECORD, assert_error, make_app
from tests.test_auth import bearer, new_token

SPEC = FeatureSpec(("amount", "count"), ("industry", "code"))
HOSTILE = [
    {"amount": 1.5, "count": 2, "industry": "retail", "code": 7},
    {"amount": None, "count": 10**300, "industry": None, "code": "7"},
    {"amount": -0.0, "count": 1e308, "industry": "", "code": True},
    {"amount": 3, "count": 0, "industry": "ünï\u00e9", "code": 7.0},
]


def test_records_are_the_feature_frame_the_slow_path_makes() -> None:
    typed = records_frame(HOSTILE, SPEC, 10)
    slow = feature_frame(pd.DataFrame(HOSTILE, columns=SPEC.columns), SPEC)
    assert list(typed.columns) == SPEC.columns
    assert [str(t) for t in typed.dtypes] == ["float64", "float64", "object", "object"]
    pd.testing.assert_frame_equal(typed, slow, check_dtype=True)
    assert feature_frame(typed, SPEC) is typed  # recognised: not converted a second time
    assert records_frame(HOSTILE[:1], FeatureSpec(("amount",), ()), 1).shape == (1, 1)
    assert records_frame(HOSTILE[:1], FeatureSpec((), ("code",)), 1).shape == (1, 1)


@pytest.mark.parametrize(
    "spec", [SPEC, FeatureSpec(("amount", "count"), ()), FeatureSpec((), ("industry", "code"))]
)
def test_the_frame_made_of_its_blocks_is_the_concatenated_one(
    spec: FeatureSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.model import features

    made = records_frame(HOSTILE, spec, 10)
    monkeypatch.setattr(features, "_FROM_BLOCKS", None)  # pandas before 3: by a concat
    concatenated = records_frame(HOSTILE, spec, 10)
    pd.testing.assert_frame_equal(made, concatenated, check_exact=True)
    assert type(made.index) is type(concatenated.index) is pd.RangeIndex
    assert made.columns is concatenated.columns  # the labels made once per feature list
    assert [b.dtype for b in made._mgr.blocks] == [b.dtype for b in concatenated._mgr.blocks]
    assert [list(b.mgr_locs) for b in made._mgr.blocks] == [
        list(b.mgr_locs) for b in concatenated._mgr.blocks
    ]


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"amount": 1.0, "count": "x", "industry": "a"}, "'count' must be a finite number"),
        ({"amount": 1.0, "count": 1, "industry": []}, "'industry' must be a string"),
        ({"amount": 1.0, "count": 1, "industry": "a"}, "'code' is missing"),
        ({"amount": True, "count": 1, "industry": "a", "code": 1}, "'amount' must be a finite"),
        ({"amount": 1e309, "count": 1, "industry": "a", "code": 1}, "'amount' must be a finite"),
        ({"amount": 1, "count": 10**309, "industry": "a", "code": 1}, "'count' must be a finite"),
        ({"amount": 1, "count": 1, "industry": "a\x00", "code": 1}, "'industry' holds a NUL"),
        ({"amount": 1, "count": 1, "industry": "\ud800", "code": 1}, "'industry' holds a NUL"),
    ],
)
def test_the_first_bad_feature_of_a_record_is_named(record: dict, message: str) -> None:
    """Checked in the model's order, whichever way (a plain value is let through at once):
    a record that lacks a feature after a bad one is refused for the bad one."""
    from pipeline.errors import DataError

    good = {"amount": 1.5, "count": 2, "industry": "retail", "code": 7}
    with pytest.raises(DataError, match=re.escape(f"record 1: feature column {message}")):
        records_frame([good, record], SPEC, 10)
    assert records_frame([good, {**good, "amount": 1e308, "count": -(10**308)}], SPEC, 10).shape


# Values a record may hold, good and bad, for each kind of column: the column-wise checks and
# the record-wise ones must reach the same verdict on every mix of them.
NUMBER_VALUES = [1.5, -0.0, 0, 7, None, 1e308, -(10**308), 10**308 + 1, 6e307, 10**300, 2**70]
NUMBER_VALUES += [True, "1", float("nan"), float("inf"), 1e309, 10**309, [1], {"a": 1}]
TEXT_VALUES = ["retail", "", "ünï", None, 7, 2.5, True, False, float("nan"), 1e309, 10**309]
TEXT_VALUES += ["a\x00", "\ud800", "\ud83d\ude00", [], {"b": 2}]


@pytest.mark.parametrize("preprocessing", ["standard", "none"])
def test_records_checked_a_column_at_a_time_as_one_at_a_time(
    preprocessing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same frame, or the same error naming the same record and column, either way, on
    random requests mixing good values with every kind of bad one (and a record that is not an
    object, or lacks a feature)."""
    from pipeline.errors import DataError
    from pipeline.model import features

    spec = FeatureSpec(SPEC.numeric, SPEC.categorical, preprocessing)
    rng = np.random.default_rng(12)

    def verdict(records: list, column_checks: int) -> object:
        monkeypatch.setattr(features, "COLUMN_CHECKS", column_checks)
        try:
            return records_frame(records, spec, 1000)
        except DataError as exc:
            return (str(exc), exc.column)

    plain_seen = 0
    for trial in range(400):
        n = int(rng.integers(1, 40))
        bad = rng.random() < 0.6  # most requests hold one bad value or none
        records: list[object] = []
        for _ in range(n):
            rec = {c: 1.0 + rng.random() for c in spec.numeric}
            rec |= {c: str(rng.choice(["retail", "energy"])) for c in spec.categorical}
            records.append(rec)
        if bad:
            at = int(rng.integers(n))
            target = records[at]
            assert isinstance(target, dict)
            kind = rng.integers(5)
            if kind == 0:
                records[at] = ["not", "an", "object"]
            elif kind == 1:
                del target[str(rng.choice(spec.columns))]
            else:
                col = str(rng.choice(spec.columns))
                pool = NUMBER_VALUES if col in spec.numeric else TEXT_VALUES
                target[col] = pool[int(rng.integers(len(pool)))]
        rows_way = verdict(records, 10**9)
        columns_way = verdict(records, 1)
        if isinstance(rows_way, pd.DataFrame):
            assert isinstance(columns_way, pd.DataFrame), (trial, records, columns_way)
            pd.testing.assert_frame_equal(rows_way, columns_way, check_exact=True)
            plain_seen += 1
        else:
            assert columns_way == rows_way, (trial, records)
    assert plain_seen > 100  # the test saw both verdicts, many times


def test_the_column_checks_hand_back_what_the_frame_holds() -> None:
    from pipeline.model.record_checks import plain_columns

    records = [
        {"amount": 1.5, "count": None, "industry": "a", "code": 7},
        {"amount": 10**300, "count": 2, "industry": None, "code": True},
    ]
    numbers, objects = plain_columns(records, SPEC.numeric, SPEC.categorical, True)  # type: ignore[misc]
    np.testing.assert_array_equal(numbers, [[1.5, 1e300], [np.nan, 2.0]])
    assert objects[0][0] == "a" and np.isnan(objects[0][1]) and objects[1] == [7, True]
    assert plain_columns(records, SPEC.numeric, SPEC.categorical, False) is None  # nulls
    assert plain_columns([*records, [1]], SPEC.numeric, SPEC.categorical, True) is None


def test_a_frame_with_none_or_text_dtypes_is_still_converted() -> None:
    frame = pd.DataFrame({"amount": [1.0], "count": [2.0], "industry": [None], "code": ["a"]})
    frame["industry"] = frame["industry"].astype(object)
    converted = feature_frame(frame, SPEC)
    assert converted is not frame
    assert np.isnan(converted["industry"].iloc[0])  # None became NaN, as the model expects
    text = pd.DataFrame({"amount": [1.0], "count": [2.0], "industry": ["x"], "code": ["a"]})
    assert feature_frame(text, SPEC)["industry"].dtype == object


@pytest.mark.parametrize("sparse_output", [True, False])
def test_the_dictionary_look_up_gives_the_index_look_up(
    sparse_output: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(3)
    n = 400
    fit = pd.DataFrame(
        {
            "amount": rng.normal(size=n),
            "count": rng.integers(0, 5, n).astype(float),
            "industry": rng.choice(["retail", "finance", "energy"], n).astype(object),
            "code": pd.Series(rng.choice([1, 2, "2", 3.5], n), dtype=object),
        }
    )
    model = Preprocessor(SPEC.numeric, SPEC.categorical, sparse=sparse_output).fit(fit)
    new = records_frame(
        [
            *HOSTILE,
            {"amount": 0.1, "count": 1, "industry": "unknown", "code": 2.0},
            {"amount": 0.1, "count": 1, "industry": "finance", "code": "3.5"},
        ],
        SPEC,
        10,
    )
    few = model.transform(new)
    monkeypatch.setattr(design, "FEW_ROWS", 0)  # the vectorised look-up of large frames
    many = model.transform(new)
    dense = (lambda m: m.toarray()) if sparse_output else np.asarray
    np.testing.assert_array_equal(dense(few), dense(many))


def test_the_look_up_cache_is_never_pickled() -> None:
    frame = records_frame(HOSTILE[:1] + HOSTILE[3:], SPEC, 10)
    model = Preprocessor(SPEC.numeric, SPEC.categorical).fit(frame)
    model.transform(frame)
    assert "_positions_cache" in model.__dict__
    again = pickle.loads(pickle.dumps(model))
    assert "_positions_cache" not in again.__dict__
    assert (again.transform(frame) != model.transform(frame)).nnz == 0


# --- one commit per request ---------------------------------------------------------------


def _commits(engine: sa.Engine) -> list[int]:
    seen: list[int] = []
    sa.event.listen(engine, "commit", lambda conn: seen.append(1))
    return seen


def test_a_prediction_request_costs_one_commit(predicting: Settings) -> None:
    settings = predicting
    secret = new_token(settings, "one", "predict")
    with make_app(settings) as app:
        client = app.test_client()
        assert client.post("/prediction", json=[RECORD], headers=bearer(secret)).status_code == 200
        commits = _commits(app.extensions["riskwatch"].engine)
        for n in (1, 2):
            answer = client.post("/prediction", json=[RECORD] * n, headers=bearer(secret))
            assert answer.status_code == 200, answer.get_data(as_text=True)
        assert len(commits) == 2  # the request, its predictions' count and the rows: together


def _usage(settings: Settings) -> dict[str, int]:
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            u = api_tables.api_usage
            return dict(conn.execute(sa.select(u.c.kind, u.c.used)).all())
    finally:
        engine.dispose()


def test_a_refused_body_still_counts_as_a_request_and_a_client_at_its_limit_waits(
    predicting: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = predicting
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: 1_800_000_020.5))
    settings = settings.with_values(api__requests_per_minute=3, api__predictions_per_day=100)
    secret = new_token(settings, "bad", "predict")
    with make_app(settings) as app:
        client = app.test_client()
        bad = client.post("/prediction", json=[{"nonsense": 1}], headers=bearer(secret))
        assert_error(bad, 400)
        assert _usage(settings) == {"requests": 1}  # counted after the answer
        for _ in range(2):
            ok = client.post("/prediction", json=[RECORD] * 4, headers=bearer(secret))
            assert ok.status_code == 200
        assert _usage(settings) == {"requests": 3, "predictions": 8}
        engine = app.extensions["riskwatch"].engine
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(tables.predictions))
            before = stored.scalar_one()
        commits = _commits(engine)
        refused = client.post("/prediction", json=[RECORD], headers=bearer(secret))
        assert "made 3 this minute" in assert_error(refused, 429)["error"]
        assert commits == []  # this worker saw the count at its limit: no database work at all
        with engine.connect() as conn:
            stored = conn.execute(sa.select(sa.func.count()).select_from(tables.predictions))
            assert stored.scalar_one() == before
    assert _usage(settings) == {"requests": 3, "predictions": 8}


# --- group commit ---------------------------------------------------------------------------


def test_concurrent_requests_share_transactions_and_every_answer_is_stored(
    predicting: Settings,
) -> None:
    settings = predicting.with_values(api__requests_per_minute=0)
    secret = new_token(settings, "many", "predict")
    with make_app(settings) as app:
        st = app.extensions["riskwatch"]
        with st.engine.connect() as conn:
            count = sa.select(sa.func.count()).select_from(tables.predictions)
            before = conn.execute(count).scalar_one()
        start = threading.Barrier(12)
        answers: list[int] = []

        def call() -> None:
            client = app.test_client()
            start.wait()
            for _ in range(10):
                reply = client.post("/prediction", json=[RECORD] * 3, headers=bearer(secret))
                answers.append(reply.status_code)

        threads = [threading.Thread(target=call) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200] * 120
        with st.engine.connect() as conn:
            assert conn.execute(count).scalar_one() == before + 360
        assert st.committer.transactions < 120  # requests in flight together: one commit
    assert _usage(settings) == {"predictions": 360}


def test_a_failing_piece_of_work_fails_alone(engine: sa.Engine) -> None:
    committer = Committer(engine)
    probe = sa.table("commit_probe", sa.column("x", sa.Integer))
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE commit_probe (x INTEGER NOT NULL)"))
    release = threading.Event()

    def slow(conn: sa.Connection) -> int:
        release.wait(5)  # holds the committer so that the next pieces queue behind it
        conn.execute(probe.insert().values(x=0))
        return 0

    def good(i: int) -> Callable[[sa.Connection], int]:
        def insert(conn: sa.Connection) -> int:
            conn.execute(probe.insert().values(x=i))
            return i

        return insert

    def bad(conn: sa.Connection) -> int:
        conn.execute(probe.insert().values(x=None))  # NOT NULL: the database refuses it
        return -1

    pieces = [slow, good(1), bad, good(2)]
    results: dict[int, object] = {}

    def submit(k: int) -> None:
        try:
            results[k] = committer.run(pieces[k])
        except sa.exc.IntegrityError as exc:
            results[k] = exc

    threads = [threading.Thread(target=submit, args=(k,)) for k in range(4)]
    threads[0].start()
    time.sleep(0.2)
    for t in threads[1:]:
        t.start()
    time.sleep(0.2)
    release.set()
    for t in threads:
        t.join()
    assert results[0] == 0 and results[1] == 1 and results[3] == 2
    assert isinstance(results[2], sa.exc.IntegrityError)
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.select(probe.c.x)).scalars()) == [0, 1, 2]


# --- the request body: orjson where it reads what json.loads reads ---------------------------

BODIES = [
    b'[{"a": 1.5, "b": -0.0, "c": "caf\\u00e9", "d": null, "e": [true, false]}]',
    b'{"records": [{"a": 0.30000000000000004, "b": 5e-324, "c": 1e-400}], "source": "api"}',
    b'{"a": 1, "b": 2, "a": 3}',  # the last value, in the first key's place
    '["\u00e9\U0001f600"]'.encode(),
    b'["\\ud83d\\ude00", "\\u0000"]',
    b"[9223372036854775807, -9223372036854775808, 18446744073709551615]",  # 64 bits: orjson
    b"[9223372036854775808, -9223372036854775809, 18446744073709551616]",  # past: json, exact
    b'["1234567890123456789", 12345678901234567.5]',  # 19 digits in a string: json reads it
    b"[12345678901234567890123456789]",
    b"[NaN, Infinity, -Infinity, 1e400]",
    b"\xef\xbb\xbf[1]",  # a byte-order mark: json.loads skips it
    b'["\\ud800", "\\udc00"]',  # lone surrogates
    b"   [1]  \n",
]


@pytest.mark.parametrize("raw", BODIES)
def test_a_body_reads_as_json_loads_reads_it(raw: bytes) -> None:
    import json

    from app.request_body import _constant, parse_json

    assert repr(parse_json(raw, 32)) == repr(json.loads(raw, parse_constant=_constant))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"[1,]", "Expecting value: line 1 column 4 (char 3)"),
        (b"[01]", "Expecting ',' delimiter: line 1 column 3 (char 2)"),
        (b'{"a": 1} x', "Extra data: line 1 column 10 (char 9)"),
        (b'"\xff"', "'utf-8' codec can't decode byte 0xff in position 1: invalid start byte"),
        (b"[" * 40 + b"]" * 40, "nests arrays and objects deeper than 32 levels"),
    ],
)
def test_a_bad_body_is_refused_with_json_loads_message(raw: bytes, message: str) -> None:
    from app.request_body import parse_json
    from pipeline.errors import DataError

    with pytest.raises(DataError, match=re.escape(message)):
        parse_json(raw, 32)


def test_the_nesting_depth_is_counted_level_by_level() -> None:
    from app.request_body import _depth

    assert [_depth(d) for d in (1, "x", [], {}, [1], [[]], {"a": {}})] == [0, 0, 1, 1, 1, 2, 2]
    assert _depth([1, [2, [3, {"x": [4]}]], {}]) == 5
    assert _depth({"a": [1, {"b": []}], "c": [[[[]]]]}) == 5
