"""The cost of one durable commit alone, for bench_serving.py: the floor under what a server
that commits each request before it answers can do for one client at a time."""

from __future__ import annotations

import time


def commit_floor(database_url: str, seconds: float = 3.0) -> dict:
    """What a durable commit costs alone, on the database a server stores into (riskwatch's
    engine settings: SQLite in WAL with its default synchronous = FULL; PostgreSQL as
    configured): a one-row INSERT and its COMMIT, one after the other, for `seconds`. No server
    that commits each request before answering can answer one client faster than this."""
    from pipeline.storage import db

    engine = db.make_engine(database_url)
    took: list[float] = []
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CREATE TABLE bench_commit_floor (x INTEGER)")
            conn.commit()
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                conn.exec_driver_sql("INSERT INTO bench_commit_floor VALUES (1)")
                conn.commit()
                took.append(time.perf_counter() - t0)
            conn.exec_driver_sql("DROP TABLE bench_commit_floor")
            conn.commit()
    finally:
        engine.dispose()
    took.sort()
    return {
        "commits_per_second": len(took) / sum(took),
        "p50_ms": 1000 * took[len(took) // 2],
        "p99_ms": 1000 * took[min(len(took) - 1, round(0.99 * (len(took) - 1)))],
    }
