"""Sub-commands that read and change nothing: the runs, the status, the settings in force."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.root import emit, engine_command, main, read, settings_of
from pipeline.formatting import fmt_drift, fmt_metric, fmt_score_source, fmt_version
from pipeline.infra.names import shown

if TYPE_CHECKING:
    import sqlalchemy as sa

    from pipeline.settings import Setting, Settings


def _runs_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs yet"
    return "\n".join(
        f"{r['id']}  {r['started_at'][:19]}  {r['kind']:<9} {r['status']:<9} "
        f"files={r['new_files']} rows={r['rows_ingested']} (labelled {r['rows_labelled']}) "
        f"quarantined: files={r['files_quarantined']} rows={r['rows_quarantined']} "
        f"prod={fmt_version(r['production_version'])}"
        + (f"  drift: {fmt_drift(r['drift'])}" if r.get("drift") else "")
        for r in rows
    )


@engine_command(main, "runs", json=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """List runs, newest first."""
    from pipeline.storage import reads

    emit(read(ctx, lambda conn, _: reads.list_runs(conn, limit)), as_json, _runs_text)


def _artifact_text(check: dict[str, Any] | None) -> str:
    if check is None:
        return ""
    recorded = check["recorded_sha256"]
    if check["status"] == "verified":
        return f"  (artifact verified: SHA-256 {recorded[:12]}… as the database recorded)"
    if check["status"] == "missing":
        return f"  (ARTIFACT MISSING: {check['artifact']})"
    if check["status"] == "unknown":
        return "  (NOT IN THE DATABASE: no model_versions row for the version production names)"
    return (
        f"  (ARTIFACT MODIFIED: {check['artifact']} has SHA-256 {check['sha256'][:12]}…, the "
        f"database recorded {recorded[:12]}…)"
    )


def _status_text(s: dict[str, Any]) -> str:
    out = [
        f"production model: {fmt_version(s['production_version'])}"
        + _artifact_text(s["production_artifact"])
    ]
    for v in s["model_versions"]:
        source = fmt_score_source(v["score_source"], v["score_rows"])
        out.append(
            f"  v{v['version']}  {v['metric']}={fmt_metric(v['holdout_score'])} ({source})  "
            f"sha256={v['sha256'][:12]}  trained on {v['train_rows']} rows "
            f"(window {v['training_window'] or 'all'})  model: {v['model']}"
            + (f"  experiment: {v['experiment']}" if v.get("experiment") else "")
        )
    out.append(f"ingested files: {len(s['ingested_files'])}")
    for f in s["ingested_files"]:
        out.append(
            f"  {shown(f['name'])}  {f['sha256'][:12]}  {f['rows']} rows, "
            f"{f['rows_quarantined']} quarantined"
        )
    out.append(f"quarantined files: {len(s['quarantined_files'])}")
    for f in s["quarantined_files"]:
        reason = shown(f["reason"] or "")
        out.append(f"  {shown(f['name'])}: {f['rows_quarantined']} rows, {reason}")
    if s.get("skipped_sources"):
        out.append(f"skipped in the inbox: {len(s['skipped_sources'])}")
        out += [f"  {shown(e['name'])}: {shown(e['reason'])}" for e in s["skipped_sources"]]
    out.append(f"quarantined rows: {s['rows_quarantined']} of {s['rows_read']} read")
    last = s["last_run"]
    out.append(
        "last run: none" if not last else f"last run: {last['id']} {last['kind']} {last['status']}"
    )
    drift = s.get("drift")
    out.append(f"drift: {fmt_drift(drift)} (run {drift['run_id']})" if drift else "drift: none yet")
    return "\n".join(out)


@engine_command(main, "status", json=True)
def status(ctx: click.Context, as_json: bool) -> None:
    """Production version (its artifact verified), model versions, ingested and quarantined
    files, the last run."""
    from pipeline.errors import ModelIntegrityError
    from pipeline.model import registry
    from pipeline.model.artifact_check import artifact_status
    from pipeline.model.kind import describe, model_kind
    from pipeline.storage import reads

    def production_status(conn: sa.Connection, settings: Settings) -> dict[str, Any]:
        production = registry.production_version(settings)
        doc = reads.status(conn, production)
        for v in doc["model_versions"]:
            # How each version was built: preprocessing standard or none, or model.pipeline's
            # factory (issue 9), with a line for the text output.
            v.update(model_kind(v["features"], v["estimator"]))
            v["model"] = describe(v["features"], v["estimator"])
        # The production artifact's bytes against the SHA-256 the database recorded (hashed,
        # never unpickled: no scikit-learn here); None with no model in production.
        doc["production_artifact"] = None
        if production is not None:
            row = next((v for v in doc["model_versions"] if v["version"] == production), None)
            doc["production_artifact"] = (
                {"artifact": None, "status": "unknown", "sha256": None, "recorded_sha256": None}
                if row is None
                else artifact_status(settings, conn, row["artifact"], row["sha256"])
            )
        return doc

    doc = read(ctx, production_status)
    emit(doc, as_json, _status_text)
    check = doc["production_artifact"]
    if check is not None and check["status"] != "verified":
        # The status is printed in full; the exit code is a failed checksum's, as on a load.
        raise ModelIntegrityError(
            f"production model v{doc['production_version']}: artifact {check['status']}"
            + ("" if check["artifact"] is None else f" ({check['artifact']})")
            + "; it would be refused at load"
        )


def _shown(setting: Setting, values: Mapping[str, Any]) -> object:
    """A setting's value as it may be printed: secrets (webhook URLs, passwords) never are."""
    if setting.kind == "secret" and values[setting.key]:
        return "(set)"
    if setting.key == "database.url":
        from sqlalchemy.engine import make_url

        return make_url(values[setting.key]).render_as_string(hide_password=True)
    return values[setting.key]


def _settings_text(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['key']} = {r['value']!r}\n    {r['help']}" for r in rows)


# --markdown and --profile are declared above the command so that `--help` lists them after
# --json.
@click.option("--markdown", is_flag=True, help="The README's table of every setting.")
@click.option(
    "--profile",
    metavar="NAME",
    help="Print the settings file of a profile (e.g. original) to start a project from.",
)
@engine_command(main, "settings", json=True)
def show_settings(ctx: click.Context, as_json: bool, markdown: bool, profile: str | None) -> None:
    """Every setting with its value in force, default and meaning."""
    from pipeline.settings import SETTINGS, markdown_table, profile_text

    if profile is not None:
        click.echo(profile_text(profile), nl=False)
        return
    if markdown:
        click.echo(markdown_table())
        return
    values = settings_of(ctx).values
    rows = [
        {"key": s.key, "value": _shown(s, values), "default": s.default, "help": s.help}
        for s in SETTINGS
    ]
    emit(rows, as_json, _settings_text)
