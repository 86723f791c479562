"""Which needs and projects, claims and micro-wishes a caller reads (``readable_*``: QuerySets, see
territory.access), and who the caller claims as.

The administration (tenant admins, the housing department) reads everything; street and community staff what lies
in their street or community. A member (``party_member`` with an approved registration) and a registered unit's
contact (``work_unit_contact``) read the lists of the communities they are registered at, the claimable (posted or
escalated) wishes there, and whatever they claimed. A resident reads their own wishes only. Another tenant reads
nothing (row-level security underneath). Wish texts are personal data: claimants see the resident's name masked
(``shown_name``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.dual.access import agreement_current
from tenants.dual.list_models import DualClaim, DualItem, Wish, WishStatus
from tenants.dual.models import MemberRegistration, RegistrationStatus, UnitRegistration
from tenants.errors import Forbidden
from tenants.permissions import TERRITORY_STAFF
from tenants.roles import Role
from tenants.territory.access import Access
from tenants.territory.people import Person

CLAIMABLE = (WishStatus.POSTED, WishStatus.ESCALATED)
NOTHING = Q(id__in=[0])


def person_claimant(person_id: int) -> str:
    return f"person:{person_id}"


def unit_claimant(work_unit_id: int) -> str:
    return f"work_unit:{work_unit_id}"


def own_persons(caller: Access) -> QuerySet[Person]:
    """The caller's own (active) person records."""
    return Person.filter(user_id=caller.user_id or "", deactivated_at=None)


def contact_units(caller: Access) -> list[int]:
    """The work units the caller is the contact of (``work_unit_contact`` posts)."""
    if Role.WORK_UNIT_CONTACT not in caller.roles:
        return []
    return sorted(caller.by_role.get(Role.WORK_UNIT_CONTACT, {}).get("work_unit", frozenset()))


def member_registrations(caller: Access) -> QuerySet[MemberRegistration]:
    """The caller's approved member registration (one at most), when they act as a party member."""
    if Role.PARTY_MEMBER not in caller.roles:
        return MemberRegistration.filter(NOTHING)
    return MemberRegistration.filter(
        status=RegistrationStatus.APPROVED, person_id__in=Subquery(own_persons(caller).values("id"))
    )


def unit_registrations(caller: Access) -> QuerySet[UnitRegistration]:
    """The approved registrations of the caller's units whose agreement has not ended."""
    return UnitRegistration.filter(agreement_current(), status=RegistrationStatus.APPROVED,
                                   work_unit_id__in=contact_units(caller) or [0])


def _registered(caller: Access, field: str = "community_id") -> Q:
    """Rows of the communities the caller is registered at, as a member or through a unit."""
    return Q(**{f"{field}__in": Subquery(member_registrations(caller).values("community_id"))}) | Q(  # type: ignore[arg-type]
        **{f"{field}__in": Subquery(unit_registrations(caller).values("community_id"))}  # type: ignore[arg-type]
    )


async def claimants_of(caller: Access) -> set[str]:
    """Every claimant the caller acts as: their person records (a party member), their units (a contact)."""
    out = {unit_claimant(u) for u in contact_units(caller)}
    if Role.PARTY_MEMBER in caller.roles and caller.user_id:
        out |= {person_claimant(p) for p in await own_persons(caller).values_list("id", flat=True)}  # type: ignore[arg-type]
    return out


async def behind(caller: Access) -> set[str]:
    """Every claimant the caller stands behind: ``claimants_of`` and each of their own person records whatever
    their roles now (a claim made as a member stays theirs)."""
    out = await claimants_of(caller)
    if caller.user_id:
        out |= {person_claimant(p) for p in await own_persons(caller).values_list("id", flat=True)}  # type: ignore[arg-type]
    return out


def own_claim(action_zh: str, action_en: str, field: str = "id") -> Forbidden:
    """Separation of duties: the claimant (or a user behind it) may not confirm, accept or return its own work
    (FORBIDDEN, reason ``own_claim``)."""
    return Forbidden(f"不能{action_zh}自己（或本单位）认领的事项", f"you may not {action_en} your own claim",
                     field=field, details={"reason": "own_claim"})


def _staff(caller: Access) -> Q:
    if not caller.roles & TERRITORY_STAFF:
        return NOTHING
    q = caller.staff_communities_filter()
    assert q is not None  # the whole tenant is answered before
    return q


def readable_items(caller: Access) -> QuerySet[DualItem]:
    """Needs and projects the caller reads."""
    if caller.reads_whole_tenant:
        return DualItem.all()
    return DualItem.filter(_staff(caller) | _registered(caller))


def _claimed(caller: Access, person: str, unit: str) -> Q:
    """Rows claimed by the caller as a member (whatever their registration now) or by one of their units."""
    q = Q(**{f"{unit}__in": contact_units(caller) or [0]})  # type: ignore[arg-type]
    if Role.PARTY_MEMBER in caller.roles and caller.user_id:
        q |= Q(**{f"{person}__in": Subquery(own_persons(caller).values("id"))})  # type: ignore[arg-type]
    return q


def readable_claims(caller: Access) -> QuerySet[DualClaim]:
    """Claims the caller reads: staff of their area, a claimant their own."""
    if caller.reads_whole_tenant:
        return DualClaim.all()
    return DualClaim.filter(_staff(caller) | _claimed(caller, "person_id", "work_unit_id"))


def readable_wishes(caller: Access) -> QuerySet[Wish]:
    """Wishes the caller reads: staff of their area; a resident their own; members and units' contacts the
    claimable wishes of their communities and those they claimed."""
    if caller.reads_whole_tenant:
        return Wish.all()
    q = _staff(caller) | _claimed(caller, "claimant_person_id", "claimant_unit_id")
    if caller.user_id:
        q |= Q(person_id__in=Subquery(own_persons(caller).values("id")))
    if caller.roles & {Role.PARTY_MEMBER, Role.WORK_UNIT_CONTACT}:
        q |= Q(_registered(caller), status__in=list(CLAIMABLE))
    return Wish.filter(q)


@dataclass(frozen=True)
class Claimant:
    """Who a claim is made as: the claimant's text and the person or unit behind it."""

    key: str
    person_id: int | None = None
    work_unit_id: int | None = None


def masked(name: str) -> str:
    """A resident's name as a claimant reads it: the family name and one star, whatever the length (张*)."""
    return name[:1] + "*" if name else ""


def staff_user(caller: Access, user_id: str) -> str:
    """A staff user id (who published an item) as the caller reads it: whole for staff, ``staff`` for others."""
    return user_id if caller.reads_whole_tenant or caller.roles & TERRITORY_STAFF else "staff"


def in_area(caller: Access, community_id: int, street_id: int) -> bool:
    """Whether the caller is staff of the community: a tenant admin, its community worker, its street's officer."""
    if caller.whole_tenant:
        return True
    return bool(caller.roles & TERRITORY_STAFF) and (
        caller.holds_post("community", community_id) or caller.holds_post("street", street_id)
    )


def sees_names(caller: Access, wishes: Iterable[Wish], own: set[int]) -> dict[int, bool]:
    """Per wish: whether the caller reads the resident's whole name (the resident, staff of the wish's area)."""
    whole = caller.reads_whole_tenant
    return {w.id: whole or w.person_id in own or in_area(caller, w.community_id, w.street_id) for w in wishes}
