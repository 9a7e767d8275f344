"""Small ticks and the first prediction: riskwatch against its floors, side by side.

In one benchmark run, repeated in rounds (a fresh project each), on the sample data
(`riskwatch sample-data`: 2,000-row CSV files), each as a whole process:

- the floor: a python process that imports pandas and scikit-learn, reads the first file and
  fits the same pipeline once (bench/floor_pandas_sklearn.py);
- tick 1, `riskwatch run --json` with that one new file: ingest, train and deploy v1, diagnose,
  report; tick 2, with the second file: ingest, score, drift, decide, diagnose, report. Default
  settings, so the outdated-packages check is on; its cache (pip's answer, refreshed once a day)
  is fresh, as on every tick but one a day. One more tick 1 in a project with no cache at all
  shows that day's tick: it records "unknown" and leaves pip running in the background;
- a freshly started server (the Procfile's web: command, one worker, on 127.0.0.1): the first
  POST /prediction once it answers, against the median of the next ten; and the same with the
  Procfile's command as it was before workers loaded the model first (without
  `-c python:app.gunicorn_conf`).

Targets (issue 9): a tick within 2x of the floor; the first prediction within 2x of a later one.

    .venv/bin/python bench/bench_small.py [--quick] [--repeat N] [--results FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from _common import (
    PYTHON,
    REPO,
    machine,
    median,
    riskwatch_command,
    run_child,
    scratch_dir,
    write_results,
    yes,
)

HERE = Path(__file__).resolve().parent
HOOK = " -c python:app.gunicorn_conf"
LATER = 10  # later predictions timed after the first
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: no proxy


def new_default_project(where: Path, cache: Path | None) -> Path:
    """A project with default settings (the pip check on) and, if given, pip's cached answer."""
    if where.exists():
        shutil.rmtree(where)
    (where / "sourcedata").mkdir(parents=True)
    (where / "riskwatch.toml").write_text("")
    run_child([*riskwatch_command(), "db", "upgrade"], cwd=where).check("riskwatch db upgrade")
    if cache is not None:
        (where / "reports").mkdir()
        shutil.copy(cache, where / "reports" / cache.name)
    return where


def outdated_reason(stderr: str) -> str:
    found = re.findall(r"outdated packages: (.*) \(checked at", stderr)
    return found[-1] if found else "(not logged)"


# The steps' own timings of each tick (`run --json`'s timings), by tick: where the time goes.
STEPS_S: dict[str, list[dict[str, float]]] = {"tick1": [], "tick2": []}


CPU_S: dict[str, list[float]] = {"floor": [], "tick1": [], "tick2": []}  # user + system


def tick(project: Path, csv_file: Path, name: str = "") -> tuple[float, str]:
    shutil.copy(csv_file, project / "sourcedata" / csv_file.name)
    child = run_child([*riskwatch_command(), "run", "--json"], cwd=project).check("the tick")
    assert child.json()["status"] == "succeeded", child.stdout
    if name:
        STEPS_S[name].append(child.json()["timings"])
        CPU_S[name].append(child.cpu_seconds)
    return child.seconds, outdated_reason(child.stderr)


def step_medians(ticks: list[dict[str, float]]) -> dict[str, float]:
    """Each step's median seconds over the rounds, in the order the steps ran."""
    names = list(dict.fromkeys(name for timings in ticks for name in timings))
    return {n: median([t[n] for t in ticks if n in t]) for n in names}


def wait_for(path: Path, limit: float = 120) -> None:
    """Wait (untimed) until the background refresh has written pip's answer."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"the background refresh wrote no {path} in {limit:.0f} s")
        time.sleep(0.1)


# --- the server ----------------------------------------------------------------------------


def _post(url: str, payload: object) -> float:
    data = json.dumps(payload).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with _opener.open(req, timeout=120) as resp:
        body = resp.read()
        seconds = time.perf_counter() - t0
        if resp.status != 200:
            raise SystemExit(f"POST {url}: {resp.status} {body[:200]!r}")
    return seconds


def _ready(base: str, log: Path, hook: bool) -> bool:
    try:
        with _opener.open(base + "/health", timeout=5) as resp:
            resp.read()
    except (OSError, urllib.error.URLError):
        return False
    return not hook or "loaded before the first request" in log.read_text()


def server_times(project: Path, records: list[dict], hook: bool) -> tuple[float, list[float]]:
    """Start the web: command with one worker; the first prediction and the next LATER ones."""
    web = dict(line.split(": ", 1) for line in (REPO / "Procfile").read_text().splitlines())["web"]
    if not hook:
        web = web.replace(HOOK, "")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        PORT=str(port),
        WEB_CONCURRENCY="1",
        RISKWATCH_CONFIG=str(project / "riskwatch.toml"),
        PATH=f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    log = project / f"gunicorn-{'hook' if hook else 'plain'}.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["bash", "-c", web.replace("0.0.0.0", "127.0.0.1")],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while not _ready(base, log, hook):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not come up:\n{log.read_text()}")
            time.sleep(0.05)
        first = _post(base + "/prediction", records)
        later = [_post(base + "/prediction", records) for _ in range(LATER)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    return first, later


def test_records(path: Path, n: int = 1) -> list[dict]:
    """The first n rows of the test file as API records (numbers as numbers)."""
    out = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            rec: dict[str, object] = {}
            for k, v in row.items():
                try:
                    rec[k] = float(v)
                except ValueError:
                    rec[k] = v
            out.append(rec)
            if len(out) == n:
                break
    return out


# --- the benchmark -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round (a smoke test)")
    parser.add_argument("--repeat", type=int, help="rounds (default 5)")
    parser.add_argument("--workdir", help="keep the scratch projects under this folder")
    parser.add_argument("--results", help="write the figures to this JSON file")
    args = parser.parse_args()
    repeat = max(1, args.repeat or (1 if args.quick else 5))
    if "numpy" in sys.modules:
        raise SystemExit("bench_small.py must not import numpy itself")

    where, remove = scratch_dir(args.workdir, "small")
    rounds: list[dict] = []
    try:
        data = where / "data"
        rw = riskwatch_command()
        run_child([*rw, "sample-data", str(data), "--batches", "2"]).check("sample-data")
        csvs = sorted((data / "sourcedata").glob("*.csv"))
        with csvs[0].open() as fh:
            rows = sum(1 for _ in fh) - 1
        records = test_records(data / "testdata" / "testdata.csv")
        print(f"data: {len(csvs)} sample files of {rows:,} rows; load average before: "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip

        # pip's answer, taken once (what the first tick of the day leaves for the others).
        sys.path.insert(0, str(REPO))
        from pipeline.infra.outdated import pip_command, refresh

        cache = where / "outdated_packages.json"
        t0 = time.perf_counter()
        refresh(cache, pip_command(30), timeout=30)
        pip_s = time.perf_counter() - t0
        pip_doc = json.loads(cache.read_text())
        print(f"pip list --outdated: {pip_s:.2f} s (error: {pip_doc['error']}), cached")

        for rep in range(repeat):
            project = new_default_project(where / "project", cache)
            floor = run_child([PYTHON, str(HERE / "floor_pandas_sklearn.py"), str(csvs[0])],
                              cwd=project).check("the floor")  # fmt: skip
            CPU_S["floor"].append(floor.cpu_seconds)
            tick1, why1 = tick(project, csvs[0], "tick1")
            tick2, why2 = tick(project, csvs[1], "tick2")
            first, later = server_times(project, records, hook=True)
            first_plain, later_plain = server_times(project, records, hook=False)
            cold = new_default_project(where / "cold", None)
            tick_cold, why_cold = tick(cold, csvs[0])
            wait_for(cold / "reports" / cache.name)  # its pip must not run into the next round
            rounds.append(
                {
                    "floor_s": floor.seconds,
                    "tick1_s": tick1,
                    "tick2_s": tick2,
                    "tick1_no_cache_s": tick_cold,
                    "outdated": [why1, why2, why_cold],
                    "first_post_s": first,
                    "later_post_s": median(later),
                    "first_post_no_hook_s": first_plain,
                    "later_post_no_hook_s": median(later_plain),
                }
            )
            r = rounds[-1]
            print(
                f"  round {rep + 1}/{repeat}: floor {floor.seconds:.2f} s, tick 1 {tick1:.2f} s, "
                f"tick 2 {tick2:.2f} s, tick 1 without a cache {tick_cold:.2f} s; "
                f"POST first {first * 1000:.0f} ms, later {r['later_post_s'] * 1000:.0f} ms; "
                f"without the hook {first_plain * 1000:.0f} / "
                f"{r['later_post_no_hook_s'] * 1000:.0f} ms"
            )
            print(f"    outdated packages: {why1} | {why2} | without a cache: {why_cold}")
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if remove:
            shutil.rmtree(where, ignore_errors=True)

    med = {k: median([r[k] for r in rounds]) for k in rounds[0] if k != "outdated"}
    floor_s = med["floor_s"]
    print(f"\nmedians of {repeat} round(s), {rows:,}-row files:")
    print(f"  floor (import pandas + sklearn, read_csv, fit once): {floor_s:.2f} s")
    results: dict = {
        "benchmark": "small",
        "machine": machine(),
        "rows": rows,
        "rounds": rounds,
        "medians": med,
    }
    for r in rounds:  # each round's own ratios: its floor and ticks ran side by side
        for key in ("tick1_s", "tick2_s", "tick1_no_cache_s"):
            r[f"{key.removesuffix('_s')}_ratio"] = r[key] / r["floor_s"]
    for key, name in (
        ("tick1_s", "tick 1 (one new file: trains v1), pip's answer cached"),
        ("tick2_s", "tick 2 (one new file: scores, drift, decides), cached"),
        ("tick1_no_cache_s", "tick 1 with no cache (pip left running in the background)"),
    ):
        ratio = med[key] / floor_s
        per_round = [r[f"{key.removesuffix('_s')}_ratio"] for r in rounds]
        results[f"{key.removesuffix('_s')}_ratio"] = ratio
        name += f" (per round {min(per_round):.2f}x to {max(per_round):.2f}x)"
        print(
            f"  {name}: {med[key]:.2f} s = {ratio:.2f}x the floor (target <= 2x: {yes(ratio <= 2)})"
        )
    cpu = {k: median(v) for k, v in CPU_S.items()}
    results["cpu_s"] = cpu
    results["cpu_ratio"] = {k: cpu[k] / cpu["floor"] for k in ("tick1", "tick2")}
    print(
        f"  CPU time (user + system, medians; moved less by other work on the machine): floor "
        f"{cpu['floor']:.2f} s, tick 1 {cpu['tick1']:.2f} s = {cpu['tick1'] / cpu['floor']:.2f}x, "
        f"tick 2 {cpu['tick2']:.2f} s = {cpu['tick2'] / cpu['floor']:.2f}x"
    )
    results["steps_s"] = {k: step_medians(v) for k, v in STEPS_S.items()}
    results["report_step_s"] = {k: v.get("report") for k, v in results["steps_s"].items()}
    for k, steps in results["steps_s"].items():
        inside = sum(steps.values())
        print(
            f"  {k}'s steps (medians): "
            + ", ".join(f"{n} {s:.2f}" for n, s in steps.items())
            + f" s; {inside:.2f} s in all, the rest ({med[k + '_s'] - inside:.2f} s) is start-up"
            " (imports, settings, the database) and the run's record"
        )
    for suffix, name in (("", "with the Procfile's hook"), ("_no_hook", "without it (before)")):
        first, later = med[f"first_post{suffix}_s"], med[f"later_post{suffix}_s"]
        ratio = first / later
        results[f"first_post{suffix}_ratio"] = ratio
        target = f" (target <= 2x: {yes(ratio <= 2)})" if not suffix else ""
        print(
            f"  first POST /prediction {name}: {first * 1000:.0f} ms, a later one "
            f"{later * 1000:.0f} ms = {ratio:.2f}x{target}"
        )
    write_results(args.results, results)


if __name__ == "__main__":
    main()
