"""Sub-commands around the web app: serve it, and call a running one's API."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from pipeline.cli.root import engine_command, main, settings_of


# Not an engine command: it becomes gunicorn (execv) and reports nothing itself.
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
        "-c",
        "python:app.gunicorn_conf",  # each worker loads the production model before serving
    ]
    os.execv(args[0], args)


@engine_command(main, "apicalls")
@click.option("--url", required=True, help="Base URL of a running riskwatch app.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON file for the returns (default: <paths.reports>/apireturns.json).",
)
@click.option(
    "--token",
    help="API token to send as Bearer (default: $RISKWATCH_TOKEN, the setting api.token; "
    "prefer it: a command line is visible to the machine's other users).",
)
@click.option(
    "--allow-http-token",
    is_flag=True,
    help="Send the token over plain http:// to a host other than this machine (refused "
    "otherwise: anyone on the way could read it). Redirects to another origin never get it.",
)
def apicalls(
    ctx: click.Context, url: str, out: Path | None, token: str | None, allow_http_token: bool
) -> None:
    """Call a running app's API and record what it returned (file and database)."""
    from pipeline.tools.apicalls import call_all

    result = call_all(settings_of(ctx), url, out, token=token, allow_http_token=allow_http_token)
    click.echo(f"{result['calls']} calls, {result['failed']} failed; returns in {result['file']}")
    if result["failed"]:
        sys.exit(1)
