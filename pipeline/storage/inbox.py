"""What the inbox holds that riskwatch does not take: the `skipped_sources` table and its writes.

A symbolic link, a folder, a FIFO, a device, a file riskwatch may not read
(`pipeline.ingest.discovery`): each tick makes the table what the inbox skips now, and reports
an entry only when it is new or changed, so a cron log does not repeat it every tick (issue 11).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa

from pipeline.storage.text import storable

if TYPE_CHECKING:
    from pipeline.storage.shapes import SkippedLike


def skipped_sources_table(metadata: sa.MetaData, run_fk: sa.Column, when: type) -> sa.Table:
    """The table, in `metadata` (called by `tables`, with its run-id column and time type)."""
    return sa.Table(
        "skipped_sources",
        metadata,
        sa.Column("path", sa.Text, primary_key=True),  # names.path_key of its path
        sa.Column("name", sa.Text, nullable=False),  # as shown (names.shown)
        sa.Column("kind", sa.String(20), nullable=False),  # symlink, folder, fifo, unreadable..
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),  # of the entry itself (lstat)
        sa.Column("mtime_ns", sa.BigInteger, nullable=False),
        run_fk,  # the run that reported it
        sa.Column("seen_at", when, nullable=False),
    )


def sync_skipped(
    engine: sa.Engine, t: sa.Table, run_id: str, skipped: Sequence[SkippedLike]
) -> list[SkippedLike]:
    """Make `t` (`tables.skipped_sources`) what the inbox skips now; return the entries new or
    changed since the last tick (those a tick reports). Writes nothing when nothing changed."""
    with engine.connect() as conn:
        before = {r.path: (r.kind, r.size_bytes, r.mtime_ns) for r in conn.execute(sa.select(t))}
    now = {s.key: s for s in skipped}
    fresh = [s for k, s in now.items() if before.get(k) != (s.kind, s.size, s.mtime_ns)]
    stale = [k for k in before if k not in now] + [s.key for s in fresh if s.key in before]
    if not fresh and not stale:
        return fresh
    seen_at = datetime.now(UTC)
    with engine.begin() as conn:
        for start in range(0, len(stale), 500):
            conn.execute(t.delete().where(t.c.path.in_(stale[start : start + 500])))
        if fresh:
            conn.execute(
                t.insert(),
                [
                    storable(
                        {
                            "path": s.key,
                            "name": s.name,
                            "kind": s.kind,
                            "reason": s.reason,
                            "size_bytes": s.size,
                            "mtime_ns": s.mtime_ns,
                            "run_id": run_id,
                            "seen_at": seen_at,
                        }
                    )
                    for s in fresh
                ],
            )
    return fresh
