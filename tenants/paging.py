"""Keyset paging for services: by id ascending, or newest first by (time, id). Never OFFSET."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.expressions import Q
from tortoise.queryset import QuerySet


def by_id(qs: QuerySet[Any], *, after_id: int | None, limit: int) -> QuerySet[Any]:
    if after_id is not None:
        qs = qs.filter(id__gt=after_id)
    return qs.order_by("id").limit(limit)


def newest_first(
    qs: QuerySet[Any], *, time_field: str, after: tuple[datetime, int] | None, limit: int
) -> QuerySet[Any]:
    """Ordered by (time_field, id) descending; ``after`` is the last row's (time, id)."""
    if after is not None:
        at, row_id = after
        qs = qs.filter(Q(**{f"{time_field}__lt": at}) | Q(**{time_field: at, "id__lt": row_id}))  # type: ignore[arg-type]
    return qs.order_by(f"-{time_field}", "-id").limit(limit)
