"""The hourly cleanup of uploads never attached to anything: after ``files.unattached_retention_hours`` (24 by
default) a photo uploaded but never put on a ticket, finding, meeting or activity is deleted, its stored object and
thumbnail first, then its row.

Crash-safe by order and transaction: the rows are locked, the objects deleted (deleting a missing object is not an
error, on the local directory and on S3), then the rows deleted, all in the run's transaction. A crash after the
objects went and before the commit leaves the rows, so the next run deletes the (missing) objects again and the
rows. Such a file cannot be attached meanwhile: a file past its retention is refused (``service.attachable``).
Rows an attach holds locked are skipped (SKIP LOCKED) and seen, attached, by the next run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from tenants.files.models import StoredFile
from tenants.files.service import retention
from tenants.files.storage import Storage, storage
from tenants.scope import scoped_transaction

# Rows per run: a backlog (after the job was down) drains over the next hourly runs.
BATCH = 1000
# Objects deleted at once (S3 calls run in threads).
PARALLEL = 16


async def _remove_objects(store: Storage, files: Sequence[StoredFile]) -> None:
    keys = [key for f in files for key in (f.key, f.thumbnail_key)]
    for i in range(0, len(keys), PARALLEL):
        await asyncio.gather(*(store.delete(key) for key in keys[i:i + PARALLEL]))


async def _remove_rows(ids: list[int]) -> int:
    return await StoredFile.filter(id__in=ids, attached_kind__isnull=True).delete()


async def hourly(*, now: datetime) -> dict[str, int]:
    """Delete the tenant's uploads never attached and older than its retention; safe to run any number of times."""
    cutoff = now - await retention()
    async with scoped_transaction():
        stale = await (
            StoredFile.filter(attached_kind__isnull=True, uploaded_at__lt=cutoff)
            .order_by("uploaded_at", "id")
            .limit(BATCH)
            .select_for_update(skip_locked=True)
        )
        if not stale:
            return {"deleted": 0}
        await _remove_objects(storage(), stale)
        deleted = await _remove_rows([f.id for f in stale])
    return {"deleted": deleted}
