"""Leaderboards: people by points earned (ties share a rank, the caller's own rank), grids, communities and streets
by grid score (a quarter: the mean of its months; a community or street: the mean of its grids), masked names,
public within the tenant and empty in another."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tenants.errors import InvalidInput
from tenants.points.grid_models import GridScore
from tenants.points.leaderboards import BoardKind, leaderboard, mask, months_of
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tests.fixtures.points_grids import GridWorld, earn

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))

RESIDENT = Access(roles=frozenset({Role.RESIDENT}), user_id="res-2")


async def _points(w: GridWorld) -> None:
    i = w.ids
    async with tenant_transaction(w.t.id):
        await earn(i["res-3"], 50, date(2026, 3, 2), "a")
        await earn(i["res-1"], 30, date(2026, 3, 3), "b")
        await earn(i["res-2"], 20, date(2026, 3, 4), "c")
        await earn(i["res-2"], 10, date(2026, 3, 5), "d")  # 30: tied with res-1
        await earn(i["gw-1"], 10, date(2026, 3, 6), "e")
        await earn(i["gw-1"], 100, date(2026, 4, 1), "f")  # the next quarter
    async with tenant_transaction(w.other.id):
        await earn(w.other_ids["gw-1"], 999, date(2026, 3, 1), "x")


def _table(board):
    return [(s.rank, s.id, s.name, s.points) for s in board.entries]


async def test_people_by_points_with_shared_ranks_and_ones_own(grid_world):
    w = grid_world
    i = w.ids
    await _points(w)
    async with tenant_transaction(w.t.id):
        top = await leaderboard(access=RESIDENT, kind=BoardKind.PERSON, period="2026-03", first=10)
        assert _table(top) == [
            (1, i["res-3"], "欧***", 50), (2, i["res-1"], "张*", 30), (2, i["res-2"], "李*", 30),
            (4, i["gw-1"], "赵**", 10),
        ]
        assert (top.me.rank, top.me.points, top.me.name) == (2, 30, "李四")  # the caller's own, unmasked to them
        two = await leaderboard(access=Access(roles=frozenset({Role.GRID_WORKER}), user_id="gw-1"),
                                kind=BoardKind.PERSON, period="2026Q1", first=2)
        assert _table(two) == [(1, i["res-3"], "欧***", 50), (2, i["res-1"], "张*", 30)]
        assert (two.me.rank, two.me.points) == (4, 10)  # outside the top 2, still told
        year = await leaderboard(access=RESIDENT, kind=BoardKind.PERSON, period="2026")
        assert year.entries[0].id == i["gw-1"] and year.entries[0].points == 110
        nobody = await leaderboard(access=Access(roles=frozenset({Role.RESIDENT}), user_id="res-x"),
                                   kind=BoardKind.PERSON, period="2026-03")
        assert nobody.me is None
    async with tenant_transaction(w.other.id):
        theirs = await leaderboard(access=RESIDENT, kind=BoardKind.PERSON, period="2026-03")
        assert [s.points for s in theirs.entries] == [999]  # never this tenant's people


async def test_grids_communities_and_streets_by_grid_score(grid_world):
    """Q1: G1 80, 90, 70 -> 80.00; G2 85, 77 (two months) -> 81.00; G3 60 (January) -> 60.00.
    Communities C1 = G1, C2 = G2, C3 = G3; streets S1 = (80 + 81) / 2 = 80.50, S2 = 60.00."""
    w = grid_world
    i = w.ids
    at = datetime(2026, 4, 2, tzinfo=UTC)
    plan = {"G1": ("C1", "S1", ["80", "90", "70"]), "G2": ("C2", "S1", ["85", "77"]), "G3": ("C3", "S2", ["60"])}
    async with tenant_transaction(w.t.id):
        for grid, (community, street, scores) in plan.items():
            for m, s in enumerate(scores, start=1):
                await GridScore.create(period_key=f"2026-{m:02d}", grid_id=i[grid], community_id=i[community],
                                       street_id=i[street], score=Decimal(s), breakdown={}, computed_at=at,
                                       computed_by="t")
        q1 = {k: await leaderboard(access=RESIDENT, kind=k, period="2026Q1") for k in BoardKind if k != "person"}
        feb = await leaderboard(access=RESIDENT, kind=BoardKind.GRID, period="2026-02")
    rows = {k.value: [(s.rank, s.id, str(s.score)) for s in b.entries] for k, b in q1.items()}
    assert rows == {
        "grid": [(1, i["G2"], "81.00"), (2, i["G1"], "80.00"), (3, i["G3"], "60.00")],
        "community": [(1, i["C2"], "81.00"), (2, i["C1"], "80.00"), (3, i["C3"], "60.00")],
        "street": [(1, i["S1"], "80.50"), (2, i["S2"], "60.00")],
    }
    assert q1[BoardKind.GRID].entries[0].name == "G2名"
    assert [(s.rank, s.id) for s in feb.entries] == [(1, i["G1"]), (2, i["G2"])]


def test_periods_and_masks():
    assert months_of("2026Q2") == ["2026-04", "2026-05", "2026-06"] and len(months_of("2026")) == 12
    for bad in ("2026-13", "26Q1", "2026Q5", "x"):
        with pytest.raises(InvalidInput):
            months_of(bad)
    assert [mask(n) for n in ("张三", "欧阳娜娜", "王", "")] == ["张*", "欧***", "王*", "*"]


async def test_first_is_bounded(grid_world):
    async with tenant_transaction(grid_world.t.id):
        for first in (0, 101):
            with pytest.raises(InvalidInput):
                await leaderboard(access=RESIDENT, kind=BoardKind.PERSON, period="2026", first=first)
        for period in ("2026\n", "2026-13", "2026Q5"):
            with pytest.raises(InvalidInput):
                await leaderboard(access=RESIDENT, kind=BoardKind.PERSON, period=period)


BOARD = """query($k: LeaderboardKind!, $p: String!) { leaderboard(kind: $k, period: $p, first: 3) {
  kind period entries { rank name points score } me { rank points } } }"""


async def test_any_signed_in_person_reads_it_through_graphql(grid_world, gql):
    w = grid_world
    await _points(w)
    body = await gql(BOARD, w.tokens["resident"], {"k": "PERSON", "p": "2026-03"})
    board = body["data"]["leaderboard"]
    assert [(e["rank"], e["name"], e["points"]) for e in board["entries"]] == [(1, "欧***", 50), (2, "张*", 30),
                                                                               (2, "李*", 30)]
    assert board["me"] == {"rank": 2, "points": 30}
    bad = await gql(BOARD, w.tokens["resident"], {"k": "GRID", "p": "2026-3"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    theirs = (await gql(BOARD, w.tokens["other_admin"], {"k": "PERSON", "p": "2026-03"}))["data"]["leaderboard"]
    assert [e["points"] for e in theirs["entries"]] == [999] and theirs["me"] is None
