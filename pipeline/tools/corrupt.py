"""Tools for demos and tests of the quality gate: split a data set into files, corrupt a copy.

`split_dataset` cuts one file into N files, as if they had landed one by one. `corrupt` writes a
copy of a file with a known mix of the gate's error types and returns exactly what it injected,
so that a demo or a test can check that the gate finds that and nothing else (issue 3, item 8).

Each injected row carries exactly one problem, chosen from the contract so that it is a real
violation; copies (duplicate_row, duplicate_id) are appended after the last row. The rows it
changes or copies are rows the gate finds clean in the source, so the gate's count per type on
the output is the injected count plus whatever the source already had (nothing, for a clean one).
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import numbers
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Iterator, Mapping
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.errors import DataError
from pipeline.infra.files import atomic_write, atomic_write_bytes
from pipeline.ingest.contract import Contract
from pipeline.ingest.discovery import FORMATS
from pipeline.ingest.vocabulary import ERROR_TYPES, FILE_LEVEL, REJECTING

# The gate's own vocabulary, split by level (ERROR_TYPES' order).
ROW_TYPES = tuple(t for t in ERROR_TYPES if t not in FILE_LEVEL)
FILE_TYPES = tuple(t for t in ERROR_TYPES if t in FILE_LEVEL)
DEFAULT_ROWS = (3, 10)  # the default mix injects between 3 and 10 rows of each row type

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
            raise ValueError(f"{name}: the count must be a whole number, got {count!r}") from None
    _check_mix(mix)
    return mix


# --- split ----------------------------------------------------------------------------------


def split_dataset(
    source: Path, outdir: Path, files: int, *, seed: int | None = None, overwrite: bool = False
) -> list[Path]:
    """Split one data file into `files` files of near-equal size, in the same format.

    Rows keep their order unless `seed` is given, which shuffles them first. The files are named
    `<stem>_part_001<suffix>`, ...; existing non-empty files of those names are refused unless
    `overwrite`. Values are copied as written (CSV text, JSON lines, Parquet columns), never
    re-typed.
    """
    source, outdir = Path(source), Path(outdir)
    fmt = _format(source)
    if isinstance(files, bool) or not isinstance(files, numbers.Integral) or files < 1:
        raise ValueError(f"the number of files must be a whole number of at least 1, got {files!r}")
    files = int(files)
    width = max(3, len(str(files)))
    targets = [
        outdir / f"{source.stem}_part_{i:0{width}d}{source.suffix}" for i in range(1, 1 + files)
    ]
    if not overwrite:
        taken = [t for t in targets if t.exists() and (not t.is_file() or t.stat().st_size > 0)]
        if taken:
            raise ValueError(
                f"{taken[0]} already exists ({len(taken)} of the {files} output files do); "
                "remove them or pass overwrite=True"
            )
    if fmt == "parquet":
        table = _read_split_input(source, fmt, lambda: _parquet(source))
        parts = np.array_split(_row_order(table.num_rows, files, seed, source), files)
        for target, part in zip(targets, parts, strict=True):
            atomic_write(target, lambda tmp, part=part: _write_parquet_part(table, part, tmp))
        return targets
    # CSV and JSON lines stream through, in two passes (count, then copy), unless shuffled.
    n = _read_split_input(source, fmt, lambda: sum(1 for _ in _text_rows(source, fmt)[1]))
    order = _row_order(n, files, seed, source)
    header, rows = _text_rows(source, fmt)
    if seed is not None:
        listed = list(rows)
        rows = (listed[i] for i in order)
    with closing(rows):
        for target, part in zip(targets, np.array_split(order, files), strict=True):
            chunk = itertools.islice(rows, len(part))
            atomic_write(target, lambda tmp, chunk=chunk: _write_text_part(header, chunk, tmp))
    return targets


def _row_order(n: int, files: int, seed: int | None, source: Path) -> np.ndarray:
    if files > n:
        raise ValueError(f"cannot split {source.name} into {files} files: it has only {n} rows")
    return np.arange(n) if seed is None else np.random.default_rng(seed).permutation(n)


def _read_split_input(source: Path, fmt: str, read: Callable[[], Any]) -> Any:
    try:
        return read()
    except FileNotFoundError:
        raise ValueError(f"cannot read {source}: no such file") from None
    except Exception as exc:  # csv.Error, UnicodeDecodeError, JSON and pyarrow errors alike
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise ValueError(f"cannot read {source} as {fmt}: {reason}") from exc


def _parquet(source: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(source)


def _text_rows(source: Path, fmt: str) -> tuple[list[str] | None, Generator[Any, None, None]]:
    """The header (CSV) and a generator of rows as written: CSV fields, or JSON lines."""
    if fmt == "csv":
        with source.open(newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), None)
        if not header:
            raise ValueError("it has no header line")
        return header, _csv_rows(source)
    return None, _json_rows(source)


def _csv_rows(source: Path) -> Generator[list[str], None, None]:
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        yield from (row for row in reader if row)


def _json_rows(source: Path) -> Generator[str, None, None]:
    with source.open(encoding="utf-8", newline="") as fh:
        for i, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if line.strip():
                if not isinstance(json.loads(line), dict):
                    raise ValueError(f"line {i} is not a JSON object")
                yield line


def _write_parquet_part(table: Any, part: np.ndarray, tmp: Path) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table.take(part), tmp)


def _write_text_part(header: list[str] | None, rows: Iterator[Any], tmp: Path) -> None:
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        if header is None:
            fh.writelines(line + "\n" for line in rows)
        else:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)


# --- corrupt --------------------------------------------------------------------------------


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
    out_fmt = _format(out)
    if out.resolve() == source.resolve():
        raise ValueError(f"refusing to corrupt {source} in place: give another output path")
    if mix is not None:
        _check_mix(mix)
    frame = _read_source(source, contract)
    rng = np.random.default_rng(seed)
    active = {t: int(n) for t, n in (mix or {}).items() if n}
    rejecting = [t for t in active if t in REJECTING]
    if rejecting:
        return [_reject(rejecting[0], frame, out, out_fmt, contract, rng)]

    clean = _clean_rows(source, frame, contract)
    if mix is None:
        active = _default_mix(rng, frame, contract, len(clean))
    wanted = {t: n for t, n in active.items() if t in ROW_TYPES}
    total = sum(wanted.values())
    for t, n in wanted.items():
        if n > len(clean):
            raise ValueError(
                f"{t}: {n} rows asked, but {source.name} has only {len(clean)} clean rows"
            )
    if total > len(clean):
        raise ValueError(
            f"the mix asks for {total} rows in all ({_mix_text(wanted)}), but {source.name} "
            f"has only {len(clean)} clean rows; each row gets one problem"
        )

    pool = iter(rng.permutation(clean).tolist())  # each row is changed or copied at most once
    out_frame = frame.copy()
    found: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    copies: list[tuple[str, str | None, pd.DataFrame]] = []
    for t in ROW_TYPES:
        n = wanted.get(t, 0)
        if not n:
            continue
        rows = [next(pool) for _ in range(n)]
        if t in ("duplicate_row", "duplicate_id"):
            copies += _copies(t, rows, frame, clean, contract, rng)
            continue
        columns = _eligible(t, frame, contract)
        if not columns:
            raise ValueError(f"{t}: {_why_not(t)}")
        for row in rows:
            col = columns[int(rng.integers(len(columns)))]
            value = _bad_value(t, col, frame[col].iloc[row], contract, rng)
            if out_frame[col].dtype != object:
                out_frame[col] = out_frame[col].astype(object)
            out_frame.iat[row, out_frame.columns.get_loc(col)] = value
            found[(t, col)].append(row)

    if copies:
        order = rng.permutation(len(copies))
        appended = []
        for pos, k in enumerate(order):
            t, col, row = copies[k]
            found[(t, col)].append(len(frame) + pos)
            appended.append(row)
        extra = pd.concat(appended, ignore_index=True)
        extra = extra.astype({c: out_frame[c].dtype for c in extra.columns})
        out_frame = pd.concat([out_frame, extra], ignore_index=True)
    out_frame = out_frame.infer_objects()

    injections = [Injection(t, c, tuple(sorted(r))) for (t, c), r in found.items()]
    if active.get("extra_column"):
        name = _extra_name(frame, contract, rng)
        # One value for every row, so that copied rows stay exact copies.
        out_frame[name] = f"export-{int(rng.integers(1000, 10000))}"
        injections.append(Injection("extra_column", name, ()))
    _write_frame(out_frame, out, out_fmt)
    return sorted(injections, key=_injection_order)


def _injection_order(inj: Injection) -> tuple[int, str]:
    return ((ROW_TYPES + FILE_TYPES).index(inj.error_type), inj.column or "")


def _check_mix(mix: Mapping[str, int]) -> None:
    for t, n in mix.items():
        if t not in ROW_TYPES and t not in FILE_TYPES:
            raise ValueError(
                f"unknown error type {t!r}; expected one of {', '.join(ROW_TYPES + FILE_TYPES)}"
            )
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"{t}: the count must be a whole number of at least 0, got {n!r}")
        if t in FILE_TYPES and n > 1:
            raise ValueError(f"{t}: a file-level type is injected once (count 0 or 1), got {n}")
    active = [t for t, n in mix.items() if n]
    rejecting = [t for t in active if t in REJECTING]
    if rejecting and len(active) > 1:
        others = ", ".join(t for t in active if t != rejecting[0])
        raise ValueError(
            f"{rejecting[0]} makes the gate reject the whole file, so it cannot be combined "
            f"with {others}: corrupt one file per rejecting type"
        )


def _mix_text(mix: Mapping[str, int]) -> str:
    return ", ".join(f"{t} {n}" for t, n in mix.items())


def _format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"{path.name}: unsupported file type {path.suffix or '(no extension)'!r}; "
            f"expected one of {', '.join(sorted(FORMATS))}"
        )
    return fmt


def _read_source(source: Path, contract: Contract) -> pd.DataFrame:
    from pipeline.ingest.readers import read_table

    fmt = _format(source)
    # Read as ingestion reads it, so the rows found clean here are the rows the gate finds clean.
    text = tuple(c.name for c in contract.columns.values() if c.kind in ("categorical", "id"))
    if not contract.numeric_label:
        text += (contract.target,)
    try:
        return read_table(source, fmt, text)
    except FileNotFoundError:
        raise ValueError(f"cannot read {source}: no such file") from None
    except DataError as exc:
        raise ValueError(f"cannot read {source}: {exc}") from exc


def _clean_rows(source: Path, frame: pd.DataFrame, contract: Contract) -> np.ndarray:
    """Rows the gate finds nothing wrong with, and that no other row duplicates."""
    from pipeline.ingest.checks import check_frame

    result = check_frame(frame, contract)
    if result.rejected:
        raise ValueError(
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
        if t in ("duplicate_row", "duplicate_id") or _eligible(t, frame, contract):
            mix[t] = n
    if "duplicate_id" in mix and not _id_change_columns(frame, contract):
        del mix["duplicate_id"]
    total = sum(mix.values())
    if total > clean:  # a small file: fewer of each, in the same proportions
        mix = {t: n * clean // total for t, n in mix.items()}
    return {t: n for t, n in mix.items() if n}


def _eligible(t: str, frame: pd.DataFrame, contract: Contract) -> list[str]:
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
    if t == "invalid_label":
        return [contract.target] if contract.target in frame.columns else []
    return []


def _why_not(t: str) -> str:
    return {
        "wrong_type": "the contract has no numeric column in this file",
        "infinite_value": "the contract has no numeric column in this file",
        "missing_value": "every column of the contract in this file may be missing (nullable)",
        "out_of_range": "no numeric column of the contract has a min or max",
        "unknown_category": "the contract has no categorical column with categories",
        "invalid_label": "the file has no target column",
    }[t]


def _bad_value(t: str, col: str, current: Any, contract: Contract, rng: np.random.Generator) -> Any:
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
        span = hi - lo if lo is not None and hi is not None else abs(hi if hi is not None else lo)
        pad = max(1.0, 0.5 * span)
        sides = [s for s, bound in (("low", lo), ("high", hi)) if bound is not None]
        side = sides[int(rng.integers(len(sides)))]
        value = math.ceil(hi + pad) if side == "high" else math.floor(lo - pad)
        return value if rule.kind == "integer" else float(value)
    if t == "unknown_category":
        known = set(rule.categories or ())
        options = [c.title() for c in sorted(known)] + list(_NEW_CATEGORIES)
        options = [o for o in options if o not in known and o.strip().lower() not in _NA_TOKENS]
        return options[int(rng.integers(len(options)))]
    if t == "invalid_label":
        labels = contract.label_values
        if labels is None or rng.random() < 1 / 3:
            return None  # a row without a label
        if contract.numeric_label:
            top = math.floor(max(float(v) for v in labels))
            options = [top + 1, top + 2, -1]
            options = [o for o in options if o not in labels]
            return options[int(rng.integers(len(options)))]
        options = [o for o in ("unknown", "?", "yes_no") if o not in {str(v) for v in labels}]
        return options[int(rng.integers(len(options)))]
    raise AssertionError(t)


def _id_change_columns(frame: pd.DataFrame, contract: Contract) -> list[str] | None:
    """Columns a duplicate id can differ in; None when the contract has no unique id."""
    ids = [c for c in contract.id_columns if c in frame.columns]
    if not contract.unique_ids or not ids or len(ids) < len(contract.id_columns):
        return None
    return [
        c
        for c, r in contract.columns.items()
        if r.kind != "id" and c in frame.columns and frame[c].nunique() > 1
    ]


def _copies(
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
    columns = _id_change_columns(frame, contract)
    if columns is None:
        raise ValueError("duplicate_id: the contract has no unique id column in this file")
    if not columns:
        raise ValueError("duplicate_id: no column has two values to tell the copies apart")
    out = []
    for r in rows:
        copy = frame.iloc[[r]].copy()
        for col in (str(c) for c in rng.permutation(columns)):
            values = frame[col].iloc[clean].dropna()
            current = frame[col].iloc[r]
            donors = values[values != current] if pd.notna(current) else values
            if len(donors):
                break
        else:
            raise ValueError("duplicate_id: no column has another value to tell the copies apart")
        copy.iat[0, copy.columns.get_loc(col)] = donors.iloc[int(rng.integers(len(donors)))]
        out.append((t, contract.id_columns[0], copy))
    return out


def _extra_name(frame: pd.DataFrame, contract: Contract, rng: np.random.Generator) -> str:
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


def _reject(
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
        _write_frame(frame.iloc[:0], out, fmt)
        return Injection(t, None, (), "header only" if fmt != "jsonl" else "0 bytes")
    features = [
        r.name
        for r in contract.columns.values()
        if r.required and r.kind not in ("id", "label") and r.name in frame.columns
    ]
    if not features:
        raise ValueError(f"{t}: the contract has no required feature column in this file")
    col = features[int(rng.integers(len(features)))]
    if t == "missing_column":
        _write_frame(frame.drop(columns=[col]), out, fmt)
        return Injection(t, col, ())
    if t == "renamed_column":
        new = _renamed(col, set(frame.columns) | set(contract.columns), rng)
        _write_frame(frame.rename(columns={col: new}), out, fmt)
        return Injection(t, col, (), new)
    if fmt != "csv":
        raise ValueError(
            "duplicate_column: only a CSV file can name a column twice "
            f"(Parquet and JSON lines cannot); give {out.name} a .csv suffix"
        )
    at = frame.columns.get_loc(col) + 1
    doubled = pd.concat([frame.iloc[:, :at], frame[[col]], frame.iloc[:, at:]], axis=1)
    _write_frame(doubled, out, fmt)
    return Injection(t, col, ())


def _write_frame(frame: pd.DataFrame, out: Path, fmt: str) -> None:
    if fmt == "csv":
        atomic_write(out, lambda tmp: frame.to_csv(tmp, index=False, lineterminator="\n"))
    elif fmt == "parquet":
        safe = frame.copy()
        for col in safe.columns[(safe.dtypes == "object").to_numpy()]:
            kinds = {isinstance(v, str) for v in safe[col].dropna()}
            if kinds == {True, False}:  # text among numbers: Parquet keeps a column one type
                safe[col] = safe[col].astype("str")
        atomic_write(out, lambda tmp: safe.to_parquet(tmp, index=False))
    else:
        atomic_write(out, lambda tmp: tmp.write_text(_json_lines(frame), encoding="utf-8"))


def _json_lines(frame: pd.DataFrame) -> str:
    """One JSON object per row; infinity as `Infinity` (pandas' to_json would write null)."""
    lines = []
    for record in frame.to_dict(orient="records"):
        for k, v in record.items():
            if isinstance(v, np.generic):
                v = v.item()
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                v = None
            record[k] = v
        lines.append(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    return "".join(lines)
