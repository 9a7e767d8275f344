"""What the PDF report reads: every row of one run, and the metric history up to it.

The one module that reads the database for the report; the report is built from these rows,
never from the memory of the run, so `riskwatch report RUN_ID` gives the same document as the
run itself. No writes here (the report's own row is written by `run_pdf.build_report`).

`without_server_paths` shows the rows as a reader of the report may see them (issue 11): a
run's error, a step's detail, a reason naming `/srv/app/models/3/model.joblib` show it relative
to the project (`models/3/model.joblib`), and a path outside it by its file name, the rule of
`pipeline.formatting.shown_paths` that the API applies to its answers. A PDF is served as it
is written (its text compressed), so this is where its paths are taken out.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, TypedDict

import sqlalchemy as sa

from pipeline.errors import NotFound
from pipeline.formatting import shown_paths
from pipeline.storage import estimates, label_tables
from pipeline.storage import tables as t


class History(TypedDict):
    """The metric over time: (when, value, model version) scores, (when, version) deployments."""

    production: list[tuple[datetime, float, int]]
    holdout: list[tuple[datetime, float, int]]
    deployments: list[tuple[datetime, int]]


# The tables whose rows of the run the report shows, each under its table name.
RUN_TABLES = (
    t.steps,
    t.ingested_files,
    t.deployments,
    t.scores,
    t.decisions,
    t.confusion_matrices,
    t.feature_stats,
    t.missing_values,
    t.diagnostics,
    t.quality_files,
    t.quality_issues,
    t.drift_summaries,
    t.drift_results,
    label_tables.realised_performance,
)


def load_run(engine: sa.Engine, run_id: str, metric: str) -> dict[str, Any]:
    """Read every row the report shows; raise NotFound for an unknown run id."""
    with engine.connect() as conn:
        return read_run(conn, run_id, metric)


def read_run(conn: sa.Connection, run_id: str, metric: str) -> dict[str, Any]:
    """`load_run` on an open connection (the run page's, which draws the same charts)."""
    run = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).mappings().first()
    if run is None:
        raise NotFound(f"run {run_id!r} does not exist")

    def of_run(table: sa.Table) -> list[dict[str, Any]]:
        query = sa.select(table).where(table.c.run_id == run_id).order_by(table.c.id)
        return [dict(row) for row in conn.execute(query).mappings()]

    data: dict[str, Any] = {"run": dict(run), "metric": metric}
    data["run"]["production_model"] = _model_built(conn, run["production_version"])
    for table in RUN_TABLES:
        data[table.name] = of_run(table)
    data["history"] = load_history(conn, run["finished_at"], metric)
    data["estimates"] = load_estimates(conn, run_id, run["finished_at"])
    return data


def load_estimates(conn: sa.Connection, run_id: str, until: datetime | None) -> dict[str, Any]:
    """The run's estimates without labels, and its model version's per period up to `until`
    (the newest run's of each period, realised values where the labels arrived)."""
    e = estimates.performance_estimates
    own = [
        dict(r)
        for r in conn.execute(sa.select(e).where(e.c.run_id == run_id).order_by(e.c.id)).mappings()
    ]
    periods = [r for r in own if r["period"] != estimates.RUN_PERIOD]
    over: list[dict[str, Any]] = []
    if periods:
        version, period = periods[0]["model_version"], periods[0]["period"]
        over = estimates.estimates_of(conn, version, period)
        if until is not None:
            over = [r for r in over if r["created_at"] <= until]
    return {"run": own, "periods": over}


# Values and names that come from the source files, shown as they are: a category, a label or
# a column named "/a/b" is data, not a path of the server. The rest is riskwatch's own text.
FROM_THE_DATA = {
    "ingested_files": frozenset({"name"}),
    "quality_files": frozenset({"file_name"}),
    "quality_issues": frozenset({"column_name", "examples"}),
    "feature_stats": frozenset({"column_name"}),
    "missing_values": frozenset({"column_name"}),
    "confusion_matrices": frozenset({"actual", "predicted"}),
    "drift_results": frozenset({"column_name", "details"}),
}


def without_server_paths(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """`data` (of `load_run`) with every absolute path in riskwatch's text shown relative to
    the project folder `base` (as given and resolved), or by its file name outside it."""
    bases = (base, base.resolve())
    shown = {**data, "run": shown_paths(data["run"], *bases)}
    for table in RUN_TABLES:
        kept = FROM_THE_DATA.get(table.name, frozenset())
        shown[table.name] = [
            {k: v if k in kept else shown_paths(v, *bases) for k, v in row.items()}
            for row in data[table.name]
        ]
    return shown


def _model_built(conn: sa.Connection, version: int | None) -> str | None:
    """How the production model was built (`pipeline.model.kind.describe`); None if none."""
    from pipeline.model.kind import describe

    m = t.model_versions.c
    row = conn.execute(sa.select(m.estimator, m.features).where(m.version == version)).first()
    return None if row is None else describe(row.features, row.estimator)


def load_history(conn: sa.Connection, until: datetime | None, metric: str) -> History:
    """Production scores, holdout scores and deployments up to `until`, oldest first."""
    # A finished run's report shows the history as it stood then, so a rebuilt report of an
    # old run does not change; a run still in progress has nothing after it yet.
    s, m, d = t.scores.c, t.model_versions.c, t.deployments.c
    production = sa.select(s.created_at, s.value, s.model_version).where(
        s.role == "production", s.dataset == "new", s.metric == metric, s.value.is_not(None)
    )
    holdout = sa.select(m.created_at, m.holdout_score, m.version).where(
        m.metric == metric, m.holdout_score.is_not(None)
    )
    deploys = sa.select(d.deployed_at, d.to_version)
    if until is not None:
        production = production.where(s.created_at <= until)
        holdout = holdout.where(m.created_at <= until)
        deploys = deploys.where(d.deployed_at <= until)
    return {
        "production": [
            (when, value, version)
            for when, value, version in conn.execute(production.order_by(s.created_at, s.id))
        ],
        "holdout": [
            (when, value, version)
            for when, value, version in conn.execute(holdout.order_by(m.created_at))
        ],
        "deployments": [
            (when, version) for when, version in conn.execute(deploys.order_by(d.deployed_at, d.id))
        ],
    }
