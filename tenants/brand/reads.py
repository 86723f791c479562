"""Reading brand projects: lists in scope, a project with its steps, and a year's money from the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tortoise import connections
from tortoise.functions import Count, Sum

from tenants import clock
from tenants.brand import access as rules
from tenants.brand import money
from tenants.brand.models import BrandProject, BrandProjectStep, ProjectStatus
from tenants.brand.money import SOURCE
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.ledger import accounts
from tenants.ledger import service as ledger
from tenants.paging import Page, Window, by_id
from tenants.permissions import require
from tenants.scope import current_tenant_id
from tenants.territory.access import Access

FIRST_YEAR, LAST_YEAR = 2000, 2100
# Approved and not yet accepted: their budgets are claims on what remains of the cap.
RUNNING = (ProjectStatus.APPROVED, ProjectStatus.EVALUATED)


def year_problem(year: int, field: str = "year") -> Problem | None:
    if FIRST_YEAR <= year <= LAST_YEAR:
        return None
    return Problem(
        field,
        "out_of_range",
        f"年度须在 {FIRST_YEAR} 到 {LAST_YEAR} 之间",
        f"{field} must be between {FIRST_YEAR} and {LAST_YEAR}",
    )


def check_year(year: int, field: str = "year") -> None:
    problem = year_problem(year, field)
    if problem is not None:
        raise InvalidInput.of([problem])


@dataclass(frozen=True)
class YearSummary:
    """A year's brand-project money. Cap, awarded, paid and remaining come from the ledger and the configuration
    (as an award on the summary's day would fund the cap); running budgets and counts from the projects."""

    year: int
    cap_fen: int  # the larger of what was funded and the cap configured on the summary's day (kept in the year)
    funded: bool  # something has been moved into the cap account (at the year's first award)
    awarded_fen: int
    paid_fen: int
    remaining_cap_fen: int
    running_budget_fen: int  # budgets of approved projects not yet accepted or failed
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def payable_fen(self) -> int:
        return self.awarded_fen - self.paid_fen

    @property
    def uncommitted_cap_fen(self) -> int:
        """What remains of the cap once every running project's budget were awarded (negative: over-committed)."""
        return self.remaining_cap_fen - self.running_budget_fen


async def _awarded_and_paid(year: int) -> tuple[int, int]:
    """Sums of the year's brand-project postings to payables and to paid accounts (reversals included)."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT split_part(p.account, ':', 1) AS kind, SUM(p.amount_fen)::bigint AS total"
        " FROM ledger_posting p JOIN ledger_journal j ON j.id = p.journal_id AND j.tenant_id = p.tenant_id"
        " WHERE p.tenant_id = $1 AND j.tenant_id = $1 AND j.source_kind = $3 AND j.period = $2"
        " AND split_part(p.account, ':', 1) IN ('brand_payable', 'brand_paid') GROUP BY 1",
        [current_tenant_id(), str(year), SOURCE],
    )
    totals = {r["kind"]: int(r["total"]) for r in rows}
    paid = totals.get("brand_paid", 0)
    return totals.get("brand_payable", 0) + paid, paid


async def standing(year: int, on: date | None = None) -> YearSummary:
    """The year's summary on ``on`` (tenant-local today by default), for the services (no access check). The cap
    is what an award on that day would find: the funded cap, topped up to the cap configured that day when it is
    higher (``money.fund_cap``'s rule), so remaining counts a raise not yet funded."""
    day = on or await clock.today()
    funded_fen = await money.funded(year)
    cap_fen = max(funded_fen, await money.configured_cap(year, day))
    held = await ledger.balances([accounts.brand_cap(year)])
    remaining = held[accounts.brand_cap(year)] + cap_fen - funded_fen
    awarded, paid = await _awarded_and_paid(year)
    rows = (
        await BrandProject.filter(year=year)
        .annotate(n=Count("id"), budget=Sum("budget_requested_fen"))
        .group_by("status")
        .values("status", "n", "budget")
    )
    counts = {str(ProjectStatus(r["status"]).value): int(r["n"]) for r in rows}
    running = sum(int(r["budget"] or 0) for r in rows if ProjectStatus(r["status"]) in RUNNING)
    return YearSummary(year, cap_fen, funded_fen > 0, awarded, paid, remaining, running, counts)


async def year_summary(*, access: Access, year: int, now: datetime | None = None) -> YearSummary:
    """A year's totals for the tenant administration and the housing department, as they stand ``now``."""
    require(access, "brand.read_totals")
    check_year(year)
    return await standing(year, await clock.today(now))


async def list_projects(
    *,
    access: Access,
    window: Window,
    year: int | None = None,
    community_id: int | None = None,
    status: ProjectStatus | None = None,
) -> Page[BrandProject]:
    """A window of the projects in the caller's scope, by id, filtered."""
    qs = rules.readable(access)
    if year is not None:
        qs = qs.filter(year=year)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if status is not None:
        qs = qs.filter(status=status)
    return await by_id(qs, window)


async def get_project(*, access: Access, project_id: int) -> BrandProject:
    project = await rules.readable(access).filter(id=project_id).first()
    if project is None:
        raise NotFound(f"品牌项目 {project_id} 不存在", f"brand project {project_id} does not exist", field="id")
    return project


async def steps_of(project_ids: list[int]) -> list[BrandProjectStep]:
    """The steps of several projects in one query, oldest first (for a batched timeline)."""
    return await BrandProjectStep.filter(project_id__in=project_ids).order_by("project_id", "at", "id")
