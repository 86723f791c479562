"""Earning points: who earns, caps per tenant-local day and month, manual awards in one's area, awards from ticket
and activity events once per source, reversals, expiry with the nightly run and its warning."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from tenants import clock
from tenants.config.service import change_config
from tenants.errors import Conflict, Forbidden, InvalidInput
from tenants.events import emit
from tenants.inbox.models import Notification
from tenants.points import scheduled
from tenants.points.earning import award_manually, reverse
from tenants.points.ledger import Source, balance_of, spend, verify
from tenants.points.models import EntryKind, PointsEntry, PointsLot
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import SYSTEM, Access
from tenants.territory.people import Person
from tenants.tickets import intake, workflow
from tenants.tickets.models import Channel
from tests.fixtures.callers import ADMIN
from tests.fixtures.points import give

# Their data carries dates of its own (points earned in 2026 expire in 2027): the clock is 1 December 2026's.
pytestmark = pytest.mark.on_day(date(2026, 12, 1))

BEIJING = 8


def staff(role: Role, level: str, node: int, user: str) -> Access:
    return Access(roles=frozenset({role}), nodes={level: frozenset({node})}, staff_nodes={level: frozenset({node})},
                  user_id=user)


async def _entries(tenant_id: int, user: str) -> list[tuple]:
    async with tenant_transaction(tenant_id):
        person = await Person.get(user_id=user)
        return list(await PointsEntry.filter(person_id=person.id).order_by("id").values_list(
            "kind", "amount", "rule_code", "occurred_on"))


async def test_three_duty_awards_in_a_day_are_five_five_and_a_capped_zero(points_world):
    t = points_world["sanbai"]["tenant"]
    day = date(2026, 3, 2)
    got = [await give(t.id, "bh-1", "building_head_duty", f"d{i}", day) for i in range(3)]
    assert [a.entry.amount for a in got] == [5, 5, 0]
    third = got[2].entry
    assert third.kind == EntryKind.CAPPED and "每日上限 10" in third.reason and "daily cap of 10" in third.reason
    assert not got[2].made or got[2].capped
    again = await give(t.id, "bh-1", "building_head_duty", "d0", day)  # the same source awards once
    assert not again.made and again.entry.id == got[0].entry.id
    async with tenant_transaction(t.id):
        assert await balance_of(got[0].entry.person_id) == 10 and await verify() == []


async def test_eleven_days_of_a_month_make_fifty_and_the_eleventh_is_capped(points_world):
    t = points_world["sanbai"]["tenant"]
    got = [await give(t.id, "bh-1", "building_head_duty", f"m{d}", date(2026, 3, d)) for d in range(1, 12)]
    assert [a.entry.amount for a in got] == [5] * 10 + [0]
    assert "每月上限 50" in got[-1].entry.reason and "monthly cap of 50" in got[-1].entry.reason
    assert sum(a.entry.amount for a in got) == 50
    nxt = await give(t.id, "bh-1", "building_head_duty", "april", date(2026, 4, 1))  # a new month, a new cap
    assert nxt.entry.amount == 5


async def test_caps_count_the_tenants_day_not_the_servers(points_world):
    t, person = points_world["sanbai"]["tenant"], points_world["sanbai"]["person"]
    now = clock.now()  # the suite runs at 17:30 UTC: 01:30 of the next day in Beijing
    beijing = (now + timedelta(hours=BEIJING)).date()
    assert beijing != now.date()
    async with tenant_transaction(t.id):
        made = [await award_manually(access=ADMIN, actor="admin", person_id=person["bh-1"],
                                     rule_code="building_head_duty", reason="楼道巡查") for _ in range(3)]
        server_day = await award_manually(access=ADMIN, actor="admin", person_id=person["bh-1"],
                                          rule_code="building_head_duty", reason="补记", occurred_on=now.date())
    assert [m.entry.amount for m in made] == [5, 5, 0]
    assert {m.entry.occurred_on for m in made} == {beijing}
    assert server_day.entry.amount == 5  # yesterday in Beijing has its own cap


async def test_concurrent_awards_cannot_both_fit_a_cap(points_world):
    t = points_world["sanbai"]["tenant"]
    got = await asyncio.gather(
        *(give(t.id, "bh-1", "building_head_duty", f"c{i}", date(2026, 5, 6)) for i in range(5))
    )
    assert sorted(a.entry.amount for a in got) == [0, 0, 0, 5, 5]


async def test_manual_awards_only_in_ones_area_never_to_oneself(points_world):
    w = points_world["sanbai"]
    t, ids, person = w["tenant"], w["ids"], w["person"]
    cw1 = staff(Role.COMMUNITY_WORKER, "community", ids["C1"], "cw-1")
    cw2 = staff(Role.COMMUNITY_WORKER, "community", ids["C2"], "cw-2")
    so2 = staff(Role.STREET_OFFICER, "street", ids["S2"], "so-2")
    gw1 = staff(Role.GRID_WORKER, "grid", ids["G1"], "gw-1")
    resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H1"]})}, user_id="res-1")
    args = {"rule_code": "building_head_duty", "reason": "组织楼道清理", "evidence": ["https://img.example.cn/1.jpg"]}
    async with tenant_transaction(t.id):
        assert (await award_manually(access=cw1, actor="cw-1", person_id=person["bh-1"], **args)).entry.amount == 5
        assert (await award_manually(access=gw1, actor="gw-1", person_id=person["bh-1"], **args)).entry.amount == 5
        # the volunteer of C3 is in S2 through their post (no household)
        done = await award_manually(access=so2, actor="so-2", person_id=person["vol-3"],
                                    rule_code="volunteer_service", reason="敬老院志愿服务")
        assert done.entry.amount == 5
    for caller, pid, code in ((cw2, person["bh-1"], "FORBIDDEN"), (so2, person["bh-1"], "FORBIDDEN"),
                              (resident, person["bh-1"], "FORBIDDEN"), (cw1, person["cw-1"], "FORBIDDEN")):
        with pytest.raises(Forbidden) as err:
            async with tenant_transaction(t.id):
                await award_manually(access=caller, actor=caller.user_id, person_id=pid, **args)
        assert err.value.code == code
    with pytest.raises(Forbidden, match="themselves"):
        async with tenant_transaction(t.id):
            await award_manually(access=cw1, actor="cw-1", person_id=person["cw-1"], **args)


async def test_manual_award_input_is_checked(points_world):
    w = points_world["sanbai"]
    t, pid = w["tenant"], w["person"]["bh-1"]
    today = (clock.now() + timedelta(hours=BEIJING)).date()
    cases = [
        ({"rule_code": "ticket_valid", "reason": "x"}, "automatic"),
        ({"rule_code": "nope", "reason": "x"}, "unknown"),
        ({"rule_code": "building_head_duty", "reason": "  "}, "required"),
        ({"rule_code": "building_head_duty", "reason": "x", "evidence": ["ftp://a/b"]}, "bad_link"),
        ({"rule_code": "building_head_duty", "reason": "x", "evidence": ["https://gov.cn@evil.example/"]}, "bad_link"),
        ({"rule_code": "building_head_duty", "reason": "x", "evidence": ["https://a.cn/\u202egpj.exe"]}, "bad_link"),
        ({"rule_code": "building_head_duty", "reason": "x", "evidence": ["https://a.cn/x"] * 10}, "too_many"),
        ({"rule_code": "building_head_duty", "reason": "x", "occurred_on": today + timedelta(days=1)}, "future"),
        ({"rule_code": "building_head_duty", "reason": "x", "occurred_on": today - timedelta(days=32)}, "too_old"),
    ]
    for kwargs, reason in cases:
        with pytest.raises(InvalidInput) as err:
            async with tenant_transaction(t.id):
                await award_manually(access=ADMIN, actor="admin", person_id=pid, **kwargs)
        assert reason in [p.reason for p in err.value.problems], (kwargs, err.value.problems)
    async with tenant_transaction(t.id):  # the longest actor and key still fit the entry's key
        done = await award_manually(access=ADMIN, actor="a" * 128, person_id=pid, rule_code="building_head_duty",
                                    reason="x", idempotency_key="k" * 128)
        again = await award_manually(access=ADMIN, actor="a" * 128, person_id=pid, rule_code="building_head_duty",
                                     reason="x", idempotency_key="k" * 128)
        assert again.entry.id == done.entry.id and not again.made
    with pytest.raises(InvalidInput) as err:  # a resident is not a building head
        async with tenant_transaction(t.id):
            await award_manually(access=ADMIN, actor="admin", person_id=w["person"]["res-1"],
                                 rule_code="building_head_duty", reason="x")
    assert err.value.problems[0].reason == "not_earner"
    async with tenant_transaction(t.id):  # 31 days back is fine; a retry with the key awards once
        first = await award_manually(access=ADMIN, actor="admin", person_id=pid, rule_code="building_head_duty",
                                     reason="x", occurred_on=today - timedelta(days=31), idempotency_key="k-1")
        again = await award_manually(access=ADMIN, actor="admin", person_id=pid, rule_code="building_head_duty",
                                     reason="x", occurred_on=today - timedelta(days=31), idempotency_key="k-1")
    assert first.made and not again.made and again.entry.id == first.entry.id


async def test_a_deactivated_person_or_an_ended_post_earns_nothing(points_world):
    t = points_world["sanbai"]["tenant"]
    async with tenant_transaction(t.id):
        await Person.filter(user_id="bh-1").update(deactivated_at=clock.now())
    assert await give(t.id, "bh-1", "building_head_duty", "x", date(2026, 3, 2)) is None
    assert await give(t.id, "bh-1", "building_head_duty", "y", date(2025, 12, 31)) is None  # before the post


async def _ticket(tenant_id: int, ids: dict, *, by: str = "res-1", household: str = "H1",
                  channel: Channel = Channel.APP, on_behalf: str | None = None, access: Access | None = None):
    async with tenant_transaction(tenant_id):
        return await intake.report(
            access=access or Access(roles=frozenset({Role.RESIDENT}),
                                    nodes={"household": frozenset({ids[household]})}, user_id=by),
            actor=by, item_code="grid_help", description="楼道灯坏了", household_id=ids[household],
            channel=channel, on_behalf_of=on_behalf,
        )


async def test_a_ticket_earns_its_reporter_once_and_a_rejected_one_is_reversed(points_world):
    w = points_world["sanbai"]
    t, ids = w["tenant"], w["ids"]
    today = (clock.now() + timedelta(hours=BEIJING)).date()
    first = await _ticket(t.id, ids)
    async with tenant_transaction(t.id):
        await workflow.dispatch(access=ADMIN, actor="admin", ticket_id=first.id)
        with pytest.raises(Conflict):  # a dispatch retried is refused by the ticket's state
            await workflow.dispatch(access=ADMIN, actor="admin", ticket_id=first.id)
    async with tenant_transaction(t.id):  # an event repeated (a retried job) awards nothing more
        await emit("ticket_accepted", ticket_id=first.id, reporter_user_id="res-1", channel="app", at=clock.now())
    second = await _ticket(t.id, ids)
    async with tenant_transaction(t.id):
        await workflow.reject(access=ADMIN, actor="admin", ticket_id=second.id, reason="重复反映")
    entries = await _entries(t.id, "res-1")
    assert entries == [
        ("award", 1, "report_issue", today),
        ("award", 2, "ticket_valid", today),
        ("award", 1, "report_issue", today),
        ("reversal", -1, "report_issue", today),
    ]
    async with tenant_transaction(t.id):
        reversal = await PointsEntry.get(kind=EntryKind.REVERSAL)
        assert reversal.source_kind == "ticket" and reversal.source_id == second.id and "驳回" in reversal.reason
        assert await verify() == []


async def test_a_steward_earns_for_reporting_for_a_household_and_a_rating_earns_the_reporter(points_world):
    w = points_world["sanbai"]
    t, ids = w["tenant"], w["ids"]
    steward = Access(roles=frozenset({Role.STEWARD}), nodes={"household": frozenset({ids["H2"]})}, user_id="st-1")
    ticket = await _ticket(t.id, ids, by="st-1", household="H2", channel=Channel.STEWARD, on_behalf="res-2",
                           access=steward)
    assert [e[:3] for e in await _entries(t.id, "st-1")] == [("award", 2, "steward_report")]
    assert [e[:3] for e in await _entries(t.id, "res-2")] == [("award", 1, "report_issue")]
    async with tenant_transaction(t.id):
        await workflow.dispatch(access=ADMIN, actor="admin", ticket_id=ticket.id, unit_kind=None)
        await workflow.accept(access=ADMIN, actor="admin", ticket_id=ticket.id)
        await workflow.resolve(access=ADMIN, actor="admin", ticket_id=ticket.id, note="已修复")
        res2 = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H2"]})}, user_id="res-2")
        await workflow.rate(access=res2, actor="res-2", ticket_id=ticket.id, rating=5)
    assert [e[:3] for e in await _entries(t.id, "res-2")] == [
        ("award", 1, "report_issue"), ("award", 2, "ticket_valid"), ("award", 1, "rate_result")]


async def test_activity_attendance_earns_once_and_a_withdrawal_reverses_it(points_world):
    t = points_world["sanbai"]["tenant"]
    at = datetime(2026, 3, 8, 2, 0, tzinfo=UTC)
    async with tenant_transaction(t.id):
        for user in ("pm-1", "res-2", "pm-1"):
            await emit("activity_attended", activity_kind="meeting", activity_id=7, user_id=user, at=at)
        await emit("activity_attended", activity_kind="nobody", activity_id=1, user_id="ghost", at=at)
        await emit("activity_withdrawn", activity_kind="meeting", activity_id=7, user_id="pm-1", at=at)
    assert [e[:2] for e in await _entries(t.id, "pm-1")] == [("award", 3), ("reversal", -3)]
    assert [e[:2] for e in await _entries(t.id, "res-2")] == [("award", 3)]


async def test_a_reversal_takes_back_what_the_balance_allows_once(points_world):
    t = points_world["sanbai"]["tenant"]
    first = (await give(t.id, "bh-1", "building_head_duty", "r1", date(2026, 3, 2))).entry
    await give(t.id, "bh-1", "building_head_duty", "r2", date(2026, 3, 2))
    capped = (await give(t.id, "bh-1", "building_head_duty", "r3", date(2026, 3, 2))).entry
    async with tenant_transaction(t.id):
        await spend(person_id=first.person_id, amount=8, key="meal", occurred_on=date(2026, 3, 3),
                    source=Source("voucher", 1), author="tester")
        done = await reverse(first, reason="核实有误", author="cw-1")
        assert done is not None and done.amount == -2 and "已使用或到期 3 分" in done.reason
        assert (await reverse(first, reason="again", author="cw-1")).id == done.id  # type: ignore[union-attr]
        assert await balance_of(first.person_id) == 0 and await verify() == []
        with pytest.raises(Conflict, match="capped"):
            await reverse(capped, reason="x", author="cw-1")


async def test_lots_expire_after_the_tenants_months_oldest_spent_first_and_the_nightly_run_is_idempotent(
    points_world,
):
    sanbai, zjk = points_world["sanbai"]["tenant"], points_world["zhangjiakou"]["tenant"]
    jan = (await give(sanbai.id, "bh-1", "building_head_duty", "jan", date(2026, 1, 15))).entry
    feb = (await give(sanbai.id, "bh-1", "building_head_duty", "feb", date(2026, 2, 15))).entry
    other = (await give(zjk.id, "bh-1", "building_head_duty", "jan", date(2026, 1, 15))).entry
    async with tenant_transaction(sanbai.id):
        assert (await PointsLot.get(entry_id=jan.id)).expires_on == date(2027, 1, 15)
        await spend(person_id=jan.person_id, amount=3, key="s", occurred_on=date(2026, 3, 1),
                    source=Source("voucher", 1), author="tester")
        assert {lot.entry_id: lot.remaining for lot in await PointsLot.all()} == {jan.id: 2, feb.id: 5}
    async with tenant_transaction(zjk.id):
        assert (await PointsLot.get(entry_id=other.id)).expires_on == date(2028, 1, 15)

    def beijing(day: date, hour: int = 2) -> datetime:
        return datetime(day.year, day.month, day.day, hour, 30, tzinfo=UTC) - timedelta(hours=BEIJING)

    async def run(at: datetime) -> dict:
        async with tenant_transaction(sanbai.id):
            return await scheduled.nightly(now=at)

    assert (await run(beijing(date(2027, 1, 10), 0)))["due"] is False  # before the nightly hour (1)
    warned = [await run(beijing(date(2027, 1, 10))) for _ in range(2)]
    assert [(r["expired_lots"], r["warned"]) for r in warned] == [(0, 1), (0, 0)]
    runs = await asyncio.gather(run(beijing(date(2027, 1, 15))), run(beijing(date(2027, 1, 15))))
    assert sorted(r["expired_lots"] for r in runs) == [0, 1]
    async with tenant_transaction(sanbai.id):
        assert await balance_of(jan.person_id) == 5
        assert await PointsEntry.filter(kind=EntryKind.EXPIRY).values_list("amount", flat=True) == [-2]
        notes = await Notification.filter(kind=scheduled.WARNING_KIND).values_list("recipient", "body")
        assert len(notes) == 1 and notes[0][0] == "bh-1" and "2 积分" in notes[0][1]
        assert await verify() == []


async def test_a_tenant_without_review_pays_for_a_report_dispatched_at_intake(points_world):
    """Review and dispatch both off: intake dispatches the ticket itself, and that is its acceptance."""
    w = points_world["sanbai"]
    t, ids = w["tenant"], w["ids"]
    with tenant_context(t.id):
        await change_config(access=SYSTEM, actor="admin", comment="no review",
                            set_values={"tickets": {"steps": {"review": False, "dispatch": False}}})
    ticket = await _ticket(t.id, ids)
    assert ticket.state.value == "dispatched"
    assert sorted(e[2] for e in await _entries(t.id, "res-1")) == ["report_issue", "ticket_valid"]
