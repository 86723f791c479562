"""Moving performance bonds 履约保证金: deposits, the street's drawdowns for emergency repairs, refunds.

The money lives in the ledger: ``bond:<contract>`` (never below zero, a database CHECK) against the company's
``bond_depositor:<company>`` for deposits and refunds and ``bond_repairs:<contract>`` for drawdowns. Each
movement is one journal, one ``BondTransaction`` row and one audit entry. The contract's row is locked first, so
the movements of one contract run one after the other (the first included) and the balance checked is the
balance moved.

Rules where the issue is silent:
- A client may send an idempotency key: the ledger key is ``bond:<contract>:<key>``, and a retried request
  returns the movement it made the first time (the same key for a different movement is a conflict).
- Refunds: once the contract has ended (its last day is before tenant-local today) the street or a tenant
  administrator refunds; before that only a tenant administrator, with a reason (early termination). The amount
  defaults to the whole balance. A refund after the end, or of the whole balance, closes the open top-up (nothing
  is owed on a released bond); a partial early refund leaves it owed.
- When ``bonds.enabled`` is off, no movement is accepted (``NOT_ENABLED``); what was recorded stays readable.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from tenants import clock, inbox
from tenants.audit import service as audit
from tenants.bonds.messages import day_zh, yuan
from tenants.bonds.models import BondKind, BondTopUp, BondTransaction
from tenants.bonds.reads import Bond, contract_in_scope, states
from tenants.config.document import ConfigDocument
from tenants.config.service import effective_config
from tenants.errors import Conflict, Forbidden, InvalidInput, NotEnabled, Problem, text_problems
from tenants.inbox.holders import holders_by_target
from tenants.ledger import accounts
from tenants.ledger.models import LedgerJournal
from tenants.ledger.service import InsufficientBalance, Leg, balance, post
from tenants.periods import key_for
from tenants.permissions import has_role, require
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyContract
from tenants.territory.people import PostKind
from tenants.tickets.models import Ticket

MAX_CLIENT_KEY = 100


class BondsDisabled(NotEnabled):
    feature = "bonds"
    feature_zh, feature_en = "履约保证金", "performance bonds"


@dataclass(frozen=True)
class Change:
    """A movement and the bond after it."""

    transaction: BondTransaction
    bond: Bond
    replayed: bool = False  # a retried request: nothing new was posted


@dataclass
class _Ctx:
    contract: PropertyContract
    compound: Compound
    doc: ConfigDocument
    at: datetime
    today: date


async def _open(access: Access, contract_id: int, now: datetime | None, *, refund: bool = False) -> _Ctx:
    at = now or clock.now()
    today = await clock.today(at)
    doc = (await effective_config(today)).document
    # Money still held is returned even after a tenant switches bonds off.
    if not doc.bonds.enabled and not refund:
        raise BondsDisabled(field="contractId")
    contract, compound = await contract_in_scope(access, contract_id)
    require(access, "bonds.move", ("street", compound.street_id), field="contractId")
    # The contract's row lock: movements of one bond run one after the other, the first one included (before
    # it there is no balance row to lock), so a retried request sees the movement it repeats.
    await PropertyContract.filter(id=contract.id).select_for_update().first()
    return _Ctx(contract, compound, doc, at, today)


def _static_problems(amount_fen: int | None, idempotency_key: str | None) -> list[Problem]:
    problems = []
    if amount_fen is not None and amount_fen <= 0:
        problems.append(Problem("amountFen", "not_positive", "金额须大于 0", "amountFen must be greater than 0"))
    if idempotency_key is not None and not (0 < len(idempotency_key.strip()) <= MAX_CLIENT_KEY):
        problems.append(
            Problem(
                "idempotencyKey",
                "length",
                f"幂等键须为 1 到 {MAX_CLIENT_KEY} 个字符",
                f"idempotencyKey must have 1 to {MAX_CLIENT_KEY} characters",
            )
        )
    return problems


# The columns' sizes: a reference 128 characters, a reason 500.
_MAX_TEXT = {"reference": 128, "reason": 500}


def _text_problems(field: str, value: str, zh: str, *, required: bool = True) -> list[Problem]:
    return text_problems(field, value, zh, required=required, limit=_MAX_TEXT[field])


def _ledger_key(contract_id: int, idempotency_key: str | None) -> str:
    return f"bond:{contract_id}:{idempotency_key.strip() if idempotency_key else uuid.uuid4().hex}"


async def _replay(ctx: _Ctx, key: str, kind: BondKind, amount_fen: int | None) -> Change | None:
    """The movement a retried request made the first time, if any."""
    journal = await LedgerJournal.get_or_none(idempotency_key=key)
    if journal is None:
        return None
    done = await BondTransaction.get_or_none(journal_id=journal.id)
    if done is None or done.kind != kind or (amount_fen is not None and done.amount_fen != amount_fen):
        raise Conflict(
            "该幂等键已用于另一笔业务",
            "this idempotency key was already used for another movement",
            field="idempotencyKey",
        )
    return Change(done, (await states([ctx.contract], on=ctx.today))[0], replayed=True)


async def _move(
    ctx: _Ctx,
    *,
    key: str,
    kind: BondKind,
    amount_fen: int,
    reason: str,
    reference: str,
    ticket_id: int | None,
    actor: str,
) -> BondTransaction:
    c = ctx.contract
    bond = accounts.bond(c.id)
    counterpart = accounts.bond_repairs(c.id) if kind == BondKind.DRAWDOWN else accounts.bond_depositor(c.company_id)
    sign = 1 if kind == BondKind.DEPOSIT else -1
    journal = await post(
        key=key,
        legs=[Leg(bond, sign * amount_fen), Leg(counterpart, -sign * amount_fen)],
        period=key_for(ctx.today, "monthly"),
        reason=f"履约保证金{_KIND_ZH[kind]}：{reason or reference}",
        source_kind="bond",
        source_id=c.id,
        author=actor,
        now=ctx.at,
    )
    tx = await BondTransaction.create(
        contract_id=c.id,
        company_id=c.company_id,
        kind=kind,
        amount_fen=amount_fen,
        balance_after_fen=await balance(bond),
        reason=reason.strip(),
        reference=reference.strip(),
        ticket_id=ticket_id,
        journal_id=journal.id,
        actor=actor,
        at=ctx.at,
    )
    await audit.record(
        actor=actor,
        action=f"bond.{kind.value}",
        target_type="contract",
        target_id=c.id,
        details={
            "transactionId": tx.id,
            "companyId": c.company_id,
            "amountFen": amount_fen,
            "balanceAfterFen": tx.balance_after_fen,
            "reason": tx.reason,
            "reference": tx.reference,
            "ticketId": ticket_id,
            "journalId": journal.id,
            "ledgerKey": key,
        },
    )
    return tx


_KIND_ZH = {BondKind.DEPOSIT: "缴存", BondKind.DRAWDOWN: "支取", BondKind.REFUND: "退还"}


def _insufficient(held: int) -> InsufficientBalance:
    return InsufficientBalance(
        f"履约保证金余额不足（余额 {yuan(held)}）",
        f"the bond's balance is too low for this amount (balance {held} fen)",
        field="amountFen",
        details={"balanceFen": held},
    )


async def deposit(
    *,
    access: Access,
    actor: str,
    contract_id: int,
    amount_fen: int,
    reference: str,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Change:
    """The company pays in (a first deposit or a top-up), with the receipt number; an open top-up is settled once
    the balance reaches the required amount."""
    async with savepoint():
        ctx = await _open(access, contract_id, now)
        problems = _static_problems(amount_fen, idempotency_key) + _text_problems("reference", reference, "收据编号")
        if problems:
            raise InvalidInput.of(problems)
        key = _ledger_key(contract_id, idempotency_key)
        if idempotency_key and (done := await _replay(ctx, key, BondKind.DEPOSIT, amount_fen)):
            return done
        tx = await _move(
            ctx,
            key=key,
            kind=BondKind.DEPOSIT,
            amount_fen=amount_fen,
            reason="",
            reference=reference,
            ticket_id=None,
            actor=actor,
        )
        bond = (await states([ctx.contract], on=ctx.today))[0]
        if bond.top_up is not None and bond.balance_fen >= bond.required_fen:
            bond.top_up.settled_at = ctx.at
            await bond.top_up.save(update_fields=["settled_at"])
            bond = (await states([ctx.contract], on=ctx.today))[0]
        return Change(tx, bond)


async def _ticket_problems(ticket_id: int | None, compound_id: int) -> list[Problem]:
    if ticket_id is None:
        return []
    ticket = await Ticket.get_or_none(id=ticket_id)
    if ticket is None:
        return [Problem("ticketId", "not_found", f"工单 {ticket_id} 不存在", f"ticket {ticket_id} does not exist")]
    if ticket.compound_id != compound_id:
        return [
            Problem("ticketId", "other_compound", "该工单不是本合同小区的工单", "the ticket is not about this compound")
        ]
    return []


async def draw_down(
    *,
    access: Access,
    actor: str,
    contract_id: int,
    amount_fen: int,
    reason: str,
    ticket_id: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Change:
    """The street draws on the bond for an emergency repair the company failed to do. More than the balance is
    refused (``INSUFFICIENT_BALANCE`` on ``amountFen``); below the required amount afterwards, the company owes a
    top-up within ``bonds.top_up_deadline_days`` and is told so."""
    async with savepoint():
        ctx = await _open(access, contract_id, now)
        problems = (
            _static_problems(amount_fen, idempotency_key)
            + _text_problems("reason", reason, "支取事由")
            + await _ticket_problems(ticket_id, ctx.contract.compound_id)
        )
        if problems:
            raise InvalidInput.of(problems)
        held = await balance(accounts.bond(contract_id))
        key = _ledger_key(contract_id, idempotency_key)
        if idempotency_key and (done := await _replay(ctx, key, BondKind.DRAWDOWN, amount_fen)):
            return done
        if amount_fen > held:
            raise _insufficient(held)
        tx = await _move(
            ctx,
            key=key,
            kind=BondKind.DRAWDOWN,
            amount_fen=amount_fen,
            reason=reason,
            reference="",
            ticket_id=ticket_id,
            actor=actor,
        )
        bond = (await states([ctx.contract], on=ctx.today))[0]
        if bond.balance_fen < bond.required_fen and bond.top_up is None:
            await BondTopUp.create(
                contract_id=ctx.contract.id,
                company_id=ctx.contract.company_id,
                required_fen=bond.required_fen,
                shortfall_fen=bond.shortfall_fen,
                opened_at=ctx.at,
                due_on=ctx.today + timedelta(days=int(ctx.doc.bonds.top_up_deadline_days)),
            )
            bond = (await states([ctx.contract], on=ctx.today))[0]
        await _tell_company(ctx, tx, bond)
        return Change(tx, bond)


async def _tell_company(ctx: _Ctx, tx: BondTransaction, bond: Bond) -> None:
    body = (
        f"街道已从{ctx.compound.name}物业服务合同的履约保证金中支取 {yuan(tx.amount_fen)}，事由：{tx.reason}。"
        f"当前余额 {yuan(bond.balance_fen)}，应缴 {yuan(bond.required_fen)}。"
    )
    if bond.top_up is not None:
        body += f"请于{day_zh(bond.top_up.due_on)}前补足 {yuan(bond.shortfall_fen)}。"
    people = await holders_by_target(PostKind.PROPERTY_COMPANY, "company", [ctx.contract.company_id], ctx.today)
    await inbox.send(
        to=people.get(ctx.contract.company_id, []),
        kind="bond.drawdown",
        title="履约保证金已被支取" + ("，请按期补足" if bond.top_up is not None else ""),
        text=body,
        ticket_id=tx.ticket_id,
        at=ctx.at,
    )


async def refund(
    *,
    access: Access,
    actor: str,
    contract_id: int,
    amount_fen: int | None = None,
    reason: str = "",
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Change:
    """Return the bond to the company: after the contract's end by its street or a tenant administrator, before
    it only by a tenant administrator with a reason (early termination). The whole balance unless ``amount_fen``."""
    async with savepoint():
        ctx = await _open(access, contract_id, now, refund=True)
        ended = ctx.contract.ends_on < ctx.today
        if not ended and not has_role(access, "bonds.refund_early"):
            raise Forbidden(
                f"合同于{day_zh(ctx.contract.ends_on)}到期，到期前只有租户管理员可以提前退还保证金",
                f"the contract runs until {ctx.contract.ends_on}; before then only a tenant administrator refunds",
                field="contractId",
            )
        problems = _static_problems(amount_fen, idempotency_key)
        problems += _text_problems("reason", reason, "提前退还的事由", required=not ended)
        if problems:
            raise InvalidInput.of(problems)
        held = await balance(accounts.bond(contract_id))
        key = _ledger_key(contract_id, idempotency_key)
        if idempotency_key and (done := await _replay(ctx, key, BondKind.REFUND, amount_fen)):
            return done
        amount = held if amount_fen is None else amount_fen
        if amount == 0:
            raise InvalidInput.of(
                [Problem("amountFen", "nothing_to_refund", "保证金余额为 0，无可退还", "the bond's balance is 0")]
            )
        if amount > held:
            raise _insufficient(held)
        tx = await _move(
            ctx,
            key=key,
            kind=BondKind.REFUND,
            amount_fen=amount,
            reason=reason or "合同期满退还",
            reference="",
            ticket_id=None,
            actor=actor,
        )
        if ended or amount == held:
            # Nothing is owed on a contract that has ended or a bond returned in full (early termination); a
            # partial early refund leaves the top-up the company owes in place.
            await BondTopUp.filter(contract_id=contract_id, settled_at=None).update(settled_at=ctx.at)
        return Change(tx, (await states([ctx.contract], on=ctx.today))[0])
