"""An ad-hoc comparison of two data files: no run, no settings, no database.

`riskwatch drift --reference A --current B` calls `compare_files`. It is an I/O edge like
`step`, but imports only the reader and the pure drift code (pandas and numpy): no SQLAlchemy,
no registry, so a one-off comparison pays for nothing it does not use (issue 9, point 11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import DataError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from pipeline.drift.decision import DriftResult
    from pipeline.drift.thresholds import DriftThresholds


def _read(path: Path) -> pd.DataFrame:
    from pipeline.ingest.readers import read_file

    try:
        return read_file(path)
    except DataError as exc:
        raise DataError(f"{path}: {exc}") from exc


def compare_files(
    reference: Path, current: Path, thresholds: DriftThresholds | None = None
) -> DriftResult:
    """An ad-hoc comparison of two files: no run, no settings; columns are the files'.

    The reference is read, profiled and let go before the current file is read, as in a run:
    one frame in memory at a time.
    """
    from pipeline.drift.decision import detect
    from pipeline.drift.profile import ReferenceProfile

    # The pure code says what is wrong with the data (a ValueError); the user learns which file.
    try:
        profile = ReferenceProfile().fit(_read(reference))
    except ValueError as exc:
        raise DataError(f"{reference}: {exc}") from exc
    frame = _read(current)
    try:
        return detect(profile, frame, thresholds)
    except ValueError as exc:
        raise DataError(f"{current}: {exc}") from exc
