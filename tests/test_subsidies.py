"""以奖代补 settlement under the 下花园区 preset: hand-computed statements, the lifecycle through the ledger,
corrections of approved periods, staleness, errors, the schedule, concurrency, a killed worker, another tenant."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from asyncpg.exceptions import RaiseError
from tortoise.exceptions import OperationalError

from tenants.assessment import ratings, rounds
from tenants.audit.models import AuditEntry
from tenants.clock import today as tenant_today
from tenants.config.service import change_config
from tenants.db import connect
from tenants.errors import Conflict, DomainError, InvalidInput, NotFound
from tenants.ledger import accounts
from tenants.ledger.models import LedgerJournal, LedgerPosting
from tenants.scope import tenant_context, tenant_transaction
from tenants.subsidies import scheduled as schedule
from tenants.subsidies import service
from tenants.subsidies.models import LineKind, SettlementLine, SettlementStatement, StatementStatus
from tenants.territory import parties_service as parties
from tenants.territory import service as territory
from tenants.territory.access import SYSTEM
from tests.conftest import ROOT
from tests.fixtures.callers import ADMIN, tokens
from tests.fixtures.money import (
    NOW_Q3,
    NOW_Q4,
    World,
    all_balances,
    lines_of,
    make_world,
    publish_scores,
    score_party,
    statements,
    table,
    verified,
)

Q3 = "2026Q3"
# C1's three compounds: slot = 1,500,000 / 3 = 500,000 fen.
#   K1 95.00 -> band >= 90 -> 100% -> 500,000;  K4 85.50 -> band >= 80 -> 90% -> 450,000;
#   K5 72.00 -> band >= 70 -> 70% -> 350,000;   total 1,300,000 (no rounding).
C1_SCORES = {"K1": "95.00", "K4": "85.50", "K5": "72.00"}
# C3's seven compounds (each band's lower edge, and just below): slot = 1,500,000 / 7 = 214,285 5/7 fen.
#   K3  95.00 100%: 1,500,000/7 = 214,285 5/7      K6  90.00 100%: 214,285 5/7
#   K7  89.99  90%: 1,350,000/7 = 192,857 1/7      K8  80.00  90%: 192,857 1/7
#   K9  70.00  70%: 1,050,000/7 = 150,000          K10 60.00  50%:   750,000/7 = 107,142 6/7
#   K11 59.99   0%: 0
#   exact sum = 7,500,000/7 = 1,071,428 4/7 -> total 1,071,428; the floors sum to 1,071,426, so 2 fen are left:
#   one to K10 (remainder 6/7, the largest), one to K3 (5/7, tied with K6: the smaller compound id first).
C3_SCORES = {
    "K3": "95.00",
    "K6": "90.00",
    "K7": "89.99",
    "K8": "80.00",
    "K9": "70.00",
    "K10": "60.00",
    "K11": "59.99",
}
C1_LINES = [
    ("K1", "P1", "95.00", 90, 100, 500_000),
    ("K4", "P2", "85.50", 80, 90, 450_000),
    ("K5", "P1", "72.00", 70, 70, 350_000),
]
C3_LINES = [
    ("K3", "P2", "95.00", 90, 100, 214_286),
    ("K6", "P1", "90.00", 90, 100, 214_285),
    ("K7", "P2", "89.99", 80, 90, 192_857),
    ("K8", "P1", "80.00", 80, 90, 192_857),
    ("K9", "P2", "70.00", 70, 70, 150_000),
    ("K10", "P1", "60.00", 60, 50, 107_143),
    ("K11", "P2", "59.99", 0, 0, 0),
]


@pytest.fixture
async def world(app, once) -> World:
    return await once(_world)


async def _world() -> World:
    return await make_world(extra=True)


@pytest.fixture
async def small(app, once) -> World:
    return await once(_small)


async def _small() -> World:
    return await make_world(extra=False)


async def _rated(w: World, period: str = Q3, c1: dict | None = None, c3: dict | None = None, **kw) -> None:
    """Publish ratings: C1's and C3's hand-figure scores unless others are given ({} for none)."""
    scores = {**(C1_SCORES if c1 is None else c1), **(C3_SCORES if c3 is None else c3)}
    async with tenant_transaction(w.t.id):
        await publish_scores(w, period, scores, **kw)


async def _run(w: World, period: str = Q3, now: datetime = NOW_Q3, tenant=None) -> service.RunResult:
    async with tenant_transaction((tenant or w.t).id):
        return await service.run(access=SYSTEM, period_key=period, actor="admin", now=now)


async def _approve(w: World, statement_id: int, now: datetime = NOW_Q3, tenant=None):
    async with tenant_transaction((tenant or w.t).id):
        return await service.approve(access=SYSTEM, statement_id=statement_id, actor="admin", now=now)


async def _pay(w: World, statement_id: int, reference: str = "BANK-20261015-001", now: datetime = NOW_Q3):
    async with tenant_transaction(w.t.id):
        return await service.pay(
            access=SYSTEM, statement_id=statement_id, reference=reference, actor="finance", now=now
        )


async def _state(w: World, period: str = Q3):
    """(statements by community key, lines by community key, ledger balances, verify ok)."""
    async with tenant_transaction(w.t.id):
        found = await statements(period)
        return (
            {w.key("C", c): s for c, s in found.items()},
            {w.key("C", c): await lines_of(s.id) for c, s in found.items()},
            await all_balances(),
            await verified(),
        )


def _pool(w: World, key: str, year: int = 2026) -> str:
    return accounts.subsidy_pool(w.ids[key], year)


def _payable(w: World, key: str) -> str:
    return accounts.subsidy_payable(w.ids[key])


def _paid(w: World, key: str) -> str:
    return accounts.subsidy_paid(w.ids[key])


# 1. Hand-computed settlement -------------------------------------------------------------------------------------


async def test_a_quarter_is_settled_per_community_exactly_to_the_fen(world):
    w = world
    await _rated(w)
    result = await _run(w)
    stmts, lines, balances, ok = await _state(w)
    assert sorted(stmts) == ["C1", "C3"]  # C2's compound has no contract, hence no rating and no statement
    assert sorted(result.created) == sorted(s.id for s in stmts.values()) and result.replaced == []
    assert table(w, lines["C1"]) == C1_LINES
    assert (stmts["C1"].pool_fen, stmts["C1"].total_fen) == (1_500_000, 1_300_000)
    assert table(w, lines["C3"]) == C3_LINES
    assert (stmts["C3"].pool_fen, stmts["C3"].total_fen) == (1_500_000, 1_071_428)
    assert sum(ln.amount_fen for ln in lines["C3"]) == 1_071_428
    # Which lines took a fen of the remainder, and the exact quota behind each line.
    assert [ln.detail["remainder_fen"] for ln in lines["C3"]] == [True, False, False, False, False, True, False]
    assert [ln.detail["quota_fen"] for ln in lines["C3"]] == [
        "1500000/7",
        "1500000/7",
        "1350000/7",
        "1350000/7",
        "150000/1",
        "750000/7",
        "0/1",
    ]
    assert all(s.status == StatementStatus.DRAFT for s in stmts.values())
    k1 = lines["C1"][0]
    assert k1.kind == LineKind.RATING and k1.for_period == Q3
    assert "≥90" in k1.rule and "5000.00" in k1.rule and "100%" in k1.rule  # 500,000 fen = 5,000.00 CNY slots
    assert "2142.86" in lines["C3"][0].rule  # 1,500,000 / 7 fen = 2,142.857... CNY
    assert stmts["C1"].rule["bands"] == [
        {"min_score": str(m), "share_percent": p} for m, p in ((0, 0), (60, 50), (70, 70), (80, 90), (90, 100))
    ]
    assert stmts["C1"].rule["cadence"] == "quarterly" and stmts["C1"].rule["rounding"] == "largest_remainder"
    assert stmts["C1"].basis == {Q3: 1}
    assert balances == {} and ok  # a draft posts nothing


LINE_BREAKDOWN = """query($id: ID!) { settlementStatement(id: $id) { lines { kind amountFen detail breakdown {
  __typename
  ... on RatingLineDetail { quotaFen quotaNumerator quotaDenominator remainderFen periodScores { periodKey score } }
  ... on AdjustmentLineDetail { correctedStatementId dueFen settledFen basis { periodKey revision } } } } } }"""


async def test_the_typed_line_breakdown_says_what_the_json_detail_says(world, gql, settings):
    w = world
    await _rated(w)
    await _run(w)
    stmts, _, _, _ = await _state(w)
    admin = tokens(settings, w.t, w.ids, admin="admin")["admin"]
    body = await gql(LINE_BREAKDOWN, admin, {"id": str(stmts["C3"].id)})
    assert "errors" not in body, body
    lines = body["data"]["settlementStatement"]["lines"]
    # By hand (C3_SCORES): slot 1,500,000 / 7; K3 and K6 100% of it, K7 and K8 90%, K9 70% (150,000 exactly),
    # K10 50%, K11 nothing; K3 and K10 take the two remainder fen.
    assert [
        (b["__typename"], b["quotaNumerator"], b["quotaDenominator"], b["remainderFen"], x["amountFen"])
        for x in lines
        for b in [x["breakdown"]]
    ] == [
        ("RatingLineDetail", 1_500_000, 7, 1, 214_286),
        ("RatingLineDetail", 1_500_000, 7, 0, 214_285),
        ("RatingLineDetail", 1_350_000, 7, 0, 192_857),
        ("RatingLineDetail", 1_350_000, 7, 0, 192_857),
        ("RatingLineDetail", 150_000, 1, 0, 150_000),
        ("RatingLineDetail", 750_000, 7, 1, 107_143),
        ("RatingLineDetail", 0, 1, 0, 0),
    ]
    assert [x["breakdown"]["periodScores"] for x in lines] == [
        [{"periodKey": Q3, "score": score}] for score in C3_SCORES.values()
    ]
    for x in lines:  # the same facts as the deprecated JSON
        b, d = x["breakdown"], x["detail"]
        assert b["quotaFen"] == d["quota_fen"] == f"{b['quotaNumerator']}/{b['quotaDenominator']}"
        assert b["remainderFen"] == int(d["remainder_fen"])
        assert {p["periodKey"]: p["score"] for p in b["periodScores"]} == d["period_scores"]
        # The amount is the quota's whole fen plus the remainder fen it took.
        assert x["amountFen"] == b["quotaNumerator"] // b["quotaDenominator"] + b["remainderFen"]


async def test_an_unrated_compound_takes_no_slot_and_a_lone_compound_takes_the_whole_pool(world):
    w = world
    await _rated(w, c1={"K1": "90.00"}, c3={"K3": "61.00"})
    await _run(w)
    _, lines, _, _ = await _state(w)
    # C1: K1 alone (K4, K5 unrated this quarter): 100% of 1,500,000. C3: K3 alone at 50%: 750,000.
    assert table(w, lines["C1"]) == [("K1", "P1", "90.00", 90, 100, 1_500_000)]
    assert table(w, lines["C3"]) == [("K3", "P2", "61.00", 60, 50, 750_000)]


# 2. Lifecycle ------------------------------------------------------------------------------------------------------


async def test_draft_rerun_revision_approval_freeze_and_payment(world):
    w = world
    await _rated(w)
    first = await _run(w)
    before, before_lines, _, _ = await _state(w)

    # A re-run with nothing changed leaves the drafts as they are.
    again = await _run(w, now=NOW_Q3 + timedelta(hours=1))
    assert sorted(again.unchanged) == sorted(first.created) and again.created == again.replaced == []
    after, after_lines, _, _ = await _state(w)
    for key in ("C1", "C3"):
        assert (after[key].id, after[key].computed_at) == (before[key].id, before[key].computed_at)
        assert [ln.id for ln in after_lines[key]] == [ln.id for ln in before_lines[key]]

    # Ratings revised before approval: K4 85.50 -> 79.99 (band >= 70: 70% of 500,000 = 350,000). Both drafts are
    # replaced in place (C3's lines are the same, but it now rests on revision 2).
    await _rated(w, c1={**C1_SCORES, "K4": "79.99"}, reason="业委会评分更正")
    later = NOW_Q3 + timedelta(hours=2)
    replaced = await _run(w, now=later)
    assert sorted(replaced.replaced) == sorted(first.created) and replaced.created == []
    stmts, lines, balances, ok = await _state(w)
    assert stmts["C1"].id == before["C1"].id and stmts["C1"].computed_at == later
    assert table(w, lines["C1"])[1] == ("K4", "P2", "79.99", 70, 70, 350_000)
    assert stmts["C1"].total_fen == 1_200_000 and stmts["C1"].basis == {Q3: 2}
    assert table(w, lines["C3"]) == C3_LINES and stmts["C3"].basis == {Q3: 2}
    assert balances == {} and ok

    # Approval: the year's pool is funded once per community, then each line moves to its payee's payable.
    await _approve(w, stmts["C1"].id)
    stmts, _, balances, ok = await _state(w)
    assert stmts["C1"].status == StatementStatus.APPROVED and stmts["C1"].approved_by == "admin"
    assert balances == {
        accounts.subsidy_fund(2026): -6_000_000,
        _pool(w, "C1"): 6_000_000 - 1_200_000,
        _payable(w, "P1"): 500_000 + 350_000,  # K1, K5
        _payable(w, "P2"): 350_000,  # K4
    }
    assert ok
    await _approve(w, stmts["C3"].id)
    # C3 pays P1 for K6, K8, K10: 214,285 + 192,857 + 107,143 = 514,285; P2 for K3, K7, K9, K11:
    # 214,286 + 192,857 + 150,000 + 0 = 557,143.
    _, _, balances, ok = await _state(w)
    assert balances == {
        accounts.subsidy_fund(2026): -12_000_000,
        _pool(w, "C1"): 4_800_000,
        _pool(w, "C3"): 6_000_000 - 1_071_428,
        _payable(w, "P1"): 850_000 + 514_285,
        _payable(w, "P2"): 350_000 + 557_143,
    }
    assert ok
    async with tenant_transaction(w.t.id):
        assert await LedgerJournal.filter(source_kind="subsidy_pool").count() == 2  # one per community-year
        pools = await service.pools(2026, [w.ids["C1"], w.ids["C2"], w.ids["C3"]])
    assert [(p.yearly_pool_fen, p.drawn_fen, p.paid_fen, p.remaining_fen) for p in pools] == [
        (6_000_000, 1_200_000, 0, 4_800_000),
        (6_000_000, 0, 0, 6_000_000),
        (6_000_000, 1_071_428, 0, 4_928_572),
    ]

    # Approved statements never change: a re-run (even after another revision) leaves them, and the database
    # refuses any change the application role tries.
    await _rated(w, c1={**C1_SCORES, "K4": "10.00"}, reason="再次更正")
    kept = await _run(w, now=NOW_Q3 + timedelta(hours=3))
    assert sorted(kept.unchanged) == sorted(first.created) and kept.created == kept.replaced == []
    frozen, frozen_lines, _, _ = await _state(w)
    assert frozen["C1"].total_fen == 1_200_000 and table(w, frozen_lines["C1"])[1][-1] == 350_000
    sid, lid = stmts["C1"].id, frozen_lines["C1"][0].id
    for sql in (
        f"UPDATE settlement_statement SET total_fen = 1 WHERE id = {sid}",
        f"UPDATE settlement_statement SET status = 'draft' WHERE id = {sid}",
        f"DELETE FROM settlement_statement WHERE id = {sid}",
        f"UPDATE settlement_line SET amount_fen = 1 WHERE id = {lid}",
        f"DELETE FROM settlement_line WHERE id = {lid}",
    ):
        with pytest.raises((OperationalError, RaiseError), match="cannot change"):
            async with tenant_transaction(w.t.id) as conn:
                await conn.execute_query(sql)
    with pytest.raises((OperationalError, RaiseError), match="cannot change"):
        async with tenant_transaction(w.t.id):
            await SettlementLine.create(
                statement_id=sid,
                position=99,
                for_period=Q3,
                compound_id=w.ids["K1"],
                company_id=w.ids["P1"],
                rule="x",
                amount_fen=1,
            )

    # Payment with the bank's reference: the payables move to paid.
    paid = await _pay(w, stmts["C1"].id, reference="  BANK-20261015-001 ")
    assert (paid.status, paid.payment_reference, paid.paid_by) == (StatementStatus.PAID, "BANK-20261015-001", "finance")
    _, _, balances, ok = await _state(w)
    assert balances[_payable(w, "P1")] == 514_285 and balances[_paid(w, "P1")] == 850_000
    assert balances[_payable(w, "P2")] == 557_143 and balances[_paid(w, "P2")] == 350_000
    assert ok
    with pytest.raises((OperationalError, RaiseError), match="cannot change"):
        async with tenant_transaction(w.t.id) as conn:
            await conn.execute_query(f"UPDATE settlement_statement SET payment_reference = 'x' WHERE id = {sid}")
    async with tenant_transaction(w.t.id):
        pools = await service.pools(2026, [w.ids["C1"]])
        actions = await AuditEntry.filter(action__startswith="settlement.").values_list("action", flat=True)
    assert (pools[0].drawn_fen, pools[0].paid_fen) == (1_200_000, 1_200_000)
    # Four runs, two of which changed something (the first and the one after the revision).
    assert sorted(actions) == ["settlement.approve"] * 2 + ["settlement.pay"] + ["settlement.run"] * 2


# 3. Corrections of an approved period ------------------------------------------------------------------------------


async def _open_and_score(w: World, period: str, each: dict[str, int], now: datetime) -> None:
    async with tenant_transaction(w.t.id):
        await rounds.open_round(access=SYSTEM, actor="test", period_key=period, now=now)
        for key, points in each.items():
            await score_party(w, period, key, points, now=now)
        await ratings.compute(access=SYSTEM, period_key=period, now=now)
        await ratings.publish(access=SYSTEM, period_key=period, actor="test", now=now)


async def test_a_revised_approved_quarter_is_corrected_by_adjustment_lines_next_quarter(small, gql, settings):
    w = small
    # 2026Q3 through the assessment itself. Only the party organisation scores (25 points per item at most):
    # K1 25 x 4 = 100 -> 0.8 x 100 + 20 = 100.00 -> 100% of 1,500,000 (one compound per community);
    # K3 15 x 4 = 60 -> 0.8 x 60 + 20 = 68.00 -> band >= 60: 50% -> 750,000.
    await _open_and_score(w, Q3, {"K1": 25, "K3": 15}, NOW_Q3)
    await _run(w)
    q3, q3_lines, _, _ = await _state(w)
    assert [table(w, q3_lines[k]) for k in ("C1", "C3")] == [
        [("K1", "P1", "100.00", 90, 100, 1_500_000)],
        [("K3", "P2", "68.00", 60, 50, 750_000)],
    ]
    for key in ("C1", "C3"):
        await _approve(w, q3[key].id)
    await _pay(w, q3["C1"].id)

    # Corrections after approval: K1 down to 15 x 4 (68.00: 750,000 due), K3 up to 25 x 4 (100.00: 1,500,000).
    async with tenant_transaction(w.t.id):
        await score_party(w, Q3, "K1", 15, now=NOW_Q4, reason="复核：公示不全")
        await score_party(w, Q3, "K3", 25, now=NOW_Q4, reason="复核：材料补齐")
        revised = await ratings.compute(access=SYSTEM, period_key=Q3, revise_reason="党组织评分复核", now=NOW_Q4)
        assert revised.revision == 2
        await ratings.publish(access=SYSTEM, period_key=Q3, actor="test", now=NOW_Q4)
    assert (await _run(w, now=NOW_Q4)).created == []  # the approved quarter stays as it was approved

    # 2026Q4: K1 100.00 (1,500,000), K3 68.00 (750,000), plus the differences for 2026Q3:
    # C1: K1 due 750,000, settled 1,500,000 -> -750,000; total 1,500,000 - 750,000 = 750,000.
    # C3: K3 due 1,500,000, settled 750,000 -> +750,000; total 750,000 + 750,000 = 1,500,000.
    await _open_and_score(w, "2026Q4", {"K1": 25, "K3": 15}, NOW_Q4)
    await _run(w, "2026Q4", now=NOW_Q4)
    q4, q4_lines, _, _ = await _state(w, "2026Q4")
    assert [(ln.kind, ln.for_period, ln.amount_fen) for ln in q4_lines["C1"]] == [
        (LineKind.RATING, "2026Q4", 1_500_000),
        (LineKind.ADJUSTMENT, Q3, -750_000),
    ]
    assert [(ln.kind, ln.for_period, ln.amount_fen) for ln in q4_lines["C3"]] == [
        (LineKind.RATING, "2026Q4", 750_000),
        (LineKind.ADJUSTMENT, Q3, 750_000),
    ]
    adj = q4_lines["C3"][1]
    assert table(w, [adj]) == [("K3", "P2", "100.00", 90, 100, 750_000)]
    assert adj.detail == {"statement_id": q3["C3"].id, "basis": {Q3: 2}, "due_fen": 1_500_000, "settled_fen": 750_000}
    admin = tokens(settings, w.t, w.ids, admin="admin")["admin"]
    typed = (await gql(LINE_BREAKDOWN, admin, {"id": str(q4["C3"].id)}))["data"]["settlementStatement"]["lines"]
    assert [(x["kind"], x["breakdown"]["__typename"]) for x in typed] == [
        ("RATING", "RatingLineDetail"), ("ADJUSTMENT", "AdjustmentLineDetail")
    ]
    assert typed[1]["breakdown"] == {
        "__typename": "AdjustmentLineDetail",
        "correctedStatementId": str(q3["C3"].id),
        "dueFen": 1_500_000,
        "settledFen": 750_000,
        "basis": [{"periodKey": Q3, "revision": 2}],
    }
    # The amount is what is due now minus what was settled: 1,500,000 - 750,000.
    assert typed[1]["amountFen"] == typed[1]["breakdown"]["dueFen"] - typed[1]["breakdown"]["settledFen"] == 750_000
    assert "2026Q3" in adj.rule and "r2" in adj.rule
    assert (q4["C1"].total_fen, q4["C3"].total_fen) == (750_000, 1_500_000)

    for key in ("C1", "C3"):
        await _approve(w, q4[key].id, now=NOW_Q4)
    _, _, balances, ok = await _state(w, "2026Q4")
    # Pools of 2026: C1 6,000,000 - 1,500,000 (Q3) - 1,500,000 (Q4) + 750,000 (correction) = 3,750,000;
    # C3 6,000,000 - 750,000 - 750,000 - 750,000 = 3,750,000. Payables: P1 was paid its 1,500,000 for Q3 and is owed
    # 1,500,000 - 750,000 = 750,000 now; P2 750,000 + 750,000 + 750,000 = 2,250,000.
    assert balances == {
        accounts.subsidy_fund(2026): -12_000_000,
        _pool(w, "C1"): 3_750_000,
        _pool(w, "C3"): 3_750_000,
        _payable(w, "P1"): 750_000,
        _paid(w, "P1"): 1_500_000,
        _payable(w, "P2"): 2_250_000,
    }
    assert ok
    q3_after, q3_after_lines, _, _ = await _state(w)
    assert [(s.status, s.total_fen) for s in (q3_after["C1"], q3_after["C3"])] == [
        (StatementStatus.PAID, 1_500_000),
        (StatementStatus.APPROVED, 750_000),
    ]
    assert [ln.id for ln in q3_after_lines["C3"]] == [ln.id for ln in q3_lines["C3"]]

    # The correction is made once: 2027Q1 (nobody scored: 20.00, below 60, nothing) has no adjustment lines.
    q1_now = datetime(2027, 4, 2, tzinfo=UTC)
    await _open_and_score(w, "2027Q1", {}, q1_now)
    await _run(w, "2027Q1", now=q1_now)
    _, q1_lines, _, _ = await _state(w, "2027Q1")
    assert [[(ln.kind, str(ln.score), ln.amount_fen) for ln in q1_lines[k]] for k in ("C1", "C3")] == [
        [(LineKind.RATING, "20.00", 0)],
        [(LineKind.RATING, "20.00", 0)],
    ]


# 4. Stale drafts ---------------------------------------------------------------------------------------------------


async def test_a_compound_moved_after_approval_is_corrected_where_it_was_settled(small):
    """K3 was settled for 2026Q3 in C3; it then moves to C1's grid, and its 2026Q3 rating is revised up. The
    correction belongs to C3's 2026Q3 (+750,000), not to C1, whose 2026Q3 slots stay as approved."""
    w = small
    await _open_and_score(w, Q3, {"K1": 25, "K3": 15}, NOW_Q3)
    await _run(w)
    q3, _, _, _ = await _state(w)
    for key in ("C1", "C3"):
        await _approve(w, q3[key].id)
    async with tenant_transaction(w.t.id):
        await territory.move_area("compound", w.ids["K3"], access=ADMIN, actor="t", new_parent_id=w.ids["G1"])
        await score_party(w, Q3, "K3", 25, now=NOW_Q4, reason="复核：材料补齐")
        await ratings.compute(access=SYSTEM, period_key=Q3, revise_reason="党组织评分复核", now=NOW_Q4)
        await ratings.publish(access=SYSTEM, period_key=Q3, actor="test", now=NOW_Q4)
    await _open_and_score(w, "2026Q4", {"K1": 25, "K3": 25}, NOW_Q4)
    await _run(w, "2026Q4", now=NOW_Q4)
    _, q4_lines, _, _ = await _state(w, "2026Q4")
    corrections = {
        key: [(ln.compound_id, ln.amount_fen) for ln in lines if ln.kind == LineKind.ADJUSTMENT]
        for key, lines in q4_lines.items()
    }
    assert corrections == {"C1": [], "C3": [(w.ids["K3"], 750_000)]}
    # 2026Q4 itself: K1 and K3 now share C1's pool, 750,000 each at 100.00.
    assert [(ln.compound_id, ln.amount_fen) for ln in q4_lines["C1"] if ln.kind == LineKind.RATING] == [
        (w.ids["K1"], 750_000),
        (w.ids["K3"], 750_000),
    ]


async def test_a_draft_made_stale_by_a_revision_is_not_approved(world):
    w = world
    await _rated(w)
    await _run(w)
    stmts, _, _, _ = await _state(w)
    await _rated(w, c1={**C1_SCORES, "K1": "89.00"}, reason="更正")
    with pytest.raises(service.StatementStale) as err:
        await _approve(w, stmts["C1"].id)
    assert (err.value.code, err.value.field) == ("STATEMENT_STALE", "id")
    after, _, balances, _ = await _state(w)
    assert after["C1"].status == StatementStatus.DRAFT and balances == {}
    async with tenant_transaction(w.t.id):
        assert await LedgerJournal.all().count() == 0
    # Re-run, then it goes: K1 89.00 -> 90% of 500,000 = 450,000; total 450,000 + 450,000 + 350,000.
    await _run(w)
    approved = await _approve(w, stmts["C1"].id)
    assert (approved.status, approved.total_fen) == (StatementStatus.APPROVED, 1_250_000)


async def test_a_draft_with_adjustments_goes_stale_when_the_earlier_period_is_revised_again(world):
    w = world
    await _rated(w, c1=C1_SCORES, c3={})
    await _run(w)
    q3, _, _, _ = await _state(w)
    await _approve(w, q3["C1"].id)
    await _rated(w, "2026Q4", c1=C1_SCORES, c3={}, now=NOW_Q4)
    # K5 72.00 -> 80.00 (90%: 450,000 instead of 350,000): +100,000 for 2026Q3.
    await _rated(w, c1={**C1_SCORES, "K5": "80.00"}, c3={}, now=NOW_Q4, reason="r2")
    await _run(w, "2026Q4", now=NOW_Q4)
    q4, q4_lines, _, _ = await _state(w, "2026Q4")
    assert [(ln.kind, ln.amount_fen) for ln in q4_lines["C1"]][-1] == (LineKind.ADJUSTMENT, 100_000)
    # Revised again before the Q4 approval: K5 -> 90.00 (100%: 500,000): the draft's +100,000 is stale.
    await _rated(w, c1={**C1_SCORES, "K5": "90.00"}, c3={}, now=NOW_Q4, reason="r3")
    with pytest.raises(service.StatementStale):
        await _approve(w, q4["C1"].id, now=NOW_Q4)
    await _run(w, "2026Q4", now=NOW_Q4)
    _, q4_lines, _, _ = await _state(w, "2026Q4")
    assert [(ln.kind, ln.for_period, ln.amount_fen) for ln in q4_lines["C1"]] == [
        (LineKind.RATING, "2026Q4", 500_000),
        (LineKind.RATING, "2026Q4", 450_000),
        (LineKind.RATING, "2026Q4", 350_000),
        (LineKind.ADJUSTMENT, Q3, 150_000),
    ]
    approved = await _approve(w, q4["C1"].id, now=NOW_Q4)
    assert approved.total_fen == 1_450_000
    _, _, balances, ok = await _state(w)
    # C1's 2026 pool: 6,000,000 - 1,300,000 (Q3) - 1,450,000 (Q4 with the correction) = 3,250,000.
    assert balances[_pool(w, "C1")] == 3_250_000 and ok


# 5. Errors ---------------------------------------------------------------------------------------------------------


def _problems(err: InvalidInput) -> list[tuple[str, str]]:
    return [(p.field, p.reason) for p in err.problems]


async def test_runs_are_refused_with_typed_errors(world):
    w = world
    with pytest.raises(service.RatingsNotPublished) as err:
        await _run(w)
    assert (err.value.code, err.value.field, err.value.details) == (
        "RATINGS_NOT_PUBLISHED",
        "period",
        {"missing": [Q3]},
    )
    assert "2026Q3" in err.value.message_zh and "2026Q3" in err.value.message_en
    # A computed but unpublished draft is not enough.
    async with tenant_transaction(w.t.id):
        await rounds.open_round(access=SYSTEM, actor="test", period_key=Q3, now=NOW_Q3)
        await ratings.compute(access=SYSTEM, period_key=Q3, now=NOW_Q3)
    with pytest.raises(service.RatingsNotPublished):
        await _run(w)

    # The quarter ends at midnight in 下花园区 (UTC+8): 2026-09-30 15:59 UTC is still 2026Q3 there.
    with pytest.raises(InvalidInput) as bad:
        await _run(w, now=datetime(2026, 9, 30, 15, 59, tzinfo=UTC))
    assert _problems(bad.value) == [("period", "not_ended")]
    with pytest.raises(InvalidInput) as bad:
        await _run(w, "2026Q4")
    assert _problems(bad.value) == [("period", "not_ended")]
    with pytest.raises(InvalidInput) as bad:
        await _run(w, "2025")  # a year, but 下花园区 settles quarterly
    assert _problems(bad.value) == [("period", "cadence")] and bad.value.code == "INVALID_INPUT"
    for nonsense in ("2026-09", "2026Q5", "Q3"):
        with pytest.raises(InvalidInput) as bad:
            await _run(w, nonsense)
        assert _problems(bad.value) == [("period", "format")]
    async with tenant_transaction(w.other.id):
        with pytest.raises(service.SubsidiesDisabled) as off:
            await service.run(access=SYSTEM, period_key="2025", actor="admin", now=NOW_Q3)
    assert (off.value.code, off.value.field) == ("NOT_ENABLED", "period")
    async with tenant_transaction(w.t.id):
        assert await SettlementStatement.all().count() == 0


async def test_approval_and_payment_are_refused_in_the_wrong_state(world):
    w = world
    await _rated(w)
    await _run(w)
    stmts, _, _, _ = await _state(w)
    sid = stmts["C1"].id
    with pytest.raises(Conflict) as err:
        await _pay(w, sid)
    assert (err.value.code, err.value.field) == ("CONFLICT", "id")
    assert err.value.details == {"status": "draft", "action": "pay"}
    await _approve(w, sid)
    with pytest.raises(Conflict) as err:
        await _approve(w, sid)
    assert (err.value.code, err.value.details) == ("CONFLICT", {"status": "approved", "action": "approve"})
    for reference, reason in (("", "required"), ("   ", "required"), ("x" * 129, "too_long")):
        with pytest.raises(InvalidInput) as bad:
            await _pay(w, sid, reference=reference)
        assert _problems(bad.value) == [("reference", reason)]
    await _pay(w, sid)
    with pytest.raises(Conflict) as err:
        await _pay(w, sid)
    assert err.value.details == {"status": "paid", "action": "pay"}
    with pytest.raises(NotFound) as missing:
        await _approve(w, 987_654)
    assert (missing.value.code, missing.value.field) == ("NOT_FOUND", "id")
    async with tenant_transaction(w.t.id):
        # One approval and one payment posted; nothing else.
        assert sorted(await LedgerJournal.all().values_list("idempotency_key", flat=True)) == sorted(
            [f"settlement:{sid}:approve", f"settlement:{sid}:pay", f"subsidy_pool:{w.ids['C1']}:2026"]
        )
        assert await verified()


# 6. Without approval -------------------------------------------------------------------------------------------------


async def test_without_approval_a_run_approves_at_once(world):
    w = world
    # A configuration version cannot start in the past, so settle the quarter that contains today (tenant-local),
    # frozen at the first day of the next quarter.
    async with tenant_transaction(w.t.id):
        today = await tenant_today()
        await change_config(
            access=SYSTEM, actor="admin", set_values={"subsidies": {"approval_required": False}}, comment="免审批"
        )
    period = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    start, end = service.bounds(period)
    after = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)  # the next day, 08:00 local
    await _rated(w, period, now=after)
    result = await _run(w, period, now=after)
    assert sorted(result.approved) == sorted(result.created) and len(result.created) == 2
    stmts, _, balances, ok = await _state(w, period)
    assert {k: (s.status, s.total_fen, s.approved_by) for k, s in stmts.items()} == {
        "C1": (StatementStatus.APPROVED, 1_300_000, "admin"),
        "C3": (StatementStatus.APPROVED, 1_071_428, "admin"),
    }
    # Each quarter's pool is a quarter of 6,000,000 (1,500,000), whichever quarter this is.
    assert balances[_pool(w, "C1", start.year)] == 6_000_000 - 1_300_000
    assert balances[_pool(w, "C3", start.year)] == 6_000_000 - 1_071_428 and ok


async def test_a_pool_raised_mid_year_is_topped_up_and_never_overdrawn(world):
    """From April of next year the pool is 8,000,000 a year: Q1 draws 1,500,000, Q2..Q4 2,000,000 each (7,500,000
    in all). The year's pool was funded with 6,000,000 at Q1's approval; it is topped up to 8,000,000 at Q2's."""
    w = world
    async with tenant_transaction(w.t.id):
        year = (await tenant_today()).year + 1
        await change_config(
            access=SYSTEM,
            actor="admin",
            set_values={"subsidies": {"yearly_pool_per_community_fen": 8_000_000}},
            effective_from=date(year, 4, 1),
            comment="奖补池提高到 8 万元",
        )
    totals = []
    for q in range(1, 5):
        period = f"{year}Q{q}"
        _, end = service.bounds(period)
        now = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=2)
        await _rated(w, period, c1={"K1": "95.00", "K4": "90.00", "K5": "99.00"}, c3={}, now=now)
        sid = (await _run(w, period, now=now)).created[0]
        totals.append((await _approve(w, sid, now=now)).total_fen)
    # Q2..Q4: 2,000,000 / 3 = 666,666 2/3 each; the 2 fen left go to K1 and K4 (equal remainders, smaller ids).
    _, lines, _, _ = await _state(w, f"{year}Q2")
    assert [ln.amount_fen for ln in lines["C1"]] == [666_667, 666_667, 666_666]
    assert totals == [1_500_000, 2_000_000, 2_000_000, 2_000_000]
    async with tenant_transaction(w.t.id):
        balances = await all_balances()
        funding = (
            await LedgerJournal.filter(source_kind="subsidy_pool")
            .order_by("id")
            .values_list("idempotency_key", flat=True)
        )
        pools = await service.pools(year, [w.ids["C1"]])
        assert await verified()
    assert funding == [f"subsidy_pool:{w.ids['C1']}:{year}", f"subsidy_pool:{w.ids['C1']}:{year}:8000000"]
    assert balances[accounts.subsidy_fund(year)] == -8_000_000
    assert balances[_pool(w, "C1", year)] == 8_000_000 - 7_500_000
    assert (pools[0].yearly_pool_fen, pools[0].drawn_fen, pools[0].remaining_fen) == (8_000_000, 7_500_000, 500_000)


async def test_a_pool_cut_mid_year_reports_what_the_ledger_holds(world):
    """From April of next year the pool is 2,000,000 a year: Q1 draws 1,500,000 from the 6,000,000 funded at its
    approval, Q2..Q4 500,000 each. A cut never takes money back from the pool, and the pool figures are the
    ledger's: 6,000,000 put in, 3,000,000 drawn, 3,000,000 left (never negative)."""
    w = world
    async with tenant_transaction(w.t.id):
        year = (await tenant_today()).year + 1
        await change_config(
            access=SYSTEM,
            actor="admin",
            set_values={"subsidies": {"yearly_pool_per_community_fen": 2_000_000}},
            effective_from=date(year, 4, 1),
            comment="奖补池降到 2 万元",
        )
    for q in range(1, 5):
        period = f"{year}Q{q}"
        _, end = service.bounds(period)
        now = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=2)
        await _rated(w, period, c1={"K1": "95.00", "K4": "90.00", "K5": "99.00"}, c3={}, now=now)
        sid = (await _run(w, period, now=now)).created[0]
        await _approve(w, sid, now=now)
    async with tenant_transaction(w.t.id):
        pools = await service.pools(year, [w.ids["C1"], w.ids["C2"]])
        balances = await all_balances()
        assert await verified()
    assert balances[_pool(w, "C1", year)] == 3_000_000
    assert [(p.yearly_pool_fen, p.drawn_fen, p.paid_fen, p.remaining_fen) for p in pools] == [
        (6_000_000, 3_000_000, 0, 3_000_000),
        (2_000_000, 0, 0, 2_000_000),  # C2 was never funded: the configuration's pool at the year's end
    ]


async def test_a_yearly_settlement_rates_by_the_mean_of_the_quarters(world, services):
    """A version of 下花园区's configuration that settles yearly, in force from long ago (written as the owner: a new
    version cannot start in the past). The year's pool is the whole 6,000,000; a compound's rating is the mean of
    its published quarter scores, rounded half up to 0.01."""
    w = world
    owner = await connect(services.owner_url)
    try:
        overrides = await owner.fetchval("SELECT overrides FROM config_version WHERE tenant_id = $1", w.t.id)
        await owner.execute(
            "INSERT INTO config_version (tenant_id, version_no, overrides, effective_from, author, comment, created_at)"
            " VALUES ($1, 2, jsonb_set($2::jsonb, '{subsidies,settlement_cadence}', '\"yearly\"'), '2000-01-01',"
            " 'test', 'yearly', now())",
            w.t.id,
            overrides,
        )
    finally:
        await owner.close()
    quarters = {
        "2026Q1": {"K1": "95.00", "K4": "89.99"},
        "2026Q4": {"K1": "65.00", "K4": "90.00", "K5": "100.00"},
    }
    for period, scores in quarters.items():
        await _rated(w, period, c1=scores, c3={}, now=NOW_Q4)
    with pytest.raises(service.RatingsNotPublished) as err:
        await _run(w, "2026", now=NOW_Q4)
    assert err.value.details == {"missing": ["2026Q2", "2026Q3"]}
    with pytest.raises(InvalidInput) as bad:
        await _run(w, "2026Q4", now=NOW_Q4)
    assert _problems(bad.value) == [("period", "cadence")]
    await _rated(w, "2026Q2", c1={"K1": "85.00", "K4": "90.00"}, c3={}, now=NOW_Q4)
    await _rated(w, "2026Q3", c1={"K1": "75.00", "K4": "90.00"}, c3={}, now=NOW_Q4)
    with pytest.raises(InvalidInput) as bad:
        await _run(w, "2026", now=datetime(2026, 12, 31, 15, 59, tzinfo=UTC))  # 23:59 on New Year's Eve there
    assert _problems(bad.value) == [("period", "not_ended")]
    await _run(w, "2026", now=NOW_Q4)
    stmts, lines, _, _ = await _state(w, "2026")
    # Slot: 6,000,000 / 3. K1: (95 + 85 + 75 + 65) / 4 = 80.00 -> 90% -> 1,800,000.
    # K4: (89.99 + 90 + 90 + 90) / 4 = 89.9975 -> 90.00 -> 100% -> 2,000,000.
    # K5 (rated in Q4 only): 100.00 -> 2,000,000.
    assert table(w, lines["C1"]) == [
        ("K1", "P1", "80.00", 80, 90, 1_800_000),
        ("K4", "P2", "90.00", 90, 100, 2_000_000),
        ("K5", "P1", "100.00", 90, 100, 2_000_000),
    ]
    assert [ln.detail["period_scores"] for ln in lines["C1"]][1] == {
        "2026Q1": "89.99",
        "2026Q2": "90.00",
        "2026Q3": "90.00",
        "2026Q4": "90.00",
    }
    assert (stmts["C1"].pool_fen, stmts["C1"].total_fen, stmts["C1"].basis) == (
        6_000_000,
        5_800_000,
        {f"2026Q{q}": 1 for q in range(1, 5)},
    )
    await _approve(w, stmts["C1"].id, now=NOW_Q4)
    _, _, balances, ok = await _state(w, "2026")
    assert balances[_pool(w, "C1")] == 200_000 and ok


async def test_a_community_left_without_ratings_by_a_revision_loses_its_draft(world):
    w = world
    await _rated(w)
    await _run(w)
    await _rated(w, c3={}, reason="C3 的评级撤回")
    result = await _run(w)
    assert result.removed == 1 and len(result.replaced) == 1
    stmts, lines, _, _ = await _state(w)
    assert sorted(stmts) == ["C1"] and table(w, lines["C1"]) == C1_LINES
    async with tenant_transaction(w.t.id):
        assert await SettlementLine.all().count() == 3


# 7. The schedule ---------------------------------------------------------------------------------------------------


async def test_the_schedule_settles_once_on_the_configured_local_day_and_hour(world):
    w = world
    # 张家口's schedule (inherited): the 20th of the month after the quarter, 02:00 in Asia/Shanghai, which is
    # 2026-10-19 18:00 UTC for 2026Q3.
    due = datetime(2026, 10, 19, 18, 0, tzinfo=UTC)

    async def tick(now: datetime) -> dict:
        with tenant_context(w.t.id):
            return await schedule.hourly(now=now)

    assert await tick(due - timedelta(seconds=1)) == {"period": Q3, "settled": False}
    assert await tick(due) == {"period": Q3, "settled": False, "waiting_for": [Q3]}  # not published yet
    await _rated(w)
    assert await tick(due + timedelta(hours=1)) == {"period": Q3, "settled": True, "statements": 2}
    assert await tick(due + timedelta(hours=2)) == {"period": Q3, "settled": False}
    async with tenant_transaction(w.t.id):
        assert await SettlementStatement.filter(period_key=Q3).count() == 2
        assert set(await SettlementStatement.all().values_list("computed_by", flat=True)) == {"system"}
    # In January the last complete quarter is 2026Q4, not due before 2027-01-20 02:00 local.
    assert await tick(datetime(2027, 1, 19, 17, 59, tzinfo=UTC)) == {"period": "2026Q4", "settled": False}
    with tenant_context(w.other.id):
        assert await schedule.hourly(now=due) == {"enabled": False}


async def test_the_schedule_settles_the_last_quarter_under_its_own_configuration(world):
    """From next January 下花园区 settles yearly. On January 20 the quarter that just ended was still settled
    quarterly, so the schedule settles that quarter (not the year, which was never a settlement period)."""
    w = world
    async with tenant_transaction(w.t.id):
        year = (await tenant_today()).year + 1
        await change_config(
            access=SYSTEM,
            actor="admin",
            set_values={"subsidies": {"settlement_cadence": "yearly"}},
            effective_from=date(year, 1, 1),
            comment="改为按年结算",
        )
    last = f"{year - 1}Q4"
    await _rated(w, last, now=datetime(year, 1, 2, tzinfo=UTC))
    due = datetime(year, 1, 19, 18, 0, tzinfo=UTC)  # January 20, 02:00 in 下花园区
    with tenant_context(w.t.id):
        assert await schedule.hourly(now=due) == {"period": last, "settled": True, "statements": 2}
    async with tenant_transaction(w.t.id):
        assert sorted(await SettlementStatement.all().values_list("period_key", flat=True)) == [last, last]
    # Later that year the last complete year is the one settled quarter by quarter: nothing to do (and no error).
    with tenant_context(w.t.id):
        assert await schedule.hourly(now=due.replace(month=7)) == {"period": str(year - 1), "settled": False}
    # A year on, the year is settled (its ratings are not published: it waits for all four quarters).
    with tenant_context(w.t.id):
        assert await schedule.hourly(now=due.replace(year=year + 1)) == {
            "period": str(year),
            "settled": False,
            "waiting_for": [f"{year}Q{q}" for q in range(1, 5)],
        }


# 8. Concurrency ----------------------------------------------------------------------------------------------------


async def test_two_runs_at_once_leave_one_statement_per_community(world):
    w = world
    await _rated(w)
    results = await asyncio.gather(_run(w), _run(w))
    assert sorted(len(r.created) for r in results) == [0, 2]
    assert sorted(len(r.unchanged) for r in results) == [0, 2]
    stmts, lines, _, _ = await _state(w)
    assert sorted(stmts) == ["C1", "C3"]
    assert table(w, lines["C1"]) == C1_LINES and table(w, lines["C3"]) == C3_LINES
    async with tenant_transaction(w.t.id):
        assert await SettlementLine.all().count() == 10


async def test_two_approvals_at_once_post_once(world):
    w = world
    await _rated(w)
    await _run(w)
    stmts, _, _, _ = await _state(w)
    outcomes = await asyncio.gather(*(_approve(w, stmts["C1"].id) for _ in range(2)), return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["IllegalTransition", "SettlementStatement"]
    refused = next(o for o in outcomes if isinstance(o, Conflict))
    assert refused.code == "CONFLICT" and refused.details == {"status": "approved", "action": "approve"}
    _, _, balances, ok = await _state(w)
    assert balances[_pool(w, "C1")] == 4_700_000 and ok  # 6,000,000 - 1,300,000, once
    async with tenant_transaction(w.t.id):
        assert await LedgerJournal.all().count() == 2  # the pool's funding and the approval


async def _hold_advisory_lock(services, tenant_id: int, period: str):
    conn = await connect(services.owner_url)
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"settlement:{tenant_id}:{period}")
    return conn


async def _wait_for_lock_waiters(services, count: int) -> None:
    conn = await connect(services.owner_url)
    try:
        for _ in range(200):
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if waiting >= count:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"expected {count} sessions waiting on a lock")
    finally:
        await conn.close()


async def test_a_run_and_an_approval_at_once_do_not_deadlock(world, services):
    """A run replacing a draft and an approval of that draft, started while a third session holds the period's
    lock: the run queues first, the approval second. Neither may fail with a deadlock: the approval either sees
    the replaced draft (and approves it) or is refused as stale."""
    w = world
    await _rated(w)
    await _run(w)
    stmts, _, _, _ = await _state(w)
    await _rated(w, c1={**C1_SCORES, "K1": "89.00"}, reason="更正")  # the C1 draft must be replaced
    holder = await _hold_advisory_lock(services, w.t.id, Q3)
    try:
        run = asyncio.create_task(_run(w))
        await _wait_for_lock_waiters(services, 1)
        approval = asyncio.create_task(_approve(w, stmts["C1"].id))
        await _wait_for_lock_waiters(services, 2)
        await holder.execute("SELECT pg_advisory_unlock_all()")
        outcomes = await asyncio.gather(run, approval, return_exceptions=True)
    finally:
        await holder.close()
    assert isinstance(outcomes[0], service.RunResult), outcomes[0]
    assert isinstance(outcomes[1], SettlementStatement | service.StatementStale), outcomes[1]
    after, _, _, ok = await _state(w)
    assert after["C1"].total_fen == 1_250_000 and ok  # the replaced draft: 450,000 + 450,000 + 350,000


async def test_two_approvals_of_different_periods_pay_a_correction_once(world, services):
    """2026Q4 and 2027Q1 drafts both carry the same correction of 2026Q3 (each computed before the other was
    approved). Approved at the same moment, only one may pay it; the other is stale. A session holding C1's 2026
    pool balance row makes both approvals reach the ledger together."""
    w = world
    q1_now = datetime(2027, 4, 2, tzinfo=UTC)
    await _rated(w, c1=C1_SCORES, c3={})
    await _run(w)
    await _approve(w, (await _state(w))[0]["C1"].id)
    await _rated(w, "2026Q4", c1=C1_SCORES, c3={}, now=NOW_Q4)
    await _rated(w, "2027Q1", c1=C1_SCORES, c3={}, now=q1_now)
    # K5 72.00 -> 80.00: 90% instead of 70% of 500,000, +100,000 for 2026Q3.
    await _rated(w, c1={**C1_SCORES, "K5": "80.00"}, c3={}, now=q1_now, reason="更正")
    q4 = (await _run(w, "2026Q4", now=q1_now)).created[0]
    q1 = (await _run(w, "2027Q1", now=q1_now)).created[0]
    for period in ("2026Q4", "2027Q1"):
        _, lines, _, _ = await _state(w, period)
        assert [(ln.kind, ln.amount_fen) for ln in lines["C1"]][-1] == (LineKind.ADJUSTMENT, 100_000)
    holder = await connect(services.owner_url)
    tx = holder.transaction()
    await tx.start()
    await holder.execute(
        "SELECT 1 FROM ledger_balance WHERE tenant_id = $1 AND account = $2 FOR UPDATE", w.t.id, _pool(w, "C1")
    )
    try:
        approvals = [asyncio.create_task(_approve(w, sid, now=q1_now)) for sid in (q4, q1)]
        await _wait_for_lock_waiters(services, 2)
        await tx.rollback()
        outcomes = await asyncio.gather(*approvals, return_exceptions=True)
    finally:
        await holder.close()
    assert sorted(type(o).__name__ for o in outcomes) == ["SettlementStatement", "StatementStale"], outcomes
    async with tenant_transaction(w.t.id):
        approved = await SettlementStatement.filter(status=StatementStatus.APPROVED).values_list("id", flat=True)
        adjustments = await SettlementLine.filter(statement_id__in=approved, kind=LineKind.ADJUSTMENT).values_list(
            "amount_fen", flat=True
        )
        assert adjustments == [100_000]
        pool = (await all_balances())[_pool(w, "C1")]
        assert await verified()
    # Q4 won: 6,000,000 - 1,300,000 - (1,300,000 + 100,000); or 2027Q1 won: 6,000,000 - 1,300,000 - 100,000.
    assert pool == (3_300_000 if isinstance(outcomes[0], SettlementStatement) else 4_600_000)


async def test_a_payment_and_an_approval_at_once_do_not_deadlock_on_the_ledger(world, services):
    """Both move money on the payables of companies 2 and 10. They must take those balance rows in one order
    (by account name: "subsidy_payable:10" before "subsidy_payable:2"), or they deadlock. A session holding
    company 2's payable row lines both up: the payment waits first, the approval second."""
    w = world
    with tenant_context(w.t.id):
        for n in range(3, 11):  # companies 3..10
            company = await parties.create_company(
                access=ADMIN, actor="seed", credit_code=f"9113{n:010d}", name=f"P{n}"
            )
            w.ids[f"P{n}"] = company.id
    assert w.ids["P10"] == 10
    w.payee |= {"K1": "P10", "K4": "P2", "K5": "P10", "K3": "P2", "K6": "P10"}
    await _rated(w, c1=C1_SCORES, c3={"K3": "95.00", "K6": "95.00"})
    await _run(w)
    stmts, _, _, _ = await _state(w)
    await _approve(w, stmts["C1"].id)  # payables: P10 500,000 + 350,000, P2 450,000
    holder = await connect(services.owner_url)
    tx = holder.transaction()
    await tx.start()
    await holder.execute(
        "SELECT 1 FROM ledger_balance WHERE tenant_id = $1 AND account = $2 FOR UPDATE", w.t.id, _payable(w, "P2")
    )
    try:
        payment = asyncio.create_task(_pay(w, stmts["C1"].id))
        await _wait_for_lock_waiters(services, 1)
        approval = asyncio.create_task(_approve(w, stmts["C3"].id))
        await _wait_for_lock_waiters(services, 2)
        await tx.rollback()
        outcomes = await asyncio.gather(payment, approval, return_exceptions=True)
    finally:
        await holder.close()
    assert [type(o).__name__ for o in outcomes] == ["SettlementStatement", "SettlementStatement"], outcomes
    _, _, balances, ok = await _state(w)
    # C3: 750,000 each to P2 (K3) and P10 (K6). C1 was paid: P10 850,000, P2 450,000.
    assert (balances[_payable(w, "P2")], balances[_payable(w, "P10")]) == (750_000, 750_000)
    assert (balances[_paid(w, "P2")], balances[_paid(w, "P10")]) == (450_000, 850_000) and ok


# 9. A killed worker --------------------------------------------------------------------------------------------------

WORKER = """
import asyncio, sys
from datetime import datetime
from tortoise import Tortoise
from tenants.db import tortoise_config
from tenants.scope import tenant_transaction
from tenants.subsidies import service
from tenants.territory.access import SYSTEM

async def main(tenant_id, period, now):
    await Tortoise.init(config=tortoise_config(sys.argv[4], pool_size=1))
    async with tenant_transaction(tenant_id):
        print("settling", flush=True)
        await service.run(access=SYSTEM, period_key=period, actor="worker", now=datetime.fromisoformat(now))
    print("committed", flush=True)

asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
"""


async def test_a_killed_worker_leaves_nothing_and_a_rerun_completes(world, services):
    """The worker writes C1's statement and lines, then blocks on C3's statement (another session holds an
    uncommitted row with the same key); it is killed there. Nothing of its run survives; a re-run settles both."""
    w = world
    await _rated(w)
    holder = await connect(services.owner_url)
    tx = holder.transaction()
    await tx.start()
    await holder.execute(
        "INSERT INTO settlement_statement (tenant_id, period_key, community_id, status, pool_fen, total_fen, rule,"
        " basis, computed_at, computed_by) VALUES ($1, $2, $3, 'draft', 0, 0, '{}', '{}', now(), 'blocker')",
        w.t.id,
        Q3,
        w.ids["C3"],
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WORKER,
        str(w.t.id),
        Q3,
        NOW_Q3.isoformat(),
        os.environ["DATABASE_URL"],
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    watcher = await connect(services.owner_url)
    try:
        holder_pid = await holder.fetchval("SELECT pg_backend_pid()")
        started = time.monotonic()
        pid = None
        while pid is None and time.monotonic() - started < 8:
            assert worker.returncode is None, (await worker.communicate())[1].decode()
            # The worker's session: waiting for the blocker's transaction, and holding the lock that inserting
            # settlement lines takes (so C1 is written).
            pid = await watcher.fetchval(
                "SELECT a.pid FROM pg_stat_activity a WHERE a.datname = current_database()"
                " AND a.wait_event_type = 'Lock' AND a.pid <> $1 AND EXISTS (SELECT 1 FROM pg_locks l"
                " WHERE l.pid = a.pid AND l.relation = 'settlement_line'::regclass AND l.mode = 'RowExclusiveLock'"
                " AND l.granted)",
                holder_pid,
            )
            if pid is None:
                await asyncio.sleep(0.02)
        assert pid is not None, "the worker never blocked mid-settlement"
        worker.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(worker.wait(), 5) == -signal.SIGKILL
        assert b"committed" not in (await worker.stdout.read() if worker.stdout else b"")
        await tx.rollback()
        # The server notices the dead client and rolls its transaction back.
        for _ in range(250):
            if not await watcher.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid):
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the killed worker's session lingers")
    finally:
        if worker.returncode is None:
            worker.kill()
            await worker.wait()
        await watcher.close()
        await holder.close()
    async with tenant_transaction(w.t.id):
        assert await SettlementStatement.all().count() == 0
        assert await SettlementLine.all().count() == 0
    result = await _run(w)
    assert len(result.created) == 2
    stmts, lines, _, _ = await _state(w)
    assert table(w, lines["C1"]) == C1_LINES and table(w, lines["C3"]) == C3_LINES
    assert (stmts["C1"].total_fen, stmts["C3"].total_fen) == (1_300_000, 1_071_428)


# 10. Another tenant --------------------------------------------------------------------------------------------------


async def test_another_tenant_sees_and_touches_nothing(world):
    w = world
    await _rated(w)
    await _run(w)
    await _approve(w, (await _state(w))[0]["C1"].id)
    stmts, _, _, _ = await _state(w)
    # A second district under the same city, with the same preset: its own statements only.
    from tenants.tenancy.service import create_tenant
    from tests.fixtures.territory import build

    twin = await create_tenant(slug="xuanhua", name="宣化区", parent_slug="zhangjiakou", preset="xiahuayuan")
    twin_ids = await build(twin.id)
    async with tenant_transaction(twin.id):
        assert await SettlementStatement.all().count() == 0 and await SettlementLine.all().count() == 0
        assert await LedgerPosting.all().count() == 0 and await verified()
        for call in (
            service.approve(access=SYSTEM, statement_id=stmts["C3"].id, actor="intruder", now=NOW_Q3),
            service.pay(access=SYSTEM, statement_id=stmts["C1"].id, reference="X", actor="intruder", now=NOW_Q3),
        ):
            with pytest.raises(NotFound):
                await call
        pools = await service.pools(2026, [w.ids["C1"]])
        assert (pools[0].drawn_fen, pools[0].paid_fen) == (0, 0)
        with pytest.raises(service.RatingsNotPublished):  # the first tenant's ratings are not its ratings
            await service.run(access=SYSTEM, period_key=Q3, actor="intruder", now=NOW_Q3)
    twin_world = World(twin, w.city, w.other, twin_ids, {"K1": "P1", "K3": "P2"})
    async with tenant_transaction(twin.id):
        await publish_scores(twin_world, Q3, {"K1": "75.00"})
    twin_run = await _run(w, tenant=twin)
    assert len(twin_run.created) == 1
    await _approve(w, twin_run.created[0], tenant=twin)
    async with tenant_transaction(twin.id):
        assert await all_balances() == {
            accounts.subsidy_fund(2026): -6_000_000,
            accounts.subsidy_pool(twin_ids["C1"], 2026): 6_000_000 - 1_050_000,  # 70% of 1,500,000
            accounts.subsidy_payable(twin_ids["P1"]): 1_050_000,
        }
    # The first tenant's statements are as they were; the linshu tenant has nothing.
    after, _, balances, ok = await _state(w)
    assert {k: (s.id, s.status) for k, s in after.items()} == {k: (s.id, s.status) for k, s in stmts.items()}
    assert balances[_pool(w, "C1")] == 4_700_000 and ok
    async with tenant_transaction(w.other.id):
        assert await SettlementStatement.all().count() == 0 and await LedgerPosting.all().count() == 0
        with pytest.raises(DomainError) as err:
            await service.approve(access=SYSTEM, statement_id=stmts["C1"].id, actor="intruder", now=NOW_Q3)
        assert err.value.code == "NOT_FOUND"
