"""The timed part of bench_paging.py, in its own process: pages of past predictions by keyset,
first pages and pages after random cursors, with each filter; p50 and p99 per case.

    python bench/paging_probe.py URL INGESTED_DIR --samples N
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def cases(hours: int) -> dict[str, dict[str, str]]:
    """The filters measured; the window is 6 hours in the middle of the `hours` loaded."""
    start = T0 + timedelta(hours=hours // 2)
    window = {"start": start.isoformat(), "end": (start + timedelta(hours=6)).isoformat()}
    return {
        "all": {},
        "source=scheduled": {"source": "scheduled"},
        "source=api": {"source": "api"},
        "source=webapp": {"source": "webapp"},
        "model_version=3": {"model_version": "3"},
        "model_version=3, source=api": {"model_version": "3", "source": "api"},
        "6-hour window": window,
        "6-hour window, source=webapp": {"source": "webapp", **window},
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


def _cursors(conn, params: dict[str, str], n: int, rng: random.Random) -> list[str]:
    """Cursors at random rows the filter matches (random ids, kept when they match)."""
    import sqlalchemy as sa

    from pipeline.predictions import encode_cursor
    from pipeline.predictions.params import Position

    top = conn.execute(sa.text("SELECT max(id) FROM predictions")).scalar_one()
    # A scheduled row's time is its segment's.
    at_of = "coalesce(s.created_at, p.created_at)"
    where, bind = ["p.id = ANY(:ids)"], {}
    if params.get("source"):
        where.append("p.source = :source")
        bind["source"] = params["source"]
    if params.get("model_version"):
        where.append("p.model_version = :v")
        bind["v"] = int(params["model_version"])
    if params.get("start"):
        where.append(f"{at_of} >= :start AND {at_of} < :end")
        bind["start"], bind["end"] = params["start"], params["end"]
    found: list[str] = []
    for _ in range(50):  # random ids until n match (a filter that matches nothing: none)
        if len(found) >= n:
            break
        ids = [rng.randint(1, top) for _ in range(20_000)]
        sql = (
            f"SELECT {at_of}, p.id FROM predictions p LEFT JOIN prediction_segments s "
            f"ON s.id = p.segment_id WHERE {' AND '.join(where)} LIMIT {n}"
        )
        for at, i in conn.execute(sa.text(sql), {"ids": ids, **bind}):
            found.append(encode_cursor(Position(at, int(i))))
    return found[:n]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("ingested", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--hours", type=int, required=True)
    args = parser.parse_args()

    import sqlalchemy as sa

    from pipeline import predictions
    from pipeline.predictions.pages import rows as page_rows

    engine = sa.create_engine(args.url)
    rng = random.Random(12)
    out = {}
    with engine.connect() as conn:
        # Untimed: the first page pays for importing pyarrow's Parquet reader.
        predictions.page(conn, args.ingested, predictions.page_query(max_limit=1000))
        for name, params in cases(args.hours).items():
            cursors = _cursors(conn, params, 50, rng)
            result = {}
            depths = (("first page", False), ("after a random cursor", True))
            for depth, deep in depths if cursors else depths[:1]:
                rows_t, page_t, sizes = [], [], []
                for _ in range(args.samples):
                    query = predictions.page_query(
                        **params, cursor=rng.choice(cursors) if deep else None, max_limit=1000
                    )
                    t0 = time.perf_counter()
                    page_rows(conn, query)
                    rows_t.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    page = predictions.page(conn, args.ingested, query)
                    page_t.append(time.perf_counter() - t0)
                    sizes.append(len(page.predictions))
                    assert all(p["features"] for p in page.predictions), "features read back"
                result[depth] = {
                    "query": _percentiles(rows_t),
                    "with features": _percentiles(page_t),
                    "rows": statistics.median(sizes),
                }
            out[name] = result
    print(json.dumps(out))


if __name__ == "__main__":
    main()
