"""Who hears about a bond, in Chinese: the company's people, the street's officers, the tenant's administrators."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from tortoise.expressions import Q

from tenants.territory.people import Person, Post, PostKind


def yuan(fen: int) -> str:
    """12345678 -> '123,456.78 元' (exact: integer arithmetic)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d} 元"


def day_zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


async def holders(
    kind: PostKind, target_kind: str | None, targets: Iterable[int] | None, on: date
) -> dict[int, list[str]]:
    """User ids of the holders of active posts of ``kind``, by target (0 for posts on no target), in two queries
    whatever the number of targets."""
    qs = Post.filter(kind=kind, starts_on__lte=on).filter(Q(ends_on=None) | Q(ends_on__gte=on))
    if targets is not None:
        ids = sorted(set(targets))
        if not ids:
            return {}
        qs = qs.filter(target_kind=target_kind, target_id__in=ids)
    posts = await qs.values_list("person_id", "target_id")
    if not posts:
        return {}
    users = dict(
        await Person.filter(id__in=sorted({p for p, _ in posts})).values_list("id", "user_id")  # type: ignore[arg-type]
    )
    out: dict[int, list[str]] = {}
    for person_id, target_id in sorted(posts, key=lambda r: (r[1] or 0, r[0])):  # type: ignore[arg-type, return-value]
        user = users.get(person_id)
        if user:
            out.setdefault(target_id or 0, []).append(user)  # type: ignore[arg-type]
    return out
