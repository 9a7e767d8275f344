"""The labels inbox (`paths.labels`): its new files by content hash, as the data inbox's are
found (`pipeline.ingest.discovery`: only files that stopped growing, never moved or renamed,
links and FIFOs skipped unopened). Standard library and storage only: the no-op tick calls it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from pipeline.ingest.discovery import Discovery, discover
from pipeline.settings import Settings
from pipeline.storage import label_writes, writes

log = logging.getLogger("riskwatch")


def new_label_files(engine: sa.Engine, settings: Settings) -> Discovery:
    """The labels inbox's files not taken yet; none when the folder does not exist (labels are
    optional: a deployment without them has no such folder)."""
    inbox = settings.path("paths.labels")
    if not inbox.is_dir():
        return Discovery()
    with engine.connect() as conn:
        known = label_writes.known_label_hashes(conn)
        cache = writes.hash_cache(conn)  # keyed by full path: shared with the data inbox
    found = discover(
        inbox,
        known,
        cache,
        settings["data.min_file_age_seconds"],
        follow_symlinks=settings["ingest.follow_symlinks"],
    )
    writes.save_hash_cache(engine, found.hashes)
    for name, why in found.deferred:
        log.info("labels file left for a later tick: %s (%s)", name, why)
    for entry in found.skipped:
        log.info("labels inbox: skipped %s: %s", entry.name, entry.reason)
    return found


def has_work(engine: sa.Engine, settings: Settings, found: Discovery) -> bool:
    """Is there labels work for a tick that found no new data file: new labels files, or
    labels waiting for their predictions when a prediction one of them resolves is stored (the
    API's, the first model's, a file's) or when the oldest has waited labels.max_wait_days (it
    becomes unmatched). A few indexed look-ups: waiting labels alone do not make every tick
    work."""
    if found.new:
        return True
    wait = timedelta(days=settings["labels.max_wait_days"])
    with engine.connect() as conn:
        return label_writes.pending_work(conn, datetime.now(UTC) - wait, wait)
