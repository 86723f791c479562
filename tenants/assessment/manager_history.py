"""Who manages each contract when (撤换调整): naming a manager, correcting a mistaken naming, ending one.

Managers' ratings are derived from this history on read (``managers.py``), so a change to a day inside a period
whose ratings are published would change managers' published ratings. The guard: a change on or before the last
day of the latest published period is refused for everyone, unless the caller asks for it explicitly
(``override_published``) AND is a tenant administrator AND gives a reason (audited with the period).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from tenants import clock, periods
from tenants.assessment.models import RatingSnapshot, SnapshotStatus
from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, NotFound, Problem
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.scope import scoped_transaction
from tenants.territory.access import Access, readable_contracts, readable_managers
from tenants.territory.managers import reason_problems
from tenants.territory.parties import ContractManager, PropertyContract


async def published_through() -> tuple[str, date] | None:
    """The latest published rating period (its key and last day), by last day; None before any publication."""
    keys: list[str] = await RatingSnapshot.filter(status=SnapshotStatus.PUBLISHED).distinct().values_list(
        "period_key", flat=True
    )  # type: ignore[assignment]
    ends = [(periods.bounds(k)[1], k) for k in keys]
    if not ends:
        return None
    end, key = max(ends)
    return key, end


async def _guard(
    access: Access, day: date, reason: str, field: str, *, override: bool
) -> dict[str, Any] | None:
    """Refuse a change on ``day`` inside a published period unless ``override`` is asked for by a tenant
    administrator giving a reason (an ordinary reason of a replacement is no override); the period overridden (for
    the audit), or None. ``field``: the input's own name for the day (``from``, ``endsOn``)."""
    latest = await published_through()
    if latest is None or day > latest[1]:
        return None
    key, end = latest
    if override and access.whole_tenant and reason.strip():
        return {"period": key, "periodEnd": str(end)}
    raise InvalidInput(
        f"{key} 期评级已发布（至 {end}），该日期的物业经理记录只能由租户管理员选择 overridePublished 并填写原因后修改",
        f"ratings of {key} (to {end}) are published: changing managers on or before that day takes "
        f"overridePublished, a tenant administrator and a reason",
        field=field,
        problems=[Problem(field, "published_period", f"{key} 期评级已发布（至 {end}）",
                          f"the ratings of {key} (to {end}) are published")],
        details={"period": key, "periodEnd": str(end)},
    )


async def _contract(access: Access, contract_id: int) -> PropertyContract:
    contract = await readable_contracts(access).filter(id=contract_id).first()
    if contract is None:
        raise NotFound(f"物业合同 {contract_id} 不存在", f"contract {contract_id} does not exist", field="contractId")
    return contract


async def assign_contract_manager(
    *, access: Access, actor: str, contract_id: int, manager_id: int, starts_on: date, reason: str,
    override_published: bool = False,
) -> ContractManager:
    """Name ``manager_id`` on the contract from ``starts_on``. The manager named before is replaced: their row ends
    the day before, linked to the new row as its successor, with ``reason``. From the current row's own start day,
    the naming is a correction: that row names the new manager in place (a reason is required; the audit log keeps
    who was named before). Assignments of one contract queue on a lock; a start before the current row's is
    refused, and so is one inside a published period unless ``override_published`` (``_guard``)."""
    require(access, "parties.write_manager")
    problems = reason_problems(reason, required=False)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction() as conn:
        contract = await _contract(access, contract_id)
        manager = await readable_managers(access).filter(id=manager_id).first()
        if manager is None:
            raise NotFound(f"物业经理 {manager_id} 不存在", f"manager {manager_id} does not exist", field="managerId")
        if manager.company_id != contract.company_id:
            raise InvalidInput.of([Problem("managerId", "other_company", "该物业经理不属于合同的物业企业",
                                           "the manager works for another company than the contract's")])
        if not manager.is_active:
            raise InvalidInput.of([Problem("managerId", "inactive", "该物业经理已停用",
                                           "the manager is no longer active")])
        if not contract.starts_on <= starts_on <= contract.ends_on:
            raise InvalidInput.of([Problem("from", "outside_contract", "日期不在合同期内",
                                           "from is outside the contract's dates")])
        await advisory_lock("contract_manager", str(contract_id), conn=conn)
        current = await ContractManager.filter(contract_id=contract_id, ends_on=None).first()
        if current is not None and current.manager_id == manager_id:
            raise Conflict("该物业经理已在任", "the manager is already named on this contract", field="managerId")
        if current is not None and starts_on < current.starts_on:
            raise Conflict(f"现任物业经理自 {current.starts_on} 起在任，撤换日期须在其后",
                           f"the current manager serves from {current.starts_on}; a replacement starts after",
                           field="from")
        if current is None and await ContractManager.exists(contract_id=contract_id, ends_on__gte=starts_on):
            raise Conflict("该日期已有物业经理记录", "a manager is on record for that day", field="from")
        overridden = await _guard(access, starts_on, reason, "from", override=override_published)
        if current is not None and starts_on == current.starts_on:
            return await _correct(current, manager_id=manager_id, reason=reason, actor=actor, overridden=overridden)
        if current is not None:  # ended first: one open row per contract (a partial unique index)
            current.ends_on = starts_on - timedelta(days=1)
            await current.save(update_fields=["ends_on"])
        row = await ContractManager.create(
            contract_id=contract_id, manager_id=manager_id, starts_on=starts_on, reason=reason.strip(),
            assigned_by=actor, assigned_at=clock.now(),
        )
        if current is not None:
            current.successor_id = row.id
            await current.save(update_fields=["successor_id"])
        await audit.record(
            actor=actor, action="contract.manager", target_type="contract", target_id=contract_id,
            details={"managerId": manager_id, "from": str(starts_on), "replaced": current and current.manager_id,
                     "publishedPeriod": overridden},
        )
        return row


async def _correct(
    row: ContractManager, *, manager_id: int, reason: str, actor: str, overridden: dict[str, Any] | None
) -> ContractManager:
    """The current row named the wrong manager: it names ``manager_id`` instead, from the same day. The row keeps
    its id (its predecessor's successor link stays true); the audit log keeps the manager it named before."""
    if not reason.strip():
        raise InvalidInput.of([Problem("reason", "required", "更正须填写原因", "a correction needs a reason")])
    before = row.manager_id
    row.manager_id, row.reason, row.assigned_by, row.assigned_at = manager_id, reason.strip(), actor, clock.now()
    await row.save(update_fields=["manager_id", "reason", "assigned_by", "assigned_at"])
    await audit.record(
        actor=actor, action="contract.manager.correct", target_type="contract", target_id=row.contract_id,
        details={"contractManagerId": row.id, "from": str(row.starts_on), "managerId": manager_id,
                 "correctedManagerId": before, "reason": reason.strip(), "publishedPeriod": overridden},
    )
    return row


async def end_contract_manager(
    *, access: Access, actor: str, contract_id: int, ends_on: date, reason: str, override_published: bool = False
) -> ContractManager:
    """End the current manager's row on ``ends_on`` without a successor (a manager leaves and no one is named yet):
    their days stop accruing. Guarded as a naming is."""
    require(access, "parties.write_manager")
    problems = reason_problems(reason, required=True)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction() as conn:
        contract = await _contract(access, contract_id)
        await advisory_lock("contract_manager", str(contract_id), conn=conn)
        current = await ContractManager.filter(contract_id=contract_id, ends_on=None).first()
        if current is None:
            raise Conflict("该合同没有在任的物业经理", "no manager is named on this contract", field="contractId")
        if not current.starts_on <= ends_on <= contract.ends_on:
            raise InvalidInput.of([Problem("endsOn", "out_of_range", "结束日期须在现任经理开始之日与合同结束之间",
                                           "endsOn must fall between the current manager's start and the "
                                           "contract's end")])
        overridden = await _guard(access, ends_on, reason, "endsOn", override=override_published)
        current.ends_on, current.end_reason = ends_on, reason.strip()
        await current.save(update_fields=["ends_on", "end_reason"])
        await audit.record(
            actor=actor, action="contract.manager.end", target_type="contract", target_id=contract_id,
            details={"contractManagerId": current.id, "managerId": current.manager_id, "endsOn": str(ends_on),
                     "publishedPeriod": overridden},
        )
        return current
