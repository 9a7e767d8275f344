"""The corrupt tool: a copy of a file with a known mix of the gate's error types, and its record.

`corrupt` writes a copy of a file with a known mix of the gate's error types and returns exactly
what it injected, so that a demo or a test can check that the gate finds that and nothing else
(issue 3, item 8). The injectors (what each type puts where) are in `pipeline.tools.injectors`;
the split tool is `pipeline.tools.split`.

Each injected row carries exactly one problem, chosen from the contract so that it is a real
violation; copies (duplicate_row, duplicate_id) are appended after the last row. The rows it
changes or copies are rows the gate finds clean in the source, so the gate's count per type on
the output is the injected count plus whatever the source already had (nothing, for a clean one).
"""

from __future__ import annotations

import numbers
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError, InvalidArgument
from pipeline.ingest.contract import Contract
from pipeline.tools.formats import file_format, write_frame
from pipeline.tools.injectors import (
    Injection,
    bad_value,
    copies,
    eligible,
    extra_name,
    id_change_columns,
    reject,
    why_not,
)
from pipeline.vocabulary import DERIVED, ERROR_TYPES, FILE_LEVEL, REJECTING

if TYPE_CHECKING:
    from pipeline.settings import Settings

__all__ = [
    "DEFAULT_ROWS",
    "FILE_TYPES",
    "ROW_TYPES",
    "Injection",
    "corrupt",
    "corrupt_file",
    "describe",
    "parse_mix",
]

# The gate's own vocabulary, split by level (ERROR_TYPES' order); a derived type (a share of
# the others) is not injected on its own.
ROW_TYPES = tuple(t for t in ERROR_TYPES if t not in FILE_LEVEL)
FILE_TYPES = tuple(t for t in ERROR_TYPES if t in FILE_LEVEL and t not in DERIVED)
DEFAULT_ROWS = (3, 10)  # the default mix injects between 3 and 10 rows of each row type

# Where each (error type, column) was injected: 0-based rows of the output file.
Found = dict[tuple[str, str | None], list[int]]


def describe(injections: list[Injection]) -> dict[str, int]:
    """Count what was injected the way the gate counts: rows per row type, 1 per file type."""
    out: Counter[str] = Counter()
    for inj in injections:
        out[inj.error_type] += len(inj.rows) if inj.error_type in ROW_TYPES else 1
    return dict(sorted(out.items()))


def parse_mix(text: str) -> dict[str, int]:
    """Read a mix written as 'wrong_type=5,extra_column=1' (for the CLI)."""
    mix: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, count = part.partition("=")
        name = name.strip()
        if not sep:
            mix[name] = 1
            continue
        try:
            mix[name] = int(count)
        except ValueError:
            raise InvalidArgument(
                f"{name}: the count must be a whole number, got {count!r}"
            ) from None
    _check_mix(mix)
    return mix


def corrupt(
    source: Path,
    out: Path,
    *,
    seed: int,
    contract: Contract,
    mix: Mapping[str, int] | None = None,
) -> list[Injection]:
    """Write a copy of `source` to `out` (format by `out`'s suffix) with a mix of errors injected.

    `mix` maps an error type to how many rows get it (row types) or to 1 (file types); without
    it, every row type the contract allows gets between 3 and 10 rows (seeded). A type that makes
    the gate reject the whole file (missing, renamed or duplicated column, empty, unreadable)
    must come alone: the row counts would be moot. Returns exactly what was injected; the same
    seed gives the same file.
    """
    source, out = Path(source), Path(out)
    out_fmt = file_format(out)
    if out.resolve() == source.resolve():
        raise InvalidArgument(f"refusing to corrupt {source} in place: give another output path")
    if mix is not None:
        _check_mix(mix)
    frame = _read_source(source, contract)
    rng = np.random.default_rng(seed)
    active = {t: int(n) for t, n in (mix or {}).items() if n}
    rejecting = [t for t in active if t in REJECTING]
    if rejecting:
        return [reject(rejecting[0], frame, out, out_fmt, contract, rng)]

    clean = _clean_rows(source, frame, contract)
    if mix is None:
        active = _default_mix(rng, frame, contract, len(clean))
    wanted = {t: n for t, n in active.items() if t in ROW_TYPES}
    _check_room(source, wanted, len(clean))
    out_frame, found = _inject_rows(frame, wanted, clean, contract, rng)

    injections = [Injection(t, c, tuple(sorted(r))) for (t, c), r in found.items()]
    if active.get("extra_column"):
        name = extra_name(frame, contract, rng)
        # One value for every row, so that copied rows stay exact copies.
        out_frame[name] = f"export-{int(rng.integers(1000, 10000))}"
        injections.append(Injection("extra_column", name, ()))
    write_frame(out_frame, out, out_fmt)
    return sorted(injections, key=_injection_order)


def corrupt_file(
    settings: Settings, source: Path, out: Path, *, seed: int, mix: str | None = None
) -> dict[str, Any]:
    """`riskwatch corrupt`: corrupt `source` into `out` against the contract in the settings.

    `mix` is written as `parse_mix` reads it (None: the default mix). Returns the output file,
    the count per type (as `describe` counts) and each injection's 1-based rows.
    """
    from pipeline.ingest import contract as contracts

    wanted = parse_mix(mix) if mix is not None else None
    contract = contracts.load(settings.path("paths.contract"))
    injected = corrupt(source, out, seed=seed, contract=contract, mix=wanted)
    return {
        "file": str(out),
        "injected": describe(injected),
        "details": [
            {"error_type": i.error_type, "column": i.column, "rows": [r + 1 for r in i.rows]}
            for i in injected
        ],
    }


def _check_room(source: Path, wanted: Mapping[str, int], clean: int) -> None:
    """Refuse a mix that asks for more rows than the source has clean ones."""
    for t, n in wanted.items():
        if n > clean:
            raise InvalidArgument(
                f"{t}: {n} rows asked, but {source.name} has only {clean} clean rows"
            )
    total = sum(wanted.values())
    if total > clean:
        raise InvalidArgument(
            f"the mix asks for {total} rows in all ({_mix_text(wanted)}), but {source.name} "
            f"has only {clean} clean rows; each row gets one problem"
        )


def _inject_rows(
    frame: pd.DataFrame,
    wanted: Mapping[str, int],
    clean: np.ndarray,
    contract: Contract,
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, Found]:
    """The frame with the row-level problems in place and the copies appended, and where."""
    pool = iter(rng.permutation(clean).tolist())  # each row is changed or copied at most once
    out_frame = frame.copy()
    found: Found = defaultdict(list)
    copied: list[tuple[str, str | None, pd.DataFrame]] = []
    for t in ROW_TYPES:
        n = wanted.get(t, 0)
        if not n:
            continue
        rows = [next(pool) for _ in range(n)]
        if t in ("duplicate_row", "duplicate_id"):
            copied += copies(t, rows, frame, clean, contract, rng)
            continue
        columns = eligible(t, frame, contract)
        if not columns:
            raise InvalidArgument(f"{t}: {why_not(t)}")
        for row in rows:
            col = columns[int(rng.integers(len(columns)))]
            value = bad_value(t, col, frame[col].iloc[row], contract, rng)
            if out_frame[col].dtype != object:
                out_frame[col] = out_frame[col].astype(object)
            out_frame.iat[row, out_frame.columns.get_loc(col)] = value
            found[(t, col)].append(row)

    if copied:
        order = rng.permutation(len(copied))
        appended = []
        for pos, k in enumerate(order):
            t, col, row_frame = copied[k]
            found[(t, col)].append(len(frame) + pos)
            appended.append(row_frame)
        extra = pd.concat(appended, ignore_index=True)
        extra = extra.astype({c: out_frame[c].dtype for c in extra.columns})
        out_frame = pd.concat([out_frame, extra], ignore_index=True)
    return out_frame.infer_objects(), found


def _injection_order(inj: Injection) -> tuple[int, str]:
    return ((ROW_TYPES + FILE_TYPES).index(inj.error_type), inj.column or "")


def _check_mix(mix: Mapping[str, int]) -> None:
    for t, n in mix.items():
        if t not in ROW_TYPES and t not in FILE_TYPES:
            raise InvalidArgument(
                f"unknown error type {t!r}; expected one of {', '.join(ROW_TYPES + FILE_TYPES)}"
            )
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise InvalidArgument(f"{t}: the count must be a whole number of at least 0, got {n!r}")
        if t in FILE_TYPES and n > 1:
            raise InvalidArgument(
                f"{t}: a file-level type is injected once (count 0 or 1), got {n}"
            )
    active = [t for t, n in mix.items() if n]
    rejecting = [t for t in active if t in REJECTING]
    if rejecting and len(active) > 1:
        others = ", ".join(t for t in active if t != rejecting[0])
        raise InvalidArgument(
            f"{rejecting[0]} makes the gate reject the whole file, so it cannot be combined "
            f"with {others}: corrupt one file per rejecting type"
        )


def _mix_text(mix: Mapping[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in mix.items())


def _read_source(source: Path, contract: Contract) -> pd.DataFrame:
    from pipeline.ingest.readers import read_table

    fmt = file_format(source)
    # Read as ingestion reads it, so the rows found clean here are the rows the gate finds clean.
    text = contract.text_columns
    try:
        return read_table(source, fmt, text)
    except FileNotFoundError:
        raise InvalidArgument(f"cannot read {source}: no such file") from None
    except DataError as exc:
        raise InvalidArgument(f"cannot read {source}: {exc}") from exc


def _clean_rows(source: Path, frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    """Rows the gate finds nothing wrong with, and that no other row duplicates."""
    from pipeline.ingest.checks import check_frame

    result = check_frame(frame, contract)
    if result.rejected:
        raise InvalidArgument(
            f"the gate rejects {source.name} already ({result.rejected.message}); "
            "corrupt a file that passes it"
        )
    ok = ~result.bad
    key = [c for c in contract.columns if c in frame.columns]
    ok &= ~frame.duplicated(subset=key, keep=False).to_numpy()
    ids = [c for c in contract.id_columns if c in frame.columns]
    if ids:
        ok &= ~frame.duplicated(subset=ids, keep=False).to_numpy()
    return np.nonzero(ok)[0]


def _default_mix(
    rng: np.random.Generator, frame: pd.DataFrame, contract: Contract, clean: int
) -> dict[str, int]:
    low, high = DEFAULT_ROWS
    mix = {}
    for t in ROW_TYPES:
        n = int(rng.integers(low, high + 1))
        if t in ("duplicate_row", "duplicate_id") or eligible(t, frame, contract):
            mix[t] = n
    if "duplicate_id" in mix and not id_change_columns(frame, contract):
        del mix["duplicate_id"]
    total = sum(mix.values())
    if total > clean:  # a small file: fewer of each, in the same proportions
        mix = {t: n * clean // total for t, n in mix.items()}
    return {t: n for t, n in mix.items() if n}
