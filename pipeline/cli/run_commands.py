"""Sub-commands that run the engine: the whole run, or one step of it, and a rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from pipeline.cli.root import emit, engine_command, main, settings_of
from pipeline.formatting import fmt_drift, fmt_metric, fmt_score_source, fmt_version


def _run_text(s: dict[str, Any]) -> str:
    lines = [f"run {s['run_id']}: {s['status']}"]
    if s["status"] == "noop":
        lines.append("nothing new in the inbox")
    else:
        lines += _tick_lines(s)
    lines.append(f"production model: {fmt_version(s.get('production_version'))}")
    if s.get("report"):
        lines.append(f"report: {s['report']}")
    return "\n".join(lines)


def _tick_lines(s: dict[str, Any]) -> list[str]:
    """What a run that found something new did: files, score, drift, decision, promotion."""
    lines = [
        f"new files: {s.get('new_files', 0)}, rows ingested: {s.get('rows_ingested', 0)}, "
        f"quarantined files: {s.get('files_quarantined', 0)}, "
        f"quarantined rows: {s.get('rows_quarantined', 0)}"
    ]
    for q in s.get("quarantined") or []:
        lines.append(f"  quarantined {q['name']}: {q['reason']}")
    if s.get("score"):
        sc = s["score"]
        lines.append(
            f"production v{sc['model_version']} on new rows: {sc['metric']} "
            f"{fmt_metric(sc['value'])} "
            f"[{fmt_metric(sc['ci_low'])}, {fmt_metric(sc['ci_high'])}] "
            f"(n={sc['n_rows']}, recorded {fmt_metric(sc['production_metric'])}, "
            f"{fmt_score_source(sc.get('production_metric_source'))})"
        )
    if s.get("drift"):
        d = s["drift"]
        line = f"data drift: {fmt_drift(d)}"
        m, n = d.get("persistence") or (1, 1)
        if (m, n) != (1, 1):
            line += f"; {m} of the last {n} runs: {'confirmed' if d['confirmed'] else 'no'}"
        lines.append(line)
    if s.get("labels"):
        lines += labels_lines(s["labels"])
    lines.append(
        f"retrain: {'yes' if s['decision']['retrain'] else 'no'} — {s['decision']['reason']}"
    )
    if s.get("promotion"):
        p = s["promotion"]
        word = "promoted" if p["promoted"] else "kept the champion"
        if p["challenger_version"] is None:
            lines.append(f"no challenger: {p['reason']}")
        else:
            lines.append(f"challenger v{p['challenger_version']}: {word} — {p['reason']}")
    return lines


@engine_command(main, "run", json="Print the run's summary as JSON.")
def run(ctx: click.Context, as_json: bool) -> None:
    """One full run: ingest new files, score, decide, retrain and promote, diagnose, report."""
    from pipeline.run import run_once

    emit(run_once(settings_of(ctx)), as_json, _run_text)


def _ingest_text(s: dict[str, Any]) -> str:
    out = [f"run {s['run_id']}: {s['new_files']} new file(s), {s['rows_ingested']} rows"]
    out += [f"  {f['name']}: {f['status']} {f['reason'] or ''}" for f in s["files"]]
    return "\n".join(out)


@engine_command(main, "ingest", json=True)
def ingest(ctx: click.Context, as_json: bool) -> None:
    """Take new files from the inbox (the next full run scores them)."""
    from pipeline.run import ingest_only

    emit(ingest_only(settings_of(ctx)), as_json, _ingest_text)


def labels_lines(d: dict[str, Any]) -> list[str]:
    """What the labels step did, in lines (`riskwatch labels`, `riskwatch run`); a step that
    failed (the tick went on) says why."""
    if "error" in d:
        return [f"labels: failed, the labels wait for the next tick: {d['error']}"]
    lines = [
        f"labels files: {d['new_files']} ({d['files_quarantined']} quarantined), labels: "
        f"{d['received']} received, {d['rows_invalid']} bad rows, {d['joined']} joined, "
        f"{d['duplicate']} duplicates, {d['conflict']} conflicts, {d['unmatched']} unmatched, "
        f"{d['pending']} waiting"
    ]
    for f in d["files"]:
        if f["status"] != "taken":
            lines.append(f"  quarantined {f['name']}: {f['reason']}")
        elif f["rows_invalid"]:
            kinds = ", ".join(f"{k} ({n})" for k, n in f["invalid_by_type"].items())
            lines.append(f"  {f['name']}: {f['rows_invalid']} bad rows: {kinds}")
    for r in d["realised"]:
        lines.append(
            f"  realised {r['period']} {r['period_start'][:10]} v{r['model_version']}: "
            f"{r['metric']} {fmt_metric(r['value'])} [{fmt_metric(r['ci_low'])}, "
            f"{fmt_metric(r['ci_high'])}] (n={r['n_rows']})"
        )
    return lines


@engine_command(main, "labels", json=True)
def labels(ctx: click.Context, as_json: bool) -> None:
    """Take new labels files (paths.labels) and join them to their predictions."""
    from pipeline.run import labels_only

    emit(
        labels_only(settings_of(ctx)),
        as_json,
        lambda s: "\n".join([f"run {s['run_id']}: {s['status']}", *labels_lines(s["labels"])]),
    )


def _score_text(s: dict[str, Any]) -> str:
    sc = s["score"]
    return (
        f"v{s['production_version']} on {s['data']}: {sc['metric']} {fmt_metric(sc['value'])} "
        f"[{fmt_metric(sc['ci_low'])}, {fmt_metric(sc['ci_high'])}] (n={sc['n_rows']})"
    )


@engine_command(main, "score", json=True)
@click.option(
    "--data",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Labelled file to score (default: paths.test_data).",
)
def score(ctx: click.Context, data: Path | None, as_json: bool) -> None:
    """Score the production model on a labelled file, with a bootstrap interval."""
    from pipeline.run import score_only

    emit(score_only(settings_of(ctx), data), as_json, _score_text)


def _train_text(s: dict[str, Any]) -> str:
    p = s["promotion"]
    return (
        f"challenger v{p['challenger_version']} (training.window {p['training_window']}, "
        f"{p['training_rows']:,} rows; recorded {fmt_metric(p['recorded_score'])}, "
        f"{fmt_score_source(p['score_source'])}): promoted={p['promoted']} — {p['reason']}"
    )


@engine_command(main, "train", json=True)
def train(ctx: click.Context, as_json: bool) -> None:
    """Train a challenger on the training window; promote it if it is not worse."""
    from pipeline.run import train_only

    emit(train_only(settings_of(ctx)), as_json, _train_text)


@engine_command(main, "diagnose", json=True)
def diagnose(ctx: click.Context, as_json: bool) -> None:
    """Predictions on the test file, summary statistics, missing values, outdated packages."""
    from pipeline.run import diagnose_only

    emit(diagnose_only(settings_of(ctx)), as_json, lambda s: f"run {s['run_id']}: diagnosed")


@engine_command(main, "report")
@click.option("--run", "run_id", help="Run id (default: the latest finished run).")
def report(ctx: click.Context, run_id: str | None) -> None:
    """(Re)build a run's PDF report and print its path."""
    from pipeline.run import report_for

    click.echo(report_for(settings_of(ctx), run_id))


@engine_command(main, "rollback", json=True)
@click.option("--to", "to_version", type=int, help="Version to restore (default: the previous).")
@click.option("--reason", default="manual rollback", show_default=True)
def rollback(ctx: click.Context, to_version: int | None, reason: str, as_json: bool) -> None:
    """Put an earlier model version back in production (verified before the switch)."""
    from pipeline.run import rollback as do_rollback

    emit(
        do_rollback(settings_of(ctx), to_version, reason),
        as_json,
        lambda s: (
            f"production: {fmt_version(s['from_version'])} -> "
            f"{fmt_version(s['production_version'])}"
        ),
    )
