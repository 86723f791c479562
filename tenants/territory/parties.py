"""Parties that act on the territory: property companies and their contracts, owners' committees, units."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import Stamped, TenantModel


class PropertyCompany(TenantModel, Stamped):  # 物业企业
    """A company's record in this tenant. The same company (by credit code) may be on file in other tenants;
    each record belongs to its tenant."""

    credit_code = fields.CharField(max_length=32)  # 统一社会信用代码
    name = fields.CharField(max_length=200)
    contact_name = fields.CharField(max_length=100, default="")
    contact_phone = fields.CharField(max_length=32, default="")
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "property_company"
        unique_together = (("tenant_id", "credit_code"),)


class PropertyContract(TenantModel, Stamped):
    """A company serves a compound from ``starts_on`` to ``ends_on`` (inclusive) for a yearly fee receivable."""

    company_id = fields.BigIntField()
    compound_id = fields.BigIntField()
    starts_on = fields.DateField()
    ends_on = fields.DateField()
    annual_fee_fen = fields.BigIntField()
    reference = fields.CharField(max_length=64, default="")

    class Meta:
        table = "property_contract"
        unique_together = (("tenant_id", "compound_id", "starts_on"),)
        indexes = (("tenant_id", "company_id"),)


class OwnersCommittee(TenantModel, Stamped):  # 业主委员会, one per compound
    compound_id = fields.BigIntField()
    name = fields.CharField(max_length=200)
    term_ends_on = fields.DateField(null=True)

    class Meta:
        table = "owners_committee"
        unique_together = (("tenant_id", "compound_id"),)


class UnitKind(StrEnum):
    HOUSING_DEPT = "housing_dept"  # 住建部门
    COUNTY_DEPARTMENT = "county_department"  # 县直部门
    EFFICIENCY_OFFICE = "efficiency_office"  # 作风效能办
    STREET_OFFICE = "street_office"  # 街道办 (a street's own working unit)


class Unit(TenantModel, Stamped):
    """A body that tickets can be routed to and that can assess: departments and offices."""

    kind = fields.CharEnumField(UnitKind, max_length=32)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    street_id = fields.BigIntField(null=True)  # for street offices
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "unit"
        unique_together = (("tenant_id", "code"),)


class PartnerKind(StrEnum):
    MERCHANT = "merchant"  # 爱心商户: a shop that takes points vouchers
    CANTEEN = "canteen"  # 长者食堂: an elderly canteen


class Partner(TenantModel, Stamped):
    """A merchant or canteen that honours points vouchers and is paid for them monthly (its payable)."""

    kind = fields.CharEnumField(PartnerKind, max_length=16)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    community_id = fields.BigIntField(null=True)  # where it is, if it serves one community
    contact_name = fields.CharField(max_length=100, default="")
    contact_phone = fields.CharField(max_length=32, default="")
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "partner"
        unique_together = (("tenant_id", "code"),)


class WorkUnitKind(StrEnum):
    ORGAN = "organ"  # 机关: a party or government organ
    INSTITUTION = "institution"  # 事业单位: a public institution (school, hospital)
    ENTERPRISE = "enterprise"  # 企业: a state-owned or private enterprise


class WorkUnit(TenantModel, Stamped):
    """A work unit 机关、企事业单位 whose party organisation and in-service members register at communities (双报到)."""

    kind = fields.CharEnumField(WorkUnitKind, max_length=16)
    code = fields.CharField(max_length=64)
    name = fields.CharField(max_length=200)
    party_org = fields.CharField(max_length=200, default="")  # its party organisation 党组织
    contact_name = fields.CharField(max_length=100, default="")
    contact_phone = fields.CharField(max_length=32, default="")
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "work_unit"
        unique_together = (("tenant_id", "code"),)


class PropertyManager(TenantModel, Stamped):  # 物业经理
    """A property manager: the person a firm names on its contracts to run a compound."""

    company_id = fields.BigIntField()  # the firm they work for
    name = fields.CharField(max_length=100)
    phone = fields.CharField(max_length=32, default="")
    is_active = fields.BooleanField(default=True)

    class Meta:
        table = "property_manager"
        indexes = (("tenant_id", "company_id"),)


class ContractManager(TenantModel):
    """A property manager named on a contract for a span of days; the rows of a contract are its history.

    From ``starts_on`` to ``ends_on`` (inclusive; None: until replaced or the contract ends). Replacing one
    (撤换调整) ends the row the day before the successor's and links it to the successor's row, which carries the
    reason; ending one without a successor keeps ``end_reason``. Rows are never deleted; a mistaken naming is
    corrected in place (the audit log keeps the manager it named before)."""

    contract_id = fields.BigIntField()
    manager_id = fields.BigIntField()
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)
    reason = fields.CharField(max_length=500, default="")  # why this manager was named (a replacement's reason)
    successor_id = fields.BigIntField(null=True)  # the ContractManager row that replaced this one
    end_reason = fields.CharField(max_length=500, default="")  # ended without a successor: why
    assigned_by = fields.CharField(max_length=128)
    assigned_at = fields.DatetimeField()

    class Meta:
        table = "contract_manager"
        unique_together = (("tenant_id", "contract_id", "starts_on"),)
        indexes = (("tenant_id", "manager_id"),)
