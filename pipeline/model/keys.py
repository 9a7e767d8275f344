"""A row's key: its `data.id_columns` values as a compact JSON list of text, e.g. '["acme"]'.

The same key whoever computes it: a prediction stores it (`predictions.row_key`), a label file
computes it to find the prediction it resolves. Each value is written as text: an integer (or
a float that is one: 42.0) in decimal, another float as Python prints it, a boolean as
true/false, text as it is; JSON-escaped, non-ASCII kept. A row missing any id has no key (None).

One spelling of text is read as the number it writes: an integer with a zero fraction ("42.0",
"-7.00"), what a float column of whole ids becomes in a CSV file, is the integer ("42", "-7"),
so a labels CSV written from a float column finds the predictions of a Parquet file's integer
ids (and the other way round). Leading zeros stay significant ("00042" is not 42): text ids
such as account codes are zero-padded on purpose, and reading them as numbers could join a
label to another id's prediction, where a key that does not match is counted as unmatched and
reported.

`row_key` is the definition, one row at a time; `row_keys` computes a column of them with Arrow
(a million keys in a fraction of a second), and falls back on `row_key` for the rare values
JSON must escape. A test holds the two to the same answers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

# Characters JSON escapes (a quote, a backslash, a control character): a value holding one
# takes the slow, exact path.
NEEDS_ESCAPE = r'["\\\x00-\x1f]'
# Text of an integer with a zero fraction: its key is the integer's ("42.0" -> "42").
WHOLE_FRACTION = r"^-?[0-9]+\.0+$"
# The longest key (UTF-8 bytes) stored: every store indexes it, and PostgreSQL's index entry
# holds at most 2,704 bytes (about a third of a page). A row whose ids make a longer key is
# refused where it comes in (the gate, the labels inbox, the API), not stored unfindable.
MAX_KEY_BYTES = 2000


def value_text(value: Any) -> str | None:
    """One id value as the key's text; None when it is missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() else repr(float(value))
    if type(value).__name__ in {"NAType", "NaTType"}:
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # a numpy scalar
        return value_text(value.item())
    text = str(value)
    if re.fullmatch(WHOLE_FRACTION[1:-1], text):
        return _whole(text)
    return text


def _whole(text: str) -> str:
    """The decimal integer a text with a zero fraction writes: "007.0" -> "7", "-0.0" -> "0"
    (without int(): an id of thousands of digits is text, not a number Python refuses)."""
    whole = text.split(".", 1)[0]
    sign, digits = ("-", whole[1:]) if whole.startswith("-") else ("", whole)
    digits = digits.lstrip("0")
    return sign + digits if digits else "0"


def row_key(values: Sequence[Any]) -> str | None:
    """The key of one row, from its id values in `data.id_columns` order; None without ids."""
    texts = [value_text(v) for v in values]
    if not texts or any(t is None for t in texts):
        return None
    return json.dumps(texts, ensure_ascii=False, separators=(",", ":"))


def row_keys(frame: pd.DataFrame, columns: Sequence[str]) -> pa.Array | None:
    """The keys of every row of `frame` (an Arrow string array), or None with no id columns
    (or one missing from the frame: such rows have no key)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not columns or not set(columns) <= set(frame.columns):
        return None
    texts = [_texts(frame[c]) for c in columns]
    joined = texts[0] if len(texts) == 1 else pc.binary_join_element_wise(*texts, '","')
    keys = pc.binary_join_element_wise('["', joined, '"]', "")
    escape = pc.fill_null(pc.match_substring_regex(texts[0], NEEDS_ESCAPE), False)
    for more in texts[1:]:
        escape = pc.or_(escape, pc.fill_null(pc.match_substring_regex(more, NEEDS_ESCAPE), False))
    if not pc.any(escape).as_py():
        return keys
    # The few rows with a quote, a backslash or a control character: exactly, in Python.
    exact = keys.to_pylist()
    for i in pc.indices_nonzero(escape).to_pylist():
        exact[i] = row_key([frame[c].iloc[i] for c in columns])
    return pa.array(exact, pa.string())


def _texts(column: pd.Series) -> pa.Array:
    """A column's values as the key's text (null where missing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed objects, huge ints
        values = None
    if values is not None:
        kind = values.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            return _whole_fractions(pc.cast(values, pa.string()))
        if pa.types.is_integer(kind):
            return pc.cast(values, pa.string())
        if pa.types.is_boolean(kind):
            return pc.if_else(values, "true", "false")
        if pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type):
            return _whole_fractions(pc.cast(values, pa.string()))
    return pa.array([value_text(v) for v in column], pa.string())


def _whole_fractions(texts: pa.Array) -> pa.Array:
    """Text ids, those written as an integer with a zero fraction made the integer's text."""
    import pyarrow as pa
    import pyarrow.compute as pc

    whole = pc.fill_null(pc.match_substring_regex(texts, WHOLE_FRACTION), False)
    if not pc.any(whole).as_py():
        return texts
    exact = texts.to_pylist()
    for i in pc.indices_nonzero(whole).to_pylist():
        exact[i] = _whole(exact[i])
    return pa.array(exact, pa.string())


def too_long(keys: pa.Array | Sequence[str | None] | None) -> list[bool]:
    """Which of these keys take more than MAX_KEY_BYTES of UTF-8 (a missing key does not): an
    Arrow array measured by Arrow, Python text a key at a time (a character takes 1 to 4 bytes,
    so only keys near the bound are encoded; a lone surrogate as UTF-8 would write it)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if keys is None:
        return []
    if isinstance(keys, pa.Array):
        return pc.fill_null(pc.greater(pc.binary_length(keys), MAX_KEY_BYTES), False).to_pylist()
    return [_too_long(key) for key in keys]


def _too_long(key: str | None) -> bool:
    if key is None or len(key) * 4 <= MAX_KEY_BYTES:
        return False
    return len(key) > MAX_KEY_BYTES or len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES
