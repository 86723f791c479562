"""Interviews 约谈 with firms, scoped to who holds them: the administration anywhere, a street its own firms.

A firm of a street is a firm with a contract in force on a compound of that street on some day of the period the
interview is about (a contract that ended on 31 December still makes its firm answerable for that quarter).
"""

from __future__ import annotations

from datetime import date

from tortoise.expressions import Subquery

from tenants import clock
from tenants.assessment.access import readable_interviews
from tenants.assessment.models import Interview
from tenants.audit import service as audit
from tenants.errors import Forbidden, InvalidInput, NotFound, Problem
from tenants.idempotency import idempotent
from tenants.periods import bounds, period_problems
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyCompany, PropertyContract


async def _street_contracts(access: Access) -> list[tuple[int, date, date]] | None:
    """(company, starts_on, ends_on) of every contract on a compound of the caller's streets (street officer
    posts); None when the caller reads the whole tenant."""
    if access.reads_whole_tenant:
        return None
    streets = sorted(access.staff_nodes.get("street", frozenset()))
    if not streets:
        return []
    compounds = Subquery(Compound.filter(street_id__in=streets).values("id"))
    rows = await PropertyContract.filter(compound_id__in=compounds).values_list("company_id", "starts_on", "ends_on")
    return [(int(c), s, e) for c, s, e in rows]  # type: ignore[misc]


def _serves(contracts: list[tuple[int, date, date]], company_id: int, period: tuple[date, date]) -> bool:
    return any(c == company_id and s <= period[1] and e >= period[0] for c, s, e in contracts)


@idempotent("recordInterview", Interview)
async def record_interview(
    *,
    access: Access,
    actor: str,
    company_id: int,
    period_key: str,
    held_on: date,
    attendees: list[str],
    outcome: str,
    follow_up: str = "",
    follow_up_due: date | None = None,
) -> Interview:
    """Record a 约谈: the administration with any firm, a street officer with a firm of their street."""
    require(access, "assessment.record_interview")
    problems = list(period_problems(period_key, "period"))
    if not outcome.strip() or len(outcome) > 2000:
        problems.append(Problem("outcome", "format", "请填写约谈结果（不超过 2000 字）", "outcome: 1..2000 characters"))
    if len(follow_up) > 2000:
        problems.append(Problem("followUp", "too_long", "整改要求不超过 2000 字", "followUp: at most 2000 characters"))
    if not attendees or any(not a.strip() or len(a) > 100 for a in attendees) or len(attendees) > 50:
        problems.append(Problem("attendees", "format", "请列出参会人员", "list 1..50 attendees"))
    if follow_up_due is not None and follow_up_due < held_on:
        problems.append(Problem("followUpDue", "before", "整改期限早于约谈日期", "followUpDue is before heldOn"))
    if problems:
        raise InvalidInput.of(problems)
    period = bounds(period_key, "period")
    async with savepoint():
        if not await PropertyCompany.exists(id=company_id):
            raise NotFound(f"物业企业 {company_id} 不存在", f"company {company_id} does not exist", field="companyId")
        contracts = await _street_contracts(access)
        if contracts is not None and not _serves(contracts, company_id, period):
            raise Forbidden(
                f"物业企业 {company_id} 在 {period_key} 未服务您街道的小区",
                f"company {company_id} served no compound of your street in {period_key}",
                field="companyId",
            )
        interview = await Interview.create(
            company_id=company_id,
            period_key=period_key,
            held_on=held_on,
            attendees=[a.strip() for a in attendees],
            outcome=outcome.strip(),
            follow_up=follow_up.strip(),
            follow_up_due=follow_up_due,
            recorded_by=actor,
            recorded_at=clock.now(),
        )
        await audit.record(
            actor=actor,
            action="interview.record",
            target_type="interview",
            target_id=interview.id,
            details={"companyId": company_id, "period": period_key},
        )
        return interview


async def interviews(*, access: Access, company_id: int | None, period_key: str | None) -> list[Interview]:
    """The interviews the caller reads: all for the administration, a firm its own, a street its firms'."""
    require(access, "assessment.read_interviews")
    if period_key is not None:
        bounds(period_key, "period")  # a malformed period is refused, not matched against nothing
    qs = readable_interviews(access)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    if period_key is not None:
        qs = qs.filter(period_key=period_key)
    return await qs.order_by("-held_on", "-id")
