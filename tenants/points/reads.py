"""Reading points: a person's balance (O(1), the kept balance row), history newest first (keyset), lots expiring
soon, a grid's history (exports) and the check. Every read starts from ``access.readable``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tortoise.expressions import Q, Subquery

from tenants import clock
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.paging import Order, Page, Window, page
from tenants.permissions import require
from tenants.points import ledger
from tenants.points.access import EARNING_POSTS, readable, readable_lots, readable_people
from tenants.points.config import points_config
from tenants.points.models import PointsEntry, PointsLot
from tenants.scope import scoped_transaction
from tenants.territory.access import Access, get_in_scope
from tenants.territory.models import MODEL_BY_LEVEL, Household
from tenants.territory.people import Person, Post

NEWEST = Order(("-id",), (int,))
MAX_DAYS = 366


async def person_of(caller: Access, person_id: int | None, *, field: str = "personId") -> Person:
    """The person asked for, if the caller reads their points; without an id, the caller themselves."""
    people = readable_people(caller)
    if person_id is None:
        found = await Person.filter(user_id=caller.user_id or "").first() if caller.user_id else None
        if found is None:
            raise NotFound("您没有积分账户", "you have no points account (no person on file)", field=field)
        return found
    found = await people.filter(id=person_id).first()
    if found is None:
        raise NotFound(f"人员 {person_id} 不存在", f"person {person_id} does not exist", field=field)
    return found


@dataclass(frozen=True)
class Balance:
    person_id: int
    balance: int


async def balance(caller: Access, person_id: int | None = None) -> Balance:
    async with scoped_transaction():
        person = await person_of(caller, person_id)
        return Balance(person.id, await ledger.balance_of(person.id))


async def history(caller: Access, person_id: int | None, window: Window) -> Page[PointsEntry]:
    """A window of a person's entries, newest first (keyset on id)."""
    async with scoped_transaction():
        person = await person_of(caller, person_id)
        return await page(readable(caller).filter(person_id=person.id), NEWEST, window, countable=False)


async def expiring(caller: Access, person_id: int | None = None, days: int | None = None) -> list[PointsLot]:
    """A person's live lots that expire within ``days`` (default ``points.expiry_warning_days``), soonest first."""
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput.of([Problem("days", "out_of_range", f"天数须在 1 到 {MAX_DAYS} 之间",
                                       f"days is 1..{MAX_DAYS}")])
    async with scoped_transaction():
        person = await person_of(caller, person_id)
        window = days if days is not None else (await points_config()).expiry_warning_days
        today = await clock.today()
        return await readable_lots(caller).filter(
            person_id=person.id, remaining__gt=0, expires_on__gt=today,
            expires_on__lte=today + timedelta(days=window),
        ).order_by("expires_on", "id")


async def check(caller: Access) -> list[ledger.PointsMismatch]:
    """pointsCheck: every balance recomputed from the entries and the live lots; the mismatches."""
    require(caller, "points.check")
    async with scoped_transaction():
        return await ledger.verify()


async def grid_history(caller: Access, grid_id: int, window: Window) -> Page[PointsEntry]:
    """A window of the entries of the people living in a grid or holding an earning post in it, newest first
    (``points.export``)."""
    require(caller, "points.export")
    async with scoped_transaction():
        await get_in_scope("grid", grid_id, caller, field="gridId")
        households = Household.filter(grid_id=grid_id).values("id")
        residents = Person.filter(household_id__in=Subquery(households)).values("id")
        posted = Q(target_kind="grid", target_id=grid_id)
        for level in ("compound", "building", "household"):
            below = MODEL_BY_LEVEL[level].filter(grid_id=grid_id).values("id")
            posted |= Q(target_kind=level, target_id__in=Subquery(below))
        holders = Post.filter(posted, kind__in=EARNING_POSTS).values("person_id")
        qs = readable(caller).filter(Q(person_id__in=Subquery(residents)) | Q(person_id__in=Subquery(holders)))
        return await page(qs, NEWEST, window, countable=False)


async def names(caller: Access, person_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(name, user id) of the people among ``person_ids`` whose points the caller reads."""
    rows = await readable_people(caller).filter(id__in=person_ids).values_list("id", "name", "user_id")
    return {int(i): (str(n), str(u)) for i, n, u in rows}  # type: ignore[misc]
