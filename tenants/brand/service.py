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
from tenants.brand import access as rules
from tenants.brand import messages, money
from tenants.brand.errors import (
    BRAND_PROJECT,
    AcceptanceNotOpen,
    BrandProjectsDisabled,
    DeclarationClosed,
    EvaluationNotOpen,
    yuan,
)
from tenants.brand.models import BrandProject, BrandProjectStep, ProjectStatus
from tenants.brand.reads import standing, year_problem
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, NotFound, Problem, text_problems
from tenants.idempotency import idempotent
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.territory.access import Access, get_in_scope
from tenants.territory.models import Community
from tenants.workflow import Transition, transition

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
    project = await rules.readable(access).filter(id=project_id).select_for_update().first()
    if project is None:
        raise NotFound(f"品牌项目 {project_id} 不存在", f"brand project {project_id} does not exist", field="id")
    return project


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


@idempotent("declareBrandProject", BrandProject)
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


async def _in_scope(access: Access, permission: str, project: BrandProject) -> None:
    """Beyond the caller's role (checked before the lookup) and the projects they see: the project's own street
    evaluates it."""
    if permission != "brand.evaluate":
        return
    street_id = await Community.filter(id=project.community_id).values_list("street_id", flat=True)
    require(access, permission, ("street", street_id[0] if street_id else None), field="id")  # type: ignore[arg-type]


async def _transition(
    name: str, *, access: Access, actor: str, project_id: int, now: datetime | None, **effect_args: object
) -> BrandProject:
    """Check the role behind the step's permission, lock the project the caller sees and run ``TRANSITIONS[name]``
    on it."""
    step = TRANSITIONS[name]
    require(access, step.permission)
    at = _now(now)
    async with savepoint():
        project = await _for_update(access, project_id)

        async def allow(permission: str, p: BrandProject) -> None:
            await _in_scope(access, permission, p)

        await transition(
            step, BRAND_PROJECT, project, state=project.status, allow=allow, actor=actor, at=at,
            **effect_args,
        )
        return project


async def _approve(project: BrandProject, *, actor: str, at: datetime, note: str, problems: list[Problem]) -> None:
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


async def _reject(project: BrandProject, *, actor: str, at: datetime, reason: str, problems: list[Problem]) -> None:
    _refuse(problems)
    project.status = S.REJECTED
    await _record(project, "reject", actor, at, note=reason)
    await messages.tell_community(project, "reject", at, reason)


async def _evaluate(
    project: BrandProject, *, actor: str, at: datetime, passed: bool, note: str, problems: list[Problem]
) -> None:
    if await clock.today(at) < evaluation_opens(project.year):
        raise EvaluationNotOpen(project.year, evaluation_opens(project.year))
    _refuse(problems)
    project.status = S.EVALUATED
    await _record(project, "evaluate", actor, at, note=note, passed=passed)


async def _accept(
    project: BrandProject,
    *,
    actor: str,
    at: datetime,
    passed: bool,
    amount_awarded_fen: int | None,
    note: str,
    problems: list[Problem],
) -> None:
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
        return
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


async def _pay(
    project: BrandProject, *, actor: str, at: datetime, reference: str, note: str, problems: list[Problem]
) -> None:
    _refuse(problems)
    amount = project.amount_awarded_fen or 0
    await money.pay(project, amount, reference, actor=actor, at=at)
    project.status, project.payment_reference = S.PAID, reference
    await _record(project, "pay", actor, at, note=note, amount_fen=amount, reference=reference)
    await messages.tell_community(project, "pay", at)


# The lifecycle: action -> from-statuses, permission, effect. The role behind each permission is checked before
# the project is looked up (``tenants.permissions``), the scope after (``_in_scope``), then the status.
TRANSITIONS: dict[str, Transition[BrandProject]] = {
    "approve": Transition("approve", {S.DECLARED}, "brand.approve", _approve),
    "reject": Transition("reject", {S.DECLARED}, "brand.reject", _reject),
    "evaluate": Transition("evaluate", {S.APPROVED}, "brand.evaluate", _evaluate),
    "accept": Transition("accept", {S.EVALUATED}, "brand.accept", _accept),
    "pay": Transition("pay", {S.ACCEPTED}, "brand.pay", _pay),
}


async def approve(
    *, access: Access, actor: str, project_id: int, note: str = "", now: datetime | None = None
) -> BrandProject:
    """The tenant approves a declared project. Approving is allowed beyond the year's cap (the cap binds awards,
    not budgets); the record keeps what remained of the cap and how much of it running budgets already claim."""
    problems: list[Problem] = []
    note = _text("note", note, problems, required=False)
    return await _transition(
        "approve", access=access, actor=actor, project_id=project_id, now=now, note=note, problems=problems
    )


async def reject(
    *, access: Access, actor: str, project_id: int, reason: str, now: datetime | None = None
) -> BrandProject:
    problems: list[Problem] = []
    reason = _text("reason", reason, problems, required=True)
    return await _transition(
        "reject", access=access, actor=actor, project_id=project_id, now=now, reason=reason, problems=problems
    )


async def evaluate(
    *, access: Access, actor: str, project_id: int, passed: bool, note: str, now: datetime | None = None
) -> BrandProject:
    """Mid-year evaluation 中期评估 by the community's street (or the tenant): on track (passed) or concerns."""
    problems: list[Problem] = []
    note = _text("note", note, problems, required=True)
    return await _transition(
        "evaluate", access=access, actor=actor, project_id=project_id, now=now, passed=passed, note=note,
        problems=problems,
    )


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
    return await _transition(
        "accept", access=access, actor=actor, project_id=project_id, now=now, passed=passed,
        amount_awarded_fen=amount_awarded_fen, note=note, problems=problems,
    )


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
    problems: list[Problem] = []
    reference = _text("paymentReference", payment_reference, problems, required=True, limit=MAX_REFERENCE)
    note = _text("note", note, problems, required=False)
    return await _transition(
        "pay", access=access, actor=actor, project_id=project_id, now=now, reference=reference, note=note,
        problems=problems,
    )
