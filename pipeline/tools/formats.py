"""The file formats the split and corrupt tools read and write: the format from the suffix, and
a frame written in it (atomically, like every file riskwatch writes)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import InvalidArgument
from pipeline.infra.files import atomic_write
from pipeline.ingest.discovery import FORMATS

if TYPE_CHECKING:
    import pandas as pd


def file_format(path: Path) -> str:
    """The format of `path` by its suffix (csv, parquet, jsonl); refuse any other suffix."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InvalidArgument(
            f"{path.name}: unsupported file type {path.suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(sorted(FORMATS))}"
        )
    return fmt


def write_frame(frame: pd.DataFrame, out: Path, fmt: str) -> None:
    """Write `frame` to `out` as `fmt`, keeping values a reader sees as written."""
    if fmt == "csv":
        atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
    elif fmt == "parquet":
        safe = frame.copy()
        for col in safe.columns[(safe.dtypes == "object").to_numpy()]:
            kinds = {isinstance(v, str) for v in safe[col].dropna()}
            if kinds == {True, False}:  # text among numbers: Parquet keeps a column one type
                safe[col] = safe[col].astype("str")
        atomic_write(out, lambda tmp: safe.to_parquet(tmp, index=False))
    else:

        def write_lines(tmp: Path) -> None:
            tmp.write_text(json_lines(frame), encoding="utf-8")

        atomic_write(out, write_lines)


def json_lines(frame: pd.DataFrame) -> str:
    """One JSON object per row; infinity as `Infinity` (pandas' to_json would write null)."""
    import numpy as np
    import pandas as pd

    lines = []
    for record in frame.to_dict(orient="records"):
        for k, v in record.items():
            if isinstance(v, np.generic):
                v = v.item()
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                v = None
            record[k] = v
        lines.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return "".join(lines)
