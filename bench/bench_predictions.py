"""Recording the predictions of a 1,000,000-row ingested file on PostgreSQL (issue 12), side by
side with the floor, as whole processes, interleaved:

- `riskwatch predict --json`: the production model on the file, read from its Parquet a batch of
  `predict.batch_rows` at a time, each batch COPYed into `predictions` (segment, source,
  version, row number, row key, event time, prediction, class, P(positive); its key and the
  row-key index kept), its segment (run, file, time, classes, ids) with the health counted as
  it was written, and the file's mark, in one transaction; then the health step from those
  counts; the run recorded, the lock taken, the model verified;
- the floor (`predict_floor.py`): read the same Parquet file, predict() with the same model,
  COPY (id, prediction, probability, version) into a bare table with psycopg's `write_row`.

The project (its own PostgreSQL database) is built once, untimed: v1 trained on a 20,000-row
file (bench/wide_data.py's 20 columns), then the big file and a file a tenth its size ingested
(`riskwatch ingest`). Before each round the predictions are emptied and every other file marked
done, so each `predict` predicts that file alone. Peak memory is each process's own
`ru_maxrss`; `predict` is also run once on the tenth-size file: memory bounded by a batch, not
by the file, means both peaks are alike. Goal: riskwatch's time at most 1.5x the floor's.

    .venv/bin/python bench/bench_predictions.py [--quick] [--rows N] [--repeat N]
        [--pg-url URL] [--workdir DIR] [--results FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import (
    PYTHON,
    SETTINGS_TOML,
    machine,
    median,
    mib,
    riskwatch_command,
    run_child,
    scratch_dir,
    write_results,
    yes,
)

HERE = Path(__file__).resolve().parent
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
TRAIN_ROWS = 20_000
GOAL = 1.5

SQL = """
import sqlalchemy as sa, sys
e = sa.create_engine(sys.argv[1], isolation_level="AUTOCOMMIT")
with e.connect() as c:
    for statement in sys.argv[2:]:
        r = c.execute(sa.text(statement))
        if r.returns_rows:
            print("\\t".join(str(v) for v in r.one()))
"""


def _sql(url: str, *statements: str) -> str:
    """Run statements in a child (this process never imports a driver); the last one's row."""
    return run_child([PYTHON, "-c", SQL, url, *statements]).check(statements[0][:40]).stdout.strip()


def _csv(path: Path, rows: int, seed: int, first_id: int) -> None:
    argv = [PYTHON, str(HERE / "wide_data.py"), str(path), "--rows", str(rows), "--seed", str(seed)]
    run_child([*argv, "--first-id", str(first_id)]).check("wide_data.py")


def _riskwatch(project: Path, url: str, *args: str):
    env = {**os.environ, "DATABASE_URL": url, "RISKWATCH_CONFIG": str(project / "riskwatch.toml")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (os.environ.get("PYTHONPATH"), str(HERE.parent)) if p
    )
    return run_child([*riskwatch_command(), *args], cwd=project, env=env).check(" ".join(args))


def _only(url: str, file_id: int) -> None:
    """Empty the predictions; mark every file but `file_id` done (v1), so predict takes it."""
    run = _sql(url, "SELECT id FROM runs ORDER BY started_at LIMIT 1")
    _sql(
        url,
        "TRUNCATE predictions, prediction_marks, prediction_segments, prediction_cells",
        "INSERT INTO prediction_marks (file_id, model_version, run_id, rows, predicted_at) "
        f"SELECT id, 1, '{run}', 0, now() FROM ingested_files WHERE id <> {file_id}",
        "DROP TABLE IF EXISTS floor_predictions",
        "CHECKPOINT",
    )


def build(project: Path, url: str, rows: int) -> dict:
    """The project: v1 trained, the big file and a tenth-size one ingested; their ids."""
    if project.exists():
        shutil.rmtree(project)
    (project / "sourcedata").mkdir(parents=True)
    (project / "riskwatch.toml").write_text(SETTINGS_TOML)
    _riskwatch(project, url, "db", "upgrade")
    _csv(project / "sourcedata" / "train.csv", TRAIN_ROWS, 1, 0)
    summary = _riskwatch(project, url, "run", "--json").json()
    assert summary["production_version"] == 1, summary
    _csv(project / "sourcedata" / "big.csv", rows, 2, 10**7)
    _csv(project / "sourcedata" / "tenth.csv", rows // 10, 3, 3 * 10**7)
    _riskwatch(project, url, "ingest", "--json")
    found = {}
    for name in ("big.csv", "tenth.csv"):
        line = _sql(url, f"SELECT id, data_path, rows FROM ingested_files WHERE name = '{name}'")
        file_id, data_path, n = line.split("\t")
        found[name] = {
            "id": int(file_id),
            "parquet": project / "ingesteddata" / data_path,
            "rows": int(n),
        }
    return found


def ours(project: Path, url: str, file_id: int, rows: int) -> dict:
    _only(url, file_id)
    child = _riskwatch(project, url, "predict", "--json")
    summary = child.json()
    assert summary["rows"] == rows and summary["status"] == "succeeded", summary
    return {
        "seconds": child.seconds,
        "max_rss_bytes": child.max_rss_bytes,
        "cpu_seconds": child.cpu_seconds,
        "step_seconds": summary["timings"]["predict"],
    }


def floor(project: Path, url: str, big: dict) -> dict:
    _only(url, big["id"])
    psycopg_url = url.replace("postgresql+psycopg://", "postgresql://")
    argv = [
        PYTHON,
        str(HERE / "predict_floor.py"),
        str(big["parquet"]),
        str(project / "models" / "1"),
        psycopg_url,
        "--version",
        "1",
        "--id-column",
        "corporation",
    ]
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    child = run_child(argv, env=env).check("predict_floor.py")
    parts = child.json()
    assert parts["rows"] == big["rows"], parts
    return {
        "seconds": child.seconds,
        "max_rss_bytes": child.max_rss_bytes,
        "cpu_seconds": child.cpu_seconds,
        **parts,
    }


def arguments(doc: str) -> argparse.Namespace:
    """The options of a PostgreSQL benchmark of N rows in interleaved rounds."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, one round")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg-url", default=os.environ.get("RISKWATCH_TEST_PG_URL", PG_ADMIN))
    parser.add_argument("--workdir")
    parser.add_argument("--results")
    args = parser.parse_args()
    args.rows, args.repeat = (100_000, 1) if args.quick else (args.rows, args.repeat)
    return args


@contextmanager
def scratch_database(pg_url: str, prefix: str) -> Iterator[str]:
    """A PostgreSQL database of the benchmark's own, dropped afterwards; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _sql(pg_url, f'CREATE DATABASE "{name}"')
    try:
        yield pg_url.rsplit("/", 1)[0] + "/" + name
    finally:
        _sql(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def interleaved(repeat: int, ours: Callable[[], dict], floor: Callable[[], dict]) -> list[dict]:
    """`repeat` rounds of both, in turn first; each round's ratio printed as it ends."""
    rounds = []
    for i in range(repeat):
        pair = {}
        for who in ("ours", "floor") if i % 2 == 0 else ("floor", "ours"):
            pair[who] = ours() if who == "ours" else floor()
        rounds.append(pair)
        a, b = pair["ours"]["seconds"], pair["floor"]["seconds"]
        print(f"round {i + 1}: riskwatch {a:.2f} s, floor {b:.2f} s = {a / b:.2f}x", flush=True)
    return rounds


def main() -> None:
    args = arguments(__doc__)
    work, made = scratch_dir(args.workdir, "bench-predictions")
    try:
        with scratch_database(args.pg_url, "rw_bench_pred") as url:
            files = build(work / "project", url, args.rows)
            big, tenth = files["big.csv"], files["tenth.csv"]
            rounds = interleaved(
                args.repeat,
                lambda: ours(work / "project", url, big["id"], big["rows"]),
                lambda: floor(work / "project", url, big),
            )
            small = ours(work / "project", url, tenth["id"], tenth["rows"])
            report(args.rows, rounds, small, args.results)
    finally:
        if made:
            shutil.rmtree(work, ignore_errors=True)


def _med(rounds: list[dict], who: str, key: str) -> float:
    return median([r[who][key] for r in rounds])


def report(rows: int, rounds: list[dict], small: dict, results: str | None) -> None:
    ours_s, floor_s = _med(rounds, "ours", "seconds"), _med(rounds, "floor", "seconds")
    ratios = ", ".join(f"{r['ours']['seconds'] / r['floor']['seconds']:.2f}x" for r in rounds)
    peak = max(r["ours"]["max_rss_bytes"] for r in rounds)
    floor_peak = max(r["floor"]["max_rss_bytes"] for r in rounds)
    ratio = ours_s / floor_s
    cpu = _med(rounds, "ours", "cpu_seconds") / _med(rounds, "floor", "cpu_seconds")
    read, pred, copy = (
        _med(rounds, "floor", k) for k in ("read_seconds", "predict_seconds", "copy_seconds")
    )
    bounded = peak < 1.5 * small["max_rss_bytes"]
    lines = [
        f"rows: {rows:,} (PostgreSQL); rounds: {len(rounds)}",
        f"riskwatch predict (whole process): {ours_s:.2f} s "
        f"(its predict step {_med(rounds, 'ours', 'step_seconds'):.2f} s), peak {mib(peak)}",
        f"floor (whole process): {floor_s:.2f} s (start-up and read {read:.2f}, predict "
        f"{pred:.2f}, COPY {copy:.2f}), peak {mib(floor_peak)}",
        f"ratio riskwatch / floor: {ratio:.2f}x (rounds: {ratios}); goal <= {GOAL}x: "
        f"{yes(ratio <= GOAL)}; CPU time ratio {cpu:.2f}x",
        f"peak memory: {mib(peak)} for {rows:,} rows, {mib(small['max_rss_bytes'])} for "
        f"{rows // 10:,} rows (bounded by a batch: {yes(bounded)}); the floor {mib(floor_peak)}",
    ]
    print("\n".join(lines))
    write_results(
        results,
        {
            "machine": machine(),
            "rows": rows,
            "rounds": rounds,
            "tenth": small,
            "ratio": ratio,
            "lines": lines,
        },
    )


if __name__ == "__main__":
    main()
