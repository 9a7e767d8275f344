"""The quality gate on one 1,000,000-row, 20-column file: riskwatch, Great Expectations, pandera.

In one benchmark run, on the same file, against the same checks, each tool in its own process
(bench/quality_tools.py), interleaved round by round:

- riskwatch: `pipeline.ingest.checks.check_frame(frame, contract)`, in the project's environment;
- Great Expectations 1.x: one ExpectationSuite run by a ValidationDefinition on the whole frame
  (an ephemeral context, a pandas data source), in bench/.venv-competitors;
- pandera: one DataFrameSchema, `validate(frame, lazy=True)` so it collects every failure, in
  bench/.venv-competitors.

The contract is inferred by riskwatch from the clean file (bench/quality_data.py); the checks
of all three are made from that one contract.toml: header, type, missing value, range, category,
label, unique id, duplicate row. The copy they validate has 0.1% of its rows broken per problem
(out of range, unknown category, text in a numeric column, missing required value, reused id,
invalid label). The findings of each tool are printed side by side, per check, with what was
injected, to show they checked the same things.

Times: the validation call alone (set-up of the suite or schema excluded) and the whole process
(start-up, imports, reading the CSV, set-up, validation), median over the rounds. Memory: the
process's peak RSS (wait4, and the child's own VmHWM before it resets it for the call), and the
validation's own peak above the RSS it started from; both against the data frame's in-memory
size (`df.memory_usage(deep=True).sum()`).

Targets (issue 3): riskwatch's validation at least 10x faster than Great Expectations' and at
least 2x faster than pandera's, with peak memory under 2x the data frame.

bench/.venv-competitors is made from bench/requirements-bench.txt on the first run (and again
when that file changes); the project's .venv never gets either tool.

    .venv/bin/python bench/bench_quality.py [--quick] [--rows N] [--repeat N] [--results FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

from _common import (
    PYTHON,
    machine,
    median,
    mib,
    run_child,
    scratch_dir,
    tool_python,
    write_results,
    yes,
)
from quality_data import PROBLEMS
from wide_data import LAYOUT

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-competitors"
REQUIREMENTS = HERE / "requirements-bench.txt"
TOOLS = ("riskwatch", "great_expectations", "pandera")
NAMES = {"riskwatch": "riskwatch", "great_expectations": "Great Expectations", "pandera": "pandera"}
TARGET_SPEEDUP = {"great_expectations": 10.0, "pandera": 2.0}
TARGET_MEMORY = 2.0  # x the data frame
TIMES = ("validate_s", "validate_cpu_s", "wall_s", "import_s", "read_s", "setup_s", "findings_s")
MEMORY = (  # highest of the rounds
    "peak_rss_bytes",
    "peak_before_validate_bytes",
    "peak_validate_bytes",
    "validate_extra_bytes",
    "rss_after_import_bytes",
    "rss_after_read_bytes",
)


def competitors_python() -> Path:
    return tool_python(VENV, REQUIREMENTS)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["GX_ANALYTICS_ENABLED"] = "false"  # no usage events over the network while timed
    return env


def run_tool(tool: str, python: Path, data: Path, contract: Path, out: Path) -> dict:
    argv = [str(python), str(HERE / "quality_tools.py"), tool, str(data), str(contract), str(out)]
    child = run_child(argv, cwd=HERE, env=child_env()).check(NAMES[tool])
    doc = json.loads(out.read_text())
    doc["wall_s"] = child.seconds
    # The child resets its peak before the validation call; wait4 sees the peak after that.
    doc["peak_rss_bytes"] = max(child.max_rss_bytes, doc["peak_before_validate_bytes"])
    if doc["peak_validate_bytes"] is None:  # the reset was refused: only the process's peak
        doc["peak_validate_bytes"] = doc["peak_rss_bytes"]
    doc["validate_extra_bytes"] = doc["peak_validate_bytes"] - doc["rss_before_validate_bytes"]
    return doc


def findings_table(runs: dict[str, dict], injected: dict) -> list[tuple[str, str, list[str]]]:
    """(check, column, [injected, riskwatch, GE, pandera]) for every check that found anything."""
    expected = {(p, v["column"]): v["rows"] for p, v in injected["problems"].items()}
    found = {t: {(c, col): n for c, col, n in runs[t]["findings"]} for t in runs}
    keys: list[tuple[str, str]] = list(expected)
    for t in runs:
        keys += [k for k in found[t] if found[t][k] != 0 and k not in keys]
    out = []
    for key in keys:
        cells = [f"{expected[key]:,}" if key in expected else "0"]
        for t in runs:
            n = found[t].get(key, 0)
            cells.append(f"{n:,}" if isinstance(n, int) else n)
        out.append((key[0], key[1], cells))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, once (a smoke test)")
    parser.add_argument("--rows", type=int, help="rows in the file (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="rounds of the three tools (default 3)")
    parser.add_argument("--workdir", help="keep the data under this folder")
    parser.add_argument("--results", help="write the figures to this JSON file")
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    repeat = max(1, args.repeat or (1 if args.quick else 3))
    if "numpy" in sys.modules:  # a child's ru_maxrss counts the pages its parent had at the fork
        raise SystemExit("bench_quality.py must not import numpy itself")

    python = {"riskwatch": Path(PYTHON)}
    python["great_expectations"] = python["pandera"] = competitors_python()
    where, remove = scratch_dir(args.workdir, "quality")
    try:
        where.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        made = run_child(
            [PYTHON, str(HERE / "quality_data.py"), str(where), "--rows", str(rows)], cwd=HERE
        ).check("quality_data.py")
        injected = json.loads(made.stdout)
        data, contract = where / "dirty.csv", where / "contract.toml"
        print(f"data: {rows:,} rows, {LAYOUT}")
        print(
            f"  CSV of {mib(injected['dirty_bytes'])}, contract inferred from the clean file, "
            f"written in {time.perf_counter() - t0:.1f} s"
        )
        per = next(iter(injected["problems"].values()))["rows"]
        print(f"  injected, {per:,} rows each ({len(PROBLEMS)} x {per:,} distinct rows):")
        for problem, p in injected["problems"].items():
            print(f"    {problem:<17} {p['column']:<12} {p['value']!r:<24} {p['why']}")
        print(f"  load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        runs: dict[str, list[dict]] = {t: [] for t in TOOLS}
        for rep in range(repeat):
            order = TOOLS[rep % 3 :] + TOOLS[: rep % 3]  # each tool goes first once in 3 rounds
            for tool in order:
                out = where / f"{tool}-{rep}.json"
                runs[tool].append(run_tool(tool, python[tool], data, contract, out))
            print(
                f"  round {rep + 1}/{repeat}: "
                + ", ".join(
                    f"{NAMES[t]} {runs[t][-1]['validate_s']:.2f} s "
                    f"(process {runs[t][-1]['wall_s']:.2f} s)"
                    for t in TOOLS
                ),
                flush=True,
            )
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if remove:
            shutil.rmtree(where, ignore_errors=True)

    first = {t: runs[t][0] for t in TOOLS}
    for t in TOOLS:
        if any(r["findings"] != first[t]["findings"] for r in runs[t]):
            raise SystemExit(f"{NAMES[t]} found different things in different rounds")
    frame = first["riskwatch"]["frame_bytes"]
    if any(first[t]["frame_bytes"] != frame for t in TOOLS):
        sizes = {t: first[t]["frame_bytes"] for t in TOOLS}
        raise SystemExit(f"the tools read different data frames (bytes): {sizes}")

    # --- what each found ----------------------------------------------------------------------
    checks = first["riskwatch"]["checks"]
    table = findings_table(first, injected)
    head = ["check", "column", "injected", *(NAMES[t] for t in TOOLS)]
    body = [[c, col, *cells] for c, col, cells in table]
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    print(f"\nfindings: rows failing each check ({checks} checks made from the contract in all):")
    for r in [head, *body]:
        line = [r[i].ljust(w) if i < 2 else r[i].rjust(w) for i, w in enumerate(widths)]
        print("  " + "  ".join(line))
    print(f"  the other {checks - len(table)} checks: no failure in any tool")
    invalid = {t: first[t]["rows_invalid"] for t in TOOLS}
    print(
        "  rows with at least one problem: "
        + ", ".join(
            f"{NAMES[t]} {'(not reported)' if n is None else f'{n:,}'}" for t, n in invalid.items()
        )
        + f"; injected {injected['rows_with_a_problem']:,}"
    )
    cells = {cell for _, _, cs in table for cell in cs}
    if "column" in cells:
        print("  column: the check failed the column as a whole, without counting rows")
        print("    (Great Expectations' type check looks at the column's dtype; pandera's range")
        print("    check after a failed type coercion)")
    if "error" in cells:
        print("  error: the check raised and was reported as failed (a range check on text)")
    if any(c == "duplicate_id" and n for c, _, n in first["great_expectations"]["findings"]):
        print("  duplicate_id: Great Expectations counts every row of a reused id (both of a")
        print("    pair); riskwatch and pandera (report_duplicates='exclude_first') the later one")

    # --- speed --------------------------------------------------------------------------------
    summary: dict[str, dict] = {}
    for t in TOOLS:
        rs = runs[t]
        summary[t] = {
            "version": rs[0]["version"],
            **{k: median([r[k] for r in rs]) for k in TIMES},
            "validate_runs_s": [r["validate_s"] for r in rs],
            "wall_runs_s": [r["wall_s"] for r in rs],
            **{k: max(r[k] for r in rs) for k in MEMORY},
            "rows_invalid": rs[0]["rows_invalid"],
        }
    rw = summary["riskwatch"]
    print(f"\ntimes (median of {repeat}; validation = the call alone, process = start to exit):")
    print(
        f"  {'tool':<19}{'validation':>11}{'(its CPU)':>10}{'process':>10}{'import':>9}"
        f"{'read':>8}{'set-up':>8}"
    )
    for t in TOOLS:
        s = summary[t]
        print(
            f"  {NAMES[t]:<19}{s['validate_s']:>9.2f} s{s['validate_cpu_s']:>8.2f} s"
            f"{s['wall_s']:>8.2f} s{s['import_s']:>7.2f} s{s['read_s']:>6.2f} s"
            f"{s['setup_s']:>6.2f} s"
        )
    targets: dict[str, dict] = {}
    for t, want in TARGET_SPEEDUP.items():
        s = summary[t]
        speedup = s["validate_s"] / rw["validate_s"]
        cpu = s["validate_cpu_s"] / rw["validate_cpu_s"]
        process = s["wall_s"] / rw["wall_s"]
        targets[t] = {
            "speedup": speedup,
            "cpu_speedup": cpu,
            "process_speedup": process,
            "target": want,
            "ok": speedup >= want,
        }
        print(
            f"  riskwatch vs {NAMES[t]}: validation {speedup:.1f}x faster (target >= {want:g}x: "
            f"{yes(speedup >= want)}); in CPU time {cpu:.1f}x; whole process {process:.1f}x"
        )

    # --- memory -------------------------------------------------------------------------------
    print(f"\nmemory (highest of {repeat}), against the data frame in memory, {mib(frame)} (deep):")
    print(
        f"  {'tool':<19}{'after import':>13}{'after read':>12}{'process peak':>20}"
        f"{'validation peak':>22}{'validation own':>21}"
    )
    for t in TOOLS:
        s = summary[t]
        print(
            f"  {NAMES[t]:<19}{mib(s['rss_after_import_bytes']):>13}"
            f"{mib(s['rss_after_read_bytes']):>12}"
            f"{mib(s['peak_rss_bytes']):>13} ={s['peak_rss_bytes'] / frame:>5.2f}x"
            f"{mib(s['peak_validate_bytes']):>15} ={s['peak_validate_bytes'] / frame:>5.2f}x"
            f"{mib(s['validate_extra_bytes']):>14} ={s['validate_extra_bytes'] / frame:>5.2f}x"
        )
    print("  validation peak: the highest RSS during the call (libraries and frame included);")
    print("  validation own: that peak less the RSS just before the call")
    own = rw["validate_extra_bytes"] / frame
    whole = rw["peak_rss_bytes"] / frame
    read_only = rw["peak_before_validate_bytes"] / frame
    print(
        f"  riskwatch: validation's own peak {own:.2f}x the frame (target < {TARGET_MEMORY:g}x: "
        f"{yes(own < TARGET_MEMORY)}); whole process {whole:.2f}x (target < {TARGET_MEMORY:g}x: "
        f"{yes(whole < TARGET_MEMORY)}), of which importing and reading the file alone reach "
        f"{read_only:.2f}x"
    )
    print(
        "  versions: "
        + "; ".join(f"{NAMES[t]} {summary[t]['version']}" for t in TOOLS)
        + f"; pandas {first['riskwatch']['pandas']} in both environments"
    )

    write_results(
        args.results,
        {
            "benchmark": "quality",
            "machine": machine(),
            "rows": rows,
            "rounds": repeat,
            "layout": LAYOUT,
            "csv_bytes": injected["dirty_bytes"],
            "frame_bytes": frame,
            "injected": injected,
            "checks": checks,
            "findings": {t: first[t]["findings"] for t in TOOLS},
            "tools": summary,
            "speedup": targets,
            "memory": {
                "validate_own_to_frame": own,
                "validate_own_ok": own < TARGET_MEMORY,
                "process_to_frame": whole,
                "process_ok": whole < TARGET_MEMORY,
                "read_to_frame": read_only,
            },
        },
    )


if __name__ == "__main__":
    main()
