"""The responsibility matrix 职通民声: which unit acts on a ticket (由谁干) and which help (怎么配合干), resolved
for the ticket's place from the item its rules name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tenants import clock
from tenants.errors import Problem
from tenants.territory.parties import PropertyContract, Unit
from tenants.tickets.models import Ticket, UnitKind

_DEPARTMENTS = (UnitKind.HOUSING_DEPT, UnitKind.COUNTY_DEPARTMENT)
_KIND_ZH = {
    UnitKind.COMMUNITY: "社区",
    UnitKind.STREET: "街道",
    UnitKind.PROPERTY_COMPANY: "物业企业",
    UnitKind.COUNTY_DEPARTMENT: "县直部门",
    UnitKind.HOUSING_DEPT: "住建部门",
}


@dataclass(frozen=True)
class Route:
    """Where a unit type lands for a ticket; ``unit_id`` None with the ``reason`` when nobody can be found."""

    kind: UnitKind
    unit_id: int | None
    reason: str = ""  # no_unit, unknown_unit, inactive_unit, ambiguous_unit
    code: str | None = None

    def problem(self) -> Problem:
        """Why the reviewer has to name the unit."""
        zh, code = _KIND_ZH[self.kind], self.code
        text = {
            "unknown_unit": (f"诉求目录指定的{zh} {code} 未登记", f"the matrix names {self.kind.value} {code}, "
                             "which is not on file"),
            "inactive_unit": (f"诉求目录指定的{zh} {code} 已停用", f"the matrix names {self.kind.value} {code}, "
                              "which has been deactivated"),
            "ambiguous_unit": (f"本地登记了多个{zh}，诉求目录未指定单位编码", f"several {self.kind.value} units are "
                               "on file and the matrix names none"),
        }.get(self.reason, (f"本地没有登记该类承办单位（{zh}）", f"no {self.kind.value} unit is on file here"))
        return Problem("unit", self.reason or "no_unit", text[0] + "，请指定承办单位", text[1] + "; name the unit")


def department(kind: UnitKind, code: str | None, units: list[tuple[int, str, bool]]) -> Route:
    """The department the matrix names by ``code`` among ``units`` ((id, code, active) of that type, by id): with
    a code, that unit if active; without, the only active one of the type (an inactive unit is never the
    default). ``units`` needs the one named by ``code``, or (without a code) the first two active ones."""
    if code:
        named = next((u for u in units if u[1] == code), None)
        if named is None:
            return Route(kind, None, "unknown_unit", code)
        return Route(kind, named[0], "", code) if named[2] else Route(kind, None, "inactive_unit", code)
    active = [u[0] for u in units if u[2]][:2]
    if len(active) == 1:
        return Route(kind, active[0])
    return Route(kind, None, "ambiguous_unit" if active else "no_unit")


async def _department(kind: UnitKind, code: str | None) -> Route:
    if code:
        qs = Unit.filter(kind=kind.value, code=code).limit(1)
    else:
        qs = Unit.filter(kind=kind.value, is_active=True).order_by("id").limit(2)
    return department(kind, code, list(await qs.values_list("id", "code", "is_active")))  # type: ignore[arg-type]


async def locate(ticket: Ticket, kind: UnitKind, code: str | None, at: datetime, *, acting: bool) -> Route:
    """A unit type for this ticket: the company serving its compound, its community or street, or the department
    named by ``code``. The acting unit falls back (no company: the community; no community: the street);
    a partner does not."""
    if kind in _DEPARTMENTS:
        return await _department(kind, code)
    if kind == UnitKind.PROPERTY_COMPANY:
        if ticket.compound_id is not None:
            day = await clock.today(at)  # contracts run on tenant-local dates
            contract = await PropertyContract.filter(
                compound_id=ticket.compound_id, starts_on__lte=day, ends_on__gte=day
            ).first()
            if contract is not None:
                return Route(kind, contract.company_id)
        if not acting:
            return Route(kind, None)
        kind = UnitKind.COMMUNITY  # no company serves it: the community acts
    if kind == UnitKind.COMMUNITY:
        if ticket.community_id is not None:
            return Route(kind, ticket.community_id)
        if not acting:
            return Route(kind, None)
        kind = UnitKind.STREET
    return Route(UnitKind.STREET, ticket.street_id, "" if ticket.street_id is not None else "no_unit")


async def acting_unit(ticket: Ticket, at: datetime) -> Route:
    """由谁干: the item's unit for this ticket."""
    item = ticket.rules["item"]
    return await locate(ticket, UnitKind(item["unit"]), item.get("unit_code"), at, acting=True)


async def partner_units(ticket: Ticket, at: datetime) -> list[tuple[UnitKind, int]]:
    """怎么配合干: the item's partners found for this ticket, without the acting unit itself and duplicates."""
    found: dict[tuple[UnitKind, int], None] = {}
    for ref in ticket.rules["item"].get("partners", []):
        ref = {"unit": ref} if isinstance(ref, str) else ref
        route = await locate(ticket, UnitKind(ref["unit"]), ref.get("unit_code"), at, acting=False)
        if route.unit_id is not None and (route.kind, route.unit_id) != (ticket.assignee_kind, ticket.assignee_id):
            found[(route.kind, route.unit_id)] = None
    return list(found)
