"""Paging past predictions: 10,000,000 stored predictions on PostgreSQL (issue 12), a page of 100
newest first by keyset, p50 and p99 for first pages and for pages after random cursors (deep in
the history), with each filter: none, by source, by model version, by both, a time window.
Goal: p99 under 50 ms.

The database is made by riskwatch's own migrations, then bulk-loaded with INSERT ... SELECT over
generate_series (its secondary indexes dropped for the load and made again after, as the
migration defines them; then VACUUM ANALYZE): 9,000,000 scheduled predictions in 90 files of
100,000 rows, one file an hour, model versions 1 to 5 (18 files each), and 1,000,000 others
spread over the same 90 hours (api 60%, webapp 30%, diagnostics 10%) with their features as
JSON. Every scheduled file points at one real 100,000-row Parquet file, so pages are timed
twice: the query alone (what the indexes decide) and the whole page with every prediction's
features (the Parquet rows read back).

    .venv/bin/python bench/bench_paging.py [--quick] [--rows N] [--samples N] [--pg-url URL]
        [--workdir DIR] [--results FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
import uuid
from pathlib import Path

from _common import PYTHON, machine, riskwatch_command, run_child, scratch_dir, write_results, yes

HERE = Path(__file__).resolve().parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
FILE_ROWS = 100_000
GOAL_MS = 50.0

SQL = """
import sqlalchemy as sa, sys
e = sa.create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with e.connect() as c:
    for statement in sys.argv[2:]:
        r = c.execute(sa.text(statement))
        if r.returns_rows:
            for row in r:
                print("\\t".join(str(v) for v in row))
"""

# Written by the ingest's own writer, so its row groups are what an ingested file has.
PARQUET = """
import sys, numpy as np, pyarrow as pa
from pathlib import Path
from pipeline.ingest.ingestion import write_parquet
n = int(sys.argv[2]); rng = np.random.default_rng(7)
write_parquet(pa.table({
    "corporation": [f"C{i:08d}" for i in range(n)],
    "num_01": rng.normal(0, 1, n), "num_02": rng.exponential(3, n),
    "industry": rng.choice(["retail", "finance", "energy"], n),
}), Path(sys.argv[1]))
"""


def _sql(url: str, *statements: str) -> str:
    return run_child([PYTHON, "-c", SQL, url, *statements]).check(statements[0][:60]).stdout


def load(url: str, data_dir: Path, rows: int) -> dict:
    """Migrate, bulk-load `rows` predictions; return how long each part took."""
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(HERE.parent)}
    run_child([*riskwatch_command(), "db", "upgrade"], env=env).check("riskwatch db upgrade")
    (data_dir / "data").mkdir(parents=True, exist_ok=True)
    run_child(
        [PYTHON, "-c", PARQUET, str(data_dir / "data" / "bench.parquet"), str(FILE_ROWS)],
        env=env,
    ).check("parquet")
    files = rows * 9 // 10 // FILE_ROWS
    others = rows - files * FILE_ROWS
    indexes = [
        line
        for line in _sql(
            url,
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'predictions' AND "
            "indexname LIKE 'ix_%'",
        ).splitlines()
        if line
    ]
    t0 = time.perf_counter()
    features = '{"numeric": ["num_01", "num_02"], "categorical": ["industry"]}'
    _sql(
        url,
        "INSERT INTO runs (id, kind, started_at, status) VALUES (repeat('a', 32), "
        "'predict', now(), 'succeeded')",
        "INSERT INTO model_versions (version, created_at, artifact, sha256, "
        "estimator, params, features, metric, "
        "train_rows, holdout_rows, training_files) SELECT v, now(), 'x', repeat('0', "
        "64), 'x', '{}', "
        f"'{features}', 'f1', 1, 1, '[]' FROM generate_series(1, 5) v",
        "INSERT INTO ingested_files (run_id, sha256, name, size_bytes, status, rows, "
        "data_path, ingested_at) "
        "SELECT repeat('a', 32), lpad(f::text, 64, '0'), 'file-' || f || '.csv', 1, "
        f"'ingested', {FILE_ROWS}, "
        f"'data/bench.parquet', now() FROM generate_series(1, {files}) f",
        *[f"DROP INDEX {line.split()[2]}" for line in indexes],
    )
    hours = max(files, 1)
    per_version = max(files // 5, 1)
    _sql(
        url,
        # Scheduled: file f (1-based) predicted at hour f, by version 1 + (f - 1) / per_version,
        # as `riskwatch predict` writes it: one segment per file, narrow rows in its id range.
        "INSERT INTO prediction_segments (id, file_id, model_version, run_id, created_at, "
        "first_id, last_id, first_row, rows, classes) "
        f"SELECT f, f, least(5, 1 + (f - 1) / {per_version}), repeat('a', 32), "
        "timestamptz '2026-01-01 00:00+00' + make_interval(hours => f), "
        f"(f - 1)::bigint * {FILE_ROWS} + 1, f::bigint * {FILE_ROWS}, 0, {FILE_ROWS}, "
        '\'["0", "1"]\' FROM generate_series(1, ' + f"{files}) f",
        "INSERT INTO predictions (id, segment_id, source, model_version, "
        "row_number, row_key, "
        "prediction, label, probability) "
        f"SELECT (f - 1)::bigint * {FILE_ROWS} + r + 1, f, 'scheduled', "
        f"least(5, 1 + (f - 1) / {per_version}), r, '[\"C' || lpad(r::text, 8, '0') || '\"]', "
        "(r % 2)::float8, (r % 2)::text, random() "
        f"FROM generate_series(1, {files}) f, generate_series(0, {FILE_ROWS - 1}) r",
        f"SELECT setval(pg_get_serial_sequence('predictions', 'id'), {max(files * FILE_ROWS, 1)})",
        "SELECT setval(pg_get_serial_sequence('prediction_segments', 'id'), " + f"{max(files, 1)})",
        # The others, spread over the same hours, with their features as JSON.
        "INSERT INTO predictions (created_at, source, model_version, features, "
        "row_key, prediction, label, "
        "probability) SELECT t, CASE WHEN g % 10 < 6 THEN 'api' WHEN g % 10 < 9 THEN 'webapp' "
        "ELSE 'diagnostics' END, "
        "least(5, 1 + (extract(epoch FROM t - timestamptz '2026-01-01 00:00+00') / "
        f"3600)::int / {per_version}), "
        "json_build_object('num_01', random(), 'num_02', random(), 'industry', 'retail'), "
        "'[\"A' || g || '\"]', (g % 2)::float8, (g % 2)::text, random() "
        "FROM (SELECT g, timestamptz '2026-01-01 00:00+00' + make_interval(secs => g "
        f"* {hours * 3600.0 / max(others, 1)}) t "
        f"FROM generate_series(1, {others}) g) s",
    )
    t1 = time.perf_counter()
    _sql(url, *indexes)
    t2 = time.perf_counter()
    _sql(url, "VACUUM ANALYZE predictions", "VACUUM ANALYZE prediction_segments")
    count = int(_sql(url, "SELECT count(*) FROM predictions").strip())
    return {
        "hours": hours,
        "rows": count,
        "load_seconds": round(t1 - t0, 1),
        "index_seconds": round(t2 - t1, 1),
        "indexes": indexes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000,000 predictions, 50 samples")
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--pg-url", default=os.environ.get("RISKWATCH_TEST_PG_URL", PG_ADMIN))
    parser.add_argument("--workdir")
    parser.add_argument("--results")
    args = parser.parse_args()
    rows, samples = (1_000_000, 50) if args.quick else (args.rows, args.samples)
    work, made = scratch_dir(args.workdir, "bench-paging")
    name = f"rw_bench_page_{uuid.uuid4().hex[:8]}"
    _sql(args.pg_url, f'CREATE DATABASE "{name}"')
    url = args.pg_url.rsplit("/", 1)[0] + "/" + name
    try:
        loaded = load(url, work / "ingesteddata", rows)
        print(
            f"{loaded['rows']:,} predictions loaded in {loaded['load_seconds']} s, indexed in "
            f"{loaded['index_seconds']} s",
            flush=True,
        )
        probe = [
            PYTHON,
            str(HERE / "paging_probe.py"),
            url,
            str(work / "ingesteddata"),
            "--samples",
            str(samples),
            "--hours",
            str(loaded["hours"]),
        ]
        child = run_child(probe, env={**os.environ, "PYTHONPATH": str(HERE.parent)}).check(
            "paging_probe.py"
        )
        cases = child.json()
        worst = 0.0
        print(
            f"{'filter':<30} {'page':<22} {'query p50 / p99':>18} {'with features p50 / p99':>26}"
        )
        for case, depths in cases.items():
            for depth, m in depths.items():
                q, f = m["query"], m["with features"]
                worst = max(worst, f["p99_ms"])
                print(
                    f"{case:<30} {depth:<22} {q['p50_ms']:>8.1f} / {q['p99_ms']:>6.1f} ms "
                    f"{f['p50_ms']:>12.1f} / {f['p99_ms']:>6.1f} ms  ({m['rows']:.0f} rows)"
                )
        print(
            f"worst p99 of a whole page: {worst:.1f} ms; goal < {GOAL_MS:.0f} ms: "
            f"{yes(worst < GOAL_MS)}"
        )
        write_results(args.results, {"machine": machine(), "loaded": loaded, "cases": cases})
    finally:
        _sql(args.pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if made:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
