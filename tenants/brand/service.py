"""Brand projects 品牌项目: a community declares, the tenant approves or rejects, the street evaluates mid-year, the
tenant accepts (awarding an amount within the budget and the year's cap) or fails it at year end, then pays.

Each step checks the caller's role and scope, takes the project's row lock, writes its ``BrandProjectStep`` (once
per project and step) and an audit entry, and either completes whole or saves nothing. Bad input is reported
whole: every problem of a call at once (after the checks of role, scope, status and time of year). Money moves
through the ledger: an award moves from the year's cap to the community's payable, the cap being funded from the
tenant's brand fund with the configuration in force on the award's date (topped up when raised since, never
taken back when lowered: ``money.fund_cap``); a payment moves from payable to paid.

Times of year (tenant-local dates): declarations for year Y from 1 October of Y-1 through 31 March of Y; the
mid-year evaluation from 1 June of Y; the year-end acceptance from 1 December of Y.
"""

from __future__ import annotations

from datetime import date, datetime

from tenants import clock
from tenants.audit import service as audit
from tenants.brand import messages, money
from tenants.brand.access import visible_communities
from tenants.brand.errors import (
    AcceptanceNotOpen,
    BrandProjectsDisabled,
    DeclarationClosed,
    EvaluationNotOpen,
    IllegalTransition,
    yuan,
)
from tenants.brand.models import BrandProject, BrandProjectStep, ProjectStatus
from tenants.brand.reads import standing, year_problem
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, NotFound, Problem, text_problems
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.territory.access import Access, get_in_scope
from tenants.territory.models import Community

S = ProjectStatus
MAX_TITLE = 200
MAX_TEXT = 2000
MAX_REFERENCE = 128


def declaration_window(year: int) -> tuple[date, date]:
    """First and last day (inclusive, tenant-local) on which projects for ``year`` may be declared."""
    return date(year - 1, 10, 1), date(year, 3, 31)


def evaluation_opens(year: int) -> date:
    return date(year, 6, 1)


def acceptance_opens(year: int) -> date:
    return date(year, 12, 1)


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


_FIELD_ZH = {"note": "说明", "reason": "理由", "paymentReference": "支付凭证号", "aim": "项目目标", "title": "项目名称"}


def _text(field: str, value: str, problems: list[Problem], *, required: bool, limit: int = MAX_TEXT) -> str:
    """The text stripped; when it is missing or too long, its problem is added to ``problems``."""
    problems += text_problems(field, value, _FIELD_ZH.get(field, field), required=required, limit=limit)
    return value.strip()


def _refuse(problems: list[Problem]) -> None:
    """Every problem found, at once; nothing is saved."""
    if problems:
        raise InvalidInput.of(problems)


def _missing(field: str) -> Problem:
    return Problem(field, "required", f"请填写{_FIELD_ZH.get(field, field)}", f"{field} is required")


async def _for_update(access: Access, project_id: int) -> BrandProject:
    """The project under its row lock, if the caller sees it; otherwise NOT_FOUND (no existence leak)."""
    qs = BrandProject.filter(id=project_id)
    communities = await visible_communities(access)
    if communities is not None:
        qs = qs.filter(community_id__in=sorted(communities))
    project = await qs.select_for_update().first()
    if project is None:
        raise NotFound(f"品牌项目 {project_id} 不存在", f"brand project {project_id} does not exist", field="id")
    return project


def _expect(project: BrandProject, action: str, *statuses: ProjectStatus) -> None:
    if project.status not in statuses:
        raise IllegalTransition(action, project.status.value)


async def _record(
    project: BrandProject,
    step: str,
    actor: str,
    at: datetime,
    *,
    note: str = "",
    passed: bool | None = None,
    amount_fen: int | None = None,
    reference: str | None = None,
    details: dict | None = None,
) -> None:
    """The step's own record, its audit entry, and the project's new status saved."""
    project.updated_at = at
    await project.save()
    await BrandProjectStep.create(
        project_id=project.id,
        step=step,
        actor=actor,
        at=at,
        note=note,
        passed=passed,
        amount_fen=amount_fen,
        reference=reference,
    )
    await audit.record(
        actor=actor,
        action=f"brand.{step}",
        target_type="brand_project",
        target_id=project.id,
        details={"status": project.status.value, "amountFen": amount_fen, **(details or {})},
    )


async def declare(
    *,
    access: Access,
    actor: str,
    community_id: int,
    year: int,
    title: str,
    aim: str,
    budget_requested_fen: int,
    now: datetime | None = None,
) -> BrandProject:
    """A community declares a project for ``year`` within the declaration window; bad input saves nothing."""
    require(access, "brand.declare")
    at = _now(now)
    problems: list[Problem] = []
    if (bad_year := year_problem(year)) is not None:
        problems.append(bad_year)
    title = _text("title", title, problems, required=True, limit=MAX_TITLE)
    aim = _text("aim", aim, problems, required=True)
    if budget_requested_fen <= 0:
        problems.append(
            Problem("budgetRequestedFen", "not_positive", "申请预算须大于 0", "budgetRequestedFen must be above 0")
        )
    async with savepoint():
        community = await get_in_scope("community", community_id, access)
        require(access, "brand.declare", ("community", community_id), field="communityId")
        day = await clock.today(at)
        config = (await effective_config(day)).document.subsidies.brand_projects
        if not config.enabled:
            raise BrandProjectsDisabled()
        opens, closes = declaration_window(year)
        if bad_year is None and not opens <= day <= closes:
            raise DeclarationClosed(year, opens, closes)
        if not community.is_active:
            problems.insert(0, Problem("communityId", "inactive", "该社区已撤销", "this community is no longer active"))
        cap = config.per_project_cap_fen
        if budget_requested_fen > 0 and budget_requested_fen > cap:
            problems.append(
                Problem(
                    "budgetRequestedFen",
                    "above_cap",
                    f"申请预算不能超过单个项目上限 {cap} 分（{yuan(cap)} 元）",
                    f"budgetRequestedFen must be at most the per-project cap of {cap} fen ({yuan(cap)} CNY)",
                )
            )
        _refuse(problems)
        project = await BrandProject.create(
            community_id=community_id,
            year=year,
            title=title,
            aim=aim,
            budget_requested_fen=budget_requested_fen,
            status=S.DECLARED,
            declared_by=actor,
            declared_at=at,
            updated_at=at,
        )
        await _record(project, "declare", actor, at, amount_fen=budget_requested_fen, details={"year": year})
        return project


async def approve(
    *, access: Access, actor: str, project_id: int, note: str = "", now: datetime | None = None
) -> BrandProject:
    """The tenant approves a declared project. Approving is allowed beyond the year's cap (the cap binds awards,
    not budgets); the record keeps what remained of the cap and how much of it running budgets already claim."""
    require(access, "brand.approve")
    at = _now(now)
    problems: list[Problem] = []
    note = _text("note", note, problems, required=False)
    async with savepoint():
        project = await _for_update(access, project_id)
        _expect(project, "approve", S.DECLARED)
        _refuse(problems)
        before = await standing(project.year, await clock.today(at))
        budget = project.budget_requested_fen
        project.status = S.APPROVED
        await _record(
            project,
            "approve",
            actor,
            at,
            note=note,
            amount_fen=budget,
            details={
                "remainingCapFen": before.remaining_cap_fen,
                "runningBudgetFen": before.running_budget_fen + budget,
                "uncommittedCapFen": before.uncommitted_cap_fen - budget,
            },
        )
        await messages.tell_community(project, "approve", at)
        return project


async def reject(
    *, access: Access, actor: str, project_id: int, reason: str, now: datetime | None = None
) -> BrandProject:
    require(access, "brand.reject")
    at = _now(now)
    problems: list[Problem] = []
    reason = _text("reason", reason, problems, required=True)
    async with savepoint():
        project = await _for_update(access, project_id)
        _expect(project, "reject", S.DECLARED)
        _refuse(problems)
        project.status = S.REJECTED
        await _record(project, "reject", actor, at, note=reason)
        await messages.tell_community(project, "reject", at, reason)
        return project


async def evaluate(
    *, access: Access, actor: str, project_id: int, passed: bool, note: str, now: datetime | None = None
) -> BrandProject:
    """Mid-year evaluation 中期评估 by the community's street (or the tenant): on track (passed) or concerns."""
    require(access, "brand.evaluate")
    at = _now(now)
    problems: list[Problem] = []
    note = _text("note", note, problems, required=True)
    async with savepoint():
        project = await _for_update(access, project_id)
        street_id = await Community.filter(id=project.community_id).values_list("street_id", flat=True)
        require(access, "brand.evaluate", ("street", street_id[0] if street_id else None), field="id")  # type: ignore[arg-type]
        _expect(project, "evaluate", S.APPROVED)
        if await clock.today(at) < evaluation_opens(project.year):
            raise EvaluationNotOpen(project.year, evaluation_opens(project.year))
        _refuse(problems)
        project.status = S.EVALUATED
        await _record(project, "evaluate", actor, at, note=note, passed=passed)
        return project


async def accept(
    *,
    access: Access,
    actor: str,
    project_id: int,
    passed: bool,
    amount_awarded_fen: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> BrandProject:
    """Year-end acceptance 年终验收: passed awards an amount (> 0, within the budget and what remains of the year's
    cap, posted to the ledger); failed (with its reason in ``note``) awards nothing."""
    require(access, "brand.accept")
    at = _now(now)
    problems: list[Problem] = []
    note = _text("note", note, problems, required=not passed)
    if passed and amount_awarded_fen is None:
        problems.append(_missing("amountAwardedFen"))
    elif passed and amount_awarded_fen is not None and amount_awarded_fen <= 0:
        problems.append(
            Problem("amountAwardedFen", "not_positive", "奖补金额须大于 0", "amountAwardedFen must be above 0")
        )
    elif not passed and amount_awarded_fen is not None:
        problems.append(
            Problem("amountAwardedFen", "not_allowed", "验收未通过时不奖补", "nothing is awarded when acceptance fails")
        )
    async with savepoint():
        project = await _for_update(access, project_id)
        _expect(project, "accept", S.EVALUATED)
        day = await clock.today(at)
        if day < acceptance_opens(project.year):
            raise AcceptanceNotOpen(project.year, acceptance_opens(project.year))
        budget = project.budget_requested_fen
        if passed and amount_awarded_fen is not None and amount_awarded_fen > budget:
            problems.append(
                Problem(
                    "amountAwardedFen",
                    "above_budget",
                    f"奖补金额不能超过申请预算 {budget} 分（{yuan(budget)} 元）",
                    f"amountAwardedFen must be at most the budget requested, {budget} fen ({yuan(budget)} CNY)",
                )
            )
        _refuse(problems)
        if not passed:
            project.status = S.FAILED
            await _record(project, "fail", actor, at, note=note, passed=False)
            await messages.tell_community(project, "fail", at, note)
            return project
        assert amount_awarded_fen is not None
        remaining = await money.award(project, amount_awarded_fen, on=day, actor=actor, at=at)
        project.status, project.amount_awarded_fen = S.ACCEPTED, amount_awarded_fen
        await _record(
            project,
            "accept",
            actor,
            at,
            note=note,
            passed=True,
            amount_fen=amount_awarded_fen,
            details={"remainingCapFen": remaining},
        )
        await messages.tell_community(project, "accept", at)
        return project


async def pay(
    *,
    access: Access,
    actor: str,
    project_id: int,
    payment_reference: str,
    note: str = "",
    now: datetime | None = None,
) -> BrandProject:
    """Pay the award: from the community's payable to its paid account, with the payment's reference."""
    require(access, "brand.pay")
    at = _now(now)
    problems: list[Problem] = []
    reference = _text("paymentReference", payment_reference, problems, required=True, limit=MAX_REFERENCE)
    note = _text("note", note, problems, required=False)
    async with savepoint():
        project = await _for_update(access, project_id)
        _expect(project, "pay", S.ACCEPTED)
        _refuse(problems)
        amount = project.amount_awarded_fen or 0
        await money.pay(project, amount, reference, actor=actor, at=at)
        project.status, project.payment_reference = S.PAID, reference
        await _record(project, "pay", actor, at, note=note, amount_fen=amount, reference=reference)
        await messages.tell_community(project, "pay", at)
        return project
