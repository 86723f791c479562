"""Which 双报到 talks, notices and members' year figures a caller reads (``readable``: QuerySets, see
territory.access).

- Talks 谈话 are staff work (``dual.talk.manage``): a tenant admin all; a community worker those of members of their
  community; a street officer those of their street's communities. A member never reads talks about themselves
  (the design: talks are staff-only; a member reads their own counts).
- Notices 通报 (``dual.report.read``): the administration all, staff their area's, a work unit's contact those about
  its members (the member's unit when the notice opened).
- Members' registrations, the rows a year-end report is made of (``dual.report.read``): the administration all,
  staff the members of their communities, a unit's contact its unit's members, a member their own.
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.dual.models import MemberRegistration
from tenants.dual.rule_models import AbsenceCase, CaseKind
from tenants.permissions import require
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.people import Person

NOTHING = Q(id__in=[0])


def units_of(caller: Access) -> list[int]:
    """The work units the caller is a contact of (``work_unit_contact`` posts)."""
    if Role.WORK_UNIT_CONTACT not in caller.roles:
        return []
    return sorted(caller.by_role.get(Role.WORK_UNIT_CONTACT, {}).get("work_unit", frozenset()))


def _area(caller: Access) -> Q:
    """Rows of the communities the caller works for (a community worker's, a street officer's street's)."""
    if not caller.roles & {Role.COMMUNITY_WORKER, Role.STREET_OFFICER}:
        return NOTHING
    return caller.staff_communities_filter() or NOTHING


def readable_talks(caller: Access) -> QuerySet[AbsenceCase]:
    require(caller, "dual.talk.manage")
    talks = AbsenceCase.filter(kind=CaseKind.TALK)
    return talks if caller.whole_tenant else talks.filter(_area(caller))


def readable_notices(caller: Access) -> QuerySet[AbsenceCase]:
    require(caller, "dual.report.read")
    notices = AbsenceCase.filter(kind=CaseKind.NOTICE)
    if caller.reads_whole_tenant:
        return notices
    q = _area(caller)
    if units := units_of(caller):
        q |= Q(work_unit_id__in=units)
    return notices.filter(q)


def readable_members(caller: Access) -> QuerySet[MemberRegistration]:
    """Members' registrations (every status: a year's figures follow registrations that have since ended)."""
    require(caller, "dual.report.read")
    if caller.reads_whole_tenant:
        return MemberRegistration.all()
    q = _area(caller)
    if units := units_of(caller):
        q |= Q(work_unit_id__in=units)
    if caller.user_id and Role.PARTY_MEMBER in caller.roles:
        q |= Q(person_id__in=Subquery(Person.filter(user_id=caller.user_id).values("id")))
    return MemberRegistration.filter(q)
