"""The `riskwatch` command. Each sub-command parses, calls one engine function, and reports.

Exit codes: 0 done (also "nothing new" and "another run holds the lock"), 1 failed, 2 a bad
setting or usage, 3 the database needs `riskwatch db upgrade`, 4 a model artifact failed its
checksum. The reason goes to stderr; `--json` output goes to stdout.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from pipeline.errors import RiskwatchError
from pipeline.formatting import fmt_metric

log = logging.getLogger("riskwatch")


def _setup_logging(quiet: bool) -> None:
    if log.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("riskwatch: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    log.propagate = False


def _emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(human(data))


def _engine_command(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn riskwatch's own errors into a message on stderr and the error's exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pipeline.infra.lock import LockHeld

        try:
            return fn(*args, **kwargs)
        except LockHeld as exc:
            click.echo(f"riskwatch: {exc}", err=True)
            sys.exit(0)
        except RiskwatchError as exc:
            click.echo(f"riskwatch: error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


def _settings(ctx: click.Context) -> Any:
    from pipeline.settings import load_settings

    return load_settings(ctx.obj.get("config"))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    type=click.Path(dir_okay=False),
    help="Settings file (default: $RISKWATCH_CONFIG, else ./riskwatch.toml).",
)
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors on stderr.")
@click.version_option(package_name="riskwatch")
@click.pass_context
def main(ctx: click.Context, config: str | None, quiet: bool) -> None:
    """riskwatch: keep a production model on tabular data honest, one cron tick at a time."""
    from pipeline.infra import memory

    memory.configure()
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    _setup_logging(quiet)


def _run_text(s: dict[str, Any]) -> str:
    lines = [f"run {s['run_id']}: {s['status']}"]
    if s["status"] == "noop":
        lines.append("nothing new in the inbox")
    else:
        lines.append(
            f"new files: {s.get('new_files', 0)}, rows ingested: {s.get('rows_ingested', 0)}, "
            f"quarantined files: {s.get('files_quarantined', 0)}"
        )
        for q in s.get("quarantined") or []:
            lines.append(f"  quarantined {q['name']}: {q['reason']}")
        if s.get("score"):
            sc = s["score"]
            lines.append(
                f"production v{sc['model_version']} on new rows: {sc['metric']} "
                f"{fmt_metric(sc['value'])} "
                f"[{fmt_metric(sc['ci_low'])}, {fmt_metric(sc['ci_high'])}] "
                f"(n={sc['n_rows']}, recorded {fmt_metric(sc['production_metric'])})"
            )
        if s.get("drift"):
            d = s["drift"]
            moved = ", ".join(d["drifted_columns"]) or "none"
            lines.append(
                f"data drift: {'yes' if d['confirmed'] else 'no'} "
                f"(share {d['drifted_share']:.2f}; drifted: {moved})"
            )
        lines.append(
            f"retrain: {'yes' if s['decision']['retrain'] else 'no'} — {s['decision']['reason']}"
        )
        if s.get("promotion"):
            p = s["promotion"]
            word = "promoted" if p["promoted"] else "kept the champion"
            lines.append(f"challenger v{p['challenger_version']}: {word} — {p['reason']}")
    lines.append(f"production model: v{s.get('production_version')}")
    if s.get("report"):
        lines.append(f"report: {s['report']}")
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the run's summary as JSON.")
@click.pass_context
@_engine_command
def run(ctx: click.Context, as_json: bool) -> None:
    """One full run: ingest new files, score, decide, retrain and promote, diagnose, report."""
    from pipeline.run import run_once

    _emit(run_once(_settings(ctx)), as_json, _run_text)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def ingest(ctx: click.Context, as_json: bool) -> None:
    """Take new files from the inbox (the next full run scores them)."""
    from pipeline.run import ingest_only

    def text(s: dict[str, Any]) -> str:
        out = [f"run {s['run_id']}: {s['new_files']} new file(s), {s['rows_ingested']} rows"]
        out += [f"  {f['name']}: {f['status']} {f['reason'] or ''}" for f in s["files"]]
        return "\n".join(out)

    _emit(ingest_only(_settings(ctx)), as_json, text)


@main.command()
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled file to score (default: paths.test_data).",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def score(ctx: click.Context, data: Path | None, as_json: bool) -> None:
    """Score the production model on a labelled file, with a bootstrap interval."""
    from pipeline.run import score_only

    def text(s: dict[str, Any]) -> str:
        sc = s["score"]
        return (
            f"v{s['production_version']} on {s['data']}: {sc['metric']} {fmt_metric(sc['value'])} "
            f"[{fmt_metric(sc['ci_low'])}, {fmt_metric(sc['ci_high'])}] (n={sc['n_rows']})"
        )

    _emit(score_only(_settings(ctx), data), as_json, text)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def train(ctx: click.Context, as_json: bool) -> None:
    """Train a challenger on all ingested data; promote it if it is not worse."""
    from pipeline.run import train_only

    def text(s: dict[str, Any]) -> str:
        p = s["promotion"]
        return f"challenger v{p['challenger_version']}: promoted={p['promoted']} — {p['reason']}"

    _emit(train_only(_settings(ctx)), as_json, text)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def diagnose(ctx: click.Context, as_json: bool) -> None:
    """Predictions on the test file, summary statistics, missing values, outdated packages."""
    from pipeline.run import diagnose_only

    _emit(diagnose_only(_settings(ctx)), as_json, lambda s: f"run {s['run_id']}: diagnosed")


@main.command()
@click.option("--run", "run_id", help="Run id (default: the latest finished run).")
@click.pass_context
@_engine_command
def report(ctx: click.Context, run_id: str | None) -> None:
    """(Re)build a run's PDF report and print its path."""
    from pipeline.run import report_for

    click.echo(report_for(_settings(ctx), run_id))


@main.command()
@click.option("--to", "to_version", type=int, help="Version to restore (default: the previous).")
@click.option("--reason", default="manual rollback", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def rollback(ctx: click.Context, to_version: int | None, reason: str, as_json: bool) -> None:
    """Put an earlier model version back in production (verified before the switch)."""
    from pipeline.run import rollback as do_rollback

    _emit(
        do_rollback(_settings(ctx), to_version, reason),
        as_json,
        lambda s: f"production: v{s['from_version']} -> v{s['production_version']}",
    )


def _read(ctx: click.Context, fn: Callable[[Any, Any], Any]) -> Any:
    """Call fn(connection, settings) on the checked database."""
    from pipeline.storage import db

    settings = _settings(ctx)
    engine = db.make_engine(settings.database_url)
    try:
        db.check_schema(engine)
        with engine.connect() as conn:
            return fn(conn, settings)
    finally:
        engine.dispose()


@main.command()
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List runs, newest first."""
    from pipeline.storage import reads

    def text(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return "no runs yet"
        return "\n".join(
            f"{r['id']}  {r['started_at'][:19]}  {r['kind']:<9} {r['status']:<9} "
            f"files={r['new_files']} rows={r['rows_ingested']} prod=v{r['production_version']}"
            for r in rows
        )

    _emit(_read(ctx, lambda conn, _: reads.list_runs(conn, limit)), as_json, text)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def status(ctx: click.Context, as_json: bool) -> None:
    """Production version, model versions, ingested and quarantined files, the last run."""
    from pipeline.storage import reads

    def text(s: dict[str, Any]) -> str:
        out = [f"production model: v{s['production_version']}"]
        for v in s["model_versions"]:
            out.append(
                f"  v{v['version']}  {v['metric']}={fmt_metric(v['holdout_score'])}  "
                f"sha256={v['sha256'][:12]}  trained on {v['train_rows']} rows"
            )
        out.append(f"ingested files: {len(s['ingested_files'])}")
        for f in s["ingested_files"]:
            out.append(f"  {f['name']}  {f['sha256'][:12]}  {f['rows']} rows")
        out.append(f"quarantined files: {len(s['quarantined_files'])}")
        for f in s["quarantined_files"]:
            out.append(f"  {f['name']}: {f['reason']}")
        last = s["last_run"]
        out.append(
            "last run: none"
            if not last
            else f"last run: {last['id']} {last['kind']} {last['status']}"
        )
        return "\n".join(out)

    _emit(_read(ctx, reads.status), as_json, text)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the web app and JSON API with gunicorn (what the Procfile's web: line runs)."""
    import os

    if ctx.obj.get("config"):
        os.environ["RISKWATCH_CONFIG"] = str(Path(ctx.obj["config"]).resolve())
    gunicorn = Path(sys.executable).with_name("gunicorn")
    args = [
        str(gunicorn),
        "app:create_app()",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--access-logfile",
        "-",
    ]
    os.execv(args[0], args)


@main.command()
@click.option("--url", required=True, help="Base URL of a running riskwatch app.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file for the returns (default: <paths.reports>/apireturns.json).",
)
@click.pass_context
@_engine_command
def apicalls(ctx: click.Context, url: str, out: Path | None) -> None:
    """Call a running app's API and record what it returned (file and database)."""
    from pipeline.tools.apicalls import call_all

    result = call_all(_settings(ctx), url, out)
    click.echo(f"{result['calls']} calls, {result['failed']} failed; returns in {result['file']}")
    if result["failed"]:
        sys.exit(1)


def _drift_text(d: dict[str, Any]) -> str:
    head = f"data set drift: {'yes' if d['dataset_drift'] else 'no'} "
    head += f"(share of drifted features {d['drifted_share']:.2f})"
    lines = [head]
    for c in d["columns"]:
        eff = "n/a" if c["effect_size"] is None else f"{c['effect_size']:.3f}"
        p = "n/a" if c["p_adjusted"] is None else f"{c['p_adjusted']:.2g}"
        mark = "DRIFT" if c["drifted"] else ""
        lines.append(
            f"  {c['column']:<28} {c['kind']:<11} {c['status']:<18} "
            f"effect {eff:<7} p_adj {p:<8} {mark}"
        )
    return "\n".join(lines)


@main.group(name="drift", invoke_without_command=True)
@click.option("--run", "run_id", help="A run's results (default: the latest with drift).")
@click.option(
    "--reference",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Compare two files directly: no run, no settings file needed.",
)
@click.option("--current", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
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
    if (reference is None) != (current is None):
        raise click.UsageError("--reference and --current go together")
    if reference is not None:
        from pipeline.drift.step import compare_files

        result = compare_files(reference, current)
        doc = json.loads(result.to_json())
    else:
        from pipeline.drift import step as drift_step

        doc = _read(ctx, lambda conn, _: drift_step.latest(conn, run_id))
    _emit(doc, as_json, _drift_text)


@drift.command(name="selftest")
@click.option("--batch-size", type=click.IntRange(2), help="Default: the newest file's rows.")
@click.option("--runs", default=200, show_default=True, type=click.IntRange(10, 100_000))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def drift_selftest(
    ctx: click.Context, batch_size: int | None, runs: int, seed: int, as_json: bool
) -> None:
    """False-alarm rate and detection power of the drift settings at the real batch size."""
    from pipeline.drift.step import selftest
    from pipeline.storage import db

    settings = _settings(ctx.find_root())
    engine = db.make_engine(settings.database_url)
    try:
        db.check_schema(engine)
        out = selftest(engine, settings, batch_size, runs, seed)
    finally:
        engine.dispose()

    def text(o: dict[str, Any]) -> str:
        return json.dumps(o, indent=2, default=str)

    _emit(out, as_json, text)


@main.group(name="contract")
def contract_group() -> None:
    """The data contract incoming files are checked against."""


@contract_group.command(name="infer")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Infer from this file (default: all ingested data).",
)
@click.option("--force", is_flag=True, help="Replace an existing contract file.")
@click.pass_context
@_engine_command
def contract_infer(ctx: click.Context, source: Path | None, force: bool) -> None:
    """Derive the contract from training data and write it (paths.contract) for review."""
    from pipeline.ingest.contract_tools import infer_contract

    path, version = infer_contract(_settings(ctx.find_root()), source, force=force)
    click.echo(f"wrote {path} (contract version {version[:12]})")


@contract_group.command(name="check")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def contract_check(ctx: click.Context, files: tuple[Path, ...], as_json: bool) -> None:
    """Check files against the contract without ingesting them; exit 1 if any row is bad."""
    from pipeline.ingest.contract_tools import check_files

    report = check_files(_settings(ctx.find_root()), list(files))

    def text(r: dict[str, Any]) -> str:
        out = []
        for f in r["files"]:
            out.append(
                f"{f['name']}: {f['rows_valid']}/{f['rows_read']} rows valid, "
                f"criticality {f['criticality'] or 'none'}"
            )
            out += [f"  {t}: {n}" for t, n in f["errors_by_type"].items()]
        return "\n".join(out)

    _emit(report, as_json, text)
    if report["rows_quarantined"] or any(f["criticality"] for f in report["files"]):
        sys.exit(1)


@main.command()
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
def split(dataset: Path, outdir: Path, n_files: int, seed: int | None, overwrite: bool) -> None:
    """Split a data set into N files, e.g. to feed the inbox one batch at a time."""
    from pipeline.tools.split import split_dataset

    try:
        paths = split_dataset(dataset, outdir, n_files, seed=seed, overwrite=overwrite)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    for p in paths:
        click.echo(str(p))


@main.command()
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
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@_engine_command
def corrupt(
    ctx: click.Context, source: Path, out: Path, seed: int, mix: tuple[str, ...], as_json: bool
) -> None:
    """Write a copy of a file with known data errors, and say what was injected."""
    from pipeline.ingest import contract as contracts
    from pipeline.tools.corrupt import corrupt as do_corrupt
    from pipeline.tools.corrupt import describe, parse_mix

    settings = _settings(ctx)
    try:
        wanted = parse_mix(",".join(mix)) if mix else None
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    contract = contracts.load(settings.path("paths.contract"))
    try:
        injected = do_corrupt(source, out, seed=seed, contract=contract, mix=wanted)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    summary = {
        "file": str(out),
        "injected": describe(injected),
        "details": [
            {"error_type": i.error_type, "column": i.column, "rows": [r + 1 for r in i.rows]}
            for i in injected
        ],
    }
    _emit(
        summary,
        as_json,
        lambda s: "\n".join(
            [f"wrote {s['file']}"] + [f"  {t}: {n}" for t, n in s["injected"].items()]
        ),
    )


@main.group(name="db")
def db_group() -> None:
    """Database schema."""


@db_group.command()
@click.pass_context
@_engine_command
def upgrade(ctx: click.Context) -> None:
    """Apply the migrations in sql/ (creates the schema on a new database)."""
    from pipeline.storage import db

    settings = _settings(ctx.find_root())
    engine = db.make_engine(settings.database_url)
    try:
        revision = db.upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"database at schema revision {revision} ({engine.url.render_as_string()})")


@main.command(name="sample-data")
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
    directory: Path, seed: int, batches: int, rows: int, drift_from: int, test_rows: int
) -> None:
    """Write the corporate-client attrition sample: DIR/sourcedata/*.csv and DIR/testdata/."""
    from pipeline.tools.sampledata import write_sample_data

    paths = write_sample_data(
        directory,
        seed=seed,
        batches=batches,
        rows=rows,
        drift_from=drift_from,
        test_rows=test_rows,
    )
    for p in paths:
        click.echo(str(p))


@main.command(name="settings")
@click.option("--json", "as_json", is_flag=True)
@click.option("--markdown", is_flag=True, help="The README's table of every setting.")
@click.pass_context
@_engine_command
def show_settings(ctx: click.Context, as_json: bool, markdown: bool) -> None:
    """Every setting with its value in force, default and meaning."""
    from pipeline.settings import SETTINGS, markdown_table

    if markdown:
        click.echo(markdown_table())
        return

    values = _settings(ctx).values

    def shown(s: Any) -> Any:  # secrets (webhook URLs, passwords) are never printed
        if s.kind == "secret" and values[s.key]:
            return "(set)"
        if s.key == "database.url":
            from sqlalchemy.engine import make_url

            return make_url(values[s.key]).render_as_string(hide_password=True)
        return values[s.key]

    rows = [
        {"key": s.key, "value": shown(s), "default": s.default, "help": s.help} for s in SETTINGS
    ]

    def text(rs: list[dict[str, Any]]) -> str:
        return "\n".join(f"{r['key']} = {r['value']!r}\n    {r['help']}" for r in rs)

    _emit(rows, as_json, text)
