"""Drift detection on two 1,000,000-row, 20-column Parquet files: riskwatch, Evidently, NannyML.

In one benchmark run, on the same two files (bench/drift_data.py: 15 numeric and 5 categorical
columns; the current file drifts in 3 numeric columns, a mean shift of 0.5 std, and in the
frequencies of 1 categorical column; the other 16 are drawn as in the reference), each tool in
its own process (bench/drift_tools.py), interleaved round by round:

- riskwatch, cold: read the reference, fit its `ReferenceProfile`, read the current file,
  `detect` with the default thresholds (the reference is processed in the process, as the
  others must);
- riskwatch, warm: the profile already stored (fitted once beforehand, timed apart): read it,
  read the current file, detect. This is what the cron job does on every run;
- the riskwatch drift CLI: `riskwatch drift --reference R --current C --json`, the console
  script as a user runs it (bench/drift_floor.py);
- the floor: read both files, `np.sort` every numeric column of each once and count every
  categorical column of each once;
- Evidently 0.7: `Report([DataDriftPreset()])` run on the two files, with a `DataDefinition`
  naming the numeric and categorical columns; defaults otherwise;
- NannyML: `UnivariateDriftCalculator` with Kolmogorov-Smirnov and Wasserstein (numeric),
  chi2 and Jensen-Shannon (categorical), `chunk_number=1`, fit on the reference, calculate on
  the current file; default thresholds.

Every tool reads with `pandas.read_parquet` (pyarrow 26 everywhere). Times: the whole process
(start, imports, reading both files, the work, exit: the targets are on this), and inside it
the drift work alone (after the reads, up to the per-column result; for the cold ones the
reference's processing included). Memory: each process's peak RSS (wait4). Median over rounds.

Targets (issue 4), cold, whole process: riskwatch at least 20x faster than Evidently, at least
4x faster than NannyML, within 1.5x of the floor; its peak RSS at most half of Evidently's.
The warm path is reported beside them. What each tool flagged is printed against the truth.
Issue 9: the CLI within 1.5x of the floor too, and on a second data shape (`--shape const14`,
run after the first by default: 14 columns written by pandas, one constant; the floor,
riskwatch cold and the CLI only).

bench/.venv-drift is made from bench/requirements-drift.txt on the first run (and again when
that file changes); the project's .venv never gets either tool.

    .venv/bin/python bench/bench_drift.py [--quick] [--rows N] [--repeat N] [--results FILE]
        [--shape both|mixed20|const14]
"""

from __future__ import annotations

import argparse
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
from drift_data import LAYOUT
from drift_floor import NAMES, floor_ratios, rounds, run_tool, second_shape

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-drift"
REQUIREMENTS = HERE / "requirements-drift.txt"
TOOLS = ("floor", "riskwatch", "riskwatch_cli", "riskwatch_warm", "evidently", "nannyml")
FLAGGERS = ("riskwatch", "riskwatch_cli", "riskwatch_warm", "evidently", "nannyml")
TARGET_SPEEDUP = {"evidently": 20.0, "nannyml": 4.0}
TARGET_MEMORY = 0.5  # riskwatch's peak RSS at most this share of Evidently's
TIMES = ("wall_s", "inside_s", "import_s", "read_s", "drift_s")


def drift_python() -> Path:
    return tool_python(VENV, REQUIREMENTS)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["NML_DISABLE_USAGE_LOGGING"] = "1"  # NannyML: no usage events over the network
    env["DO_NOT_TRACK"] = "1"  # Evidently's telemetry
    return env


def outcome(flagged: set[str], truth: set[str]) -> str:
    tp, fp, fn = len(flagged & truth), len(flagged - truth), len(truth - flagged)
    return f"{tp} of {len(truth)} drifted found, {fp} false alarm{'s' * (fp != 1)}, {fn} missed"


def print_flags(first: dict[str, dict], made: dict) -> dict[str, dict]:
    """Per column: the truth and what each tool said; returns the counts per tool."""
    truth = set(made["drifted"])
    names = made["numeric"] + made["categorical"]
    nm = first["nannyml"]["columns"]
    nm_methods = ["kolmogorov_smirnov", "wasserstein", "chi2", "jensen_shannon"]
    short = {"kolmogorov_smirnov": "KS", "wasserstein": "W", "chi2": "chi2", "jensen_shannon": "JS"}
    head = ["column", "truth", "riskwatch", "(CLI)", "(warm)", "Evidently", "NannyML", "(methods)"]
    body = []
    for name in names:
        per = nm[name]["methods"]
        methods = " ".join(
            f"{short[m]}{'!' if per[m]['alert'] else '.'}" for m in nm_methods if m in per
        )
        body.append(
            [
                name,
                "DRIFT" if name in truth else "-",
                *("flag" if first[t]["columns"][name]["flagged"] else "-" for t in FLAGGERS),
                methods,
            ]
        )
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    print("\nflagged columns against the truth (flag: the tool says this column drifted):")
    for r in [head, *body]:
        print("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print("  NannyML by method: ! = that method's alert, . = none")
    counts = {}
    for t in FLAGGERS:
        flagged = set(first[t]["flagged"])
        counts[t] = {
            "flagged": sorted(flagged),
            "true_positives": len(flagged & truth),
            "false_positives": len(flagged - truth),
            "missed": len(truth - flagged),
        }
        print(f"  {NAMES[t]:<16} {outcome(flagged, truth)}")
    for m in nm_methods:
        flagged = {c for c in names if m in nm[c]["methods"] and nm[c]["methods"][m]["alert"]}
        counts[f"nannyml:{m}"] = {"flagged": sorted(flagged)}
        numeric = m in ("kolmogorov_smirnov", "wasserstein")
        of = len(made["numeric"] if numeric else made["categorical"])
        print(f"    NannyML {short[m]:<4} alone: {len(flagged)} of its {of} columns alert")
    thresholds = {
        m: {nm[c]["methods"][m]["upper_threshold"] for c in names if m in nm[c]["methods"]}
        for m in nm_methods
    }
    if any(v and max((x or 0) for x in v) < 1e-6 and None not in v for v in thresholds.values()):
        print(
            "  NannyML's default thresholds are the reference chunks' mean + 3 std of the method's"
        )
        print(
            "  value; with one chunk that is the reference against itself, about 0, so any"
            " nonzero\n  distance alerts. Its chi2 alerts on p < 0.05 whatever the thresholds."
        )
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 rows, once (a smoke test)")
    parser.add_argument("--rows", type=int, help="rows per file (default 1,000,000)")
    parser.add_argument("--repeat", type=int, help="rounds of the tools (default 3)")
    parser.add_argument("--workdir", help="keep the data under this folder")
    parser.add_argument("--results", help="write the figures to this JSON file")
    parser.add_argument(
        "--shape",
        choices=("both", "mixed20", "const14"),
        default="both",
        help="mixed20: every tool; const14: the floor, riskwatch and its CLI (default both)",
    )
    args = parser.parse_args()
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    repeat = max(1, args.repeat or (1 if args.quick else 3))
    if "numpy" in sys.modules:  # a child's ru_maxrss counts the pages its parent had at the fork
        raise SystemExit("bench_drift.py must not import numpy itself")
    if args.shape == "const14":
        where, remove = scratch_dir(args.workdir, "drift")
        try:
            second = second_shape(where, rows, repeat, child_env())
        finally:
            if remove:
                shutil.rmtree(where, ignore_errors=True)
        write_results(
            args.results,
            {"benchmark": "drift", "machine": machine(), "rows": rows, "rounds": repeat,
             "shapes": {"const14": second}},
        )  # fmt: skip
        return

    competitors = drift_python()
    python = {t: Path(PYTHON) for t in (*TOOLS, "riskwatch_fit")}
    python["evidently"] = python["nannyml"] = competitors
    where, remove = scratch_dir(args.workdir, "drift")
    try:
        where.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        made = (
            run_child(
                [PYTHON, str(HERE / "drift_data.py"), str(where), "--rows", str(rows)], cwd=HERE
            )
            .check("drift_data.py")
            .json()
        )
        print(f"data: {rows:,} rows per file, {LAYOUT}")
        print(
            f"  Parquet: reference {mib(made['reference_bytes'])}, current "
            f"{mib(made['current_bytes'])}, written in {time.perf_counter() - t0:.1f} s"
        )
        print("  the current file drifts in:")
        for column, how in made["how"].items():
            print(f"    {column:<8} {how}")
        print("  and nowhere else (16 columns drawn as in the reference, from another seed)")
        print(f"  load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        profile = where / "profile.npz"
        fit_out = where / "fit.json"
        fit = run_tool("riskwatch_fit", Path(PYTHON), where, fit_out, profile, child_env())
        print(
            f"  riskwatch profile fitted and stored beforehand (warm runs read it): process "
            f"{fit['wall_s']:.2f} s, fit {fit['steps_s']['fit']:.2f} s, "
            f"{fit['profile_bytes'] / 2**20:.1f} MiB on disk"
        )

        def run(tool: str, rep: int) -> dict:
            out = where / f"{tool}-{rep}.json"
            return run_tool(tool, python[tool], where, out, profile, child_env())

        runs = rounds(TOOLS, repeat, run)
        print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        second = second_shape(where, rows, repeat, child_env()) if args.shape == "both" else None
    finally:
        if remove:
            shutil.rmtree(where, ignore_errors=True)

    first = {t: runs[t][0] for t in TOOLS}
    for t in TOOLS:
        if any(r["flagged"] != first[t]["flagged"] for r in runs[t]):
            raise SystemExit(f"{NAMES[t]} flagged different columns in different rounds")
    counts = print_flags(first, made)

    # --- speed --------------------------------------------------------------------------------
    summary: dict[str, dict] = {}
    for t in TOOLS:
        rs = runs[t]
        steps = list(dict.fromkeys(s for r in rs for s in r["steps_s"]))  # in their order
        summary[t] = {  # the console script is timed as a whole process only
            "version": rs[0].get("version"),
            "pandas": rs[0].get("pandas"),
            **{k: median([r[k] for r in rs]) if k in rs[0] else None for k in TIMES},
            "steps_s": {s: median([r["steps_s"].get(s, 0.0) for r in rs]) for s in steps},
            "wall_runs_s": [r["wall_s"] for r in rs],
            "peak_rss_bytes": max(r["peak_rss_bytes"] for r in rs),
            "rss_after_import_bytes": max(r.get("rss_after_import_bytes", 0) for r in rs),
        }
    summary["riskwatch_fit"] = {
        "wall_s": fit["wall_s"],
        "steps_s": fit["steps_s"],
        "peak_rss_bytes": fit["peak_rss_bytes"],
        "profile_bytes": fit["profile_bytes"],
    }
    print(
        f"\ntimes (median of {repeat}; process = start to exit, drift = the work after the reads):"
    )
    print(
        f"  {'tool':<21}{'process':>9}{'import':>9}{'read':>8}{'drift':>9}   drift steps"
        f"{'':<22}{'peak RSS':>10}"
    )
    for t in TOOLS:
        s = summary[t]
        if s["import_s"] is None:  # the console script: its process only
            print(f"  {NAMES[t]:<21}{s['wall_s']:>7.2f} s{'':<68}{mib(s['peak_rss_bytes']):>10}")
            continue
        detail = ", ".join(
            f"{k} {v:.2f}" for k, v in s["steps_s"].items() if k not in ("import", "read")
        )
        print(
            f"  {NAMES[t]:<21}{s['wall_s']:>7.2f} s{s['import_s']:>7.2f} s{s['read_s']:>6.2f} s"
            f"{s['drift_s']:>7.2f} s   {detail:<33}{mib(s['peak_rss_bytes']):>10}"
        )
    rw, warm, floor = summary["riskwatch"], summary["riskwatch_warm"], summary["floor"]
    targets: dict[str, dict] = {}
    for t, want in TARGET_SPEEDUP.items():
        s = summary[t]
        speedup = s["wall_s"] / rw["wall_s"]
        targets[t] = {
            "speedup": speedup,
            "drift_speedup": s["drift_s"] / rw["drift_s"],
            "warm_speedup": s["wall_s"] / warm["wall_s"],
            "warm_drift_speedup": s["drift_s"] / warm["drift_s"],
            "target": want,
            "ok": speedup >= want,
        }
        x = targets[t]
        print(
            f"  riskwatch cold vs {NAMES[t]}: whole process {speedup:.1f}x faster (target >= "
            f"{want:g}x: {yes(x['ok'])}); drift work {x['drift_speedup']:.1f}x; warm: process "
            f"{x['warm_speedup']:.1f}x, drift work {x['warm_drift_speedup']:.1f}x"
        )
    print("  against the floor (whole process; the target is on the medians):")
    targets["floor"] = floor_ratios(runs, ("floor", "riskwatch", "riskwatch_cli", "riskwatch_warm"))
    targets["floor"]["ok"] = all(
        targets["floor"][t]["ok"] for t in ("riskwatch", "riskwatch_cli")
    )  # the warm path reads one file, the floor two: beside them, not a target

    # --- memory -------------------------------------------------------------------------------
    share = rw["peak_rss_bytes"] / summary["evidently"]["peak_rss_bytes"]
    targets["memory"] = {"share_of_evidently": share, "target": TARGET_MEMORY}
    targets["memory"]["ok"] = share <= TARGET_MEMORY
    targets["memory"]["warm_share_of_evidently"] = (
        warm["peak_rss_bytes"] / summary["evidently"]["peak_rss_bytes"]
    )
    print(
        f"\nmemory (peak RSS, highest of {repeat}): riskwatch cold {mib(rw['peak_rss_bytes'])} = "
        f"{share:.2f} of Evidently's {mib(summary['evidently']['peak_rss_bytes'])} (target <= "
        f"{TARGET_MEMORY:g}: {yes(share <= TARGET_MEMORY)}); warm "
        f"{mib(warm['peak_rss_bytes'])}; NannyML {mib(summary['nannyml']['peak_rss_bytes'])}; "
        f"floor {mib(floor['peak_rss_bytes'])}"
    )
    print(
        f"  data frames in memory (deep, pandas {floor['pandas']}): reference "
        f"{mib(first['floor']['frame_bytes'][0])}, current {mib(first['floor']['frame_bytes'][1])}"
    )
    print(
        "  versions: "
        + "; ".join(
            f"{NAMES[t]} {summary[t]['version']} (pandas {summary[t]['pandas']})"
            for t in ("riskwatch", "evidently", "nannyml")
        )
    )

    write_results(
        args.results,
        {
            "benchmark": "drift",
            "machine": machine(),
            "rows": rows,
            "rounds": repeat,
            "layout": LAYOUT,
            "truth": {"drifted": made["drifted"], "how": made["how"]},
            "frame_bytes": first["floor"]["frame_bytes"],
            "flags": counts,
            "tools": summary,
            "targets": targets,
            "shapes": {"const14": second} if second else {},
        },
    )


if __name__ == "__main__":
    main()
