"""Record and read the audit log of the tenant in scope."""

from __future__ import annotations

from typing import Any

from tortoise.queryset import QuerySet

from tenants.audit.models import AuditEntry
from tenants.paging import Page, Window, newest_first
from tenants.permissions import Caller, require
from tenants.records import granted


async def record(*, actor: str, action: str, target_type: str, target_id: Any, details: dict | None = None) -> None:
    await AuditEntry.create(
        actor=actor, action=action, target_type=target_type, target_id=str(target_id), details=details or {}
    )


async def list_entries(
    *, access: Caller, target_type: str | None, target_id: str | None, window: Window
) -> Page[AuditEntry]:
    """A window of the log, newest first (keyset on at, id); not counted (the log only grows)."""
    require(access, "audit.read")
    qs = AuditEntry.all()
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=target_id)
    return await newest_first(qs, window, time_field="at", countable=False)


def readable(caller: Caller) -> QuerySet[AuditEntry]:
    """The tenant's audit trail, for a caller who may read it."""
    return granted(caller, "audit.read", AuditEntry.all())
