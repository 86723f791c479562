"""Grid scores: a hand-computed month for two grids, lines that add up exactly, a line without data shared out,
re-runs that recompute, the monthly job once, and the second tenant untouched."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from tenants.errors import Forbidden, InvalidInput
from tenants.points import grid_scheduled, grids, pay
from tenants.points.grid_models import GridScore, PayStatement
from tenants.points.grids import Line, largest_remainder, score
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import people_service as people
from tenants.territory import service as territory
from tenants.territory.access import SYSTEM, Access
from tenants.territory.people import Post, PostKind
from tenants.tickets.models import TicketState
from tests.fixtures.points_grids import GridWorld, earn, hand_month, ticket
from tests.fixtures.statements import orm_statements

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))

S = TicketState


async def test_two_grids_by_hand(grid_world):
    """Weights 30/30/20/10/10, points per household, full marks 10.

    G1 (K1: H1, H2): received 5, rejected 1, closed 3 -> closure 3/4; resolved 3, on time 2 -> 2/3; rated 3,
    satisfied 2 -> 2/3; K1 rated 90.00 -> 0.9; points (12 + 6) / 2 households = 9 of 10 -> 0.9.
    Contributions (hundredths): 30 x 3/4 = 2250, 30 x 2/3 = 2000, 20 x 2/3 = 1333.33, 10 x 0.9 = 900, 900;
    exact sum 7383.33 -> 73.83; floors 2250 + 2000 + 1333 + 900 + 900 = 7383: nothing left to hand out.

    G2 (K2: H3): received 3, closed 3 -> 1; on time 2/3; satisfied 2/3; no rating of K2 -> its weight 10 is shared
    out over the other 90; points 30 / 1 household = 30 -> capped at 1. Contributions: 10000 x 30/90 = 3333.33,
    x 30/90 x 2/3 = 2222.22, x 20/90 x 2/3 = 1481.48, 0, x 10/90 = 1111.11; exact sum 8148.15 -> 81.48; floors sum
    8147, the 1 left goes to the largest remainder (on time, .48): 33.33 + 22.22 + 14.82 + 0 + 11.11 = 81.48.

    G3 (K3, no household, no tickets, no rating): nothing applies -> 0.00.
    """
    w = grid_world
    month, after = await hand_month(w)
    async with tenant_transaction(w.t.id):
        result = await grids.compute_month(access=SYSTEM, month=month, actor="admin", now=after)
        assert result.grids == 3
        got = {s.grid_id: s for s in await GridScore.filter(period_key=month)}
    g1, g2, g3 = (got[w.ids[k]] for k in ("G1", "G2", "G3"))
    assert g1.score == Decimal("73.83")
    assert [x["contribution"] for x in g1.breakdown["lines"]] == ["22.50", "20.00", "13.33", "9.00", "9.00"]
    assert g2.score == Decimal("81.48")
    assert [x["contribution"] for x in g2.breakdown["lines"]] == ["33.33", "22.22", "14.82", "0.00", "11.11"]
    assert [x["applies"] for x in g2.breakdown["lines"]] == [True, True, True, False, True]
    assert g2.breakdown["lines"][0]["effective_weight"] == "33.33"
    assert g3.score == Decimal("0.00") and not any(x["applies"] for x in g3.breakdown["lines"])
    for s in (g1, g2, g3):  # the lines add up exactly
        assert sum(Decimal(x["contribution"]) for x in s.breakdown["lines"]) == s.score
    assert g1.breakdown["snapshot"].endswith(" r1")

    # A re-run recomputes in place: same rows, new figures.
    async with tenant_transaction(w.t.id):
        await ticket(w.ids, "G1", after - timedelta(days=2), state=S.REJECTED)  # rejected: closure unchanged
        await earn(w.ids["res-2"], 2, (after - timedelta(days=2)).date(), "r2b")  # (12 + 8) / 2 = 10: full marks
        await grids.compute_month(access=SYSTEM, month=month, actor="admin", now=after)
        again = {s.grid_id: s for s in await GridScore.filter(period_key=month)}
    assert again[w.ids["G1"]].id == g1.id and again[w.ids["G1"]].score == Decimal("74.83")
    assert await _count(w, month) == 3


async def _count(w: GridWorld, month: str) -> int:
    async with tenant_transaction(w.t.id):
        return await GridScore.filter(period_key=month).count()


def test_largest_remainder_and_shared_out_weights_add_up():
    assert largest_remainder([(10, 3)] * 3, 10) == [4, 3, 3]
    total, lines = score([Line("closure_rate", 50, 1, 3, (1, 3)), Line("points", 50, None, None, None)])
    assert total == 10000 // 3 and [x["contribution"] for x in lines] == ["33.33", "0.00"]
    assert lines[0]["effective_weight"] == "100.00" and lines[1]["effective_weight"] == "0.00"
    total, lines = score([Line(c, 20, 2, 3, (2, 3)) for c in grids.LINES])
    assert total == 6667 and sum(Decimal(x["contribution"]) for x in lines) == Decimal("66.67")
    assert [x["contribution"] for x in lines] == ["13.34", "13.34", "13.33", "13.33", "13.33"]  # ties: first lines
    total, lines = score([Line("closure_rate", 0, 1, 1, (1, 1)), Line("points", 100, None, None, None)])
    assert total == 0 and [x["effective_weight"] for x in lines] == ["0.00", "0.00"]  # weights of 0 only: 0


async def test_a_month_must_have_ended_and_look_like_one(grid_world):
    w = grid_world
    month, _, _ = await w.month()
    async with tenant_transaction(w.t.id):
        with pytest.raises(InvalidInput):
            await grids.compute_month(access=SYSTEM, month=month, actor="admin")  # not over yet
        for bad in ("2026Q1", "2026-01\n"):  # a trailing newline would score the month a second time
            with pytest.raises(InvalidInput):
                await grids.compute_month(access=SYSTEM, month=bad, actor="admin")
        with pytest.raises(Forbidden):
            await grids.compute_month(access=Access(roles=frozenset({Role.STREET_OFFICER})), month="2026-01",
                                      actor="so")


async def test_the_monthly_job_runs_once_on_its_day_and_the_other_tenant_sees_nothing(grid_world):
    """schedule.monthly_points (sanbai: day 5 at 03:00 unless configured) scores the month before, once."""
    w = grid_world
    month, after = await hand_month(w)
    async with tenant_transaction(w.t.id):
        before = await grid_scheduled.hourly(now=after)  # the 1st of the next month: not the day yet
        assert before["computed"] is False
        from tenants.config.service import effective_config

        run = (await effective_config()).document.schedule.monthly_points
        due = after.replace(day=run.day, hour=run.hour) - timedelta(hours=8)  # tenant-local hour in UTC
        first = await grid_scheduled.hourly(now=due + timedelta(minutes=5))
        second = await grid_scheduled.hourly(now=due + timedelta(hours=1))
    assert first == {"month": month, "computed": True, "grids": 3, "statements": 2}
    assert second == {"month": month, "computed": False}
    async with tenant_transaction(w.other.id):
        assert await GridScore.all().count() == 0 and await PayStatement.all().count() == 0


async def _statements_of_a_run(w: GridWorld, month: str, after: datetime) -> int:
    with orm_statements() as sent:
        async with tenant_transaction(w.t.id):
            await pay.run_month(access=SYSTEM, month=month, actor="admin", now=after)
    return len(sent)


async def test_a_run_costs_the_same_statements_for_3_grids_or_13(grid_world):
    """Set-based: scoring a month and making its pay statements is a constant number of statements."""
    w = grid_world
    month, after = await hand_month(w)
    await _statements_of_a_run(w, month, after)  # warm the configuration cache
    few = await _statements_of_a_run(w, month, after)
    with tenant_context(w.t.id):
        for n in range(10):
            grid = await territory.create_area("grid", access=SYSTEM, actor="seed", code=f"GX{n}", name=f"网格{n}",
                                               parent_id=w.ids["C1"])
            async with tenant_transaction(w.t.id):
                await Post.create(person_id=(await people.create_person(
                    access=SYSTEM, actor="seed", user_id=f"gwx-{n}", name=f"网格员{n}")).id, kind=PostKind.GRID_WORKER,
                    target_kind="grid", target_id=grid.id, starts_on=date(2020, 1, 1))
    many = await _statements_of_a_run(w, month, after)
    async with tenant_transaction(w.t.id):
        assert await GridScore.filter(period_key=month).count() == 13
        assert await PayStatement.filter(period_key=month).count() == 12  # G3 has no grid worker
    assert many == few, (few, many)
