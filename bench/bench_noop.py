"""The no-op tick: nothing new in an inbox of 1,000 files already ingested.

Measured side by side, interleaved, in the same run, as whole processes:

- `riskwatch run --json` when nothing is new (the cron tick that happens most often);
- `python -c "import pandas, sklearn"` with the same interpreter (what any tool that loads its
  data stack to find out there is nothing to do pays at least);
- `python -c pass`, the interpreter's own start-up, for context.

Target (issue 2): the no-op takes less than a third of the import, and imports neither pandas,
numpy nor scikit-learn (checked with `python -X importtime`).

    .venv/bin/python bench/bench_noop.py [--quick] [--files N] [--repeat N] [--results FILE]
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import shutil
from pathlib import Path

from _common import (
    PYTHON,
    machine,
    median,
    new_project,
    riskwatch_command,
    run_child,
    scratch_dir,
    write_results,
    yes,
)

HEAVY = ("pandas", "numpy", "sklearn")
ROWS_PER_FILE = 30
REGIONS = ("north", "south", "east", "west")


def write_inbox(source: Path, files: int, seed: int) -> int:
    """Write `files` small labelled CSV files (6 columns); return the number of rows."""
    rng = random.Random(seed)
    header = ["corporation", "activity", "employees", "tenure", "region", "exited"]
    rows = 0
    for i in range(files):
        with (source / f"batch-{i:05d}.csv").open("w", newline="") as fh:
            out = csv.writer(fh)
            out.writerow(header)
            for j in range(ROWS_PER_FILE):
                activity = rng.gauss(0, 1)
                employees = rng.randint(1, 5000)
                tenure = round(rng.uniform(0, 30), 2)
                logit = -1.0 - 1.5 * activity + 0.8 * (tenure < 2)
                exited = int(rng.random() < 1 / (1 + math.exp(-logit)))
                out.writerow(
                    [f"C{i:05d}-{j:03d}", f"{activity:.5f}", employees, tenure,
                     rng.choice(REGIONS), exited]
                )  # fmt: skip
                rows += 1
    return rows


def heavy_imports(importtime_stderr: str) -> list[str]:
    """Modules of pandas, numpy or scikit-learn named in `python -X importtime` output."""
    found = []
    for line in importtime_stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        name = line.rsplit("|", 1)[1].strip()
        if name.split(".")[0] in HEAVY:
            found.append(name)
    return found


def imported_modules(importtime_stderr: str) -> int:
    return sum(
        1
        for line in importtime_stderr.splitlines()
        if line.startswith("import time:") and "|" in line and "self [us]" not in line
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 files, 7 runs (a smoke test)")
    parser.add_argument("--files", type=int, help="files in the inbox (default 1000)")
    parser.add_argument("--repeat", type=int, help="timed runs of each command (default 11)")
    parser.add_argument("--workdir", help="keep the scratch project under this folder")
    parser.add_argument("--results", help="write the figures to this JSON file")
    args = parser.parse_args()
    files = args.files or (50 if args.quick else 1000)
    repeat = max(7, args.repeat or (7 if args.quick else 11))

    where, remove = scratch_dir(args.workdir, "noop")
    try:
        project = new_project(where)
        rows = write_inbox(project / "sourcedata", files, seed=7)
        rw = riskwatch_command()

        # One tick takes all the files at once (and trains model v1 on them).
        first = run_child([*rw, "run", "--json"], cwd=project).check("the ingesting tick")
        summary = first.json()
        if summary["new_files"] != files or summary["files_quarantined"]:
            raise SystemExit(f"set-up tick did not ingest all {files} files: {summary}")
        print(
            f"set-up: {files} CSV files ({rows:,} rows, 6 columns) ingested by one tick "
            f"in {first.seconds:.1f} s; production model v{summary['production_version']}"
        )

        noop_argv = [*rw, "run", "--json"]
        import_argv = [PYTHON, "-c", "import pandas, sklearn"]
        bare_argv = [PYTHON, "-c", "pass"]
        # Warm the page cache for all three before anything is timed.
        for argv in (noop_argv, import_argv, bare_argv):
            run_child(argv, cwd=project).check(" ".join(argv))

        noop, imp, bare = [], [], []
        for _ in range(repeat):  # interleaved, so a slow moment of the machine hits all three
            child = run_child(noop_argv, cwd=project).check("the no-op tick")
            if child.json()["status"] != "noop" or f"{files} known file" not in child.stderr:
                raise SystemExit(f"expected a no-op over {files} known files:\n{child.stderr}")
            noop.append(child.seconds)
            imp.append(run_child(import_argv, cwd=project).check("import").seconds)
            bare.append(run_child(bare_argv, cwd=project).check("python -c pass").seconds)

        traced = run_child(
            [PYTHON, "-X", "importtime", rw[0], "run", "--json"]
            if len(rw) == 1
            else [PYTHON, "-X", "importtime", *rw[1:], "run", "--json"],
            cwd=project,
        ).check("the no-op tick under -X importtime")
        if traced.json()["status"] != "noop":
            raise SystemExit("the -X importtime tick was not a no-op")
        heavy = heavy_imports(traced.stderr)
        if imported_modules(traced.stderr) == 0:
            raise SystemExit("-X importtime printed nothing: cannot check the imports")
        noop_rss = run_child(noop_argv, cwd=project).check("the no-op tick").max_rss_bytes
    finally:
        if remove:
            shutil.rmtree(where, ignore_errors=True)

    m_noop, m_imp, m_bare = median(noop), median(imp), median(bare)
    ratio = m_noop / m_imp
    results = {
        "benchmark": "noop",
        "machine": machine(),
        "files": files,
        "runs": repeat,
        "noop_median_s": m_noop,
        "noop_runs_s": noop,
        "import_median_s": m_imp,
        "import_runs_s": imp,
        "python_startup_median_s": m_bare,
        "ratio": ratio,
        "target_ratio": 1 / 3,
        "ratio_ok": ratio < 1 / 3,
        "noop_peak_rss_bytes": noop_rss,
        "modules_imported": imported_modules(traced.stderr),
        "heavy_modules_imported": heavy,
        "imports_ok": not heavy,
    }
    print(f"inbox: {files} files, all already ingested; {repeat} interleaved runs of each")
    print(f"  riskwatch run (no-op)              median {m_noop:6.3f} s  (min {min(noop):.3f})")
    print(f"  python -c 'import pandas, sklearn' median {m_imp:6.3f} s  (min {min(imp):.3f})")
    print(f"  python -c pass (start-up, context) median {m_bare:6.3f} s")
    print(f"  ratio no-op / import: {ratio:.3f}  (target < 0.333: {yes(ratio < 1 / 3)})")
    print(
        f"  no-op imports pandas/numpy/sklearn: {'yes' if heavy else 'no'} "
        f"({results['modules_imported']} modules imported; "
        f"target none: {yes(not heavy)})"
    )
    if heavy:
        print("    first heavy modules: " + ", ".join(heavy[:10]))
    print(f"  no-op peak RSS: {noop_rss / 2**20:.0f} MiB")
    write_results(args.results, results)


if __name__ == "__main__":
    main()
