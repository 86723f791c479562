"""Rows by id from a caller's readable QuerySet (one statement for any number of ids), and the readable rows of a
resource that a permission opens whole."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.queryset import QuerySet

from tenants.permissions import Caller, allows


async def rows_by_id(readable: QuerySet[Any], ids: Sequence[int]) -> dict[int, Any]:
    """The rows among ``ids`` that ``readable`` holds, by id; ids it does not hold are absent."""
    if not ids:
        return {}
    return {row.id: row for row in await readable.filter(id__in=list(ids))}


def granted(caller: Caller, permission: str, rows: QuerySet[Any]) -> QuerySet[Any]:
    """``rows`` for a caller who holds ``permission`` (a resource read whole or not at all), else none."""
    return rows if allows(caller, permission) else rows.filter(id__in=[])
