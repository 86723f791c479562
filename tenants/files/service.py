"""Upload a file (sniff, clean, thumbnail, store, record), check files before attaching them, attach them."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from tenants import clock
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, Problem, unstorable
from tenants.files import images
from tenants.files.access import readable
from tenants.files.models import Purpose, StoredFile
from tenants.files.storage import Storage, storage
from tenants.permissions import allows, require
from tenants.scope import current_tenant_id
from tenants.settings import get_settings
from tenants.territory.access import Access

log = logging.getLogger(__name__)

MAX_NAME = 200
EXTENSION = {images.JPEG: "jpg", images.PNG: "png", images.WEBP: "webp"}


async def upload(*, caller: Access, actor: str, data: bytes, purpose: Purpose, name: str = "",
                 now: datetime | None = None) -> StoredFile:
    """Store one uploaded image for ``purpose``: refused (INVALID_INPUT, field ``file``) when it is empty, too large
    or not an image of an accepted type whatever its name says; location removed unless the tenant keeps it."""
    require(caller, "files.upload")
    limit = get_settings().max_upload_bytes
    if not data:
        raise InvalidInput.of([Problem("file", "required", "文件为空", "the file is empty")])
    if len(data) > limit:
        raise InvalidInput.of([Problem("file", "too_large", f"文件不能超过 {limit} 字节",
                                       f"a file may have at most {limit} bytes")])
    keep = (await effective_config()).document.files.keep_location
    cleaned = images.clean(data, keep_location=keep)
    tenant = current_tenant_id()
    stem = f"{tenant}/{clock.now():%Y/%m}/{secrets.token_hex(16)}"
    key = f"{stem}.{EXTENSION[cleaned.content_type]}"
    thumbnail_key = f"{stem}.thumb.{EXTENSION[cleaned.thumbnail_type]}"
    store = storage()
    # Bytes first, then the row: a failed upload leaves at most an unreferenced object, never a row without bytes.
    try:
        await store.put(key, cleaned.data, cleaned.content_type)
        await store.put(thumbnail_key, cleaned.thumbnail, cleaned.thumbnail_type)
        return await StoredFile.create(
            key=key,
            thumbnail_key=thumbnail_key,
            content_type=cleaned.content_type,
            thumbnail_type=cleaned.thumbnail_type,
            size=len(cleaned.data),
            width=cleaned.width,
            height=cleaned.height,
            sha256=hashlib.sha256(cleaned.data).hexdigest(),
            name="" if unstorable(name) else name.strip()[:MAX_NAME],
            purpose=purpose,
            uploaded_by=actor,
            uploaded_at=now or clock.now(),
            location_kept=keep,
        )
    except BaseException:
        # The objects go with the failure where this process sees it; only a process killed here leaves them.
        await asyncio.shield(_discard(store, key, thumbnail_key))
        raise


async def _discard(store: Storage, *keys: str) -> None:
    for key in keys:
        try:
            await store.delete(key)
        except Exception:  # the failure being raised matters more than this one
            log.warning("could not delete the object %s of a failed upload", key, exc_info=True)


async def retention() -> timedelta:
    """How long the tenant in scope keeps an upload that is never attached (``files.unattached_retention_hours``)."""
    return timedelta(hours=(await effective_config()).document.files.unattached_retention_hours)


async def attachable(caller: Access, ids: Sequence[int], *, purpose: Purpose, field: str) -> list[StoredFile]:
    """The files ``ids`` names, if the caller may attach them for ``purpose``: in this tenant and readable (else
    ``unknown``), uploaded for it, not attached yet, not past the retention of unattached uploads (``expired``: the
    cleanup deletes it), and the caller's own upload unless they may attach others' (``files.attach_others``).
    Problems are listed as ``<field>.<i>``; the rows are locked."""
    if not ids:  # nothing to check: no query (a report without photos is most of them)
        return []
    if len(set(ids)) != len(ids):
        raise InvalidInput.of([Problem(field, "duplicate", "同一文件不能重复附加", "a file is given twice")])
    rows = {f.id: f for f in await readable(caller).filter(id__in=list(ids)).select_for_update()}
    problems: list[Problem] = []
    others = allows(caller, "files.attach_others")
    expired_before = clock.now() - await retention()
    for i, file_id in enumerate(ids):
        f = rows.get(file_id)
        at = f"{field}.{i}"
        if f is None:
            problems.append(Problem(at, "unknown", "未找到该文件", "no such file"))
        elif f.uploaded_by != caller.user_id and not others:
            problems.append(
                Problem(at, "not_yours", "只能附加自己上传的文件", "you may attach only files you uploaded")
            )
        elif f.purpose != purpose:
            problems.append(Problem(at, "purpose", f"该文件不是为{_PURPOSE_ZH[purpose]}上传的",
                                    f"this file was not uploaded for a {purpose.value}"))
        elif f.attached_kind is not None:
            problems.append(Problem(at, "attached", "该文件已附加到其他记录", "this file is already attached"))
        elif f.uploaded_at < expired_before:
            problems.append(Problem(at, "expired", "上传已过期（未及时附加），请重新上传",
                                    "this upload has expired (it was not attached in time); upload it again"))
    if problems:
        raise InvalidInput.of(problems)
    return [rows[i] for i in ids]


_PURPOSE_ZH = {Purpose.TICKET: "工单", Purpose.FINDING: "监督问题", Purpose.MEETING: "会议", Purpose.ACTIVITY: "活动"}


async def attach(files: Sequence[StoredFile], *, kind: str, owner_id: int, now: datetime | None = None) -> None:
    """Attach checked files (``attachable``) to a row; from then on whoever reads the row reads them."""
    if files:
        await StoredFile.filter(id__in=[f.id for f in files]).update(
            attached_kind=kind, attached_id=owner_id, attached_at=now or clock.now()
        )


async def files_of(kind: str, owner_ids: Sequence[int]) -> list[StoredFile]:
    """Files attached to these rows, in upload order (the caller has read the rows)."""
    return await StoredFile.filter(attached_kind=kind, attached_id__in=list(owner_ids)).order_by("uploaded_at", "id")


async def by_ids(ids: Sequence[int]) -> list[StoredFile]:
    """Files by id (ids a readable row recorded, such as a timeline event's)."""
    return await StoredFile.filter(id__in=list(ids))


async def get_readable(caller: Access, file_id: int) -> StoredFile | None:
    require(caller, "files.read")
    return await readable(caller).get_or_none(id=file_id)


async def linked(file_id: int) -> StoredFile | None:
    """The file a verified link names, in the tenant in scope (the link's): the link is the permission."""
    return await StoredFile.get_or_none(id=file_id)


async def read_bytes(f: StoredFile, *, thumbnail: bool) -> bytes | None:
    return await storage().get(f.thumbnail_key if thumbnail else f.key)
