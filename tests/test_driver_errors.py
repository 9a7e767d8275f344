"""The API's hot statements, sent on the driver's own cursor (`db.driver_cursor`), fail as the
rest of riskwatch's SQL does, and a revocation committed while a batch of requests is being
stored waits for it (PostgreSQL; SQLite serialises them by BEGIN IMMEDIATE)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from pipeline import predictions
from pipeline.storage import db, tokens
from tests.conftest import reset_pg


def test_a_driver_error_is_sqlalchemys_error(engine: sa.Engine) -> None:
    """A row the database refuses (no model version) raises SQLAlchemy's IntegrityError, as
    the committer's error handling and the API's 503 for a database error expect."""
    row = {"source": "api", "model_version": None, "features": {"x": 1}}
    with pytest.raises(sa.exc.IntegrityError) as caught:
        predictions.record(engine, [row])
    assert isinstance(caught.value, sa.exc.DBAPIError)


@pytest.mark.postgres
def test_a_revocation_waits_for_the_batch_that_checked_its_token(pg_database: str) -> None:
    reset_pg(pg_database)
    engine = db.make_engine(pg_database)
    db.upgrade(engine)
    try:
        _, secret = tokens.create(engine, "racing", "predict")
        with engine.connect() as conn:
            found = tokens.find(conn, secret)
        assert found is not None
        token_id = found.id
        done = threading.Event()

        def revoke() -> None:
            tokens.revoke(engine, "racing")
            done.set()

        with engine.begin() as conn:
            assert tokens.revoked_among(conn, {token_id}) == set()
            thread = threading.Thread(target=revoke)
            thread.start()
            _wait_for_a_lock_wait(engine)  # the revocation is blocked on this batch's check
            assert not done.is_set()
            row = {"source": "api", "model_version": 1, "features": {"x": 1}}
            predictions.record(conn, [{**row, "event_time": datetime.now(UTC)}])
        thread.join(timeout=60)
        assert done.is_set()
        with engine.begin() as conn:  # a batch that checks after the revocation sees it
            assert tokens.revoked_among(conn, {token_id}) == {token_id}
    finally:
        engine.dispose()


def _wait_for_a_lock_wait(engine: sa.Engine) -> None:
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND datname = current_database()"
    )
    for _ in range(600):
        with engine.connect() as conn:
            if conn.execute(query).scalar():
                return
        time.sleep(0.05)
    raise AssertionError("the revocation never waited for the batch")
