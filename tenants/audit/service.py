"""Record and read the audit log of the tenant in scope."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from tenants.audit.models import AuditEntry
from tenants.paging import newest_first
from tenants.permissions import Caller, require
from tenants.records import granted


async def record(*, actor: str, action: str, target_type: str, target_id: Any, details: dict | None = None) -> None:
    await AuditEntry.create(
        actor=actor, action=action, target_type=target_type, target_id=str(target_id), details=details or {}
    )


async def list_entries(
    *, access: Caller, target_type: str | None, target_id: str | None, after: tuple[datetime, int] | None, limit: int
) -> list[AuditEntry]:
    """Newest first, keyset-paginated on (at, id)."""
    require(access, "audit.read")
    qs = AuditEntry.all()
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    return await newest_first(qs, time_field="at", after=after, limit=limit)


def readable(caller: Caller) -> QuerySet[AuditEntry]:
    """The tenant's audit trail, for a caller who may read it."""
    return granted(caller, "audit.read", AuditEntry.all())
