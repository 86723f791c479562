"""Property managers 物业经理 and who manages each contract when (撤换调整: replaced with a date, reason, successor)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from tenants import clock
from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, NotFound, Problem, text_problems
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.scope import scoped_transaction
from tenants.territory.access import Access, readable_contract_managers, readable_contracts, readable_managers
from tenants.territory.parties import ContractManager, PropertyCompany, PropertyManager

# Bidi controls (embeddings, overrides, isolates, marks) make a name display as something it is not.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
PHONE = re.compile(r"\+?[0-9](?:[0-9 -]{0,30}[0-9])?")


def _text(field: str, value: str, label_zh: str, *, required: bool, limit: int) -> list[Problem]:
    problems = text_problems(field, value, label_zh, required=required, limit=limit)
    if BIDI.search(value):
        problems.append(Problem(field, "bidi", f"{label_zh}含有改变文字方向的控制字符",
                                f"{field} contains a bidirectional control character"))
    return problems


def _phone(value: str) -> list[Problem]:
    value = value.strip()
    if not value or (PHONE.fullmatch(value) and 5 <= sum(c.isdigit() for c in value) <= 20):
        return []
    return [Problem("phone", "phone", "联系电话须为 5-20 位数字，可含空格、连字符和开头的 +",
                    "phone must be 5-20 digits, with spaces, hyphens and a leading + allowed")]


async def create_manager(*, access: Access, actor: str, company_id: int, name: str, phone: str = "") -> PropertyManager:
    """Put a firm's property manager on file."""
    require(access, "parties.write_manager")
    problems = _text("name", name, "姓名", required=True, limit=100) + _phone(phone)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if not await PropertyCompany.exists(id=company_id):
            raise NotFound(f"物业企业 {company_id} 不存在", f"company {company_id} does not exist", field="companyId")
        manager = await PropertyManager.create(company_id=company_id, name=name.strip(), phone=phone.strip())
        await audit.record(actor=actor, action="manager.create", target_type="property_manager",
                           target_id=manager.id, details={"companyId": company_id})
        return manager


async def assign_contract_manager(
    *, access: Access, actor: str, contract_id: int, manager_id: int, starts_on: date, reason: str
) -> ContractManager:
    """Name ``manager_id`` on the contract from ``starts_on``. The manager named before is replaced: their row ends
    the day before, linked to the new row as its successor, with ``reason``. Assignments of one contract queue on a
    lock; history is never rewritten (a start on or before the current manager's start is refused)."""
    require(access, "parties.write_manager")
    problems = _text("reason", reason, "原因", required=False, limit=500)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction() as conn:
        contract = await readable_contracts(access).filter(id=contract_id).first()
        if contract is None:
            raise NotFound(f"物业合同 {contract_id} 不存在", f"contract {contract_id} does not exist",
                           field="contractId")
        manager = await readable_managers(access).filter(id=manager_id).first()
        if manager is None:
            raise NotFound(f"物业经理 {manager_id} 不存在", f"manager {manager_id} does not exist", field="managerId")
        if manager.company_id != contract.company_id:
            raise InvalidInput.of([Problem("managerId", "other_company", "该物业经理不属于合同的物业企业",
                                           "the manager works for another company than the contract's")])
        if not contract.starts_on <= starts_on <= contract.ends_on:
            raise InvalidInput.of([Problem("from", "outside_contract", "日期不在合同期内",
                                           "from is outside the contract's dates")])
        await advisory_lock("contract_manager", str(contract_id), conn=conn)
        current = await ContractManager.filter(contract_id=contract_id, ends_on=None).first()
        if current is not None and current.manager_id == manager_id:
            raise Conflict("该物业经理已在任", "the manager is already named on this contract", field="managerId")
        if current is not None and starts_on <= current.starts_on:
            raise Conflict(f"现任物业经理自 {current.starts_on} 起在任，撤换日期须在其后",
                           f"the current manager serves from {current.starts_on}; a replacement starts after",
                           field="from")
        if current is None and await ContractManager.exists(contract_id=contract_id, ends_on__gte=starts_on):
            raise Conflict("该日期已有物业经理记录", "a manager is on record for that day", field="from")
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
            details={"managerId": manager_id, "from": str(starts_on), "replaced": current and current.manager_id},
        )
        return row


async def contract_managers(*, access: Access, contract_id: int) -> list[ContractManager]:
    """The contract's managers, the first named first (NOT_FOUND for a contract the caller does not read)."""
    if not await readable_contracts(access).filter(id=contract_id).exists():
        raise NotFound(f"物业合同 {contract_id} 不存在", f"contract {contract_id} does not exist", field="contractId")
    return await readable_contract_managers(access).filter(contract_id=contract_id).order_by("starts_on")


async def list_managers(*, access: Access, company_id: int | None = None) -> list[PropertyManager]:
    """The managers the caller reads, by id (a firm: its own)."""
    qs = readable_managers(access)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    return await qs.order_by("id").limit(2000)
