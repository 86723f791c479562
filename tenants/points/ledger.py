"""The points ledger's primitives: credit a lot, spend the oldest lots first, give spent points back, expire what
is due, and check every balance. Callers run inside a tenant's transaction and decide who may do what.

Spending locks the person's balance row first, then their live lots, so two spends of one person take turns (and
the balance CHECK refuses an overdraft whatever happens). The nightly expiry (``expire_due``) writes one entry per
person and records the day it passed; a lot on or before that day is expired (it keeps what it had left, which the
entry took) and is never read as live. The run (and the voucher expiry, which gives back to many people at once)
holds the tenant's expiry lock exclusively; every other writer of points (a credit, a spend, a give-back) takes it
shared before writing anything, in a statement of its own, so none meets a many-person statement on balance rows in
another order, and each reads the day the run committed.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.errors import Conflict
from tenants.locks import advisory_lock, lock_key
from tenants.points.models import EntryKind, PointsEntry, PointsExpiryRun, PointsLot, PointsLotUse
from tenants.scope import current_tenant_id, in_scoped_transaction, savepoint

EXPIRED_REASON = "积分到期 points expired"
# The nightly expiry holds it exclusively; a spend (before its balance row) and a lot made past its day, shared.
EXPIRY_LOCK = "points_expiry"
# The last day the nightly expiry has passed (no run yet: none); a lot whose day is on or before it is expired.
THROUGH = "(SELECT COALESCE(MAX(r.through), DATE '-infinity') FROM points_expiry_run r WHERE r.tenant_id = $1)"


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


async def share_expiry_lock() -> None:
    """Take the tenant's expiry lock shared (a running nightly expiry finishes first), in a statement of its own: the
    next statement's snapshot sees what that run committed."""
    await connections.get("default").execute_query(
        "SELECT pg_advisory_xact_lock_shared(hashtext($1))", [lock_key(EXPIRY_LOCK)]
    )


async def lock_balance(person_id: int) -> int:
    """Lock a person's balance row until commit (opening it at 0) and return the balance. The tenant's expiry lock
    is taken first, shared, in the same statement (``share_expiry_lock``'s rule, one statement fewer): a spend waits
    for a running nightly expiry instead of meeting it on balance rows, and its next statement reads the run's day."""
    conn = connections.get("default")
    tid = current_tenant_id()
    await conn.execute_query(
        "INSERT INTO points_balance (tenant_id, person_id, balance)"
        " SELECT $1, $2, 0 FROM (SELECT pg_advisory_xact_lock_shared(hashtext($3))) AS expiry_lock"
        " ON CONFLICT (tenant_id, person_id) DO NOTHING",
        [tid, person_id, lock_key(EXPIRY_LOCK)],
    )
    rows = await conn.execute_query_dict(
        "SELECT balance FROM points_balance WHERE tenant_id = $1 AND person_id = $2 FOR UPDATE", [tid, person_id]
    )
    return int(rows[0]["balance"])


async def balance_of(person_id: int, *, now: datetime | None = None) -> int:
    """The points a person can spend: the kept balance less the lots whose expiry day has come and that the nightly
    run has not expired yet (one statement on two indexed rows' worth of data)."""
    today = await clock.today(now)
    rows = await connections.get("default").execute_query_dict(
        "SELECT b.balance - COALESCE((SELECT SUM(l.remaining) FROM points_lot l WHERE l.tenant_id = $1"
        f" AND l.person_id = $2 AND l.expires_on <= $3 AND l.expires_on > {THROUGH} AND l.remaining > 0), 0)"
        " AS balance"
        " FROM points_balance b WHERE b.tenant_id = $1 AND b.person_id = $2",
        [current_tenant_id(), person_id, today],
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
    fresh: bool = False,
) -> tuple[PointsEntry, bool]:
    """Insert one entry once per ``key``: (the entry, True) when made now, (the first one, False) when the key was
    used before. Only the entry: lots are the caller's (``credit``, ``spend``). ``fresh``: the caller looked the key
    up under a lock every writer of that key takes, so it is inserted straight away."""
    _require_transaction()
    fields: dict[str, Any] = dict(
        person_id=person_id, kind=kind, amount=amount, rule_code=rule_code, redemption_code=redemption_code,
        source_kind=source.kind, source_id=source.id, source_ref=source.ref[:128], reason=reason[:500],
        evidence=list(evidence), author=author, occurred_on=occurred_on, created_at=now or clock.now(),
        idempotency_key=key, reverses_id=reverses_id,
    )
    if fresh:
        return await PointsEntry.create(**fields), True
    existing = await _existing(key)
    if existing is not None:
        return existing, False
    try:
        async with savepoint():
            entry = await PointsEntry.create(**fields)
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
    fresh: bool = False,
) -> tuple[PointsEntry, bool]:
    """Earn ``amount`` points as one lot expiring on ``expires_on`` (once per ``key``; ``fresh`` as ``record``)."""
    if kind not in (EntryKind.AWARD, EntryKind.RETURN) or amount <= 0:
        raise ValueError("a credit is a positive award or return")
    # The expiry lock first, before anything is written: a running nightly expiry (which takes many people's balance
    # rows in its own order) finishes before this takes one, and the lot below reads the day that run committed.
    await share_expiry_lock()
    entry, made = await record(
        person_id=person_id, kind=kind, amount=amount, key=key, occurred_on=occurred_on, source=source,
        author=author, rule_code=rule_code, redemption_code=redemption_code, reason=reason, evidence=evidence,
        now=now, fresh=fresh,
    )
    if made:
        rows = await connections.get("default").execute_query_dict(
            "INSERT INTO points_lot (tenant_id, person_id, entry_id, amount, remaining, earned_on, expires_on)"
            f" VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id, COALESCE($6 <= {THROUGH}, false) AS passed",
            [current_tenant_id(), person_id, entry.id, amount, occurred_on, expires_on],
        )
        if rows[0]["passed"] and expires_on is not None:
            await _expire_passed_lot(person_id, int(rows[0]["id"]), amount, expires_on, now)
    return entry, made


async def _live_lots(person_id: int, first_lot: int | None) -> list[tuple[int, int, date | None]]:
    """The person's live lots, locked, in the order they are spent: ``first_lot`` and the lots its points came back
    as first, then the soonest to expire (never-expiring last), oldest first."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT id, remaining, expires_on FROM points_lot WHERE tenant_id = $1 AND person_id = $2 AND remaining > 0"
        f" AND (expires_on IS NULL OR expires_on > {THROUGH})"
        " ORDER BY (id = $3 OR origin_lot_id = $3) DESC, expires_on ASC NULLS LAST, id FOR UPDATE",
        [current_tenant_id(), person_id, first_lot or 0],
    )
    return [(int(r["id"]), int(r["remaining"]), r["expires_on"]) for r in rows]


async def _expire_lots(person_id: int, lots: Sequence[tuple[int, int, date | None]], today: date,
                       now: datetime | None) -> int:
    """Expire a person's lots whose day has come (before the nightly run reaches them: points are never spent on or
    after their expiry day), as the nightly run would; returns the points expired."""
    if not lots:
        return 0
    total, first = sum(lot[1] for lot in lots), min(lot[0] for lot in lots)
    entry, made = await record(
        person_id=person_id, kind=EntryKind.EXPIRY, amount=-total, key=f"expiry:{person_id}:{first}",
        occurred_on=today, source=Source("expiry", ref=today.isoformat()), author="system", reason=EXPIRED_REASON,
        now=now,
    )
    if made:
        await connections.get("default").execute_query(
            "UPDATE points_lot SET remaining = 0, expired_entry_id = $3"
            " WHERE tenant_id = $1 AND id = ANY($2::bigint[])",
            [current_tenant_id(), [lot[0] for lot in lots], entry.id],
        )
    return total


async def settle(person_id: int, *, first_lot: int | None = None,
                 now: datetime | None = None) -> tuple[int, list[tuple[int, int, date | None]]]:
    """Lock the person's balance and live lots, expire those whose day has come; the balance left and the lots
    that can be spent, in spending order."""
    held = await lock_balance(person_id)
    today = await clock.today(now)
    lots = await _live_lots(person_id, first_lot)
    due = [lot for lot in lots if lot[2] is not None and lot[2] <= today]
    held -= await _expire_lots(person_id, due, today, now)
    return held, [lot for lot in lots if lot[2] is None or lot[2] > today]


def _take(lots: Sequence[tuple[int, int, date | None]], amount: int) -> list[tuple[int, int]]:
    """The (lot, amount) pairs that cover ``amount`` from ``lots`` in their order."""
    taken: list[tuple[int, int]] = []
    left = amount
    for lot_id, remaining, _ in lots:
        if left == 0:
            break
        part = min(left, remaining)
        taken.append((lot_id, part))
        left -= part
    if left:  # the balance said yes but the lots say no: the ledger is inconsistent
        raise RuntimeError("the live lots hold less than the balance")
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
    ``InsufficientPoints`` (nothing written) when the balance is short. Lots whose expiry day has come are expired
    first, even before the nightly run: they are never spent."""
    if kind not in (EntryKind.REDEEM, EntryKind.REVERSAL) or amount <= 0:
        raise ValueError("a spend is a positive amount redeemed or reversed")
    _require_transaction()
    existing = await _existing(key)
    if existing is not None:
        return existing, False
    held, lots = await settle(person_id, first_lot=first_lot, now=now)
    existing = await _existing(key)  # a twin that held the lock before us
    if existing is not None:
        return existing, False
    if held < amount:
        raise InsufficientPoints(amount, held, field=field)
    taken = _take(lots, amount)
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


@dataclass(frozen=True)
class GiveBack:
    """One spending entry to give back: the RETURN entry's key, source and reason."""

    entry_id: int
    key: str
    source: Source
    reason: str = ""


async def give_back_all(
    items: Sequence[GiveBack], *, occurred_on: date, author: str, now: datetime | None = None
) -> set[str]:
    """Return what each spending entry took, as new lots with the expiry of the lots it took from: one RETURN entry
    per item, once per key; a returned lot whose day the nightly run has already passed (it never looks back) is
    expired at once with its EXPIRY entry (``expiry:lot:{id}``). Three statements whatever the count (a cancel, or
    a night's expired vouchers). Returns the keys given back now (not before). The tenant's expiry lock is taken
    shared first, as a spend does: a running nightly expiry finishes first."""
    _require_transaction()
    if not items:
        return set()
    conn = connections.get("default")
    tid = current_tenant_id()
    at = now or clock.now()
    await share_expiry_lock()
    through = await expired_through()  # read after the lock: a run that held it has committed its day
    made = await conn.execute_query_dict(
        """
        WITH v AS (
            SELECT * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[])
                WITH ORDINALITY AS v(spend_entry_id, key, source_kind, source_id, source_ref, reason, n)
        ), returned AS (
            INSERT INTO points_entry (tenant_id, person_id, kind, amount, redemption_code, source_kind, source_id,
                                      source_ref, reason, evidence, author, occurred_on, created_at, idempotency_key)
            SELECT $1, e.person_id, 'return', -e.amount, e.redemption_code, v.source_kind, v.source_id, v.source_ref,
                   v.reason, '[]'::jsonb, $8, $9, $10, v.key
            FROM v JOIN points_entry e ON e.tenant_id = $1 AND e.id = v.spend_entry_id
                                          AND e.kind IN ('redeem', 'reversal')
            ORDER BY v.n
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING id, person_id, idempotency_key
        ), lots AS (
            INSERT INTO points_lot (tenant_id, person_id, entry_id, amount, remaining, earned_on, expires_on,
                                    origin_lot_id)
            SELECT $1, r.person_id, r.id, u.amount, u.amount, l.earned_on, l.expires_on, COALESCE(l.origin_lot_id, l.id)
            FROM returned r JOIN v ON v.key = r.idempotency_key
            JOIN points_lot_use u ON u.tenant_id = $1 AND u.entry_id = v.spend_entry_id
            JOIN points_lot l ON l.tenant_id = $1 AND l.id = u.lot_id
            ORDER BY r.id, u.id
            RETURNING id
        )
        SELECT idempotency_key AS key FROM returned
        """,
        [tid, [g.entry_id for g in items], [g.key for g in items], [g.source.kind for g in items],
         [g.source.id for g in items], [g.source.ref[:128] for g in items], [g.reason[:500] for g in items],
         author, occurred_on, at],
    )
    keys = {str(r["key"]) for r in made}
    await conn.execute_query(
        """
        WITH past AS (
            SELECT l.id, l.person_id, l.remaining, l.expires_on FROM points_lot l
            JOIN points_entry e ON e.tenant_id = $1 AND e.id = l.entry_id
            WHERE l.tenant_id = $1 AND e.idempotency_key = ANY($2::text[]) AND e.kind = 'return'
              AND l.expires_on <= $3 AND l.remaining > 0
        ), expiries AS (
            INSERT INTO points_entry (tenant_id, person_id, kind, amount, source_kind, source_ref, reason, evidence,
                                      author, occurred_on, created_at, idempotency_key)
            SELECT $1, person_id, 'expiry', -remaining, 'expiry', expires_on::text, $4, '[]'::jsonb, 'system', $5, $6,
                   'expiry:lot:' || id
            FROM past ORDER BY id
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING id, substr(idempotency_key, 12)::bigint AS lot_id
        )
        UPDATE points_lot l SET remaining = 0, expired_entry_id = x.id
        FROM expiries x WHERE l.tenant_id = $1 AND l.id = x.lot_id
        """,
        [tid, sorted(keys), through, EXPIRED_REASON, occurred_on, at],
    )
    return keys


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
    """``give_back_all`` of one spending entry: (the RETURN entry, whether it was made now)."""
    made = await give_back_all([GiveBack(entry_id, key, source, reason)], occurred_on=occurred_on, author=author,
                               now=now)
    return await PointsEntry.get(idempotency_key=key), key in made


async def _expire_passed_lot(person_id: int, lot_id: int, amount: int, expires_on: date,
                             now: datetime | None) -> None:
    """Expire at once a lot just made with a day the nightly run has already passed (an award backdated past a short
    expiry): the run never looks behind its last day again."""
    entry, made = await record(
        person_id=person_id, kind=EntryKind.EXPIRY, amount=-amount, key=f"expiry:lot:{lot_id}",
        occurred_on=await clock.today(now), source=Source("expiry", ref=expires_on.isoformat()), author="system",
        reason=EXPIRED_REASON, now=now,
    )
    if made:
        await PointsLot.filter(id=lot_id).update(remaining=0, expired_entry_id=entry.id)


async def expired_through() -> date | None:
    """The last day the nightly expiry has passed: every lot whose day is on or before it is expired."""
    last = await PointsExpiryRun.all().order_by("-through").first()
    return last.through if last is not None else None


async def expired_of(lot: PointsLot) -> int:
    """What of a lot's points has expired, wherever they went: the lot itself, and the lots its points came back as
    (cancelled vouchers), each either emptied by its expiry (its amount less what was taken from it) or passed by a
    nightly run (what it had left)."""
    rows = await connections.get("default").execute_query_dict(
        f"""
        SELECT COALESCE(SUM(CASE
            WHEN l.expired_entry_id IS NOT NULL THEN l.amount - COALESCE((SELECT SUM(u.amount) FROM points_lot_use u
                                                   WHERE u.tenant_id = $1 AND u.lot_id = l.id), 0)
            WHEN l.expires_on <= {THROUGH} THEN l.remaining ELSE 0 END), 0)::bigint AS expired
        FROM points_lot l WHERE l.tenant_id = $1 AND (l.id = $2 OR l.origin_lot_id = $2)
        """,
        [current_tenant_id(), lot.origin_lot_id or lot.id],
    )
    return int(rows[0]["expired"])


async def expire_due(today: date, *, now: datetime | None = None) -> int:
    """Expire every live lot whose expiry day has come since the last run (``expires_on`` after its ``through``, on
    or before ``today``): one expiry entry per person taking what all of their due lots have left, and the run
    recorded with ``through = today``. The lots are not rewritten: a lot whose day is on or before the last run's
    ``through`` is expired (it keeps what it had left then, which its holder's expiry entry took), so a night of a
    million lots writes one entry per person and nothing per lot. Runs of a tenant take turns; a second run of the
    day finds nothing. Returns the number of lots expired."""
    _require_transaction()
    conn = connections.get("default")
    tid = current_tenant_id()
    at = now or clock.now()
    await advisory_lock(EXPIRY_LOCK, conn=conn)  # per tenant
    await conn.execute_query("SET LOCAL work_mem = '64MB'")  # a million due lots aggregate in memory
    since = await expired_through() or date.min
    if today <= since:
        return 0
    _, rows = await conn.execute_query(
        """
        WITH per_person AS (
            SELECT person_id, SUM(remaining)::int AS total, MIN(id) AS first_lot, count(*) AS lots FROM points_lot
            WHERE tenant_id = $1 AND expires_on > $5 AND expires_on <= $2 AND remaining > 0
            GROUP BY person_id
        ), entries AS (
            INSERT INTO points_entry (tenant_id, person_id, kind, amount, source_kind, source_ref, reason, evidence,
                                      author, occurred_on, created_at, idempotency_key)
            SELECT $1, person_id, 'expiry', -total, 'expiry', 'run:' || $2::date::text, $4, '[]'::jsonb, 'system', $2,
                   $3, 'expiry:' || person_id || ':' || first_lot
            FROM per_person
            RETURNING 1
        )
        SELECT COALESCE(SUM(lots), 0)::int AS lots, (SELECT count(*) FROM entries)::int AS people FROM per_person
        """,
        [tid, today, at, EXPIRED_REASON, since],
    )
    lots, people = int(rows[0]["lots"]), int(rows[0]["people"])
    await PointsExpiryRun.create(through=today, lots=lots, people=people, ran_at=at)
    return lots


@dataclass(frozen=True)
class PointsMismatch:
    """A figure the ledger keeps that its entries do not give: a balance (against the entries and the live lots), a
    period's earned total, what a spending or expiry entry took from its lots, what a lot has left."""

    person_id: int
    kept: int
    entries: int
    lots: int
    what: str = "balance"  # balance | period:<key> | entry:<id> | lot:<id>


_USED = "SELECT lot_id, SUM(amount)::bigint AS used FROM points_lot_use WHERE tenant_id = $1 GROUP BY lot_id"


async def verify() -> list[PointsMismatch]:
    """Recompute the tenant's points figures from its entries (pointsCheck): every balance (from the entries and from
    the live lots), every period total (from the awards and reversals), every spend (from the lot uses), every
    expiry (from what its lots had left) and every live lot's remainder (its amount less what was taken)."""
    conn = connections.get("default")
    tid = current_tenant_id()
    rows = await conn.execute_query_dict(
        f"""
        SELECT COALESCE(b.person_id, e.person_id, l.person_id) AS person_id, COALESCE(b.balance, 0) AS kept,
               COALESCE(e.total, 0) AS entries, COALESCE(l.total, 0) AS lots
        FROM (SELECT person_id, balance FROM points_balance WHERE tenant_id = $1) b
        FULL JOIN (SELECT person_id, SUM(amount)::bigint AS total FROM points_entry WHERE tenant_id = $1
                   GROUP BY person_id) e ON e.person_id = b.person_id
        FULL JOIN (SELECT person_id, SUM(remaining)::bigint AS total FROM points_lot WHERE tenant_id = $1
                   AND (expires_on IS NULL OR expires_on > {THROUGH}) GROUP BY person_id) l
          ON l.person_id = COALESCE(b.person_id, e.person_id)
        WHERE COALESCE(b.balance, 0) <> COALESCE(e.total, 0) OR COALESCE(b.balance, 0) <> COALESCE(l.total, 0)
        ORDER BY 1
        """,
        [tid],
    )
    out = [PointsMismatch(int(r["person_id"]), int(r["kept"]), int(r["entries"]), int(r["lots"])) for r in rows]
    periods = await conn.execute_query_dict(
        """
        SELECT COALESCE(t.person_id, e.person_id) AS person_id, COALESCE(t.period_key, e.period_key) AS period_key,
               COALESCE(t.earned, 0) AS kept, COALESCE(e.total, 0) AS entries
        FROM (SELECT person_id, period_key, earned FROM points_period_total WHERE tenant_id = $1) t
        FULL JOIN (SELECT x.person_id, p.k AS period_key, SUM(x.amount)::bigint AS total FROM points_entry x,
                          LATERAL (VALUES (to_char(x.occurred_on, 'YYYY-MM')), (to_char(x.occurred_on, 'YYYY"Q"Q')),
                                          (to_char(x.occurred_on, 'YYYY'))) AS p(k)
                   WHERE x.tenant_id = $1 AND x.kind IN ('award', 'reversal') GROUP BY x.person_id, p.k) e
          ON e.person_id = t.person_id AND e.period_key = t.period_key
        WHERE COALESCE(t.earned, 0) <> COALESCE(e.total, 0) ORDER BY 1, 2
        """,
        [tid],
    )
    out += [PointsMismatch(int(r["person_id"]), int(r["kept"]), int(r["entries"]), 0, f"period:{r['period_key']}")
            for r in periods]
    taken = await conn.execute_query_dict(
        f"""
        SELECT e.person_id, e.id, -e.amount AS kept,
               CASE WHEN e.kind <> 'expiry' THEN COALESCE(u.total, 0)
                    WHEN run.through IS NOT NULL THEN COALESCE(night.total, 0) ELSE COALESCE(x.total, 0) END AS lots
        FROM points_entry e
        LEFT JOIN (SELECT entry_id, SUM(amount)::bigint AS total FROM points_lot_use WHERE tenant_id = $1
                   GROUP BY entry_id) u ON u.entry_id = e.id
        LEFT JOIN (SELECT l.expired_entry_id, SUM(l.amount - COALESCE(used.used, 0))::bigint AS total
                   FROM points_lot l LEFT JOIN ({_USED}) used ON used.lot_id = l.id
                   WHERE l.tenant_id = $1 AND l.expired_entry_id IS NOT NULL GROUP BY l.expired_entry_id) x
          ON x.expired_entry_id = e.id
        LEFT JOIN (SELECT r.through, LAG(r.through) OVER (ORDER BY r.through) AS since FROM points_expiry_run r
                   WHERE r.tenant_id = $1) run ON e.kind = 'expiry' AND e.source_ref = 'run:' || run.through::text
        LEFT JOIN LATERAL (SELECT SUM(l.remaining)::bigint AS total FROM points_lot l
                           WHERE l.tenant_id = $1 AND l.person_id = e.person_id AND l.expired_entry_id IS NULL
                             AND l.expires_on > COALESCE(run.since, DATE '-infinity') AND l.expires_on <= run.through
                             AND run.through IS NOT NULL) night ON true
        WHERE e.tenant_id = $1 AND e.kind IN ('redeem', 'reversal', 'expiry')
          AND -e.amount <> CASE WHEN e.kind <> 'expiry' THEN COALESCE(u.total, 0)
                                WHEN run.through IS NOT NULL THEN COALESCE(night.total, 0)
                                ELSE COALESCE(x.total, 0) END
        ORDER BY e.id
        """,
        [tid],
    )
    out += [PointsMismatch(int(r["person_id"]), int(r["kept"]), int(r["kept"]), int(r["lots"]), f"entry:{r['id']}")
            for r in taken]
    lots = await conn.execute_query_dict(
        f"""
        SELECT l.person_id, l.id, l.remaining, l.amount - COALESCE(used.used, 0) AS left_over
        FROM points_lot l LEFT JOIN ({_USED}) used ON used.lot_id = l.id
        WHERE l.tenant_id = $1 AND l.expired_entry_id IS NULL AND l.remaining <> l.amount - COALESCE(used.used, 0)
        ORDER BY l.id
        """,
        [tid],
    )
    out += [PointsMismatch(int(r["person_id"]), int(r["remaining"]), int(r["left_over"]), int(r["remaining"]),
                           f"lot:{r['id']}") for r in lots]
    return out
