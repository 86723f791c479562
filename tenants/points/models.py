"""The points ledger: append-only entries, the lots they leave to spend, and balances kept by the database.

Every change to a person's points is one ``PointsEntry`` (the application role cannot UPDATE or DELETE them; a
correction is a reversing entry). An earning entry leaves a ``PointsLot`` that expires ``expiry_months`` after the
day it was earned; spending takes from the oldest lots first and records what it took (``PointsLotUse``) so a
cancelled voucher gives exactly those points back, with their original expiry. ``points_balance`` and
``points_period_total`` are kept by a statement-level trigger on the entries (migration 0027), with a CHECK that a
balance never goes below zero: concurrent spending cannot overdraw. ``tenants.points.ledger.verify`` (pointsCheck)
recomputes every balance from the entries and from the live lots.
"""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields

from tenants.models import TenantModel


class EntryKind(StrEnum):
    AWARD = "award"  # earned under a rule (an event or a staff member's award): +points, leaves a lot
    CAPPED = "capped"  # an award over the rule's daily or monthly cap: 0 points, recorded with the reason
    REVERSAL = "reversal"  # an award undone (its source was undone, or staff reversed it): -points
    REDEEM = "redeem"  # points spent on a voucher: -points
    RETURN = "return"  # a cancelled voucher's points back: +points, as lots with their original expiry
    EXPIRY = "expiry"  # lots that reached their expiry day: -points


# Kinds that leave a lot to spend.
EARNING = (EntryKind.AWARD, EntryKind.RETURN)


class PointsEntry(TenantModel):
    """One change to one person's points, once per idempotency key."""

    person_id = fields.BigIntField()
    kind = fields.CharEnumField(EntryKind, max_length=16)
    amount = fields.IntField()  # points: + earned or returned, - spent, reversed or expired, 0 capped
    rule_code = fields.CharField(max_length=64, null=True)  # award, capped, reversal
    redemption_code = fields.CharField(max_length=64, null=True)  # redeem, return
    source_kind = fields.CharField(max_length=32)  # ticket, manual, activity, voucher, expiry, ...
    source_id = fields.BigIntField(null=True)
    source_ref = fields.CharField(max_length=128, default="")  # a manual award's reference or key
    reason = fields.CharField(max_length=500, default="")
    evidence: list = fields.JSONField(default=list)  # type: ignore[assignment]  # links (photos, documents)
    author = fields.CharField(max_length=128)
    occurred_on = fields.DateField()  # the tenant-local day it counts for (caps, periods, leaderboards)
    created_at = fields.DatetimeField()
    idempotency_key = fields.CharField(max_length=200)
    reverses_id = fields.BigIntField(null=True)  # the award this entry reverses (at most once)

    class Meta:
        table = "points_entry"
        unique_together = (("tenant_id", "idempotency_key"),)
        # A person's history newest first. Migration 0027 adds partial indexes that entries without a rule, a source
        # id or a reversed award (expiries: a nightly run writes one per person) do not pay for: a rule's awards to a
        # person by day (the caps), a source's awards (an undone ticket reverses them), and one reversal per award.
        indexes = (("tenant_id", "person_id", "id"),)


class PointsLot(TenantModel):
    """What an earning entry left to spend, oldest spent first, until it expires."""

    person_id = fields.BigIntField()
    entry_id = fields.BigIntField()  # the award or return that made it
    amount = fields.IntField()
    remaining = fields.IntField()  # 0..amount (a CHECK)
    earned_on = fields.DateField()
    expires_on = fields.DateField(null=True)  # the first day it is no longer good (None: never)
    expired_entry_id = fields.BigIntField(null=True)  # the expiry entry that took what remained, when emptied
    # A returned lot: the first lot its points came from (a reversal follows an award's points through vouchers).
    origin_lot_id = fields.BigIntField(null=True)
    warned_on = fields.DateField(null=True)  # the day its holder was told it expires soon

    class Meta:
        table = "points_lot"
        # No index names ``remaining``, ``expired_entry_id`` or ``warned_on`` (not even in a predicate), and pages keep
        # a fifth free (migration 0027): spending and the warnings rewrite lots in place (HOT updates, no index
        # entries). The nightly expiry does not rewrite them (``PointsExpiryRun``). Spending reads a person's lots in
        # FIFO order; the nightly run the days since its last run.
        indexes = (
            ("tenant_id", "person_id", "expires_on", "id"),
            ("tenant_id", "expires_on"),
            ("tenant_id", "entry_id"),
        )


class PointsLotUse(TenantModel):
    """How much a spending entry (redeem, reversal, expiry) took from one lot."""

    entry_id = fields.BigIntField()
    lot_id = fields.BigIntField()
    amount = fields.IntField()

    class Meta:
        table = "points_lot_use"
        indexes = (("tenant_id", "entry_id"), ("tenant_id", "lot_id"))


class PointsExpiryRun(TenantModel):
    """One nightly expiry: every lot whose expiry day is after the previous run's ``through`` and on or before this
    one's was expired by it. A lot made later with a day already past (a cancelled voucher's points whose lot has
    expired since) is expired when it is made, so no lot at or before ``through`` is ever live."""

    through = fields.DateField()
    lots = fields.IntField()
    people = fields.IntField()
    ran_at = fields.DatetimeField()

    class Meta:
        table = "points_expiry_run"
        indexes = (("tenant_id", "through"),)


class PointsBalance(TenantModel):
    """A person's balance, kept by the database from the entries; never below zero."""

    person_id = fields.BigIntField()
    balance = fields.BigIntField(default=0)

    class Meta:
        table = "points_balance"
        unique_together = (("tenant_id", "person_id"),)


class PointsPeriodTotal(TenantModel):
    """Points a person earned (awards less reversals) in a month (2026-01), quarter (2026Q1) and year (2026), by
    the day each award counts for: the leaderboards and the grids' points read these."""

    period_key = fields.CharField(max_length=8)
    person_id = fields.BigIntField()
    earned = fields.BigIntField(default=0)

    class Meta:
        table = "points_period_total"
        unique_together = (("tenant_id", "period_key", "person_id"),)
        # The leaderboard index (period, earned DESC, person) is added in 0027.
