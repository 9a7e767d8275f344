"""Server time of the dashboards (issue 13): each page on a database of 1,000 runs and
1,000,000 stored predictions must answer in under 300 ms.

The database is made by riskwatch's own migrations (SQLite in a scratch folder, or the
PostgreSQL at --database-url), then filled through the schema's tables: 1,000 runs over the
last 30 days (one every 43 minutes), each with its steps, a drift summary and 8 columns' drift
results, a checked file with two kinds of problem, a day's performance estimate, and a
scheduled file of 1,000 predictions (its segment, its health cells and its rows: 1,000,000 in
all); 5 model versions, each deployed in turn and trained on the 200 files checked before it,
production's with a real (small) fitted artifact. Every page is asked through the real app
(`create_app`, Flask's test client, a read token, as a browser asks: `Accept: text/html`; what
gunicorn's worker runs per request, without the socket): the overview, data quality, drift and
one feature for each time range, and the runs list (with and without the quiet ticks), the
newest run, the models and production's version, the predict form and past predictions (all
sources, the scheduled ones), `--repeat` times, interleaved, after the worker's own start-up
(`app.gunicorn_conf.post_worker_init`: the model loaded, the heap frozen) and one warm-up
each; printed side by side with GET /health (the cheapest request: what any answer costs),
with each request's CPU time (the thread's, SQLite's included, PostgreSQL's server not): on a
shared machine the wall time also counts waiting for a CPU.

    .venv/bin/python bench/bench_pages.py [--quick] [--runs N] [--rows-per-run N]
        [--repeat N] [--database-url URL] [--workdir DIR] [--results FILE]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _common import machine, scratch_dir, write_results

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import sqlalchemy as sa  # noqa: E402  (after the repository is on the path)

from pipeline.settings import load_settings  # noqa: E402
from pipeline.storage import db, tables, tokens  # noqa: E402
from pipeline.storage.estimates import performance_estimates  # noqa: E402

GOAL_MS = 300.0
COLUMNS = ("num_01", "num_02", "num_03", "num_04", "industry", "region", "__prediction__")
PAGES = ("/", "/quality", "/drift", "/drift/num_01")
RANGES = ("range=day", "range=week", "range=month")
# The pages without a time range ({run}: the newest run, {version}: production's).
OTHER_PAGES = (
    "/runs", "/runs?quiet=show", "/runs/{run}", "/models", "/models/{version}", "/predict",
    "/past-predictions", "/past-predictions?source=scheduled",
)  # fmt: skip
TRAINING_FILES = 200  # each version was trained on the files checked just before it


def _run_rows(i: int, when: datetime, version: int, rng: random.Random) -> dict[str, list]:
    """What one run wrote of the tables the pages read (its predictions apart)."""
    run_id = f"{i:032x}"
    share = rng.random() * 0.7
    out: dict[str, list] = {
        "runs": [{"id": run_id, "kind": "run", "started_at": when, "finished_at": when,
                  "status": "succeeded", "new_files": 1, "rows_ingested": 1000,
                  "production_version": version}],
        "steps": [{"run_id": run_id, "name": name, "started_at": when, "finished_at": when,
                   "seconds": 0.1, "status": "succeeded"} for name in ("ingest", "drift")],
        "drift_summaries": [{"run_id": run_id, "model_version": version,
                             "dataset_drift": share >= 0.5, "drifted_share": share,
                             "reference_rows": 5000, "current_rows": 1000, "thresholds": {},
                             "created_at": when}],
        "drift_results": [{"run_id": run_id, "column_name": c, "kind": "numeric", "test": "ks",
                           "effect_size": rng.random() * 0.3, "p_adjusted": rng.random(),
                           "psi": rng.random() * 0.2, "status": "ok", "drifted": False,
                           "details": {"n_reference": 5000, "n_new": 1000, "reference_mean": 0.0,
                                       "new_mean": rng.gauss(0, 0.2)}} for c in COLUMNS],
        "decisions": [{"run_id": run_id, "kind": "retrain", "outcome": False,
                       "reason": "no trigger", "evidence": {}, "decided_at": when}],
    }  # fmt: skip
    return out


def _first_run(version: int, runs: int) -> int:
    """The run that deployed `version` (1 to 5, in turn over the runs)."""
    return next(i for i in range(runs) if 1 + i * 5 // runs == version)


def _training_files(version: int, runs: int, rows: int) -> list[dict[str, Any]]:
    first = _first_run(version, runs)
    return [{"name": f"batch_{i:05d}.csv", "sha256": f"{i:064x}", "rows": rows}
            for i in range(max(0, first - TRAINING_FILES), first)]  # fmt: skip


def fill(engine: sa.Engine, runs: int, rows_per_run: int, now: datetime) -> None:
    """The database the benchmark reads (see the module's docstring)."""
    rng = random.Random(13)
    step = timedelta(days=30) / runs
    start = now - step * runs
    trained = "f" * 32  # the run that trained the versions
    with engine.begin() as conn:
        conn.execute(
            tables.runs.insert().values(
                id=trained, kind="train", started_at=start, finished_at=start, status="succeeded"
            )
        )
        for v in range(1, 6):
            conn.execute(
                tables.model_versions.insert().values(
                    version=v, run_id=trained, created_at=start, artifact=f"{v}/model.joblib",
                    sha256="0" * 64, estimator="logistic", params={},
                    features={"numeric": [], "categorical": []}, metric="f1",
                    holdout_score=0.8, train_rows=5000, holdout_rows=1000,
                    training_files=_training_files(v, runs, rows_per_run),
                )
            )  # fmt: skip
            # Its holdout's confusion counts, as training records them: the baseline of
            # prediction health.
            conn.execute(
                tables.confusion_matrices.insert(),
                [{"run_id": trained, "model_version": v, "dataset": "holdout", "actual": a,
                  "predicted": b, "count": 250} for a in ("0", "1") for b in ("0", "1")],
            )  # fmt: skip
    next_id = 1
    for i in range(runs):
        when = start + step * i
        version = 1 + i * 5 // runs
        with engine.begin() as conn:
            for name, rows in _run_rows(i, when, version, rng).items():
                conn.execute(tables.metadata.tables[name].insert(), rows)
            if i == 0 or version != 1 + (i - 1) * 5 // runs:
                conn.execute(
                    tables.deployments.insert().values(
                        run_id=f"{i:032x}", from_version=version - 1 or None,
                        to_version=version, deployed_at=when, kind="promote",
                        reason="challenger is better",
                    )
                )  # fmt: skip
        next_id = _file_and_predictions(engine, i, when, version, rows_per_run, next_id, rng)


def _file_and_predictions(
    engine: sa.Engine,
    i: int,
    when: datetime,
    version: int,
    rows: int,
    next_id: int,
    rng: random.Random,
) -> int:
    """One run's ingested and checked file, its estimate, and its scheduled predictions."""
    run_id = f"{i:032x}"
    with engine.begin() as conn:
        file_id = conn.execute(
            tables.ingested_files.insert().values(
                run_id=run_id, sha256=f"{i:064x}", name=f"batch_{i:05d}.csv", size_bytes=1,
                status="ingested", rows=rows, ingested_at=when,
            )
        ).inserted_primary_key[0]  # fmt: skip
        bad = rng.randrange(0, rows // 20)
        qid = conn.execute(
            tables.quality_files.insert().values(
                run_id=run_id, checked_at=when, sha256=f"{i:064x}", file_name=f"batch_{i:05d}.csv",
                rows_read=rows, rows_valid=rows - bad, rows_invalid=bad,
                criticality="low" if bad else None, rejected=False,
                report_path=f"quality/batch_{i:05d}.html",
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            tables.quality_issues.insert(),
            [{"run_id": run_id, "quality_file_id": qid, "error_type": kind, "column_name": "num_01",
              "criticality": "low", "level": "row", "count": bad, "message": "m",
              "examples": [], "rows_sample": []} for kind in ("out_of_range", "missing_value")],
        )  # fmt: skip
        conn.execute(
            performance_estimates.insert().values(
                run_id=run_id, created_at=when, period="day",
                period_start=when.replace(hour=0, minute=0, second=0, microsecond=0),
                model_version=version, metric="f1", value=0.75 + rng.random() * 0.1,
                ci_low=0.7, ci_high=0.9, n_rows=rows, reliable=True,
            )
        )  # fmt: skip
        segment = conn.execute(
            tables.prediction_segments.insert().values(
                file_id=file_id, model_version=version, run_id=run_id, created_at=when,
                first_id=next_id, last_id=next_id + rows - 1, first_row=0, rows=rows,
                classes=["0", "1"],
            )
        ).inserted_primary_key[0]  # fmt: skip
        probs = [rng.random() for _ in range(rows)]
        mark = "?" if conn.dialect.name == "sqlite" else "%s"
        conn.exec_driver_sql(  # the driver's executemany: a million dicts would take minutes
            "INSERT INTO predictions (id, source, model_version, segment_id, file_id, row_number,"
            f" row_key, prediction, label, probability) VALUES ({', '.join([mark] * 10)})",
            [(next_id + j, "scheduled", version, segment, file_id, j, f'["C{i:05d}-{j:04d}"]',
              float(p > 0.5), str(int(p > 0.5)), p) for j, p in enumerate(probs)],
        )  # fmt: skip
        counts: dict[tuple[str, int], int] = {}
        for p in probs:
            key = (str(int(p > 0.5)), min(int(p * 10), 9))
            counts[key] = counts.get(key, 0) + 1
        conn.execute(
            tables.prediction_cells.insert(),
            [{"segment_id": segment, "day": None, "label": label, "bin": b, "n": n,
              "total": float(n) if label == "1" else 0.0,
              "squares": float(n) if label == "1" else 0.0}
             for (label, b), n in counts.items()],
        )  # fmt: skip
        conn.execute(
            tables.prediction_marks.insert().values(
                file_id=file_id, model_version=version, run_id=run_id, rows=rows,
                predicted_at=when,
            )
        )  # fmt: skip
    return next_id + rows


def real_model(engine: sa.Engine, settings: Any, version: int) -> None:
    """Give `version` a real artifact (the predict page loads it): a model fitted on 40 rows of
    the benchmark's columns, stored as riskwatch stores it, its row's features and SHA-256."""
    import io

    import joblib
    import pandas as pd

    from pipeline.model.estimator import fit
    from pipeline.model.features import infer_features
    from pipeline.storage import blobs

    rng = random.Random(version)
    frame = pd.DataFrame(
        {"corporation": [f"C{i}" for i in range(40)],
         **{c: [rng.gauss(0, 1) for _ in range(40)] for c in COLUMNS[:4]},
         "industry": ["retail", "finance"] * 20, "region": ["north", "south", "east", "west"] * 10,
         "exited": [i % 2 for i in range(40)]}
    )  # fmt: skip
    features = infer_features(frame, settings)
    buffer = io.BytesIO()
    joblib.dump(fit(settings, features, frame), buffer)
    mv = tables.model_versions
    with engine.begin() as conn:
        digest = blobs.put(conn, blobs.MODELS, f"{version}/model.joblib", buffer.getvalue())
        conn.execute(
            mv.update()
            .where(mv.c.version == version)
            .values(sha256=digest, features=features.to_json())
        )


def _time(client: object, url: str, headers: dict[str, str]) -> tuple[float, float]:
    """(wall ms, CPU ms of this thread) of one request: on a shared machine the wall time also
    counts the time the process waited for a CPU, its CPU time does not."""
    t0, c0 = time.perf_counter(), time.thread_time()
    response = client.get(url, headers=headers)  # type: ignore[attr-defined]
    response.get_data()
    elapsed, cpu = time.perf_counter() - t0, time.thread_time() - c0
    if response.status_code != 200:
        raise SystemExit(f"GET {url} answered {response.status_code}")
    response.close()
    return elapsed * 1000, cpu * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 runs, 3 repeats")
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rows-per-run", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--database-url")
    parser.add_argument("--workdir")
    parser.add_argument("--results")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.repeat = 100, 3
    work, made = scratch_dir(args.workdir, "pages")  # --database-url: an empty database
    work.mkdir(parents=True, exist_ok=True)
    (work / "riskwatch.toml").write_text('[registry]\nstore = "database"\n')
    url = args.database_url or f"sqlite:///{work / 'riskwatch.db'}"
    settings = load_settings(work / "riskwatch.toml", environ={}, overrides={"database.url": url})
    engine = db.make_engine(url)
    db.upgrade(engine)
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    with engine.connect() as conn:  # a --workdir kept from an earlier run is reused as it is
        filled = conn.execute(sa.select(sa.func.count()).select_from(tables.runs)).scalar()
    if not filled:
        fill(engine, args.runs, args.rows_per_run, now)
        real_model(engine, settings, 5)
    with engine.connect() as conn:
        n_pred = conn.execute(sa.select(sa.func.count()).select_from(tables.predictions)).scalar()
        n_runs = conn.execute(sa.select(sa.func.count()).select_from(tables.runs)).scalar()
        r = tables.runs
        newest = conn.execute(
            sa.select(r.c.id).where(r.c.kind == "run").order_by(r.c.started_at.desc()).limit(1)
        ).scalar()
    token = tokens.create(engine, f"bench-{os.getpid()}", "read")[1]
    engine.dispose()
    print(f"filled {n_runs} runs, {n_pred} predictions in {time.perf_counter() - t0:.0f} s")

    import logging
    from types import SimpleNamespace

    from app import create_app, gunicorn_conf

    app = create_app({"RISKWATCH_SETTINGS": settings})
    # What gunicorn's worker does before its first request: the model loaded, the heap frozen.
    worker = SimpleNamespace(wsgi=app, log=logging.getLogger("bench"), pid=os.getpid())
    gunicorn_conf.post_worker_init(worker)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/html"}  # what a browser asks
    urls = ["/health"] + [f"{p}?{r}" for p in PAGES for r in RANGES]
    urls += [u.format(run=newest, version=5) for u in OTHER_PAGES]
    for u in urls:  # warm-up: the app's first request, the templates compiled
        _time(client, u, headers)
    times: dict[str, list[float]] = {u: [] for u in urls}
    cpus: dict[str, list[float]] = {u: [] for u in urls}
    for _ in range(args.repeat):
        for u in urls:
            wall, cpu = _time(client, u, headers)
            times[u].append(wall)
            cpus[u].append(cpu)
    app.extensions["riskwatch"].engine.dispose()
    base = statistics.median(times["/health"])
    print(f"\nmedian and max of {args.repeat} requests each, ms (goal: under {GOAL_MS:.0f})")
    print(
        f"{'request':48} {'median':>8} {'max':>8} {'x /health':>10} {'CPU med':>8} {'CPU max':>8}"
    )
    rows = []
    for u in urls:
        med, worst = statistics.median(times[u]), max(times[u])
        cpu_med, cpu_max = statistics.median(cpus[u]), max(cpus[u])
        rows.append({"url": u, "median_ms": med, "max_ms": worst, "ratio_to_health": med / base,
                     "cpu_median_ms": cpu_med, "cpu_max_ms": cpu_max})  # fmt: skip
        print(f"{u:48} {med:8.1f} {worst:8.1f} {med / base:10.1f} {cpu_med:8.1f} {cpu_max:8.1f}")
    pages = [r for r in rows if r["url"] != "/health"]
    ok = all(r["max_ms"] < GOAL_MS for r in pages)
    print(f"\nevery page under {GOAL_MS:.0f} ms (max): {'yes' if ok else 'NO'}; "
          f"load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    write_results(
        args.results,
        {"bench": "pages", "runs": n_runs, "predictions": n_pred, "goal_ms": GOAL_MS,
         "pages": rows, "machine": machine()},
    )  # fmt: skip
    if made:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
