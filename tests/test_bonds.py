"""Performance bonds 履约保证金 under the 临沭 preset (5% of the year's fee, top-up within 30 days, reminded 5 days
before): hand-checked figures through GraphQL, concurrent drawdowns, the daily top-up check, scopes, tenants."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tenants.audit.models import AuditEntry
from tenants.bonds import scheduled as reminders
from tenants.bonds import service as bonds
from tenants.bonds.models import BondKind, BondTopUp, BondTransaction
from tenants.config.service import change_config
from tenants.inbox.models import Notification
from tenants.ledger import accounts
from tenants.ledger.models import LedgerJournal
from tenants.ledger.service import InsufficientBalance, balance, verify
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory import parties_service as parties
from tenants.territory.access import SYSTEM
from tenants.territory.parties import PropertyContract
from tenants.territory.people import Person, Post, PostKind
from tenants.tickets.models import Channel, Ticket
from tests.conftest import codes
from tests.fixtures.callers import ADMIN, bearer, tokens
from tests.fixtures.ids import db_id
from tests.fixtures.territory import build

SHANGHAI = ZoneInfo("Asia/Shanghai")
FEE = 120_000_00  # 120,000 CNY a year, in fen (the contracts of build())

BOND = """query($c: ID!) { bond(contractId: $c) { contractId requiredFen balanceFen shortfallFen ratioPercent
  topUp { dueOn late } } }"""
BONDS = """query($f: BondFilter) { bonds(filter: $f) { edges { node { contractId balanceFen } } } }"""
HISTORY = """query($c: ID!) { bondHistory(contractId: $c) { edges { node { kind amountFen balanceAfterFen reason
  reference ticketId actor } } } }"""
CHANGE = (
    "{ replayed transaction { id kind amountFen balanceAfterFen ticketId } bond { balanceFen shortfallFen"
    " topUp { dueOn late } } }"
)
DEPOSIT = "mutation($in: DepositBondInput!) { depositBond(input: $in) " + CHANGE + " }"
DRAW = "mutation($in: DrawDownBondInput!) { drawDownBond(input: $in) " + CHANGE + " }"
REFUND = "mutation($in: RefundBondInput!) { refundBond(input: $in) " + CHANGE + " }"
REPORT = "mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id } }"


async def _people(tenant_id: int, ids: dict) -> None:
    """A resident, the company P1's staff member, the officers of S1 and S2, and an administrator."""
    async with tenant_transaction(tenant_id):
        await Person.create(user_id="res-1", name="居民", household_id=ids["H1"])
        for user, kind, target_kind, target in (
            ("p1-staff", PostKind.PROPERTY_COMPANY, "company", ids["P1"]),
            ("so-1", PostKind.STREET_OFFICER, "street", ids["S1"]),
            ("so-2", PostKind.STREET_OFFICER, "street", ids["S2"]),
            ("admin-1", PostKind.TENANT_ADMIN, None, None),
        ):
            person = await Person.create(user_id=user, name=user)
            await Post.create(
                person_id=person.id, kind=kind, target_kind=target_kind, target_id=target, starts_on=date(2020, 1, 1)
            )


async def _contracts(tenant_id: int, ids: dict) -> dict[str, int]:
    async with tenant_transaction(tenant_id):
        rows = await PropertyContract.filter(compound_id__in=[ids["K1"], ids["K3"]]).values_list("compound_id", "id")
    by_compound = dict(rows)
    return {"K1": by_compound[ids["K1"]], "K3": by_compound[ids["K3"]]}


@pytest.fixture
async def county(app, settings, once):
    return await once(_county, settings)


async def _county(settings):
    t = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    other = await create_tenant(slug="tancheng", name="郯城县", preset="linshu")
    ids, other_ids = await build(t.id), await build(other.id)
    await _people(t.id, ids)

    return {
        "t": t,
        "other": other,
        "ids": ids,
        "k": await _contracts(t.id, ids),
        "other_k": await _contracts(other.id, other_ids),
        **tokens(
            settings, t, ids,
            admin="admin-1", housing_dept="u", street_officer_s1="so-1", street_officer_s2="so-2",
            community_worker_c1="u", community_worker_c3="u", company_p1="p1-staff", resident="res-1",
        ),
        "other_admin": bearer(settings, other, Role.TENANT_ADMIN, user_id="u"),
    }


async def _ok(gql, query, token, variables, name):
    body = await gql(query, token, variables)
    assert "errors" not in body, body
    return body["data"][name]


def _error(body):
    assert body["data"] is None or all(v is None for v in body["data"].values()), body
    e = body["errors"][0]["extensions"]
    return e["code"], e["field"]


async def test_deposit_drawdown_for_a_heating_pipe_top_up_and_refusals(county, gql):
    c, k1 = county, str(county["k"]["K1"])
    bond = await _ok(gql, BOND, c["admin"], {"c": k1}, "bond")
    # 5% of 12,000,000 fen = 600,000 fen (6,000 CNY), nothing held yet.
    assert bond == {
        "contractId": k1,
        "requiredFen": 600_000,
        "balanceFen": 0,
        "shortfallFen": 600_000,
        "ratioPercent": 5,
        "topUp": None,
    }
    dep = await _ok(
        gql,
        DEPOSIT,
        c["street_officer_s1"],
        {"in": {"contractId": k1, "amountFen": 600_000, "reference": "临财收字2026-001"}},
        "depositBond",
    )
    assert dep["bond"] == {"balanceFen": 600_000, "shortfallFen": 0, "topUp": None}
    ticket = await _ok(
        gql,
        REPORT,
        c["resident"],
        {"in": {"itemCode": "heating_pipe", "compoundId": str(c["ids"]["K1"]), "description": "供热管道破裂漏水"}},
        "reportTicket",
    )

    # Everything wrong at once is reported at once: the amount, the missing reason, a ticket of another compound.
    async with tenant_transaction(c["t"].id):
        other_ticket = await Ticket.create(
            category_code="facility_repair",
            item_code="heating_pipe",
            description="x",
            channel=Channel.APP,
            compound_id=c["ids"]["K3"],
            reporter_user_id="r",
            entered_by="r",
            opened_at=datetime.now(UTC),
        )
    body = await gql(
        DRAW,
        c["street_officer_s1"],
        {"in": {"contractId": k1, "amountFen": 0, "reason": " ", "ticketId": str(other_ticket.id)}},
    )
    assert codes(body) == ["INVALID_INPUT"]
    assert [p["field"] for p in body["errors"][0]["extensions"]["problems"]] == ["amountFen", "reason", "ticketId"]

    today = datetime.now(SHANGHAI).date()
    draw = await _ok(
        gql,
        DRAW,
        c["street_officer_s1"],
        {"in": {"contractId": k1, "amountFen": 500_000, "reason": "供热管道抢修", "ticketId": ticket["id"]}},
        "drawDownBond",
    )
    assert draw["transaction"] == {
        "id": draw["transaction"]["id"],
        "kind": "DRAWDOWN",
        "amountFen": 500_000,
        "balanceAfterFen": 100_000,
        "ticketId": str(db_id(ticket["id"])),  # a foreign key: the ticket's database id
    }
    # 100,000 held, 600,000 required: the company owes 500,000 within 30 days.
    assert draw["bond"] == {
        "balanceFen": 100_000,
        "shortfallFen": 500_000,
        "topUp": {"dueOn": str(today + timedelta(days=30)), "late": False},
    }

    # More than the balance: refused, naming the amount, and nothing is saved.
    body = await gql(DRAW, c["street_officer_s1"],
                     {"in": {"contractId": k1, "amountFen": 100_001, "reason": "再次抢修"}})
    assert _error(body) == ("INSUFFICIENT_BALANCE", "amountFen")
    history = await _ok(gql, HISTORY, c["company_p1"], {"c": k1}, "bondHistory")
    assert [(e["node"]["kind"], e["node"]["amountFen"], e["node"]["balanceAfterFen"]) for e in history["edges"]] == [
        ("DRAWDOWN", 500_000, 100_000),
        ("DEPOSIT", 600_000, 600_000),
    ]
    assert history["edges"][0]["node"]["ticketId"] == str(db_id(ticket["id"]))
    assert history["edges"][1]["node"]["reference"] == "临财收字2026-001"
    async with tenant_transaction(c["t"].id):
        assert await balance(accounts.bond(int(k1))) == 100_000
        assert await balance(accounts.bond_repairs(int(k1))) == 500_000
        assert await LedgerJournal.all().count() == 2
        told = await Notification.filter(kind="bond.drawdown").values_list("recipient", "body")
        assert [r for r, _ in told] == ["p1-staff"]
        assert "支取 5,000.00 元" in told[0][1] and "补足 5,000.00 元" in told[0][1]
        assert sorted(
            await AuditEntry.filter(target_type="contract", target_id=k1, action__startswith="bond.").values_list(
                "action", flat=True
            )
        ) == ["bond.deposit", "bond.drawdown"]

    # The top-up: a retried request with the same key posts once; the same key for another amount is a conflict.
    top = {"contractId": k1, "amountFen": 500_000, "reference": "临财收字2026-002", "idempotencyKey": "pay-2"}
    first = await _ok(gql, DEPOSIT, c["street_officer_s1"], {"in": top}, "depositBond")
    again = await _ok(gql, DEPOSIT, c["street_officer_s1"], {"in": top}, "depositBond")
    assert (first["replayed"], again["replayed"]) == (False, True)
    assert again["transaction"]["id"] == first["transaction"]["id"]
    assert again["bond"] == {"balanceFen": 600_000, "shortfallFen": 0, "topUp": None}  # settled
    body = await gql(DEPOSIT, c["street_officer_s1"], {"in": {**top, "amountFen": 1}})
    assert _error(body) == ("CONFLICT", "idempotencyKey")
    async with tenant_transaction(c["t"].id):
        assert await balance(accounts.bond(int(k1))) == 600_000
        assert await balance(accounts.bond_depositor(c["ids"]["P1"])) == -1_100_000
        assert (await BondTopUp.get(contract_id=int(k1))).settled_at is not None
        assert await verify() == []


async def test_concurrent_drawdowns_never_take_a_bond_below_zero(county):
    t, k3 = county["t"], county["k"]["K3"]
    async with tenant_transaction(t.id):
        await bonds.deposit(access=ADMIN, actor="admin", contract_id=k3, amount_fen=100_000, reference="R-1")

    async def draw(i: int) -> bool:
        try:
            async with tenant_transaction(t.id):
                await bonds.draw_down(access=ADMIN, actor="s", contract_id=k3, amount_fen=30_000, reason=f"抢修{i}")
            return True
        except InsufficientBalance:
            return False

    done = await asyncio.gather(*(draw(i) for i in range(6)))
    assert sum(done) == 3  # 100,000 affords three drawdowns of 30,000
    async with tenant_transaction(t.id):
        assert await balance(accounts.bond(k3)) == 10_000
        assert sorted(
            await BondTransaction.filter(kind=BondKind.DRAWDOWN).values_list("balance_after_fen", flat=True)
        ) == [10_000, 40_000, 70_000]
        assert await BondTopUp.filter(contract_id=k3, settled_at=None).count() == 1
        assert await verify() == []


async def test_a_first_deposit_retried_at_once_is_recorded_once(county):
    t, k3 = county["t"], county["k"]["K3"]

    async def deposit() -> bool:
        async with tenant_transaction(t.id):
            change = await bonds.deposit(
                access=ADMIN, actor="admin", contract_id=k3, amount_fen=600_000, reference="R-1", idempotency_key="k"
            )
        return change.replayed

    replayed = await asyncio.gather(deposit(), deposit())
    assert sorted(replayed) == [False, True]  # a double click: one deposit, one replay of it
    async with tenant_transaction(t.id):
        assert await BondTransaction.filter(contract_id=k3).count() == 1
        assert await balance(accounts.bond(k3)) == 600_000
        assert await verify() == []


async def test_a_partial_early_refund_leaves_the_top_up_owed(county):
    t, k3 = county["t"], county["k"]["K3"]
    async with tenant_transaction(t.id):
        await bonds.deposit(access=ADMIN, actor="admin", contract_id=k3, amount_fen=600_000, reference="R-1")
        await bonds.draw_down(access=ADMIN, actor="s", contract_id=k3, amount_fen=500_000, reason="抢修")
        await bonds.refund(access=ADMIN, actor="admin", contract_id=k3, amount_fen=1, reason="多收 1 分")
        assert await BondTopUp.filter(contract_id=k3, settled_at=None).count() == 1  # still owed: 99,999 < 600,000
        await bonds.refund(access=ADMIN, actor="admin", contract_id=k3, reason="提前终止合同")
        assert await balance(accounts.bond(k3)) == 0
        assert await BondTopUp.filter(contract_id=k3, settled_at=None).count() == 0  # returned in full: nothing owed


async def test_refunds_after_the_end_by_the_street_before_it_only_by_an_admin(county, gql):
    c, k1 = county, str(county["k"]["K1"])
    async with tenant_transaction(c["t"].id):
        ended = await parties.create_contract(
            access=ADMIN,
            actor="seed",
            company_id=c["ids"]["P1"],
            compound_id=c["ids"]["K2"],
            starts_on=date(2024, 1, 1),
            ends_on=date(2025, 12, 31),
            annual_fee_fen=FEE,
        )
    old = str(ended.id)
    for cid in (old, k1):
        await _ok(
            gql, DEPOSIT, c["admin"], {"in": {"contractId": cid, "amountFen": 600_000, "reference": "R"}}, "depositBond"
        )
    # Ended contract: its street refunds the whole balance by default; then there is nothing left.
    done = await _ok(gql, REFUND, c["street_officer_s1"], {"in": {"contractId": old}}, "refundBond")
    assert (done["transaction"]["kind"], done["transaction"]["amountFen"], done["bond"]["balanceFen"]) == (
        "REFUND",
        600_000,
        0,
    )
    assert _error(await gql(REFUND, c["street_officer_s1"],
                            {"in": {"contractId": old}})) == ("INVALID_INPUT", "amountFen")
    # Running contract: not the street; an admin only with a reason, never more than the balance.
    assert _error(await gql(REFUND, c["street_officer_s1"], {"in": {"contractId": k1}})) == ("FORBIDDEN", "contractId")
    assert _error(await gql(REFUND, c["admin"], {"in": {"contractId": k1}})) == ("INVALID_INPUT", "reason")
    body = await gql(REFUND, c["admin"], {"in": {"contractId": k1, "amountFen": 600_001, "reason": "提前解除合同"}})
    assert _error(body) == ("INSUFFICIENT_BALANCE", "amountFen")
    part = await _ok(
        gql,
        REFUND,
        c["admin"],
        {"in": {"contractId": k1, "amountFen": 200_000, "reason": "提前解除合同"}},
        "refundBond",
    )
    assert part["bond"]["balanceFen"] == 400_000
    async with tenant_transaction(c["t"].id):
        # Deposited 1,200,000 in all, refunded 800,000: the company's side holds the difference.
        assert await balance(accounts.bond_depositor(c["ids"]["P1"])) == -400_000
        assert await verify() == []


def _local(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, 9, 0, tzinfo=SHANGHAI)


async def test_the_daily_job_reminds_once_and_flags_late_once(county):
    t, k1 = county["t"], county["k"]["K1"]
    async with tenant_transaction(t.id):
        await bonds.deposit(
            access=ADMIN, actor="a", contract_id=k1, amount_fen=600_000, reference="R", now=_local(2026, 12, 1)
        )
        await bonds.draw_down(
            access=ADMIN, actor="a", contract_id=k1, amount_fen=500_000, reason="供热管道抢修", now=_local(2026, 12, 1)
        )
        assert (await BondTopUp.get(contract_id=k1)).due_on == date(2026, 12, 31)  # 30 days

    async def run(day: datetime) -> tuple[int, int]:
        with tenant_context(t.id):
            out = await reminders.daily(now=day)
        return out["reminded"], out["late"]

    assert await run(_local(2026, 12, 25)) == (0, 0)  # 6 days before: not yet
    with tenant_context(t.id):  # two runs racing on the 5th day before: one reminder
        both = await asyncio.gather(
            reminders.daily(now=_local(2026, 12, 26)), reminders.daily(now=_local(2026, 12, 26))
        )
    assert sum(r["reminded"] for r in both) == 1
    assert await run(_local(2026, 12, 27)) == (0, 0)
    assert await run(_local(2026, 12, 31)) == (0, 0)  # the due day itself is not late
    assert await run(_local(2027, 1, 1)) == (0, 1)
    assert await run(_local(2027, 1, 2)) == (0, 0)
    async with tenant_transaction(t.id):
        due = await Notification.filter(kind="bond.top_up_due").values_list("recipient", "body")
        assert [r for r, _ in due] == ["p1-staff"]
        assert "尚需补足 5,000.00 元" in due[0][1] and "2026年12月31日" in due[0][1]
        late = await Notification.filter(kind="bond.top_up_late").values_list("recipient", flat=True)
        assert sorted(late) == ["admin-1", "p1-staff", "so-1"]  # not S2's officer
        top_up = await BondTopUp.get(contract_id=k1)
        assert top_up.late_at == _local(2027, 1, 1) and top_up.reminded_at == _local(2026, 12, 26)
        await bonds.deposit(
            access=ADMIN, actor="a", contract_id=k1, amount_fen=500_000, reference="R2", now=_local(2027, 1, 3)
        )
        assert (await BondTopUp.get(contract_id=k1)).settled_at == _local(2027, 1, 3)


async def test_each_role_sees_its_bonds_and_another_tenant_nothing(county, gql):
    c, k1, k3 = county, str(county["k"]["K1"]), str(county["k"]["K3"])
    await _ok(
        gql, DEPOSIT, c["admin"], {"in": {"contractId": k1, "amountFen": 600_000, "reference": "R"}}, "depositBond"
    )
    await _ok(
        gql, DEPOSIT, c["admin"], {"in": {"contractId": k3, "amountFen": 100_000, "reference": "R"}}, "depositBond"
    )

    async def listed(token, f=None):
        return [
            (e["node"]["contractId"], e["node"]["balanceFen"])
            for e in (await _ok(gql, BONDS, token, {"f": f}, "bonds"))["edges"]
        ]

    both = [(k1, 600_000), (k3, 100_000)]
    assert await listed(c["admin"]) == both
    assert await listed(c["housing_dept"]) == both
    assert await listed(c["admin"], {"belowRequired": True}) == [(k3, 100_000)]
    assert await listed(c["admin"], {"belowRequired": False, "streetId": str(c["ids"]["S1"])}) == [(k1, 600_000)]
    assert await listed(c["admin"], {"late": True}) == []
    assert await listed(c["company_p1"]) == [(k1, 600_000)]  # a company: only its own bond
    assert await listed(c["street_officer_s1"]) == [(k1, 600_000)]
    assert await listed(c["street_officer_s2"]) == [(k3, 100_000)]
    assert await listed(c["community_worker_c3"]) == [(k3, 100_000)]
    for token in (c["company_p1"], c["street_officer_s1"]):
        assert _error(await gql(BOND, token, {"c": k3})) == ("NOT_FOUND", "contractId")
        assert _error(await gql(HISTORY, token, {"c": k3})) == ("NOT_FOUND", "contractId")
    assert _error(await gql(BONDS, c["resident"], {})) == ("FORBIDDEN", None)
    assert _error(await gql(BOND, c["resident"], {"c": k1}))[0] == "FORBIDDEN"

    draw = {"contractId": k1, "amountFen": 1, "reason": "抢修"}
    # readers who cannot act, and a resident
    for token in (c["company_p1"], c["community_worker_c1"], c["housing_dept"], c["resident"]):
        assert _error(await gql(DRAW, token, {"in": draw}))[0] == "FORBIDDEN"
    # another street's
    assert _error(await gql(DRAW, c["street_officer_s2"], {"in": draw})) == ("NOT_FOUND", "contractId")

    # Another tenant: sees only its own contracts, and neither reads nor moves this one.
    other = [k for k, _ in await listed(c["other_admin"])]
    assert other == sorted(str(i) for i in c["other_k"].values()) and k1 not in other
    assert _error(await gql(BOND, c["other_admin"], {"c": k1})) == ("NOT_FOUND", "contractId")
    assert _error(await gql(DRAW, c["other_admin"], {"in": draw})) == ("NOT_FOUND", "contractId")

    # Bonds switched off: movements are refused with a typed error; what was recorded stays readable.
    async with tenant_transaction(c["t"].id):
        await change_config(access=SYSTEM, actor="admin-1", set_values={"bonds": {"enabled": False}})
    assert _error(await gql(DRAW, c["street_officer_s1"], {"in": draw})) == ("NOT_ENABLED", "contractId")
    assert (await _ok(gql, BOND, c["street_officer_s1"], {"c": k1}, "bond"))["balanceFen"] == 600_000
    async with tenant_transaction(c["t"].id):
        assert await balance(accounts.bond(int(k1))) == 600_000
        assert await BondTransaction.filter(kind=BondKind.DRAWDOWN).count() == 0
    # ...but the money still held can be returned (early, so by a tenant administrator with a reason).
    refunded = await _ok(
        gql, REFUND, c["admin"], {"in": {"contractId": k1, "reason": "停用保证金制度，退还"}}, "refundBond"
    )
    assert refunded["transaction"]["amountFen"] == 600_000 and refunded["bond"]["balanceFen"] == 0


async def test_the_daily_job_opens_the_top_ups_owed_once(county):
    """A bond never paid in, or below a raised requirement, owes a top-up: the daily job opens it once (due 30 days
    on) and tells the company; a deposit that brings the bond up to the requirement settles it."""
    t, k1, k3 = county["t"], county["k"]["K1"], county["k"]["K3"]

    async def run(day: datetime) -> int:
        with tenant_context(t.id):
            return (await reminders.daily(now=day))["opened"]

    assert await run(_local(2026, 12, 1)) == 2  # neither K1's nor K3's firm has paid in
    assert await run(_local(2026, 12, 2)) == 0
    async with tenant_transaction(t.id):
        owed = {u.contract_id: u for u in await BondTopUp.filter(settled_at=None)}
        assert {c: (u.required_fen, u.shortfall_fen, u.due_on) for c, u in owed.items()} == {
            k1: (600_000, 600_000, date(2026, 12, 31)),
            k3: (600_000, 600_000, date(2026, 12, 31)),
        }
        told = await Notification.filter(kind="bond.top_up_owed").values_list("recipient", "body")
        assert [r for r, _ in told] == ["p1-staff"]  # P2 (K3) has no staff on file
        assert "尚差 6,000.00 元" in told[0][1] and "2026年12月31日" in told[0][1]
        await bonds.deposit(
            access=ADMIN, actor="a", contract_id=k1, amount_fen=600_000, reference="R", now=_local(2026, 12, 3)
        )
        assert await BondTopUp.filter(contract_id=k1, settled_at=None).count() == 0
        # From 2027 the ratio is 10 %: K1's bond of 600,000 is short of 1,200,000.
        await change_config(
            access=SYSTEM,
            actor="admin-1", set_values={"bonds": {"ratio_percent": 10}}, effective_from=date(2027, 1, 1)
        )
    assert await run(_local(2026, 12, 31)) == 0
    assert await run(_local(2027, 1, 1)) == 1  # K1 only: K3 still owes its first one
    async with tenant_transaction(t.id):
        again = await BondTopUp.get(contract_id=k1, settled_at=None)
        assert (again.required_fen, again.shortfall_fen, again.due_on) == (1_200_000, 600_000, date(2027, 1, 31))
        assert await BondTopUp.filter(contract_id=k3).count() == 1
