"""The training window's rows: which ingested files `training.window` takes, read from disk for
those files only, and how a version's metadata lists them (`training_files`).

pandas is imported inside the functions (through `load_rows`): importing this module is cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataError
from pipeline.run.record import Run
from pipeline.run.score_step import load_rows
from pipeline.settings import Window, parse_window
from pipeline.storage import writes

if TYPE_CHECKING:
    import pandas as pd
    import sqlalchemy as sa


@dataclass(frozen=True)
class TrainingData:
    window: Window
    # name, sha256, labelled rows used; first_row (among its labelled rows) when cut (rows:N)
    files: list[dict[str, Any]]
    frame: pd.DataFrame  # the window's labelled rows, oldest first


def training_data(
    run: Run, new_frame: pd.DataFrame | None = None, new_ids: Sequence[int] = ()
) -> TrainingData:
    """The labelled rows of the training window (unlabelled rows are inference data, never
    trained on). `new_frame` holds the rows of the files `new_ids`, already loaded by the run:
    when the window lies within them, they are not read again."""
    window = parse_window(run.settings["training.window"])
    with run.engine.connect() as conn:
        files = writes.window_files(conn, window.kind, window.size)
    if not files:
        raise DataError(
            f"no labelled ingested rows in the training window (training.window = {window})"
        )
    # rows:N takes the newest N labelled rows: the oldest file may be needed in part only.
    total = sum(f.labelled_rows for f in files)
    skip = max(0, total - window.size) if window.kind == "rows" else 0
    listed = [{"name": f.name, "sha256": f.sha256, "rows": f.labelled_rows} for f in files]
    if skip:
        listed[0].update(rows=files[0].labelled_rows - skip, first_row=skip)
    return TrainingData(window, listed, _frame(run, files, skip, new_frame, list(new_ids)))


def _frame(
    run: Run, files: Sequence[sa.Row], skip: int, new_frame: pd.DataFrame | None, new_ids: list[int]
) -> pd.DataFrame:
    """The window's labelled rows: the tail of `new_frame` when the window is its newest files,
    else read from the window's files (and only from them)."""
    from pipeline.model.features import labelled_rows

    ids = [f.id for f in files]
    wanted = sum(f.labelled_rows for f in files) - skip
    target = run.settings["data.target"]
    if new_frame is not None and 0 < len(ids) <= len(new_ids) and new_ids[-len(ids) :] == ids:
        frame = labelled_rows(new_frame, target)
        if wanted >= len(frame):
            return frame
        return frame.iloc[len(frame) - wanted :].reset_index(drop=True)
    frame = labelled_rows(load_rows(run, files), target)
    return frame.iloc[skip:].reset_index(drop=True) if skip else frame
