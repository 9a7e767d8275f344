"""Predicting an ingested file in batches: read a batch of rows of its Parquet file (only the
columns the model, the ids and the event time need), predict it, make it a `Batch`, repeat.

The batches are produced lazily for `write.record_file`, which writes each before the next is
read: memory is one batch of rows, whatever the file's size. Features are not copied: the
prediction keeps the file's id and the row's number in its Parquet file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataError
from pipeline.model.keys import row_keys, value_text
from pipeline.predictions.write import Batch

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.model.registry import LoadedModel


@dataclass(frozen=True)
class Columns:
    """What a batch reads besides the model's features: the id columns, the event time and,
    for a file some of whose rows came labelled, the target (its rows are marked labelled)."""

    id_columns: tuple[str, ...] = ()
    timestamp_column: str = ""
    target: str = ""


def file_batches(
    loaded: LoadedModel, path: Path, columns: Columns, batch_rows: int, first_row: int = 0
) -> Iterator[Batch]:
    """The predictions of the Parquet file at `path`, `batch_rows` rows at a time, in order,
    from row `first_row` (where an unfinished file stopped: `write.resume_row`).

    A feature the file lacks passed the gate as a column its contract does not require: a
    model that imputes predicts the rows with it missing in each, as it was trained on such
    rows (`features.feature_frame`); one imputing nothing cannot, a DataError.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.model.features import absent_features, imputes

    try:
        parquet = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as exc:  # removed, truncated, overwritten on disk
        raise _unreadable(path, exc) from exc
    present = set(parquet.schema_arrow.names)
    missing = absent_features(present, loaded.features)
    if missing and not imputes(loaded.features):
        raise DataError(
            f"{path.name}: model v{loaded.version} needs column(s) {missing} the file lacks "
            '(it takes its features as they are, model.preprocessing = "none")'
        )
    wanted = [
        *loaded.features.columns,
        *columns.id_columns,
        columns.timestamp_column,
        columns.target,
    ]
    read = [c for c in dict.fromkeys(wanted) if c and c in present]
    start = 0
    for record_batch in _read(parquet, path, batch_size=batch_rows, columns=read):
        n = record_batch.num_rows
        if start + n <= first_row:  # stored already
            start += n
            continue
        skip = max(0, first_row - start)
        frame = record_batch.slice(skip).to_pandas()
        del record_batch
        yield predict_frame(loaded, frame, start + skip, columns)
        start += n


def _read(parquet: pq.ParquetFile, path: Path, **kwargs: Any) -> Iterator[pa.RecordBatch]:
    """The file's record batches; a page that cannot be read is the file's DataError."""
    import pyarrow as pa

    try:
        yield from parquet.iter_batches(**kwargs)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from exc


def _unreadable(path: Path, exc: Exception) -> DataError:
    why = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return DataError(f"{path.name}: the ingested file cannot be read ({why})")


def predict_frame(loaded: LoadedModel, frame: pd.DataFrame, start: int, columns: Columns) -> Batch:
    """The `Batch` of the rows of `frame`, the first being row `start` of its file."""
    import numpy as np

    from pipeline.model import estimator

    preds, proba = estimator.predict(loaded.model, loaded.features, frame)
    classes = getattr(loaded.model, "classes_", None)
    numeric = preds.dtype.kind in "biuf"
    probabilities, binary = None, None
    if classes is not None and len(classes) == 2 and proba is not None:
        binary = [str(value_text(c)) for c in classes]  # {class: p} is said once, by the segment
    elif classes is not None and hasattr(loaded.model, "predict_proba"):
        probabilities = _classes_json(loaded, frame, classes)
    return Batch(
        row_numbers=np.arange(start, start + len(frame), dtype=np.int64),
        predictions=preds.astype(np.float64) if numeric else None,
        labels=None if classes is None else _labels(preds),
        probability=proba,
        probabilities=probabilities,
        row_keys=row_keys(frame, columns.id_columns),
        event_times=event_times(frame, columns.timestamp_column),
        classes=binary,
        labelled=labelled(frame, columns.target),
    )


def labelled(frame: pd.DataFrame, target: str) -> pa.Array | None:
    """True for each row whose target is there (the gate made a blank one missing), else
    null; None when no row of `frame` has one (or no `target` is read)."""
    import pyarrow as pa

    from pipeline.model.features import labelled_mask

    if not target:
        return None
    present = labelled_mask(frame, target)  # what the run scores as labelled
    return pa.array(present, pa.bool_(), mask=~present) if present.any() else None


def _labels(preds: np.ndarray) -> pa.Array:
    """The predicted classes as text, as `keys.value_text` writes them (a class 1 or 1.0 is
    "1", True is "true")."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if preds.dtype.kind in "iu" or (preds.dtype.kind == "f" and bool((preds % 1 == 0).all())):
        return pc.cast(
            pa.array(preds.astype(np.int64) if preds.dtype.kind == "f" else preds), pa.string()
        )
    return pa.array([value_text(v) for v in preds.tolist()], pa.string())


def _class_names(classes: Sequence[Any]) -> list[str]:
    """Each class as a JSON object key, escaped once: '"1"', '"yes"'."""
    return [json.dumps(value_text(c), ensure_ascii=False) for c in classes]


def _classes_json(loaded: LoadedModel, frame: pd.DataFrame, classes: Sequence[Any]) -> pa.Array:
    """{class: p} of a classifier of more than two classes (its predict_proba)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from pipeline.model.features import feature_frame

    matrix = loaded.model.predict_proba(feature_frame(frame, loaded.features))
    parts: list[Any] = []
    for i, name in enumerate(_class_names(classes)):
        parts += ["," if i else "{", name + ":", pc.cast(pa.array(matrix[:, i]), pa.string())]
    return pc.binary_join_element_wise(*parts, "}", "")


def event_times(frame: pd.DataFrame, column: str) -> pa.Array | None:
    """The rows' event times (UTC) from `column`: timestamps, or ISO 8601 text; a naive time is
    UTC. A value that is not a time is None (the gate does not check the column yet)."""
    import pandas as pd
    import pyarrow as pa

    if not column or column not in frame.columns:
        return None
    values = frame[column]
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        parsed = (
            values.dt.tz_localize("UTC") if values.dt.tz is None else values.dt.tz_convert("UTC")
        )
    else:
        text = values.astype("string")
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    # Nanoseconds are cut to the microseconds both databases keep.
    return pa.array(parsed, from_pandas=True).cast(pa.timestamp("us", tz="UTC"), safe=False)
