"""Redeeming points for vouchers: the price in points and the shortfall, money through the points fund, one use per
voucher, cancel and expiry giving points back with their expiry, stock, monthly limits and validity under
concurrency, who sees and verifies what, and another tenant."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest

from tenants.errors import DomainError, NotFound
from tenants.ledger import accounts
from tenants.ledger import service as money
from tenants.paging import Window
from tenants.points import catalogue, vouchers
from tenants.points import ledger as points
from tenants.points.ledger import InsufficientPoints
from tenants.points.models import PointsLot
from tenants.points.voucher_models import Voucher, VoucherStatus
from tenants.scope import tenant_transaction
from tests.fixtures.points_vouchers import FUND_FEN, give
from tests.fixtures.statements import orm_statements

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))


async def _clean(t) -> None:
    """Every journal sums to zero, every kept money balance and points balance matches its entries."""
    async with tenant_transaction(t.id):
        assert await money.verify() == []
        assert await points.verify() == []


async def _redeem(w, who: str, code: str, **kw) -> Voucher:
    async with tenant_transaction(w.t.id):
        return await vouchers.redeem(access=w.caller(who), actor=who, redemption=code, **kw)


async def _verify(w, who: str, code: str) -> Voucher:
    async with tenant_transaction(w.t.id):
        return await vouchers.verify(access=w.caller(who), actor=who, code=code)


async def _balances(w, *names: str) -> dict[str, int]:
    async with tenant_transaction(w.t.id):
        return await money.balances(list(names))


async def test_fee_reduction_costs_450_points_refused_at_449_and_credits_the_household_5000_fen(voucher_world):
    w = voucher_world
    res1, h1, p1 = w.ids["res1"], w.ids["H1"], w.ids["P1"]
    async with tenant_transaction(w.t.id):
        await give(res1, 449, "duty-1")
    with pytest.raises(InsufficientPoints) as short:
        await _redeem(w, "res1", "fee_reduction_50")
    assert short.value.details == {"needed": 450, "balance": 449, "shortfall": 1}
    assert "还差 1 分" in short.value.message_zh and "1 short" in short.value.message_en
    async with tenant_transaction(w.t.id):
        assert await Voucher.all().count() == 0
        await give(res1, 1, "duty-2")
    v = await _redeem(w, "res1", "fee_reduction_50")
    assert (v.cost_points, v.value_fen, v.household_id, v.company_id) == (450, 5_000, h1, p1)
    assert len(v.code) >= 10 and set(v.code) <= set(vouchers.ALPHABET)
    async with tenant_transaction(w.t.id):
        assert await points.balance_of(res1) == 0
    fee = accounts.fee_credit(h1, p1)
    reserved = accounts.points_reserved(v.id)
    assert await _balances(w, "points_fund", reserved, fee) == {
        "points_fund": FUND_FEN - 5_000, reserved: 5_000, fee: 0
    }
    # A merchant does not verify a fee reduction (to it there is no such code); the household's company does, once.
    with pytest.raises(NotFound):
        await _verify(w, "shop1", v.code)
    used = await _verify(w, "company_p1", v.code.lower()[:6] + "-" + v.code.lower()[6:])  # as typed at a counter
    assert used.status == VoucherStatus.USED and used.used_month is not None
    assert await _balances(w, "points_fund", reserved, fee) == {
        "points_fund": FUND_FEN - 5_000, reserved: 0, fee: 5_000
    }
    with pytest.raises(DomainError) as again:
        await _verify(w, "company_p1", v.code)
    assert again.value.code == "CONFLICT" and "already used" in again.value.message_en
    await _clean(w.t)


async def test_a_fund_too_low_refuses_the_redemption_and_spends_nothing(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 10_000, "big")
        await money.post(key="drain", legs=[money.Leg("points_fund", -FUND_FEN + 400),
                                            money.Leg("points_fund_source:2026", FUND_FEN - 400)],
                         period="2026", reason="drain", source_kind="test", source_id=None, author="t")
    with pytest.raises(DomainError) as err:
        await _redeem(w, "res1", "canteen_meal_5")
    assert err.value.code == "POINTS_FUND_SHORT"
    async with tenant_transaction(w.t.id):
        assert await points.balance_of(w.ids["res1"]) == 10_000
        assert await Voucher.all().count() == 0
    await _clean(w.t)


async def test_ten_concurrent_redemptions_against_a_balance_covering_three_issue_exactly_three(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 65, "three-haircuts")  # shop1_haircut costs 20

    async def one():
        try:
            return await _redeem(w, "res1", "shop1_haircut")
        except InsufficientPoints as exc:
            return exc

    got = await asyncio.gather(*(one() for _ in range(10)))
    issued = [g for g in got if isinstance(g, Voucher)]
    assert len(issued) == 3 and len({v.code for v in issued}) == 3
    assert all(isinstance(g, InsufficientPoints) and g.details["shortfall"] == 15 for g in got if g not in issued)
    async with tenant_transaction(w.t.id):
        assert await points.balance_of(w.ids["res1"]) == 5
        assert await Voucher.all().count() == 3
    assert (await _balances(w, "points_fund"))["points_fund"] == FUND_FEN - 3 * 1_500
    await _clean(w.t)


async def test_a_voucher_verified_twice_at_once_is_used_once(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res2"], 50, "meal")
    v = await _redeem(w, "res2", "canteen_meal_5")
    assert v.partner_id is None and v.partner_kind == "canteen"  # any canteen: bound when verified

    async def one():
        try:
            return await _verify(w, "canteen", v.code)
        except DomainError as exc:
            return exc

    first, second = await asyncio.gather(one(), one())
    outcomes = sorted([type(first).__name__, type(second).__name__])
    assert outcomes == ["Conflict", "Voucher"]
    payable = accounts.partner_payable(w.ids["canteen"])
    assert (await _balances(w, payable))[payable] == 500
    async with tenant_transaction(w.t.id):
        assert (await Voucher.get(id=v.id)).partner_id == w.ids["canteen"]
    await _clean(w.t)


async def test_verification_is_for_the_right_partner_and_another_tenant_cannot_see_the_code(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 200, "shop")
    fixed = await _redeem(w, "res1", "shop1_haircut")  # the item names shop-1
    assert fixed.partner_id == w.ids["shop1"]
    with pytest.raises(NotFound):  # another partner's voucher is no voucher to it: codes cannot be probed
        await _verify(w, "shop2", fixed.code)
    with pytest.raises(NotFound):
        await _verify(w, "canteen", fixed.code)
    named = await _redeem(w, "res1", "shopping_10", partner_id=w.ids["shop2"])
    with pytest.raises(DomainError) as wrong_kind:
        await _redeem(w, "res1", "shopping_10", partner_id=w.ids["canteen"])
    assert wrong_kind.value.code == "INVALID_INPUT"
    async with tenant_transaction(w.other.id):
        with pytest.raises(NotFound):
            await vouchers.verify(access=w.caller("admin"), actor="intruder", code=named.code)
    assert (await _verify(w, "shop2", named.code)).status == VoucherStatus.USED
    # A merchant sees only its own vouchers; the holder sees theirs.
    async with tenant_transaction(w.t.id):
        w50 = Window(limit=50)

        async def listed(who: str, mine: bool = False) -> set[int]:
            service = vouchers.my_vouchers if mine else vouchers.list_vouchers
            return {v.id for v in (await service(access=w.caller(who), window=w50)).rows}

        assert await listed("shop2") == {named.id} and await listed("shop1") == {fixed.id}
        assert await listed("canteen") == set()
        assert await listed("res1", mine=True) == {fixed.id, named.id} and await listed("res2", mine=True) == set()
    await _clean(w.t)


async def test_cancel_returns_the_points_as_lots_with_their_original_expiry_and_the_money_to_the_fund(voucher_world):
    w = voucher_world
    res1 = w.ids["res1"]
    async with tenant_transaction(w.t.id):
        await give(res1, 30, "old", on=date(2026, 1, 15))
        await give(res1, 40, "new", on=date(2026, 2, 15))
    v = await _redeem(w, "res1", "canteen_meal_5")  # 30 from January's lot, 20 from February's
    with pytest.raises(NotFound):  # another resident does not even see it
        async with tenant_transaction(w.t.id):
            await vouchers.cancel(access=w.caller("res2"), actor="res2", voucher_id=v.id)
    async with tenant_transaction(w.t.id):
        done = await vouchers.cancel(access=w.caller("res1"), actor="res1", voucher_id=v.id)
        assert done.status == VoucherStatus.CANCELLED
        assert await points.balance_of(res1) == 70
        back = await PointsLot.filter(person_id=res1, earned_on__lt=date(2026, 3, 1)).order_by("id")
        returned = [(lot.amount, lot.expires_on) for lot in back if lot.entry_id != back[0].entry_id
                    and lot.entry_id != back[1].entry_id]
        assert returned == [(30, date(2027, 1, 15)), (20, date(2027, 2, 15))]
    assert (await _balances(w, "points_fund"))["points_fund"] == FUND_FEN
    with pytest.raises(DomainError) as twice:
        async with tenant_transaction(w.t.id):
            await vouchers.cancel(access=w.caller("res1"), actor="res1", voucher_id=v.id)
    assert twice.value.code == "CONFLICT"
    with pytest.raises(DomainError):
        await _verify(w, "canteen", v.code)
    await _clean(w.t)


async def test_expired_vouchers_return_points_and_money_once(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res2"], 50, "meal")
    v = await _redeem(w, "res2", "canteen_meal_5")
    assert v.expires_at > v.issued_at + timedelta(days=30)  # the end of the 30th tenant-local day after issue
    async with tenant_transaction(w.t.id):
        assert await vouchers.expire_vouchers(now=v.expires_at - timedelta(seconds=1)) == 0
        assert await vouchers.expire_vouchers(now=v.expires_at) == 1
        assert await vouchers.expire_vouchers(now=v.expires_at) == 0
        assert (await Voucher.get(id=v.id)).status == VoucherStatus.EXPIRED
        assert await points.balance_of(w.ids["res2"]) == 50
    assert (await _balances(w, "points_fund"))["points_fund"] == FUND_FEN
    await _clean(w.t)


async def test_stock_and_the_monthly_limit_hold_under_concurrency(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 500, "a")
        await give(w.ids["res2"], 500, "b")

    async def one(who, code):
        try:
            return await _redeem(w, who, code)
        except DomainError as exc:
            return exc.code

    umbrellas = await asyncio.gather(*(one(who, "umbrella") for who in ["res1", "res2"] * 4))
    assert sum(isinstance(u, Voucher) for u in umbrellas) == 3, umbrellas  # stock 3
    assert sorted(u for u in umbrellas if isinstance(u, str)) == ["OUT_OF_STOCK"] * 5
    films = await asyncio.gather(*(one("res1", "cinema") for _ in range(5)))
    assert sum(isinstance(f, Voucher) for f in films) == 2  # two a month per person
    assert [f for f in films if isinstance(f, str)] == ["MONTHLY_LIMIT_REACHED"] * 3
    async with tenant_transaction(w.t.id):
        items = {i.redemption.code: i for i in await catalogue.catalogue(access=w.caller("res1"))}
        assert items["umbrella"].stock_left == 0 and items["cinema"].monthly_left == 0
        assert (await catalogue.catalogue(access=w.caller("res2")))[5].monthly_left == 2
        # A cancelled umbrella goes back on the shelf.
        mine = next(u for u in umbrellas if isinstance(u, Voucher))
        holder = "res1" if mine.person_id == w.ids["res1"] else "res2"
        await vouchers.cancel(access=w.caller(holder), actor=holder, voucher_id=mine.id)
    assert isinstance(await one("res1", "umbrella"), Voucher)
    await _clean(w.t)


async def test_items_outside_their_validity_window_are_refused(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 100, "a")
        available = {i.redemption.code: i.available for i in await catalogue.catalogue(access=w.caller("res1"))}
    assert available["future"] is False and available["past"] is False and available["umbrella"] is True
    for code in ("future", "past"):
        with pytest.raises(DomainError) as err:
            await _redeem(w, "res1", code)
        assert err.value.code == "NOT_REDEEMABLE"
    with pytest.raises(DomainError) as unknown:
        await _redeem(w, "res1", "no_such_item")
    assert unknown.value.code == "INVALID_INPUT"


CATALOGUE = "{ pointsCatalogue { code kind costPoints valueFen stockLeft monthlyLeft available partner } }"
REDEEM = """mutation($r: String!, $p: ID, $k: String) { redeemPoints(redemption: $r, partnerId: $p, idempotencyKey: $k)
  { id code kind status costPoints valueFen partnerId expiresAt } }"""
VERIFY = "mutation($c: String!) { verifyVoucher(code: $c) { status usedBy partnerId } }"
VOUCHERS = "{ vouchers { nodes { code status } } myVouchers { nodes { code } } partners { code kind } }"


async def test_graphql_redeem_verify_and_scope(voucher_world, settings, gql):
    from tenants.tenancy.roles import Role
    from tests.fixtures.callers import bearer

    w = voucher_world
    resident = bearer(settings, w.t, Role.RESIDENT, f"household:{w.ids['H1']}", user_id="res1")
    canteen = bearer(settings, w.t, Role.PARTNER_STAFF, f"partner:{w.ids['canteen']}/partner_staff",
                     user_id="canteen-staff")
    shop1 = bearer(settings, w.t, Role.PARTNER_STAFF, f"partner:{w.ids['shop1']}/partner_staff", user_id="shop1-staff")
    intruder = bearer(settings, w.other, Role.TENANT_ADMIN, user_id="admin")
    items = {i["code"]: i for i in (await gql(CATALOGUE, resident))["data"]["pointsCatalogue"]}
    assert items["fee_reduction_50"]["costPoints"] == 450 and items["canteen_meal_5"]["valueFen"] == 500
    assert items["umbrella"]["stockLeft"] == 3 and items["cinema"]["monthlyLeft"] == 2
    assert {code: items[code]["kind"] for code in ("fee_reduction_50", "canteen_meal_5", "shopping_10", "umbrella",
                                                   "cinema")} == {
        "fee_reduction_50": "FEE_REDUCTION", "canteen_meal_5": "CANTEEN", "shopping_10": "MERCHANT",
        "umbrella": "GOODS", "cinema": "SERVICE"}  # an enum, like a partner's kind
    short = await gql(REDEEM, resident, {"r": "canteen_meal_5"})
    assert short["errors"][0]["extensions"]["code"] == "INSUFFICIENT_POINTS"
    assert short["errors"][0]["extensions"]["details"]["shortfall"] == 50
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 50, "gql")
    made = await gql(REDEEM, resident, {"r": "canteen_meal_5", "k": "meal-1"})
    v = made["data"]["redeemPoints"]
    assert v["status"] == "ISSUED" and v["partnerId"] is None and v["kind"] == "CANTEEN"
    again = await gql(REDEEM, resident, {"r": "canteen_meal_5", "k": "meal-1"})  # a retry: the same voucher
    assert again["data"]["redeemPoints"]["code"] == v["code"]
    assert (await gql(VERIFY, shop1, {"c": v["code"]}))["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert (await gql(VERIFY, intruder, {"c": v["code"]}))["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    used = (await gql(VERIFY, canteen, {"c": v["code"]}))["data"]["verifyVoucher"]
    assert used["status"] == "USED" and used["usedBy"] == "canteen-staff"
    twice = await gql(VERIFY, canteen, {"c": v["code"]})
    assert twice["errors"][0]["extensions"]["code"] == "CONFLICT"
    seen = (await gql(VOUCHERS, canteen))["data"]
    assert [x["code"] for x in seen["vouchers"]["nodes"]] == [v["code"]] and seen["partners"] == [
        {"code": "canteen_1", "kind": "CANTEEN"}
    ]
    assert (await gql(VOUCHERS, shop1))["data"]["vouchers"]["nodes"] == []
    mine = await gql("{ myVouchers { nodes { code } } partners { code } }", resident)
    assert mine["data"] is None and mine["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # no partner list
    mine = (await gql("{ myVouchers(first: 5) { nodes { code } totalCount } }", resident))["data"]["myVouchers"]
    assert [x["code"] for x in mine["nodes"]] == [v["code"]] and mine["totalCount"] == 1
    await _clean(w.t)


PARTNER = """mutation($i: PartnerInput!) { createPartner(input: $i) { id databaseId code kind isActive } }"""
UPDATE = """mutation($id: ID!, $i: PartnerInput!) { updatePartner(id: $id, input: $i) { code name isActive } }"""
ASSIGN = """mutation($p: ID!, $t: ID!) { assignPost(input: {personId: $p, kind: PARTNER_STAFF, targetType: PARTNER,
  targetId: $t}) { id } }"""
FUND = "mutation($a: Fen!, $k: String) { fundPoints(amountFen: $a, idempotencyKey: $k) { balanceFen } }"


async def test_partners_their_staff_through_assign_post_and_the_fund(voucher_world, settings, gql):
    from tenants.tenancy.roles import Role
    from tenants.territory import people_service as people
    from tests.fixtures.callers import bearer

    w = voucher_world
    admin = bearer(settings, w.t, Role.TENANT_ADMIN, user_id="admin")
    made = await gql(PARTNER, admin, {"i": {"code": "bakery", "name": "爱心面包房", "kind": "MERCHANT"}})
    bakery = made["data"]["createPartner"]
    assert bakery["kind"] == "MERCHANT" and bakery["isActive"] is True
    dup = await gql(PARTNER, admin, {"i": {"code": "bakery", "name": "x", "kind": "CANTEEN"}})
    assert dup["errors"][0]["extensions"]["code"] == "CONFLICT"
    bad = await gql(PARTNER, admin, {"i": {"code": "Bad-Code", "name": "x", "kind": "CANTEEN"}})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    resident = bearer(settings, w.t, Role.RESIDENT, f"household:{w.ids['H1']}", user_id="res1")
    refused = await gql(PARTNER, resident, {"i": {"code": "x", "name": "x", "kind": "CANTEEN"}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # A person becomes the bakery's staff through assignPost; their token carries the partner.
    async with tenant_transaction(w.t.id):
        baker = await people.create_person(access=w.caller("admin"), actor="admin", user_id="baker", name="面包师")
    posted = await gql(ASSIGN, admin, {"p": str(baker.id), "t": bakery["databaseId"]})
    assert "errors" not in posted, posted
    async with tenant_transaction(w.t.id):
        claims = await people.claims_for(baker)
    assert Role.PARTNER_STAFF in claims.roles and f"partner:{bakery['databaseId']}/partner_staff" in claims.scope
    baker_token = bearer(settings, w.t, Role.PARTNER_STAFF, *claims.scope, user_id="baker")
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 100, "bread")
    v = (await gql(REDEEM, resident, {"r": "shopping_10", "p": bakery["id"]}))["data"]["redeemPoints"]
    assert (await gql(VERIFY, baker_token, {"c": v["code"]}))["data"]["verifyVoucher"]["status"] == "USED"
    # Paused, the bakery takes no new redemptions.
    paused = await gql(UPDATE, admin, {"id": bakery["id"], "i": {"isActive": False, "name": "面包房"}})
    assert paused["data"]["updatePartner"] == {"code": "bakery", "name": "面包房", "isActive": False}
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 100, "bread-2")
    closed = await gql(REDEEM, resident, {"r": "shopping_10", "p": bakery["id"]})
    assert closed["errors"][0]["extensions"]["code"] == "NOT_REDEEMABLE"
    # The fund: a retry with the same key funds once; a resident may not fund.
    assert (await gql(FUND, admin, {"a": 20_000, "k": "f-1"}))["data"]["fundPoints"]["balanceFen"] == FUND_FEN + 19_000
    assert (await gql(FUND, admin, {"a": 20_000, "k": "f-1"}))["data"]["fundPoints"]["balanceFen"] == FUND_FEN + 19_000
    assert (await gql(FUND, admin, {"a": 0}))["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert (await gql(FUND, resident, {"a": 1}))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await _clean(w.t)


async def test_a_fee_reduction_needs_a_current_property_contract(voucher_world):
    from tenants.territory import service as territory
    from tenants.territory.people import Person

    w = voucher_world
    async with tenant_transaction(w.t.id):
        admin = w.caller("admin")
        building = await territory.create_area("building", access=admin, actor="a", code="9", name="9号楼",
                                               parent_id=w.ids["K2"])  # K2 has no contract
        flat = await territory.create_area("household", access=admin, actor="a", code="901", name="901",
                                           parent_id=building.id)
        person = await Person.create(user_id="res9", name="居民9", household_id=flat.id)
        await give(person.id, 450, "fee")
    from tenants.tenancy.roles import Role
    from tenants.territory.access import Access

    res9 = Access(roles=frozenset({Role.RESIDENT}), user_id="res9", nodes={"household": frozenset({flat.id})})
    with pytest.raises(DomainError) as err:
        async with tenant_transaction(w.t.id):
            await vouchers.redeem(access=res9, actor="res9", redemption="fee_reduction_50")
    assert err.value.code == "NOT_REDEEMABLE" and err.value.field == "householdId"
    with pytest.raises(DomainError) as other:  # nor for somebody else's household
        async with tenant_transaction(w.t.id):
            await vouchers.redeem(access=res9, actor="res9", redemption="fee_reduction_50",
                                  household_id=w.ids["H1"])
    assert other.value.code == "INVALID_INPUT"


MASKED = "{ vouchers { nodes { code status } } }"


async def test_only_the_holder_and_an_admin_read_a_live_code_others_see_it_masked(voucher_world, settings, gql):
    from tenants.tenancy.roles import Role
    from tests.fixtures.callers import bearer

    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 100, "mask")
    v = await _redeem(w, "res1", "shop1_haircut")  # bound to shop 1: its staff list it
    resident = bearer(settings, w.t, Role.RESIDENT, f"household:{w.ids['H1']}", user_id="res1")
    shop1 = bearer(settings, w.t, Role.PARTNER_STAFF, f"partner:{w.ids['shop1']}/partner_staff", user_id="shop1-staff")
    admin = bearer(settings, w.t, Role.TENANT_ADMIN, user_id="admin")
    listed = (await gql(MASKED, shop1))["data"]["vouchers"]["nodes"]
    assert listed == [{"code": "********" + v.code[-4:], "status": "ISSUED"}]
    mine = (await gql("{ myVouchers { nodes { code } } }", resident))["data"]["myVouchers"]["nodes"]
    assert mine == [{"code": v.code}]
    assert (await gql(MASKED, admin))["data"]["vouchers"]["nodes"][0]["code"] == v.code
    # Once used, the code is worth nothing: the partner reads it whole (its statement lines name it).
    await _verify(w, "shop1", v.code)
    assert (await gql(MASKED, shop1))["data"]["vouchers"]["nodes"][0]["code"] == v.code


async def test_a_partner_is_named_only_for_merchant_and_canteen_items(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 1_000, "kinds")
    for code in ("cinema", "umbrella", "fee_reduction_50"):  # service, goods, a fee reduction
        with pytest.raises(DomainError) as err:
            await _redeem(w, "res1", code, partner_id=w.ids["shop1"])
        assert err.value.code == "INVALID_INPUT" and err.value.field == "partnerId", code
    async with tenant_transaction(w.t.id):
        assert await Voucher.all().count() == 0
        assert await points.balance_of(w.ids["res1"]) == 1_000
    assert (await _redeem(w, "res1", "shopping_10", partner_id=w.ids["shop1"])).partner_id == w.ids["shop1"]
    await _clean(w.t)


async def test_a_paused_partner_verifies_nothing(voucher_world):
    from tenants.territory.parties import Partner

    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 200, "paused")
    fixed = await _redeem(w, "res1", "shop1_haircut")  # bound to shop 1
    meal = await _redeem(w, "res1", "canteen_meal_5")  # any canteen
    async with tenant_transaction(w.t.id):
        await Partner.filter(id__in=[w.ids["shop1"], w.ids["canteen"]]).update(is_active=False)
    for who, v in (("shop1", fixed), ("canteen", meal)):
        with pytest.raises(DomainError) as err:
            await _verify(w, who, v.code)
        assert err.value.code == "NOT_REDEEMABLE" and "paused" in err.value.message_en
    async with tenant_transaction(w.t.id):
        assert {v.status for v in await Voucher.all()} == {VoucherStatus.ISSUED}
        await Partner.filter(id__in=[w.ids["shop1"], w.ids["canteen"]]).update(is_active=True)
    assert (await _verify(w, "shop1", fixed.code)).status == VoucherStatus.USED
    await _clean(w.t)


async def test_a_voucher_the_caller_may_not_verify_is_not_found_whatever_its_status(voucher_world):
    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 500, "probe")
    open_merchant = await _redeem(w, "res1", "shopping_10")  # any merchant
    meal = await _redeem(w, "res1", "canteen_meal_5")
    with pytest.raises(NotFound):  # a merchant does not verify a canteen's voucher: no such code to it
        await _verify(w, "shop1", meal.code)
    assert (await _verify(w, "shop2", open_merchant.code)).partner_id == w.ids["shop2"]
    with pytest.raises(NotFound):  # used by another shop: not shop 1's, so not "already used" either
        await _verify(w, "shop1", open_merchant.code)
    with pytest.raises(DomainError) as again:  # the shop that used it hears that it is used
        await _verify(w, "shop2", open_merchant.code)
    assert again.value.code == "CONFLICT" and "already used" in again.value.message_en
    async with tenant_transaction(w.t.id):
        await vouchers.cancel(access=w.caller("res1"), actor="res1", voucher_id=meal.id)
    with pytest.raises(NotFound):
        await _verify(w, "shop1", meal.code)
    with pytest.raises(DomainError) as cancelled:
        await _verify(w, "canteen", meal.code)
    assert cancelled.value.code == "CONFLICT"
    await _clean(w.t)


FUND_FEN_INPUT = "mutation($a: Fen!, $k: String) { fundPoints(amountFen: $a, idempotencyKey: $k) { balanceFen } }"


async def test_fund_points_takes_fen_and_checks_its_key_like_every_mutation(voucher_world, settings, gql):
    from tenants.tenancy.roles import Role
    from tests.fixtures.callers import bearer

    w = voucher_world
    admin = bearer(settings, w.t, Role.TENANT_ADMIN, user_id="admin")
    for key in ("   ", "k" * 129):
        bad = await gql(FUND_FEN_INPUT, admin, {"a": 100, "k": key})
        assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT", bad
    big = await gql(FUND_FEN_INPUT, admin, {"a": 3_000_000_000, "k": "k" * 128})  # 30,000,000 yuan
    assert big["data"]["fundPoints"]["balanceFen"] == FUND_FEN + 3_000_000_000
    again = await gql(FUND_FEN_INPUT, admin, {"a": 3_000_000_000, "k": "k" * 128})
    assert again["data"]["fundPoints"]["balanceFen"] == FUND_FEN + 3_000_000_000
    async with tenant_transaction(w.t.id):
        journal = await money.LedgerJournal.get(idempotency_key="fundPoints:" + "k" * 128)
        assert journal.source_kind == "points_fund"
    await _clean(w.t)


async def _counted_expiry(w, at) -> tuple[int, int]:
    with orm_statements() as sent:
        async with tenant_transaction(w.t.id):
            expired = await vouchers.expire_vouchers(now=at)
    return expired, len(sent)


async def test_expiry_is_set_based_two_or_twenty_vouchers_cost_the_same_statements(voucher_world):
    from tenants import clock
    from tenants.audit.models import AuditEntry
    from tenants.points.models import EntryKind, PointsEntry, PointsExpiryRun

    w = voucher_world
    res1, res2 = w.ids["res1"], w.ids["res2"]
    async with tenant_transaction(w.t.id):
        today = await clock.today()
        await give(res1, 1_100, "many")
        await give(res2, 50, "old", on=today - timedelta(days=330))  # good for about 35 more days
        two = [await vouchers.redeem(access=w.caller("res1"), actor="res1", redemption="canteen_meal_5")
               for _ in range(2)]
    at = clock.now() + timedelta(days=60)
    assert await _counted_expiry(w, at - timedelta(days=59)) == (0, 2)  # nothing due: the lock and one statement
    two_count = await _counted_expiry(w, at)
    assert two_count[0] == 2
    async with tenant_transaction(w.t.id):
        twenty = [await vouchers.redeem(access=w.caller("res1"), actor="res1", redemption=code)
                  for code in ["canteen_meal_5"] * 17 + ["umbrella"] * 2]
        twenty.append(await vouchers.redeem(access=w.caller("res2"), actor="res2", redemption="canteen_meal_5"))
        # By the time the vouchers expire, the nightly run has passed res2's old lot's day (a run of day +40 is
        # recorded): the points it gets back expire at once.
        await PointsExpiryRun.create(through=today + timedelta(days=40), lots=0, people=0, ran_at=clock.now())
    twenty_count = await _counted_expiry(w, at)
    assert twenty_count == (20, two_count[1]), (two_count, twenty_count)
    async with tenant_transaction(w.t.id):
        ids = [v.id for v in two + twenty]
        assert {v.status for v in await Voucher.filter(id__in=ids)} == {VoucherStatus.EXPIRED}
        assert await points.balance_of(res1) == 1_100
        assert await points.balance_of(res2) == 0
        back = await PointsEntry.get(idempotency_key=f"voucher:{twenty[-1].id}:return")
        lot = await PointsLot.get(entry_id=back.id)
        expiry = await PointsEntry.get(idempotency_key=f"expiry:lot:{lot.id}")
        assert (back.amount, lot.remaining, lot.expired_entry_id, expiry.kind, expiry.amount) == (
            50, 0, expiry.id, EntryKind.EXPIRY, -50)
        assert await AuditEntry.filter(action="voucher.expire").count() == 22
        items = {i.redemption.code: i for i in await catalogue.catalogue(access=w.caller("res1"))}
        assert items["umbrella"].stock_left == 3
        assert await vouchers.expire_vouchers(now=at) == 0
    assert (await _balances(w, "points_fund"))["points_fund"] == FUND_FEN
    await _clean(w.t)


async def _hold_fund_row(w, held: asyncio.Event, seconds: float) -> None:
    """A third transaction holding the points fund's balance row for a while (as a fund top-up or another
    redemption does)."""
    from tortoise import connections

    async with tenant_transaction(w.t.id):
        await connections.get("default").execute_query(
            "SELECT 1 FROM ledger_balance WHERE tenant_id = $1 AND account = $2 FOR UPDATE",
            [w.t.id, accounts.points_fund()],
        )
        held.set()
        await asyncio.sleep(seconds)


async def test_a_cancel_or_an_expiry_gives_back_in_the_redemptions_order_and_never_deadlocks_with_one(voucher_world):
    from tenants import clock

    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 100, "a")
        await give(w.ids["res2"], 100, "b")
    for round_ in range(4):
        closing = await _redeem(w, "res1", "meal_stocked")  # a stocked money item: stock row and fund row
        expiry = round_ % 2 == 1
        if expiry:
            async with tenant_transaction(w.t.id):
                await Voucher.filter(id=closing.id).update(expires_at=clock.now() - timedelta(minutes=1))
        held = asyncio.Event()

        async def close(closing=closing, expiry=expiry, held=held):
            await held.wait()  # it reaches the fund row while the third transaction holds it
            async with tenant_transaction(w.t.id):
                if expiry:
                    assert await vouchers.expire_vouchers() == 1
                else:
                    await vouchers.cancel(access=w.caller("res1"), actor="res1", voucher_id=closing.id)

        async def take(held=held):
            await held.wait()
            await asyncio.sleep(0.15)  # after the close queued on the fund row
            return await _redeem(w, "res2", "meal_stocked")

        got = await asyncio.gather(_hold_fund_row(w, held, 0.5), close(), take(), return_exceptions=True)
        assert not [g for g in got if isinstance(g, BaseException)], (round_, got)
    async with tenant_transaction(w.t.id):
        items = {i.redemption.code: i for i in await catalogue.catalogue(access=w.caller("res1"))}
        assert items["meal_stocked"].stock_left == 50 - 4  # res2's four are out, res1's came back
    assert (await _balances(w, "points_fund"))["points_fund"] == FUND_FEN - 4 * 100
    await _clean(w.t)


async def test_the_shortfall_never_counts_points_whose_expiry_day_has_come(voucher_world):
    from tenants import clock

    w = voucher_world
    async with tenant_transaction(w.t.id):
        today = await clock.today()
        await give(w.ids["res1"], 50, "due", on=today.replace(year=today.year - 1))  # its 12 months end today
        await give(w.ids["res1"], 30, "live")
    with pytest.raises(InsufficientPoints) as short:
        await _redeem(w, "res1", "shopping_10")  # 100 points
    assert short.value.details == {"needed": 100, "balance": 30, "shortfall": 70}


async def test_the_ledger_and_the_audit_name_a_voucher_by_id_and_masked_code_never_its_code(voucher_world):
    from tortoise import connections

    from tenants import clock
    from tenants.audit.models import AuditEntry
    from tenants.points.models import EntryKind, PointsEntry
    from tenants.points.voucher_access import masked

    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 200, "a")
    used, cancelled, expired = [await _redeem(w, "res1", "canteen_meal_5") for _ in range(3)]
    await _verify(w, "canteen", used.code)
    async with tenant_transaction(w.t.id):
        await vouchers.cancel(access=w.caller("res1"), actor="res1", voucher_id=cancelled.id)
        await Voucher.filter(id=expired.id).update(expires_at=clock.now() - timedelta(minutes=1))
        assert await vouchers.expire_vouchers() == 1
        for v in (used, cancelled, expired):
            redeemed = await PointsEntry.get(kind=EntryKind.REDEEM, source_kind="voucher", source_id=v.id)
            assert redeemed.source_ref == masked(v.code) and f"#{v.id}" in redeemed.reason
        returns = await PointsEntry.filter(kind=EntryKind.RETURN).order_by("id")
        assert [(e.source_id, e.source_ref) for e in returns] == [
            (cancelled.id, masked(cancelled.code)), (expired.id, masked(expired.code))
        ]
        written = [e.reason + e.source_ref + e.idempotency_key for e in await PointsEntry.all()]
        written += [r["reason"] for r in await connections.get("default").execute_query_dict(
            "SELECT reason FROM ledger_journal WHERE tenant_id = $1 AND source_kind = 'points_voucher'", [w.t.id])]
        written += [str(a.details) for a in await AuditEntry.filter(target_type="points_voucher")]
        assert len(written) > 10
        for v in (used, cancelled, expired):
            assert not [x for x in written if v.code in x], v.code
            assert any(f"#{v.id} {masked(v.code)}" in x for x in written)


async def test_a_second_verification_says_when_in_the_tenants_time(voucher_world):
    from zoneinfo import ZoneInfo

    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res2"], 50, "meal")
    v = await _redeem(w, "res2", "canteen_meal_5")
    used = await _verify(w, "canteen", v.code)
    with pytest.raises(DomainError) as again:
        await _verify(w, "canteen", v.code)
    local = f"{used.used_at.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M} Asia/Shanghai"
    assert f"已于 {local} 核销" in again.value.message_zh and local in again.value.message_en
    assert "UTC" not in again.value.message_zh + again.value.message_en
