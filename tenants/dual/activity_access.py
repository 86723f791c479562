"""Which 双报到 activities and sign-ups a caller reads (``readable``: QuerySets, see territory.access), and who an
activity's members are.

The administration (tenant admins, the housing department) reads every activity and sign-up; street officers and
community workers those of the communities they work for. A party member reads the activities of the communities
they may join (``eligible``: their own registration's community, and the communities their work unit is registered
with) and of any activity they signed up for, and their own sign-ups. A work unit's contact reads the activities of
the communities its unit is registered with and its members' sign-ups. A unit registration counts while its
agreement has not ended (``access.agreement_current``). Another tenant: nothing (row-level security).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.dual.access import agreement_current
from tenants.dual.models import (
    Activity,
    MemberRegistration,
    RegistrationStatus,
    Signup,
    UnitRegistration,
)
from tenants.errors import Forbidden
from tenants.permissions import has_role, require
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.people import Person

APPROVED = RegistrationStatus.APPROVED
STAFF_MARK = "staff"  # what a reader who does not run activities reads in place of a staff user id


def shown_actor(caller: Access, user_id: str | None, *, member_user_id: str | None = None) -> str | None:
    """``user_id`` (who created an activity or marked attendance) as ``caller`` reads it: those who run activities
    (``dual.activity.manage``) the user id; anyone else their own id and the member's own (``member_user_id``: a
    check-in with the code), ``staff`` for anyone else's."""
    if user_id is None or user_id in (caller.user_id, member_user_id) or has_role(caller, "dual.activity.manage"):
        return user_id
    return STAFF_MARK


async def member_user_ids(person_ids: list[int]) -> dict[int, str]:
    """The user ids of the persons among ``person_ids`` (to tell a member's own check-in from a staff mark; never
    shown as such)."""
    rows = await Person.filter(id__in=person_ids).exclude(user_id=None).values_list("id", "user_id")
    return {int(i): str(u) for i, u in rows}


def own_persons(caller: Access) -> QuerySet[Person]:
    """The caller's own person record(s) in the tenant (none without a user id)."""
    return Person.filter(user_id=caller.user_id or "", deactivated_at=None) if caller.user_id else Person.filter(id=0)


def units_of(caller: Access) -> list[int]:
    """The work units the caller is the contact of (``work_unit_contact`` posts)."""
    if Role.WORK_UNIT_CONTACT not in caller.roles:
        return []
    return sorted(caller.by_role.get(Role.WORK_UNIT_CONTACT, {}).get("work_unit", frozenset()))


def _member_communities(person_ids: QuerySet[Person]) -> Q:
    """Activities of the communities these people may join: their approved registration's community, and the
    communities their registration's work unit is registered with (approved)."""
    regs = MemberRegistration.filter(person_id__in=Subquery(person_ids.values("id")), status=APPROVED)
    units = UnitRegistration.filter(agreement_current(), work_unit_id__in=Subquery(
        regs.filter(work_unit_id__not_isnull=True).values("work_unit_id")), status=APPROVED)
    return Q(community_id__in=Subquery(regs.values("community_id"))) | Q(
        community_id__in=Subquery(units.values("community_id"))
    )


def readable_activities(caller: Access) -> QuerySet[Activity]:
    """The activities the caller reads (module docstring)."""
    if caller.reads_whole_tenant:
        return Activity.all()
    q = Q(id__in=[0])
    if staff := caller.staff_communities_filter():
        q |= staff
    if caller.user_id:
        own = own_persons(caller)
        q |= _member_communities(own)
        q |= Q(id__in=Subquery(Signup.filter(person_id__in=Subquery(own.values("id"))).values("activity_id")))
    if units := units_of(caller):
        q |= Q(community_id__in=Subquery(
            UnitRegistration.filter(agreement_current(), work_unit_id__in=units, status=APPROVED).values(
                "community_id")))
    return Activity.filter(q)


def readable_signups(caller: Access) -> QuerySet[Signup]:
    """The sign-ups the caller reads: staff those of their communities' activities, a member their own, a work
    unit's contact its members' (approved registrations naming the unit)."""
    if caller.reads_whole_tenant:
        return Signup.all()
    q = Q(id__in=[0])
    if staff := caller.staff_communities_filter():
        q |= staff
    if caller.user_id:
        q |= Q(person_id__in=Subquery(own_persons(caller).values("id")))
    if units := units_of(caller):
        q |= Q(person_id__in=Subquery(
            MemberRegistration.filter(work_unit_id__in=units, status=APPROVED).values("person_id")))
    return Signup.filter(q)


def manages(caller: Access, activity: Activity) -> None:
    """FORBIDDEN unless the caller manages activities of ``activity``'s community (``dual.activity.manage``)."""
    require(caller, "dual.activity.manage", [("community", activity.community_id), ("street", activity.street_id)])


async def eligible_registration(person_id: int, community_id: int) -> MemberRegistration | None:
    """The person's approved registration if it lets them take part at ``community_id``: registered at that
    community, or their work unit is registered with it. None otherwise."""
    reg = await MemberRegistration.filter(person_id=person_id, status=APPROVED).order_by("-id").first()
    if reg is None:
        return None
    if reg.community_id == community_id:
        return reg
    if reg.work_unit_id is not None and await UnitRegistration.filter(
        agreement_current(), work_unit_id=reg.work_unit_id, community_id=community_id, status=APPROVED
    ).exists():
        return reg
    return None


class NotAMember(Forbidden):
    """The person is not an approved 双报到 member who may take part at the activity's community."""

    code = "NOT_A_MEMBER"


def not_a_member(field: str | None = None) -> NotAMember:
    return NotAMember(
        "只有在本社区报到（或所在单位已在本社区报到）且已审核通过的在职党员可以参加该活动",
        "only approved members registered at the activity's community (or whose work unit is) take part",
        field=field,
    )
