"""Posting to the ledger: balanced journals, once per idempotency key; reversals; balances; the check.

Callers run inside a tenant's transaction. ``post`` with a key already used returns the journal posted then
(when it carried the same postings) so a job or request that runs twice pays once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from asyncpg.exceptions import CheckViolationError
from tortoise import connections
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.queryset import QuerySet

from tenants import clock
from tenants.errors import Conflict, NotFound
from tenants.ledger.accounts import NON_NEGATIVE, kind_of
from tenants.ledger.models import LedgerBalance, LedgerJournal, LedgerPosting
from tenants.locks import advisory_lock
from tenants.paging import Order, Page, Window, page
from tenants.permissions import Caller, require
from tenants.records import granted
from tenants.scope import current_tenant_id, in_scoped_transaction, savepoint


@dataclass(frozen=True)
class Leg:
    account: str
    amount_fen: int


class InsufficientBalance(Conflict):
    code = "INSUFFICIENT_BALANCE"


@dataclass(frozen=True)
class Mismatch:
    """An account whose kept balance differs from the sum of its postings, or a journal that does not sum to 0."""

    account: str | None
    journal_id: int | None
    kept_fen: int
    posted_fen: int


def _check_legs(legs: Sequence[Leg]) -> None:
    if not legs:
        raise ValueError("a journal needs postings")
    if any(type(leg.amount_fen) is not int or leg.amount_fen == 0 for leg in legs):
        raise ValueError("amounts are non-zero integer fen")
    if sum(leg.amount_fen for leg in legs) != 0:
        raise ValueError(f"a journal sums to zero, got {sum(leg.amount_fen for leg in legs)}")
    if len({leg.account for leg in legs}) != len(legs):
        raise ValueError("each account appears once in a journal")


async def _same(journal: LedgerJournal, legs: Sequence[Leg]) -> bool:
    posted = await LedgerPosting.filter(journal_id=journal.id).values_list("account", "amount_fen")
    return sorted(posted) == sorted((leg.account, leg.amount_fen) for leg in legs)  # type: ignore[type-var]


async def post(
    *,
    key: str,
    legs: Sequence[Leg],
    period: str,
    reason: str,
    source_kind: str,
    source_id: int | None,
    author: str,
    now: datetime | None = None,
    reverses_id: int | None = None,
) -> LedgerJournal:
    """Post a balanced journal once per ``key``. Raises ``InsufficientBalance`` (nothing posted) when an account
    that holds money would go below zero."""
    if not in_scoped_transaction():
        raise RuntimeError("post to the ledger inside a tenant transaction")
    _check_legs(legs)
    existing = await LedgerJournal.get_or_none(idempotency_key=key)
    if existing is None:
        try:
            async with savepoint():
                journal = await LedgerJournal.create(
                    idempotency_key=key,
                    period=period,
                    reason=reason[:500],
                    source_kind=source_kind,
                    source_id=source_id,
                    author=author,
                    posted_at=now or clock.now(),
                    reverses_id=reverses_id,
                )
                await LedgerPosting.bulk_create(
                    [
                        LedgerPosting(journal_id=journal.id, account=leg.account, amount_fen=leg.amount_fen)
                        for leg in legs
                    ]
                )
                return journal
        except (IntegrityError, OperationalError) as exc:
            if _is_check_violation(exc):
                short = [leg.account for leg in legs if leg.amount_fen < 0 and kind_of(leg.account) in NON_NEGATIVE]
                raise InsufficientBalance(
                    "余额不足，不能支取",
                    "the balance is too low for this amount",
                    field="amountFen",
                    details={"accounts": short},
                ) from exc
            existing = await LedgerJournal.get_or_none(idempotency_key=key)
            if existing is None:
                raise
    if not await _same(existing, legs):
        raise Conflict(
            "同一业务已按不同金额记账",
            f"ledger key {key!r} was already posted with different amounts",
            field="idempotencyKey",
        )
    return existing


def _is_check_violation(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, CheckViolationError) or "ledger_balance_non_negative" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


async def reverse(*, journal_id: int, key: str, reason: str, author: str, now: datetime | None = None) -> LedgerJournal:
    """A correction: a new journal with every posting of ``journal_id`` negated. A journal is reversed once."""
    original = await LedgerJournal.get_or_none(id=journal_id)
    if original is None:
        raise NotFound("记账凭证不存在", "no such journal", field="journalId")
    posted = await LedgerPosting.filter(journal_id=journal_id).values_list("account", "amount_fen")
    already = await LedgerJournal.get_or_none(reverses_id=journal_id)
    if already is not None and already.idempotency_key != key:
        raise Conflict("该凭证已冲销", "this journal has already been reversed", field="journalId")
    return await post(
        key=key,
        legs=[Leg(a, -amt) for a, amt in posted],  # type: ignore[misc]
        period=original.period,
        reason=reason,
        source_kind=original.source_kind,
        source_id=original.source_id,
        author=author,
        now=now,
        reverses_id=journal_id,
    )


async def funded(key: str, account: str) -> int:
    """What the funding journals of ``key`` (the first one, ``key``, and its top-ups, ``key:<target>``) moved into
    ``account``."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT COALESCE(SUM(p.amount_fen), 0)::bigint AS total"
        " FROM ledger_posting p JOIN ledger_journal j ON j.tenant_id = p.tenant_id AND j.id = p.journal_id"
        " WHERE p.tenant_id = $1 AND p.account = $2 AND (j.idempotency_key = $3 OR starts_with(j.idempotency_key, $4))",
        [current_tenant_id(), account, key, f"{key}:"],
    )
    return int(rows[0]["total"])


async def fund_up_to(
    *,
    key: str,
    source_account: str,
    account: str,
    target: int,
    top_up: bool = True,
    period: str,
    reason: Callable[[int, int], str],
    source_kind: str,
    source_id: int | None,
    author: str,
    now: datetime | None = None,
) -> int:
    """Fund ``account`` (a yearly pool, a yearly cap) from ``source_account`` up to ``target`` fen, and return
    what it holds from its fundings: the first time under ``key``; later, when ``target`` has been raised (and
    ``top_up`` allows), the difference only, under ``key:<target>``. A lowered target never takes money back
    (it may already have been drawn). Fundings of one key queue on an advisory lock, so two at once fund once.
    ``reason(target, already)`` words the journal."""
    await advisory_lock("fund", key)
    already = await funded(key, account)
    if target <= already or (already and not top_up):
        return already
    await post(
        key=f"{key}:{target}" if already else key,
        legs=[Leg(source_account, already - target), Leg(account, target - already)],
        period=period,
        reason=reason(target, already),
        source_kind=source_kind,
        source_id=source_id,
        author=author,
        now=now,
    )
    return target


async def balance(account: str, *, for_update: bool = False) -> int:
    """The kept balance of an account (0 when nothing was posted); ``for_update`` locks it until commit."""
    qs = LedgerBalance.filter(account=account)
    if for_update:
        qs = qs.select_for_update()
    row = await qs.first()
    return row.balance_fen if row else 0


async def balances(accounts: Sequence[str]) -> dict[str, int]:
    rows = await LedgerBalance.filter(account__in=list(accounts)).values_list("account", "balance_fen")
    found = dict(rows)  # type: ignore[arg-type]
    return {a: found.get(a, 0) for a in accounts}


async def verify() -> list[Mismatch]:
    """Recompute every balance of the tenant from its postings and check every journal sums to zero."""
    conn = connections.get("default")
    tid = current_tenant_id()
    rows = await conn.execute_query_dict(
        "SELECT COALESCE(b.account, p.account) AS account, COALESCE(b.balance_fen, 0) AS kept,"
        " COALESCE(p.total, 0) AS posted"
        " FROM (SELECT account, balance_fen FROM ledger_balance WHERE tenant_id = $1) b"
        " FULL JOIN (SELECT account, SUM(amount_fen)::bigint AS total FROM ledger_posting WHERE tenant_id = $1"
        "            GROUP BY account) p ON p.account = b.account"
        " WHERE COALESCE(b.balance_fen, 0) <> COALESCE(p.total, 0) ORDER BY 1",
        [tid],
    )
    out = [Mismatch(r["account"], None, int(r["kept"]), int(r["posted"])) for r in rows]
    journals = await conn.execute_query_dict(
        "SELECT journal_id, SUM(amount_fen)::bigint AS total FROM ledger_posting WHERE tenant_id = $1"
        " GROUP BY journal_id HAVING SUM(amount_fen) <> 0 ORDER BY 1",
        [tid],
    )
    out += [Mismatch(None, int(r["journal_id"]), 0, int(r["total"])) for r in journals]
    return out


@dataclass(frozen=True)
class Entry:
    """A posting with its journal, for an account's history."""

    posting_id: int
    account: str
    amount_fen: int
    journal: LedgerJournal


async def read_balance(*, access: Caller, account: str) -> int:
    """``balance`` for a caller who may read the ledger."""
    require(access, "ledger.read")
    return await balance(account)


async def check(*, access: Caller) -> list[Mismatch]:
    """``verify`` for a caller who may read the ledger."""
    require(access, "ledger.read")
    return await verify()


NEWEST_POSTING = Order(("-id",), (int,))


async def history(account: str, *, access: Caller, window: Window) -> Page[Entry]:
    """A window of an account's postings, newest first (keyset on the posting id), with their journals (two
    queries); not counted (a pool's or a bond's postings only grow)."""
    require(access, "ledger.read")
    got = await page(LedgerPosting.filter(account=account), NEWEST_POSTING, window, countable=False)
    journals = {j.id: j for j in await LedgerJournal.filter(id__in=list({p.journal_id for p in got.rows}))}
    return got.with_rows([Entry(p.id, p.account, p.amount_fen, journals[p.journal_id]) for p in got.rows])


def readable_journals(caller: Caller) -> QuerySet[LedgerJournal]:
    """The tenant's journals, for a caller who may read the ledger."""
    return granted(caller, "ledger.read", LedgerJournal.all())
