"""Vouchers 兑换券 issued by a redemption, the stock counters of the catalogue, and partners' monthly statements.

A voucher is the one-time code a person gets for the points they spent; the partner (merchant, canteen) or the
property company redeems it once (``status`` moves issued -> used by a conditional update). Money kinds reserve
their value in the ledger at issue (``points_reserved:{voucher}``). A partner statement gathers the vouchers a
partner verified in a tenant-local month: draft -> approved (frozen by a trigger, migration 0028) -> paid.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class VoucherStatus(StrEnum):
    ISSUED = "issued"  # good until it expires
    USED = "used"  # verified by the partner or the company (once)
    CANCELLED = "cancelled"  # by its holder or a tenant admin while unused: points and money back
    EXPIRED = "expired"  # not used in time (nightly): points and money back, as for a cancel


class Voucher(TenantModel):
    """One redemption: who spent what on which catalogue item, and the code that redeems it."""

    code = fields.CharField(max_length=16)  # random, unambiguous alphabet, unique per tenant
    person_id = fields.BigIntField()  # the holder (who spent the points)
    redemption_code = fields.CharField(max_length=64)
    kind = fields.CharField(max_length=16)  # fee_reduction | merchant | canteen | service | goods
    title = fields.CharField(max_length=200)
    cost_points = fields.IntField()
    value_fen = fields.BigIntField()
    household_id = fields.BigIntField(null=True)  # fee_reduction: the household whose fee is reduced
    company_id = fields.BigIntField(null=True)  # fee_reduction: the household's property company at issue
    partner_id = fields.BigIntField(null=True)  # merchant/canteen: fixed at issue, or bound at verification
    partner_kind = fields.CharField(max_length=16, null=True)  # the kind of partner that may verify it
    status = fields.CharEnumField(VoucherStatus, max_length=12, default=VoucherStatus.ISSUED)
    spend_entry_id = fields.BigIntField()  # the points entry that paid for it
    issued_at = fields.DatetimeField()
    issued_on = fields.DateField()  # tenant-local day (the monthly limit counts these)
    expires_at = fields.DatetimeField()  # the end of the tenant-local day ``voucher_days`` after issue
    used_at = fields.DatetimeField(null=True)
    used_by = fields.CharField(max_length=128, null=True)
    used_month = fields.CharField(max_length=7, null=True)  # tenant-local month of verification (2026-03)
    closed_at = fields.DatetimeField(null=True)  # cancelled or expired
    closed_by = fields.CharField(max_length=128, null=True)
    idempotency_key = fields.CharField(max_length=200)

    class Meta:
        table = "points_voucher"
        unique_together = (("tenant_id", "code"), ("tenant_id", "idempotency_key"))
        indexes = (
            ("tenant_id", "person_id", "redemption_code", "issued_on"),
            ("tenant_id", "partner_id", "used_month"),
            ("tenant_id", "status", "expires_at"),
        )


class RedemptionStock(TenantModel):
    """How many vouchers of a catalogue item are out (issued or used); a conditional update keeps it within the
    item's stock, so concurrent redemptions never oversell."""

    redemption_code = fields.CharField(max_length=64)
    taken = fields.IntField(default=0)

    class Meta:
        table = "points_redemption_stock"
        unique_together = (("tenant_id", "redemption_code"),)


class PartnerStatementStatus(StrEnum):
    DRAFT = "draft"  # recomputed by a run
    APPROVED = "approved"  # frozen (a trigger)
    PAID = "paid"  # with a payment reference; partner_payable -> partner_paid


class PartnerStatement(TenantModel):
    """What the tenant owes a partner for the vouchers it verified in a month."""

    partner_id = fields.BigIntField()
    month = fields.CharField(max_length=7)  # 2026-03, tenant-local month of verification
    status = fields.CharEnumField(PartnerStatementStatus, max_length=8, default=PartnerStatementStatus.DRAFT)
    voucher_count = fields.IntField()
    total_fen = fields.BigIntField()
    computed_at = fields.DatetimeField()
    computed_by = fields.CharField(max_length=128)
    approved_at = fields.DatetimeField(null=True)
    approved_by = fields.CharField(max_length=128, null=True)
    paid_at = fields.DatetimeField(null=True)
    paid_by = fields.CharField(max_length=128, null=True)
    payment_reference = fields.CharField(max_length=128, null=True)

    class Meta:
        table = "partner_statement"
        unique_together = (("tenant_id", "month", "partner_id"),)
        indexes = (("tenant_id", "partner_id", "month"),)


class PartnerStatementLine(TenantModel):
    """One verified voucher on a partner's statement."""

    statement_id = fields.BigIntField()
    position = fields.IntField()
    voucher_id = fields.BigIntField()
    voucher_code = fields.CharField(max_length=16)
    redemption_code = fields.CharField(max_length=64)
    title = fields.CharField(max_length=200)
    used_at = fields.DatetimeField()
    amount_fen = fields.BigIntField()

    class Meta:
        table = "partner_statement_line"
        unique_together = (("tenant_id", "statement_id", "position"),)
        indexes = (("tenant_id", "voucher_id"),)
