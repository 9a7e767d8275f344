"""Run every benchmark, one after the other, and print their figures against the targets.

    .venv/bin/python bench/run_all.py [--quick] [--markdown]

`--quick` is forwarded (small sizes: a smoke test, not figures to quote). `--markdown` prints
the table in the form bench/README.md quotes. Exit code 1 when a benchmark could not run; a
missed target is a figure to report, not a failure of the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("bench_noop.py", "bench_tick.py", "bench_quality.py", "bench_drift.py")


def run(script: str, quick: bool, results: Path) -> bool:
    argv = [sys.executable, str(HERE / script), "--results", str(results)]
    if quick:
        argv.append("--quick")
    print(f"=== {script}{' --quick' if quick else ''}", flush=True)
    t0 = time.perf_counter()
    ok = subprocess.run(argv).returncode == 0
    print(f"=== {script}: {'done' if ok else 'FAILED'} in {time.perf_counter() - t0:.0f} s\n")
    return ok


def rows(
    noop: dict | None, tick: dict | None, quality: dict | None = None
) -> list[tuple[str, str, str, str]]:
    """(figure, value, target, holds) for every figure the issue sets a target on."""

    def holds(flag: bool) -> str:
        return "yes" if flag else "NO"

    out: list[tuple[str, str, str, str]] = []
    if noop:
        out += [
            (
                f"no-op tick, {noop['files']} files known (median of {noop['runs']})",
                f"{noop['noop_median_s']:.3f} s",
                "",
                "",
            ),
            (
                "python -c 'import pandas, sklearn' (median)",
                f"{noop['import_median_s']:.3f} s",
                "",
                "",
            ),
            ("no-op / import", f"{noop['ratio']:.2f}", "< 0.33", holds(noop["ratio_ok"])),
            (
                "no-op imports pandas, numpy or sklearn",
                "yes" if noop["heavy_modules_imported"] else "no",
                "no",
                holds(noop["imports_ok"]),
            ),
        ]
    if tick:
        frame = tick["frame_bytes"]
        out += [
            (
                f"floor: read_csv + fit, {tick['rows']:,} rows",
                f"{tick['floor']['wall_s']:.1f} s, {tick['floor']['peak_rss_bytes'] / 2**20:,.0f} "
                f"MiB ({tick['floor']['peak_rss_bytes'] / frame:.1f}x frame)",
                "",
                "",
            ),
            ("data frame in memory (deep)", f"{frame / 2**20:,.0f} MiB", "", ""),
        ]
        for key, what in (("tick1", "tick 1 (trains v1)"), ("tick2", "tick 2 (scores, decides)")):
            if key not in tick:
                continue
            t = tick[key]
            out += [
                (
                    f"{what}: wall / floor",
                    f"{t['wall_s']:.1f} s = {t['ratio_to_floor']:.2f}x",
                    "<= 2x",
                    holds(t["ratio_ok"]),
                ),
                (
                    f"{what}: peak RSS / frame",
                    f"{t['peak_rss_bytes'] / 2**20:,.0f} MiB = {t['rss_to_frame']:.1f}x",
                    "< 4x",
                    holds(t["rss_ok"]),
                ),
            ]
    if quality:
        out += quality_rows(quality)
    return out


def quality_rows(q: dict) -> list[tuple[str, str, str, str]]:
    """The quality gate against Great Expectations and pandera (bench_quality.py)."""
    tools, frame = q["tools"], q["frame_bytes"]
    rw, ge, pa = tools["riskwatch"], tools["great_expectations"], tools["pandera"]
    mem = q["memory"]

    def holds(flag: bool) -> str:
        return "yes" if flag else "NO"

    out = [
        (
            f"quality: data frame in memory (deep), {q['rows']:,} rows x 20",
            f"{frame / 2**20:,.0f} MiB",
            "",
            "",
        ),
        (
            "quality: validation call, riskwatch / GE / pandera (median)",
            f"{rw['validate_s']:.2f} s / {ge['validate_s']:.2f} s / {pa['validate_s']:.2f} s",
            "",
            "",
        ),
        (
            "quality: whole process, riskwatch / GE / pandera (median)",
            f"{rw['wall_s']:.2f} s / {ge['wall_s']:.2f} s / {pa['wall_s']:.2f} s",
            "",
            "",
        ),
    ]
    for key, name in (("great_expectations", "Great Expectations"), ("pandera", "pandera")):
        s = q["speedup"][key]
        out.append(
            (
                f"quality: riskwatch faster than {name} (validation; whole process)",
                f"{s['speedup']:.1f}x; {s['process_speedup']:.1f}x",
                f">= {s['target']:g}x",
                holds(s["ok"]),
            )
        )
    out += [
        (
            "quality: riskwatch validation's own peak RSS / frame",
            f"{rw['validate_extra_bytes'] / 2**20:,.0f} MiB = {mem['validate_own_to_frame']:.2f}x",
            "< 2x",
            holds(mem["validate_own_ok"]),
        ),
        (
            "quality: riskwatch whole-process peak RSS / frame (read alone)",
            f"{rw['peak_rss_bytes'] / 2**20:,.0f} MiB = {mem['process_to_frame']:.2f}x "
            f"({mem['read_to_frame']:.2f}x)",
            "< 2x",
            holds(mem["process_ok"]),
        ),
    ]
    return out


def drift_rows(d: dict | None) -> list[tuple[str, str, str, str]]:
    """Drift detection against Evidently and NannyML (bench_drift.py)."""
    if not d:
        return []
    tools, targets, flags = d["tools"], d["targets"], d["flags"]
    rw, warm, floor = tools["riskwatch"], tools["riskwatch_warm"], tools["floor"]
    ev, nm = tools["evidently"], tools["nannyml"]

    def holds(flag: bool) -> str:
        return "yes" if flag else "NO"

    def found(key: str) -> str:
        f = flags[key]
        return f"{f['true_positives']}/{len(d['truth']['drifted'])}, {f['false_positives']} FP"

    out = [
        (
            f"drift: whole process, {d['rows']:,} rows a side, riskwatch cold / warm / floor",
            f"{rw['wall_s']:.2f} s / {warm['wall_s']:.2f} s / {floor['wall_s']:.2f} s",
            "",
            "",
        ),
        (
            "drift: whole process, Evidently / NannyML",
            f"{ev['wall_s']:.1f} s / {nm['wall_s']:.1f} s",
            "",
            "",
        ),
    ]
    for key, name in (("evidently", "Evidently"), ("nannyml", "NannyML")):
        t = targets[key]
        out.append(
            (
                f"drift: riskwatch cold faster than {name} (process; warm)",
                f"{t['speedup']:.1f}x; {t['warm_speedup']:.1f}x",
                f">= {t['target']:g}x",
                holds(t["ok"]),
            )
        )
    mem = targets["memory"]
    out += [
        (
            "drift: riskwatch cold / floor (read both, sort numeric columns)",
            f"{targets['floor']['ratio']:.2f}x",
            f"<= {targets['floor']['target']:g}x",
            holds(targets["floor"]["ok"]),
        ),
        (
            "drift: riskwatch cold peak RSS / Evidently's",
            f"{rw['peak_rss_bytes'] / 2**20:,.0f} / {ev['peak_rss_bytes'] / 2**20:,.0f} MiB = "
            f"{mem['share_of_evidently']:.2f}",
            f"<= {mem['target']:g}",
            holds(mem["ok"]),
        ),
        (
            "drift: drifted columns found, false alarms: riskwatch / Evidently / NannyML",
            f"{found('riskwatch')} / {found('evidently')} / {found('nannyml')}",
            "",
            "",
        ),
    ]
    return out


def print_table(table: list[tuple[str, str, str, str]], markdown: bool) -> None:
    head = ("figure", "value", "target", "holds")
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|---|---:|---|---|")
        for r in table:
            print("| " + " | ".join(r) + " |")
        return
    widths = [max(len(r[i]) for r in [head, *table]) for i in range(4)]
    for r in [head, *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()

    found: dict[str, dict | None] = {}
    failed = []
    with tempfile.TemporaryDirectory(prefix="riskwatch-bench-") as tmp:
        for script in BENCHMARKS:
            results = Path(tmp) / f"{script}.json"
            if run(script, args.quick, results) and results.is_file():
                found[script] = json.loads(results.read_text())
            else:
                found[script] = None
                failed.append(script)

    m = machine()
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    print(
        f"machine: {m['nproc']} CPUs ({m['cpu']}), {m['ram_gib']} GiB RAM, Python {m['python']}"
        f" ({libs})" + ("; --quick: small sizes, not figures to quote" if args.quick else "")
    )
    table = rows(found["bench_noop.py"], found["bench_tick.py"], found["bench_quality.py"])
    table += drift_rows(found["bench_drift.py"])
    print_table(table, args.markdown)
    if failed:
        print(f"failed to run: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
