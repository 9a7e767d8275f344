"""Sub-commands of predictions: `predict` (the scheduled predictions, a run of its own) and
`predictions` (past predictions with their features, a page at a time or all as CSV)."""

from __future__ import annotations

from typing import Any

import click

from pipeline.cli.root import emit, engine_command, main, settings_of


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
