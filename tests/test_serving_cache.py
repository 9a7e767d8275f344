"""What a worker keeps between prediction requests (issue 12's serving goal) and what it still
asks the database: a token seen valid is not looked up again, but the committer's transaction
checks that it is not revoked; the production model is loaded once per version, and a
promotion or a rollback made by another process is served by the next request; a batch's
counters are one upsert per client and counter, exactly as one by one; a SQLite file's
committers take turns through a lock file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from app import limits
from app.commits import Committer, lock_path
from pipeline import predictions
from pipeline.errors import ModelIntegrityError
from pipeline.model import registry
from pipeline.settings import Settings
from pipeline.storage import api_tables, db, tables, tokens
from tests.e2e import cli
from tests.test_api import RECORD, assert_error, make_app, register_again
from tests.test_auth import bearer, new_token
from tests.test_auth_limits import _count


def _url(settings: Settings) -> str | None:
    return None if settings.database_url.startswith("sqlite") else settings.database_url


def test_a_cached_token_revoked_by_another_process_stores_nothing_on_any_worker(
    predicting: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = predicting.with_values(api__requests_per_minute=1000)
    secret = new_token(settings, "cached", "predict")
    looked_up: list[str] = []
    real_find = tokens.find
    monkeypatch.setattr(tokens, "find", lambda conn, s: looked_up.append(s) or real_find(conn, s))
    with make_app(settings) as first, make_app(settings) as second:
        clients = [first.test_client(), second.test_client()]
        for client in clients * 3:
            assert (
                client.post("/prediction", json=[RECORD], headers=bearer(secret)).status_code == 200
            )
        assert len(looked_up) == 2  # once per worker, then from its cache
        stored = _count(settings, tables.predictions)
        done = cli(settings.base_dir, "token", "revoke", "cached", database_url=_url(settings))
        assert done.returncode == 0, done.stderr
        for client in clients:
            refused = client.post("/prediction", json=[RECORD], headers=bearer(secret))
            body = assert_error(refused, 401)
            assert body["error"] == "token 'cached' was revoked"
            assert refused.headers["WWW-Authenticate"].endswith('error="invalid_token"')
        assert _count(settings, tables.predictions) == stored  # nothing of theirs stored
        for app in (first, second):
            assert app.extensions["riskwatch"].tokens_seen == {}  # forgotten
        # Looked up again, and refused before any work, as every revoked token is.
        again = clients[0].post("/prediction", json=[RECORD], headers=bearer(secret))
        assert assert_error(again, 401)["error"] == "token 'cached' was revoked"
        assert len(looked_up) == 3
    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            u = api_tables.api_usage
            used = dict(conn.execute(sa.select(u.c.kind, u.c.used)).all())
    finally:
        engine.dispose()
    assert used["requests"] == 6 and used["predictions"] == 6  # the refused ones: not counted


def test_a_revoked_cached_token_is_a_401_whatever_else_its_request_got_wrong(
    predicting: Settings,
) -> None:
    settings = predicting.with_values(api__requests_per_minute=1000, api__predictions_per_day=3)
    secret = new_token(settings, "bad-body", "predict")
    with make_app(settings) as app:
        client = app.test_client()
        assert client.post("/prediction", json=[RECORD], headers=bearer(secret)).status_code == 200
        # Still valid: its errors are its own, and it stays cached.
        assert_error(client.post("/prediction", json=[{"x": 1}], headers=bearer(secret)), 400)
        assert_error(client.post("/prediction", json=[RECORD] * 5, headers=bearer(secret)), 429)
        assert len(app.extensions["riskwatch"].tokens_seen) == 1
        done = cli(settings.base_dir, "token", "revoke", "bad-body", database_url=_url(settings))
        assert done.returncode == 0, done.stderr
        for body in ([{"x": 1}], [RECORD] * 5, "not json"):
            kwargs = (
                {"data": body, "content_type": "application/json"}
                if isinstance(body, str)
                else {"json": body}
            )
            refused = client.post("/prediction", headers=bearer(secret), **kwargs)
            assert assert_error(refused, 401)["error"] == "token 'bad-body' was revoked"
        assert app.extensions["riskwatch"].tokens_seen == {}


def test_a_token_revoked_after_its_request_was_let_in_is_refused_at_the_commit(
    predicting: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = predicting.with_values(api__requests_per_minute=0)
    secret = new_token(settings, "in-flight", "predict")
    with make_app(settings) as app:
        client = app.test_client()
        assert client.post("/prediction", json=[RECORD], headers=bearer(secret)).status_code == 200
        stored = _count(settings, tables.predictions)
        real_rows = predictions.request_rows

        def revoked_meanwhile(*args: object, **kwargs: object) -> object:
            # Signed in from the cache, predicted: the revocation commits before the rows do.
            tokens.revoke(app.extensions["riskwatch"].engine, "in-flight")
            return real_rows(*args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(predictions, "request_rows", revoked_meanwhile)
        refused = client.post("/prediction", json=[RECORD], headers=bearer(secret))
        assert assert_error(refused, 401)["error"] == "token 'in-flight' was revoked"
        assert _count(settings, tables.predictions) == stored


def test_a_promotion_and_a_rollback_by_another_process_are_served_at_the_next_request(
    predicting: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = predicting
    shas: list[int] = []
    from pipeline.storage import reads

    real_sha = reads.model_sha256
    monkeypatch.setattr(reads, "model_sha256", lambda c, v: shas.append(v) or real_sha(c, v))
    engine = db.make_engine(settings.database_url)
    try:
        with make_app(settings) as app:
            client = app.test_client()
            for _ in range(3):
                assert client.post("/prediction", json=[RECORD]).get_json()["model_version"] == 1
            assert shas == [1]  # the version's SHA-256: asked for when it is loaded, once
            v2 = register_again(engine, settings, registry.load(engine, settings, 1))
            registry.deploy(engine, settings, v2, kind="promote", reason="test", run_id=None)
            assert client.post("/prediction", json=[RECORD]).get_json()["model_version"] == v2
            done = cli(settings.base_dir, "rollback", "--to", "1", database_url=_url(settings))
            assert done.returncode == 0, done.stderr
            assert client.post("/prediction", json=[RECORD]).get_json()["model_version"] == 1
            assert shas == [1, v2, 1]
    finally:
        engine.dispose()


# --- a batch's counters -------------------------------------------------------------------

CLIENT = limits.Client(None, "predict")  # anonymous: the key "anonymous"


def _plans(sizes: list[int], per_minute: int, per_day: int) -> list[limits.Charges]:
    return [
        limits.Charges(CLIENT, (("requests", 7, 1, per_minute), ("predictions", 3, n, per_day)), 0)
        for n in sizes
    ]


@pytest.mark.parametrize(
    ("sizes", "per_minute", "per_day"),
    [
        ([1, 2, 3], 100, 100),  # all fit: one upsert per counter
        ([4, 4, 4, 4], 100, 10),  # the daily cap refuses the later ones; requests all count
        ([1, 1, 1, 1, 1], 3, 100),  # the minute's limit refuses the last two
        ([5, 1, 6, 2], 100, 9),  # a large one refused, smaller later ones fit
    ],
)
def test_a_batch_counts_exactly_as_its_requests_one_by_one(
    engine: sa.Engine, sizes: list[int], per_minute: int, per_day: int
) -> None:
    plans = _plans(sizes, per_minute, per_day)
    u = api_tables.api_usage

    def state(conn: sa.Connection) -> dict[str, int]:
        return dict(conn.execute(sa.select(u.c.kind, u.c.used)).all())

    with engine.begin() as conn:
        together = limits.apply_all(conn, plans)
        after_together = state(conn)
        conn.execute(u.delete())
        alone = [limits.apply_charges(conn, plan) for plan in plans]
        after_alone = state(conn)
    assert together == alone
    assert after_together == after_alone


def test_a_batch_spanning_two_windows_counts_one_by_one(engine: sa.Engine) -> None:
    plans = [limits.Charges(CLIENT, (("requests", minute, 1, 10),), 0) for minute in (7, 7, 8, 8)]
    with engine.begin() as conn:
        used = limits.apply_all(conn, plans)
    assert used == [{"requests": 1}, {"requests": 2}, {"requests": 1}, {"requests": 2}]


# --- the SQLite file's commit lock ----------------------------------------------------------


def test_only_a_sqlite_file_has_a_commit_lock(tmp_path: Path) -> None:
    path = tmp_path / "riskwatch.db"
    assert lock_path(db.make_engine(f"sqlite:///{path}")) == Path(f"{path}-commit-lock")
    assert lock_path(sa.create_engine("sqlite://")) is None
    assert lock_path(sa.create_engine("postgresql+psycopg://127.0.0.1/x")) is None


@contextlib.contextmanager
def _held_by_another_worker(tmp_path: Path) -> Iterator[tuple[Committer, int]]:
    """A committer on a SQLite file whose commit lock another worker holds: (it, the lock's
    descriptor, to release with flock)."""
    path = tmp_path / "riskwatch.db"
    engine = db.make_engine(f"sqlite:///{path}")
    fd = os.open(f"{path}-commit-lock", os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another worker's transaction
    try:
        yield Committer(engine), fd
    finally:
        os.close(fd)
        engine.dispose()


def _submit(committer: Committer, value: int, results: list[int]) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: results.append(committer.run(lambda conn: value)), daemon=True
    )
    thread.start()
    return thread


def test_a_committer_waits_for_the_sqlite_files_lock(tmp_path: Path) -> None:
    with _held_by_another_worker(tmp_path) as (committer, fd):
        results: list[int] = []
        waiting = _submit(committer, 7, results)
        waiting.join(0.5)
        assert waiting.is_alive() and results == []  # it waits for its turn
        fcntl.flock(fd, fcntl.LOCK_UN)
        waiting.join(30)
        assert results == [7]


def test_what_arrives_while_a_committer_waits_for_its_turn_joins_its_batch(
    tmp_path: Path,
) -> None:
    """One transaction for every piece that queued while another worker held the file: the
    committer takes its turn first and its batch then, not the other way round."""
    with _held_by_another_worker(tmp_path) as (committer, fd):
        results: list[int] = []
        threads = [_submit(committer, 0, results)]
        threads[0].join(0.3)  # the committer holds piece 0 and waits for the lock
        threads += [_submit(committer, i, results) for i in range(1, 6)]
        time.sleep(0.3)  # the five queue behind it
        fcntl.flock(fd, fcntl.LOCK_UN)
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [0, 1, 2, 3, 4, 5]
        assert committer.transactions == 1


def test_a_turn_that_cannot_be_taken_fails_its_batch_and_the_next_one_runs(
    tmp_path: Path,
) -> None:
    path = tmp_path / "riskwatch.db"
    engine = db.make_engine(f"sqlite:///{path}")
    try:
        committer = Committer(engine)
        committer._lock_path = tmp_path / "gone" / "commit-lock"  # its folder does not exist
        with pytest.raises(FileNotFoundError):
            committer.run(lambda conn: 1)
        committer._lock_path = tmp_path / "commit-lock"
        assert committer.run(lambda conn: 2) == 2  # the thread lives on
    finally:
        engine.dispose()


def test_the_committer_keeps_its_connection_while_work_comes(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One checkout (one ping of the pool) for a run of batches, not one per batch; closed
    after IDLE_SECONDS without work, and after an error, when the next batch takes a new one."""
    from app import commits

    monkeypatch.setattr(commits, "IDLE_SECONDS", 0.3)
    taken: list[int] = []

    def checkout(*args: object) -> None:  # the committer's (a SQLite file's checkpoints too)
        if threading.current_thread().name == "riskwatch-committer":
            taken.append(1)

    sa.event.listen(engine, "checkout", checkout)
    committer = Committer(engine)
    pid = "SELECT pg_backend_pid()" if engine.dialect.name == "postgresql" else "SELECT 1"
    backends = {committer.run(lambda conn: conn.exec_driver_sql(pid).scalar()) for _ in range(5)}
    assert len(taken) == 1 and len(backends) == 1 and committer.transactions == 5
    deadline = time.monotonic() + 10
    while committer._conn is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert committer._conn is None  # idle: closed, the next one from the pool
    assert committer.run(lambda conn: 1) == 1 and len(taken) == 2

    def fails(conn: sa.Connection) -> int:
        raise ValueError("a piece's own error")

    with pytest.raises(ValueError, match="own error"):
        committer.run(fails)
    assert committer.run(lambda conn: 2) == 2 and len(taken) == 3  # a fresh one after it
    if engine.dialect.name != "postgresql":
        return
    # The server ends the kept connection (a restart): that batch gets the error, nothing is
    # stored, and the next is served on a new connection.
    backend = committer.run(lambda conn: conn.exec_driver_sql(pid).scalar())
    with engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(backend)})")
    with pytest.raises(sa.exc.OperationalError):
        committer.run(lambda conn: conn.exec_driver_sql("SELECT 1").scalar())
    assert committer.run(lambda conn: conn.exec_driver_sql(pid).scalar()) != backend


# --- the rows, as the driver gets them ------------------------------------------------------


def test_recorded_rows_read_back_as_given_with_text_made_storable(engine: sa.Engine) -> None:
    from datetime import UTC, datetime

    when = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    row = {
        "source": "api",
        "model_version": 1,
        "features": {"a\x00b": 1.5, "industry": "caf\u00e9", "n": None},
        "row_key": '["x\udcff"]',
        "event_time": when,
        "prediction": 1.0,
        "label": "1",
        "probability": 0.25,
        "probabilities": {"0": 0.75, "1": 0.25},
    }
    predictions.record(engine, [row, {**row, "features": {"k": 2}, "event_time": None}])
    p = tables.predictions
    with engine.connect() as conn:
        got = conn.execute(sa.select(p).order_by(p.c.id)).all()
    first, second = (r._mapping for r in got[-2:])
    assert first["features"] == {"a\\x00b": 1.5, "industry": "caf\u00e9", "n": None}
    assert first["row_key"] == '["x\\udcff"]'
    assert first["event_time"] == when and first["created_at"].tzinfo is not None
    assert first["probabilities"] == {"0": 0.75, "1": 0.25}
    assert (first["prediction"], first["label"], first["probability"]) == (1.0, "1", 0.25)
    assert second["features"] == {"k": 2} and second["event_time"] is None
    assert second["created_at"] == first["created_at"]  # one time for the whole call
    with pytest.raises(predictions.PredictionsError, match=r"unknown prediction columns \['x'\]"):
        predictions.record(engine, [{**row, "x": 1}])


def test_one_row_and_many_are_stored_alike_whatever_their_text(engine: sa.Engine) -> None:
    """One row is an INSERT; more are an executemany (SQLite) or a COPY (PostgreSQL), whose
    text format has its own escapes: a tab, a newline, a backslash, its NULL marker \\N."""
    from datetime import UTC, datetime

    awkward = "a\tb\nc\\d \\N \r"
    row = {
        "source": "webapp",
        "model_version": 2,
        "run_id": None,
        "features": {"t": awkward, "n": 1.25, "k": "\\N"},
        "row_key": f'["{awkward}"]',
        "event_time": datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC),
        "prediction": None,
        "label": awkward,
        "probability": 0.125,
        "probabilities": {"no": 0.875, "yes": 0.125},
        "actual": 1.0,
    }
    predictions.record(engine, [row])
    predictions.record(engine, [row, row, row])
    p = tables.predictions
    shown = [c for c in p.c if c.name not in ("id", "created_at")]
    with engine.connect() as conn:
        got = [dict(r._mapping) for r in conn.execute(sa.select(*shown).order_by(p.c.id))]
    assert len(got) >= 4
    expected = {
        **{k: row[k] for k in row},
        "segment_id": None,
        "file_id": None,
        "row_number": None,
        "labelled": None,  # only a scheduled row its own file labelled is marked
    }
    assert got[-4:] == [expected] * 4


def test_many_rows_in_one_call(engine: sa.Engine) -> None:
    rows = [
        {"source": "api", "model_version": 1, "features": {"i": i}, "prediction": float(i % 2)}
        for i in range(250)
    ]
    with engine.begin() as conn:
        predictions.record(conn, rows)
    p = tables.predictions
    with engine.connect() as conn:
        got = conn.execute(sa.select(p.c.features).order_by(p.c.id)).scalars().all()
    assert [f["i"] for f in got[-250:]] == list(range(250))


# --- the worker's socket: what is ready is taken without waiting ----------------------------


def test_a_read_takes_what_has_arrived_but_never_past_its_deadline() -> None:
    import socket
    import time

    from app.gunicorn_worker import DeadlineSocket
    from app.request_body import BodyDeadline

    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        sock = DeadlineSocket(server_end)
        sock.start("body", 5.0, "api.body_timeout_seconds")
        client_end.sendall(b"abc")
        assert sock.recv(10) == b"abc"
        buffer = bytearray(4)
        client_end.sendall(b"defg")
        assert sock.recv_into(buffer, 4) == 4 and bytes(buffer) == b"defg"
        sock.deadline = time.monotonic() - 1  # spent, with bytes waiting: still a 408
        client_end.sendall(b"late")
        with pytest.raises(BodyDeadline, match="did not arrive within 5 s"):
            sock.recv(10)
        assert server_end.gettimeout() is None  # left blocking, as gunicorn had it


def test_an_answer_is_sent_whole_whether_or_not_it_fits_the_socket_at_once() -> None:
    import socket

    from app.gunicorn_worker import DeadlineSocket

    server_end, client_end = socket.socketpair()
    with server_end, client_end:
        sock = DeadlineSocket(server_end)
        sock.arm_writes(30.0)
        sock.sendall(b"small")
        assert sock.write_deadline is not None  # its first byte started the answer's clock
        assert client_end.recv(10) == b"small"
        big = bytes(range(256)) * 40_000  # 10 MB: more than the socket's buffer
        got = bytearray()

        def read() -> None:
            while len(got) < len(big):
                got.extend(client_end.recv(1 << 16))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        sock.sendall(big)
        reader.join(30)
        assert bytes(got) == big
        assert server_end.gettimeout() is None


def test_the_production_pointer_is_read_again_once_replaced(
    predicting: Settings, tmp_path: Path
) -> None:
    settings = predicting
    pointer = settings.path("paths.models") / registry.POINTER
    assert registry.production_version(settings) == 1
    text = pointer.read_text()
    replaced = tmp_path / "production.json"
    replaced.write_text(text.replace('"version": 1', '"version": 7'))
    os.replace(replaced, pointer)  # as atomic_write_bytes replaces it: a new file
    try:
        assert registry.production_version(settings) == 7
        pointer.write_text("{not json")
        with pytest.raises(ModelIntegrityError, match="is not a valid production pointer"):
            registry.production_version(settings)
    finally:
        pointer.write_text(text)
    assert registry.production_version(settings) == 1


# Values orjson writes (its text has no spaces); and what it would write otherwise, left to
# json.dumps: NaN and infinities (orjson: null), a None (a null), text that is not ASCII, an
# integer past 64 bits, a key that is not text, a numpy number; a NUL or a lone surrogate as
# text.storable escapes it.
FAST = [
    {"a": 1.5, "d": True, "e": 10**18, "f": -0.0, "g": 1e16, "h": 5e-324, "s": 'x\n"\\/\x1f'},
    {"nested": [1, {"x": [2.5, "y"]}], "t": (1, 2)},
    {},
]
LEFT_TO_JSON = [
    {"a": 1.5, "b": None},
    {"nested": [1, {"x": float("nan")}], "inf": float("inf")},
    {"c": "caf\u00e9 \U0001f600"},
    {"e": 10**20},
    {1: "one", 2.5: 2},
    {"n": np.float64(0.1)},
]


@pytest.mark.parametrize("value", FAST + LEFT_TO_JSON)
def test_the_rows_json_reads_back_as_what_json_dumps_writes(value: object) -> None:
    from pipeline.predictions import write

    dumped = write._json(value)
    assert dumped is not None
    assert repr(json.loads(dumped)) == repr(json.loads(json.dumps(value)))
    if value in FAST:
        assert ": " not in dumped or not value  # orjson's text
    else:
        assert dumped == json.dumps(value)  # json.dumps' own text


def test_the_rows_json_escapes_a_nul_and_a_surrogate_and_refuses_an_object() -> None:
    from pipeline.predictions import write

    assert write._json({"a\x00": "b\udcff"}) == json.dumps({"a\\x00": "b\\udcff"})
    assert write._json(None) is None
    with pytest.raises(TypeError, match="not JSON serializable"):
        write._json({"x": object()})
