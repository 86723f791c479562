"""Grid-score and pay-statement reads, each through what the caller reads (``tenants.points.grid_access``)."""

from __future__ import annotations

from dataclasses import dataclass

from tenants import periods
from tenants.errors import NotFound
from tenants.paging import Order, Page, Window, page
from tenants.points.grid_access import readable_scores, readable_statements
from tenants.points.grid_models import GridScore, PayStatement, PayStatus
from tenants.territory.access import Access
from tenants.territory.models import Grid
from tenants.territory.people import Person

BY_GRID = Order(("grid_id",), (int,))
STATEMENTS = Order(("person_id", "revision"), (int, int))


async def scores(
    caller: Access, *, month: str, community_id: int | None = None, window: Window
) -> Page[GridScore]:
    """A window of the month's grid scores the caller reads, by grid id."""
    periods.month_bounds(month)
    qs = readable_scores(caller).filter(period_key=month)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    return await page(qs, BY_GRID, window)


async def statements(
    caller: Access, *, month: str, status: str | None = None, superseded: bool = False, window: Window
) -> Page[PayStatement]:
    """A window of the month's pay statements the caller reads, by worker then revision (current ones only unless
    ``superseded``)."""
    periods.month_bounds(month)
    qs = readable_statements(caller).filter(period_key=month)
    if status is not None:
        qs = qs.filter(status=status)
    elif not superseded:
        qs = qs.exclude(status=PayStatus.SUPERSEDED)
    return await page(qs, STATEMENTS, window)


async def statement(caller: Access, statement_id: int) -> PayStatement:
    s = await readable_statements(caller).filter(id=statement_id).first()
    if s is None:
        raise NotFound("绩效工资单不存在", "no such pay statement", field="id")
    return s


async def statements_by_ids(caller: Access, statement_ids: list[int]) -> list[PayStatement]:
    return await readable_statements(caller).filter(id__in=statement_ids).order_by("person_id", "revision")


async def person_names(person_ids: list[int]) -> list[str | None]:
    """Workers' names by person id, in the order asked (for statements the caller already reads)."""
    found = dict(await Person.filter(id__in=person_ids).values_list("id", "name"))  # type: ignore[arg-type]
    return [found.get(i) for i in person_ids]


@dataclass(frozen=True)
class MonthSheet:
    """A month's statements for payroll, with the workers' and grids' names."""

    statements: list[PayStatement]
    people: dict[int, Person]
    grids: dict[int, Grid]


async def month_sheet(caller: Access, month: str, statuses: list[str]) -> MonthSheet:
    periods.month_bounds(month)
    rows = await readable_statements(caller).filter(period_key=month, status__in=statuses).order_by(
        "person_id", "revision"
    )
    people = {p.id: p for p in await Person.filter(id__in=sorted({s.person_id for s in rows}))}
    grid_rows = {g.id: g for g in await Grid.filter(id__in=sorted({s.grid_id for s in rows}))}
    return MonthSheet(rows, people, grid_rows)
