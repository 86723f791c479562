"""以奖代补 reads: statements, their lines and payees, pools' communities and the finance office's export, each
through what the caller reads (``tenants.subsidies.access``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from tortoise.queryset import QuerySet

from tenants.errors import NotFound
from tenants.paging import Link, Order, Page, Window, page, page_with, rows_by_ids
from tenants.subsidies.access import read_in_full, readable, readable_communities, readable_lines
from tenants.subsidies.models import SettlementLine, SettlementStatement
from tenants.subsidies.statements import bounds
from tenants.territory.access import Access, readable_companies
from tenants.territory.access import readable as readable_areas
from tenants.territory.models import Area, Community, Compound
from tenants.territory.parties import PropertyCompany

STATEMENTS = Order(("-period_key", "id"), (str, int))


async def statements(
    caller: Access,
    *,
    period: str | None = None,
    community_id: int | None = None,
    status: str | None = None,
    window: Window,
) -> Page[SettlementStatement]:
    """A window of the caller's statements, newest period first, then by id (keyset on ``(period_key, id)``)."""
    qs = readable(caller)
    if period is not None:
        bounds(period)
        qs = qs.filter(period_key=period)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if status is not None:
        qs = qs.filter(status=status)
    return await page(qs, STATEMENTS, window)


async def statement(caller: Access, statement_id: int) -> SettlementStatement:
    s = await readable(caller).filter(id=statement_id).first()
    if s is None:
        raise NotFound("结算单不存在", "no such settlement statement", field="id")
    return s


async def statements_by_ids(caller: Access, statement_ids: list[int]) -> list[SettlementStatement]:
    """Statements by id in community order (those of a run)."""
    return await readable(caller).filter(id__in=statement_ids).order_by("community_id")


async def lines_of(caller: Access, statement_ids: list[int]) -> list[SettlementLine]:
    """The lines of these statements the caller reads, by statement and position."""
    return await readable_lines(caller).filter(statement_id__in=statement_ids).order_by("statement_id", "position")


async def in_full(caller: Access, statement_ids: list[int]) -> set[int]:
    """Of these statements, those the caller reads in full (every line and the total)."""
    return await read_in_full(caller, statement_ids)


async def pool_communities(caller: Access, community_id: int | None = None) -> list[int]:
    """The communities whose pools the caller reads (or just ``community_id``, NOT_FOUND out of scope)."""
    qs = readable_communities(caller)
    if community_id is not None:
        qs = qs.filter(id=community_id)
    ids: list[int] = await qs.order_by("id").values_list("id", flat=True)  # type: ignore[assignment]
    if community_id is not None and not ids:
        raise NotFound("社区不存在", "no such community", field="communityId")
    return ids


async def companies_by_ids(caller: Access, company_ids: list[int]) -> list[PropertyCompany | None]:
    """Payee companies by id, in the order asked (None for one the caller does not read)."""
    found = {c.id: c for c in await readable_companies(caller).filter(id__in=company_ids)}
    return [found.get(i) for i in company_ids]


@dataclass
class PeriodSheet:
    """What a period's settlement export shows: the statements, their lines and the names they refer to."""

    statements: list[SettlementStatement]
    lines: dict[int, list[SettlementLine]] = field(default_factory=dict)
    communities: dict[int, Community] = field(default_factory=dict)
    compounds: dict[int, Compound] = field(default_factory=dict)
    companies: dict[int, PropertyCompany] = field(default_factory=dict)


async def period_sheet(caller: Access, period: str, statuses: list[str]) -> PeriodSheet:
    """A period's statements of these statuses, by community, in a few set-based queries."""
    bounds(period)
    found = await readable(caller).filter(period_key=period, status__in=statuses).order_by("community_id")
    if not found:
        raise NotFound(
            f"{period} 没有符合条件的结算单", f"no settlement statements for {period} with that status", field="period"
        )
    sheet = PeriodSheet(statements=found, lines=defaultdict(list))
    for line in await lines_of(caller, [s.id for s in found]):
        sheet.lines[line.statement_id].append(line)
    all_lines = [line for group in sheet.lines.values() for line in group]
    sheet.communities = {c.id: c for c in await Community.filter(id__in=[s.community_id for s in found])}
    sheet.compounds = {c.id: c for c in await Compound.filter(id__in=sorted({x.compound_id for x in all_lines}))}
    sheet.companies = {c.id: c for c in await PropertyCompany.filter(id__in=sorted({x.company_id for x in all_lines}))}
    return sheet


async def statements_with(
    caller: Access,
    *,
    period: str | None = None,
    community_id: int | None = None,
    status: str | None = None,
    window: Window,
    community: bool = False,
    lines: bool = False,
) -> Page[tuple[SettlementStatement, dict[str, Any]]]:
    """``statements`` with each statement's community and lines (as the caller reads them, by position) in the
    same statement."""
    qs = readable(caller)
    if period is not None:
        bounds(period)
        qs = qs.filter(period_key=period)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if status is not None:
        qs = qs.filter(status=status)
    links: dict[str, Link] = {}
    if community:
        links["community"] = Link(Community, "x.id = p.community_id", readable_areas(caller, "community"))
    if lines:
        links["lines"] = Link(
            SettlementLine, "x.statement_id = p.id", readable_lines(caller), many=True, order="x.position"
        )
    return await page_with(qs, STATEMENTS, window, links)


async def line_links(
    caller: Access, lines: list[SettlementLine], *, compounds: bool, companies: bool
) -> tuple[dict[int, Area], dict[int, PropertyCompany]]:
    """The compounds and payee companies these lines name that the caller reads, by id (one statement)."""
    wanted: dict[str, tuple[QuerySet[Any], list[int]]] = {}
    if compounds and lines:
        wanted["compounds"] = (readable_areas(caller, "compound"), [x.compound_id for x in lines])
    if companies and lines:
        wanted["companies"] = (readable_companies(caller), [x.company_id for x in lines])
    found = await rows_by_ids(wanted)
    return found.get("compounds", {}), found.get("companies", {})
