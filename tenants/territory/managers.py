"""Property managers 物业经理 on file, and reading who managed each contract when (the history's changes:
``tenants/assessment/manager_history.py``, which guards published rating periods)."""

from __future__ import annotations

import re

from tenants.audit import service as audit
from tenants.errors import InvalidInput, NotFound, Problem, text_problems
from tenants.idempotency import idempotent
from tenants.paging import BY_ID, Page, Window, page, where
from tenants.permissions import ADMINISTRATION, require
from tenants.scope import scoped_transaction
from tenants.territory.access import Access, readable_contract_managers, readable_contracts, readable_managers
from tenants.territory.parties import ContractManager, PropertyCompany, PropertyManager

# Bidi controls (embeddings, overrides, isolates, marks) make a name display as something it is not.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
PHONE = re.compile(r"\+?[0-9](?:[0-9 -]{0,30}[0-9])?")
PHONE_MAX = 32  # the column's length


def _text(field: str, value: str, label_zh: str, *, required: bool, limit: int) -> list[Problem]:
    problems = text_problems(field, value, label_zh, required=required, limit=limit)
    if BIDI.search(value):
        problems.append(Problem(field, "bidi", f"{label_zh}含有改变文字方向的控制字符",
                                f"{field} contains a bidirectional control character"))
    return problems


def reason_problems(reason: str, *, required: bool) -> list[Problem]:
    """A reason for a change of managers (撤换原因): up to 500 characters, no bidi controls."""
    return _text("reason", reason, "原因", required=required, limit=500)


def _phone(value: str) -> list[Problem]:
    value = value.strip()
    if not value or (
        len(value) <= PHONE_MAX and PHONE.fullmatch(value) and 5 <= sum(c.isdigit() for c in value) <= 20
    ):
        return []
    return [Problem("phone", "phone",
                    f"联系电话须为 5-20 位数字，可含空格、连字符和开头的 +，共不超过 {PHONE_MAX} 个字符",
                    f"phone must be 5-20 digits, with spaces, hyphens and a leading + allowed, {PHONE_MAX} "
                    "characters in all")]


@idempotent("createPropertyManager", PropertyManager)
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


async def contract_managers(*, access: Access, contract_id: int) -> list[ContractManager]:
    """The contract's managers, the first named first (``parties.read_managers``: the rows carry staff's reasons
    such as 不胜任; NOT_FOUND for a contract the caller does not read)."""
    require(access, "parties.read_managers")
    if not await readable_contracts(access).filter(id=contract_id).exists():
        raise NotFound(f"物业合同 {contract_id} 不存在", f"contract {contract_id} does not exist", field="contractId")
    return await readable_contract_managers(access).filter(contract_id=contract_id).order_by("starts_on")


async def histories(*, access: Access, contract_ids: list[int]) -> list[ContractManager]:
    """The managers of several contracts the caller reads, by contract, the first named first (a mutation's payload
    and a DataLoader's batch; rows of contracts the caller does not read are left out)."""
    require(access, "parties.read_managers")
    return await readable_contract_managers(access).filter(contract_id__in=contract_ids).order_by(
        "contract_id", "starts_on"
    )


async def list_managers(
    *, access: Access, window: Window, company_id: int | None = None
) -> Page[PropertyManager]:
    """A window of the managers the caller reads, by id (``readable_managers``)."""
    require(access, "parties.read_managers")
    return await page(where(readable_managers(access), company_id=company_id), BY_ID, window)


def phone_shown(access: Access, manager: PropertyManager) -> str | None:
    """A manager's phone as the caller sees it: the administration's and the manager's own firm's; None for others
    (territory staff read the name, not the phone)."""
    if access.roles & ADMINISTRATION or manager.company_id in access.companies:
        return manager.phone
    return None
