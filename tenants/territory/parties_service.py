"""Property companies, contracts, owners' committees and units, within the caller's scope."""

from __future__ import annotations

from datetime import date

from tortoise.exceptions import IntegrityError

from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, NotFound, Problem
from tenants.idempotency import idempotent
from tenants.paging import Page, Window, by_id
from tenants.permissions import require
from tenants.scope import scoped_transaction
from tenants.territory.access import (
    Access,
    get_in_scope,
    get_writable,
    readable_committees,
    readable_companies,
    readable_contracts,
    readable_units,
)
from tenants.territory.models import Compound
from tenants.territory.parties import OwnersCommittee, PropertyCompany, PropertyContract, Unit, UnitKind


def _name_problems(name: str, field: str = "name") -> list[Problem]:
    if not name.strip():
        return [Problem(field, "required", "名称不能为空", f"{field} must not be empty")]
    if len(name) > 200:
        return [Problem(field, "too_long", "名称不能超过 200 字", f"{field} must be at most 200 characters")]
    return []


@idempotent("createPropertyCompany", PropertyCompany)
async def create_company(
    *, access: Access, actor: str, credit_code: str, name: str, contact_name: str = "", contact_phone: str = ""
) -> PropertyCompany:
    require(access, "parties.write_company")
    problems = _name_problems(name)
    if not (1 <= len(credit_code.strip()) <= 32):
        problems.append(
            Problem("creditCode", "format", "统一社会信用代码须为 1-32 位", "creditCode must be 1-32 characters")
        )
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if await PropertyCompany.exists(credit_code=credit_code.strip()):
            raise Conflict(
                f"企业 {credit_code} 已登记", f"company {credit_code} is already on file", field="creditCode"
            )
        try:
            company = await PropertyCompany.create(
                credit_code=credit_code.strip(),
                name=name.strip(),
                contact_name=contact_name,
                contact_phone=contact_phone,
            )
        except IntegrityError as exc:
            raise Conflict(
                f"企业 {credit_code} 已登记", f"company {credit_code} is already on file", field="creditCode"
            ) from exc
        await audit.record(
            actor=actor,
            action="company.create",
            target_type="company",
            target_id=company.id,
            details={"creditCode": company.credit_code, "name": company.name},
        )
        return company


async def list_companies(*, access: Access, window: Window) -> Page[PropertyCompany]:
    """A window of the companies the caller reads, by id."""
    return await by_id(readable_companies(access), window)


@idempotent("createPropertyContract", PropertyContract)
async def create_contract(
    *,
    access: Access,
    actor: str,
    company_id: int,
    compound_id: int,
    starts_on: date,
    ends_on: date,
    annual_fee_fen: int,
    reference: str = "",
) -> PropertyContract:
    require(access, "parties.write_contract")
    problems = []
    if ends_on < starts_on:
        problems.append(Problem("endsOn", "before_start", "结束日期早于开始日期", "endsOn is before startsOn"))
    if annual_fee_fen < 0:
        problems.append(
            Problem("annualFeeFen", "negative", "年度应收物业费不能为负", "annualFeeFen must not be negative")
        )
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if access.reads_whole_tenant:
            await get_in_scope("compound", compound_id, access)
        else:
            await get_in_scope("compound", compound_id, access, for_write=True)
        if not await PropertyCompany.exists(id=company_id):
            raise NotFound(f"物业企业 {company_id} 不存在", f"company {company_id} does not exist", field="companyId")
        # Lock the compound: concurrent contract changes on it wait, so the overlap check below holds.
        await Compound.filter(id=compound_id).select_for_update().first()
        overlapping = await PropertyContract.filter(
            compound_id=compound_id, starts_on__lte=ends_on, ends_on__gte=starts_on
        ).first()
        if overlapping is not None:
            raise Conflict(
                f"该小区在此期间已有物业合同（{overlapping.starts_on} 至 {overlapping.ends_on}）",
                f"the compound already has a contract overlapping these dates "
                f"({overlapping.starts_on} to {overlapping.ends_on})",
                field="startsOn",
            )
        contract = await PropertyContract.create(
            company_id=company_id,
            compound_id=compound_id,
            starts_on=starts_on,
            ends_on=ends_on,
            annual_fee_fen=annual_fee_fen,
            reference=reference,
        )
        await audit.record(
            actor=actor,
            action="contract.create",
            target_type="contract",
            target_id=contract.id,
            details={
                "companyId": company_id,
                "compoundId": compound_id,
                "startsOn": str(starts_on),
                "endsOn": str(ends_on),
                "annualFeeFen": annual_fee_fen,
            },
        )
        return contract


async def list_contracts(
    *, access: Access, compound_id: int | None, company_id: int | None, window: Window
) -> Page[PropertyContract]:
    """A window of the contracts the caller reads, by id."""
    qs = readable_contracts(access)
    if compound_id is not None:
        qs = qs.filter(compound_id=compound_id)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    return await by_id(qs, window)


async def set_owners_committee(
    *, access: Access, actor: str, compound_id: int, name: str, term_ends_on: date | None
) -> OwnersCommittee:
    problems = _name_problems(name)
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        await get_writable("compound", compound_id, access)
        committee, created = await OwnersCommittee.get_or_create(
            compound_id=compound_id, defaults={"name": name.strip(), "term_ends_on": term_ends_on}
        )
        if not created:
            committee.name, committee.term_ends_on = name.strip(), term_ends_on
            await committee.save()
        await audit.record(
            actor=actor,
            action="owners_committee.set",
            target_type="owners_committee",
            target_id=committee.id,
            details={"compoundId": compound_id, "name": committee.name},
        )
        return committee


@idempotent("createUnit", Unit)
async def create_unit(
    *, access: Access, actor: str, kind: UnitKind, code: str, name: str, street_id: int | None = None
) -> Unit:
    require(access, "parties.write_unit")
    problems = _name_problems(name)
    if not code.strip():
        problems.append(Problem("code", "required", "编码不能为空", "code must not be empty"))
    elif len(code.strip()) > 64:
        problems.append(Problem("code", "too_long", "编码不能超过 64 字", "code must be at most 64 characters"))
    if kind == UnitKind.STREET_OFFICE and street_id is None:
        problems.append(Problem("streetId", "required", "街道办须指定街道", "a street office needs streetId"))
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if street_id is not None:
            await get_in_scope("street", street_id, access)
        if await Unit.exists(code=code.strip()):
            raise Conflict(f"单位编码 {code} 已被使用", f"unit code {code} is taken", field="code")
        unit = await Unit.create(kind=kind, code=code.strip(), name=name.strip(), street_id=street_id)
        await audit.record(
            actor=actor,
            action="unit.create",
            target_type="unit",
            target_id=unit.id,
            details={"kind": kind.value, "code": unit.code, "name": unit.name},
        )
        return unit


async def owners_committee(*, access: Access, compound_id: int) -> OwnersCommittee | None:
    """The committee of a compound the caller reads (NOT_FOUND for a compound out of scope)."""
    await get_in_scope("compound", compound_id, access)
    return await readable_committees(access).filter(compound_id=compound_id).first()


async def list_units(*, access: Access, kind: UnitKind | None) -> list[Unit]:
    qs = readable_units(access)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return await qs.order_by("id")
