"""A tick with one new 1,000,000-row CSV (20 columns), against the floor, side by side.

In one benchmark run, on the same file, each as a whole process:

- the floor: `pandas.read_csv` + the same scikit-learn pipeline fitted once on the same rows
  (bench/floor_pandas_sklearn.py);
- tick 1, `riskwatch run --json` on a fresh project: ingest, train and deploy v1, diagnose,
  report;
- tick 2, `riskwatch run --json` with a second, fresh file from the same distribution: ingest,
  score the production model, decide (and retrain if the policy says so), diagnose, report.

Peak memory is each child's own ru_maxrss (wait4); the child's RSS is also sampled from /proc
and attributed to the step its log says it is in. This process imports neither numpy nor pandas
and never holds the data: a child's ru_maxrss counts the pages its parent had at the fork.

Targets (issue 2): the whole tick within 2x of the floor, and peak memory under 4x the data
frame's in-memory size (`df.memory_usage(deep=True).sum()` of the floor's `read_csv`).

    .venv/bin/python bench/bench_tick.py [--quick] [--rows N] [--results FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    PYTHON,
    machine,
    median,
    mib,
    new_project,
    riskwatch_command,
    run_child,
    scratch_dir,
    write_results,
    yes,
)
from wide_data import LAYOUT

HERE = Path(__file__).resolve().parent
# What any process that reads the data and fits the model has loaded before it holds a row.
LIBRARIES = "import pandas, pyarrow.parquet, sklearn.linear_model"


def make_csv(path: Path, rows: int, seed: int, first_id: int = 0) -> None:
    """Write the data in a child: this process stays small (see wide_data.py)."""
    argv = [PYTHON, str(HERE / "wide_data.py"), str(path), "--rows", str(rows)]
    run_child([*argv, "--seed", str(seed), "--first-id", str(first_id)]).check("wide_data.py")


# --- a child process, timed, its memory sampled per step -----------------------------------


@dataclass
class Measured:
    seconds: float
    returncode: int
    max_rss_bytes: int
    stdout: str
    stderr_lines: list[tuple[float, str]]
    phase_peak: dict[str, int] = field(default_factory=dict)  # phase: peak sampled RSS

    def check(self, what: str) -> Measured:
        if self.returncode != 0:
            tail = "\n".join(line for _, line in self.stderr_lines[-20:])
            raise SystemExit(f"{what} failed with exit code {self.returncode}:\n{tail}")
        return self


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _phase(line: str, current: str) -> str:
    """The step a riskwatch log line says the process is in from now on."""
    text = line.removeprefix("riskwatch: ")
    if text.endswith(" …"):
        return text.removesuffix(" …")
    if " done in " in text:
        return f"after {text.split(' done in ', 1)[0]}"
    return current


def measure(argv: list[str], cwd: Path, interval: float = 0.02) -> Measured:
    """Run argv; time it, read its peak RSS from wait4, sample its RSS per logged step.

    The exit is noticed within `interval`, so wall times carry at most that much extra.
    """
    lines: list[tuple[float, str]] = []
    with tempfile.TemporaryFile() as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL
        )

        def read_stderr() -> None:
            assert proc.stderr is not None
            for raw in proc.stderr:
                lines.append((time.perf_counter() - t0, raw.decode(errors="replace").rstrip()))

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        peaks: dict[str, int] = {}
        phase, seen = "start-up", 0
        while True:
            for _, line in lines[seen:]:  # the step the process has said it is in by now
                phase = _phase(line, phase)
            seen = len(lines)
            rss = _rss(proc.pid)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            peaks[phase] = max(peaks.get(phase, 0), rss)
            time.sleep(interval)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        reader.join(timeout=5)
        out.seek(0)
        stdout = out.read().decode(errors="replace")
    return Measured(seconds, proc.returncode, usage.ru_maxrss * 1024, stdout, lines, peaks)


# --- the benchmark -------------------------------------------------------------------------


def tick_report(name: str, runs: list[Measured], floor_s: float, frame_bytes: int) -> dict:
    """Print and return one tick's figures: median wall time, highest peak RSS over the runs."""
    summaries = [json.loads(m.stdout) for m in runs]
    summary = summaries[0]
    wall = median([m.seconds for m in runs])
    peak_rss = max(m.max_rss_bytes for m in runs)
    steps = list(summary.get("timings") or {})
    timings = {k: median([(s.get("timings") or {}).get(k, 0.0) for s in summaries]) for k in steps}
    outside = median(
        [
            m.seconds - sum((s.get("timings") or {}).values())
            for m, s in zip(runs, summaries, strict=True)
        ]
    )
    phase_peak: dict[str, int] = {}
    for m in runs:
        for phase, rss in m.phase_peak.items():
            phase_peak[phase] = max(phase_peak.get(phase, 0), rss)
    ratio = wall / floor_s
    mem = peak_rss / frame_bytes
    print(f"\n{name}: status {summary['status']}, {summary['rows_ingested']:,} rows ingested")
    print(f"  decision: retrain={summary['decision']['retrain']}: {summary['decision']['reason']}")
    if summary.get("promotion"):
        p = summary["promotion"]
        print(f"  promotion: v{p['challenger_version']} promoted={p['promoted']}: {p['reason']}")
    walls = ", ".join(f"{m.seconds:.2f}" for m in runs)
    print(
        f"  wall {wall:7.2f} s (median of {walls}) = {ratio:.2f}x the floor "
        f"(target <= 2x: {yes(ratio <= 2)})"
    )
    print(
        f"  peak RSS {mib(peak_rss)} (highest of {len(runs)}) = {mem:.2f}x the data frame "
        f"(target < 4x: {yes(mem < 4)})"
    )
    print("  step timings (JSON summary, median) and peak sampled RSS while in/after each step:")
    for step, seconds in timings.items():
        peak = phase_peak.get(step)
        print(f"    {step:<10} {seconds:8.2f} s   peak {mib(peak) if peak else '(too short)':>11}")
    print(f"    {'(outside)':<10} {outside:8.2f} s   start-up, imports, loads between steps")
    for phase, peak in phase_peak.items():
        if phase not in timings:
            print(f"      {phase:<18} peak {mib(peak):>11}")
    return {
        "status": summary["status"],
        "retrain": summary["decision"]["retrain"],
        "reason": summary["decision"]["reason"],
        "wall_s": wall,
        "wall_runs_s": [m.seconds for m in runs],
        "ratio_to_floor": ratio,
        "ratio_ok": ratio <= 2,
        "peak_rss_bytes": peak_rss,
        "rss_to_frame": mem,
        "rss_ok": mem < 4,
        "timings": timings,
        "outside_steps_s": outside,
        "phase_peak_rss_bytes": phase_peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50,000 rows, once (a smoke test)")
    parser.add_argument("--rows", type=int, help="rows per file (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="fresh projects to measure (default 3)")
    parser.add_argument("--no-second-tick", action="store_true", help="only the first tick")
    parser.add_argument("--workdir", help="keep the scratch project under this folder")
    parser.add_argument("--results", help="write the figures to this JSON file")
    args = parser.parse_args()
    rows = args.rows or (50_000 if args.quick else 1_000_000)
    repeat = max(1, args.repeat or (1 if args.quick else 3))
    if "numpy" in sys.modules:  # see the module's docstring: it would inflate every child's peak
        raise SystemExit("bench_tick.py must not import numpy itself")

    where, remove = scratch_dir(args.workdir, "tick")
    try:
        data = where / "data"
        data.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        csvs = [data / "batch-1.csv"]
        make_csv(csvs[0], rows, seed=1)
        if not args.no_second_tick:
            csvs.append(data / "batch-2.csv")
            make_csv(csvs[1], rows, seed=2, first_id=rows)
        size = csvs[0].stat().st_size
        print(f"data: {rows:,} rows, {LAYOUT}")
        print(
            f"  {len(csvs)} CSV file(s) of {mib(size)}, written in {time.perf_counter() - t0:.1f} s"
        )
        print(f"  load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        rw = riskwatch_command()
        floors: list[Measured] = []
        ticks: list[list[Measured]] = [[] for _ in csvs]
        for rep in range(repeat):  # floor and ticks side by side in every round
            project = new_project(where / "project")
            floor = measure([PYTHON, str(HERE / "floor_pandas_sklearn.py"), str(csvs[0])], project)
            floors.append(floor.check("the floor"))
            for i, csv in enumerate(csvs):
                shutil.copy(csv, project / "sourcedata" / csv.name)
                ticks[i].append(measure([*rw, "run", "--json"], project).check(f"tick {i + 1}"))
            print(
                f"  round {rep + 1}/{repeat}: floor {floor.seconds:.2f} s, "
                + ", ".join(f"tick {i + 1} {t[-1].seconds:.2f} s" for i, t in enumerate(ticks))
            )
        libs = measure([PYTHON, "-c", LIBRARIES], where).check("the library import")
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if remove:
            shutil.rmtree(where, ignore_errors=True)

    fdocs = [json.loads(f.stdout) for f in floors]
    fdoc = fdocs[0]
    frame_bytes = fdoc["frame_bytes"]
    floor_s = median([f.seconds for f in floors])
    floor_rss = max(f.max_rss_bytes for f in floors)
    print(
        f"\nfloor (read_csv + fit of the same pipeline on {fdoc['train_rows']:,} rows): "
        f"wall {floor_s:.2f} s median (import {median([d['import_s'] for d in fdocs]):.2f}, "
        f"read_csv {median([d['read_csv_s'] for d in fdocs]):.2f}, "
        f"fit {median([d['fit_s'] for d in fdocs]):.2f}), peak RSS {mib(floor_rss)}"
    )
    print(f"  engine measured: {fdoc['engine']}")
    print(
        f"  data frame in memory: {mib(frame_bytes)} (deep); "
        f"the floor's own peak = {floor_rss / frame_bytes:.2f}x it"
    )
    print(
        f"  libraries alone ({LIBRARIES!r}): peak RSS {mib(libs.max_rss_bytes)} "
        f"= {libs.max_rss_bytes / frame_bytes:.2f}x the data frame"
    )
    results: dict = {
        "benchmark": "tick",
        "machine": machine(),
        "engine": fdoc["engine"],
        "rows": rows,
        "rounds": repeat,
        "layout": LAYOUT,
        "csv_bytes": size,
        "frame_bytes": frame_bytes,
        "libraries_rss_bytes": libs.max_rss_bytes,
        "floor": {
            "wall_s": floor_s,
            "wall_runs_s": [f.seconds for f in floors],
            "peak_rss_bytes": floor_rss,
            "train_rows": fdoc["train_rows"],
            **{k: median([d[k] for d in fdocs]) for k in ("import_s", "read_csv_s", "fit_s")},
        },
    }
    names = ("tick 1 (first ever: trains v1)", "tick 2 (fresh file: scores production, decides)")
    for i, runs in enumerate(ticks):
        results[f"tick{i + 1}"] = tick_report(names[i], runs, floor_s, frame_bytes)
    write_results(args.results, results)


if __name__ == "__main__":
    main()
