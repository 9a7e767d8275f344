"""The rows of a labels file checked: each good row as (row key, label, observed time), each bad
row kept with why. Pure: no I/O.

A labels file holds the id columns (`data.id_columns`) and the target (`data.target`), and may
hold when the outcome was observed (`labels.observed_at_column`). A file without an id column
or without the target is refused whole (`LabelFileError`); a row is bad when an id is missing
(`no_id`), when its label is missing or not one of the contract's label values (for
regression: not a finite number) (`invalid_label`), or when its observed time is there and
cannot be read as a time (`bad_time`; an empty one is no error: the label's time is then when it
was received). Bad rows are counted by type and kept, never dropped silently.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pipeline.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ERROR_TYPES = ("no_id", "invalid_label", "bad_time")
ERRORS_COLUMN = "_riskwatch_errors"  # as the gate's quarantined rows: 'type:column; ...'
ROW_COLUMN = "_riskwatch_row"  # the 1-based data row in the labels file


class LabelFileError(DataError):
    """A labels file that cannot be used at all (a column it needs is missing)."""


@dataclass
class CheckedLabels:
    """A labels file's rows after the checks."""

    good: pd.DataFrame  # row_number (0-based), row_key, label (text), observed_at (UTC or NaT)
    bad: pd.DataFrame  # the bad rows as read (text), with ERRORS_COLUMN and ROW_COLUMN
    rows_read: int
    invalid_by_type: dict[str, int] = field(default_factory=dict)


def label_text(value: object) -> str:
    """A label as stored: a number as its shortest text (1.0 -> "1"), anything else as text."""
    if isinstance(value, bool) or type(value).__name__ in ("bool", "bool_"):  # numpy's too
        return str(int(value))  # type: ignore[call-overload]
    if isinstance(value, numbers.Real):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    return str(value)


def check_labels(
    frame: pd.DataFrame,
    id_columns: Sequence[str],
    target: str,
    observed_column: str,
    label_values: Sequence[str | int | float] | None,
    *,
    numeric: bool,
    keys: Callable[[pd.DataFrame], Sequence[str | None]],
) -> CheckedLabels:
    """Check a labels file's rows. `label_values`: the contract's labels (None: any value);
    `numeric`: labels are numbers (regression, or classes 0/1), compared as numbers; `keys`:
    the row keys of a frame of id columns, as predictions store them
    (`pipeline.predictions.row_keys`); a row whose key is longer than a key may be
    (`model.keys.MAX_KEY_BYTES`) has no usable id (no store indexes it)."""
    import numpy as np
    import pandas as pd

    from pipeline.model.keys import MAX_KEY_BYTES, too_long

    missing = [c for c in [*id_columns, target] if c not in frame.columns]
    if missing:
        from pipeline.ingest.checks import delimiter_hint

        what = f"the target {target!r}" if missing == [target] else f"id column {missing[0]!r}"
        raise LabelFileError(
            f"a labels file needs the id columns {list(id_columns)} and the target {target!r}; "
            f"{what} is missing{delimiter_hint([str(c) for c in frame.columns])}",
            column=missing[0],
            error_type="missing_column",
            rows=len(frame),
        )
    n = len(frame)
    errors = [[] for _ in range(n)]  # type: list[list[str]]
    no_id = np.zeros(n, dtype=bool)
    for name in id_columns:
        column = frame[name]
        blank = column.isna().to_numpy() | (column.astype(str).str.strip() == "").to_numpy()
        _note(errors, blank, f"no_id:{name}")
        no_id = no_id | blank
    labels, bad_label = _labels(frame[target], label_values, numeric)
    _note(errors, bad_label, f"invalid_label:{target}")
    observed = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    bad_time = np.zeros(n, dtype=bool)
    if observed_column in frame.columns:
        observed, bad_time = _times(frame[observed_column])
        _note(errors, bad_time, f"bad_time:{observed_column}")
    # A key longer than any store indexes names no prediction: the row has no usable id.
    present = np.flatnonzero(~no_id)
    row_key = np.full(n, None, dtype=object)
    row_key[present] = list(keys(frame.iloc[present][list(id_columns)]))
    long = np.zeros(n, dtype=bool)
    long[present] = too_long(list(row_key[present]))
    _note(errors, long, f"no_id:{id_columns[0]} (a key over {MAX_KEY_BYTES:,} bytes)")
    no_id = no_id | long
    bad = no_id | bad_label | bad_time
    keep = ~bad
    good = pd.DataFrame(
        {
            "row_number": np.flatnonzero(keep),
            "row_key": row_key[keep],
            "label": labels[keep].to_numpy(dtype=object),
            "observed_at": observed[keep].to_numpy(),
        }
    )
    good["observed_at"] = pd.to_datetime(good["observed_at"], utc=True)
    quarantined = frame[bad].astype("string")
    quarantined.insert(
        0, ERRORS_COLUMN, ["; ".join(e) for e, b in zip(errors, bad, strict=True) if b]
    )
    quarantined.insert(1, ROW_COLUMN, np.flatnonzero(bad) + 1)
    counts = {"no_id": no_id, "invalid_label": bad_label, "bad_time": bad_time}
    by_type = {name: int(mask.sum()) for name, mask in counts.items() if mask.any()}
    return CheckedLabels(good, quarantined.reset_index(drop=True), n, by_type)


def _note(errors: list[list[str]], mask: np.ndarray, text: str) -> None:
    import numpy as np

    for i in np.flatnonzero(mask):
        errors[i].append(text)


def _labels(
    column: pd.Series, allowed: Sequence[str | int | float] | None, numeric: bool
) -> tuple[pd.Series, np.ndarray]:
    """The labels as stored text, and the mask of rows whose label is missing or not allowed."""
    import numpy as np
    import pandas as pd

    if numeric:
        values = pd.to_numeric(column, errors="coerce").astype("float64")
        bad = ~np.isfinite(values.to_numpy())
        if allowed is not None:
            bad = bad | ~np.isin(values.to_numpy(), np.asarray(allowed, dtype="float64"))
        text = _each_distinct(values, _number_text)
        return text, bad
    text = _each_distinct(column, label_text)
    bad = (text.str.strip() == "").to_numpy()
    if allowed is not None:
        bad = bad | ~text.isin([label_text(v) for v in allowed]).to_numpy()
    return text, bad


def _number_text(value: object) -> str:
    return label_text(value) if math.isfinite(value) else ""  # type: ignore[arg-type]


def _each_distinct(column: pd.Series, text: Callable[[object], str]) -> pd.Series:
    """`text` of each value, called once per distinct value (a labels file has few labels and
    many rows: a call per row took 15 s for 1,000,000 rows); a missing value is ""."""
    import numpy as np
    import pandas as pd

    try:
        codes, distinct = pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # a value that has no hash (a list or an object of a JSON line): each row
        return column.map(lambda v: "" if v is None or v is pd.NA or v != v else text(v))
    texts = np.array([text(v) for v in distinct] + [""], dtype=object)
    return pd.Series(texts[codes], index=column.index, dtype=object)


def _times(column: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Observed times in UTC (naive: taken as UTC; empty: NaT) and the mask of rows whose time
    is there but is not a time. Text must be ISO 8601; a number is refused (its unit is a
    guess)."""
    import pandas as pd

    present = column.notna() & (column.astype(str).str.strip() != "")
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = pd.to_datetime(column, utc=True)
    elif pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        parsed = pd.Series(pd.NaT, index=column.index, dtype="datetime64[ns, UTC]")
    else:
        text = column.where(present, None).astype("object")
        parsed = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
    # A time whose UTC lies outside the years 1 to 9999 (0001-01-01T00:00+05:00 is in year 0)
    # is one no database column nor Python holds: refused, never wrapped into another.
    outside = (parsed < pd.Timestamp(datetime.min, tz=UTC)) | (
        parsed > pd.Timestamp(datetime.max, tz=UTC)
    )
    parsed = parsed.mask(outside)
    bad = (present & parsed.isna()).to_numpy()
    return parsed, bad
