"""Which files a caller reads (``readable``): their own uploads, everything for the administration, and files
attached to something the caller reads. The domains that attach files (tickets, findings) register how their
rows are read (``attachable_as``), since they sit above this package."""

from __future__ import annotations

from collections.abc import Callable

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.files.models import StoredFile
from tenants.territory.access import Access

# kind -> the ids of the caller's readable rows of that kind (a ValuesListQuery of ids).
_READERS: dict[str, Callable[[Access], QuerySet]] = {}


def attachable_as(kind: str, readable_rows: Callable[[Access], QuerySet]) -> None:
    """Register a kind of row files attach to (``ticket``), with its readable(caller) queryset."""
    _READERS[kind] = readable_rows


def readable(caller: Access) -> QuerySet[StoredFile]:
    """The files the caller reads (every list and get starts here)."""
    if caller.reads_whole_tenant:
        return StoredFile.all()
    q = Q(uploaded_by=caller.user_id or "\x00")
    for kind, rows in _READERS.items():
        q |= Q(attached_kind=kind, attached_id__in=Subquery(rows(caller).values("id")))
    return StoredFile.filter(q)
