"""The points ledger's primitives: credit a lot, spend the oldest lots first, give spent points back, expire what
is due, and check every balance. Callers run inside a tenant's transaction and decide who may do what.

Spending locks the person's balance row first, then their live lots, so two spends of one person take turns (and
the balance CHECK refuses an overdraft whatever happens). The nightly expiry takes the balance rows of everyone it
expires in the same order (by person) before their lots, so it cannot deadlock with a spend.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from tortoise import connections
from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.errors import Conflict
from tenants.points.models import EntryKind, PointsEntry, PointsLot, PointsLotUse
from tenants.scope import current_tenant_id, in_scoped_transaction, savepoint


class InsufficientPoints(Conflict):
    code = "INSUFFICIENT_POINTS"

    def __init__(self, needed: int, balance: int, *, field: str = "redemption") -> None:
        short = needed - balance
        super().__init__(
            f"积分不足：需要 {needed} 分，现有 {balance} 分，还差 {short} 分",
            f"not enough points: {needed} needed, {balance} held, {short} short",
            field=field,
            details={"needed": needed, "balance": balance, "shortfall": short},
        )


def expiry_day(earned_on: date, months: int) -> date | None:
    """The first day points earned on ``earned_on`` are no longer good: ``months`` calendar months later, the same
    day of the month (the month's last day when it has no such day); None when points never expire (0)."""
    if months <= 0:
        return None
    index = earned_on.year * 12 + earned_on.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(earned_on.day, calendar.monthrange(year, month)[1]))


def _require_transaction() -> None:
    if not in_scoped_transaction():
        raise RuntimeError("change points inside a tenant transaction")


async def _existing(key: str) -> PointsEntry | None:
    return await PointsEntry.get_or_none(idempotency_key=key)


async def lock_balance(person_id: int) -> int:
    """Lock a person's balance row until commit (opening it at 0) and return the balance."""
    conn = connections.get("default")
    tid = current_tenant_id()
    await conn.execute_query(
        "INSERT INTO points_balance (tenant_id, person_id, balance) VALUES ($1, $2, 0)"
        " ON CONFLICT (tenant_id, person_id) DO NOTHING",
        [tid, person_id],
    )
    rows = await conn.execute_query_dict(
        "SELECT balance FROM points_balance WHERE tenant_id = $1 AND person_id = $2 FOR UPDATE", [tid, person_id]
    )
    return int(rows[0]["balance"])


async def balance_of(person_id: int) -> int:
    rows = await connections.get("default").execute_query_dict(
        "SELECT balance FROM points_balance WHERE tenant_id = $1 AND person_id = $2",
        [current_tenant_id(), person_id],
    )
    return int(rows[0]["balance"]) if rows else 0


@dataclass(frozen=True)
class Source:
    """Where an entry comes from: a ticket, a manual award, an activity, a voucher, ..."""

    kind: str
    id: int | None = None
    ref: str = ""


async def record(
    *,
    person_id: int,
    kind: EntryKind,
    amount: int,
    key: str,
    occurred_on: date,
    source: Source,
    author: str,
    rule_code: str | None = None,
    redemption_code: str | None = None,
    reason: str = "",
    evidence: Sequence[str] = (),
    reverses_id: int | None = None,
    now: datetime | None = None,
) -> tuple[PointsEntry, bool]:
    """Insert one entry once per ``key``: (the entry, True) when made now, (the first one, False) when the key was
    used before. Only the entry: lots are the caller's (``credit``, ``spend``)."""
    _require_transaction()
    existing = await _existing(key)
    if existing is not None:
        return existing, False
    try:
        async with savepoint():
            entry = await PointsEntry.create(
                person_id=person_id,
                kind=kind,
                amount=amount,
                rule_code=rule_code,
                redemption_code=redemption_code,
                source_kind=source.kind,
                source_id=source.id,
                source_ref=source.ref[:128],
                reason=reason[:500],
                evidence=list(evidence),
                author=author,
                occurred_on=occurred_on,
                created_at=now or clock.now(),
                idempotency_key=key,
                reverses_id=reverses_id,
            )
            return entry, True
    except IntegrityError:
        existing = await _existing(key)
        if existing is None:
            raise
        return existing, False


async def credit(
    *,
    person_id: int,
    amount: int,
    key: str,
    occurred_on: date,
    expires_on: date | None,
    source: Source,
    author: str,
    kind: EntryKind = EntryKind.AWARD,
    rule_code: str | None = None,
    redemption_code: str | None = None,
    reason: str = "",
    evidence: Sequence[str] = (),
    now: datetime | None = None,
) -> tuple[PointsEntry, bool]:
    """Earn ``amount`` points as one lot expiring on ``expires_on`` (once per ``key``)."""
    if kind not in (EntryKind.AWARD, EntryKind.RETURN) or amount <= 0:
        raise ValueError("a credit is a positive award or return")
    entry, made = await record(
        person_id=person_id, kind=kind, amount=amount, key=key, occurred_on=occurred_on, source=source,
        author=author, rule_code=rule_code, redemption_code=redemption_code, reason=reason, evidence=evidence,
        now=now,
    )
    if made:
        await PointsLot.create(
            person_id=person_id, entry_id=entry.id, amount=amount, remaining=amount, earned_on=occurred_on,
            expires_on=expires_on,
        )
    return entry, made


async def _take(person_id: int, amount: int, first_lot: int | None) -> list[tuple[int, int]]:
    """The (lot, amount) pairs that cover ``amount`` from the person's live lots: ``first_lot`` first, then the
    soonest to expire (never-expiring last), oldest first."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT id, remaining FROM points_lot WHERE tenant_id = $1 AND person_id = $2 AND remaining > 0"
        " ORDER BY (id = $3) DESC, expires_on ASC NULLS LAST, id FOR UPDATE",
        [current_tenant_id(), person_id, first_lot or 0],
    )
    taken: list[tuple[int, int]] = []
    left = amount
    for row in rows:
        if left == 0:
            break
        part = min(left, int(row["remaining"]))
        taken.append((int(row["id"]), part))
        left -= part
    if left:  # the balance said yes but the lots say no: the ledger is inconsistent
        raise RuntimeError(f"person {person_id}'s live lots hold less than their balance")
    return taken


async def spend(
    *,
    person_id: int,
    amount: int,
    key: str,
    occurred_on: date,
    source: Source,
    author: str,
    kind: EntryKind = EntryKind.REDEEM,
    rule_code: str | None = None,
    redemption_code: str | None = None,
    reason: str = "",
    reverses_id: int | None = None,
    first_lot: int | None = None,
    field: str = "redemption",
    now: datetime | None = None,
) -> tuple[PointsEntry, bool]:
    """Spend ``amount`` points from the oldest lots (``first_lot`` first), once per ``key``; raises
    ``InsufficientPoints`` (nothing written) when the balance is short."""
    if kind not in (EntryKind.REDEEM, EntryKind.REVERSAL) or amount <= 0:
        raise ValueError("a spend is a positive amount redeemed or reversed")
    _require_transaction()
    existing = await _existing(key)
    if existing is not None:
        return existing, False
    held = await lock_balance(person_id)
    existing = await _existing(key)  # a twin that held the lock before us
    if existing is not None:
        return existing, False
    if held < amount:
        raise InsufficientPoints(amount, held, field=field)
    taken = await _take(person_id, amount, first_lot)
    entry, made = await record(
        person_id=person_id, kind=kind, amount=-amount, key=key, occurred_on=occurred_on, source=source,
        author=author, rule_code=rule_code, redemption_code=redemption_code, reason=reason,
        reverses_id=reverses_id, now=now,
    )
    if made:
        await _use(entry.id, taken)
    return entry, made


async def _use(entry_id: int, taken: Sequence[tuple[int, int]]) -> None:
    conn = connections.get("default")
    await conn.execute_query(
        "UPDATE points_lot l SET remaining = l.remaining - u.amount"
        " FROM unnest($2::bigint[], $3::int[]) AS u(id, amount) WHERE l.tenant_id = $1 AND l.id = u.id",
        [current_tenant_id(), [t[0] for t in taken], [t[1] for t in taken]],
    )
    await PointsLotUse.bulk_create([PointsLotUse(entry_id=entry_id, lot_id=lot, amount=part) for lot, part in taken])


async def give_back(
    *,
    entry_id: int,
    key: str,
    occurred_on: date,
    source: Source,
    author: str,
    reason: str = "",
    now: datetime | None = None,
) -> tuple[PointsEntry, bool]:
    """Return what a spending entry took, as new lots with the expiry of the lots it took from (once per key).
    A returned lot already past its expiry is expired by the next nightly run."""
    spent = await PointsEntry.get(id=entry_id)
    uses = await PointsLotUse.filter(entry_id=entry_id).order_by("id").values_list("lot_id", "amount")
    lots = {
        lot.id: lot for lot in await PointsLot.filter(id__in=[u[0] for u in uses])  # type: ignore[misc]
    }
    entry, made = await record(
        person_id=spent.person_id, kind=EntryKind.RETURN, amount=-spent.amount, key=key, occurred_on=occurred_on,
        source=source, author=author, redemption_code=spent.redemption_code, reason=reason, now=now,
    )
    if made:
        await PointsLot.bulk_create(
            [
                PointsLot(
                    person_id=spent.person_id, entry_id=entry.id, amount=part, remaining=part,
                    earned_on=lots[lot_id].earned_on, expires_on=lots[lot_id].expires_on,
                )
                for lot_id, part in uses  # type: ignore[misc]
            ]
        )
    return entry, made


async def expire_due(today: date, *, now: datetime | None = None) -> int:
    """Expire every live lot whose expiry day has come (``expires_on <= today``): one expiry entry per person
    taking all of their due lots, each lot marked with it. Set-based (three statements whatever the count); a
    second run finds nothing left to expire. Returns the number of lots expired."""
    _require_transaction()
    conn = connections.get("default")
    tid = current_tenant_id()
    # The balance rows first, in person order: the same order a spend takes them (one at a time).
    await conn.execute_query(
        "SELECT 1 FROM points_balance b WHERE b.tenant_id = $1 AND b.person_id IN ("
        " SELECT DISTINCT person_id FROM points_lot WHERE tenant_id = $1 AND remaining > 0 AND expires_on <= $2)"
        " ORDER BY b.person_id FOR UPDATE OF b",
        [tid, today],
    )
    _, rows = await conn.execute_query(
        """
        WITH per_person AS (
            SELECT person_id, SUM(remaining)::int AS total, MIN(id) AS first_lot FROM points_lot
            WHERE tenant_id = $1 AND remaining > 0 AND expires_on <= $2
            GROUP BY person_id
        ), entries AS (
            INSERT INTO points_entry (tenant_id, person_id, kind, amount, source_kind, source_ref, reason, evidence,
                                      author, occurred_on, created_at, idempotency_key)
            SELECT $1, person_id, 'expiry', -total, 'expiry', $2::date::text, $4, '[]'::jsonb, 'system', $2, $3,
                   'expiry:' || person_id || ':' || first_lot
            FROM per_person
            RETURNING id, person_id
        ), marked AS (
            -- the same due lots (one snapshot), found by the partial index points_lot_due rather than by joining
            -- a list of them to every lot of the tenant
            UPDATE points_lot l SET remaining = 0, expired_entry_id = e.id
            FROM entries e
            WHERE l.tenant_id = $1 AND l.remaining > 0 AND l.expires_on <= $2 AND l.person_id = e.person_id
            RETURNING l.id
        )
        SELECT count(*)::bigint AS lots FROM marked
        """,
        [tid, today, now or clock.now(), "积分到期 points expired"],
    )
    return int(rows[0]["lots"])


@dataclass(frozen=True)
class PointsMismatch:
    """A person whose kept balance differs from the sum of their entries or of their live lots."""

    person_id: int
    kept: int
    entries: int
    lots: int


async def verify() -> list[PointsMismatch]:
    """Recompute every balance of the tenant from its entries and from its live lots (pointsCheck)."""
    rows = await connections.get("default").execute_query_dict(
        """
        SELECT COALESCE(b.person_id, e.person_id, l.person_id) AS person_id, COALESCE(b.balance, 0) AS kept,
               COALESCE(e.total, 0) AS entries, COALESCE(l.total, 0) AS lots
        FROM (SELECT person_id, balance FROM points_balance WHERE tenant_id = $1) b
        FULL JOIN (SELECT person_id, SUM(amount)::bigint AS total FROM points_entry WHERE tenant_id = $1
                   GROUP BY person_id) e ON e.person_id = b.person_id
        FULL JOIN (SELECT person_id, SUM(remaining)::bigint AS total FROM points_lot WHERE tenant_id = $1
                   GROUP BY person_id) l ON l.person_id = COALESCE(b.person_id, e.person_id)
        WHERE COALESCE(b.balance, 0) <> COALESCE(e.total, 0) OR COALESCE(b.balance, 0) <> COALESCE(l.total, 0)
        ORDER BY 1
        """,
        [current_tenant_id()],
    )
    return [PointsMismatch(int(r["person_id"]), int(r["kept"]), int(r["entries"]), int(r["lots"])) for r in rows]
