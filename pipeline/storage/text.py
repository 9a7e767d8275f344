"""Text made storable: what the engine writes is escaped here, the one place, before SQL sees it.

PostgreSQL refuses a NUL character in `text` and in JSON, and neither database driver can
encode a lone surrogate (what Python makes of bytes that are not UTF-8, in a file name or a
JSON-lines column). Such text comes from the files riskwatch reads (a column name, a value, a
reason quoting them): written as is, one file would fail every tick (issue 11). Both are
written as the escapes Python would print (`\\x00`, `\\udcff`), on SQLite and PostgreSQL alike,
so a value reads the same on both.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_IMPOSSIBLE = re.compile("[\x00\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\\x00" if code == 0 else f"\\u{code:04x}"


def storable(value: Any) -> Any:
    """`value` with NULs and lone surrogates escaped in every string in it (dicts, lists too)."""
    if value is None:  # most often, of a prediction's run, key or label: no ABC check for it
        return None
    if isinstance(value, str):
        return _IMPOSSIBLE.sub(_escape, value) if _IMPOSSIBLE.search(value) else value
    if isinstance(value, Mapping):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def storable_texts(values: list[Any]) -> list[Any]:
    """`storable` of each value of a long list of text (None, numbers, kept): one search of
    them all first, as most lists need no escape at all."""
    texts = [v for v in values if isinstance(v, str)]
    if not _IMPOSSIBLE.search("".join(texts)):
        return values
    return [storable(v) for v in values]
