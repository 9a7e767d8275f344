"""The features of past predictions, read back whatever their source: the API's, the web page's
and the diagnostics' from their JSON; scheduled ones from the ingested Parquet file they point
at, reading only the row groups that hold the rows asked for, and only the model's columns.

A file that is gone (removed by hand) or no longer holds a row leaves that prediction's
features None with a `features_error` saying why: a page is never refused for it.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipeline.storage import tables


def attach_features(conn: sa.Connection, base: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Give each row of `rows` (from `predictions`) its `features` and, for a scheduled one,
    its `file` ({id, name, sha256, row_number}); `base` is paths.ingested."""
    from_files = [r for r in rows if r.get("file_id") is not None]
    for r in rows:
        if r.get("file_id") is None:
            r["file"] = None
    if not from_files:
        return
    files = _files(conn, {int(r["file_id"]) for r in from_files})
    columns = _model_columns(conn, {int(r["model_version"]) for r in from_files})
    by_file: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in from_files:
        by_file[int(r["file_id"])].append(r)
    for file_id, wanted in by_file.items():
        f = files.get(file_id)
        for r in wanted:
            r["file"] = (
                None
                if f is None
                else {
                    "id": file_id,
                    "name": f.name,
                    "sha256": f.sha256,
                    "row_number": r["row_number"],
                }
            )
        if f is None or f.data_path is None:
            _missing(wanted, f"ingested file {file_id} is not recorded")
            continue
        names = list(dict.fromkeys(c for r in wanted for c in columns.get(r["model_version"], [])))
        try:
            values = read_rows(base / f.data_path, [int(r["row_number"]) for r in wanted], names)
        except (OSError, ValueError) as exc:  # gone, or not Parquet any more (ArrowInvalid)
            why = getattr(exc, "strerror", None) or exc
            _missing(wanted, f"the ingested file of {f.name} cannot be read: {why}")
            continue
        for r in wanted:
            got = values.get(int(r["row_number"]))
            if got is None:
                _missing([r], f"the ingested file of {f.name} has no row {r['row_number']}")
                continue
            r["features"] = {c: got.get(c) for c in columns.get(r["model_version"], names)}


def _missing(rows: Iterable[dict[str, Any]], why: str) -> None:
    for r in rows:
        r["features"] = None
        r["features_error"] = why


def _files(conn: sa.Connection, ids: set[int]) -> dict[int, sa.Row]:
    t = tables.ingested_files
    query = sa.select(t.c.id, t.c.name, t.c.sha256, t.c.data_path).where(t.c.id.in_(sorted(ids)))
    return {int(r.id): r for r in conn.execute(query)}


def _model_columns(conn: sa.Connection, versions: set[int]) -> dict[int, list[str]]:
    """Each version's feature columns, in its order (numeric, then categorical)."""
    t = tables.model_versions
    query = sa.select(t.c.version, t.c.features).where(t.c.version.in_(sorted(versions)))
    return {
        int(v): [*doc.get("numeric", []), *doc.get("categorical", [])]
        for v, doc in conn.execute(query)
    }


def feature_columns(conn: sa.Connection, version: int | None) -> list[str]:
    """The feature columns of `version`, or of every version (in version order): a CSV header."""
    t = tables.model_versions
    query = sa.select(t.c.version, t.c.features).order_by(t.c.version)
    if version is not None:
        query = query.where(t.c.version == version)
    names: dict[str, None] = {}
    for _, doc in conn.execute(query):
        names.update(dict.fromkeys([*doc.get("numeric", []), *doc.get("categorical", [])]))
    return list(names)


def read_rows(path: Path, row_numbers: Sequence[int], columns: Sequence[str]) -> dict[int, dict]:
    """{row number: {column: value}} of the rows asked for (0-based), from the row groups that
    hold them; columns the file lacks are left out, a NaN is None."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    meta = parquet.metadata
    starts = [0]
    for i in range(meta.num_row_groups):
        starts.append(starts[-1] + meta.row_group(i).num_rows)
    present = [c for c in columns if c in set(parquet.schema_arrow.names)]
    by_group: dict[int, list[int]] = defaultdict(list)
    for n in sorted(set(row_numbers)):
        if 0 <= n < starts[-1]:
            by_group[bisect.bisect_right(starts, n) - 1].append(n)
    out: dict[int, dict] = {}
    for group, numbers in by_group.items():
        table = parquet.read_row_group(group, columns=present)
        taken = table.take([n - starts[group] for n in numbers]).to_pylist()
        for n, values in zip(numbers, taken, strict=True):
            out[n] = {k: _plain(v) for k, v in values.items()}
    return out


def _plain(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value
