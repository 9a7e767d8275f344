"""`riskwatch experiments`: DVC experiments over the ingested data, next to the model versions;
`init`, `snapshot`, and the two commands dvc.yaml's stages run (`train`, `evaluate`)."""

from __future__ import annotations

from typing import Any

import click

from pipeline.cli.root import Group, emit, engine_command, main, settings_of
from pipeline.formatting import fmt_metric, fmt_score_source


def _params_text(changed: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(changed.items())) or "-"


def _promote_word(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "-")


def _summary_text(doc: dict[str, Any]) -> str:
    lines = []
    if doc["note"]:
        lines.append(f"experiments: {doc['note']}")
    if doc["uncommitted_settings"]:
        lines.append(
            "riskwatch.toml has settings git has not committed (a workspace `dvc exp run` or "
            "`dvc exp apply` leaves them there): the next retrain trains with them"
        )
    rows = doc["experiments"]
    if rows:
        metric = next((r["metric"] for r in rows if r["metric"]), "metric")
        lines.append(
            f"experiments ({metric} on the holdout the cron job uses; production on the same rows)"
        )
        header = ("experiment", "challenger", "production", "would promote", "versions", "changed")
        table = [header]
        for r in rows:
            name = r["name"] if r["kind"] != "baseline" else f"{r['name']} (baseline)"
            if r["kind"] == "experiment":
                name = f"  {name}"
            prod = fmt_metric(r["production"])
            if r["production_version"] is not None:
                prod += f" (v{r['production_version']})"
            table.append(
                (
                    name,
                    "failed" if r["error"] else fmt_metric(r["challenger"]),
                    prod,
                    _promote_word(r["would_promote"]),
                    ", ".join(f"v{v}" for v in r["versions"]) or "-",
                    _params_text(r["changed"]) if r["kind"] == "experiment" else "",
                )
            )
        widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
        for row in table:
            cells = [str(c).ljust(w) for c, w in zip(row, widths, strict=True)]
            lines.append("  " + "  ".join(cells).rstrip())
    elif not doc["note"]:
        lines.append("no experiments yet: `dvc exp run` (see the README, Experiments with DVC)")
    lines.append("model versions:")
    if not doc["versions"]:
        lines.append("  none yet")
    for v in doc["versions"]:
        where = " (production)" if v["production"] else ""
        came = f", from experiment {v['experiment']}" if v["experiment"] else ""
        lines.append(
            f"  v{v['version']}{where}: {v['metric']} {fmt_metric(v['score'])} "
            f"({fmt_score_source(v['score_source'])}), settings {str(v['settings_sha256'])[:12]}"
            f"{came}"
        )
    return "\n".join(lines)


@engine_command(
    main,
    "experiments",
    json="Print the summary as JSON.",
    cls=Group,
    invoke_without_command=True,
)
def experiments(ctx: click.Context, as_json: bool) -> None:
    """DVC experiments on the ingested data next to the model versions (what came from which)."""
    if ctx.invoked_subcommand is not None:
        return
    from pipeline.experiments.summary import summary

    emit(summary(settings_of(ctx)), as_json, _summary_text)


assert isinstance(experiments, click.Group)


def _init_text(doc: dict[str, Any]) -> str:
    lines = [
        f"DVC project {'created' if doc['dvc_initialised'] else 'found'} in {doc['root']}",
        f"default DVC remote: {doc['remote']}",
    ]
    if doc["dvc_yaml_written"]:
        lines.append("wrote dvc.yaml")
    if doc["settings_added"]:
        lines.append(f"added to riskwatch.toml: {', '.join(doc['settings_added'])}")
    lines.append(
        "next: `riskwatch experiments snapshot`, commit, then `dvc exp run` (README: "
        "Experiments with DVC)"
    )
    return "\n".join(lines)


@engine_command(experiments, "init", json=True)
def experiments_init(ctx: click.Context, as_json: bool) -> None:
    """Make this project a DVC project for experiments (needs git); set the local remote."""
    from pipeline.experiments.setup import init

    emit(init(settings_of(ctx)), as_json, _init_text)


def _snapshot_text(doc: dict[str, Any]) -> str:
    lines = [
        f"snapshot {doc['folder']}: {doc['ingested_files']} ingested file(s), {doc['rows']} "
        f"row(s), {doc['model_versions']} model version(s) "
        f"({doc['added']} file(s) added, {doc['removed']} removed)"
    ]
    if doc["tracked"]:
        lines.append(f"tracked by DVC: {doc['tracked']} (commit it with git)")
    if doc["pushed"]:
        lines.append(f"pushed to the DVC remote {doc['remote']}")
    if not doc["dvc"]:
        lines.append("not tracked: this is not a DVC project (`riskwatch experiments init`)")
    return "\n".join(lines)


@engine_command(experiments, "snapshot", json=True)
@click.option("--no-push", is_flag=True, help="Track the snapshot but do not `dvc push` it.")
def experiments_snapshot(ctx: click.Context, no_push: bool, as_json: bool) -> None:
    """Copy the ingested data and the registry into experiments/data (hard links) and track it."""
    from pipeline.run.record import run_locked
    from pipeline.run.snapshot_step import refresh

    settings = settings_of(ctx)
    # The run lock (the file's, and the database's on PostgreSQL): no tick, on this machine or
    # another sharing the database, adds a file or a version while the snapshot reads them.
    with run_locked(settings) as (engine, _lock):
        doc = refresh(engine, settings, push=not no_push)
    emit(doc, as_json, _snapshot_text)


def _train_text(m: dict[str, Any]) -> str:
    metric = m["metric"]
    ch, prod = m["challenger"] or {}, m["production"] or {}
    if m["holdout_rows"]:
        lines = [
            f"challenger on the holdout ({m['holdout_rows']} rows): {metric} "
            f"{fmt_metric(ch.get(metric))}"
        ]
    else:
        rec = m.get("recorded") or {}
        lines = [
            f"challenger without a holdout: {metric} {fmt_metric(rec.get(metric))} "
            f"({fmt_score_source(rec.get('source'), rec.get('rows'))}), the score it would record"
        ]
    if prod and metric in prod:
        lines.append(
            f"production v{prod['version']} on the same rows: {metric} "
            f"{fmt_metric(prod.get(metric))}"
        )
    elif prod:
        lines.append(f"production v{prod['version']}: {prod.get('error') or prod.get('note')}")
    if m["would_promote"] is not None:
        lines.append(f"the cron job would {'promote' if m['would_promote'] else 'not promote'} it")
    return "\n".join(lines)


@engine_command(experiments, "train", json=True)
def experiments_train(ctx: click.Context, as_json: bool) -> None:
    """dvc.yaml's train stage: fit a challenger on the snapshot into experiments/model."""
    from pipeline.experiments.train_stage import run_train_stage

    emit(run_train_stage(settings_of(ctx)), as_json, _train_text)


def _evaluate_text(doc: dict[str, Any]) -> str:
    parts = [f"{k} {fmt_metric(v)}" for k, v in doc["challenger"].items() if k != "rows"]
    lines = [
        f"challenger on {doc['test_file']} ({doc['challenger']['rows']} rows): " + ", ".join(parts)
    ]
    prod = doc["production"]
    if prod and "error" not in prod:
        parts = [f"{k} {fmt_metric(v)}" for k, v in prod.items() if k not in ("rows", "version")]
        lines.append(f"production v{prod['version']}: " + ", ".join(parts))
    lines.append(f"plots: {', '.join(doc['plots'])}")
    return "\n".join(lines)


@engine_command(experiments, "evaluate", json=True)
def experiments_evaluate(ctx: click.Context, as_json: bool) -> None:
    """dvc.yaml's evaluate stage: the challenger and production on the test file, with plots."""
    from pipeline.experiments.evaluate_stage import run_evaluate_stage

    emit(run_evaluate_stage(settings_of(ctx)), as_json, _evaluate_text)
