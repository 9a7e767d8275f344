"""The rows of predictions that carry their features (the API's, the web page's, the run's
diagnostics on the test file), ready for `write.record`.

Each gets its class as `label` and, for a binary classifier, {class: p}; its key from the id
columns and its event time from `data.timestamp_column` when the record holds them (a label
that arrives later finds it by them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipeline.errors import DataError
from pipeline.model.keys import row_key, value_text
from pipeline.predictions.params import BadParameter, parse_time
from pipeline.settings import Settings

if TYPE_CHECKING:
    import numpy as np

    from pipeline.model.registry import LoadedModel


def _event_time(record: Mapping[str, Any], column: str) -> datetime | None:
    value = record.get(column) if column else None
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        return parse_time(column, value)
    except BadParameter:  # not a time: none recorded (the gate does not check the column yet)
        return None


def check_keys(
    i: int,
    record: Mapping[str, Any],
    ids: Sequence[str],
    stamp: str | None,
    latest: datetime | None = None,
) -> None:
    """Record `i`'s ids and event time, as a request gives them (its features are checked by
    `model.features`): an id is text the databases store, a finite number or a boolean (or
    null: no key); an event time is an ISO 8601 time (a calendar date first) or null, not
    after `latest` when given. Raises DataError naming the
    column: a label finds its prediction by them, so a value no label could name is refused,
    not stored as a guess."""
    from pipeline.model.features import storable_text  # pandas: the app has it loaded already

    for column in ids:
        value = record.get(column)
        if value is None or isinstance(value, bool) or _finite(value):
            continue
        if isinstance(value, str):
            if not storable_text(value):
                raise DataError(
                    f"record {i}: id column {column!r} holds a NUL character or a lone "
                    "surrogate, which no database stores as text",
                    column=column,
                )
            continue
        raise DataError(
            f"record {i}: id column {column!r} must be a string, a finite number or null, "
            f"got {type(value).__name__}",
            column=column,
        )
    _check_length(i, record, ids)
    value = record.get(stamp) if stamp else None
    if stamp and value is not None:
        _check_time(i, stamp, value, latest)


def latest_event_time(settings: Settings) -> datetime:
    """The latest event time a request may give: now plus quality.timestamp_max_future_days
    (the gate's bound on a file's rows); the last time there is when that overflows."""
    from datetime import timedelta

    from pipeline.predictions.params import MAX_TIME

    try:
        return datetime.now(UTC) + timedelta(days=settings["quality.timestamp_max_future_days"])
    except OverflowError:
        return MAX_TIME


def _check_time(i: int, stamp: str, value: object, latest: datetime | None) -> None:
    """An event time as the gate takes one: an ISO 8601 time whose UTC is a time there is (the
    years 1 to 9999), not after `latest` (now plus quality.timestamp_max_future_days)."""
    text = value if isinstance(value, str) else ""
    try:
        if not re.match(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]|$)", text):  # not 2026-W45
            raise ValueError(text)
        when = datetime.fromisoformat(text)
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except ValueError:
        raise DataError(
            f"record {i}: column {stamp!r} (data.timestamp_column) must be an ISO 8601 "
            f"time such as '2026-12-01T09:30:00Z' or null, got {str(value)[:40]!r}",
            column=stamp,
        ) from None
    except OverflowError:
        raise DataError(
            f"record {i}: column {stamp!r} (data.timestamp_column): {text[:40]!r} is not a "
            "time in UTC (before the year 1 or after 9999)",
            column=stamp,
        ) from None
    if latest is not None and when > latest:
        raise DataError(
            f"record {i}: column {stamp!r} (data.timestamp_column): {text[:40]!r} is after "
            f"{latest.isoformat(timespec='seconds')}, later than "
            "quality.timestamp_max_future_days allows (an event is not recorded before it "
            "happens)",
            column=stamp,
        )


def _check_length(i: int, record: Mapping[str, Any], ids: Sequence[str]) -> None:
    """Refuse ids whose key is longer than a key may be (`model.keys.MAX_KEY_BYTES`), naming the
    longest of them."""
    from pipeline.model.keys import MAX_KEY_BYTES, row_key, too_long, value_text

    key = row_key([record.get(c) for c in ids]) if ids else None
    if key is None or not too_long([key])[0]:
        return
    size = len(key.encode("utf-8", "surrogatepass"))
    column = max(ids, key=lambda c: len(value_text(record.get(c)) or ""))
    raise DataError(
        f"record {i}: the ids are too long: {size:,} bytes as stored, at most "
        f"{MAX_KEY_BYTES:,} (id column {column!r})",
        column=column,
    )


def _finite(value: object) -> bool:
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def request_rows(
    loaded: LoadedModel,
    settings: Settings,
    records: Sequence[Mapping[str, Any]],
    predicted: np.ndarray,
    probability: np.ndarray | None,
    source: str,
    *,
    run_id: str | None = None,
    actual: Sequence[Any] | None = None,
    matrix: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One row per record: its features (the model's columns), prediction and probabilities:
    a binary classifier's from P(positive), a multiclass one's from `matrix` (its
    predict_proba, rows x classes in the order of `classes_`), as {class: p}."""
    classes = getattr(loaded.model, "classes_", None)
    names = None if classes is None else [value_text(c) for c in classes]
    ids = list(settings["data.id_columns"])
    id_set = set(ids)
    stamp = settings["data.timestamp_column"]
    columns = loaded.features.columns
    numeric = predicted.dtype.kind in "biuf"
    # Python floats, as float() of each element makes them, in one call.
    p1s = [None] * len(records) if probability is None else probability.astype(float).tolist()
    texts: dict[Any, str | None] = {}  # each predicted class's text, made once
    out = []
    for i, (rec, p) in enumerate(zip(records, predicted.tolist(), strict=True)):
        p1 = p1s[i]
        if names is None:
            label = None
        elif p in texts:
            label = texts[p]
        else:
            label = texts[p] = value_text(p)
        out.append(
            {
                "run_id": run_id,
                "source": source,
                "model_version": loaded.version,
                "features": {c: rec[c] for c in columns},
                "row_key": row_key([rec[c] for c in ids]) if ids and id_set <= rec.keys() else None,
                "event_time": _event_time(rec, stamp) if stamp else None,
                "prediction": float(p) if numeric else None,
                "label": label,
                "probability": p1,
                "probabilities": _distribution(names, p1, None if matrix is None else matrix[i]),
                "actual": None if actual is None else _number(actual[i]),
            }
        )
    return out


def _distribution(
    names: list[str | None] | None, p1: float | None, row: np.ndarray | None
) -> dict[str, float] | None:
    """{class: p} of one prediction, or None when the model gave no probabilities."""
    if names is None:
        return None
    if row is not None and len(row) == len(names):
        return {str(n): float(v) for n, v in zip(names, row, strict=True)}
    if p1 is not None and len(names) == 2:
        return {str(names[0]): 1.0 - p1, str(names[1]): p1}
    return None


def _number(value: Any) -> float | None:
    """A known label as the `actual` column keeps it: a number; a text class ("low") has none
    there (the run's confusion matrix and scores keep the test file's text labels)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
