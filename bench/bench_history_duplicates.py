"""Duplicates across files: a new file checked against 10,000,000 ingested rows, on SQLite and
PostgreSQL, with `quality.duplicates = "history"` (the index) against "file" (no look-back) and
against the floor a user would write (every ingested Parquet file read, `pd.concat` with the new
file, `duplicated()` over all columns and over the id).

Per back end, once: a project ingests 10 CSV files of 1,000,000 rows each in "file" mode (data
from bench/history_data.py, 9 columns, its contract written out), then one tick in "history"
mode with a 10-row file indexes the 10,000,000 earlier rows from their Parquet files (timed: the
one-off cost of switching an existing database). Then, for a new file of 100,000 and of
1,000,000 rows (1,000 rows copied from an earlier file, 1,000 others reusing an earlier id),
interleaved, `--repeat` times each, every time on a fresh copy of that project (SQLite: the
database file copied, ingested Parquet hard-linked; PostgreSQL: a database made from the
project's as a template):

- `riskwatch ingest --json` with "file", and with "history": wall time and peak RSS of the
  process, and the ingest step's own seconds;
- the floor (`history_data.py floor`): wall time, peak RSS, and its check alone.

"history" must find exactly the 1,000 copies and 1,000 reused ids, and so must the floor; "file"
finds neither. Ratios: history / file and history / floor, time and memory.

    .venv/bin/python bench/bench_history_duplicates.py [--quick] [--history-rows N]
        [--repeat N] [--sqlite-only | --postgres-only] [--pg-url URL] [--workdir DIR]
        [--results FILE]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import uuid
from pathlib import Path

from _common import (
    PYTHON,
    machine,
    median,
    mib,
    riskwatch_command,
    run_child,
    scratch_dir,
    write_results,
)

HERE = Path(__file__).resolve().parent
DATA = [PYTHON, str(HERE / "history_data.py")]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
COPIES = 1000
SETTINGS = '[diagnostics]\noutdated_packages = false\n\n[quality]\nduplicates = "{mode}"\n'


def _settings(project: Path, mode: str) -> None:
    (project / "riskwatch.toml").write_text(SETTINGS.format(mode=mode))


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "RISKWATCH_CONFIG": "riskwatch.toml"}


def _ingest(project: Path, url: str, what: str) -> dict:
    child = run_child([*riskwatch_command(), "ingest", "--json"], project, _env(url)).check(what)
    summary = child.json()
    steps = summary.get("timings", {})
    return {
        "seconds": child.seconds,
        "max_rss_bytes": child.max_rss_bytes,
        "ingest_step_seconds": steps.get("ingest"),
        "errors_by_type": summary["quality"]["errors_by_type"],
        "rows_ingested": summary["rows_ingested"],
        "log": child.stderr,
    }


def _pg(admin: str, sql: str) -> None:
    code = (
        "import sqlalchemy as sa, sys\n"
        "e = sa.create_engine(sys.argv[1], isolation_level='AUTOCOMMIT')\n"
        "with e.connect() as c: c.execute(sa.text(sys.argv[2]))\n"
    )
    run_child([PYTHON, "-c", code, admin, sql]).check(sql)


def _pg_url(admin: str, name: str) -> str:
    return admin.rsplit("/", 1)[0] + "/" + name


class Backend:
    """Where the project's database lives, and how a fresh copy of it is made."""

    def __init__(self, name: str, admin: str | None) -> None:
        self.name = name
        self.admin = admin
        self.base_db = f"rw_bench_hist_{uuid.uuid4().hex[:8]}"
        self.copies: list[str] = []

    def base_url(self, project: Path) -> str:
        if self.admin is None:
            return f"sqlite:///{project / 'riskwatch.db'}"
        _pg(self.admin, f'CREATE DATABASE "{self.base_db}"')
        return _pg_url(self.admin, self.base_db)

    def copy(self, base: Path, target: Path) -> str:
        """A fresh copy of the project `base` in `target`; its database URL."""
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for item in base.iterdir():
            if item.name == "ingesteddata":  # Parquet files are never rewritten: links do
                shutil.copytree(item, target / item.name, copy_function=os.link)
            elif item.is_dir():
                (target / item.name).mkdir()
            else:
                shutil.copy2(item, target / item.name)
        if self.admin is None:
            return f"sqlite:///{target / 'riskwatch.db'}"
        name = f"{self.base_db}_{len(self.copies)}"
        _pg(self.admin, f'CREATE DATABASE "{name}" TEMPLATE "{self.base_db}"')
        self.copies.append(name)
        return _pg_url(self.admin, name)

    def drop(self, keep_base: bool = False) -> None:
        if self.admin is None:
            return
        for name in self.copies + ([] if keep_base else [self.base_db]):
            _pg(self.admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.copies = []


def build(backend: Backend, work: Path, history: Path, history_rows: int) -> tuple[Path, dict]:
    """The project with `history_rows` ingested in "file" mode, then indexed once."""
    project = work / f"{backend.name}-base"
    (project / "sourcedata").mkdir(parents=True)
    run_child([*DATA, "contract", str(project / "contract.toml")]).check("contract")
    _settings(project, "file")
    url = backend.base_url(project)
    for csv in sorted(history.glob("*.csv")):
        os.link(csv, project / "sourcedata" / csv.name)
    print(f"{backend.name}: ingesting {history_rows:,} rows in 'file' mode …", flush=True)
    first = _ingest(project, url, "ingest of the history")
    assert first["rows_ingested"] == history_rows, first
    for csv in (project / "sourcedata").iterdir():
        csv.unlink()  # taken: by content, never again; out of the copies' inboxes
    _settings(project, "history")
    tiny = project / "sourcedata" / "switch.csv"
    run_child(
        [
            *DATA,
            "new",
            str(tiny),
            "--rows",
            "10",
            "--from",
            str(sorted(history.glob("*.csv"))[0]),
            "--first-id",
            str(10 * history_rows),
            "--copies",
            "0",
        ]
    ).check("switch file")
    print(f"{backend.name}: switching to 'history': indexing them once …", flush=True)
    switch = _ingest(project, url, "first tick in history mode")
    tiny.unlink()
    assert "indexed" in switch["log"], switch["log"][-2000:]
    return project, {"ingest_file_mode": _slim(first), "switch_to_history": _slim(switch)}


def _slim(m: dict) -> dict:
    return {k: v for k, v in m.items() if k != "log"}


def measure(
    backend: Backend, base: Path, work: Path, new: Path, rows: int, repeat: int
) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {"file": [], "history": [], "floor": []}
    for r in range(repeat):
        for mode in ("history", "file") if r % 2 else ("file", "history"):
            project = work / f"{backend.name}-{mode}"
            url = backend.copy(base, project)
            _settings(project, mode)
            os.link(new, project / "sourcedata" / new.name)
            m = _ingest(project, url, f"{mode} tick on {rows:,} rows")
            expected = (
                {"duplicate_row": COPIES, "duplicate_id": COPIES} if mode == "history" else {}
            )
            found = {k: v for k, v in m["errors_by_type"].items() if k.startswith("duplicate")}
            assert found == expected, (mode, m["errors_by_type"])
            out[mode].append(_slim(m))
            backend.drop(keep_base=True)
        child = run_child([*DATA, "floor", str(base / "ingesteddata" / "data"), str(new)]).check(
            "floor"
        )
        f = child.json()
        assert (f["duplicate_row"], f["duplicate_id"]) == (COPIES, COPIES), f
        out["floor"].append({"seconds": child.seconds, "max_rss_bytes": child.max_rss_bytes, **f})
    return out


def summarise(runs: dict[str, list[dict]]) -> dict[str, float]:
    s = {f"{k}_seconds": median([m["seconds"] for m in v]) for k, v in runs.items()}
    s |= {f"{k}_max_rss_bytes": max(m["max_rss_bytes"] for m in v) for k, v in runs.items()}
    s["history_ingest_step_seconds"] = median([m["ingest_step_seconds"] for m in runs["history"]])
    s["file_ingest_step_seconds"] = median([m["ingest_step_seconds"] for m in runs["file"]])
    s["floor_check_seconds"] = median([m["check_seconds"] for m in runs["floor"]])
    return s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows of history, once")
    parser.add_argument("--history-rows", type=int, help="rows ingested before (10,000,000)")
    parser.add_argument("--repeat", type=int, help="rounds per file size (default 2)")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgres-only", action="store_true")
    parser.add_argument("--pg-url", default=os.environ.get("RISKWATCH_TEST_PG_URL", PG_ADMIN))
    parser.add_argument("--workdir", help="keep the scratch projects under this folder")
    parser.add_argument("--results", help="write the figures to this JSON file")
    args = parser.parse_args()
    history_rows = args.history_rows or (200_000 if args.quick else 10_000_000)
    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    repeat = args.repeat or (1 if args.quick else 2)
    work, made = scratch_dir(args.workdir, "history-dups")
    results: dict = {"machine": machine(), "history_rows": history_rows, "backends": {}}
    try:
        history = work / "history"
        print(f"writing {history_rows:,} rows of history …", flush=True)
        per_file = history_rows // 10
        run_child([*DATA, "history", str(history), "--files", "10", "--rows", str(per_file)]).check(
            "history data"
        )
        news = {}
        for rows in sizes:
            news[rows] = work / f"new_{rows}.csv"
            run_child(
                [
                    *DATA,
                    "new",
                    str(news[rows]),
                    "--rows",
                    str(rows),
                    "--from",
                    str(history / "history_05.csv"),
                    "--first-id",
                    str(20 * history_rows),
                    "--copies",
                    str(COPIES),
                ]
            ).check("new file")
        backends = [] if args.postgres_only else [Backend("sqlite", None)]
        if not args.sqlite_only:
            backends.append(Backend("postgres", args.pg_url))
        for backend in backends:
            try:
                base, setup = build(backend, work, history, history_rows)
                entry: dict = {"setup": setup, "sizes": {}}
                for rows, new in news.items():
                    print(
                        f"{backend.name}: a new {rows:,}-row file, {repeat} round(s) …", flush=True
                    )
                    runs = measure(backend, base, work, new, rows, repeat)
                    entry["sizes"][rows] = {"summary": summarise(runs), "runs": runs}
                results["backends"][backend.name] = entry
            finally:
                backend.drop()
        write_results(args.results, results)
        print_table(results)
    finally:
        if made:
            shutil.rmtree(work, ignore_errors=True)


def print_table(results: dict) -> None:
    n = results["history_rows"]
    print(f"\nA new file against {n:,} ingested rows (medians; peak RSS the highest):")
    for name, entry in results["backends"].items():
        switch = entry["setup"]["switch_to_history"]
        print(
            f"\n{name}: switching an existing database to 'history' (indexing {n:,} rows "
            f"once): {switch['seconds']:.1f} s, {mib(switch['max_rss_bytes'])}"
        )
        for rows, size in entry["sizes"].items():
            s = size["summary"]
            print(f"  new file of {int(rows):,} rows:")
            for k in ("file", "history", "floor"):
                step = s.get(f"{k}_ingest_step_seconds") or s.get("floor_check_seconds")
                what = "check" if k == "floor" else "ingest step"
                print(
                    f"    {k:8s} {s[f'{k}_seconds']:7.2f} s  {mib(s[f'{k}_max_rss_bytes']):>10s}"
                    f"  ({what} {step:.2f} s)"
                )
            print(
                f"    history / file:  {s['history_seconds'] / s['file_seconds']:.2f}x time, "
                f"{s['history_max_rss_bytes'] / s['file_max_rss_bytes']:.2f}x memory"
            )
            print(
                f"    history / floor: {s['history_seconds'] / s['floor_seconds']:.2f}x time, "
                f"{s['history_max_rss_bytes'] / s['floor_max_rss_bytes']:.2f}x memory"
            )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
