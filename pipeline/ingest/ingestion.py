"""Ingest one source file: read it, pass it through the quality gate, keep its good rows.

A file that cannot be read, is empty, lacks (or renamed, or repeats) a required column, or has no
row that passes is quarantined whole: its bytes are copied to the quarantine folder with the
reason. Rows that break the contract go to a Parquet file beside it, each with its errors. The
source file is only ever read.

With `quality.duplicates = "history"`, the file's row and id hashes are looked up in the
database's index of earlier files (`RowIndex`) and repeats are quarantined too; the file's new
hashes travel on its `Ingested` to the transaction that records it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from pipeline.errors import DataError, RiskwatchError
from pipeline.infra.files import atomic_write
from pipeline.ingest.contract import Contract
from pipeline.ingest.discovery import SourceFile
from pipeline.ingest.intake import as_source, keep, private_copy
from pipeline.ingest.readers import blank_labels_missing, count_rows, read_table
from pipeline.ingest.timestamps import event_times_typed
from pipeline.model.features import whole_int64
from pipeline.settings.table import default
from pipeline.storage import row_index
from pipeline.vocabulary import DERIVED

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa

    from pipeline.ingest.checks import QualityResult
    from pipeline.ingest.history import Hashes, Seen

DATA_DIR = "data"
QUARANTINE_DIR = "quarantine"
ERRORS_COLUMN = "_riskwatch_errors"  # in quarantined rows: 'type:column; ...'
ROW_COLUMN = "_riskwatch_row"  # in quarantined rows: the 1-based data row in the source file


@dataclass
class Ingested:
    source: SourceFile
    status: str  # ingested or quarantined
    reason: str | None = None
    rows: int = 0
    rows_quarantined: int = 0
    data_path: str | None = None  # relative to the ingested folder
    quarantine_path: str | None = None
    quality: QualityResult = field(kw_only=True, repr=False)  # the gate's verdict, always
    report: str | None = None  # the HTML quality report, absolute path
    index: row_index.Entries | None = None  # its new hashes, with quality.duplicates = history
    labelled_rows: int = 0  # good rows with a label (the others are inference data)
    # The distinct labels of its good rows, when the gate was asked to learn them (a contract
    # without a label set: `contract_tools.learn_labels`).
    labels: frozenset[object] = frozenset()


@dataclass
class RowIndex:
    """The database's index of rows and ids of earlier files, as the gate asks it."""

    engine: sa.Engine

    def seen(self, hashes: Hashes) -> Seen:
        with self.engine.connect() as conn:
            return _seen(conn, hashes)


def _seen(conn: sa.Connection, hashes: Hashes) -> Seen:
    from pipeline.ingest.history import Seen, distinct

    rows = row_index.lookup(conn, "row", distinct(hashes.rows).tolist())
    ids = row_index.lookup(conn, "id", distinct(hashes.ids[hashes.has_id]).tolist())
    return Seen(rows, ids, row_index.file_names(conn, {*rows.values(), *ids.values()}))


def _entries(hashes: Hashes, seen: Seen, keep: np.ndarray) -> row_index.Entries:
    from pipeline.ingest.history import new_entries

    rows = new_entries(hashes.rows, keep, seen.rows).tolist()
    ids = new_entries(hashes.ids, keep & hashes.has_id, seen.ids).tolist()
    return row_index.Entries(rows, ids, int(keep.sum()))


def index_earlier_files(engine: sa.Engine, ingested_dir: Path, contract: Contract) -> int:
    """Index the good rows of every ingested file the index does not cover yet, oldest first,
    from its Parquet file, one transaction per file; return how many rows were indexed.

    A tick does this once, when `quality.duplicates` becomes "history" on a database with files
    ingested before: later files are indexed as they are recorded.
    """
    from pipeline.ingest.history import hash_frame

    with engine.connect() as conn:
        todo = row_index.unindexed(conn)
    total = 0
    for file in todo:
        path = ingested_dir / file.data_path
        try:
            frame = pd.read_parquet(path)
        except (OSError, ValueError) as exc:
            raise RiskwatchError(
                f'quality.duplicates = "history" needs the rows of every ingested file, and '
                f"{path} (ingested file {file.id}, {file.name!r}) cannot be read: {exc}; restore "
                'it, or set quality.duplicates = "file"'
            ) from exc
        hashes = hash_frame(frame, contract)
        with engine.begin() as conn:
            keep = np.ones(len(frame), dtype=bool)
            row_index.add(conn, file.id, _entries(hashes, _seen(conn, hashes), keep))
        total += len(frame)
        del frame
    return total


def ingest_file(
    source: SourceFile,
    ingested_dir: Path,
    contract: Contract,
    overrides: Mapping[str, str] | None = None,
    missing_alpha: float = default("quality.missing_significance"),
    max_invalid_share: float = default("quality.max_invalid_share"),
    frame: pd.DataFrame | None = None,
    history: RowIndex | None = None,
    gate: Gate | None = None,
) -> Ingested:
    """Read, check against the contract and store one file; never raises for bad data.

    What is read is a private copy whose hash is checked against `source.sha256`
    (`intake.private_copy`): a file that changed, vanished or became unreadable since discovery
    raises `intake.Moved`, and nothing of it is written.

    Good rows go to `data/<hash>.parquet`; bad rows, each with its errors and its data-row
    number, to `quarantine/<hash>-rows.parquet`; a file with no usable row is copied to
    `quarantine/` byte for byte with a `.reason.txt`. Good + quarantined rows = rows read. More
    than `max_invalid_share` of the rows bad is an `invalid_share` issue of the file.
    `frame`: the file already read as this would read it (it is not read again). With
    `history`, rows and ids that earlier files brought are duplicates too. `gate`: the
    unlabelled-file and event-time options (default: `Gate()`).

    The stored Parquet always has the target column, null in unlabelled rows (a file without
    the column gets it, all null), and the event-time column as a UTC timestamp.
    """
    with private_copy(source, ingested_dir / QUARANTINE_DIR) as copy:
        return _ingest_copy(
            source,
            copy,
            ingested_dir,
            contract,
            overrides,
            missing_alpha,
            max_invalid_share,
            frame,
            history,
            gate or Gate(),
        )


def _ingest_copy(
    source: SourceFile,
    copy: Path,
    ingested_dir: Path,
    contract: Contract,
    overrides: Mapping[str, str] | None,
    missing_alpha: float,
    max_invalid_share: float,
    frame: pd.DataFrame | None,
    history: RowIndex | None,
    gate: Gate,
) -> Ingested:
    """`ingest_file` on `copy`, the private copy of `source` that holds the hashed bytes."""
    from pipeline.ingest.checks import check_frame, file_problem, flag_invalid_share

    stem = source.sha256[:16]
    text, ids = contract.text_columns, contract.id_columns
    repeats: tuple[Hashes, Seen] | None = None  # with history: the file's hashes, what is known
    try:
        if frame is None:
            # An unsupported suffix is refused by name, before anything is read.
            frame = read_table(copy if source.format else source.path, source.format, text, ids)
    except DataError as exc:
        why = as_source(str(exc), source)
        result = file_problem(exc.error_type or "unreadable", why, overrides, exc.column)
        if exc.error_type != "empty":
            result.rows_read = exc.rows or count_rows(copy, source.format)
    else:
        frame = blank_labels_missing(frame, contract.target)
        if gate.learn_labels:
            from pipeline.ingest.contract_tools import labels_as_found

            contract = labels_as_found(frame, contract)
        result = check_frame(
            frame,
            contract,
            overrides,
            missing_alpha,
            unlabelled=gate.unlabelled,
            now=gate.now,
            max_future_days=gate.max_future_days,
        )
        if history is not None:
            from pipeline.ingest.history import flag_repeats, hash_frame

            hashes = hash_frame(frame, contract)
            repeats = hashes, history.seen(hashes)
            flag_repeats(result, frame, contract, *repeats, overrides)
        flag_invalid_share(result, max_invalid_share, overrides)

    if frame is None or result.rejected or result.rows_valid == 0:
        why = (
            result.rejected.message
            if result.rejected
            else "no row passed the checks: "
            + ", ".join(f"{t} ({n})" for t, n in result.errors_by_type.items() if t not in DERIVED)
        )
        rel = quarantine_copy(copy, source, ingested_dir, why)
        return Ingested(source, "quarantined", why, 0, result.rows_read, None, rel, quality=result)

    item = Ingested(source, "ingested", quality=result)
    if result.rows_invalid:
        bad = frame[result.bad].astype("string")  # as read: a bad value may not fit the type
        bad.insert(0, ERRORS_COLUMN, result.row_errors().to_numpy())
        bad.insert(1, ROW_COLUMN, np.nonzero(result.bad)[0] + 1)
        rel = f"{QUARANTINE_DIR}/{stem}-rows.parquet"
        atomic_write(ingested_dir / rel, lambda tmp: write_parquet(bad, tmp))
        item.quarantine_path = rel
        item.rows_quarantined = result.rows_invalid
        del bad
    keep = ~result.bad
    if repeats is not None:
        item.index = _entries(*repeats, keep)
    _keep_good(item, frame, keep, contract, ingested_dir, gate)
    return item


def _keep_good(
    item: Ingested,
    frame: pd.DataFrame,
    keep: np.ndarray,
    contract: Contract,
    ingested_dir: Path,
    gate: Gate,
) -> None:
    """Write the good rows (`keep`) to `data/<hash>.parquet`, typed, with the target column;
    count them and their labelled rows on `item`."""
    if contract.target not in frame.columns:  # unlabelled: every reader sees one shape
        frame[contract.target] = _no_labels(frame, contract)
    columns = [c for c in contract.columns if c in frame.columns]
    good = _typed(frame, keep, columns, _column_types(frame, keep, contract))
    good = event_times_typed(good, contract.timestamp_column)
    item.rows = int(keep.sum())
    labelled = keep & frame[contract.target].notna().to_numpy()
    item.labelled_rows = int(labelled.sum())
    if gate.learn_labels and item.labelled_rows:
        from pipeline.ingest.contract_summary import plain

        item.labels = frozenset(plain(v) for v in good[contract.target][labelled].unique())
    if item.rows < len(good) and any(good[c].dtype == object for c in columns):
        # Python objects (JSON lines): Arrow types a column by its values, so a bad row's
        # value of another type must be gone before, not after.
        good = good[keep]
        rows_kept: np.ndarray | None = None  # the frame holds the good rows only now
    else:
        rows_kept = keep
    rel = f"{DATA_DIR}/{item.source.sha256[:16]}.parquet"
    atomic_write(ingested_dir / rel, lambda tmp: write_parquet(good, tmp, rows_kept))
    item.data_path = rel


@dataclass(frozen=True)
class Gate:
    """The gate's other options: data.unlabelled_files, when the file is checked and
    quality.timestamp_max_future_days, and whether to collect labels to learn a label set."""

    unlabelled: str = default("data.unlabelled_files")
    now: datetime | None = None
    max_future_days: float = default("quality.timestamp_max_future_days")
    learn_labels: bool = False


def _no_labels(frame: pd.DataFrame, contract: Contract) -> pd.Series:
    """A target column of missing labels for `frame`, typed as the contract's labels are."""
    if contract.numeric_label:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    return pd.Series(pd.NA, index=frame.index, dtype="string")


# Bytes of the source's name kept in its quarantine copy's name (after the hash, before the
# suffix): file systems allow 255 bytes a name, and ".reason.txt" goes after it.
QUARANTINE_NAME_BYTES = 100


def quarantine_name(source: SourceFile) -> str:
    """`<hash>-<name>` for a file kept whole in quarantine: safe and bounded.

    The name keeps what a person recognises of the original: characters that are not safe in a
    file name (a separator, a control character, a byte that was not UTF-8: anything `shown`
    escaped, and spaces) become `_`, and a long name is cut (its suffix kept) to
    QUARANTINE_NAME_BYTES. The database keeps the full name (`ingested_files.name`).
    """
    safe = re.sub(r"[^\w.,+=@()\[\]-]", "_", source.path.name)  # \w: any letter or digit
    suffix = Path(safe).suffix if len(Path(safe).suffix) <= 16 else ""
    encoded = safe[: len(safe) - len(suffix)].encode("utf-8")  # no surrogate is left in it
    base = encoded[:QUARANTINE_NAME_BYTES].decode("utf-8", "ignore")  # never half a character
    return f"{source.sha256[:16]}-{base}{suffix}"


def quarantine_copy(copy: Path, source: SourceFile, ingested_dir: Path, why: str) -> str:
    """Keep the private copy of a file rejected whole in quarantine, `why` beside it; return its
    path relative to `ingested_dir`."""
    rel = f"{QUARANTINE_DIR}/{quarantine_name(source)}"
    keep(copy, ingested_dir / rel)
    note = f"{why}\nsource file: {source.name}\nsha256: {source.sha256}\n"
    atomic_write(ingested_dir / f"{rel}.reason.txt", lambda t: t.write_text(note))
    return rel


def discard_outputs(ingested_dir: Path, source: SourceFile) -> None:
    """Remove what a file's failed ingestion may have written (no row refers to it)."""
    stem = source.sha256[:16]
    (ingested_dir / DATA_DIR / f"{stem}.parquet").unlink(missing_ok=True)
    (ingested_dir / QUARANTINE_DIR / f"{stem}-rows.parquet").unlink(missing_ok=True)


PARQUET_SLICE_ROWS = 250_000  # rows the writer takes at once (a view of the table, filtered)
PARQUET_ROW_GROUP_ROWS = 10_000  # a past prediction's features decode its group (bench/README)


def write_parquet(
    frame: pd.DataFrame | pa.Table, path: Path, keep: np.ndarray | None = None
) -> None:
    """`frame.to_parquet(path, index=False)` (or an Arrow table's), a row group at a time.

    Only the rows where `keep` is true are written. The Arrow table shares the frame's buffers
    (pandas' text columns are Arrow arrays already), and the writer holds one slice of
    `PARQUET_SLICE_ROWS` rows: no second copy of the rows, nor the encoded file, is in memory
    whole. Row groups are of `PARQUET_ROW_GROUP_ROWS` rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    with pq.ParquetWriter(path, table.schema) as writer:
        for start in range(0, table.num_rows, PARQUET_SLICE_ROWS):
            part = table.slice(start, PARQUET_SLICE_ROWS)  # a view
            if keep is not None:
                rows = keep[start : start + PARQUET_SLICE_ROWS]
                if not rows.all():
                    part = part.filter(pa.array(rows))
            if part.num_rows:
                writer.write_table(part, row_group_size=PARQUET_ROW_GROUP_ROWS)


def _column_types(frame: pd.DataFrame, keep: np.ndarray, contract: Contract) -> dict[str, str]:
    """The dtype of each numeric column of the good rows: int64 when every value is a whole
    number int64 holds (labels 0/1, not 0.0/1.0; `whole_int64`), float64 otherwise (a label of
    1e19 too). Decided on the whole file."""
    types = {}
    for rule in contract.columns.values():
        if rule.name not in frame.columns:
            continue
        numeric = rule.kind in ("numeric", "integer") or (
            rule.kind == "label" and contract.numeric_label
        )
        if not numeric:
            continue
        whole = rule.kind != "numeric" and whole_int64(pd.to_numeric(frame[rule.name][keep]))
        types[rule.name] = "int64" if whole else "float64"
    return types


def _typed(
    frame: pd.DataFrame, keep: np.ndarray, columns: list[str], types: dict[str, str]
) -> pd.DataFrame:
    """The contract's columns with the good rows' types; the bad rows are still in it (they
    are dropped as it is written), with whatever their values become."""
    typed = frame[columns]  # no copy: pandas copies a column only when it is replaced
    for name, dtype in types.items():
        column = typed[name]
        if column.dtype == dtype:
            continue
        values = pd.to_numeric(column, errors="coerce")  # every good row's value parses
        if dtype == "int64":
            values = values.where(keep, 0)
        typed[name] = values.astype(dtype)
    return typed
