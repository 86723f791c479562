"""Grid workers' performance pay: each worker's pay in fen by hand, a mid-month change of grid, drafts recomputed,
approved statements frozen by the database, revisions with a reason, payroll, and the second tenant."""

from __future__ import annotations

import csv as csv_module
from datetime import date, timedelta

import pytest
from asyncpg.exceptions import RaiseError
from tortoise.exceptions import OperationalError

from tenants.errors import Forbidden, IllegalTransition, InvalidInput
from tenants.points import pay
from tenants.points.grid_models import PayStatement, PayStatus
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import SYSTEM, Access
from tests.fixtures.points_grids import GridWorld, earn, hand_month, post

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))


async def _run(w: GridWorld) -> tuple[str, dict[int, PayStatement]]:
    month, after = await hand_month(w)
    async with tenant_transaction(w.t.id):
        first = (after - timedelta(days=1)).replace(day=1).date()
        # gw-3 worked G1 for the first 10 days, then G2 for the rest of the month: paid for G2 (more days).
        await post("gw-3", w.ids["G1"], first - timedelta(days=40), first + timedelta(days=9), name="孙网格")
        await post("gw-3", w.ids["G2"], first + timedelta(days=10))
        await pay.run_month(access=SYSTEM, month=month, actor="admin", now=after)
        return month, await _current(w, month)


async def _current(w: GridWorld, month: str) -> dict[int, PayStatement]:
    rows = await PayStatement.filter(period_key=month).exclude(status=PayStatus.SUPERSEDED)
    return {s.person_id: s for s in rows}


async def test_each_grid_workers_pay_by_hand(grid_world):
    """Base 300,001 fen; bands >= 90: 100 %, >= 80: 80 %, >= 60: 50 %, else 0; 100 fen a point, points part capped
    at 5,000, total at 244,000. Grid scores (tests/test_points_grids.py): G1 73.83, G2 81.48.

    gw-1 (G1, 50 %): 300,001 x 50 % = 150,000.5 -> 150,001 (half up); 20 points x 100 = 2,000; total 152,001.
    gw-2 (G2, 80 %): 300,001 x 80 % = 240,000.8 -> 240,001; 80 points x 100 = 8,000 -> capped 5,000; 245,001 ->
    capped 244,000.
    gw-3 (G1 10 days, G2 the rest -> G2, 80 %): 240,001; no points; 240,001.
    """
    w = grid_world
    _, got = await _run(w)
    gw3 = next(p for p in got if p not in (w.ids["gw-1"], w.ids["gw-2"]))
    table = {
        p: (s.grid_id, str(s.grid_score), s.band_percent, s.base_part_fen, s.points_earned, s.points_part_fen,
            s.total_fen, s.status)
        for p, s in got.items()
    }
    assert table == {
        w.ids["gw-1"]: (w.ids["G1"], "73.83", 50, 150_001, 20, 2_000, 152_001, PayStatus.DRAFT),
        w.ids["gw-2"]: (w.ids["G2"], "81.48", 80, 240_001, 80, 5_000, 244_000, PayStatus.DRAFT),
        gw3: (w.ids["G2"], "81.48", 80, 240_001, 0, 0, 240_001, PayStatus.DRAFT),
    }
    assert got[w.ids["gw-2"]].rule["total_uncapped_fen"] == 245_001
    assert got[gw3].rule["days_on_grid"] >= 18


async def test_drafts_are_recomputed_approved_ones_frozen_and_revised_with_a_reason(grid_world):
    w = grid_world
    month, got = await _run(w)
    *_, after = await w.month()
    gw1, gw2 = got[w.ids["gw-1"]], got[w.ids["gw-2"]]
    async with tenant_transaction(w.t.id):
        approved = await pay.approve(access=SYSTEM, statement_id=gw1.id, actor="admin", now=after)
        assert approved.status == PayStatus.APPROVED and approved.approved_by == "admin"
        with pytest.raises(IllegalTransition):
            await pay.approve(access=SYSTEM, statement_id=gw1.id, actor="admin", now=after)
        # gw-1 and gw-2 earn 10 more points in the month; a re-run changes only the draft (gw-2's), in place.
        on = (after - timedelta(days=2)).date()
        await earn(w.ids["gw-1"], 10, on, "g1b")
        await earn(w.ids["gw-2"], 10, on, "g2b")
        run = await pay.compute_month(access=SYSTEM, month=month, actor="admin", now=after)
        assert run.kept == [w.ids["gw-1"]] and w.ids["gw-2"] in run.written
        now = await _current(w, month)
        assert now[w.ids["gw-1"]].total_fen == 152_001 and now[w.ids["gw-2"]].id == gw2.id
        assert now[w.ids["gw-2"]].points_earned == 90
    # The database refuses any change to an approved statement's figures, and its deletion.
    for sql in ("UPDATE pay_statement SET total_fen = 1 WHERE id = $1", "DELETE FROM pay_statement WHERE id = $1",
                "UPDATE pay_statement SET status = 'draft' WHERE id = $1",
                "UPDATE pay_statement SET id = 999999, status = 'paid' WHERE id = $1"):
        with pytest.raises((OperationalError, RaiseError), match="cannot change"):
            async with tenant_transaction(w.t.id) as conn:
                await conn.execute_query(sql, [gw1.id])
    async with tenant_transaction(w.t.id):
        with pytest.raises(InvalidInput):
            await pay.revise(access=SYSTEM, statement_id=gw1.id, reason="  ", actor="admin", now=after)
        with pytest.raises(IllegalTransition):  # a draft is recomputed, not revised
            await pay.revise(access=SYSTEM, statement_id=gw2.id, reason="x", actor="admin", now=after)
        new = await pay.revise(access=SYSTEM, statement_id=gw1.id, reason="补录积分 late points", actor="admin",
                               now=after)
        assert (new.revision, new.status, new.supersedes_id, new.reason) == (2, PayStatus.DRAFT, gw1.id,
                                                                            "补录积分 late points")
        assert new.points_earned == 30 and new.total_fen == 150_001 + 3_000
        old = await PayStatement.get(id=gw1.id)
        assert old.status == PayStatus.SUPERSEDED and old.total_fen == 152_001  # still readable as it was
        await pay.approve(access=SYSTEM, statement_id=new.id, actor="admin", now=after)
        await pay.approve(access=SYSTEM, statement_id=gw2.id, actor="admin", now=after)
        paid = await pay.mark_paid(access=SYSTEM, month=month, reference="PAYROLL-1", actor="admin", now=after)
        assert sorted(paid) == sorted([new.id, gw2.id])
        assert await pay.mark_paid(access=SYSTEM, month=month, reference="PAYROLL-2", actor="admin") == []
        statuses = sorted((s.revision, s.status.value) for s in await PayStatement.filter(person_id=w.ids["gw-1"]))
        assert statuses == [(1, "superseded"), (2, "paid")]
    with pytest.raises((OperationalError, RaiseError), match="cannot change"):  # paid: the reference stays
        async with tenant_transaction(w.t.id) as conn:
            await conn.execute_query("UPDATE pay_statement SET payment_reference = 'X' WHERE id = $1", [gw2.id])


async def test_only_a_tenant_admin_approves_and_the_other_tenant_sees_nothing(grid_world):
    w = grid_world
    month, got = await _run(w)
    officer = Access(roles=frozenset({Role.STREET_OFFICER}), staff_nodes={"street": frozenset({w.ids["S1"]})})
    async with tenant_transaction(w.t.id):
        with pytest.raises(Forbidden):
            await pay.approve(access=officer, statement_id=got[w.ids["gw-1"]].id, actor="so")
        with pytest.raises(Forbidden):
            await pay.mark_paid(access=officer, month=month, reference="X", actor="so")
    async with tenant_transaction(w.other.id):
        assert await PayStatement.all().count() == 0
        with pytest.raises(Exception, match="no such pay statement"):
            await pay.approve(access=SYSTEM, statement_id=got[w.ids["gw-1"]].id, actor="admin")


COMPUTE = "mutation($m: String!) { computeGridScores(month: $m) { month gridCount statementCount keptCount } }"
SCORES = """query($m: String!) { gridScores(month: $m, first: 10) { nodes { score grid { code }
  lines { code weight applies contribution } } } }"""
STATEMENTS = """query($m: String!) { payStatements(month: $m) { nodes { id personName totalFen status revision
  grid { code } } } }"""
APPROVE = "mutation($id: ID!) { approvePayStatement(id: $id) { status approvedBy } }"
REVISE = "mutation($id: ID!, $r: String!) { revisePayStatement(id: $id, reason: $r) { revision status reason } }"
PAID = "mutation($m: String!, $r: String!) { markPayStatementsPaid(month: $m, reference: $r) { id status } }"


async def test_through_graphql_and_the_payroll_export(grid_world, gql, client, settings):
    """The month after it ended: the admin computes it, a grid worker reads only their own statement, the admin
    approves, revises, marks paid and exports; the other tenant reads nothing."""
    from tests.conftest import clock_at
    from tests.fixtures.callers import bearer

    w = grid_world
    month, after = await hand_month(w)
    with clock_at(after):
        admin = bearer(settings, w.t, Role.TENANT_ADMIN, user_id="admin")
        worker = bearer(settings, w.t, Role.GRID_WORKER, f"grid:{w.ids['G1']}", user_id="gw-1")
        other = bearer(settings, w.other, Role.TENANT_ADMIN, user_id="admin")
        ran = await gql(COMPUTE, admin, {"m": month})
        assert ran["data"]["computeGridScores"] == {"month": month, "gridCount": 3, "statementCount": 2,
                                                    "keptCount": 0}, ran
        denied = await gql(COMPUTE, worker, {"m": month})
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        scores = (await gql(SCORES, admin, {"m": month}))["data"]["gridScores"]["nodes"]
        g1 = next(s for s in scores if s["grid"]["code"] == "G1")
        assert g1["score"] == "73.83" and [x["contribution"] for x in g1["lines"]] == [
            "22.50", "20.00", "13.33", "9.00", "9.00"]
        mine = (await gql(SCORES, worker, {"m": month}))["data"]["gridScores"]["nodes"]
        assert [s["grid"]["code"] for s in mine] == ["G1"]  # a grid worker: their own grid
        own = (await gql(STATEMENTS, worker, {"m": month}))["data"]["payStatements"]["nodes"]
        assert [(s["personName"], s["totalFen"], s["status"]) for s in own] == [("赵网格", 152_001, "DRAFT")]
        every = (await gql(STATEMENTS, admin, {"m": month}))["data"]["payStatements"]["nodes"]
        assert sorted(s["totalFen"] for s in every) == [152_001, 244_000]
        for s in every:
            assert (await gql(APPROVE, admin, {"id": s["id"]}))["data"]["approvePayStatement"] == {
                "status": "APPROVED", "approvedBy": "admin"}
        revised = await gql(REVISE, admin, {"id": own[0]["id"], "r": "网格调整 grid corrected"})
        assert revised["data"]["revisePayStatement"] == {"revision": 2, "status": "DRAFT",
                                                         "reason": "网格调整 grid corrected"}
        paid = (await gql(PAID, admin, {"m": month, "r": "PAYROLL-2026"}))["data"]["markPayStatementsPaid"]
        assert [p["status"] for p in paid] == ["PAID"]  # gw-2's; gw-1's revision is still a draft
        csv = await client.get(f"/exports/pay/{month}.csv?status=all",
                               headers={"Authorization": f"Bearer {admin}"})
        assert csv.status_code == 200
        rows = list(csv_module.reader(csv.content.decode("utf-8-sig").splitlines()))
        # gw-1's revision 2 (a draft, 152,001) and gw-2's paid statement (244,000); the superseded one is left out.
        assert [(r[1], r[2], r[12], r[14], r[17]) for r in rows[2:4]] == [
            ("2", "赵网格", "152001", "草稿 draft", ""), ("1", "钱网格", "244000", "已发放 paid", "PAYROLL-2026")]
        assert rows[4][0] == "合计 total" and rows[4][12:14] == ["396001", "3960.01"]
        xlsx = await client.get(f"/exports/pay/{month}.xlsx", headers={"Authorization": f"Bearer {admin}"})
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
        theirs = await gql(STATEMENTS, other, {"m": month})
        assert theirs["data"]["payStatements"]["nodes"] == []
        stranger = await gql(APPROVE, other, {"id": own[0]["id"]})
        assert stranger["errors"][0]["extensions"]["code"] == "NOT_FOUND"
