"""Online serving: riskwatch's POST /prediction against MLflow's `models serve` and a bare
Flask + joblib floor, side by side in one run, on the same model and the same records.

Each server runs on 127.0.0.1 with 2 worker processes, one server at a time:

- the floor (bench/serving_floor.py): bare Flask and joblib under the same gunicorn worker
  class and threads as riskwatch; it validates nothing, signs no one in and stores nothing;
- MLflow's `models serve` (the version of bench/requirements-mlflow.txt, in its own environment
  bench/.venv-mlflow, made on the first run) on the same artifact saved with
  `mlflow.sklearn.save_model`; it stores nothing either;
- riskwatch (the Procfile's web: command) with sign-in on (a `predict` token) and its limits
  counting (set high enough never to refuse), on SQLite and on PostgreSQL: every prediction is
  recorded durably before the answer, and the benchmark checks afterwards that the database
  holds exactly one row per record answered.

For 1 and 100 records per request, at concurrency 1 and 16 (closed loop: each client sends
its next request when the answer comes; bench/serving_load.py, the same client for all), it
prints requests per second, p50 and p99 latency, and riskwatch's ratios to the floor and to
MLflow. Goals (issue 12): at least 0.9x the floor for one record, at least MLflow's throughput
for 100-record requests, on both databases and at both concurrencies, with p99 at most 1.5x
the floor's.

    .venv/bin/python bench/bench_serving.py [--quick] [--seconds N] [--results FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import (
    PYTHON,
    REPO,
    machine,
    riskwatch_command,
    run_child,
    scratch_dir,
    tool_python,
    write_results,
    yes,
)
from serving_commit import commit_floor

HERE = Path(__file__).resolve().parent
PG_ADMIN_URL = "postgresql://127.0.0.1:5432/postgres"
PG_DATABASE = "riskwatch_bench_serving"
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy
# Limits that count every request (their cost is riskwatch's) but never refuse one.
LIMITS = "[api]\nrequests_per_minute = 100000000\npredictions_per_day = 1000000000\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def make_project(where: Path, database_url: str | None) -> tuple[Path, str]:
    """A project on the sample data with model v1 trained and a predict token: (dir, token)."""
    where.mkdir(parents=True)
    toml = "[diagnostics]\noutdated_packages = false\n[auth]\nrequired = true\n" + LIMITS
    if database_url:
        toml += f'[database]\nurl = "{database_url}"\n'
    (where / "riskwatch.toml").write_text(toml)
    rw = riskwatch_command()
    run_child([*rw, "sample-data", ".", "--batches", "1"], cwd=where).check("sample-data")
    run_child([*rw, "db", "upgrade"], cwd=where).check("db upgrade")
    run_child([*rw, "run", "--json"], cwd=where).check("the first tick")
    made = run_child(
        [*rw, "token", "create", "--name", "bench", "--role", "predict", "--json"], cwd=where
    ).check("token create")
    return where, made.json()["token"]


def records(project: Path, n: int) -> list[dict[str, object]]:
    """The first n rows of the test file as API records (numbers as numbers, no target/id)."""
    path = next((project / "testdata").glob("*.csv"))
    out: list[dict[str, object]] = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, object] = {}
            for k, v in row.items():
                if k in ("exited", "corporation"):
                    continue
                if v == "":
                    rec[k] = None  # an empty CSV cell is a missing value
                    continue
                try:
                    rec[k] = float(v)
                except ValueError:
                    rec[k] = v
            out.append(rec)
            if len(out) == n:
                return out
    return (out * (n // max(1, len(out)) + 1))[:n]


class Server:
    """A server process in its own session, stopped with its whole group."""

    def __init__(self, name: str, argv: list[str], cwd: Path, env: dict[str, str], log: Path):
        self.name, self.port, self.log = name, int(env["PORT"]), log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, path: str, limit: float = 180) -> None:
        deadline = time.monotonic() + limit
        while True:
            try:
                with _opener.open(f"http://127.0.0.1:{self.port}{path}", timeout=5) as resp:
                    resp.read()
                    return
            except (OSError, urllib.error.URLError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{self.name} did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RISKWATCH_", "DATABASE_URL"))}
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def riskwatch_server(project: Path) -> Server:
    web = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines())["web"]
    env = _env(
        PORT=str(_free_port()),
        WEB_CONCURRENCY="2",
        RISKWATCH_CONFIG=str(project / "riskwatch.toml"),
    )
    return Server(
        "riskwatch",
        ["bash", "-c", web.replace("0.0.0.0", "127.0.0.1")],
        REPO,
        env,
        project / "gunicorn.log",
    )


def floor_server(project: Path, columns: list[str]) -> Server:
    port = _free_port()
    env = _env(
        PORT=str(port),
        FLOOR_MODEL=str(project / "models" / "1" / "model.joblib"),
        FLOOR_FEATURES=",".join(columns),
        PYTHONPATH=str(REPO),
    )
    argv = [
        str(Path(PYTHON).parent / "gunicorn"),
        "serving_floor:app",
        "-k",
        "gthread",
        "--threads",
        "8",
        "-w",
        "2",
        "--bind",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "5",
    ]
    return Server("floor", argv, HERE, env, project / "floor.log")


def mlflow_server(project: Path, workdir: Path) -> Server:
    python = tool_python(HERE / ".venv-mlflow", HERE / "requirements-mlflow.txt")
    saved = workdir / "mlflow-model"
    # MLflow 3 saves scikit-learn models with skops, which refuses classes it does not know
    # (riskwatch's Preprocessor) unless they are named as trusted.
    script = (
        "import joblib, sys, mlflow.sklearn, skops.io as sio; m = joblib.load(sys.argv[1]); "
        "t = sio.get_untrusted_types(data=sio.dumps(m)); "
        "mlflow.sklearn.save_model(m, sys.argv[2], skops_trusted_types=t)"
    )
    run_child(
        [str(python), "-c", script, str(project / "models" / "1" / "model.joblib"), str(saved)],
        env=_env(PYTHONPATH=str(REPO)),
    ).check("mlflow save_model")
    port = _free_port()
    argv = [
        str(python.parent / "mlflow"),
        "models",
        "serve",
        "-m",
        str(saved),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "2",
        "--env-manager",
        "local",
    ]
    env = _env(
        PORT=str(port),
        PYTHONPATH=str(REPO),
        PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return Server("mlflow", argv, workdir, env, workdir / "mlflow.log")


def measure(
    url: str, body: object, headers: dict[str, str], concurrency: int, seconds: float
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(body, fh)
    argv = [PYTHON, str(HERE / "serving_load.py"), url, fh.name, str(concurrency), str(seconds)]
    argv += [f"{k}: {v}" for k, v in headers.items()]
    try:
        child = run_child(argv).check(f"load on {url}")
    finally:
        os.unlink(fh.name)
    result = child.json()
    if result["errors"]:
        raise SystemExit(f"{url}: {result['errors']} error(s), e.g. {result['first_errors']}")
    return result


def stored(database_url: str) -> int:
    """Predictions with source api the database holds."""
    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as conn:
            sql = "SELECT count(*) FROM predictions WHERE source = 'api'"
            return int(conn.execute(sa.text(sql)).scalar_one())
    finally:
        engine.dispose()


CASES = [(1, 1), (1, 16), (100, 1), (100, 16)]  # (records per request, concurrency)


def serve_and_measure(
    server: Server, path: str, body_of, headers: dict[str, str], seconds: float
) -> dict[str, dict]:
    """Start `server`, run every case on it, stop it: {case name: load result}."""
    out = {}
    try:
        server.wait_ready("/health" if server.name != "mlflow" else "/ping")
        for n, conc in CASES:
            url = f"http://127.0.0.1:{server.port}{path}"
            result = measure(url, body_of(n), headers, conc, seconds)
            out[f"{n}x{conc}"] = result
            print(
                f"  {server.name:<18} {n:>3} record(s), concurrency {conc:>2}: "
                f"{result['requests_per_second']:7.1f} req/s, p50 {result['p50_ms']:6.1f} ms, "
                f"p99 {result['p99_ms']:6.1f} ms",
                flush=True,
            )
    finally:
        server.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 s per case (a smoke test)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per case")
    parser.add_argument("--skip-mlflow", action="store_true", help="no MLflow (no venv needed)")
    parser.add_argument("--workdir", help="keep the projects in this folder")
    parser.add_argument("--results", help="write the figures as JSON here")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else args.seconds
    workdir, made = scratch_dir(args.workdir, "serving")
    pg_url = f"postgresql+psycopg://127.0.0.1:5432/{PG_DATABASE}"
    _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    _pg_admin(f"CREATE DATABASE {PG_DATABASE}")
    try:
        lite, lite_token = make_project(workdir / "sqlite", None)
        pg, pg_token = make_project(workdir / "postgresql", pg_url)
        meta = json.loads((lite / "models" / "1" / "metadata.json").read_text())
        columns = [*meta["features"]["numeric"], *meta["features"]["categorical"]]
        rec = {n: records(lite, n) for n, _ in CASES}
        results: dict[str, dict] = {"machine": machine(), "seconds_per_case": seconds}
        print(f"serving, {seconds:g} s per case, 2 workers each", flush=True)
        results["floor"] = serve_and_measure(
            floor_server(lite, columns), "/prediction", lambda n: rec[n], {}, seconds
        )
        if not args.skip_mlflow:
            results["mlflow"] = serve_and_measure(
                mlflow_server(lite, workdir),
                "/invocations",
                lambda n: {"dataframe_records": rec[n]},
                {},
                seconds,
            )
        for name, project, token, url in (
            ("riskwatch_sqlite", lite, lite_token, f"sqlite:///{lite / 'riskwatch.db'}"),
            ("riskwatch_postgresql", pg, pg_token, pg_url),
        ):
            floor_commit = commit_floor(url)
            print(
                f"  {name}: a durable commit alone: {floor_commit['commits_per_second']:.0f}/s, "
                f"p50 {floor_commit['p50_ms']:.1f} ms, p99 {floor_commit['p99_ms']:.1f} ms",
                flush=True,
            )
            before = stored(url)
            results[name] = serve_and_measure(
                riskwatch_server(project),
                "/prediction",
                lambda n: rec[n],
                {"Authorization": f"Bearer {token}"},
                seconds,
            )
            results[name]["commit_alone"] = floor_commit
            results[name]["stored_predictions"] = stored(url) - before
            results[name]["answered_predictions"] = sum(
                results[name][f"{n}x{c}"]["answered"] * n for n, c in CASES
            )
        report(results)
        write_results(args.results, results)
    finally:
        _pg_admin(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if made:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)


def report(results: dict) -> None:
    """The ratios and whether each goal is met."""
    floor, mlflow = results["floor"], results.get("mlflow")
    print("\nratios (requests per second; p99 against the floor's)")
    for name in ("riskwatch_sqlite", "riskwatch_postgresql"):
        rw = results[name]
        for case in (f"{n}x{c}" for n, c in CASES):
            r_floor = rw[case]["requests_per_second"] / floor[case]["requests_per_second"]
            p99 = rw[case]["p99_ms"] / floor[case]["p99_ms"]
            line = f"  {name:<21} {case:>6}: {r_floor:5.2f}x floor, p99 {p99:4.2f}x"
            if mlflow:
                r_ml = rw[case]["requests_per_second"] / mlflow[case]["requests_per_second"]
                line += f", {r_ml:5.2f}x MLflow"
                goal = r_floor >= 0.9 if case.startswith("1x") else r_ml >= 1.0
                line += f"; goal met: {yes(goal and p99 <= 1.5)}"
            print(line)
        print(
            f"  {name}: {rw['answered_predictions']:,} predictions answered, "
            f"{rw['stored_predictions']:,} stored"
        )
        # One client waits for each answer's commit: the floor's time plus a commit's is the
        # least a request can take, whatever the server does besides.
        alone = rw["commit_alone"]
        for case in ("1x1", "100x1"):
            ceiling = 1 / (1 / floor[case]["requests_per_second"] + alone["p50_ms"] / 1000)
            print(
                f"  {name} {case}: the floor's work plus one durable commit (p50 "
                f"{alone['p50_ms']:.1f} ms) allows at most {ceiling:.0f} req/s = "
                f"{ceiling / floor[case]['requests_per_second']:.2f}x the floor"
            )


if __name__ == "__main__":
    sys.exit(main())
