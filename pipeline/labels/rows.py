"""The rows labels resolve, read back: the ingested row a scheduled prediction points at (its
file's Parquet and row number), or the features an API prediction stored with it (its ids from
its row key, its event time into `data.timestamp_column`). Reads files; writes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.settings import Settings

if TYPE_CHECKING:
    import pandas as pd


def identity(file_id: object, row_number: object, prediction_id: object) -> str:
    """The resolved row's name: its ingested file and row ("f12:3"), or for a prediction whose
    features are stored with it, the prediction ("p40"). One row is labelled at most once."""
    if file_id is None or file_id != file_id:  # None or NaN
        return f"p{int(prediction_id)}"  # type: ignore[call-overload]
    return f"f{int(file_id)}:{int(row_number)}"  # type: ignore[call-overload]


def source_rows(base: Path, settings: Settings, preds: pd.DataFrame) -> pd.DataFrame:
    """The row of each prediction in `preds` (columns file_id, row_number, data_path,
    features, row_key, event_time), indexed like `preds`: every column the ingested row has
    (ids, features, event time, and the target when its own file labelled it)."""
    import pandas as pd

    parts = []
    in_files = preds["file_id"].notna()
    for data_path, group in preds[in_files].groupby("data_path", sort=False):
        frame = pd.read_parquet(base / str(data_path))
        rows = frame.iloc[group["row_number"].astype("int64").to_numpy()]
        parts.append(rows.set_axis(group.index))
        del frame
    stored = preds[~in_files]
    if not stored.empty:
        parts.append(_from_stored(stored, settings))
    if not parts:
        return pd.DataFrame(index=preds.index)
    return pd.concat(parts).reindex(preds.index)


def _from_stored(preds: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Rows of predictions that carry their features (the API's): ids from the row key."""
    import pandas as pd

    ids = settings["data.id_columns"]
    records = []
    for features, key in zip(preds["features"], preds["row_key"], strict=True):
        values = features if isinstance(features, dict) else json.loads(features or "{}")
        record = dict(values)
        record.update(zip(ids, json.loads(key), strict=False))
        records.append(record)
    frame = pd.DataFrame(records, index=preds.index)
    timestamp = settings["data.timestamp_column"]
    if timestamp:
        frame[timestamp] = pd.to_datetime(preds["event_time"], utc=True)
    return frame


def source_label(rows: pd.DataFrame, target: str) -> pd.Series:
    """The label each row's own file gave it, as stored text; None where it had none."""
    import pandas as pd

    from pipeline.labels.validate import label_text

    if target not in rows.columns:
        values: list[str | None] = [None] * len(rows)
    else:
        values = [None if pd.isna(v) else label_text(v) for v in rows[target]]
    return pd.Series(values, index=rows.index, dtype="object")
