"""Redeeming points for a voucher 兑换券, verifying it once, cancelling it, expiring it.

Redeeming (``redeem``) happens in one savepoint: the holder's balance row is locked first (so one person's
redemptions take turns, and the monthly limit counted under it holds), the item's stock counter is taken by a
conditional update (never oversold), the points are spent oldest lot first (``ledger.spend``), and a money item
reserves its value from the points fund (``points_fund -> points_reserved:{voucher}``); any refusal leaves
nothing behind. The voucher's id is drawn first, so its REDEEM entry names it (source: the id and the masked code).
Journal reasons and audit details name a voucher by id and masked code (``#12 ********PBPG``), never its code.
Verifying (``verify``) locks the voucher row and moves it issued -> used once; the reserve goes
to the household's fee credit with its company or to the partner's payable; a caller who may not verify a voucher
is told there is no such code (NOT_FOUND), whatever its status. Cancelling gives the points back as new lots with
their original expiry (``ledger.give_back``), the stock back, then the reserve back to the fund (a redemption's
order: balance, stock, fund, so the two never deadlock); expiring does the
same for every due voucher at once, set-based (``expire_vouchers``): expired vouchers return their points like
cancelled ones, the holder got nothing for them.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.audit import service as audit
from tenants.audit.models import AuditEntry
from tenants.config.document import Redemption
from tenants.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound, Noun, Problem
from tenants.idempotency import idempotent, key_problems
from tenants.ledger import accounts
from tenants.ledger import service as money
from tenants.locks import advisory_lock
from tenants.paging import Page, Window, newest_first
from tenants.periods import local_midnight
from tenants.permissions import require
from tenants.points import ledger as points_ledger
from tenants.points.catalogue import find, in_window, used_this_month
from tenants.points.config import points_config
from tenants.points.voucher_access import masked, own_person, partners_of, readable_vouchers
from tenants.points.voucher_models import Voucher, VoucherStatus
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.roles import Role
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.models import Household
from tenants.territory.parties import Partner, PartnerKind, PropertyContract
from tenants.territory.people import Person

# No 0/O, 1/I/L: a code read out over a counter or typed from a photo is never ambiguous.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 12
PARTNER_KINDS = ("merchant", "canteen")

VOUCHER = Noun(
    "兑换券", "voucher",
    {"issued": "未使用", "used": "已使用", "cancelled": "已取消", "expired": "已过期"},
    {"verify": "核销", "cancel": "取消", "expire": "过期"},
    field="code", state_key="status", code="CONFLICT",
)


class OutOfStock(Conflict):
    code = "OUT_OF_STOCK"


class MonthlyLimitReached(Conflict):
    code = "MONTHLY_LIMIT_REACHED"


class NotRedeemable(Conflict):
    code = "NOT_REDEEMABLE"


class PointsFundShort(Conflict):
    code = "POINTS_FUND_SHORT"


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalised(code: str) -> str | None:
    """A code as typed (any case, spaces or dashes between groups) in its stored form; None if it cannot be one."""
    clean = code.replace(" ", "").replace("-", "").upper()
    return clean if len(clean) == CODE_LENGTH and all(c in ALPHABET for c in clean) else None


def label(voucher_id: int, code: str) -> str:
    """How a journal reason or an audit names a voucher: its id and the last four of its code (a live code is the
    voucher: it is never written where others read it)."""
    return f"#{voucher_id} {masked(code)}"


def source(voucher_id: int, code: str) -> points_ledger.Source:
    """The points entries of a voucher (its REDEEM, its RETURN) point at it: id and masked code."""
    return points_ledger.Source("voucher", voucher_id, masked(code))


async def _next_voucher_id() -> int:
    """The id the voucher will get, drawn before its points are spent so the REDEEM entry names it (one
    transaction: a refusal after this only leaves a gap in the sequence)."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT nextval(pg_get_serial_sequence('points_voucher', 'id')) AS id"
    )
    return int(rows[0]["id"])


def holds_money(value_fen: int, kind: str, partner_kind: str | None) -> bool:
    """Whether a voucher holds money in reserve: a money value with someone to pay (a household's company, a
    partner). A ``service`` or ``goods`` item without a partner moves no money."""
    return value_fen > 0 and (kind == "fee_reduction" or partner_kind is not None)


def reserves(v: Voucher) -> bool:
    return holds_money(v.value_fen, v.kind, v.partner_kind)


async def holder(access: Access) -> Person:
    person = await own_person(access).first()
    if person is None:
        raise Forbidden("您在本地区没有人员档案，不能兑换积分", "you have no person record here to redeem points")
    return person


async def _household_and_company(access: Access, person: Person, household_id: int | None, day) -> tuple[int, int]:
    hid = household_id if household_id is not None else person.household_id
    if hid is None:
        raise InvalidInput.of(
            [Problem("householdId", "required", "物业费减免须指定住户", "a fee reduction needs a household")]
        )
    if hid != person.household_id and hid not in access.nodes.get("household", frozenset()):
        raise InvalidInput.of(
            [Problem("householdId", "not_yours", "只能为本人住户减免物业费", "a fee reduction is for your household")]
        )
    household = await Household.get_or_none(id=hid)
    if household is None:
        raise NotFound("住户不存在", "no such household", field="householdId")
    contract = (
        await PropertyContract.filter(compound_id=household.compound_id, starts_on__lte=day, ends_on__gte=day)
        .order_by("-starts_on")
        .first()
    )
    if contract is None:
        raise NotRedeemable(
            "该住户所在小区当前没有物业服务合同，不能减免物业费",
            "the household's compound has no current property contract: nothing to reduce",
            field="householdId",
        )
    return hid, contract.company_id


async def _partner(item: Redemption, partner_id: int | None) -> Partner | None:
    """The partner that honours the voucher: the item's fixed one, the one named, or None (any active partner of
    the item's kind, bound at verification)."""
    if partner_id is not None and item.kind not in PARTNER_KINDS:
        raise InvalidInput.of([Problem("partnerId", "kind", f"{item.kind}类项目不能指定商户",
                                       f"a {item.kind} item is not honoured by a partner of your choice")])
    if item.partner is not None:
        partner = await Partner.get_or_none(code=item.partner)
        if partner is None or not partner.is_active:
            raise NotRedeemable(f"兑换项目的合作商户 {item.partner} 暂停服务", f"partner {item.partner} is not active",
                                field="redemption")
        if partner_id is not None and partner_id != partner.id:
            raise InvalidInput.of([Problem("partnerId", "fixed", "该项目只能在指定商户兑换",
                                           "this item is honoured by its own partner only")])
        return partner
    if partner_id is None:
        return None
    partner = await Partner.get_or_none(id=partner_id)
    if partner is None:
        raise NotFound("商户不存在", "no such partner", field="partnerId")
    if not partner.is_active:
        raise NotRedeemable("该商户已暂停服务", "this partner is not active", field="partnerId")
    if item.kind in PARTNER_KINDS and partner.kind.value != item.kind:
        raise InvalidInput.of([Problem("partnerId", "kind", f"该项目须在{item.kind}类商户兑换",
                                       f"this item is honoured by a {item.kind}, not a {partner.kind.value}")])
    return partner


async def _take_stock(item: Redemption) -> None:
    conn = connections.get("default")
    tid = current_tenant_id()
    await conn.execute_query(
        "INSERT INTO points_redemption_stock (tenant_id, redemption_code, taken) VALUES ($1, $2, 0)"
        " ON CONFLICT (tenant_id, redemption_code) DO NOTHING",
        [tid, item.code],
    )
    rows = await conn.execute_query_dict(
        "UPDATE points_redemption_stock SET taken = taken + 1"
        " WHERE tenant_id = $1 AND redemption_code = $2 AND taken < $3 RETURNING taken",
        [tid, item.code, item.stock],
    )
    if not rows:
        raise OutOfStock(f"{item.title} 已兑完", f"{item.code} is out of stock", field="redemption",
                         details={"stock": item.stock})


def _check_window(item: Redemption, day) -> None:
    if not in_window(item, day):
        since = f"{item.valid_from or '…'}..{item.valid_until or '…'}"
        raise NotRedeemable(f"{item.title} 仅在 {since} 可兑换", f"{item.code} can be redeemed {since} only",
                            field="redemption", details={"validFrom": str(item.valid_from or ""),
                                                         "validUntil": str(item.valid_until or "")})


@idempotent("redeemPoints", Voucher)
async def redeem(
    *,
    access: Access,
    actor: str,
    redemption: str,
    household_id: int | None = None,
    partner_id: int | None = None,
    now: datetime | None = None,
) -> Voucher:
    """Spend the caller's points on one catalogue item and issue its voucher."""
    require(access, "points.redeem")
    at = now or clock.now()
    async with savepoint():
        zone = await current_zone()
        day = clock.local_day(at, zone)
        item = find(await points_config(day, field="redemption"), redemption)
        _check_window(item, day)
        person = await holder(access)
        household, company = (None, None)
        if item.kind == "fee_reduction":
            household, company = await _household_and_company(access, person, household_id, day)
        if item.kind == "fee_reduction" and partner_id is not None:
            raise InvalidInput.of([Problem("partnerId", "kind", "物业费减免不能指定商户",
                                           "a fee reduction is not honoured by a partner")])
        partner = await _partner(item, partner_id) if item.kind != "fee_reduction" else None
        # The holder's balance row first: their redemptions take turns from here (the monthly count holds). Lots
        # whose expiry day has come are expired first: a shortfall never counts them.
        held, _ = await points_ledger.settle(person.id, now=at)
        if item.monthly_limit is not None:
            used = (await used_this_month(person.id, day, [item.code])).get(item.code, 0)
            if used >= item.monthly_limit:
                raise MonthlyLimitReached(
                    f"{item.title} 每人每月限兑 {item.monthly_limit} 次，本月已兑完",
                    f"{item.code} is limited to {item.monthly_limit} a month; you have used them all",
                    field="redemption", details={"monthlyLimit": item.monthly_limit},
                )
        if held < item.cost_points:
            raise points_ledger.InsufficientPoints(item.cost_points, held)
        if item.stock is not None:
            await _take_stock(item)
        code = new_code()
        voucher_id = await _next_voucher_id()
        spent, _ = await points_ledger.spend(
            person_id=person.id, amount=item.cost_points, key=f"voucher:{voucher_id}", occurred_on=day,
            source=source(voucher_id, code), author=actor, redemption_code=item.code,
            reason=f"兑换 {item.title} / redeemed {item.code}: 兑换券 {label(voucher_id, code)}", now=at,
        )
        partner_kind = item.kind if item.kind in PARTNER_KINDS else (partner.kind.value if partner else None)
        try:
            async with savepoint():
                voucher = await Voucher.create(
                    id=voucher_id, code=code, person_id=person.id, redemption_code=item.code, kind=item.kind,
                    title=item.title,
                    cost_points=item.cost_points, value_fen=item.value_fen, household_id=household,
                    company_id=company, partner_id=partner.id if partner else None, partner_kind=partner_kind,
                    spend_entry_id=spent.id, issued_at=at, issued_on=day,
                    expires_at=local_midnight(day + timedelta(days=item.voucher_days + 1), zone),
                    idempotency_key=f"voucher:{code}",
                )
        except IntegrityError:  # one chance in 31^12 that the code is taken: let the client retry
            raise Conflict("兑换码冲突，请重试", "voucher code collision; try again", field="redemption") from None
        if reserves(voucher):
            try:
                await money.post(
                    key=f"voucher:{voucher.id}:reserve",
                    legs=[money.Leg(accounts.points_fund(), -voucher.value_fen),
                          money.Leg(accounts.points_reserved(voucher.id), voucher.value_fen)],
                    period=day.strftime("%Y-%m"),
                    reason=f"兑换券 {label(voucher.id, code)} 预留 / voucher {label(voucher.id, code)} reserved",
                    source_kind="points_voucher", source_id=voucher.id, author=actor, now=at,
                )
            except money.InsufficientBalance:
                raise PointsFundShort(
                    "积分兑换资金不足，暂不能兑换该项目，请联系管理员充值",
                    "the points fund is too low for this item; the tenant administrator must fund it first",
                    field="redemption", details={"valueFen": voucher.value_fen},
                ) from None
        await audit.record(actor=actor, action="voucher.redeem", target_type="points_voucher", target_id=voucher.id,
                           details={"redemption": item.code, "points": item.cost_points, "valueFen": item.value_fen,
                                    "voucher": label(voucher.id, code)})
        return voucher


NO_CODE = ("兑换码不存在", "no such voucher code")


def _unknown() -> NotFound:
    """A voucher the caller may not verify is, to them, no voucher at all: codes cannot be probed."""
    return NotFound(*NO_CODE, field="code")


async def _verifier(access: Access, v: Voucher) -> int | None:
    """The partner the caller verifies ``v`` as (None: the household's company or the administration); NOT_FOUND
    when the caller may not verify it. A voucher open to any partner of its kind binds to the caller's first
    partner of the kind."""
    admin = Role.TENANT_ADMIN in access.roles
    if v.kind == "fee_reduction":
        if admin or (Role.PROPERTY_COMPANY in access.roles and v.company_id in access.companies):
            return None
        raise _unknown()
    if v.partner_id is not None:
        if v.partner_id in partners_of(access) or admin:
            return v.partner_id
        raise _unknown()
    if v.partner_kind is None:  # service or goods without a partner: the administration hands it out
        if admin:
            return None
        raise _unknown()
    mine = await Partner.filter(id__in=partners_of(access) or [0], kind=PartnerKind(v.partner_kind)).order_by(
        "-is_active", "id"
    ).first()
    if mine is None:
        if admin:  # it reads the voucher: say why it cannot verify this one
            raise Forbidden(f"该兑换券须在{v.partner_kind}类商户核销",
                            f"this voucher is honoured by a {v.partner_kind}", field="code")
        raise _unknown()
    return mine.id  # several partners of the kind: an active one first (a person staffs one partner as a rule)


async def _refuse_paused(partner_id: int | None) -> None:
    if partner_id is None:
        return
    partner = await Partner.get_or_none(id=partner_id)
    if partner is not None and not partner.is_active:
        raise NotRedeemable(f"商户 {partner.name} 已暂停服务，不能核销兑换券",
                            f"partner {partner.code} is paused: it verifies no vouchers", field="code")


async def verify(*, access: Access, actor: str, code: str, now: datetime | None = None) -> Voucher:
    """Use a voucher once: the first verification wins, a second (or concurrent) one is refused (CONFLICT). A
    caller who may not verify the voucher (another partner's, another company's) gets NOT_FOUND, whatever its
    status; a paused partner verifies nothing (NOT_REDEEMABLE)."""
    require(access, "vouchers.verify")
    at = now or clock.now()
    stored = normalised(code)
    async with savepoint():
        v = await Voucher.filter(code=stored).select_for_update().first() if stored else None
        if v is None:
            raise _unknown()
        partner_id = await _verifier(access, v)
        zone = await current_zone()
        if v.status == VoucherStatus.USED:
            used = f"{v.used_at.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"  # type: ignore[union-attr]
            raise Conflict(
                f"该兑换券已于 {used} 核销，不能重复使用",
                f"this voucher was already used at {used}; it is good once",
                field="code", details={"status": "used"},
            )
        if v.status != VoucherStatus.ISSUED:
            raise IllegalTransition(VOUCHER, "verify", v.status.value)
        if at >= v.expires_at:
            raise IllegalTransition(VOUCHER, "verify", VoucherStatus.EXPIRED.value)
        await _refuse_paused(partner_id)
        month = at.astimezone(zone).strftime("%Y-%m")
        if reserves(v):
            payee = (accounts.fee_credit(v.household_id, v.company_id) if v.kind == "fee_reduction"  # type: ignore[arg-type]
                     else accounts.partner_payable(partner_id))  # type: ignore[arg-type]
            await money.post(
                key=f"voucher:{v.id}:use",
                legs=sorted([money.Leg(accounts.points_reserved(v.id), -v.value_fen), money.Leg(payee, v.value_fen)],
                            key=lambda leg: leg.account),
                period=month, reason=f"兑换券 {label(v.id, v.code)} 核销 / voucher {label(v.id, v.code)} used",
                source_kind="points_voucher",
                source_id=v.id, author=actor, now=at,
            )
        v.status, v.used_at, v.used_by, v.used_month = VoucherStatus.USED, at, actor, month
        if partner_id is not None:
            v.partner_id = partner_id
        await v.save(update_fields=["status", "used_at", "used_by", "used_month", "partner_id"])
        await audit.record(actor=actor, action="voucher.verify", target_type="points_voucher", target_id=v.id,
                           details={"partner": v.partner_id, "valueFen": v.value_fen,
                                    "voucher": label(v.id, v.code)})
        return v


CLOSE_FIELDS = ("id", "code", "person_id", "spend_entry_id", "redemption_code", "kind", "partner_kind", "value_fen",
                "cost_points")
CLOSE_WORDS = {
    VoucherStatus.CANCELLED: ("取消", "cancelled", "cancel"),
    VoucherStatus.EXPIRED: ("过期", "expired", "expire"),
}


async def cancel(*, access: Access, actor: str, voucher_id: int, now: datetime | None = None) -> Voucher:
    """Cancel an unused voucher: its holder, or a tenant administrator."""
    require(access, "vouchers.cancel")
    at = now or clock.now()
    async with savepoint():
        v = await readable_vouchers(access).filter(id=voucher_id).select_for_update().first()
        if v is None:
            raise NotFound("兑换券不存在", "no such voucher", field="id")
        if Role.TENANT_ADMIN not in access.roles and not await own_person(access).filter(id=v.person_id).exists():
            raise Forbidden("只有持券人可以取消兑换券", "only the holder cancels a voucher", field="id")
        if v.status != VoucherStatus.ISSUED:
            raise IllegalTransition(VOUCHER, "cancel", v.status.value)
        v.status, v.closed_at, v.closed_by = VoucherStatus.CANCELLED, at, actor
        await v.save(update_fields=["status", "closed_at", "closed_by"])
        await _close_all([{f: getattr(v, f) for f in CLOSE_FIELDS}], VoucherStatus.CANCELLED, actor=actor, at=at)
        return v


async def expire_vouchers(*, now: datetime | None = None) -> int:
    """Expire every issued voucher past its expiry (the points, money and stock come back); a second run finds
    none. Set-based: a fixed number of statements whatever the count (``_return_points``, ``_release_money``); a
    voucher being verified right now is skipped (locked), the next run takes it if it is still issued. Returns how
    many expired."""
    at = now or clock.now()
    conn = connections.get("default")
    tid = current_tenant_id()
    async with savepoint():
        # Exclusively, as the nightly points expiry: this gives points back to many people in one statement, so no
        # other points writer (each takes the lock shared) may hold one of their balance rows meanwhile.
        await advisory_lock(points_ledger.EXPIRY_LOCK, conn=conn)
        due = await conn.execute_query_dict(
            "UPDATE points_voucher v SET status = $3, closed_at = $2, closed_by = 'system'"
            " WHERE v.tenant_id = $1 AND v.id IN (SELECT id FROM points_voucher WHERE tenant_id = $1"
            "   AND status = $4 AND expires_at <= $2 ORDER BY id FOR UPDATE SKIP LOCKED)"
            " RETURNING v.id, v.code, v.person_id, v.spend_entry_id, v.redemption_code, v.kind, v.partner_kind,"
            " v.value_fen, v.cost_points",
            [tid, at, VoucherStatus.EXPIRED.value, VoucherStatus.ISSUED.value],
        )
        if not due:
            return 0
        await _close_all(due, VoucherStatus.EXPIRED, actor="system", at=at)
    return len(due)


async def _close_all(due: list[dict[str, Any]], status: VoucherStatus, *, actor: str, at: datetime) -> None:
    """Points, stock and money back for vouchers just cancelled or expired (their status already written), in a
    redemption's order (the holder's balance, the item's stock, the points fund: no deadlock with one), in a fixed
    number of statements whatever the count: a cancel is one voucher, a night's expiry many."""
    due = sorted(due, key=lambda r: r["id"])
    day = clock.local_day(at, await current_zone())
    zh, en, action = CLOSE_WORDS[status]
    await _return_points(due, day=day, at=at, actor=actor, words=(zh, en))
    await connections.get("default").execute_query(
        "UPDATE points_redemption_stock s SET taken = GREATEST(s.taken - c.n, 0)"
        " FROM (SELECT code, count(*)::int AS n FROM unnest($2::text[]) AS u(code) GROUP BY code) c"
        " WHERE s.tenant_id = $1 AND s.redemption_code = c.code AND s.taken > 0",
        [current_tenant_id(), [r["redemption_code"] for r in due]],
    )
    money_back = [r for r in due if holds_money(r["value_fen"], r["kind"], r["partner_kind"])]
    await _release_money(money_back, day=day, at=at, actor=actor, words=(zh, en))
    await AuditEntry.bulk_create([
        AuditEntry(actor=actor, action=f"voucher.{action}", target_type="points_voucher", target_id=str(r["id"]),
                   details={"points": r["cost_points"], "voucher": label(r["id"], r["code"])})
        for r in due
    ])


async def _return_points(due: list[dict[str, Any]], *, day: date, at: datetime, actor: str,
                         words: tuple[str, str]) -> None:
    """``ledger.give_back_all`` of the vouchers: a RETURN entry each (key ``voucher:{id}:return``, once)."""
    zh, en = words
    await points_ledger.give_back_all(
        [
            points_ledger.GiveBack(
                r["spend_entry_id"], f"voucher:{r['id']}:return", source(r["id"], r["code"]),
                f"兑换券 {label(r['id'], r['code'])} {zh}，积分退回 / "
                f"voucher {label(r['id'], r['code'])} {en}: points back",
            )
            for r in due
        ],
        occurred_on=day, author=actor, now=at,
    )


async def _release_money(due: list[dict[str, Any]], *, day: date, at: datetime, actor: str,
                         words: tuple[str, str]) -> None:
    """The reserve of each voucher back to the fund (``points_reserved:{id} -> points_fund``): a journal per
    voucher (key ``voucher:{id}:release``, once) and its two postings, in one statement; the balances are kept by
    the postings' trigger."""
    if not due:
        return
    await connections.get("default").execute_query(
        """
        WITH v AS (
            SELECT * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $8::text[])
                AS v(id, value_fen, reason, reserved)
        ), journals AS (
            INSERT INTO ledger_journal (tenant_id, idempotency_key, period, reason, source_kind, source_id, author,
                                        posted_at)
            SELECT $1, 'voucher:' || v.id || ':release', $5, v.reason, 'points_voucher', v.id, $9, $6
            FROM v ORDER BY v.id
            ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
            RETURNING id, source_id
        )
        INSERT INTO ledger_posting (tenant_id, journal_id, account, amount_fen)
        SELECT $1, j.id, leg.account, leg.amount_fen
        FROM journals j JOIN v ON v.id = j.source_id
        CROSS JOIN LATERAL (VALUES ($7::text, v.value_fen), (v.reserved, -v.value_fen))
            AS leg(account, amount_fen)
        ORDER BY j.id, leg.account
        """,
        [current_tenant_id(), [r["id"] for r in due], [r["value_fen"] for r in due],
         [f"兑换券 {label(r['id'], r['code'])} {words[0]}，资金退回 / voucher {label(r['id'], r['code'])} {words[1]}"
          for r in due],
         day.strftime("%Y-%m"), at, accounts.points_fund(), [accounts.points_reserved(r["id"]) for r in due], actor],
    )


async def fund(*, access: Access, actor: str, amount_fen: int, idempotency_key: str | None = None,
               now: datetime | None = None) -> int:
    """Put money into the points fund from the year's source; returns the fund's balance."""
    require(access, "points.fund")
    problems = key_problems(idempotency_key)
    if type(amount_fen) is not int or not 0 < amount_fen <= 10**12:
        problems.append(Problem("amountFen", "range", "金额须为 1 到 10^12 分", "amountFen is 1 to 10^12 fen"))
    if problems:
        raise InvalidInput.of(problems)
    at = now or clock.now()
    async with savepoint():
        day = await clock.today(at)
        # The ledger key is scoped to this operation: a client's key used for another mutation never collides.
        key = f"fundPoints:{(idempotency_key or secrets.token_hex(12)).strip()}"
        await money.post(
            key=key,
            legs=[money.Leg(accounts.points_fund(), amount_fen),
                  money.Leg(accounts.points_fund_source(day.year), -amount_fen)],
            period=str(day.year), reason=f"积分兑换资金充值 {amount_fen} 分 / points fund topped up",
            source_kind="points_fund", source_id=None, author=actor, now=at,
        )
        return await fund_balance()


async def fund_balance() -> int:
    rows = await connections.get("default").execute_query_dict(
        "SELECT balance_fen FROM ledger_balance WHERE tenant_id = $1 AND account = $2",
        [current_tenant_id(), accounts.points_fund()],
    )
    return int(rows[0]["balance_fen"]) if rows else 0


async def my_vouchers(*, access: Access, window: Window, status: str | None = None) -> Page[Voucher]:
    """The caller's own vouchers, newest first."""
    person = await own_person(access).first()
    qs = readable_vouchers(access).filter(person_id=person.id if person else 0)
    if status is not None:
        qs = qs.filter(status=status)
    return await newest_first(qs, window, time_field="issued_at")


async def list_vouchers(*, access: Access, window: Window, partner_id: int | None = None,
                        status: str | None = None) -> Page[Voucher]:
    """The vouchers the caller reads (a partner's staff: its partner's), newest first."""
    qs = readable_vouchers(access)
    if partner_id is not None:
        qs = qs.filter(partner_id=partner_id)
    if status is not None:
        qs = qs.filter(status=status)
    return await newest_first(qs, window, time_field="issued_at")
