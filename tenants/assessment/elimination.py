"""Decisions on yearly elimination 末位淘汰 candidates: kept, warned or replaced (a manager's replacement links to
the contract-manager change that replaced them)."""

from __future__ import annotations

from tenants import clock
from tenants.assessment.manager_models import EliminationDecision, EliminationOutcome, EliminationTarget
from tenants.assessment.reports import elimination_candidates
from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, NotFound, Problem, text_problems
from tenants.locks import advisory_lock
from tenants.periods import check_year
from tenants.permissions import require
from tenants.scope import scoped_transaction
from tenants.territory.access import Access
from tenants.territory.managers import BIDI
from tenants.territory.parties import ContractManager


async def decide(
    *,
    access: Access,
    actor: str,
    year: int,
    target: EliminationTarget,
    target_id: int,
    outcome: EliminationOutcome,
    reason: str,
    contract_manager_id: int | None = None,
) -> EliminationDecision:
    """Record what became of one of the year's candidates (one decision each: a second is a CONFLICT)."""
    require(access, "assessment.decide_elimination")
    check_year(year, "year")
    problems = text_problems("reason", reason, "原因", required=True, limit=500)
    if BIDI.search(reason):
        problems.append(Problem("reason", "bidi", "原因含有改变文字方向的控制字符",
                                "reason contains a bidirectional control character"))
    if outcome == EliminationOutcome.REPLACED and target == EliminationTarget.MANAGER and contract_manager_id is None:
        problems.append(Problem("contractManagerId", "required", "撤换须关联物业经理的撤换记录",
                                "a replaced manager links the contract-manager change that replaced them"))
    if contract_manager_id is not None and outcome != EliminationOutcome.REPLACED:
        problems.append(Problem("contractManagerId", "not_replaced", "仅撤换可关联撤换记录",
                                "only a replacement links a contract-manager change"))
    if problems:
        raise InvalidInput.of(problems)
    candidates = await elimination_candidates(access=access, year=year)
    named = {c.manager_id if target == EliminationTarget.MANAGER else c.company_id for c in candidates}
    if target_id not in named or (candidates and (candidates[0].manager_id is None) != (target == "firm")):
        raise NotFound(f"{year} 年没有该淘汰候选", f"no such elimination candidate in {year}", field="targetId")
    async with scoped_transaction() as conn:
        await advisory_lock("elimination_decision", year, target.value, target_id, conn=conn)
        if contract_manager_id is not None:
            change = await ContractManager.filter(id=contract_manager_id).first()
            if change is None or change.manager_id != target_id or change.successor_id is None:
                raise NotFound("没有该物业经理的撤换记录", "no replacement of this manager by that id",
                               field="contractManagerId")
        if await EliminationDecision.exists(year=year, target_kind=target, target_id=target_id):
            raise Conflict("该候选已有处理结果", "this candidate already has a decision", field="targetId")
        decision = await EliminationDecision.create(
            year=year, target_kind=target, target_id=target_id, outcome=outcome, reason=reason.strip(),
            contract_manager_id=contract_manager_id, decided_by=actor, decided_at=clock.now(),
        )
        await audit.record(
            actor=actor, action="elimination.decide", target_type=f"elimination_{target.value}", target_id=target_id,
            details={"year": year, "outcome": outcome.value, "contractManagerId": contract_manager_id},
        )
        return decision


async def decisions(*, access: Access, year: int) -> list[EliminationDecision]:
    """The year's decisions, in the order they were made."""
    require(access, "assessment.read_drafts")
    check_year(year, "year")
    return await EliminationDecision.filter(year=year).order_by("id")
