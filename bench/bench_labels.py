"""Taking the late labels of a 1,000,000-row scheduled file on PostgreSQL (issue 12), side by
side with a floor, as whole processes, interleaved:

- `riskwatch labels --json`: the labels file hashed and copied, every row checked (ids, label
  against the contract, time), bad rows quarantined, each label recorded (COPY), repeats of
  labels recorded before found, each label matched to the latest prediction of its id at or
  before its time, duplicates and conflicts resolved against the rows' own labels and earlier
  joins, the joined rows (features + label) read back from the ingested Parquet and written as
  a new labelled file for training, realised performance per period and model version with its
  intervals, beside the estimates, every label's status updated, all in one transaction;
- the floor (`labels_floor.py`): pandas reads the CSV, reads every scheduled prediction's
  (row key, id), merges on the key, and COPYs (prediction id, label) into a bare table.

The project (its own PostgreSQL database) is built once, untimed: v1 trained on a 20,000-row
file (bench/wide_data.py's 20 columns), then a file of N unlabelled rows ingested and
predicted; its labels (id, target) are the labels file. Before each round the labels' tables
are emptied, so each round takes the same file afresh. There is no goal: the ratio says what
the checks and the bookkeeping cost over the bare join.

    .venv/bin/python bench/bench_labels.py [--quick] [--rows N] [--repeat N]
        [--pg-url URL] [--workdir DIR] [--results FILE]
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from _common import (
    PYTHON,
    SETTINGS_TOML,
    machine,
    median,
    mib,
    run_child,
    scratch_dir,
    write_results,
)
from bench_predictions import (
    TRAIN_ROWS,
    _csv,
    _riskwatch,
    _sql,
    arguments,
    interleaved,
    scratch_database,
)

HERE = Path(__file__).resolve().parent
RESET = (
    "TRUNCATE labels, label_files, realised_performance",
    "DELETE FROM ingested_files WHERE kind = 'labels'",
    "DROP TABLE IF EXISTS floor_labels",
    "CHECKPOINT",
)


def _split(labelled: Path, features: Path, labels: Path) -> int:
    """Write the rows without their target, and the labels file (id, target)."""
    n = 0
    with (
        labelled.open(newline="") as src,
        features.open("w", newline="") as f,
        labels.open("w", newline="") as lab,
    ):
        rows = csv.reader(src)
        header = next(rows)
        target, key = header.index("exited"), header.index("corporation")
        keep = [i for i in range(len(header)) if i != target]
        out, out_labels = csv.writer(f), csv.writer(lab)
        out.writerow([header[i] for i in keep])
        out_labels.writerow(["corporation", "exited"])
        for row in rows:
            out.writerow([row[i] for i in keep])
            out_labels.writerow([row[key], row[target]])
            n += 1
    labelled.unlink()
    return n


def build(project: Path, url: str, rows: int) -> Path:
    """The project: v1 trained, N unlabelled rows ingested and predicted; the labels file."""
    if project.exists():
        shutil.rmtree(project)
    (project / "sourcedata").mkdir(parents=True)
    (project / "labels").mkdir()
    (project / "riskwatch.toml").write_text(SETTINGS_TOML)
    _riskwatch(project, url, "db", "upgrade")
    _csv(project / "sourcedata" / "train.csv", TRAIN_ROWS, 1, 0)
    summary = _riskwatch(project, url, "run", "--json").json()
    assert summary["production_version"] == 1, summary
    whole = project / "whole.csv"
    _csv(whole, rows, 2, 10**7)
    labels = project / "labels" / "late.csv"
    assert _split(whole, project / "sourcedata" / "new.csv", labels) == rows
    _riskwatch(project, url, "ingest", "--json")
    predicted = _riskwatch(project, url, "predict", "--json").json()
    assert predicted["rows"] >= rows, predicted
    return labels


def ours(project: Path, url: str, rows: int) -> dict:
    _sql(url, *RESET)
    child = _riskwatch(project, url, "labels", "--json")
    done = child.json()["labels"]
    assert done["joined"] == rows and done["received"] == rows, done
    return {
        "seconds": child.seconds,
        "max_rss_bytes": child.max_rss_bytes,
        "cpu_seconds": child.cpu_seconds,
    }


def floor(labels: Path, url: str, rows: int) -> dict:
    _sql(url, *RESET)
    psycopg_url = url.replace("postgresql+psycopg://", "postgresql://")
    argv = [PYTHON, str(HERE / "labels_floor.py"), str(labels), psycopg_url]
    argv += ["--id-column", "corporation", "--target", "exited"]
    child = run_child(argv).check("labels_floor.py")
    parts = child.json()
    assert parts["rows"] == rows, parts
    return {
        "seconds": child.seconds,
        "max_rss_bytes": child.max_rss_bytes,
        "cpu_seconds": child.cpu_seconds,
        **parts,
    }


def main() -> None:
    args = arguments(__doc__)
    rows = args.rows
    work, made = scratch_dir(args.workdir, "bench-labels")
    try:
        with scratch_database(args.pg_url, "rw_bench_labels") as url:
            labels = build(work / "project", url, rows)
            rounds = interleaved(
                args.repeat,
                lambda: ours(work / "project", url, rows),
                lambda: floor(labels, url, rows),
            )
            report(rows, rounds, args.results)
    finally:
        if made:
            shutil.rmtree(work, ignore_errors=True)


def report(rows: int, rounds: list[dict], results: str | None) -> None:
    def med(who: str, key: str) -> float:
        return median([r[who][key] for r in rounds])

    ours_s, floor_s = med("ours", "seconds"), med("floor", "seconds")
    ratios = ", ".join(f"{r['ours']['seconds'] / r['floor']['seconds']:.2f}x" for r in rounds)
    peak = max(r["ours"]["max_rss_bytes"] for r in rounds)
    floor_peak = max(r["floor"]["max_rss_bytes"] for r in rounds)
    parts = ", ".join(
        f"{k} {med('floor', k + '_seconds'):.2f}" for k in ("read", "predictions", "merge", "copy")
    )
    lines = [
        f"labels: {rows:,} of {rows:,} scheduled predictions (PostgreSQL); rounds: {len(rounds)}",
        f"riskwatch labels (whole process): {ours_s:.2f} s, peak {mib(peak)}",
        f"floor (whole process): {floor_s:.2f} s ({parts}), peak {mib(floor_peak)}",
        f"ratio riskwatch / floor: {ours_s / floor_s:.2f}x (rounds: {ratios}); CPU time ratio "
        f"{med('ours', 'cpu_seconds') / med('floor', 'cpu_seconds'):.2f}x",
    ]
    print("\n".join(lines))
    write_results(results, {"machine": machine(), "rows": rows, "rounds": rounds, "lines": lines})


if __name__ == "__main__":
    main()
