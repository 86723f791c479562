"""Who sees a ticket (``readable``: a ``QuerySet``, see territory.access) and who may act on it, from the
caller's data scope."""

from __future__ import annotations

from collections.abc import Callable

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants import permissions
from tenants.files.access import attachable_as
from tenants.permissions import STAFF_REPORTERS, acts_for_unit, allows
from tenants.territory.access import Access
from tenants.tickets.models import PartnerTask, Ticket, UnitKind

__all__ = [
    "STAFF_REPORTERS", "acts_for", "acts_for_assignee", "check", "may_review", "readable", "readable_partner_tasks",
    "require",
]


def readable(caller: Access) -> QuerySet[Ticket]:
    """The tickets the caller reads (every list and get starts here)."""
    q = _readable_filter(caller)
    return Ticket.all() if q is None else Ticket.filter(q)


def readable_partner_tasks(caller: Access) -> QuerySet[PartnerTask]:
    """Partner tasks on the tickets the caller reads."""
    q = _readable_filter(caller)
    return PartnerTask.all() if q is None else PartnerTask.filter(ticket_id__in=Subquery(readable(caller).values("id")))


attachable_as("ticket", readable)  # a ticket's photos are read by whoever reads the ticket


def _readable_filter(access: Access) -> Q | None:
    """Tickets in scope: a resident's own; territory staff's area; a company's or a department's assigned
    tickets; None = all (tenant admins, the housing department)."""
    if access.reads_whole_tenant:
        return None
    q = Q(reporter_user_id=access.user_id or "\x00")
    # Territory staff (street officer, community worker, grid worker) see their area's tickets; other grants on a
    # node (owners' committee, supervisor, assessor) do not open residents' grievances.
    for level, ids in access.staff_nodes.items():
        q |= Q(**{f"{level}_id__in": sorted(ids)})  # type: ignore[arg-type]
    if access.companies:  # a company sees only what is assigned to it (not complaints routed elsewhere)
        q |= Q(assignee_kind=UnitKind.PROPERTY_COMPANY, assignee_id__in=sorted(access.companies))
    if access.units:
        q |= Q(
            assignee_kind__in=[UnitKind.HOUSING_DEPT, UnitKind.COUNTY_DEPARTMENT], assignee_id__in=sorted(access.units)
        )
    # A partner unit sees the tickets it helps on (怎么配合干).
    partner = Q(unit_kind=UnitKind.PROPERTY_COMPANY, unit_id__in=sorted(access.companies)) if access.companies else None
    if access.units:
        mine = Q(unit_kind__in=[UnitKind.HOUSING_DEPT, UnitKind.COUNTY_DEPARTMENT], unit_id__in=sorted(access.units))
        partner = mine if partner is None else partner | mine
    if partner is not None:
        q |= Q(id__in=Subquery(PartnerTask.filter(partner).values("ticket_id")))
    return q


def may_review(access: Access, ticket: Ticket) -> bool:
    """The community or street the ticket is in reviews, dispatches and supervises it."""
    return allows(access, "tickets.dispatch", ticket)


def acts_for(access: Access, kind: UnitKind | None, unit: int | None) -> bool:
    """The unit's own staff (or a tenant admin)."""
    return acts_for_unit(access, kind, unit)


def acts_for_assignee(access: Access, ticket: Ticket) -> bool:
    """The assigned unit's own staff (or a tenant admin) accept, transfer and resolve."""
    return allows(access, "tickets.accept", ticket)


# The permission behind each action the ticket services name when they refuse.
_PERMISSION_OF = {
    "report": "tickets.report",
    "report for another person": "tickets.report_for_resident",
    "dispatch": "tickets.dispatch",
    "reject": "tickets.reject",
    "escalate": "tickets.escalate",
    "accept": "tickets.accept",
    "resolve": "tickets.resolve",
    "transfer": "tickets.transfer",
    "rate": "tickets.rate",
    "record a return visit": "tickets.record_return_visit",
    "accept this partner task": "tickets.accept_partner_task",
    "complete this partner task": "tickets.complete_partner_task",
}


# Each ticket permission: the words of its refusal, and today's rule (caller, ticket, acting user id).
_RULES: dict[str, tuple[str, Callable[[Access, Ticket, str | None], bool]]] = {
    "tickets.dispatch": ("dispatch", lambda a, t, who: may_review(a, t)),
    "tickets.reject": ("reject", lambda a, t, who: may_review(a, t)),
    "tickets.accept": ("accept", lambda a, t, who: acts_for_assignee(a, t)),
    "tickets.transfer": ("transfer", lambda a, t, who: acts_for_assignee(a, t) or may_review(a, t)),
    "tickets.resolve": ("resolve", lambda a, t, who: acts_for_assignee(a, t)),
    "tickets.rate": ("rate", lambda a, t, who: t.reporter_user_id == who),
    # A ticket entered for a resident: by whoever entered it, or its community, street or a tenant admin.
    "tickets.record_return_visit": (
        "record a return visit",
        lambda a, t, who: t.entered_by != t.reporter_user_id and (t.entered_by == who or may_review(a, t)),
    ),
    "tickets.escalate": ("escalate", lambda a, t, who: may_review(a, t)),
}


def check(access: Access, permission: str, ticket: Ticket, *, actor: str | None = None) -> None:
    """Refuse (Forbidden) unless the caller holds ``permission`` (``tickets.<action>``) on ``ticket``; ``actor`` is
    the acting user id (default: the caller's)."""
    words, rule = _RULES[permission]
    require(rule(access, ticket, actor if actor is not None else access.user_id), words)


def require(allowed: bool, action: str) -> None:
    """Refuse (FORBIDDEN, as ``tenants.permissions`` words it) an action the caller may not take on this ticket."""
    if not allowed:
        name = _PERMISSION_OF[action]
        raise permissions.refusal(name, outside=permissions.permission(name).node is not None)
