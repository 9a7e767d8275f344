"""Sub-commands about the data: drift, the data contract, the sample, split and corrupt tools."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pipeline.cli.root import Group, database, emit, engine_command, main, read, settings_of
from pipeline.formatting import fmt_drift


def _drift_text(d: dict[str, Any]) -> str:
    lines = [f"data set drift: {fmt_drift(d)}"]
    for c in d["columns"]:
        eff = "n/a" if c["effect_size"] is None else f"{c['effect_size']:.3f}"
        p = "n/a" if c["p_adjusted"] is None else f"{c['p_adjusted']:.2g}"
        mark = "DRIFT" if c["drifted"] else ""
        lines.append(
            f"  {c['column']:<28} {c['kind']:<11} {c['status']:<18} "
            f"effect {eff:<7} p_adj {p:<8} {mark}"
        )
    return "\n".join(lines)


@engine_command(main, "drift", json=True, cls=Group, invoke_without_command=True)
@click.option("--run", "run_id", help="A run's results (default: the latest with drift).")
@click.option(
    "--reference",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Compare two files directly: no run, no settings file needed.",
)
@click.option("--current", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def drift(
    ctx: click.Context,
    run_id: str | None,
    reference: Path | None,
    current: Path | None,
    as_json: bool,
) -> None:
    """Data drift of the latest run, or of two files (--reference and --current)."""
    if ctx.invoked_subcommand is not None:
        return
    if reference is None or current is None:
        if reference is not None or current is not None:
            raise click.UsageError("--reference and --current go together")
        from pipeline.drift import step as drift_step

        doc = read(ctx, lambda conn, _: drift_step.latest(conn, run_id))
    else:
        from pipeline.drift.adhoc import compare_files

        doc = json.loads(compare_files(reference, current).to_json())
    emit(doc, as_json, _drift_text)


assert isinstance(drift, click.Group)


@engine_command(drift, "selftest", json=True)
@click.option("--batch-size", type=click.IntRange(2), help="Default: the newest file's rows.")
@click.option("--runs", default=200, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--seed", default=0, show_default=True, type=int)
def drift_selftest(
    ctx: click.Context, batch_size: int | None, runs: int, seed: int, as_json: bool
) -> None:
    """False-alarm rate and detection power of the drift settings at the real batch size."""
    from pipeline.drift.step import selftest
    from pipeline.infra.progress import Progress

    settings = settings_of(ctx)
    with database(settings) as engine, Progress("drift selftest", runs, unit="runs") as bar:
        out = selftest(
            engine,
            settings,
            batch_size,
            runs,
            seed,
            progress=lambda done, total, phase: bar.update(done, total, note=phase),
        )
    emit(out, as_json, lambda o: json.dumps(o, indent=2, default=str))


@main.group(name="contract")
def contract_group() -> None:
    """The data contract incoming files are checked against."""


@engine_command(contract_group, "infer")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Infer from this file (default: all ingested data).",
)
@click.option("--force", is_flag=True, help="Replace an existing contract file.")
def contract_infer(ctx: click.Context, source: Path | None, force: bool) -> None:
    """Derive the contract from training data and write it (paths.contract) for review."""
    from pipeline.ingest.contract_tools import infer_contract

    path, version = infer_contract(settings_of(ctx), source, force=force)
    click.echo(f"wrote {path} (contract version {version[:12]})")


def _enforce_text(r: dict[str, Any]) -> str:
    if not r["changed"]:
        return f"{r['contract']}: already enforced: {', '.join(r['enforced']) or 'nothing'}"
    lines = [
        f"wrote {r['contract']} (contract version {r['version'][:12]}, "
        f"was {r['previous_version'][:12]})",
        f"  enforced: {', '.join(r['enforced'])}",
    ]
    if r["not_enforced"]:
        lines.append(f"  still not enforced: {', '.join(r['not_enforced'])}")
    return "\n".join(lines)


@engine_command(contract_group, "enforce", json=True)
@click.argument("columns", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every column with a learned rule.")
def contract_enforce(
    ctx: click.Context, columns: tuple[str, ...], every: bool, as_json: bool
) -> None:
    """Quarantine rows outside these columns' learned ranges and category lists from now on."""
    from pipeline.ingest.contract_tools import enforce_contract

    emit(enforce_contract(settings_of(ctx), list(columns), every=every), as_json, _enforce_text)


def _check_text(r: dict[str, Any]) -> str:
    out = []
    for f in r["files"]:
        out.append(
            f"{f['name']}: {f['rows_valid']}/{f['rows_read']} rows valid, "
            f"criticality {f['criticality'] or 'none'}"
        )
        out += [f"  {t}: {n}" for t, n in f["errors_by_type"].items()]
        kept = [i for i in f["issues"] if i["kept"]]
        if kept:
            out.append(
                f"  {f['rows_kept_with_findings']} row(s) kept with learned-rule findings "
                "(not enforced; `riskwatch contract enforce` quarantines them):"
            )
            out += [f"    {i['error_type']} {i['column']}: {i['message']}" for i in kept]
    return "\n".join(out)


@engine_command(contract_group, "check", json=True)
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
def contract_check(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Check files against the contract without ingesting them; exit 1 on any finding."""
    from pipeline.ingest.contract_tools import check_files

    report = check_files(settings_of(ctx), list(files))
    emit(report, as_json, _check_text)
    if report["rows_quarantined"] or any(f["criticality"] for f in report["files"]):
        sys.exit(1)


@engine_command(main, "split")
@click.argument("dataset", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--files",
    "n_files",
    required=True,
    type=click.IntRange(1),
    help="How many files to write (not rows per file).",
)
@click.option("--seed", type=int, help="Shuffle the rows with this seed (default: keep order).")
@click.option("--overwrite", is_flag=True)
def split(
    ctx: click.Context, dataset: Path, outdir: Path, n_files: int, seed: int | None, overwrite: bool
) -> None:
    """Split a data set into N files, e.g. to feed the inbox one batch at a time."""
    from pipeline.tools.split import split_dataset

    for p in split_dataset(dataset, outdir, n_files, seed=seed, overwrite=overwrite):
        click.echo(str(p))


def _corrupt_text(s: dict[str, Any]) -> str:
    return "\n".join([f"wrote {s['file']}"] + [f"  {t}: {n}" for t, n in s["injected"].items()])


@engine_command(main, "corrupt", json=True)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--seed", required=True, type=int)
@click.option(
    "--inject",
    "mix",
    multiple=True,
    metavar="TYPE=N",
    help="Error type and count, repeatable (default: a seeded mix of row errors).",
)
def corrupt(
    ctx: click.Context, source: Path, out: Path, seed: int, mix: tuple[str, ...], as_json: bool
) -> None:
    """Write a copy of a file with known data errors, and say what was injected."""
    from pipeline.tools.corrupt import corrupt_file

    written = ",".join(mix) if mix else None
    summary = corrupt_file(settings_of(ctx), source, out, seed=seed, mix=written)
    emit(summary, as_json, _corrupt_text)


@engine_command(main, "sample-data")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", default=7, show_default=True, type=int)
@click.option("--batches", default=4, show_default=True, type=click.IntRange(1, 1000))
@click.option("--rows", default=2000, show_default=True, type=click.IntRange(1))
@click.option(
    "--drift-from",
    default=3,
    show_default=True,
    type=click.IntRange(1),
    help="First batch that drifts (covariate shift and a new relation to the target).",
)
@click.option("--test-rows", default=1000, show_default=True, type=click.IntRange(1))
def sample_data(
    ctx: click.Context,
    directory: Path,
    seed: int,
    batches: int,
    rows: int,
    drift_from: int,
    test_rows: int,
) -> None:
    """Write the corporate-client attrition sample: DIR/sourcedata/*.csv and DIR/testdata/."""
    from pipeline.infra.progress import Progress
    from pipeline.tools.sampledata import sample_rows, write_sample_data

    total = sample_rows(batches, rows, test_rows)
    with Progress("sample-data", total, unit="rows") as bar:
        paths = write_sample_data(
            directory,
            seed=seed,
            batches=batches,
            rows=rows,
            drift_from=drift_from,
            test_rows=test_rows,
            progress=lambda done, name: bar.update(done, note=f"wrote {name}"),
        )
    for p in paths:
        click.echo(str(p))
