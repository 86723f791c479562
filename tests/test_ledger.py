"""The ledger: balanced journals posted once per key, balances kept by the database, reversals, the check."""

from __future__ import annotations

import asyncio

import pytest
from asyncpg.exceptions import RaiseError
from tortoise.exceptions import OperationalError

from tenants.errors import Conflict
from tenants.ledger import accounts
from tenants.ledger.models import LedgerBalance, LedgerPosting
from tenants.ledger.service import InsufficientBalance, Leg, balance, post, reverse, verify
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tests.conftest import codes


def move(src: str, dst: str, fen: int) -> list[Leg]:
    return [Leg(src, -fen), Leg(dst, fen)]


async def _post(key, legs, **kw):
    return await post(
        key=key, legs=legs, period="2026", reason="test", source_kind="test", source_id=None, author="tester", **kw
    )


async def test_balances_follow_postings_and_keys_post_once(three_tenants):
    a, b, _ = three_tenants
    pool, fund = accounts.subsidy_pool(1, 2026), accounts.subsidy_fund(2026)
    async with tenant_transaction(a.id):
        j1 = await _post("fund", move(fund, pool, 6_000_000))
        again = await _post("fund", move(fund, pool, 6_000_000))
        assert again.id == j1.id
        with pytest.raises(Conflict):
            await _post("fund", move(fund, pool, 5_000_000))
        await _post("pay", move(pool, accounts.subsidy_payable(7), 1_234_567))
        assert await balance(pool) == 6_000_000 - 1_234_567
        assert await balance(fund) == -6_000_000
        assert await verify() == []
    async with tenant_transaction(b.id):
        assert await balance(pool) == 0  # another tenant's accounts are its own
        assert await LedgerPosting.all().count() == 0


async def test_an_account_holding_money_never_goes_below_zero(three_tenants):
    a, _, _ = three_tenants
    bond = accounts.bond(5)
    async with tenant_transaction(a.id):
        await _post("deposit", move(accounts.bond_depositor(3), bond, 10_000))
        with pytest.raises(InsufficientBalance) as err:
            await _post("draw", move(bond, accounts.bond_repairs(5), 10_001))
        assert err.value.field == "amountFen"
        assert await balance(bond) == 10_000  # nothing half-posted
        await _post("draw2", move(bond, accounts.bond_repairs(5), 10_000))
        assert await balance(bond) == 0


async def test_a_reversal_negates_a_journal_once(three_tenants):
    a, _, _ = three_tenants
    src, dst = accounts.brand_fund(2026), accounts.brand_cap(2026)
    async with tenant_transaction(a.id):
        j = await _post("cap", move(src, dst, 500))
        r = await reverse(journal_id=j.id, key="undo", reason="wrong cap", author="tester")
        assert r.reverses_id == j.id
        assert await balance(dst) == 0 and await balance(src) == 0
        with pytest.raises(Conflict):
            await reverse(journal_id=j.id, key="undo-again", reason="twice", author="tester")
        assert await verify() == []


async def test_an_unbalanced_journal_is_refused_at_commit_and_a_tampered_balance_is_found(three_tenants):
    a, _, _ = three_tenants
    with pytest.raises(ValueError):
        async with tenant_transaction(a.id):
            await _post("bad", [Leg("x:1", 5), Leg("y:1", -4)])
    with pytest.raises((OperationalError, RaiseError), match="does not balance"):
        async with tenant_transaction(a.id) as conn:
            j = await _post("ok", move("x:1", "y:1", 5))
            await conn.execute_query(
                "INSERT INTO ledger_posting (tenant_id, journal_id, account, amount_fen) VALUES ($1, $2, 'z:1', 3)",
                [a.id, j.id],
            )
    async with tenant_transaction(a.id):
        assert await LedgerPosting.all().count() == 0
        await _post("ok", move("x:1", "y:1", 5))
        await LedgerBalance.filter(account="y:1").update(balance_fen=6)
        mismatches = await verify()
        assert [(m.account, m.kept_fen, m.posted_fen) for m in mismatches] == [("y:1", 6, 5)]


async def test_postings_cannot_be_edited_or_deleted(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id):
        await _post("k", move("x:1", "y:1", 5))
    for sql in (
        "UPDATE ledger_posting SET amount_fen = 1",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_journal SET reason = 'x'",
    ):
        with pytest.raises(OperationalError, match="permission denied"):
            async with tenant_transaction(a.id) as conn:
                await conn.execute_query(sql)


async def test_concurrent_drawdowns_never_overdraw(three_tenants):
    a, _, _ = three_tenants
    bond = accounts.bond(9)
    async with tenant_transaction(a.id):
        await _post("deposit", move(accounts.bond_depositor(1), bond, 10_000))

    async def draw(i: int) -> bool:
        try:
            async with tenant_transaction(a.id):
                await _post(f"draw{i}", move(bond, accounts.bond_repairs(9), 3_000))
            return True
        except InsufficientBalance:
            return False

    done = await asyncio.gather(*(draw(i) for i in range(8)))
    assert sum(done) == 3
    async with tenant_transaction(a.id):
        assert await balance(bond) == 1_000
        assert await verify() == []


async def test_the_ledger_through_graphql_admins_only_and_per_tenant(three_tenants, gql, token):
    a, b, _ = three_tenants
    bond = accounts.bond(4)
    async with tenant_transaction(a.id):
        await _post("deposit", move(accounts.bond_depositor(2), bond, 600_000))
        await _post("repair", move(bond, accounts.bond_repairs(4), 500_000))
    query = """query($a: String!) { ledgerBalance(account: $a) ledgerCheck { ok mismatches { account } }
      ledgerEntries(account: $a, first: 1) { edges { node { amountFen journal { idempotencyKey reason } } }
      pageInfo { hasNextPage endCursor } } }"""
    admin = token(a.slug, Role.TENANT_ADMIN)
    body = await gql(query, admin, {"a": bond})
    assert "errors" not in body, body
    data = body["data"]
    assert data["ledgerBalance"] == 100_000
    assert data["ledgerCheck"] == {"ok": True, "mismatches": []}
    assert [e["node"]["amountFen"] for e in data["ledgerEntries"]["edges"]] == [-500_000]  # newest first
    after = data["ledgerEntries"]["pageInfo"]["endCursor"]
    more = await gql(
        """query($a: String!, $c: String) { ledgerEntries(account: $a, first: 5, after: $c) { edges { node {
        amountFen journal { idempotencyKey } } } } }""",
        admin,
        {"a": bond, "c": after},
    )
    assert [e["node"] for e in more["data"]["ledgerEntries"]["edges"]] == [
        {"amountFen": 600_000, "journal": {"idempotencyKey": "deposit"}}
    ]
    other = await gql(query, token(b.slug, Role.TENANT_ADMIN), {"a": bond})
    assert other["data"]["ledgerBalance"] == 0 and other["data"]["ledgerEntries"]["edges"] == []
    assert codes(await gql(query, token(a.slug, Role.PROPERTY_COMPANY), {"a": bond})) == ["FORBIDDEN"]


async def test_a_fen_amount_that_is_not_a_whole_number_of_fen_is_a_client_error(three_tenants, gql, token):
    a, _, _ = three_tenants
    admin = token(a.slug, Role.TENANT_ADMIN)
    q = (
        'mutation($c: ID!, $f: Fen!) { depositBond(input: {contractId: $c, amountFen: $f, reference: "R"}) {'
        " replayed } }"
    )
    for bad in (2**53, 1.5, "100"):
        body = await gql(q, admin, {"c": "1", "f": bad})
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED", body
        assert "Fen" in body["errors"][0]["message"]
    literal = await gql(
        'mutation { depositBond(input: {contractId: "1", amountFen: 1.5, reference: "R"}) { replayed } }', admin
    )
    assert literal["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
