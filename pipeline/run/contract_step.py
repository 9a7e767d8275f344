"""The data contract a tick checks files against: the one in paths.contract, or one inferred
from every readable new file when there is none (unlabelled files too: issue 12), as the gate
applies it (`features_required`); and its label set, learned from the first labelled file when
it was inferred from unlabelled data.

Everything that reads data is imported inside the functions that need it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pipeline.errors import RiskwatchError
from pipeline.ingest.discovery import Discovery
from pipeline.run.record import Run
from pipeline.storage import writes

if TYPE_CHECKING:
    import pandas as pd

    from pipeline.ingest.contract import Contract
    from pipeline.ingest.discovery import SourceFile
    from pipeline.ingest.ingestion import Ingested

log = logging.getLogger("riskwatch")


def contract(run: Run, found: Discovery) -> Contract | None:
    """The data contract in force, as the gate applies it (`features_required`); inferred from
    every readable new file when there is none."""
    from pipeline.ingest import contract as contracts
    from pipeline.ingest.contract_tools import features_required  # pandas: a tick with work

    path = run.settings.path("paths.contract")
    current: Contract | None
    if path.is_file():
        current = contracts.load(path)
    else:
        current, origin = _bootstrap_contract(run, found)
        if current is None:
            return None
        contracts.save(current, path)
        log.info("no data contract yet: inferred %s from %s", path, origin)
    writes.record_contract(run.engine, run.run_id, current, str(path))
    return features_required(current, run.settings)


# Frames of the first tick's files kept for ingestion after inference, besides the first file's
# (always kept: ingestion holds one frame at a time anyway): beyond this, files are read again.
KEEP_READ_BYTES = 256 << 20


def _bootstrap_contract(run: Run, found: Discovery) -> tuple[Contract | None, str | None]:
    """Infer a contract from every new file that can be read and has the ids (labelled or not).

    Each file is summarised as it is read and the summaries merged (issue 9): the contract
    sees all the first tick's rows, never all at once. Files are read in reverse order, so
    the frame kept for certain is the first one ingestion takes (one big file is read once);
    others are kept while they fit in KEEP_READ_BYTES, and read again by ingestion beyond.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from pipeline.errors import DataError
    from pipeline.ingest import contract as contracts
    from pipeline.ingest.contract_tools import contract_from_summary
    from pipeline.ingest.ingestion import QUARANTINE_DIR
    from pipeline.ingest.intake import Moved, private_copy
    from pipeline.ingest.readers import read_table

    s = run.settings
    needed = list(s["data.id_columns"])  # not the target: unlabelled data is data (issue 12)
    stamp = [s["data.timestamp_column"]] if s["data.timestamp_column"] else []
    text = frozenset([*s["data.categorical"], *s["data.id_columns"], *stamp])
    target = s["data.target"] if s["model.task"] == "classification" else None
    summary, names, kept = contracts.DataSummary(), [], 0
    work = s.path("paths.ingested") / QUARANTINE_DIR
    for i, source in reversed(list(enumerate(found.new))):
        try:
            with private_copy(source, work) as copy:  # the bytes of its hash, as ingestion
                frame = read_table(copy, source.format, tuple(sorted(text)))
        except (DataError, Moved):
            continue
        except (OSError, SQLAlchemyError):
            raise
        except Exception:  # ingestion says what it is, per file
            continue
        if any(c not in frame.columns for c in needed):
            continue
        part = contracts.summarise(frame, categorical=s["data.categorical"], target=target)
        summary = contracts.merge([summary, part])
        names.append(source.name)
        size = frame.shape[0] * frame.shape[1] * 8  # about: 8 bytes a value (text: more)
        if i == 0 or kept + size <= KEEP_READ_BYTES:
            found.read[source.sha256] = (frame, text)
            kept += size
        del frame
    if not names:
        return None, None
    try:
        current = contract_from_summary(summary, s)
    except RiskwatchError:
        # The data could be read; the settings do not fit it (a data.features entry that is
        # not a column, say). The run fails with that reason and the files stay new for the
        # next tick, rather than being quarantined for good as "unreadable".
        found.read.clear()
        raise
    names.reverse()
    origin = names[0] if len(names) == 1 else f"{len(names)} files ({names[0]}, ...)"
    return current, origin


def already_read(found: Discovery, source: SourceFile, current: Contract) -> pd.DataFrame | None:
    """The frame inference read of this file, if ingestion would read it the same way."""
    import pandas as pd

    frame, text = found.read.pop(source.sha256, (None, frozenset()))
    if not isinstance(frame, pd.DataFrame):
        return None
    wanted = set(current.text_columns)
    if source.format == "csv":  # only CSV reading depends on the text columns
        for name in wanted - text:
            if name in frame.columns and not pd.api.types.is_string_dtype(frame[name]):
                return None
    return frame


def learn_labels(run: Run, current: Contract | None, item: Ingested) -> Contract | None:
    """The contract once this file's labels taught it its label set (a contract inferred from
    unlabelled data has none): written to paths.contract and recorded, a new version."""
    from pipeline.ingest.contract_tools import features_required, learn_labels

    if current is None or not item.labels:
        return current
    learned = learn_labels(run.settings, current, item.labels)
    if learned is None:
        return current
    path = run.settings.path("paths.contract")
    writes.record_contract(run.engine, run.run_id, learned, str(path))
    log.info(
        "the contract had no label set: %s learned %s from %s",
        path,
        list(learned.label_values or ()),
        item.source.name,
    )
    return features_required(learned, run.settings)
