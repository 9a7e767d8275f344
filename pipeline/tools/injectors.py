"""The corrupt tool's injectors: for each error type of the gate, where it can go and what it puts.

Each function here makes one kind of problem real for a given contract: the columns where a
value would violate it, the bad value itself, the copied rows, the renamed or extra column, and
the whole files the gate must reject. `pipeline.tools.corrupt` decides how many of each and where.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import InvalidArgument
from pipeline.infra.files import atomic_write_bytes
from pipeline.ingest.contract import Contract, Label
from pipeline.tools.formats import write_frame

# Text that no reader takes for a number, nor for a missing value ("n/a", "NA" and "null" are).
_TEXT_IN_NUMBERS = ("twelve", "#REF!", "1,234", "12 kg", "?", "abc")
_NEW_CATEGORIES = ("unlisted", "other", "zz_unknown")
_NA_TOKENS = {"", "na", "n/a", "nan", "-nan", "null", "none", "<na>", "#n/a", "#na", "#n/a n/a"}
_EXTRA_COLUMNS = ("comment", "exported_by", "crm_batch", "note")


@dataclass(frozen=True)
class Injection:
    """One kind of problem put into one column (or the file), and where."""

    error_type: str
    column: str | None
    rows: tuple[int, ...]  # 0-based data rows in the output file; () for file-level types
    detail: str | None = None  # e.g. the new name of a renamed column


def eligible(t: str, frame: pd.DataFrame, contract: Contract) -> list[str]:
    """The columns where a value of type `t` would be a real violation of the contract."""
    rules = [r for r in contract.columns.values() if r.name in frame.columns]
    numeric = [r for r in rules if r.kind in ("numeric", "integer")]
    if t in ("wrong_type", "infinite_value"):
        return [r.name for r in numeric]
    if t == "missing_value":
        kinds = ("numeric", "integer", "categorical", "id")
        return [r.name for r in rules if r.kind in kinds and not r.nullable]
    if t == "out_of_range":
        return [r.name for r in numeric if r.min is not None or r.max is not None]
    if t == "unknown_category":
        return [r.name for r in rules if r.kind == "categorical" and r.categories is not None]
    if t == "invalid_label":  # a missing label is no error (unlabelled), nor any regression one
        present = contract.target in frame.columns and contract.label_values is not None
        return [contract.target] if present else []
    return []


def why_not(t: str) -> str:
    """Why no column of the file can take a value of type `t` (when `eligible` finds none)."""
    return {
        "wrong_type": "the contract has no numeric column in this file",
        "infinite_value": "the contract has no numeric column in this file",
        "missing_value": "every column of the contract in this file may be missing (nullable)",
        "out_of_range": "no numeric column of the contract has a min or max",
        "unknown_category": "the contract has no categorical column with categories",
        "invalid_label": "the file has no target column, or the contract no label set "
        "(a regression target: any number is a label)",
    }[t]


def bad_value(
    t: str, col: str, current: Any, contract: Contract, rng: np.random.Generator
) -> object:
    """A value of column `col` (now `current`, a pandas cell) that the gate must report as `t`."""
    rule = contract.columns[col]
    if t == "missing_value":
        return None
    if t == "infinite_value":
        return float(rng.choice([np.inf, -np.inf]))
    if t == "wrong_type":
        if rule.kind == "integer" and rng.random() < 0.5:
            base = float(current) if pd.notna(current) else (rule.min or 0.0)
            return math.floor(base) + 0.5  # not a whole number in a column of whole numbers
        return str(rng.choice(_TEXT_IN_NUMBERS))
    if t == "out_of_range":
        lo, hi = rule.min, rule.max
        sides = [(s, b) for s, b in (("low", lo), ("high", hi)) if b is not None]
        span = hi - lo if lo is not None and hi is not None else abs(sides[0][1])
        pad = max(1.0, 0.5 * span)
        side, bound = sides[int(rng.integers(len(sides)))]
        value = math.ceil(bound + pad) if side == "high" else math.floor(bound - pad)
        return value if rule.kind == "integer" else float(value)
    if t == "unknown_category":
        known = set(rule.categories or ())
        options = [c.title() for c in sorted(known)] + list(_NEW_CATEGORIES)
        options = [o for o in options if o not in known and o.strip().lower() not in _NA_TOKENS]
        return options[int(rng.integers(len(options)))]
    if t == "invalid_label":
        return _bad_label(contract, rng)
    raise AssertionError(t)


def _bad_label(contract: Contract, rng: np.random.Generator) -> Label:
    labels = contract.label_values or ()  # `eligible` gives invalid_label only with a label set
    if contract.numeric_label:
        top = math.floor(max(float(v) for v in labels))
        options: list[Label] = [top + 1, top + 2, -1]
        options = [o for o in options if o not in labels]
        return options[int(rng.integers(len(options)))]
    options = [o for o in ("unknown", "?", "yes_no") if o not in {str(v) for v in labels}]
    return options[int(rng.integers(len(options)))]


def id_change_columns(frame: pd.DataFrame, contract: Contract) -> list[str] | None:
    """Columns a duplicate id can differ in; None when the contract has no unique id."""
    ids = [c for c in contract.id_columns if c in frame.columns]
    if not contract.unique_ids or not ids or len(ids) < len(contract.id_columns):
        return None
    return [
        c
        for c, r in contract.columns.items()
        if r.kind != "id" and c in frame.columns and frame[c].nunique() > 1
    ]


def copies(
    t: str,
    rows: list[int],
    frame: pd.DataFrame,
    clean: np.ndarray,
    contract: Contract,
    rng: np.random.Generator,
) -> list[tuple[str, str | None, pd.DataFrame]]:
    """New rows copying clean ones: exact copies, or the same id with one other value changed."""
    if t == "duplicate_row":
        return [(t, None, frame.iloc[[r]]) for r in rows]
    columns = id_change_columns(frame, contract)
    if columns is None:
        raise InvalidArgument("duplicate_id: the contract has no unique id column in this file")
    if not columns:
        raise InvalidArgument("duplicate_id: no column has two values to tell the copies apart")
    out: list[tuple[str, str | None, pd.DataFrame]] = []
    for r in rows:
        copy = frame.iloc[[r]].copy()
        for col in (str(c) for c in rng.permutation(columns)):
            values = frame[col].iloc[clean].dropna()
            current = frame[col].iloc[r]
            donors = values[values != current] if pd.notna(current) else values
            if len(donors):
                break
        else:
            raise InvalidArgument(
                "duplicate_id: no column has another value to tell the copies apart"
            )
        copy.iat[0, copy.columns.get_loc(col)] = donors.iloc[int(rng.integers(len(donors)))]
        out.append((t, contract.id_columns[0], copy))
    return out


def extra_name(frame: pd.DataFrame, contract: Contract, rng: np.random.Generator) -> str:
    """The name of a column that neither the file nor the contract has."""
    taken = set(frame.columns) | set(contract.columns)
    options = [n for n in _EXTRA_COLUMNS if n not in taken]
    return options[int(rng.integers(len(options)))] if options else f"extra_{len(taken)}"


def _renamed(name: str, taken: set[str], rng: np.random.Generator) -> str:
    """A new spelling of `name` that the gate's look-alike test still matches to it."""
    words = name.split("_")
    camel = words[0] + "".join(w[:1].upper() + w[1:] for w in words[1:])
    options = [name.replace("_", " "), camel, name.title(), name.upper(), name + "_"]
    options = [o for o in dict.fromkeys(options) if o != name and o not in taken]
    return options[int(rng.integers(len(options)))]


def reject(
    t: str,
    frame: pd.DataFrame,
    out: Path,
    fmt: str,
    contract: Contract,
    rng: np.random.Generator,
) -> Injection:
    """Write a file the gate must reject as a whole, for reason `t`."""
    if t == "unreadable":
        noise = rng.integers(0, 256, 2048, dtype=np.uint8).tobytes()
        atomic_write_bytes(out, b"\x00\xff\xfe" + noise)  # binary: not CSV, JSON or Parquet
        return Injection(t, None, ())
    if t == "empty":
        write_frame(frame.iloc[:0], out, fmt)
        return Injection(t, None, (), "header only" if fmt != "jsonl" else "0 bytes")
    features = [
        r.name
        for r in contract.columns.values()
        if r.required and r.kind not in ("id", "label") and r.name in frame.columns
    ]
    if not features:
        raise InvalidArgument(f"{t}: the contract has no required feature column in this file")
    col = features[int(rng.integers(len(features)))]
    if t == "missing_column":
        write_frame(frame.drop(columns=[col]), out, fmt)
        return Injection(t, col, ())
    if t == "renamed_column":
        new = _renamed(col, set(frame.columns) | set(contract.columns), rng)
        write_frame(frame.rename(columns={col: new}), out, fmt)
        return Injection(t, col, (), new)
    if fmt != "csv":
        raise InvalidArgument(
            "duplicate_column: only a CSV file can name a column twice "
            f"(Parquet and JSON lines cannot); give {out.name} a .csv suffix"
        )
    at = frame.columns.get_loc(col) + 1
    doubled = pd.concat([frame.iloc[:, :at], frame[[col]], frame.iloc[:, at:]], axis=1)
    write_frame(doubled, out, fmt)
    return Injection(t, col, ())
