"""双报到 activities: capacity and the waiting line (positions checked by hand), twenty joins at once, assignment,
cancel and close, 8小时以外, a member's year at 23:30 on 31 December Beijing time, hostile input, isolation."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tenants.config.document import WorkingHours
from tenants.dual import activities, activity_scheduled, checkin, signups
from tenants.dual.models import Activity, Attendance, Signup, SignupStatus
from tenants.errors import Conflict, Forbidden, InvalidInput, NotFound
from tenants.inbox.models import Notification
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tests.conftest import codes
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.dual_activities import activity, community_worker, member

pytestmark = pytest.mark.on_day(date(2026, 12, 1))
BEIJING = ZoneInfo("Asia/Shanghai")


async def line(tenant_id: int, activity_id: int) -> list[tuple[str, str, int | None]]:
    """(user, status, position) of an activity's live sign-ups, in user order."""
    from tenants.territory.people import Person

    async with tenant_transaction(tenant_id):
        users = dict(await Person.all().values_list("id", "user_id"))
        rows = await Signup.filter(activity_id=activity_id).exclude(status=SignupStatus.CANCELLED).values_list(
            "person_id", "status", "position")
    return sorted((users[p], str(s.value if hasattr(s, "value") else s), pos) for p, s, pos in rows)


async def told(tenant_id: int, user: str, kind: str) -> int:
    async with tenant_transaction(tenant_id):
        return await Notification.filter(recipient=user, kind=kind).count()


async def test_waiting_line_and_promotion(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], capacity=2)
    for u in ("m-1", "m-2", "m-3", "m-4", "m-5"):
        async with tenant_transaction(tid):
            await signups.join(access=member(u), actor=u, activity_id=a.id)
    assert await line(tid, a.id) == [("m-1", "signed", None), ("m-2", "signed", None), ("m-3", "waiting", 1),
                                     ("m-4", "waiting", 2), ("m-5", "waiting", 3)]
    async with tenant_transaction(tid):  # joining twice: the same place
        again = await signups.join(access=member("m-4"), actor="m-4", activity_id=a.id)
    assert (again.status, again.position) == (SignupStatus.WAITING, 2)

    async with tenant_transaction(tid):  # a place frees: the first in line moves up, the line closes up
        await signups.leave(access=member("m-2"), actor="m-2", activity_id=a.id)
    assert await line(tid, a.id) == [("m-1", "signed", None), ("m-3", "signed", None), ("m-4", "waiting", 1),
                                     ("m-5", "waiting", 2)]
    assert await told(tid, "m-3", "dual_activity_promoted") == 1
    async with tenant_transaction(tid):  # leaving the line closes it up; nobody is promoted
        await signups.leave(access=member("m-4"), actor="m-4", activity_id=a.id)
    assert await line(tid, a.id) == [("m-1", "signed", None), ("m-3", "signed", None), ("m-5", "waiting", 1)]

    async with tenant_transaction(tid):  # more places promote; fewer than taken are refused
        await activities.update(access=ADMIN, actor="admin", activity_id=a.id, capacity=3)
    assert await line(tid, a.id) == [("m-1", "signed", None), ("m-3", "signed", None), ("m-5", "signed", None)]
    with pytest.raises(InvalidInput) as refused:
        async with tenant_transaction(tid):
            await activities.update(access=ADMIN, actor="admin", activity_id=a.id, capacity=2)
    assert [(p.field, p.reason) for p in refused.value.problems] == [("input.capacity", "below_taken")]
    async with tenant_transaction(tid):  # a second join after leaving: the end of the line
        await signups.join(access=member("m-2"), actor="m-2", activity_id=a.id)
        await signups.join(access=member("m-4"), actor="m-4", activity_id=a.id)
    assert [x for x in await line(tid, a.id) if x[1] == "waiting"] == [("m-2", "waiting", 1), ("m-4", "waiting", 2)]
    assert await told(tid, "m-3", "dual_activity_promoted") == 1


async def test_twenty_joins_at_once(activity_world):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], capacity=5)

    async def join(u: str) -> None:
        async with tenant_transaction(tid):
            await signups.join(access=member(u), actor=u, activity_id=a.id)

    await asyncio.gather(*(join(f"m-{i}") for i in range(1, 21)))
    got = await line(tid, a.id)
    assert sum(1 for _, s, _ in got if s == "signed") == 5
    assert sorted(p for _, s, p in got if s == "waiting") == list(range(1, 16))


async def test_assignment_eligibility_and_posts(activity_world):
    w = activity_world["sanbai"]
    tid, ids, person = w["tenant"].id, w["ids"], w["person"]
    a = await activity(tid, ids["C1"], capacity=1, posts_needed=[activities.Post("文明劝导", 1)])
    async with tenant_transaction(tid):
        s1 = await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id, post="文明劝导")
        s2 = await signups.join(access=member("m-2"), actor="m-2", activity_id=a.id)
        # the unit registered at C1 lets its member registered at C3 take part; a C3-only member may not
        s3 = await signups.join(access=member("m-wu"), actor="m-wu", activity_id=a.id)
    assert (s1.status, s1.post, s2.status, s2.position, s3.position) == (SignupStatus.SIGNED, "文明劝导",
                                                                         SignupStatus.WAITING, 1, 2)
    for user in ("m-c3", "m-pending", "cw-1"):  # C1's activities are not theirs to read
        with pytest.raises(NotFound):
            async with tenant_transaction(tid):
                await signups.join(access=member(user), actor=user, activity_id=a.id)
    with pytest.raises(InvalidInput):  # the post is filled
        async with tenant_transaction(tid):
            await signups.join(access=member("m-3"), actor="m-3", activity_id=a.id, post="文明劝导")
    # staff assign beyond the capacity; a waiting member assigned leaves the line, which closes up
    cw = community_worker(ids["C1"])
    async with tenant_transaction(tid):
        await signups.assign(access=cw, actor="cw-1", activity_id=a.id, person_id=person["m-2"])
        await signups.assign(access=cw, actor="cw-1", activity_id=a.id, person_id=person["m-4"])
    assert await line(tid, a.id) == [("m-1", "signed", None), ("m-2", "assigned", None), ("m-4", "assigned", None),
                                     ("m-wu", "waiting", 1)]
    assert await told(tid, "m-4", "dual_activity_assigned") == 1
    with pytest.raises(Forbidden) as refused:  # staff assign members of the community (or of its units) only
        async with tenant_transaction(tid):
            await signups.assign(access=cw, actor="cw-1", activity_id=a.id, person_id=person["m-c3"])
    assert refused.value.code == "NOT_A_MEMBER"
    with pytest.raises(NotFound):  # C2's worker does not read C1's activities
        async with tenant_transaction(tid):
            await signups.assign(access=community_worker(ids["C2"], "cw-2"), actor="cw-2", activity_id=a.id,
                                 person_id=person["m-5"])


async def test_cancel_tells_once_and_close_marks_absent(activity_world):
    w = activity_world["sanbai"]
    tid, ids = w["tenant"].id, w["ids"]
    a = await activity(tid, ids["C1"], capacity=1)
    b = await activity(tid, ids["C1"], capacity=1)
    async with tenant_transaction(tid):
        for act in (a, b):
            await signups.join(access=member("m-1"), actor="m-1", activity_id=act.id)
            await signups.join(access=member("m-2"), actor="m-2", activity_id=act.id)
        await activities.cancel(access=ADMIN, actor="admin", activity_id=a.id, reason="大风")
    assert [await told(tid, u, "dual_activity_cancelled") for u in ("m-1", "m-2", "m-3")] == [1, 1, 0]
    with pytest.raises(Conflict) as twice:
        async with tenant_transaction(tid):
            await activities.cancel(access=ADMIN, actor="admin", activity_id=a.id, reason="大风")
    assert twice.value.code == "ILLEGAL_TRANSITION"
    assert await told(tid, "m-1", "dual_activity_cancelled") == 1

    with pytest.raises(Conflict) as early:
        async with tenant_transaction(tid):
            await activities.close(access=ADMIN, actor="admin", activity_id=b.id)
    assert early.value.code == "ACTIVITY_NOT_ENDED"
    # the hourly job closes activities ended a day ago: signed absent, waiting nothing; a second run closes nothing
    with tenant_context(tid):
        assert await activity_scheduled.hourly(now=b.ends_at + timedelta(hours=23)) == {"closed": 0, "units_ended": 0}
        assert await activity_scheduled.hourly(now=b.ends_at + timedelta(hours=24)) == {"closed": 1, "units_ended": 0}
        assert await activity_scheduled.hourly(now=b.ends_at + timedelta(hours=25)) == {"closed": 0, "units_ended": 0}
    async with tenant_transaction(tid):
        rows = dict(await Signup.filter(activity_id=b.id).values_list("status", "attendance"))
        assert (await Activity.get(id=b.id)).status == "closed"
    assert rows == {SignupStatus.SIGNED: Attendance.ABSENT, SignupStatus.WAITING: None}


def test_outside_working_hours():
    wh = WorkingHours()  # 09:00-17:30, Monday to Friday

    def at(day: int, hh: int, mm: int) -> datetime:
        return datetime(2026, 12, day, hh, mm, tzinfo=BEIJING)

    def outside(start: datetime, hours: float = 1) -> bool:
        return activities.outside_working_hours(start, start + timedelta(hours=hours), wh, BEIJING)

    assert outside(at(2, 8, 59)) is True  # Wednesday, starts before 09:00
    assert outside(at(2, 9, 0)) is False
    assert outside(at(2, 16, 30)) is False  # ends at 17:30 exactly
    assert outside(at(2, 16, 31)) is True  # ends after 17:30
    assert outside(at(2, 17, 30)) is True  # starts when work ends
    assert outside(at(5, 10, 0)) is True  # Saturday
    assert outside(at(2, 10, 0), hours=20) is True  # runs past midnight


CREATE = """mutation($input: ActivityInput!) { createActivity(input: $input) {
  id databaseId outsideWorkingHours capacity status postsNeeded { role count } } }"""


async def test_create_through_graphql_and_hostile_input(activity_world, gql):
    w = activity_world["sanbai"]
    c1 = str(w["ids"]["C1"])
    good = {"communityId": c1, "title": "周末义诊", "kind": "volunteer_service", "place": "社区广场",
            "startsAt": "2026-12-05T09:00:00+08:00", "endsAt": "2026-12-05T11:00:00+08:00", "capacity": 30,
            "postsNeeded": [{"role": "引导", "count": 2}]}
    body = await gql(CREATE, w["community_worker"], {"input": good})
    made = body["data"]["createActivity"]
    assert (made["outsideWorkingHours"], made["status"], made["postsNeeded"]) == (True, "OPEN",
                                                                                 [{"role": "引导", "count": 2}])
    # a weekday morning is inside working hours; the creator may say otherwise
    weekday = {**good, "startsAt": "2026-12-07T09:00:00+08:00", "endsAt": "2026-12-07T11:00:00+08:00"}
    assert (await gql(CREATE, w["community_worker"], {"input": weekday}))["data"]["createActivity"][
        "outsideWorkingHours"] is False
    forced = {**weekday, "outsideWorkingHours": True}
    assert (await gql(CREATE, w["community_worker"], {"input": forced}))["data"]["createActivity"][
        "outsideWorkingHours"] is True

    bad = [
        ({"startsAt": "2026-12-05T09:00:00"}, "input.startsAt", "naive"),
        ({"endsAt": "2026-12-05T08:00:00+08:00"}, "input.endsAt", "before_start"),
        ({"endsAt": "2026-12-06T09:00:01+08:00"}, "input.endsAt", "too_long"),
        ({"startsAt": "2026-11-01T09:00:00+08:00"}, "input.startsAt", "past"),
        ({"capacity": 0}, "input.capacity", "out_of_range"),
        ({"capacity": 10_001}, "input.capacity", "out_of_range"),
        ({"kind": "Cleanup!\n"}, "input.kind", "format"),
        ({"title": "\x00"}, "title", None),  # the GraphQL edge refuses it first
        ({"title": "长" * 201}, "input.title", "too_long"),
        ({"postsNeeded": [{"role": "引导", "count": 31}]}, "input.postsNeeded.0.count", "out_of_range"),
        ({"postsNeeded": [{"role": "a", "count": 1}, {"role": "a", "count": 1}]}, "input.postsNeeded.1.role",
         "duplicate"),
    ]
    for change, field, reason in bad:
        body = await gql(CREATE, w["community_worker"], {"input": {**good, **change}})
        assert codes(body) == ["INVALID_INPUT"], (change, body)
        problems = body["errors"][0]["extensions"].get("problems") or []
        assert any(p["field"] == field and (reason is None or p["reason"] == reason) for p in problems) or (
            body["errors"][0]["extensions"]["field"] == field), (change, body)
    for community, token, code in ((str(w["ids"]["C2"]), "community_worker", "FORBIDDEN"),
                                   ("99999999", "community_worker", "NOT_FOUND"),
                                   (c1, "resident", "FORBIDDEN")):
        body = await gql(CREATE, w[token], {"input": {**good, "communityId": community}})
        assert codes(body) == [code], (community, token, body)
    # idempotent: the same key returns the same activity
    keyed = """mutation($input: ActivityInput!, $key: String) { createActivity(input: $input, idempotencyKey: $key)
      { databaseId } }"""
    first = await gql(keyed, w["community_worker"], {"input": good, "key": "k-1"})
    second = await gql(keyed, w["community_worker"], {"input": good, "key": "k-1"})
    assert first["data"] == second["data"]


async def test_member_year_counts_2330_on_31_december_beijing(activity_world, gql, settings):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    start = datetime(2026, 12, 31, 23, 30, tzinfo=BEIJING)
    a = await activity(tid, w["ids"]["C1"], starts_at=start, hours=1, capacity=5)
    async with tenant_transaction(tid):
        s = await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
    with time_machine.travel(datetime(2026, 12, 31, 15, 45, tzinfo=UTC)):
        async with tenant_transaction(tid):
            await checkin.mark(access=ADMIN, actor="admin", signup_id=s.id, attendance="present")
        query = "query($y: Int!) { memberHours(year: $y) { count minutes outsideMinutes } }"
        m1 = bearer(settings, w["tenant"], Role.PARTY_MEMBER, user_id="m-1")  # a token of the day
        y2026 = await gql(query, m1, {"y": 2026})
        y2027 = await gql(query, m1, {"y": 2027})
    assert y2026["data"]["memberHours"] == {"count": 1, "minutes": 60, "outsideMinutes": 60}
    assert y2027["data"]["memberHours"] == {"count": 0, "minutes": 0, "outsideMinutes": 0}


LIST = """query($c: ID) { activities(communityId: $c, first: 10) { edges { node { databaseId title } } } }"""
MINE = "{ myActivities(first: 5) { edges { node { signup { status position } activity { databaseId } } } } }"
ATTENDANCE = "query($id: ID!) { activityAttendance(id: $id, first: 10) { edges { node { status } } } }"


async def test_reads_scope_and_isolation(activity_world, gql):
    w, other = activity_world["sanbai"], activity_world["linshu"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], capacity=1)
    c3 = await activity(tid, w["ids"]["C3"], capacity=1)
    async with tenant_transaction(tid):
        await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)

    def ids(body: dict) -> set[int]:
        return {int(e["node"]["databaseId"]) for e in body["data"]["activities"]["edges"]}

    assert ids(await gql(LIST, w["admin"])) == {a.id, c3.id}
    assert ids(await gql(LIST, w["community_worker"])) == {a.id}  # C1's worker: C1's
    assert ids(await gql(LIST, w["street_officer_s2"])) == {c3.id}  # S2's officer: C3's
    assert ids(await gql(LIST, w["members"]["m-2"])) == {a.id}  # a C1 member: what they may join
    assert ids(await gql(LIST, w["members"]["m-c3"])) == {c3.id}
    assert ids(await gql(LIST, other["admin"])) == set()  # another tenant: nothing
    mine = await gql(MINE, w["members"]["m-1"])
    assert [e["node"]["signup"]["status"] for e in mine["data"]["myActivities"]["edges"]] == ["SIGNED"]
    assert (await gql(MINE, w["members"]["m-2"]))["data"]["myActivities"]["edges"] == []
    assert len((await gql(ATTENDANCE, w["community_worker"], {"id": str(a.id)}))["data"]["activityAttendance"][
        "edges"]) == 1
    assert codes(await gql(ATTENDANCE, w["street_officer_s2"], {"id": str(a.id)})) == ["NOT_FOUND"]
    assert codes(await gql(ATTENDANCE, w["members"]["m-1"], {"id": str(a.id)})) == ["FORBIDDEN"]
    assert codes(await gql(ATTENDANCE, other["admin"], {"id": str(a.id)})) == ["NOT_FOUND"]
    join = "mutation($id: ID!) { joinActivity(id: $id) { status } }"
    assert codes(await gql(join, other["members"]["m-2"], {"id": str(a.id)})) == ["NOT_FOUND"]
    hours = "query($p: ID) { memberHours(year: 2026, personId: $p) { count } }"
    assert codes(await gql(hours, other["admin"], {"p": str(w["person"]["m-1"])})) == ["NOT_FOUND"]


async def test_switched_off_new_times_and_hostile_reads(activity_world, gql):
    w = activity_world["sanbai"]
    tid = w["tenant"].id
    a = await activity(tid, w["ids"]["C1"], capacity=2)
    async with tenant_transaction(tid):
        await signups.join(access=member("m-1"), actor="m-1", activity_id=a.id)
        # new times: the sign-ups' copies follow (a member's year reads them), 8小时以外 is recomputed
        start = datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING)  # a Monday morning
        moved = await activities.update(access=ADMIN, actor="admin", activity_id=a.id, starts_at=start,
                                        ends_at=start + timedelta(hours=1))
        copied = await Signup.get(activity_id=a.id)
    assert (moved.outside_working_hours, copied.starts_at, copied.outside_working_hours) == (False, start, False)
    body = await gql("{ activities(from: \"2026-12-01T00:00:00\", first: 5) { edges { cursor } } }",
                     w["community_worker"])
    assert codes(body) == ["INVALID_INPUT"] and body["errors"][0]["extensions"]["problems"][0]["field"] == "from"
    body = await gql("{ memberHours(year: 99999) { count } }", w["members"]["m-1"])
    assert codes(body) == ["INVALID_INPUT"]
    from tenants.config.service import change_config
    from tenants.territory.access import SYSTEM

    with tenant_context(tid):
        await change_config(access=SYSTEM, actor="admin", comment="off",
                            set_values={"party": {"dual_registration": {"enabled": False}}})
    join = "mutation($id: ID!) { joinActivity(id: $id) { status } }"
    body = await gql(join, w["members"]["m-2"], {"id": str(a.id)})
    assert codes(body) == ["NOT_ENABLED"]
    assert body["errors"][0]["extensions"]["details"]["feature"] == "party.dual_registration"
