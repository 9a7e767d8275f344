"""Sub-commands of predictions: `predict` (the scheduled predictions, a run of its own) and
`predictions` (past predictions with their features, a page at a time or all as CSV)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from pipeline.cli.root import database, emit, engine_command, main, read, settings_of
from pipeline.infra.names import shown

if TYPE_CHECKING:
    from pipeline.predictions import PageQuery
    from pipeline.settings import Settings


def _predict_text(s: dict[str, Any]) -> str:
    if s["status"] == "skipped":
        return f"run {s['run_id']}: skipped ({s['reason']})"
    lines = [
        f"run {s['run_id']}: {s['rows']:,} rows of {len(s['files'])} file(s) predicted by "
        f"v{s['model_version']}"
    ]
    lines += [f"  {f['name']}: {f['rows']:,} rows in {f['seconds']:.2f} s" for f in s["files"]]
    return "\n".join(lines)


@engine_command(main, "predict", json="Print the run's summary as JSON.")
@click.option(
    "--backfill",
    is_flag=True,
    help="Also predict the files earlier model versions predicted but the production one has "
    "not (each file once per version).",
)
def predict(ctx: click.Context, backfill: bool, as_json: bool) -> None:
    """Predict every ingested file no model version has predicted yet, with the production
    model, and record each row's prediction (nothing new: a run recorded as skipped)."""
    from pipeline.run import predict_only

    emit(predict_only(settings_of(ctx), backfill=backfill), as_json, _predict_text)


def _page_text(doc: dict[str, Any]) -> str:
    rows = doc["predictions"]
    if not rows:
        return "no predictions match"
    out = []
    for p in rows:
        made = p["label"] if p["label"] is not None else p["prediction"]
        proba = "" if p["probability"] is None else f" p={p['probability']:.3f}"
        # An id is any text a producer wrote: a newline or an override in it is escaped.
        ids = "" if p["ids"] is None else " ids=" + ",".join(shown(str(i)) for i in p["ids"])
        out.append(
            f"{p['id']}  {p['created_at'][:19]}  {p['source']:<11} v{p['model_version']}  "
            f"{made}{proba}{ids}  features={len(p['features'] or {})}"
        )
    if doc["next_cursor"]:
        out.append(f"more: --cursor {doc['next_cursor']}")
    return "\n".join(out)


@engine_command(main, "predictions", json="Print the page as JSON.")
@click.option("--since", help="Predictions made at or after this time (ISO 8601; UTC if bare).")
@click.option("--until", help="Predictions made before this time (ISO 8601; UTC if bare).")
@click.option(
    "--source",
    default="all",
    show_default=True,
    help="scheduled, api, webapp, diagnostics or all.",
)
@click.option("--model-version", help="Only this model version's predictions.")
@click.option("--limit", help="Predictions per page (default 100, at most predict.page_limit).")
@click.option("--cursor", help="The page after this one (the `more:` cursor of a page).")
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every matching prediction (not one page) to this CSV file, features as "
    "columns; - writes it to stdout.",
)
def predictions(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    source: str,
    model_version: str | None,
    limit: str | None,
    cursor: str | None,
    csv_path: Path | None,
    as_json: bool,
) -> None:
    """Past predictions with their features, newest first: a page, or all of them as CSV."""
    from pipeline import predictions as lib

    settings = settings_of(ctx)
    query = checked_query(
        start=since,
        end=until,
        source=source,
        model_version=model_version,
        limit=limit if csv_path is None else (limit or str(settings["predict.page_limit"])),
        cursor=cursor,
        max_limit=settings["predict.page_limit"],
    )
    base = settings.path("paths.ingested")
    if csv_path is not None and str(csv_path) == "-":  # the CSV is the output
        if as_json:
            why = "--csv - writes the CSV to stdout: leave out --json"
            raise click.BadParameter(why, param_hint="--csv")
        with database(settings) as engine, engine.connect() as conn:
            lib.write_csv(conn, settings.path("paths.ingested"), query, sys.stdout)
        return
    if csv_path is not None:
        count = _csv(settings, query, csv_path)
        emit(
            {"csv": str(csv_path), "rows": count},
            as_json,
            lambda d: f"{d['rows']:,} rows: {d['csv']}",
        )
        return
    page = read(ctx, lambda conn, _: lib.page(conn, base, query))
    doc = {"predictions": page.predictions, "next_cursor": page.next_cursor, "limit": query.limit}
    emit(doc, as_json, _page_text)


def checked_query(**given: Any) -> PageQuery:
    """`predictions.page_query` of the options' text, a bad one refused by its option's name
    (exit 2): --since and --until for the query's start and end."""
    from pipeline import predictions as lib

    try:
        return lib.page_query(**given)
    except lib.BadParameter as exc:
        option = {"start": "--since", "end": "--until"}.get(exc.parameter, exc.parameter)
        option = option if option.startswith("--") else "--" + option.replace("_", "-")
        raise click.BadParameter(str(exc), param_hint=option) from exc


# The project's own files and folders, which an export must never replace or fill.
_OWN_FOLDERS = ("paths.source", "paths.ingested", "paths.labels", "paths.models")
_OWN_FILES = ("paths.contract", "paths.lock")


def _csv_target(settings: Settings, target: Path) -> None:
    """Refuse (exit 2, naming --csv) a target that is not a new or regular file (a missing
    folder is made, as before), or that is one of the project's own: its SQLite database, its
    settings, its contract, or a file in its inbox, ingested data, labels or models."""
    import sqlalchemy as sa

    def refuse(why: str) -> click.BadParameter:
        return click.BadParameter(why, param_hint="--csv")

    if str(target) in ("", "."):
        raise refuse("give the CSV file to write, for example --csv predictions.csv")
    if target.exists() and not target.is_file():
        raise refuse(f"{target} exists and is not a regular file (a folder, a device, a pipe)")
    if target.parent.exists() and not target.parent.is_dir():
        raise refuse(f"{target.parent} is not a folder")
    where = target.resolve()
    own = {settings.path(k).resolve() for k in _OWN_FILES}
    if settings.source is not None:
        own.add(settings.source.resolve())
    url = sa.make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        # A relative path is the driver's, from the working folder; the project's too, to be sure.
        for db in {
            Path(url.database).resolve(),
            settings.base_dir.joinpath(url.database).resolve(),
        }:
            own.update({db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")})
    if where in own:
        raise refuse(f"{target} is one of the project's own files; write the CSV elsewhere")
    for key in _OWN_FOLDERS:
        folder = settings.path(key).resolve()
        if where.is_relative_to(folder):
            raise refuse(f"{target} is inside the project's {key} ({folder}); write it elsewhere")


def _csv(settings: Settings, query: PageQuery, target: Path) -> int:
    """Stream the query's rows into `target`, written beside it and renamed into place."""
    from pipeline import predictions as lib
    from pipeline.infra.files import atomic_write

    _csv_target(settings, target)
    count = 0

    def write(tmp: Path) -> None:
        nonlocal count
        with (
            database(settings) as engine,
            engine.connect() as conn,
            tmp.open("w", newline="", encoding="utf-8") as out,
        ):
            count = lib.write_csv(conn, settings.path("paths.ingested"), query, out)

    atomic_write(target, write)
    return count
