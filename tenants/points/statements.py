"""Partner statements 商户结算单: per partner per tenant-local month, the vouchers it verified that month with their
value in fen. draft -> approved (frozen by a trigger, migration 0028) -> paid, like settlement statements.

A run (``compute``) for a month that has ended writes a draft per partner with money to be paid, replaces a draft
whose vouchers changed, leaves an unchanged draft, an approved or a paid statement as it is, and removes a draft
with nothing left; runs of one month queue on an advisory lock, and the statement is unique per (month, partner),
so two runs at once (or the job run twice) leave one statement. The money is already in the partner's payable
(from each verification); paying moves the statement's total to ``partner_paid``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.queryset import QuerySet

from tenants import clock, periods
from tenants.audit import service as audit
from tenants.errors import Conflict, IllegalTransition, InvalidInput, NotFound, Noun, Problem, text_problems
from tenants.ledger import accounts
from tenants.ledger import service as money
from tenants.locks import advisory_lock
from tenants.paging import Order, Page, Window, page
from tenants.permissions import allows, require
from tenants.points.voucher_access import readable_lines, readable_partners, readable_statements
from tenants.points.voucher_models import (
    PartnerStatement,
    PartnerStatementLine,
    PartnerStatementStatus,
    Voucher,
    VoucherStatus,
)
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.parties import Partner

STATEMENT = Noun(
    "商户结算单", "partner statement", {"draft": "草稿", "approved": "已审批", "paid": "已支付"},
    {"approve": "审批", "pay": "支付"}, field="id", state_key="status", code="CONFLICT",
)


class PartnerStatementStale(Conflict):
    code = "STATEMENT_STALE"


@dataclass
class RunResult:
    month: str
    created: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    removed: int = 0

    @property
    def statement_ids(self) -> list[int]:
        return sorted(self.created + self.replaced + self.unchanged)


async def _due(month: str, partner_ids: list[int] | None = None) -> dict[int, list[dict[str, Any]]]:
    """Per partner, the lines it is owed for the month: its used vouchers with money, in order of use."""
    qs = Voucher.filter(status=VoucherStatus.USED, used_month=month, partner_id__not_isnull=True, value_fen__gt=0)
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=partner_ids)
    out: dict[int, list[dict[str, Any]]] = {}
    for v in await qs.order_by("partner_id", "used_at", "id"):
        out.setdefault(v.partner_id, []).append(  # type: ignore[arg-type]
            {"voucher_id": v.id, "voucher_code": v.code, "redemption_code": v.redemption_code, "title": v.title,
             "used_at": v.used_at, "amount_fen": v.value_fen}
        )
    return out


def _content(lines: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(line["voucher_id"], line["amount_fen"]) for line in lines]


async def _stored(statement_ids: list[int]) -> dict[int, list[tuple[int, int]]]:
    """The (voucher, amount) lines of each statement, in order, in one read."""
    rows = await PartnerStatementLine.filter(statement_id__in=statement_ids or [0]).order_by(
        "statement_id", "position"
    ).values_list("statement_id", "voucher_id", "amount_fen")
    out: dict[int, list[tuple[int, int]]] = {i: [] for i in statement_ids}
    for sid, vid, amount in rows:  # type: ignore[misc]
        out[int(sid)].append((int(vid), int(amount)))
    return out


async def _write(lines_by_statement: dict[int, list[dict[str, Any]]]) -> None:
    """Every statement's lines in one insert."""
    await PartnerStatementLine.bulk_create(
        [PartnerStatementLine(statement_id=sid, position=i + 1, **line)
         for sid, lines in lines_by_statement.items() for i, line in enumerate(lines)]
    )


async def compute(*, access: Access, month: str, actor: str, now: datetime | None = None) -> RunResult:
    """Write (or re-write) the month's draft statements, one per partner owed money."""
    require(access, "partner_statements.compute")
    at = now or clock.now()
    _, last = periods.month_bounds(month)
    if await clock.today(at) <= last:
        raise InvalidInput.of([Problem("month", "not_ended", f"{month} 尚未结束，结束后方可结算",
                                       f"{month} has not ended yet; settle it afterwards")])
    async with savepoint() as conn:
        await advisory_lock("partner-statements", month, conn=conn)
        due = await _due(month)
        existing = {s.partner_id: s for s in await PartnerStatement.filter(month=month)}
        drafts = [s.id for s in existing.values() if s.status == PartnerStatementStatus.DRAFT]
        stored = await _stored(drafts)
        result = RunResult(month)
        fresh: list[PartnerStatement] = []
        changed: dict[int, list[dict[str, Any]]] = {}
        for partner_id, lines in due.items():
            stmt = existing.get(partner_id)
            if stmt is not None and (stmt.status != PartnerStatementStatus.DRAFT
                                     or stored[stmt.id] == _content(lines)):
                result.unchanged.append(stmt.id)
                continue
            values = {"voucher_count": len(lines), "total_fen": sum(x["amount_fen"] for x in lines),
                      "computed_at": at, "computed_by": actor}
            if stmt is None:
                fresh.append(PartnerStatement(month=month, partner_id=partner_id, **values))
            else:
                await PartnerStatement.filter(id=stmt.id).update(**values)
                result.replaced.append(stmt.id)
                changed[stmt.id] = lines
        if result.replaced:
            await PartnerStatementLine.filter(statement_id__in=result.replaced).delete()
        if fresh:  # the new drafts in one insert, then every new or replaced draft's lines in one more
            await PartnerStatement.bulk_create(fresh)
            made = {s.partner_id: s.id for s in await PartnerStatement.filter(
                month=month, partner_id__in=[s.partner_id for s in fresh])}
            for s in fresh:
                result.created.append(made[s.partner_id])
                changed[made[s.partner_id]] = due[s.partner_id]
        if changed:
            await _write(changed)
        stale = [s.id for p, s in existing.items() if p not in due and s.status == PartnerStatementStatus.DRAFT]
        if stale:
            await PartnerStatementLine.filter(statement_id__in=stale).delete()
            result.removed = await PartnerStatement.filter(id__in=stale).delete()
        if result.created or result.replaced or result.removed:
            await audit.record(actor=actor, action="partner_statements.compute", target_type="partner_month",
                               target_id=month, details={"created": result.created, "replaced": result.replaced})
        return result


async def _locked(statement_id: int) -> PartnerStatement:
    stmt = await PartnerStatement.filter(id=statement_id).select_for_update().first()
    if stmt is None:
        raise NotFound("商户结算单不存在", "no such partner statement", field="id")
    return stmt


async def approve(*, access: Access, statement_id: int, actor: str, now: datetime | None = None) -> PartnerStatement:
    """Freeze a draft that still matches the month's verified vouchers."""
    require(access, "partner_statements.approve")
    at = now or clock.now()
    async with savepoint() as conn:
        month = await PartnerStatement.filter(id=statement_id).values_list("month", flat=True)
        if not month:
            raise NotFound("商户结算单不存在", "no such partner statement", field="id")
        await advisory_lock("partner-statements", month[0], conn=conn)  # before the row, as a run takes them
        stmt = await _locked(statement_id)
        if stmt.status != PartnerStatementStatus.DRAFT:
            raise IllegalTransition(STATEMENT, "approve", stmt.status.value)
        fresh = (await _due(stmt.month, [stmt.partner_id])).get(stmt.partner_id, [])
        if _content(fresh) != (await _stored([stmt.id]))[stmt.id]:
            raise PartnerStatementStale("该月核销的兑换券已变化，请重新生成结算单后再审批",
                                        "the month's verified vouchers changed; compute the statements again first",
                                        field="id")
        stmt.status, stmt.approved_at, stmt.approved_by = PartnerStatementStatus.APPROVED, at, actor
        await stmt.save(update_fields=["status", "approved_at", "approved_by"])
        await audit.record(actor=actor, action="partner_statement.approve", target_type="partner_statement",
                           target_id=stmt.id, details={"total_fen": stmt.total_fen})
        return stmt


async def pay(*, access: Access, statement_id: int, reference: str, actor: str,
              now: datetime | None = None) -> PartnerStatement:
    """Record the payment of an approved statement: the partner's payable moves to paid."""
    require(access, "partner_statements.pay")
    at = now or clock.now()
    reference = reference.strip()
    if problems := text_problems("reference", reference, "支付凭证号", required=True, limit=128):
        raise InvalidInput.of(problems)
    async with savepoint():
        stmt = await _locked(statement_id)
        if stmt.status != PartnerStatementStatus.APPROVED:
            raise IllegalTransition(STATEMENT, "pay", stmt.status.value)
        if stmt.total_fen:
            await money.post(
                key=f"partner_statement:{stmt.id}:pay",
                legs=[money.Leg(accounts.partner_paid(stmt.partner_id), stmt.total_fen),
                      money.Leg(accounts.partner_payable(stmt.partner_id), -stmt.total_fen)],
                period=stmt.month, reason=f"商户结算单 #{stmt.id} 支付（{reference}）/ partner statement paid",
                source_kind="partner_statement", source_id=stmt.id, author=actor, now=at,
            )
        stmt.status, stmt.paid_at, stmt.paid_by = PartnerStatementStatus.PAID, at, actor
        stmt.payment_reference = reference
        await stmt.save(update_fields=["status", "paid_at", "paid_by", "payment_reference"])
        await audit.record(actor=actor, action="partner_statement.pay", target_type="partner_statement",
                           target_id=stmt.id, details={"reference": reference, "total_fen": stmt.total_fen})
        return stmt


# A month's statements, newest month first, then by partner: (month, partner) is unique.
ORDER = Order(("-month", "partner_id"), (str, int))
BATCH = 500


def _statements(access: Access, month: str | None, partner_id: int | None, status: str | None,
                statuses: list[str] | None = None) -> QuerySet[PartnerStatement]:
    qs = readable_statements(access)
    if month is not None:
        periods.month_bounds(month)
        qs = qs.filter(month=month)
    if partner_id is not None:
        qs = qs.filter(partner_id=partner_id)
    if status is not None:
        qs = qs.filter(status=status)
    if statuses is not None:
        qs = qs.filter(status__in=statuses)
    return qs


async def list_statements(*, access: Access, window: Window, month: str | None = None, partner_id: int | None = None,
                          status: str | None = None) -> Page[PartnerStatement]:
    """One keyset window of the statements the caller reads, newest month first, then by partner."""
    return await page(_statements(access, month, partner_id, status), ORDER, window)


async def all_statements(*, access: Access, month: str | None = None, partner_id: int | None = None,
                         statuses: list[str] | None = None) -> list[PartnerStatement]:
    """Every statement the caller reads (newest month first, then by partner), read in keyset batches: an export
    or a run's summary never stops at a page."""
    qs = _statements(access, month, partner_id, None, statuses)
    out: list[PartnerStatement] = []
    after: tuple[Any, ...] | None = None
    while True:
        got = await page(qs, ORDER, Window(limit=BATCH, after=after), countable=False)
        out.extend(got.rows)
        if len(got.rows) < BATCH:
            return out
        after = got.keys[-1]


async def readable_lines_of(access: Access, statement_ids: list[int]) -> list[PartnerStatementLine]:
    return await readable_lines(access).filter(statement_id__in=statement_ids).order_by("statement_id", "position")


async def partners_by_ids(access: Access, partner_ids: list[int]) -> dict[int, Partner]:
    """The partners among ``partner_ids`` the caller reads; a caller who reads no partners gets none."""
    if not allows(access, "partner.read"):
        return {}
    return {p.id: p for p in await readable_partners(access).filter(id__in=partner_ids)}


async def partner_by_code(access: Access, code: str, field_name: str = "partner") -> Partner:
    """The partner of that code among those the caller reads (a partner's staff: its own); NOT_FOUND otherwise."""
    found = await readable_partners(access).filter(code=code).first() if allows(access, "partner.read") else None
    if found is None:
        raise NotFound("商户不存在", f"no partner {code}", field=field_name)
    return found


async def statement(access: Access, statement_id: int) -> PartnerStatement:
    stmt = await readable_statements(access).filter(id=statement_id).first()
    if stmt is None:
        raise NotFound("商户结算单不存在", "no such partner statement", field="id")
    return stmt
