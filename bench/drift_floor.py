"""The drift benchmark's floor comparisons, on any data shape: what `bench_drift.py` runs for
the console script (`riskwatch drift --reference R --current C --json`, a real process, start-up
included, as a user runs it) and for its second data shape.

The floor is `drift_tools.py floor`: read both files, sort each numeric column once, count each
categorical column once. Issue 9, point 11: the ad-hoc comparison within 1.5x of that floor
on more than the benchmark's own data. `const14` (`drift_data_const14.py`) is the second shape:
14 columns written by pandas, one of them constant, float32 and int32 columns, a `category` one.
Standard library only (the timing parent never holds the data).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from _common import PYTHON, median, riskwatch_command, run_child, yes

HERE = Path(__file__).resolve().parent
TARGET_FLOOR = 1.5  # riskwatch cold, and the console script, within this much of the floor
FLOOR_TOOLS = ("floor", "riskwatch", "riskwatch_cli")
NAMES = {
    "floor": "floor (read + sort + count)",
    "riskwatch": "riskwatch cold",
    "riskwatch_cli": "riskwatch drift CLI",
    "riskwatch_warm": "riskwatch warm",
    "riskwatch_fit": "riskwatch fit+store",
    "evidently": "Evidently",
    "nannyml": "NannyML",
}


def run_cli(data: Path) -> dict:
    """`riskwatch drift --reference --current --json` as a user runs it: the whole process."""
    argv = [
        *riskwatch_command(),
        "drift",
        "--reference",
        str(data / "reference.parquet"),
        "--current",
        str(data / "current.parquet"),
        "--json",
    ]
    child = run_child(argv, cwd=HERE).check(NAMES["riskwatch_cli"])
    doc = child.json()
    columns = {
        c["column"]: {"flagged": bool(c["drifted"]), "status": c["status"]} for c in doc["columns"]
    }
    return {
        "tool": "riskwatch_cli",
        "wall_s": child.seconds,
        "peak_rss_bytes": child.max_rss_bytes,
        "columns": columns,
        "flagged": sorted(c for c, v in columns.items() if v["flagged"]),
        "status": doc.get("status"),  # an engine from before the status: none
        "steps_s": {},
    }


def run_tool(tool: str, python: Path, data: Path, out: Path, profile: Path, env: dict) -> dict:
    """One tool in its own process: `drift_tools.py TOOL`, or the console script."""
    if tool == "riskwatch_cli":
        return run_cli(data)
    argv = [str(python), str(HERE / "drift_tools.py"), tool, str(data), str(out), str(profile)]
    child = run_child(argv, cwd=HERE, env=env).check(NAMES[tool])
    doc = json.loads(out.read_text())
    doc["wall_s"] = child.seconds
    doc["peak_rss_bytes"] = max(child.max_rss_bytes, doc["peak_inside_bytes"])
    return doc


def rounds(tools: tuple[str, ...], repeat: int, run) -> dict[str, list[dict]]:
    """`repeat` rounds of every tool, each tool first in turn; `run(tool, rep)` runs one."""
    runs: dict[str, list[dict]] = {t: [] for t in tools}
    for rep in range(repeat):
        k = rep % len(tools)
        for tool in tools[k:] + tools[:k]:
            runs[tool].append(run(tool, rep))
        print(
            f"  round {rep + 1}/{repeat}: "
            + ", ".join(f"{NAMES[t]} {runs[t][-1]['wall_s']:.2f} s" for t in tools),
            flush=True,
        )
    return runs


def floor_ratios(runs: dict[str, list[dict]], tools: tuple[str, ...]) -> dict[str, dict]:
    """Each tool's whole process against the floor's, per round (same round) and their median."""
    out = {}
    for t in tools:
        if t == "floor":
            continue
        per_round = [r["wall_s"] / f["wall_s"] for r, f in zip(runs[t], runs["floor"], strict=True)]
        ratio = median([r["wall_s"] for r in runs[t]]) / median(
            [f["wall_s"] for f in runs["floor"]]
        )
        out[t] = {
            "ratio": ratio,
            "round_ratios": per_round,
            "target": TARGET_FLOOR,
            "ok": ratio <= TARGET_FLOOR,
        }
        print(
            f"  {NAMES[t]} / floor: {ratio:.2f}x of medians (rounds: "
            f"{', '.join(f'{x:.2f}' for x in per_round)}; target <= {TARGET_FLOOR:g}x: "
            f"{yes(ratio <= TARGET_FLOOR)})"
        )
    return out


def second_shape(where: Path, rows: int, repeat: int, env: dict) -> dict:
    """The const14 shape: data, rounds of the floor, riskwatch cold and the console script."""
    data = where / "const14"
    made = (
        run_child(
            [PYTHON, str(HERE / "drift_data.py"), str(data), "--rows", str(rows), "--shape",
             "const14"],
            cwd=HERE,
        )
        .check("drift_data.py --shape const14")
        .json()
    )  # fmt: skip
    from drift_data_const14 import LAYOUT_CONST14

    print(f"\nsecond shape: {rows:,} rows per file, {LAYOUT_CONST14}")
    print(f"  drifts in: {', '.join(f'{c} ({h})' for c, h in made['how'].items())}")
    print(f"  load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    profile = data / "profile.npz"

    def run(tool: str, rep: int) -> dict:
        return run_tool(tool, Path(PYTHON), data, data / f"{tool}-{rep}.json", profile, env)

    runs = rounds(FLOOR_TOOLS, repeat, run)
    print(f"  load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    truth = set(made["drifted"])
    flags = {}
    for t in ("riskwatch", "riskwatch_cli"):
        flagged = set(runs[t][0]["flagged"])
        flags[t] = {"flagged": sorted(flagged), "false_positives": len(flagged - truth)}
        constant = runs[t][0]["columns"]["const_flag"]["status"]
        print(
            f"  {NAMES[t]}: flagged {', '.join(sorted(flagged)) or 'nothing'} (truth: "
            f"{', '.join(sorted(truth))}); const_flag: {constant}"
        )
    print(f"  whole process, median of {repeat}:")
    for t in FLOOR_TOOLS:
        print(f"    {NAMES[t]:<28}{median([r['wall_s'] for r in runs[t]]):>7.2f} s")
    return {
        "layout": LAYOUT_CONST14,
        "truth": {"drifted": made["drifted"], "how": made["how"]},
        "wall_runs_s": {t: [r["wall_s"] for r in runs[t]] for t in FLOOR_TOOLS},
        "flags": flags,
        "floor": floor_ratios(runs, FLOOR_TOOLS),
    }
