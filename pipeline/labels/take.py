"""Take one labels file: its private copy read (the bytes its hash names), its rows checked, the
bad ones kept in quarantine with why, the good ones recorded as labels, waiting to be joined.

As the data gate does (`pipeline.ingest.ingestion`): a file that cannot be read, is empty or
lacks an id column or the target is kept whole in quarantine with its reason; bad rows go to a
Parquet file there (`labels-<hash>-rows.parquet`), each with its errors and its data-row number.
A label that repeats one already recorded exactly (same id, same label, same observed time, or
both without one) is recorded as a duplicate: it counts once. The file itself is never moved.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from pipeline.errors import RiskwatchError
from pipeline.ingest.discovery import SourceFile
from pipeline.settings import Settings
from pipeline.storage import label_writes

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.labels.validate import CheckedLabels

log = logging.getLogger("riskwatch")


@dataclass
class TakenFile:
    """What became of one labels file."""

    name: str
    sha256: str
    status: str  # taken, quarantined
    reason: str | None = None
    rows_read: int = 0
    rows_valid: int = 0
    invalid_by_type: dict[str, int] = field(default_factory=dict)
    duplicates: int = 0  # valid labels that repeat one recorded before
    quarantine_path: str | None = None

    @property
    def rows_invalid(self) -> int:
        return sum(self.invalid_by_type.values())

    def doc(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "reason": self.reason,
            "rows_read": self.rows_read,
            "rows_valid": self.rows_valid,
            "rows_invalid": self.rows_invalid,
            "invalid_by_type": self.invalid_by_type,
            "duplicates": self.duplicates,
        }


def label_rules(settings: Settings) -> tuple[tuple[Any, ...] | None, bool]:
    """The contract's label values (None: any) and whether labels are numbers."""
    from pipeline.ingest import contract as contracts

    path = settings.path("paths.contract")
    if not path.is_file():  # no data yet: any label, numbers for regression
        return None, settings["model.task"] == "regression"
    current = contracts.load(path)
    return current.label_values, current.numeric_label


def take(
    engine: sa.Engine, settings: Settings, run_id: str, source: SourceFile, now: datetime
) -> TakenFile:
    """Take one labels file and record it; `intake.Moved` when it changed under the tick."""
    from pipeline.ingest.ingestion import QUARANTINE_DIR
    from pipeline.ingest.intake import Moved, as_source, private_copy

    work = settings.path("paths.ingested")
    with private_copy(source, work / QUARANTINE_DIR) as copy:
        try:
            checked = _read_and_check(copy, source, settings)
        except Moved:
            raise
        except (OSError, sa.exc.SQLAlchemyError):
            raise
        except Exception as exc:  # the file's own failure: quarantined whole, the tick goes on
            why = (
                as_source(str(exc), source)
                if isinstance(exc, RiskwatchError)
                else (
                    f"riskwatch could not process the file ({type(exc).__name__}: "
                    f"{' '.join(as_source(str(exc), source).split())[:300]})"
                )
            )
            rows = getattr(exc, "rows", None) or 0
            return _quarantine_whole(engine, run_id, source, copy, work, why, rows, now)
    return _record(engine, settings, run_id, source, checked, now)


def _read_and_check(copy: Path, source: SourceFile, settings: Settings) -> CheckedLabels:
    from pipeline.ingest.readers import read_table
    from pipeline.labels.validate import check_labels

    values, numeric = label_rules(settings)
    ids, target = settings["data.id_columns"], settings["data.target"]
    observed = settings["labels.observed_at_column"]
    text = (*ids, observed) if numeric else (*ids, observed, target)
    frame = read_table(copy if source.format else source.path, source.format, text, tuple(ids))
    return check_labels(frame, ids, target, observed, values, numeric=numeric, keys=row_keys_of)


def row_keys_of(ids: pd.DataFrame) -> list[str | None]:
    """The row keys of a frame of id columns, as the predictions store them."""
    from pipeline.predictions import row_keys

    keys = row_keys(ids, list(ids.columns))
    return [None] * len(ids) if keys is None else keys.to_pylist()


def _quarantine_whole(
    engine: sa.Engine,
    run_id: str,
    source: SourceFile,
    copy: Path,
    work: Path,
    why: str,
    rows: int,
    now: datetime,
) -> TakenFile:
    from pipeline.ingest.ingestion import quarantine_copy

    rel = quarantine_copy(copy, source, work, why)
    item = TakenFile(source.name, source.sha256, "quarantined", why, rows, quarantine_path=rel)
    label_writes.record_label_file(engine, run_id, _file_row(source, item, now), {})
    log.warning("labels file %s quarantined: %s", source.name, why)
    return item


def _record(
    engine: sa.Engine,
    settings: Settings,
    run_id: str,
    source: SourceFile,
    checked: CheckedLabels,
    now: datetime,
) -> TakenFile:
    """Keep the bad rows in quarantine, record the file and its labels."""
    from pipeline.infra.files import atomic_write
    from pipeline.ingest.ingestion import QUARANTINE_DIR, write_parquet

    item = TakenFile(
        source.name,
        source.sha256,
        "taken",
        rows_read=checked.rows_read,
        rows_valid=len(checked.good),
        invalid_by_type=checked.invalid_by_type,
    )
    if not checked.bad.empty:
        rel = f"{QUARANTINE_DIR}/labels-{source.sha256[:16]}-rows.parquet"
        work = settings.path("paths.ingested")
        atomic_write(work / rel, lambda tmp: write_parquet(checked.bad, tmp))
        item.quarantine_path = rel
    rows = _label_rows(engine, checked.good, now)
    item.duplicates = rows["status"].count("duplicate")
    label_writes.record_label_file(engine, run_id, _file_row(source, item, now), rows)
    log.info(
        "labels file %s: %d labels, %d bad rows, %d duplicates",
        source.name,
        item.rows_valid,
        item.rows_invalid,
        item.duplicates,
    )
    return item


REPEATED = "the same label (id, label and time) was received before"


def _label_rows(engine: sa.Engine, good: pd.DataFrame, now: datetime) -> dict[str, list[Any]]:
    """The labels to record, a column each (`label_bulk.LABEL_COLUMNS`): pending, or
    duplicate of a label recorded before or earlier in the file. A column at a time: a loop
    over the rows took 8 s for 1,000,000 labels."""
    import pandas as pd

    from pipeline.labels.join import TIME
    from pipeline.storage.text import storable_texts

    keys = storable_texts(good["row_key"].tolist())
    texts = storable_texts(good["label"].tolist())
    # As the database keeps them: UTC to the microsecond.
    at = pd.to_datetime(good["observed_at"], utc=True).dt.floor("us").astype(TIME)
    # Text columns as objects whatever they hold: a file of no good row has empty ones.
    mine = pd.DataFrame(
        {
            "row_key": pd.Series(keys, dtype=object),
            "label": pd.Series(texts, dtype=object),
            "at": at.reset_index(drop=True),
        }
    )
    with engine.connect() as conn:
        seen = label_writes.label_keys(conn, [k for k in set(keys) if k is not None])
    known = pd.DataFrame(list(seen), columns=["row_key", "label", "at"], dtype=object)
    known["at"] = pd.to_datetime(known["at"], utc=True).astype(TIME)
    # A merge matches missing times with missing times: a label without one repeats another.
    before = mine.merge(known.drop_duplicates(), how="left", on=list(mine.columns), indicator=True)
    repeat = (before["_merge"] == "both").to_numpy() | mine.duplicated().to_numpy()
    n = len(mine)
    return {
        "row_number": good["row_number"].astype("int64").tolist(),
        "row_key": keys,
        "label": texts,
        "observed_at": [None if t is pd.NaT else t.to_pydatetime() for t in at],
        "received_at": [now] * n,
        "status": ["duplicate" if r else "pending" for r in repeat.tolist()],
        "reason": [REPEATED if r else None for r in repeat.tolist()],
    }


def _file_row(source: SourceFile, item: TakenFile, now: datetime) -> dict[str, Any]:
    return {
        "sha256": source.sha256,
        "name": source.name,
        "size_bytes": source.size,
        "status": item.status,
        "reason": item.reason,
        "rows_read": item.rows_read,
        "rows_valid": item.rows_valid,
        "rows_invalid": item.rows_invalid,
        "invalid_by_type": item.invalid_by_type,
        "quarantine_path": item.quarantine_path,
        "received_at": now,
    }
