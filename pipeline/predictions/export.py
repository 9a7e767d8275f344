"""Past predictions as CSV: every row a query matches, newest first, streamed a page at a time
(memory is one page, whatever the count), the features as columns.

The feature columns are those of the model versions the query can match (one version, or all
of them, in version order): a header known before the first row. A feature named like one of
the fixed columns is written as `feature.<name>`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa

from pipeline.predictions.features import feature_columns
from pipeline.predictions.pages import every
from pipeline.predictions.params import PageQuery

FIXED = (
    "id",
    "created_at",
    "source",
    "model_version",
    "run_id",
    "ids",
    "event_time",
    "prediction",
    "label",
    "probability",
    "probabilities",
    "actual",
    "file_name",
    "file_sha256",
    "row_number",
    "features_error",
)


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return "" if value is None else value


def _fixed(p: Mapping[str, Any]) -> list[Any]:
    f = p.get("file") or {}
    values = {
        **p,
        "file_name": f.get("name"),
        "file_sha256": f.get("sha256"),
        "row_number": f.get("row_number"),
    }
    return [_cell(values.get(name)) for name in FIXED]


def write_csv(conn: sa.Connection, base: Path, query: PageQuery, out: TextIO) -> int:
    """Write the header and every matching prediction to `out`; return the rows written."""
    count = -1  # the header is not a row
    for line in csv_lines(conn, base, query):
        out.write(line)
        count += 1
    return count


def csv_lines(
    conn: sa.Connection, base: Path, query: PageQuery, max_rows: int | None = None
) -> Iterator[str]:
    """The header, then each matching prediction (at most `max_rows`, newest first), one CSV
    line at a time: what a streamed download sends."""
    names = feature_columns(conn, query.model_version)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")

    def line(cells: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        text = buffer.getvalue()
        if not text.isascii():  # a lone surrogate stored before the API refused one: escaped
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                text = text.encode("utf-8", "backslashreplace").decode("utf-8")
        return text

    yield line([*FIXED, *(f"feature.{n}" if n in FIXED else n for n in names)])
    for count, p in enumerate(every(conn, base, query)):
        if max_rows is not None and count >= max_rows:
            return
        features = p.get("features") or {}
        yield line([*_fixed(p), *(_cell(features.get(n)) for n in names)])
