"""Partner statements: a month's verified vouchers per partner in fen, draft -> approved (frozen) -> paid, the
monthly job run twice, and a merchant reading only its own."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from tortoise import connections

from tenants import periods
from tenants.errors import DomainError
from tenants.ledger import accounts
from tenants.ledger import service as money
from tenants.points import ledger as points
from tenants.points import statements, statements_scheduled, vouchers
from tenants.points.voucher_access import readable_statements
from tenants.points.voucher_models import PartnerStatement, PartnerStatementLine
from tenants.scope import tenant_transaction
from tenants.tenancy.service import current_zone
from tests.fixtures.points_vouchers import FUND_FEN, give

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))


async def _month_of_use(w):
    """Two canteen meals (50 points -> 500 fen each) and a haircut at shop 1 (1,500 fen), verified now."""
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 120, "meals")
        meal1 = await vouchers.redeem(access=w.caller("res1"), actor="res1", redemption="canteen_meal_5")
        meal2 = await vouchers.redeem(access=w.caller("res1"), actor="res1", redemption="canteen_meal_5")
        cut = await vouchers.redeem(access=w.caller("res1"), actor="res1", redemption="shop1_haircut")
        for who, v in (("canteen", meal1), ("shop1", cut)):
            await vouchers.verify(access=w.caller(who), actor=who, code=v.code)
        return meal1, meal2, cut


async def test_a_canteen_meal_of_50_points_is_500_fen_on_the_canteens_statement_approved_then_paid(voucher_world):
    w = voucher_world
    meal1, meal2, _ = await _month_of_use(w)
    async with tenant_transaction(w.t.id):
        month = (await vouchers.Voucher.get(id=meal1.id)).used_month
        later = meal1.issued_at + timedelta(days=40)
        with pytest.raises(DomainError) as early:
            await statements.compute(access=w.caller("admin"), month=month, actor="admin", now=meal1.issued_at)
        assert early.value.code == "INVALID_INPUT"
        run = await statements.compute(access=w.caller("admin"), month=month, actor="admin", now=later)
        assert len(run.created) == 2
        again = await statements.compute(access=w.caller("admin"), month=month, actor="admin", now=later)
        assert again.created == [] and again.replaced == [] and len(again.unchanged) == 2
        by_partner = {s.partner_id: s for s in await PartnerStatement.filter(month=month)}
        canteen = by_partner[w.ids["canteen"]]
        assert (canteen.voucher_count, canteen.total_fen) == (1, 500)  # meal2 was never used
        lines = await PartnerStatementLine.filter(statement_id=canteen.id)
        assert [(x.voucher_code, x.amount_fen) for x in lines] == [(meal1.code, 500)]
        assert by_partner[w.ids["shop1"]].total_fen == 1_500
        # A meal used later in the month would change the draft: approving a stale draft is refused.
        await vouchers.verify(access=w.caller("canteen"), actor="canteen", code=meal2.code,
                              now=meal1.issued_at + timedelta(seconds=5))
        with pytest.raises(DomainError) as stale:
            await statements.approve(access=w.caller("admin"), statement_id=canteen.id, actor="admin", now=later)
        assert stale.value.code == "STATEMENT_STALE"
        await statements.compute(access=w.caller("admin"), month=month, actor="admin", now=later)
        approved = await statements.approve(access=w.caller("admin"), statement_id=canteen.id, actor="admin",
                                            now=later)
        assert (approved.status.value, approved.total_fen) == ("approved", 1_000)
    # Frozen: the database refuses changes to an approved statement and its lines.
    with pytest.raises(Exception, match="cannot change"):
        async with tenant_transaction(w.t.id):
            await connections.get("default").execute_query(
                "UPDATE partner_statement SET total_fen = 1 WHERE id = $1", [canteen.id])
    with pytest.raises(Exception, match="cannot change"):
        async with tenant_transaction(w.t.id):
            await PartnerStatementLine.filter(statement_id=canteen.id).delete()
    async with tenant_transaction(w.t.id):
        payable, paid = accounts.partner_payable(w.ids["canteen"]), accounts.partner_paid(w.ids["canteen"])
        assert await money.balances([payable, paid]) == {payable: 1_000, paid: 0}
        with pytest.raises(DomainError):
            await statements.pay(access=w.caller("admin"), statement_id=canteen.id, reference=" ", actor="admin")
        done = await statements.pay(access=w.caller("admin"), statement_id=canteen.id, reference="BANK-2026-001",
                                    actor="admin", now=later)
        assert done.status.value == "paid"
        assert await money.balances([payable, paid]) == {payable: 0, paid: 1_000}
        assert await money.balance("points_fund") == FUND_FEN - 2 * 500 - 1_500  # the reserves of three vouchers
        with pytest.raises(DomainError) as twice:
            await statements.pay(access=w.caller("admin"), statement_id=canteen.id, reference="X", actor="admin")
        assert twice.value.code == "CONFLICT"
        assert await money.verify() == [] and await points.verify() == []
        # A merchant reads only its own statements; the canteen's staff only the canteen's.
        assert [s.partner_id for s in await readable_statements(w.caller("shop1"))] == [w.ids["shop1"]]
        assert [s.partner_id for s in await readable_statements(w.caller("canteen"))] == [w.ids["canteen"]]
        assert await readable_statements(w.caller("shop2")) == []
    async with tenant_transaction(w.other.id):
        assert await PartnerStatement.all().count() == 0


async def test_the_monthly_job_computes_the_month_before_once(voucher_world):
    w = voucher_world
    meal1, _, _ = await _month_of_use(w)
    async with tenant_transaction(w.t.id):
        month = (await vouchers.Voucher.get(id=meal1.id)).used_month
        zone = await current_zone()
    year, mon = int(month[:4]), int(month[5:])
    nxt = (year + (mon == 12), mon % 12 + 1)
    before = datetime(nxt[0], nxt[1], 5, 2, tzinfo=zone)  # the preset's monthly_points: day 5, 03:00
    at = datetime(nxt[0], nxt[1], 5, 3, 30, tzinfo=zone)
    async with tenant_transaction(w.t.id):
        assert (await statements_scheduled.monthly(now=before))["computed"] is False
        first = await statements_scheduled.monthly(now=at)
        assert first == {"month": month, "computed": True, "statements": 2}
        assert (await statements_scheduled.monthly(now=at))["computed"] is False
        assert await PartnerStatement.filter(month=month).count() == 2


async def test_the_finance_office_exports_a_months_partner_statements(voucher_world, settings, client):
    from tenants.tenancy.roles import Role
    from tests.fixtures.callers import bearer

    w = voucher_world
    meal1, _, cut = await _month_of_use(w)
    async with tenant_transaction(w.t.id):
        month = (await vouchers.Voucher.get(id=meal1.id)).used_month
        later = meal1.issued_at + timedelta(days=40)
        await statements.compute(access=w.caller("admin"), month=month, actor="admin", now=later)
        canteen = await PartnerStatement.get(partner_id=w.ids["canteen"])
        await statements.approve(access=w.caller("admin"), statement_id=canteen.id, actor="admin", now=later)
    admin = {"Authorization": f"Bearer {bearer(settings, w.t, Role.TENANT_ADMIN, user_id='admin')}"}
    got = await client.get(f"/exports/partner-statements/{month}.csv", headers=admin)
    assert got.status_code == 200, got.text
    text = got.content.decode("utf-8-sig")
    assert meal1.code in text and "500,5.00" in text and cut.code not in text  # shop 1's is still a draft
    everything = await client.get(f"/exports/partner-statements/{month}.csv?status=all", headers=admin)
    assert cut.code in everything.content.decode("utf-8-sig") and "2000,20.00" in everything.content.decode()
    xlsx = await client.get(f"/exports/partner-statements/{month}.xlsx", headers=admin)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    # A partner's staff downloads its own partner's statements only; a property company nothing.
    staff = {"Authorization": "Bearer " + bearer(settings, w.t, Role.PARTNER_STAFF,
                                                 f"partner:{w.ids['canteen']}/partner_staff", user_id="x")}
    own = await client.get(f"/exports/partner-statements/{month}.csv?partner=canteen_1&status=all", headers=staff)
    assert own.status_code == 200, own.text
    assert meal1.code in own.content.decode("utf-8-sig") and cut.code not in own.content.decode("utf-8-sig")
    mine = await client.get(f"/exports/partner-statements/{month}.csv?status=all", headers=staff)
    assert mine.status_code == 200 and cut.code not in mine.content.decode("utf-8-sig")
    theirs = await client.get(f"/exports/partner-statements/{month}.csv?partner=shop_1&status=all", headers=staff)
    assert theirs.status_code == 404 and "partner" in theirs.text
    company = {"Authorization": "Bearer " + bearer(settings, w.t, Role.PROPERTY_COMPANY, f"company:{w.ids['P1']}")}
    refused = await client.get(f"/exports/partner-statements/{month}.csv", headers=company)
    assert refused.status_code == 403
    bad = await client.get("/exports/partner-statements/2026-13.csv", headers=admin)
    assert bad.status_code == 400


async def test_the_job_kinds_run_per_tenant_once_a_period(voucher_world):
    from zoneinfo import ZoneInfo

    from jobs.kinds import KINDS
    from jobs.worker import run_tenant_job
    from tenants import clock
    from tenants.jobruns.models import JobRun

    w = voucher_world
    async with tenant_transaction(w.t.id):
        await give(w.ids["res1"], 50, "meal")
        v = await vouchers.redeem(access=w.caller("res1"), actor="res1", redemption="canteen_meal_5")
        # As if issued 31 days ago: its last day has ended.
        await vouchers.Voucher.filter(id=v.id).update(expires_at=clock.now() - timedelta(minutes=1))
    for kind in ("voucher_expiry", "partner_statements"):
        period = KINDS[kind].period(clock.now(), ZoneInfo("Asia/Shanghai"))
        assert (await run_tenant_job({}, kind, w.t.id, period))["executed"]
        assert (await run_tenant_job({}, kind, w.t.id, period))["reason"] == "already_done"
    async with tenant_transaction(w.t.id):
        assert (await JobRun.get(kind="voucher_expiry")).counts == {"expired": 1}
        assert (await vouchers.Voucher.get(id=v.id)).status.value == "expired"
        assert await points.balance_of(w.ids["res1"]) == 50


async def test_a_decided_statement_takes_no_line_moved_in_and_keeps_its_id_and_author(voucher_world):
    w = voucher_world
    meal1, _, _ = await _month_of_use(w)
    async with tenant_transaction(w.t.id):
        later = meal1.issued_at + timedelta(days=40)
        month = (await vouchers.Voucher.get(id=meal1.id)).used_month
        await statements.compute(access=w.caller("admin"), month=month, actor="admin", now=later)
        by_partner = {s.partner_id: s for s in await PartnerStatement.filter(month=month)}
        canteen, shop = by_partner[w.ids["canteen"]], by_partner[w.ids["shop1"]]
        await statements.approve(access=w.caller("admin"), statement_id=canteen.id, actor="admin", now=later)
        draft_line = await PartnerStatementLine.get(statement_id=shop.id)
    refused = [  # as the application role, raw SQL (RETURNING: the row is there to change, RLS lets it through)
        ("UPDATE partner_statement_line SET statement_id = $1 WHERE id = $2", [canteen.id, draft_line.id]),
        ("UPDATE partner_statement SET computed_by = 'someone else' WHERE id = $1", [canteen.id]),
        ("UPDATE partner_statement SET id = id + 1000 WHERE id = $1", [canteen.id]),
    ]
    for query, args in refused:
        with pytest.raises(Exception, match="cannot change"):
            async with tenant_transaction(w.t.id):
                await connections.get("default").execute_query_dict(query + " RETURNING id", args)
    async with tenant_transaction(w.t.id):
        assert await PartnerStatementLine.filter(statement_id=canteen.id).count() == 1
        assert (await PartnerStatement.get(id=canteen.id)).computed_by == "admin"


async def test_more_than_500_statements_are_all_listed_and_exported(voucher_world, settings, client, gql):
    from tenants.tenancy.roles import Role
    from tests.fixtures.callers import bearer

    w = voucher_world
    at = datetime(2026, 3, 5, tzinfo=UTC)
    async with tenant_transaction(w.t.id):
        await PartnerStatement.bulk_create([
            PartnerStatement(month="2026-02", partner_id=10_000 + i, status="approved", voucher_count=0,
                             total_fen=100, computed_at=at, computed_by="t", approved_at=at, approved_by="t")
            for i in range(501)
        ])
    admin = bearer(settings, w.t, Role.TENANT_ADMIN, user_id="admin")
    got = await client.get("/exports/partner-statements/2026-02.csv", headers={"Authorization": f"Bearer {admin}"})
    assert got.status_code == 200, got.text
    text = got.content.decode("utf-8-sig")
    assert text.count("合计 total") == 501 and "50100,501.00" in text
    query = """query($a: String) { partnerStatements(month: "2026-02", first: 100, after: $a) {
      totalCount pageInfo { hasNextPage endCursor } edges { node { partnerId } } } }"""
    seen, after = [], None
    while True:
        page = (await gql(query, admin, {"a": after}))["data"]["partnerStatements"]
        assert page["totalCount"] == 501
        seen += [e["node"]["partnerId"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 501


async def test_the_export_refuses_a_partner_that_is_not_a_partner_code_and_a_month_with_a_newline(
    voucher_world, settings, client
):
    from tenants.tenancy.roles import Role
    from tests.fixtures.callers import bearer

    w = voucher_world
    admin = {"Authorization": f"Bearer {bearer(settings, w.t, Role.TENANT_ADMIN, user_id='admin')}"}
    for partner in ("商户", 'a"; filename="evil.exe', "Shop", "a" * 65, "shop_1\n"):
        got = await client.get("/exports/partner-statements/2026-02.csv", params={"partner": partner}, headers=admin)
        assert got.status_code == 400, (partner, got.text)
        assert "partner" in got.text
    unknown = await client.get("/exports/partner-statements/2026-02.csv", params={"partner": "shop_9"}, headers=admin)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["extensions"]["field"] == "partner"
    ok = await client.get("/exports/partner-statements/2026-02.csv", params={"partner": "shop_1"}, headers=admin)
    assert ok.status_code == 200 and 'filename="partner-statements-2026-02-shop_1.csv"' in ok.headers[
        "content-disposition"]
    for month in ("2026-02\n", "2026-02\r\n"):
        with pytest.raises(DomainError) as err:
            periods.month_bounds(month)
        assert err.value.code == "INVALID_INPUT"
