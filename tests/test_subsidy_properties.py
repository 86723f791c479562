"""Properties of the 以奖代补 arithmetic (pure) and of settlements on the database (idempotent runs, a ledger that
always agrees with the statements)."""

from __future__ import annotations

import math
from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.errors import Conflict
from tenants.ledger import accounts
from tenants.ledger import service as ledger
from tenants.ledger.models import LedgerBalance
from tenants.scope import tenant_transaction
from tenants.subsidies import service
from tenants.subsidies.allocation import (
    Band,
    Rated,
    allocate,
    band_for,
    largest_remainder,
    period_pool,
    periods_of,
    split_evenly,
)
from tenants.subsidies.models import LineKind, SettlementLine, SettlementStatement, StatementStatus
from tenants.territory.access import SYSTEM
from tests.fixtures.money import NOW_Q3, NOW_Q4, World, make_world, publish_scores

SCORES = st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=2))


@st.composite
def bands(draw) -> list[Band]:
    """Ascending minimum scores (integers, as the configuration has them), shares that never fall."""
    mins = sorted(draw(st.lists(st.integers(0, 100), min_size=1, max_size=6, unique=True)))
    shares = sorted(draw(st.lists(st.integers(0, 100), min_size=len(mins), max_size=len(mins))))
    return [Band(Decimal(m), s) for m, s in zip(mins, shares, strict=True)]


@settings(max_examples=400)
@given(
    pool=st.integers(0, 10**9),
    table=bands(),
    scores=st.lists(SCORES, max_size=40),
    ids=st.lists(st.integers(1, 10**6), min_size=40, max_size=40, unique=True),
)
def test_lines_add_up_to_a_total_within_the_pool_and_each_within_a_fen_of_its_quota(pool, table, scores, ids):
    compounds = [Rated(i, s) for i, s in zip(ids, scores, strict=False)]
    lines, total = allocate(pool, compounds, table)
    assert sum(line.amount_fen for line in lines) == total <= pool
    if not compounds:
        assert (lines, total) == ([], 0)
        return
    slot = Fraction(pool, len(compounds))
    quotas = []
    for line, c in zip(lines, compounds, strict=True):
        reached = [b for b in table if c.score is not None and c.score >= b.min_score]
        expected = max(reached, key=lambda b: b.min_score) if reached else None
        assert (line.compound_id, line.band) == (c.compound_id, expected)
        quota = slot * (expected.share_percent if expected else 0) / 100
        assert line.quota == quota
        assert 0 <= line.amount_fen and abs(line.amount_fen - quota) < 1
        assert line.remainder_fen == (line.amount_fen == math.floor(quota) + 1)
        quotas.append(quota)
    assert total == math.floor(sum(quotas, Fraction(0)))
    # Largest remainder: a line given a fen never has a smaller remainder than one not given (ties: smaller id).
    given_fen = [(line.quota - math.floor(line.quota), line.compound_id) for line in lines if line.remainder_fen]
    not_given = [(line.quota - math.floor(line.quota), line.compound_id) for line in lines if not line.remainder_fen]
    for rem, cid in given_fen:
        for other, oid in not_given:
            assert rem > other or (rem == other and cid < oid)


@given(score=SCORES, table=bands())
def test_a_score_falls_in_the_highest_band_it_reaches(score, table):
    band = band_for(score, table)
    if score is None or score < table[0].min_score:
        assert band is None
    else:
        assert band is not None and band.min_score <= score
        assert all(b.min_score <= band.min_score or b.min_score > score for b in table)


@given(total=st.integers(0, 10**12), parts=st.integers(1, 60))
def test_an_even_split_adds_up_and_puts_odd_fen_first(total, parts):
    split = split_evenly(total, parts)
    assert sum(split) == total and len(split) == parts
    assert split == sorted(split, reverse=True) and split[0] - split[-1] <= 1


@given(yearly=st.integers(0, 10**10), year=st.integers(2000, 2100), cadence=st.sampled_from(["quarterly", "yearly"]))
def test_the_periods_of_a_year_draw_exactly_the_yearly_pool(yearly, year, cadence):
    keys = periods_of(year, cadence)
    assert len(keys) == (4 if cadence == "quarterly" else 1)
    parts = [period_pool(yearly, k, cadence) for k in keys]
    assert sum(parts) == yearly and min(parts) >= 0 and max(parts) - min(parts) <= 1


@given(
    quotas=st.lists(st.fractions(min_value=0, max_value=10**6, max_denominator=97), min_size=1, max_size=20),
    extra=st.integers(-2, 25),
)
def test_largest_remainder_hands_out_exactly_the_fen_asked_for(quotas, extra):
    floors = sum(math.floor(q) for q in quotas)
    total = floors + extra
    if not 0 <= extra <= len(quotas):
        with pytest.raises(ValueError):
            largest_remainder(quotas, total)
        return
    out = largest_remainder(quotas, total)
    assert sum(out) == total
    assert all(math.floor(q) <= a <= math.floor(q) + 1 for q, a in zip(quotas, out, strict=True))


def test_the_hand_figures_of_the_rule():
    # 1,500,000 fen over 7 compounds all at 100%: 214,285 5/7 each; the 5 fen left go to the 5 smallest ids.
    full = [Band(Decimal(0), 100)]
    lines, total = allocate(1_500_000, [Rated(i, Decimal(95)) for i in (7, 3, 5, 1, 6, 2, 4)], full)
    assert total == 1_500_000
    assert {line.compound_id: line.amount_fen for line in lines} == {
        1: 214_286,
        2: 214_286,
        3: 214_286,
        4: 214_286,
        5: 214_286,
        6: 214_285,
        7: 214_285,
    }
    assert split_evenly(6_000_001, 4) == [1_500_001, 1_500_000, 1_500_000, 1_500_000]
    assert [period_pool(6_000_000, f"2026Q{q}", "quarterly") for q in range(1, 5)] == [1_500_000] * 4
    with pytest.raises(ValueError):
        period_pool(6_000_000, "2026", "quarterly")


# On the database --------------------------------------------------------------------------------------------------

C1_KEYS = ("K1", "K4", "K5")
C3_KEYS = ("K3", "K6", "K7", "K8", "K9", "K10", "K11")
COMPOUNDS = C1_KEYS + C3_KEYS
# 张家口's bands, which 下花园区 inherits.
PRESET_BANDS = [Band(Decimal(m), p) for m, p in ((0, 0), (60, 50), (70, 70), (80, 90), (90, 100))]
STEPS = st.lists(
    st.tuples(st.sampled_from(["approve", "pay", "run", "revise"]), st.sampled_from(["C1", "C3"])), max_size=8
)
RATINGS = st.fixed_dictionaries({k: SCORES for k in COMPOUNDS})


class _RollBack(Exception):
    """Ends an example: everything it wrote is rolled back, so the next one starts from the same world."""


@pytest.fixture
async def world(app) -> World:
    return await make_world(extra=True)


async def _picture() -> list[tuple]:
    rows = (
        await SettlementStatement.all()
        .order_by("id")
        .values_list("id", "community_id", "status", "total_fen", "computed_at", "basis")
    )
    lines = await SettlementLine.all().order_by("id").values_list("id", "statement_id", "compound_id", "amount_fen")
    return [*rows, *lines]


async def _check_ledger_against_statements(w: World) -> None:
    """The ledger balances are the sums of their postings, and they say what the statements say."""
    assert await ledger.verify() == []
    kept = dict(await LedgerBalance.all().values_list("account", "balance_fen"))  # type: ignore[arg-type]
    stmts = {s.id: s for s in await SettlementStatement.all()}
    drawn: dict[int, int] = defaultdict(int)
    owed: dict[int, int] = defaultdict(int)
    paid: dict[int, int] = defaultdict(int)
    for line in await SettlementLine.all():
        stmt = stmts[line.statement_id]
        if stmt.status == StatementStatus.DRAFT:
            continue
        drawn[stmt.community_id] += line.amount_fen
        (paid if stmt.status == StatementStatus.PAID else owed)[line.company_id] += line.amount_fen
    funded = {s.community_id for s in stmts.values() if s.status != StatementStatus.DRAFT}
    expected = {accounts.subsidy_pool(c, 2026): 6_000_000 - drawn[c] for c in funded}
    expected |= {accounts.subsidy_payable(c): fen for c, fen in owed.items()}
    expected |= {accounts.subsidy_paid(c): fen for c, fen in paid.items()}
    if funded:
        expected[accounts.subsidy_fund(2026)] = -6_000_000 * len(funded)
    assert {a: b for a, b in kept.items() if b} == {a: b for a, b in expected.items() if b}
    pools = await service.pools(2026, [w.ids["C1"], w.ids["C3"]])
    assert [p.drawn_fen for p in pools] == [drawn[w.ids["C1"]], drawn[w.ids["C3"]]]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=RATINGS, revisions=st.lists(RATINGS, min_size=3, max_size=3), steps=STEPS)
async def test_runs_change_nothing_twice_and_the_ledger_follows_any_approvals_and_payments(
    world, first, revisions, steps
):
    w = world
    pending = iter(revisions)
    latest = first

    def rated(scores: dict) -> dict[str, str]:
        return {k: str(v) for k, v in scores.items() if v is not None}

    try:
        async with tenant_transaction(w.t.id):
            await publish_scores(w, "2026Q3", rated(first))
            made = await service.run(access=SYSTEM, period_key="2026Q3", actor="prop", now=NOW_Q3)
            picture = await _picture()
            again = await service.run(access=SYSTEM, period_key="2026Q3", actor="prop", now=NOW_Q3)
            assert (again.created, again.replaced, sorted(again.unchanged)) == ([], [], sorted(made.created))
            assert await _picture() == picture
            revised = False
            for action, community in steps:
                by_community = {s.community_id: s for s in await SettlementStatement.all()}
                stmt = by_community.get(w.ids[community])
                if action == "revise":
                    nxt = next(pending, None)
                    if nxt is not None:
                        await publish_scores(w, "2026Q3", rated(nxt), reason="revision")
                        revised, latest = True, nxt
                elif action == "run":
                    before = await _picture()
                    result = await service.run(access=SYSTEM, period_key="2026Q3", actor="prop", now=NOW_Q3)
                    if not revised:
                        assert await _picture() == before and result.created == result.replaced == []
                    revised = False
                elif stmt is not None:
                    try:
                        if action == "approve":
                            await service.approve(access=SYSTEM, statement_id=stmt.id, actor="prop", now=NOW_Q3)
                        else:
                            await service.pay(
                                access=SYSTEM, statement_id=stmt.id, reference="REF-1", actor="prop", now=NOW_Q3
                            )
                    except service.StatementStale:
                        assert revised and stmt.status == StatementStatus.DRAFT
                    except Conflict as err:
                        wanted = StatementStatus.DRAFT if action == "approve" else StatementStatus.APPROVED
                        assert stmt.status != wanted and err.details == {"status": stmt.status.value, "action": action}
                for s in await SettlementStatement.all():
                    amounts = await SettlementLine.filter(statement_id=s.id).values_list("amount_fen", "kind")
                    assert sum(a for a, _ in amounts) == s.total_fen
                    assert 0 <= sum(a for a, k in amounts if k == LineKind.RATING) <= s.pool_fen == 1_500_000
                await _check_ledger_against_statements(w)
            # The next quarter corrects whatever approved 2026Q3 statement its latest ratings no longer match: once
            # 2026Q4 is approved, what was paid for each 2026Q3 compound is what its latest rating gives.
            await publish_scores(w, "2026Q4", rated(first), now=NOW_Q4)
            q4 = await service.run(access=SYSTEM, period_key="2026Q4", actor="prop", now=NOW_Q4)
            for sid in q4.created:
                await service.approve(access=SYSTEM, statement_id=sid, actor="prop", now=NOW_Q4)
            await _check_ledger_against_statements(w)
            q3 = await SettlementStatement.filter(
                period_key="2026Q3", status__in=[StatementStatus.APPROVED, StatementStatus.PAID]
            ).values_list("community_id", flat=True)
            approved = await SettlementStatement.filter(
                status__in=[StatementStatus.APPROVED, StatementStatus.PAID]
            ).values_list("id", flat=True)
            settled = defaultdict(int)
            for line in await SettlementLine.filter(statement_id__in=list(approved), for_period="2026Q3"):
                settled[line.compound_id] += line.amount_fen
            for community, keys in (("C1", C1_KEYS), ("C3", C3_KEYS)):
                if w.ids[community] not in q3:
                    continue
                on = [k for k in keys if latest[k] is not None]
                lines, _ = allocate(1_500_000, [Rated(w.ids[k], latest[k]) for k in on], PRESET_BANDS)
                assert {w.ids[k]: settled[w.ids[k]] for k in keys} == {
                    **{w.ids[k]: 0 for k in keys},
                    **{a.compound_id: a.amount_fen for a in lines},
                }
            raise _RollBack
    except _RollBack:
        pass
