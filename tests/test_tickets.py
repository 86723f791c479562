"""Grievance tickets through GraphQL, as each role: the whole workflow, reject, transfer, reopen, scopes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.auth import mint_token
from api.tickets.types import UNIT_NODE_TYPES
from tenants.inbox.models import Notification
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.access import resolve
from tenants.territory.people import Person, Post, PostKind
from tenants.tickets import intake, workflow
from tenants.tickets.models import Ticket
from tests.conftest import codes
from tests.fixtures.callers import bearer, tokens
from tests.fixtures.ids import db_id, gid
from tests.fixtures.territory import build, staff

REPORT = """mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id state dueAt openedAt
  assignee { kind id } reporterUserId enteredBy itemTitle } }"""
T = (
    "query($id: ID!) { ticket(id: $id) { state rating satisfied reopened resolvedOnTime escalations escalationLevel"
    " assignee { kind id } timeline { action fromState toState fromStatus toStatus actor note } } }"
)


@pytest.fixture
async def city(app, settings, once):
    return await once(_city, settings)


async def _city(settings):
    tenant = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    ids = await build(tenant.id)
    async with tenant_transaction(tenant.id):
        for user, hh in (("res-1", "H1"), ("res-2", "H2")):
            await Person.create(user_id=user, name=user, household_id=ids[hh])
        await staff("p1-staff", PostKind.PROPERTY_COMPANY, "company", ids["P1"], since=date(2020, 1, 1),
                    name="物业员工")
    return {
        "tenant": tenant,
        "other": other,
        "ids": ids,
        **tokens(
            settings, tenant, ids,
            resident_h1="res-1", resident_h2="res-2", community_worker_c1="cw-1", community_worker_c3="cw-3",
            street_officer_s1="so-1", company_p1="p1-staff", admin="admin", grid_worker="gw-1",
        ),
        "other_admin": bearer(settings, other, Role.TENANT_ADMIN, user_id="b-admin"),
    }


async def _report(gql, c, token=None, **over):
    data = {
        "itemCode": "corridor_clutter",
        "description": "3单元楼道堆放杂物，影响通行",
        "compoundId": str(c["ids"]["K1"]),
        "photos": ["https://img.example/1.jpg"],
        **over,
    }
    body = await gql(REPORT, token or c["resident_h1"], {"in": data})
    assert "errors" not in body, body
    return body["data"]["reportTicket"]


async def _do(gql, token, mutation, **variables):
    args = ", ".join(f"{k}: ${k}" for k in variables)
    decl = ", ".join(f"${k}: {'ID!' if k == 'id' else 'Int!' if k == 'rating' else 'String!'}" for k in variables)
    return await gql(f"mutation({decl}) {{ {mutation}({args}) {{ state }} }}", token, variables)


async def test_a_ticket_goes_the_whole_way_as_each_role(city, gql):
    c = city
    t = await _report(gql, c)
    opened = datetime.fromisoformat(t["openedAt"])
    assert (t["state"], t["reporterUserId"], t["itemTitle"]) == ("REPORTED", "res-1", "楼道堆物")
    assert datetime.fromisoformat(t["dueAt"]) - opened == timedelta(hours=3)  # 张家口: review and dispatch in 3 h
    assert (
        await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t["id"])
    )["data"]["dispatchTicket"]["state"] == "DISPATCHED"
    assert (await _do(gql, c["company_p1"], "acceptTicket", id=t["id"]))["data"]["acceptTicket"]["state"] == "ACCEPTED"
    done = await _do(gql, c["company_p1"], "resolveTicket", id=t["id"], note="已清理")
    assert done["data"]["resolveTicket"]["state"] == "RESOLVED"
    assert (
        await _do(gql, c["resident_h1"], "rateTicket", id=t["id"], rating=5)
    )["data"]["rateTicket"]["state"] == "CLOSED"
    body = (await gql(T, c["resident_h1"], {"id": t["id"]}))["data"]["ticket"]
    p1 = gid("PropertyCompany", c["ids"]["P1"])
    assert body["assignee"] == {"kind": "PROPERTY_COMPANY", "id": p1}  # the matrix: company of K1
    assert (body["rating"], body["satisfied"], body["resolvedOnTime"]) == (5, True, True)
    assert [(e["action"], e["fromState"], e["toState"]) for e in body["timeline"]] == [
        ("report", None, "reported"),
        ("dispatch", "reported", "dispatched"),
        ("accept", "dispatched", "accepted"),
        ("resolve", "accepted", "resolved"),
        ("rate", "resolved", "rated"),
        ("close", "rated", "closed"),
    ]
    assert [e["actor"] for e in body["timeline"]][:4] == ["res-1", "cw-1", "p1-staff", "p1-staff"]
    # The enum-typed fields carry the same states as the deprecated strings, by name.
    assert all(e["toStatus"] == e["toState"].upper() for e in body["timeline"]), body["timeline"]
    async with tenant_transaction(c["tenant"].id):
        inbox = await Notification.filter(ticket_id=db_id(t["id"])).values_list("recipient", "kind")
    assert ("p1-staff", "ticket.assigned") in inbox
    expected = {"ticket.dispatch", "ticket.accept", "ticket.resolve", "ticket.rate"}
    assert {k for r, k in inbox if r == "res-1"} == expected


async def test_an_unsatisfied_rating_reopens_and_is_counted(city, gql):
    c = city
    t = await _report(gql, c)
    await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t["id"])
    await _do(gql, c["company_p1"], "acceptTicket", id=t["id"])
    await _do(gql, c["company_p1"], "resolveTicket", id=t["id"], note="已清理")
    assert (
        await _do(gql, c["resident_h1"], "rateTicket", id=t["id"], rating=2)
    )["data"]["rateTicket"]["state"] == "REOPENED"
    await _do(gql, c["company_p1"], "resolveTicket", id=t["id"], note="彻底清理")
    assert (
        await _do(gql, c["resident_h1"], "rateTicket", id=t["id"], rating=4)
    )["data"]["rateTicket"]["state"] == "CLOSED"
    body = (await gql(T, c["resident_h1"], {"id": t["id"]}))["data"]["ticket"]
    assert (body["reopened"], body["rating"]) == (1, 4)
    bad = await _do(gql, c["resident_h1"], "rateTicket", id=t["id"], rating=9)
    assert codes(bad) == ["ILLEGAL_TRANSITION"]


async def test_reject_transfer_and_illegal_transitions(city, gql):
    c = city
    t = await _report(gql, c)
    accept = await _do(gql, c["company_p1"], "acceptTicket", id=t["id"])
    assert codes(accept) == ["NOT_FOUND"]  # a company sees only tickets assigned to it
    assert codes(await _do(gql, c["resident_h1"], "rejectTicket", id=t["id"], reason="x")) == ["FORBIDDEN"]
    no_reason = await _do(gql, c["community_worker_c1"], "rejectTicket", id=t["id"], reason=" ")
    assert no_reason["errors"][0]["extensions"]["field"] == "reason"
    rejected = await _do(gql, c["community_worker_c1"], "rejectTicket", id=t["id"], reason="重复上报")
    assert rejected["data"]["rejectTicket"]["state"] == "REJECTED"
    again = await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t["id"])
    assert codes(again) == ["ILLEGAL_TRANSITION"]
    assert again["errors"][0]["extensions"]["details"] == {"state": "rejected", "action": "dispatch"}
    assert "已驳回" in again["errors"][0]["extensions"]["messageZh"]

    t2 = await _report(gql, c)
    await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t2["id"])
    early = await _do(gql, c["company_p1"], "resolveTicket", id=t2["id"], note="x")
    assert codes(early) == ["ILLEGAL_TRANSITION"]  # not accepted yet
    moved = await gql(
        "mutation($id: ID!, $u: ID!) { transferTicket(id: $id, unit: {kind: COMMUNITY, id: $u},"
        ' reason: "属于社区管辖") { state assignee { kind id } } }',
        c["company_p1"],
        {"id": t2["id"], "u": str(c["ids"]["C1"])},
    )
    assert moved["data"]["transferTicket"] == {
        "state": "TRANSFERRED",
        "assignee": {"kind": "COMMUNITY", "id": gid("Community", c["ids"]["C1"])},
    }
    assert codes(await _do(gql, c["company_p1"], "acceptTicket", id=t2["id"])) == [
        "NOT_FOUND"
    ]  # no longer the company's: out of its sight
    assert (
        await _do(gql, c["community_worker_c1"], "acceptTicket", id=t2["id"])
    )["data"]["acceptTicket"]["state"] == "ACCEPTED"
    timeline = (await gql(T, c["admin"], {"id": t2["id"]}))["data"]["ticket"]["timeline"]
    assert [(e["action"], e["note"]) for e in timeline][2] == ("transfer", "属于社区管辖")


async def test_residents_see_their_own_tickets_and_another_tenant_nothing(city, gql):
    c = city
    t = await _report(gql, c)
    assert codes(await gql(T, c["resident_h2"], {"id": t["id"]})) == ["NOT_FOUND"]
    listing = "{ tickets { edges { node { id } } } }"
    assert (await gql(listing, c["resident_h2"]))["data"]["tickets"]["edges"] == []
    assert [e["node"]["id"] for e in (await gql(listing, c["resident_h1"]))["data"]["tickets"]["edges"]] == [t["id"]]
    assert [
        e["node"]["id"] for e in (await gql(listing, c["street_officer_s1"]))["data"]["tickets"]["edges"]
    ] == [t["id"]]
    assert (await gql(listing, c["community_worker_c3"]))["data"]["tickets"]["edges"] == []
    assert (await gql(listing, c["other_admin"]))["data"]["tickets"]["edges"] == []
    assert codes(await gql(T, c["other_admin"], {"id": t["id"]})) == ["NOT_FOUND"]


async def test_bad_reports_list_every_problem_and_save_nothing(city, gql):
    c = city
    bad = {
        "itemCode": "unicorn",
        "description": " ",
        "compoundId": str(c["ids"]["K3"]),
        "photos": [f"https://img/{i}.jpg" for i in range(10)],
        "latitude": "95.0",
        "longitude": "120.5",
    }
    body = await gql(REPORT, c["resident_h1"], {"in": bad})
    problems = [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]]
    assert problems == [
        ("itemCode", "unknown"),
        ("description", "required"),
        ("photos", "too_many"),
        ("latitude", "out_of_range"),
        ("compoundId", "out_of_scope"),
    ]
    async with tenant_transaction(c["tenant"].id):
        assert await Ticket.all().count() == 0


async def test_staff_report_for_a_resident(city, gql):
    c = city
    t = await _report(gql, c, token=c["grid_worker"], onBehalfOf="res-1", channel="GRID_WORKER")
    assert (t["reporterUserId"], t["enteredBy"]) == ("res-1", "gw-1")
    assert "errors" not in await gql(T, c["resident_h1"], {"id": t["id"]})
    denied = await gql(
        REPORT,
        c["resident_h2"],
        {"in": {"itemCode": "corridor_clutter", "description": "x", "address": "某处", "onBehalfOf": "res-1"}},
    )
    assert codes(denied) == ["FORBIDDEN"]


async def test_switched_off_steps_are_skipped_and_old_tickets_keep_their_rules(city, gql):
    c = city
    old = await _report(gql, c)
    change = await gql(
        "mutation { changeConfig(input: {set: {tickets: {steps: {review: false, dispatch: false,"
        ' accept: false}}}, comment: "免审直派"}) { versionNo } }',
        c["admin"],
    )
    assert "errors" not in change, change
    new = await _report(gql, c)
    p1 = gid("PropertyCompany", c["ids"]["P1"])
    assert new["state"] == "ACCEPTED" and new["assignee"] == {"kind": "PROPERTY_COMPANY", "id": p1}
    assert (await gql(T, c["admin"], {"id": old["id"]}))["data"]["ticket"]["state"] == "REPORTED"
    assert (
        await _do(gql, c["community_worker_c1"], "dispatchTicket", id=old["id"])
    )["data"]["dispatchTicket"]["state"] == "DISPATCHED"


async def test_manual_escalation_climbs_the_ladder(city, gql):
    c = city
    t = await _report(gql, c)
    await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t["id"])
    assert codes(await _do(gql, c["resident_h1"], "escalateTicket", id=t["id"], reason="x")) == ["FORBIDDEN"]
    body = await gql(
        'mutation($id: ID!) { escalateTicket(id: $id, reason: "群众反映强烈") { escalationLevel escalations dueAt } }',
        c["street_officer_s1"],
        {"id": t["id"]},
    )
    esc = body["data"]["escalateTicket"]
    assert (esc["escalationLevel"], esc["escalations"]) == ("street", 1)
    left = datetime.fromisoformat(esc["dueAt"]) - datetime.now(UTC)
    assert timedelta(hours=47, minutes=59) < left <= timedelta(hours=48)  # the street rung: 48 h


CHANGES = """query($id: ID!) { ticket(id: $id) { escalationLevel ladderLevel timeline { action kind details change {
  channel onBehalfOf unit { kind id name } partnerTaskId resolvedOnTime rating ratingChannel returnVisit resident
  reopened escalatedFrom escalatedTo automatic fileIds importedRef } } } }"""


async def test_the_typed_event_change_says_what_the_json_details_say(city, gql):
    c = city
    t = await _report(gql, c, token=c["grid_worker"], onBehalfOf="res-1", channel="GRID_WORKER")
    await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t["id"])
    await _do(gql, c["street_officer_s1"], "escalateTicket", id=t["id"], reason="群众反映强烈")
    await _do(gql, c["company_p1"], "acceptTicket", id=t["id"])
    await _do(gql, c["company_p1"], "resolveTicket", id=t["id"], note="已清理")
    await _do(gql, c["resident_h1"], "rateTicket", id=t["id"], rating=2)
    await _do(gql, c["company_p1"], "resolveTicket", id=t["id"], note="彻底清理")
    await _do(gql, c["resident_h1"], "rateTicket", id=t["id"], rating=5)
    body = await gql(CHANGES, c["admin"], {"id": t["id"]})
    assert "errors" not in body, body
    ticket = body["data"]["ticket"]
    assert (ticket["escalationLevel"], ticket["ladderLevel"]) == ("street", "STREET")
    none = {
        "channel": None, "onBehalfOf": None, "unit": None, "partnerTaskId": None, "resolvedOnTime": None,
        "rating": None, "ratingChannel": None, "returnVisit": None, "resident": None, "reopened": None,
        "escalatedFrom": None, "escalatedTo": None, "automatic": None, "fileIds": [], "importedRef": None,
    }
    company = {"kind": "PROPERTY_COMPANY", "id": gid("PropertyCompany", c["ids"]["P1"]), "name": "P1"}
    # By hand, step by step: the grid worker reported for res-1; the matrix sent it to K1's company; the street
    # officer escalated it from the community rung to the street; it was resolved in time twice, rated 2 (reopened
    # once), then 5 (closed).
    expected = [
        ("report", "REPORT", {"channel": "GRID_WORKER", "onBehalfOf": "res-1"}),
        ("dispatch", "DISPATCH", {"unit": company}),
        ("escalate", "ESCALATE", {"escalatedFrom": "COMMUNITY", "escalatedTo": "STREET", "automatic": False}),
        ("accept", "ACCEPT", {}),
        ("resolve", "RESOLVE", {"resolvedOnTime": True}),
        ("rate", "RATE", {"rating": 2, "ratingChannel": "APP", "returnVisit": False, "reopened": 1}),
        ("resolve", "RESOLVE", {"resolvedOnTime": True}),
        ("rate", "RATE", {"rating": 5, "ratingChannel": "APP", "returnVisit": False}),
        ("close", "CLOSE", {}),
    ]
    assert [(e["action"], e["kind"], e["change"]) for e in ticket["timeline"]] == [
        (action, kind, {**none, **change}) for action, kind, change in expected
    ]
    # The same facts as the deprecated JSON details.
    for e in ticket["timeline"]:
        d, ch = e["details"], e["change"]
        assert ch["onBehalfOf"] == d.get("onBehalfOf")
        assert ch["resolvedOnTime"] == d.get("onTime") and ch["rating"] == d.get("rating")
        assert ch["reopened"] == d.get("reopened") and ch["automatic"] == d.get("automatic")
        unit_type = UNIT_NODE_TYPES.get(d.get("unit"), "Unit")
        assert (ch["unit"] or {}).get("id") == (gid(unit_type, d["unitId"]) if "unitId" in d else None)
        assert (ch["escalatedFrom"], ch["escalatedTo"]) == (
            (d["from"].upper(), d["to"].upper()) if e["action"] == "escalate" else (None, None)
        )
        if "channel" in d and e["action"] == "report":
            assert ch["channel"] == d["channel"].upper()


async def test_ticket_lists_filter_and_page(city, gql):
    c = city
    long_ago = datetime.now(UTC) - timedelta(days=2)
    async with tenant_transaction(c["tenant"].id):
        access = await resolve(frozenset({Role.RESIDENT}), [f"household:{c['ids']['H1']}"], "res-1")
        stale = await intake.report(
            access=access,
            actor="res-1",
            item_code="elevator_fault",
            description="电梯停运",
            compound_id=c["ids"]["K1"],
            now=long_ago,
        )
    fresh = await _report(gql, c)
    q = (
        "query($f: TicketFilter, $a: String) { tickets(filter: $f, first: 1, after: $a) { edges { node { id overdue"
        " secondsLeft } } pageInfo { hasNextPage endCursor } } }"
    )
    overdue = (await gql(q, c["admin"], {"f": {"overdue": True}}))["data"]["tickets"]["edges"]
    assert [(e["node"]["id"], e["node"]["overdue"]) for e in overdue] == [(gid("Ticket", stale.id), True)]
    assert overdue[0]["node"]["secondsLeft"] < 0
    page1 = (await gql(q, c["admin"], {}))["data"]["tickets"]
    page2 = (await gql(q, c["admin"], {"a": page1["pageInfo"]["endCursor"]}))["data"]["tickets"]
    assert [page1["edges"][0]["node"]["id"], page2["edges"][0]["node"]["id"]] == [fresh["id"], gid("Ticket", stale.id)]
    by_item = (await gql(q, c["admin"], {"f": {"itemCode": "elevator_fault"}}))["data"]["tickets"]["edges"]
    assert [e["node"]["id"] for e in by_item] == [gid("Ticket", stale.id)]


async def test_only_staff_of_the_area_read_grievances(city, gql, settings):
    c = city
    t = await _report(gql, c)
    ids = c["ids"]
    committee = mint_token(
        settings,
        roles=[Role.OWNERS_COMMITTEE],
        tenant_slug="zhangjiakou",
        scope=(f"compound:{ids['K1']}/owners_committee",),
    )
    assessor = mint_token(
        settings, roles=[Role.ASSESSOR], tenant_slug="zhangjiakou", scope=(f"street:{ids['S1']}/assessor",)
    )
    for token in (committee, assessor, c["company_p1"]):  # the company: not before the ticket is assigned to it
        assert codes(await gql(T, token, {"id": t["id"]})) == ["NOT_FOUND"]
    assert "errors" not in await gql(T, c["community_worker_c1"], {"id": t["id"]})


async def test_county_departments_see_what_is_assigned_to_them(city, gql, settings):
    c = city
    async with tenant_transaction(c["tenant"].id):
        from tenants.territory.parties import Unit
        from tenants.territory.parties import UnitKind as PartyUnitKind

        water = await Unit.create(kind=PartyUnitKind.COUNTY_DEPARTMENT, code="水务", name="水务局")
        await Unit.create(kind=PartyUnitKind.COUNTY_DEPARTMENT, code="GD", name="供电公司")
    dept = mint_token(
        settings, roles=[Role.UNIT_STAFF], tenant_slug="zhangjiakou", scope=(f"unit:{water.id}/unit_staff",)
    )
    mine = await _report(gql, c, itemCode="water_outage", description="停水一天了")
    other = await _report(gql, c)
    await _do(gql, c["community_worker_c1"], "dispatchTicket", id=mine["id"])
    listing = [
        e["node"]["id"] for e in (await gql("{ tickets { edges { node { id } } } }", dept))["data"]["tickets"]["edges"]
    ]
    assert listing == [mine["id"]]
    assert codes(await gql(T, dept, {"id": other["id"]})) == ["NOT_FOUND"]
    assert (await _do(gql, dept, "acceptTicket", id=mine["id"]))["data"]["acceptTicket"]["state"] == "ACCEPTED"


async def test_reporting_for_someone_needs_a_resident_of_ones_area(city, gql):
    c = city
    for who, reason in (("cw-3", "unknown"), ("nobody", "unknown")):
        body = await gql(
            REPORT,
            c["grid_worker"],
            {
                "in": {
                    "itemCode": "corridor_clutter",
                    "description": "x",
                    "compoundId": str(c["ids"]["K1"]),
                    "onBehalfOf": who,
                }
            },
        )
        assert body["errors"][0]["extensions"]["problems"][-1] == {
            **body["errors"][0]["extensions"]["problems"][-1],
            "field": "onBehalfOf",
            "reason": reason,
        }
    far = await gql(
        REPORT,
        c["community_worker_c3"],
        {
            "in": {
                "itemCode": "corridor_clutter",
                "description": "x",
                "address": "某路口",
                "communityId": str(c["ids"]["C3"]),
                "onBehalfOf": "res-1",
            }
        },
    )
    assert far["errors"][0]["extensions"]["problems"][-1]["reason"] == "out_of_scope"


async def test_a_free_address_ticket_belongs_to_a_community(city, gql):
    c = city
    own = await _report(gql, c, compoundId=None, address="小区北门外路灯不亮")
    # the resident's own community reviews it
    body = (await gql(T, c["community_worker_c1"], {"id": own["id"]}))["data"]["ticket"]
    assert body["state"] == "REPORTED"
    no_area = await gql(
        REPORT, c["grid_worker"], {"in": {"itemCode": "corridor_clutter", "description": "x", "address": "某处"}}
    )
    assert no_area["errors"][0]["extensions"]["problems"][0]["field"] == "communityId"


async def test_escalation_never_makes_late_work_on_time_and_tells_the_street(city, gql):
    c = city
    async with tenant_transaction(c["tenant"].id):
        officer = await Person.create(user_id="so-1", name="街道干部")
        await Post.create(
            person_id=officer.id,
            kind=PostKind.STREET_OFFICER,
            target_kind="street",
            target_id=c["ids"]["S1"],
            starts_on=datetime(2020, 1, 1).date(),
        )
    t0 = datetime.now(UTC) - timedelta(hours=40)
    async with tenant_transaction(c["tenant"].id):
        access = await resolve(frozenset({Role.RESIDENT}), [f"household:{c['ids']['H1']}"], "res-1")
        ticket = await intake.report(
            access=access,
            actor="res-1",
            item_code="corridor_clutter",
            description="堆物",
            compound_id=c["ids"]["K1"],
            now=t0,
        )
        admin = await resolve(frozenset({Role.TENANT_ADMIN}), [], "admin")
        await workflow.dispatch(access=admin, actor="admin", ticket_id=ticket.id, now=t0)
        await workflow.accept(access=admin, actor="admin", ticket_id=ticket.id, now=t0)
        # 24 h SLA; escalated at 30 h (the street's 48 h clock starts); resolved at 40 h: late all the same.
        await workflow.escalate(
            access=admin, actor="admin", ticket_id=ticket.id, reason="超时", now=t0 + timedelta(hours=30)
        )
        done = await workflow.resolve(access=admin, actor="admin", ticket_id=ticket.id, note="已清理")
        assert done.resolved_on_time is False
        told = await Notification.filter(ticket_id=ticket.id, kind="ticket.escalated").values_list(
            "recipient", flat=True
        )
    assert "so-1" in told and "p1-staff" in told


async def test_dispatch_without_such_a_unit_asks_for_one_and_texts_are_bounded(city, gql):
    c = city
    t = await _report(gql, c, itemCode="water_outage", description="停水")  # 水务 (the matrix names it) is not on file
    body = await _do(gql, c["community_worker_c1"], "dispatchTicket", id=t["id"])
    assert body["errors"][0]["extensions"]["problems"][0]["reason"] == "unknown_unit"
    long = await _do(gql, c["community_worker_c1"], "rejectTicket", id=t["id"], reason="长" * 501)
    assert long["errors"][0]["extensions"]["problems"][0] == {
        **long["errors"][0]["extensions"]["problems"][0],
        "field": "reason",
        "reason": "too_long",
    }
    assert (await gql(T, c["admin"], {"id": t["id"]}))["data"]["ticket"]["state"] == "REPORTED"
