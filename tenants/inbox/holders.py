"""Who holds a post: the user ids a message goes to (active posts on a day, in the tenant's calendar)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from tortoise.expressions import Q

from tenants import clock
from tenants.territory.parties import Unit
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.territory.people import Person, Post, PostKind, active_on

# A unit a ticket or a project is assigned to (the values of ``tickets.models.UnitKind``) -> the post that makes a
# person its staff, and the target kind of that post.
UNIT_POSTS: dict[str, tuple[PostKind, str]] = {
    "community": (PostKind.COMMUNITY_WORKER, "community"),
    "street": (PostKind.STREET_OFFICER, "street"),
    "property_company": (PostKind.PROPERTY_COMPANY, "company"),
    "housing_dept": (PostKind.HOUSING_DEPT, "unit"),
    "county_department": (PostKind.UNIT_STAFF, "unit"),
}


def _active(kind: PostKind, on: date) -> Q:
    return Q(kind=kind) & active_on(on)


async def post_holders(
    post_kind: PostKind, target_kind: str | None, target_ids: list[int] | None, at: datetime
) -> list[str]:
    """User ids of the holders of active posts of a kind (on the given targets; ``None``: any target), by person."""
    qs = Post.filter(_active(post_kind, await clock.today(at)))
    if target_ids is not None:
        qs = qs.filter(target_kind=target_kind, target_id__in=target_ids)
    person_ids = await qs.values_list("person_id", flat=True)
    if not person_ids:
        return []
    return list(await Person.filter(id__in=list(person_ids)).order_by("id").values_list("user_id", flat=True))  # type: ignore[arg-type]


async def holders_by_target(
    kind: PostKind, target_kind: str | None, targets: Iterable[int] | None, on: date
) -> dict[int, list[str]]:
    """User ids of the holders of active posts of ``kind``, by target (0 for posts on no target), in two queries
    whatever the number of targets."""
    qs = Post.filter(_active(kind, on))
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


async def unit_staff(kind: str | None, unit_id: int | None, at: datetime) -> list[str]:
    """User ids of the people whose active posts make them the unit's staff (``kind``: a ticket's unit kind)."""
    if kind is None or unit_id is None:
        return []
    post_kind, target_kind = UNIT_POSTS[kind]
    return await post_holders(post_kind, target_kind, [unit_id], at)


async def tenant_admins(at: datetime) -> list[str]:
    return await post_holders(PostKind.TENANT_ADMIN, None, None, at)


async def office_staff(at: datetime) -> list[str]:
    """The staff of the tenant's efficiency-supervision offices 作风效能办 (unit-staff posts on the unit)."""
    office_ids = await Unit.filter(kind=PartyUnitKind.EFFICIENCY_OFFICE, is_active=True).values_list("id", flat=True)
    if not office_ids:
        return []
    return await post_holders(PostKind.UNIT_STAFF, "unit", list(office_ids), at)  # type: ignore[arg-type]
