"""平急结合: a community (or a street) switched to emergency mode gets the 7 emergency groups with its people placed
by the configured rules in one set-based pass, each person told exactly once (also when the switch is sent twice
or at once); hand placements override and tell on a change of group; stand-down restores the 4 normal groups and
tells once; scope, hostile input and another tenant."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from tenants.audit.models import AuditEntry
from tenants.config.service import change_config
from tenants.dual import emergency, emergency_reads
from tenants.dual.emergency_models import AssignedBy, Emergency, WorkGroupAssignment
from tenants.errors import Conflict, Forbidden, InvalidInput, NotEnabled, NotFound
from tenants.inbox.models import Notification
from tenants.paging import Window
from tenants.scope import tenant_transaction
from tenants.territory.people import Person
from tests.fixtures.callers import ADMIN
from tests.fixtures.dual_emergency import C1_PLACES
from tests.fixtures.statements import orm_statements

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

EMERGENCY_GROUPS = ["command", "screening", "supplies", "medical", "order", "publicity", "care"]
NORMAL_GROUPS = ["party_building", "livelihood", "safety", "environment"]


async def _start(w, who: str = "admin", **kw):
    async with tenant_transaction(w.t.id):
        return await emergency.start(access=w.caller(who), actor=who, reason=kw.pop("reason", "暴雨红色预警"), **kw)


async def _board(w, community: str, who: str = "admin") -> emergency_reads.Board:
    async with tenant_transaction(w.t.id):
        return await emergency_reads.work_groups(access=w.caller(who), community_id=w.ids[community])


def _placed(board: emergency_reads.Board) -> dict[str, str]:
    return {m.name.removesuffix("名"): g.code for g in board.groups for m in g.members}


async def _told(w, kind: str = emergency.KIND_START) -> dict[str, int]:
    async with tenant_transaction(w.t.id):
        rows = await Notification.filter(kind=kind).values_list("recipient", flat=True)
    out: dict[str, int] = {}
    for r in rows:
        out[r] = out.get(r, 0) + 1  # type: ignore[index]
    return out


async def test_a_community_switch_sets_seven_groups_places_people_by_rule_and_tells_each_once(emergency_world):
    w = emergency_world
    with orm_statements() as sent:
        switch = await _start(w, community_id=w.ids["C1"])
    assert [e.community_id for e in switch.emergencies] == [w.ids["C1"]]
    assert (switch.assigned, switch.notified) == (6, 6)
    # One pass: a fixed number of statements whatever the number of people (one INSERT ... SELECT places all).
    assert sum("INSERT INTO dual_work_group_assignment" in s for s in sent) == 1
    board = await _board(w, "C1")
    assert board.mode == emergency.EMERGENCY and [g.code for g in board.groups] == EMERGENCY_GROUPS
    assert [g.title for g in board.groups][:2] == ["综合协调组", "排查登记组"]
    # Hand-checked from the fixture: staff first group, skills before building heads, the rest and unit contacts
    # to "others"; pending, deactivated and a pending unit's contact nowhere.
    assert _placed(board) == C1_PLACES
    assert all(m.how == AssignedBy.RULE and m.notified_at is not None for g in board.groups for m in g.members)
    assert await _told(w) == {u: 1 for u in C1_PLACES}
    async with tenant_transaction(w.t.id):
        entry = await AuditEntry.filter(action="dual.emergency.start").get()
    assert entry.target_type == "community" and entry.details["assigned"] == 6


async def test_the_switch_sent_twice_and_at_once_makes_one_emergency_and_tells_no_one_twice(emergency_world):
    w = emergency_world
    results = await asyncio.gather(*(_start(w, community_id=w.ids["C1"]) for _ in range(3)))
    again = await _start(w, community_id=w.ids["C1"])
    assert sorted(len(r.emergencies) for r in [*results, again]) == [0, 0, 0, 1]
    assert again.already == [w.ids["C1"]]
    async with tenant_transaction(w.t.id):
        assert await Emergency.filter(community_id=w.ids["C1"]).count() == 1
        assert await WorkGroupAssignment.all().count() == 6
    assert await _told(w) == {u: 1 for u in C1_PLACES}


async def test_a_street_switch_covers_its_communities_in_the_same_statements(emergency_world):
    w = emergency_world
    await _start(w, "admin", community_id=w.ids["C3"])  # the tenant's configuration and zone now cached
    with orm_statements() as street:
        switch = await _start(w, "so-1", street_id=w.ids["S1"])
    assert sorted(e.community_id for e in switch.emergencies) == sorted([w.ids["C1"], w.ids["C2"]])
    assert _placed(await _board(w, "C2")) == {"cw-2": "command", "m-c2": "care"}
    async with tenant_transaction(w.t.id):
        await emergency.stand_down(access=w.caller("so-1"), actor="so-1", reason="解除", street_id=w.ids["S1"])
    with orm_statements() as one:
        await _start(w, "so-1", community_id=w.ids["C1"], reason="再次启动")
    # Two communities and eight people take the statements one community and six take (plus reading the street).
    assert len(street) == len(one) + 1
    assert await _told(w) == {**{u: 2 for u in C1_PLACES}, "cw-2": 1, "m-c2": 1, "m-c3": 1}
    with pytest.raises(Forbidden):  # S2's community is not the officer's
        await _start(w, "so-1", community_id=w.ids["C3"])
    with pytest.raises(Forbidden):  # a community worker does not switch
        await _start(w, "cw-1", community_id=w.ids["C1"])


async def test_hand_placement_overrides_the_rule_and_tells_on_a_change_of_group(emergency_world):
    w = emergency_world
    await _start(w, community_id=w.ids["C1"])

    async def assign(person: str, group: str, who: str = "cw-1", community: str = "C1"):
        async with tenant_transaction(w.t.id):
            return await emergency.assign(access=w.caller(who), actor=who, community_id=w.ids[community],
                                          person_id=w.ids[person], group=group)

    moved = await assign("m-plain", "medical")
    assert (moved.how, moved.group_code, moved.emergency_id is not None) == (AssignedBy.HAND, "medical", True)
    await assign("m-plain", "medical")  # the same group again: nobody is told again
    await assign("r-h1", "order")  # someone the rules left out: a resident of C1
    assert (await _told(w))["m-plain"] == 2 and (await _told(w))["r-h1"] == 1
    with pytest.raises(InvalidInput) as bad:  # a normal-times group is not in the emergency set
        await assign("m-plain", "livelihood")
    assert bad.value.field == "group"
    with pytest.raises(NotFound):  # C2 is not cw-1's
        await assign("m-c2", "care", community="C2")
    async with tenant_transaction(w.t.id):
        removed = await emergency.remove(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                                         person_id=w.ids["m-head"])
    assert removed.removed_at is not None
    placed = _placed(await _board(w, "C1"))
    assert placed["m-plain"] == "medical" and placed["r-h1"] == "order" and "m-head" not in placed
    # m-head was told of "screening": one removal notice, and the stand-down does not tell them again.
    assert (await _told(w, emergency.KIND_REMOVED)) == {"m-head": 1}
    async with tenant_transaction(w.t.id):
        await emergency.remove(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                               person_id=w.ids["r-h1"])
        await emergency.stand_down(access=w.caller("admin"), actor="admin", reason="解除", community_id=w.ids["C1"])
    assert (await _told(w, emergency.KIND_REMOVED)) == {"m-head": 1, "r-h1": 1}
    assert "m-head" not in await _told(w, emergency.KIND_END) and "r-h1" not in await _told(w, emergency.KIND_END)


async def test_hand_placement_takes_only_people_of_the_community_and_names_no_one_else(emergency_world):
    w = emergency_world
    await _start(w, community_id=w.ids["C1"])

    async def assign(person_id: int, who: str = "cw-1") -> None:
        async with tenant_transaction(w.t.id):
            await emergency.assign(access=w.caller(who), actor=who, community_id=w.ids["C1"], person_id=person_id,
                                   group="order")

    # Another street's member, another street's officer, another community's worker, a pending member, a
    # deactivated one, the other tenant's member and an id nobody has: all the same NOT_FOUND on personId.
    for name in ("m-c3", "so-2", "cw-2", "m-pending", "m-gone", "other:m-other"):
        for who in ("cw-1", "admin"):
            with pytest.raises(NotFound) as missing:
                await assign(w.ids[name], who)
            assert missing.value.field == "personId", (name, who)
    with pytest.raises(NotFound) as missing:
        await assign(999_999)
    assert missing.value.message_en == "no such person in the community"
    await assign(w.ids["wu-1"])  # a registered unit's contact
    await assign(w.ids["r-h1"], "so-1")  # a resident of C1 (the street officer reads them)
    assert set(await _told(w)) == set(C1_PLACES) | {"r-h1"}
    assert _placed(await _board(w, "C1"))["wu-1"] == "order"


async def test_a_placement_racing_a_stand_down_never_lands_in_the_ended_emergency(emergency_world):
    w = emergency_world
    await _start(w, community_id=w.ids["C1"])
    placed, release = asyncio.Event(), asyncio.Event()

    async def assign_and_hold() -> None:
        async with tenant_transaction(w.t.id):
            await emergency.assign(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                                   person_id=w.ids["r-h1"], group="order")
            placed.set()
            await release.wait()

    async def stand_down() -> emergency.Switch:
        async with tenant_transaction(w.t.id):
            return await emergency.stand_down(access=w.caller("admin"), actor="admin", reason="解除",
                                              community_id=w.ids["C1"])

    holder = asyncio.create_task(assign_and_hold())
    await placed.wait()
    ending = asyncio.create_task(stand_down())
    done, _ = await asyncio.wait([ending], timeout=0.3)
    assert not done  # the stand-down waits for the placement's lock on the emergency
    release.set()
    await holder
    assert (await ending).assigned == 7
    # Placed before the end, so told of the end too.
    assert (await _told(w))["r-h1"] == 1 and (await _told(w, emergency.KIND_END))["r-h1"] == 1

    # The other order: a placement waiting on a stand-down finds normal times (no emergency group there).
    await _start(w, community_id=w.ids["C1"], reason="第二次")
    ended, release = asyncio.Event(), asyncio.Event()

    async def stand_down_and_hold() -> None:
        async with tenant_transaction(w.t.id):
            await emergency.stand_down(access=w.caller("admin"), actor="admin", reason="解除",
                                       community_id=w.ids["C1"])
            ended.set()
            await release.wait()

    async def assign() -> None:
        async with tenant_transaction(w.t.id):
            await emergency.assign(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                                   person_id=w.ids["m-plain"], group="order")

    holder = asyncio.create_task(stand_down_and_hold())
    await ended.wait()
    placing = asyncio.create_task(assign())
    done, _ = await asyncio.wait([placing], timeout=0.3)
    assert not done
    release.set()
    await holder
    with pytest.raises(InvalidInput):  # "order" is no normal-times group
        await placing
    async with tenant_transaction(w.t.id):
        assert await WorkGroupAssignment.filter(person_id=w.ids["m-plain"], group_code="order").count() == 0
    assert (await _told(w))["m-plain"] == 2


async def test_stand_down_restores_the_four_normal_groups_and_tells_once(emergency_world):
    w = emergency_world
    await _start(w, community_id=w.ids["C1"])
    async with tenant_transaction(w.t.id):
        await emergency.assign(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                               person_id=w.ids["m-head"], group="command")
        done = await emergency.stand_down(access=w.caller("admin"), actor="admin", reason="预警解除",
                                          community_id=w.ids["C1"])
    assert len(done.emergencies) == 1 and done.emergencies[0].ended_at is not None
    assert await _told(w, emergency.KIND_END) == {u: 1 for u in C1_PLACES}
    with pytest.raises(Conflict):
        async with tenant_transaction(w.t.id):
            await emergency.stand_down(access=w.caller("admin"), actor="admin", reason="x", community_id=w.ids["C1"])
    assert await _told(w, emergency.KIND_END) == {u: 1 for u in C1_PLACES}
    board = await _board(w, "C1")
    assert board.mode == emergency.NORMAL and board.emergency is None
    assert [g.code for g in board.groups] == NORMAL_GROUPS
    # Normal times: the rules' placement (nobody told), the emergency's hand move gone with it.
    assert _placed(board) == {"cw-1": "party_building", "m-head": "environment", "m-driver": "environment",
                              "m-medic": "livelihood", "m-plain": "livelihood", "wu-1": "livelihood"}
    async with tenant_transaction(w.t.id):  # a normal-times hand placement is kept apart, told no one
        normal = await emergency.assign(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                                        person_id=w.ids["m-medic"], group="safety")
    assert normal.emergency_id is None and normal.notified_at is None
    placed = _placed(await _board(w, "C1"))
    assert placed["m-medic"] == "safety"
    switch = await _start(w, community_id=w.ids["C1"], reason="第二次")  # a new emergency tells everyone anew
    assert switch.notified == 6 and _placed(await _board(w, "C1"))["m-medic"] == "medical"
    async with tenant_transaction(w.t.id):
        assert await AuditEntry.filter(action__startswith="dual.emergency").count() == 5
        page = await emergency_reads.list_emergencies(access=w.caller("cw-1"), window=Window(10), active=False)
    assert [e.reason for e in page.rows] == ["暴雨红色预警"]


START = """mutation($in: StartEmergencyInput!) { startEmergency(input: $in) {
  assignedCount notifiedCount unchangedCommunityIds emergencies { communityId active groups { code } } } }"""
GROUPS = """query($c: ID!) { workGroups(communityId: $c) { mode groups { code members { name how notifiedAt } } } }"""
MINE = "{ myWorkGroups { communityId mode groupCode groupTitle how } }"
LIST = "{ emergencies(first: 5) { totalCount nodes { communityId reason active } } }"


def _code(result: dict) -> tuple[str, str | None]:
    ext = result["errors"][0]["extensions"]
    return ext["code"], ext.get("field")


async def test_graphql_scope_hostile_input_and_another_tenant(emergency_world, gql):
    w = emergency_world
    c1 = str(w.ids["C1"])
    started = await gql(START, w.tokens["so-1"], {"in": {"communityId": c1, "reason": "燃气泄漏"}})
    assert started["data"]["startEmergency"]["notifiedCount"] == 6
    assert len(started["data"]["startEmergency"]["emergencies"][0]["groups"]) == 7
    board = (await gql(GROUPS, w.tokens["cw-1"], {"c": c1}))["data"]["workGroups"]
    assert board["mode"] == "EMERGENCY" and len(board["groups"]) == 7
    mine = (await gql(MINE, w.tokens["m-medic"]))["data"]["myWorkGroups"]
    assert mine == [{"communityId": c1, "mode": "EMERGENCY", "groupCode": "medical", "groupTitle": "医疗救护组",
                     "how": "RULE"}]
    # A member reads their own group, not the community's; another street's officer nothing.
    assert _code(await gql(GROUPS, w.tokens["m-medic"], {"c": c1})) == ("NOT_FOUND", "communityId")
    assert (await gql(LIST, w.tokens["so-2"]))["data"]["emergencies"]["totalCount"] == 0
    assert (await gql(LIST, w.tokens["cw-1"]))["data"]["emergencies"]["totalCount"] == 1
    # Hostile input: typed client errors naming the field.
    for variables, expected in (
        ({"communityId": c1, "streetId": str(w.ids["S1"]), "reason": "x"}, ("INVALID_INPUT", "communityId")),
        ({"reason": "x"}, ("INVALID_INPUT", "communityId")),
        ({"communityId": "99999999999999999999", "reason": "x"}, ("INVALID_INPUT", "communityId")),
        ({"communityId": "not-an-id", "reason": "x"}, ("INVALID_INPUT", "communityId")),
        ({"communityId": c1, "reason": "  "}, ("INVALID_INPUT", "reason")),
        ({"communityId": c1, "reason": "长" * 501}, ("INVALID_INPUT", "reason")),
        ({"communityId": "9000000000000000", "reason": "x"}, ("NOT_FOUND", "communityId")),
    ):
        assert _code(await gql(START, w.tokens["admin"], {"in": variables})) == expected, variables
    nul = await gql(START, w.tokens["admin"], {"in": {"communityId": c1, "reason": "a\x00b"}})
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    assert _code(await gql(START, w.tokens["m-medic"], {"in": {"communityId": c1, "reason": "x"}}))[0] == "FORBIDDEN"
    bad_group = await gql('mutation($c: ID!, $p: ID!) { assignToWorkGroup(communityId: $c, personId: $p, '
                          'group: "nope") { id } }', w.tokens["cw-1"], {"c": c1, "p": str(w.ids["m-plain"])})
    assert _code(bad_group) == ("INVALID_INPUT", "group")
    # Another tenant: nothing of ours, by id or in lists (RLS underneath).
    other = w.tokens["other_admin"]
    assert _code(await gql(GROUPS, other, {"c": c1})) == ("NOT_FOUND", "communityId")
    assert (await gql(LIST, other))["data"]["emergencies"]["totalCount"] == 0
    assert _code(await gql(START, other, {"in": {"communityId": c1, "reason": "x"}})) == ("NOT_FOUND", "communityId")
    async with tenant_transaction(w.other.id):
        assert await WorkGroupAssignment.all().count() == 0 and await Notification.all().count() == 0


async def test_a_tenant_with_dual_registration_off_gets_not_enabled_and_keeps_reading(emergency_world):
    w = emergency_world
    await _start(w, community_id=w.ids["C1"])
    async with tenant_transaction(w.t.id):
        await change_config(access=ADMIN, actor="admin",
                            set_values={"party": {"dual_registration": {"enabled": False}}})
    with pytest.raises(NotEnabled) as off:
        await _start(w, community_id=w.ids["C2"])
    assert (off.value.code, off.value.field, off.value.details) == (
        "NOT_ENABLED", "communityId", {"feature": "party.dual_registration"})
    assert (await _board(w, "C1")).mode == emergency.EMERGENCY  # what was recorded stays readable


LISTED = """query($s: ID) { emergencies(first: 5, streetId: $s) { totalCount nodes { communityName assignedCount
  notifiedCount } } }"""
PHONES = """query($c: ID!) { workGroups(communityId: $c) { groups { members { name phone } } } }"""


async def test_what_a_client_shows_names_counts_phones_and_ones_own_normal_group(emergency_world, gql):
    w = emergency_world
    async with tenant_transaction(w.t.id):
        await Person.filter(id=w.ids["m-medic"]).update(phone="13800000001")
    # Normal times: a member's own group is the one the rules give them; staff read phones.
    mine = (await gql(MINE, w.tokens["m-medic"]))["data"]["myWorkGroups"]
    assert mine == [{"communityId": str(w.ids["C1"]), "mode": "NORMAL", "groupCode": "livelihood",
                     "groupTitle": "民生服务组", "how": "RULE"}]
    members = [m for g in (await gql(PHONES, w.tokens["cw-1"], {"c": str(w.ids["C1"])}))["data"]["workGroups"][
        "groups"] for m in g["members"]]
    assert {"name": "m-medic名", "phone": "13800000001"} in members
    await _start(w, community_id=w.ids["C1"])
    await _start(w, community_id=w.ids["C3"])
    async with tenant_transaction(w.t.id):
        await emergency.remove(access=w.caller("cw-1"), actor="cw-1", community_id=w.ids["C1"],
                               person_id=w.ids["m-plain"])
    listed = (await gql(LISTED, w.tokens["admin"], {"s": str(w.ids["S1"])}))["data"]["emergencies"]
    assert listed == {"totalCount": 1, "nodes": [{"communityName": "C1名", "assignedCount": 5, "notifiedCount": 5}]}
    everything = (await gql(LISTED, w.tokens["admin"], {}))["data"]["emergencies"]
    assert [n["communityName"] for n in everything["nodes"]] == ["C3名", "C1名"]
    # The figures of any number of emergencies: three statements (emergencies, names, counts).
    async with tenant_transaction(w.t.id):
        ids = list(await Emergency.all().values_list("id", flat=True))
        with orm_statements() as sent:
            figures = await emergency_reads.emergency_figures(access=w.caller("admin"), ids=ids)
        assert len(sent) == 3 and sorted(figures.values()) == [("C1名", 5, 5), ("C3名", 1, 1)]
        assert await emergency_reads.emergency_figures(access=w.caller("cw-2"), ids=ids) == {}
    mine = (await gql(MINE, w.tokens["m-medic"]))["data"]["myWorkGroups"]
    assert [(m["mode"], m["groupCode"]) for m in mine] == [("EMERGENCY", "medical")]
