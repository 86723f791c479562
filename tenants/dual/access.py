"""Which 双报到 rows a caller reads (``readable_*``: QuerySets, see territory.access), ``dual.read`` checked first.

The administration (tenant admins, the housing department) reads everything; a street officer what is registered
at their street's communities; a community worker at their community; a work unit's contact (``work_unit_contact``
post) its unit's registrations and the registrations and posts of the members who name the unit; a party member
their own registrations and posts. A caller holding several roles reads the union. Another tenant: nothing (RLS).
"""

from __future__ import annotations

from tortoise.expressions import Q, RawSQL, Subquery
from tortoise.queryset import QuerySet

from tenants import clock
from tenants.dual.models import MemberPost, MemberRegistration, UnitRegistration
from tenants.permissions import ADMIN_AND_STAFF, require
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.parties import WorkUnit
from tenants.territory.people import Person

NOTHING = Q(id__in=[0])


def agreement_current() -> Q:
    """Unit registrations whose agreement has not ended (``agreement_until`` open, or the tenant's today or later):
    a unit whose agreement ran out is not registered any more, even before the hourly job marks it ended. Today is
    this instant (``clock.now()``) in the tenant's time zone, computed by the statement: a query needs no await."""
    at = clock.now().isoformat()  # an aware datetime's own text: no input reaches the SQL
    return Q(agreement_until__isnull=True) | Q(agreement_until__gte=RawSQL(
        f"(SELECT (timestamptz '{at}' AT TIME ZONE t.timezone)::date FROM tenant t"
        " WHERE t.id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)"))


def contact_units(caller: Access) -> list[int]:
    """The work units the caller speaks for through a ``work_unit_contact`` post."""
    if Role.WORK_UNIT_CONTACT not in caller.roles:
        return []
    return sorted(caller.by_role.get(Role.WORK_UNIT_CONTACT, {}).get("work_unit", frozenset()))


def sees_unit_contact(caller: Access, work_unit_id: int) -> bool:
    """Whether the caller reads a work unit's contact name and phone: the administration and territory staff, and
    the unit's own contact (members and other units' contacts know the unit, not who answers for it)."""
    return bool(caller.roles & ADMIN_AND_STAFF) or work_unit_id in contact_units(caller)


def own_person(caller: Access) -> QuerySet[Person]:
    """The caller's own (active) person record, if any."""
    return Person.filter(user_id=caller.user_id or "", deactivated_at=None)


def area(caller: Access) -> Q:
    """Rows (with ``community_id`` and ``street_id``) at the communities the caller works for through a writer post:
    a community worker's community, every community of a street officer's street. Nothing for anyone else."""
    q = NOTHING
    if communities := caller.staff_nodes.get("community"):
        q |= Q(community_id__in=sorted(communities))
    if streets := caller.staff_nodes.get("street"):
        q |= Q(street_id__in=sorted(streets))
    return q


def in_area(caller: Access, community_id: int, street_id: int) -> bool:
    """Whether a community (of ``street_id``) is the caller's to act on: a writer post on it or its street, or a
    tenant administrator."""
    return caller.whole_tenant or caller.holds_post("community", community_id) or caller.holds_post("street", street_id)


def member_scope(caller: Access, field: str = "person_id") -> Q | None:
    """Rows whose ``field`` is a person the caller reads as a member: their own; the members registered (in any
    status) at the caller's communities; the members naming the caller's work unit. None: the whole tenant."""
    if caller.reads_whole_tenant:
        return None
    regs = MemberRegistration.filter(_registration_filter(caller, own=False)).values("person_id")
    mine = Subquery(own_person(caller).values("id"))
    return Q(**{f"{field}__in": Subquery(regs)}) | Q(**{f"{field}__in": mine})  # type: ignore[arg-type]


def _registration_filter(caller: Access, *, own: bool = True) -> Q:
    q = area(caller)
    if units := contact_units(caller):
        q |= Q(work_unit_id__in=units)
    if own and caller.user_id:
        q |= Q(person_id__in=Subquery(own_person(caller).values("id")))
    return q


def readable_work_units(caller: Access) -> QuerySet[WorkUnit]:
    """Work units are known tenant-wide to whoever takes part in 双报到 (a member names theirs when registering)."""
    require(caller, "dual.read")
    return WorkUnit.all()


def readable_unit_registrations(caller: Access) -> QuerySet[UnitRegistration]:
    """The administration all; staff their area's; a unit's contact its unit's; a member none."""
    require(caller, "dual.read")
    if caller.reads_whole_tenant:
        return UnitRegistration.all()
    q = area(caller)
    if units := contact_units(caller):
        q |= Q(work_unit_id__in=units)
    return UnitRegistration.filter(q)


def readable_member_registrations(caller: Access) -> QuerySet[MemberRegistration]:
    """The administration all; staff those at their communities; a unit's contact those naming its unit; a member
    their own (their history included)."""
    require(caller, "dual.read")
    if caller.reads_whole_tenant:
        return MemberRegistration.all()
    return MemberRegistration.filter(_registration_filter(caller))


def readable_member_posts(caller: Access) -> QuerySet[MemberPost]:
    """The administration all; staff those at their communities; a unit's contact those its members took under a
    registration naming the unit; a member their own."""
    require(caller, "dual.read")
    if caller.reads_whole_tenant:
        return MemberPost.all()
    q = area(caller)
    if units := contact_units(caller):
        q |= Q(registration_id__in=Subquery(MemberRegistration.filter(work_unit_id__in=units).values("id")))
    if caller.user_id:
        q |= Q(person_id__in=Subquery(own_person(caller).values("id")))
    return MemberPost.filter(q)
