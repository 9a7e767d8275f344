"""Reads for the web app's model pages: the registry's versions, one version whole, two
versions side by side, and the deployments history.

A version's recorded score is measured on its own holdout (or test file, or cross-validation):
two versions' recorded scores are on different rows. `shared_scores` finds where both were
scored on the same rows (a run's champion and challenger on one holdout, the test file).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from pipeline.storage import reads, tables

SUMMARY_COLUMNS = (
    "version",
    "created_at",
    "run_id",
    "estimator",
    "metric",
    "holdout_score",
    "holdout_ci_low",
    "holdout_ci_high",
    "score_source",
    "score_rows",
    "train_rows",
    "holdout_rows",
    "training_window",
    "contract_version",
)
MAX_SCORES = 50  # a version's scores on its page: the newest ones


def versions(conn: sa.Connection) -> list[dict[str, Any]]:
    """Every registered version, newest first, with how many files it was trained on."""
    mv = tables.model_versions
    query = sa.select(*(mv.c[c] for c in SUMMARY_COLUMNS), mv.c.training_files)
    rows = [reads.row_dict(x) for x in conn.execute(query.order_by(mv.c.version.desc()))]
    for row in rows:
        row["training_file_count"] = len(row.pop("training_files") or [])
    return rows


def deployments(conn: sa.Connection, version: int | None = None) -> list[dict[str, Any]]:
    """The deployments history, newest first; with `version`, those from or to it."""
    d = tables.deployments
    query = sa.select(d).order_by(d.c.id.desc())
    if version is not None:
        query = query.where(sa.or_(d.c.to_version == version, d.c.from_version == version))
    return [reads.row_dict(x) for x in conn.execute(query)]


def version_record(conn: sa.Connection, version: int) -> dict[str, Any] | None:
    """One version whole: its row, the contract it was trained under, its training files with
    their quality pages, its deployments and newest scores; None when it is not registered."""
    mv = tables.model_versions
    row = conn.execute(sa.select(mv).where(mv.c.version == version)).first()
    if row is None:
        return None
    doc = reads.row_dict(row)
    provenance = doc.pop("provenance") or {}
    doc["settings_sha256"] = provenance.get("settings_sha256")
    doc["experiment"] = (provenance.get("experiment") or {}).get("name")
    doc["trained_with"] = provenance.get("settings") or {}
    doc["contract"] = _contract(conn, doc["contract_version"])
    doc["training_files"] = _with_quality_pages(conn, doc["training_files"] or [])
    doc["deployments"] = deployments(conn, version)
    s = tables.scores
    query = (
        sa.select(s).where(s.c.model_version == version).order_by(s.c.id.desc()).limit(MAX_SCORES)
    )
    doc["scores"] = [reads.row_dict(x) for x in conn.execute(query)]
    return doc


def _contract(conn: sa.Connection, version: str | None) -> dict[str, Any] | None:
    if version is None:
        return None
    c = tables.contracts
    query = sa.select(c.c.version, c.c.created_at, c.c.path, c.c.text).where(c.c.version == version)
    row = conn.execute(query).first()
    return {"version": version, "path": None, "text": None} if row is None else reads.row_dict(row)


def _with_quality_pages(conn: sa.Connection, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The training files, each with the id of its newest quality verdict (None without)."""
    qf = tables.quality_files
    hashes = [f["sha256"] for f in files if f.get("sha256")]
    pages: dict[str, int] = {}
    if hashes:
        query = (
            sa.select(qf.c.sha256, sa.func.max(qf.c.id))
            .where(qf.c.sha256.in_(hashes), qf.c.report_path.is_not(None))
            .group_by(qf.c.sha256)
        )
        pages = {sha: file_id for sha, file_id in conn.execute(query)}
    return [{**f, "quality_file_id": pages.get(f.get("sha256") or "")} for f in files]


def shared_scores(conn: sa.Connection, a: int, b: int) -> list[dict[str, Any]]:
    """Scores of `a` and `b` on the same rows (the same run, data set and metric), newest
    first: each {run_id, dataset, metric, a: (value, ci_low, ci_high), b: ..., n_rows}."""
    one, two = tables.scores.alias("one"), tables.scores.alias("two")
    query = (
        sa.select(
            *(one.c[c] for c in ("run_id", "dataset", "metric", "n_rows", "value")),
            one.c.ci_low,
            one.c.ci_high,
            two.c.value.label("b_value"),
            two.c.ci_low.label("b_low"),
            two.c.ci_high.label("b_high"),
            two.c.n_rows.label("b_rows"),
        )
        .join(
            two,
            sa.and_(
                two.c.run_id == one.c.run_id,
                two.c.dataset == one.c.dataset,
                two.c.metric == one.c.metric,
            ),
        )
        .where(one.c.model_version == a, two.c.model_version == b)
        .order_by(one.c.id.desc())
        .limit(MAX_SCORES)
    )
    return [
        {
            "run_id": r.run_id,
            "dataset": r.dataset,
            "metric": r.metric,
            "n_rows": r.n_rows,
            "a": (r.value, r.ci_low, r.ci_high),
            "b": (r.b_value, r.b_low, r.b_high),
        }
        for r in conn.execute(query)
        if r.n_rows == r.b_rows  # the same rows: a run scores each data set once
    ]
