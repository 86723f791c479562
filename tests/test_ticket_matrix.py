"""The responsibility matrix 职通民声 as 临沭 runs it: the named unit acts (由谁干), partners help (怎么配合干) with
their own tasks, three escalations in a row go to the efficiency office, automatic dispatch tells the assignee,
and staff record return-visit ratings 回访."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from api.tickets.types import UNIT_NODE_TYPES
from tenants import clock
from tenants.config import service as config
from tenants.inbox.models import Notification
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import SYSTEM, Access
from tenants.territory.parties import Unit
from tenants.tickets import intake, partners, reads, workflow
from tenants.tickets.models import EfficiencyCase, Escalation, PartnerTask, TicketEvent
from tenants.tickets.scheduled import tick
from tests.conftest import codes
from tests.fixtures.callers import ADMIN
from tests.fixtures.ids import db_id, gid

BEIJING = ZoneInfo("Asia/Shanghai")
HOUR = timedelta(hours=1)
MIN = timedelta(minutes=1)

REPORT = """mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id state openedAt assignee { kind id } } }"""
DISPATCH = """mutation($id: ID!, $unit: TicketUnitInput) { dispatchTicket(id: $id, unit: $unit) {
  state dispatchedAt assignee { kind id } } }"""
TICKET = """query($id: ID!) { ticket(id: $id) { state rating satisfied ratingChannel assignee { kind id }
  partnerTasks { id unit { kind id } state acceptDueAt dueAt acceptedBy completedBy note escalatedAt }
  timeline { action actor details change { unit { kind id } partnerTaskId ratingChannel returnVisit resident rating
  reopened } } } }"""
ACCEPT_TASK = "mutation($id: ID!) { acceptPartnerTask(id: $id, note: \"马上到\") { state acceptedBy } }"
COMPLETE_TASK = "mutation($id: ID!, $note: String!) { completePartnerTask(id: $id, note: $note) { state note } }"
RETURN_VISIT = """mutation($id: ID!, $rating: Int!, $channel: RatingChannel!) {
  recordReturnVisit(id: $id, rating: $rating, channel: $channel, comment: "电话回访") {
    state rating ratingChannel } }"""
CHANGE = "mutation($in: ChangeConfigInput!) { changeConfig(input: $in) { versionNo } }"


async def _report(gql, c, item: str, token: str | None = None, **over) -> dict:
    data = {"itemCode": item, "description": "小区东门外有人违章搭建板房", "compoundId": str(c["ids"]["K1"]), **over}
    body = await gql(REPORT, token or c["resident"], {"in": data})
    assert "errors" not in body, body
    return body["data"]["reportTicket"]


async def _inbox(c, user_id: str) -> list[tuple[str, int | None]]:
    async with tenant_transaction(c["tenant"].id):
        return list(await Notification.filter(recipient=user_id).order_by("id").values_list("kind", "ticket_id"))


# --- 由谁干: the named unit acts ---------------------------------------------------------------------------------


async def test_a_county_department_item_goes_to_the_unit_the_matrix_names(linshu_departments, gql):
    c, ids = linshu_departments, linshu_departments["ids"]
    # 违章搭建 names 城管, 城市内涝 names 水务; 水务 was registered first, so "the first department by id" is wrong.
    for item, unit in (("illegal_construction", "urban"), ("urban_waterlogging", "water")):
        t = await _report(gql, c, item)
        body = await gql(DISPATCH, c["community_worker"], {"id": t["id"]})
        assert body["data"]["dispatchTicket"]["assignee"] == {"kind": "COUNTY_DEPARTMENT", "id": gid("Unit", ids[unit])}


async def test_a_deactivated_named_unit_stops_dispatch_until_the_reviewer_names_one(linshu_departments, gql):
    c, ids = linshu_departments, linshu_departments["ids"]
    t = await _report(gql, c, "illegal_construction")
    async with tenant_transaction(c["tenant"].id):
        await Unit.filter(id=ids["urban"]).update(is_active=False)
    body = await gql(DISPATCH, c["community_worker"], {"id": t["id"]})
    assert codes(body) == ["INVALID_INPUT"]
    problem = body["errors"][0]["extensions"]["problems"][0]
    assert (problem["field"], problem["reason"]) == ("unit", "inactive_unit")
    assert "城管" in problem["messageZh"] and "城管" in problem["messageEn"]
    assert (await gql(TICKET, c["admin"], {"id": t["id"]}))["data"]["ticket"]["state"] == "REPORTED"  # nothing saved
    named = await gql(DISPATCH, c["community_worker"],
                      {"id": t["id"], "unit": {"kind": "COUNTY_DEPARTMENT", "id": ids["water"]}})
    assert named["data"]["dispatchTicket"]["assignee"] == {"kind": "COUNTY_DEPARTMENT", "id": gid("Unit", ids["water"])}


async def test_a_change_naming_an_unknown_unit_code_is_refused_with_its_path(linshu_departments, gql):
    c = linshu_departments
    taxonomy = [
        {"code": "order_environment", "title": "环境秩序", "items": [
            # 环保 is on file only in the other tenant; 住保 nowhere; a company follows the place, never a code.
            {"code": "illegal_construction", "title": "违章搭建", "unit": "county_department", "unit_code": "环保",
             "sla_hours": 168, "partners": ["street", {"unit": "county_department", "unit_code": "住保"}]},
            {"code": "parking", "title": "停车管理", "unit": "property_company", "unit_code": "城管", "sla_hours": 48},
            {"code": "urban_waterlogging", "title": "城市内涝", "unit": "county_department", "unit_code": "城管",
             "sla_hours": 24},
        ]},
    ]
    body = await gql(CHANGE, c["admin"], {"in": {"set": {"tickets": {"taxonomy": taxonomy}}}})
    assert codes(body) == ["INVALID_INPUT"]
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [
        ("tickets.taxonomy.0.items.1.unit_code", "not_applicable"),
    ]
    del taxonomy[0]["items"][1]["unit_code"]
    body = await gql(CHANGE, c["admin"], {"in": {"set": {"tickets": {"taxonomy": taxonomy}}}})
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [
        ("tickets.taxonomy.0.items.0.unit_code", "unknown_unit"),
        ("tickets.taxonomy.0.items.0.partners.1.unit_code", "unknown_unit"),
    ]
    async with tenant_transaction(c["tenant"].id):
        await Unit.filter(code="城管").update(is_active=False)
    taxonomy[0]["items"][0] |= {"unit_code": "城管", "partners": ["street"]}
    body = await gql(CHANGE, c["admin"], {"in": {"set": {"tickets": {"taxonomy": taxonomy}}}})
    # 违章搭建 -> 城管 is already in force (the preset's): left alone, dispatch asks for a unit while it is off;
    # 城市内涝 -> 城管 is new, and 城管 has been deactivated.
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [
        ("tickets.taxonomy.0.items.2.unit_code", "inactive_unit"),
    ]
    taxonomy[0]["items"][2]["unit_code"] = "水务"
    body = await gql(CHANGE, c["admin"], {"in": {"set": {"tickets": {"taxonomy": taxonomy}}}})
    assert body["data"]["changeConfig"]["versionNo"] == 2, body


# --- 怎么配合干: partners get their own tasks ----------------------------------------------------------------------


async def test_partners_get_a_task_they_accept_and_complete_visible_only_to_them(linshu_departments, gql):
    c, ids = linshu_departments, linshu_departments["ids"]
    # 违章搭建 at K1: 城管 acts; the street S1 and the company serving K1 (P1) help.
    t = await _report(gql, c, "illegal_construction")
    assert codes(await gql(TICKET, c["company_p1"], {"id": t["id"]})) == ["NOT_FOUND"]  # not before it is dispatched
    dispatched = (await gql(DISPATCH, c["community_worker"], {"id": t["id"]}))["data"]["dispatchTicket"]
    body = (await gql(TICKET, c["company_p1"], {"id": t["id"]}))["data"]["ticket"]  # the partner company sees it now
    tasks = body["partnerTasks"]
    assert [(x["unit"], x["state"]) for x in tasks] == [
        ({"kind": "STREET", "id": gid("Street", ids["S1"])}, "PENDING"),
        ({"kind": "PROPERTY_COMPANY", "id": gid("PropertyCompany", ids["P1"])}, "PENDING"),
    ]
    start = datetime.fromisoformat(dispatched["dispatchedAt"])
    for x in tasks:  # accept within 24 h (临沭's partner_accept_hours); help within 城管's 168 h
        assert datetime.fromisoformat(x["acceptDueAt"]) - start == timedelta(hours=24)
        assert datetime.fromisoformat(x["dueAt"]) - start == timedelta(hours=168)
    street_task, company_task = tasks[0]["id"], tasks[1]["id"]
    assert ("ticket.partner_assigned", db_id(t["id"])) in await _inbox(c, "p1-staff")
    assert ("ticket.partner_assigned", db_id(t["id"])) in await _inbox(c, "so-1")
    assert ("ticket.assigned", db_id(t["id"])) in await _inbox(c, "urban-1")
    # Only the partner itself (or an admin) acts on its task; others do not even see it.
    assert codes(await gql(ACCEPT_TASK, c["resident"], {"id": company_task})) == ["FORBIDDEN"]
    assert codes(await gql(ACCEPT_TASK, c["company_p1"], {"id": street_task})) == ["FORBIDDEN"]
    assert codes(await gql(ACCEPT_TASK, c["company_p2"], {"id": company_task})) == ["NOT_FOUND"]
    assert codes(await gql(ACCEPT_TASK, c["other_admin"], {"id": company_task})) == ["NOT_FOUND"]
    assert codes(await gql(COMPLETE_TASK, c["company_p1"],
                           {"id": company_task, "note": "已拆除"})) == ["ILLEGAL_TRANSITION"]
    accepted = await gql(ACCEPT_TASK, c["company_p1"], {"id": company_task})
    assert accepted["data"]["acceptPartnerTask"] == {"state": "ACCEPTED", "acceptedBy": "p1-staff"}
    assert codes(await gql(ACCEPT_TASK, c["company_p1"], {"id": company_task})) == ["ILLEGAL_TRANSITION"]
    blank = await gql(COMPLETE_TASK, c["company_p1"], {"id": company_task, "note": " "})
    assert blank["errors"][0]["extensions"]["problems"][0]["field"] == "note"
    done = await gql(COMPLETE_TASK, c["company_p1"], {"id": company_task, "note": "已配合拆除板房"})
    assert done["data"]["completePartnerTask"] == {"state": "COMPLETED", "note": "已配合拆除板房"}
    assert ("ticket.partner_completed", db_id(t["id"])) in await _inbox(c, "urban-1")
    body = (await gql(TICKET, c["admin"], {"id": t["id"]}))["data"]["ticket"]
    assert [(e["action"], e["actor"], e["details"].get("unit")) for e in body["timeline"]] == [
        ("report", "res-H1", None),
        ("dispatch", "cw-1", "county_department"),
        ("partner_assign", "system", "street"),
        ("partner_assign", "system", "property_company"),
        ("partner_accept", "p1-staff", "property_company"),
        ("partner_complete", "p1-staff", "property_company"),
    ]
    # The typed change names the same partner unit and task as the JSON details.
    partner = [e for e in body["timeline"] if e["action"].startswith("partner_")]
    assert [(e["change"]["unit"], e["change"]["partnerTaskId"]) for e in partner] == [
        (
            {"kind": e["details"]["unit"].upper(),
             "id": gid(UNIT_NODE_TYPES.get(e["details"]["unit"], "Unit"), e["details"]["unitId"])},
            str(e["details"]["taskId"]),
        )
        for e in partner
    ]
    assert partner[-1]["change"]["partnerTaskId"] == str(db_id(company_task))  # a database id, as every ...Id
    # A company that is no partner sees nothing of it in its list either.
    listing = await gql("{ tickets { edges { node { id } } } }", c["company_p2"])
    assert listing["data"]["tickets"]["edges"] == []


async def test_a_partner_task_not_accepted_in_time_escalates_once(linshu_departments):
    c, ids = linshu_departments, linshu_departments["ids"]
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H1"]})}, user_id="res-H1")
    with tenant_context(c["tenant"].id):
        ticket = await intake.report(access=resident, actor="res-H1", item_code="illegal_construction",
                                      description="违章搭建", household_id=ids["H1"], now=t0)
        await workflow.dispatch(access=ADMIN, actor="cw-1", ticket_id=ticket.id, now=t0)
        async with tenant_transaction(c["tenant"].id):
            company = await PartnerTask.get(ticket_id=ticket.id, unit_kind="property_company")
        await partners.accept(access=ADMIN, actor="p1-staff", task_id=company.id, now=t0 + HOUR)
        # 24 h to accept: at 24 h exactly nothing is late yet; a minute later the street's task is, once.
        assert sum(r["partner_escalated"] for r in await asyncio.gather(tick(now=t0 + 24 * HOUR))) == 0
        late = await asyncio.gather(*(tick(now=t0 + 24 * HOUR + MIN) for _ in range(3)))
        assert sum(r["partner_escalated"] for r in late) == 1
        assert (await tick(now=t0 + 30 * HOUR))["partner_escalated"] == 0
        async with tenant_transaction(c["tenant"].id):
            rows = await Escalation.filter(ticket_id=ticket.id).values_list("unit_kind", "unit_id", "automatic")
            street = await PartnerTask.get(ticket_id=ticket.id, unit_kind="street")
            events = await TicketEvent.filter(ticket_id=ticket.id, action="partner_escalate").count()
            level = (await reads.get_visible(ADMIN, ticket.id)).escalation_level
    assert rows == [("street", ids["S1"], True)]  # the street collects it; the ticket stays on its rung
    assert (street.state, street.escalated_at, events, level) == ("pending", t0 + 24 * HOUR + MIN, 1, 0)
    assert ("ticket.partner_escalated", ticket.id) in await _inbox(c, "so-1")
    assert ("ticket.partner_escalated", ticket.id) in await _inbox(c, "cw-1")  # the reviewing community is told


# --- 连续3次及以上: escalations in a row -----------------------------------------------------------------------------


def _beijing(month: int, day: int, hour: int) -> datetime:
    return datetime(2027, month, day, hour, tzinfo=BEIJING)


async def _escalate_p1_on(c, days: list[datetime], resolved_on_time_at: datetime | None = None) -> list[dict]:
    """A ticket for company P1 (roof_leak: P1 acts, no housing department on file so no partner) per day,
    dispatched an hour before it is escalated by hand; optionally a ticket P1 resolves on time in between."""
    ids = c["ids"]
    resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H1"]})}, user_id="res-H1")
    results = []
    with tenant_context(c["tenant"].id):
        for when in days:
            if resolved_on_time_at is not None and resolved_on_time_at < when:
                before = resolved_on_time_at - HOUR
                good = await intake.report(access=resident, actor="res-H1", item_code="roof_leak",
                                            description="顶楼渗水", household_id=ids["H1"], now=before)
                await workflow.dispatch(access=ADMIN, actor="cw-1", ticket_id=good.id, now=before)
                await workflow.accept(access=ADMIN, actor="p1-staff", ticket_id=good.id, now=before)
                await workflow.resolve(access=ADMIN, actor="p1-staff", ticket_id=good.id, note="已修复",
                                      now=resolved_on_time_at)
                resolved_on_time_at = None
            ticket = await intake.report(access=resident, actor="res-H1", item_code="roof_leak",
                                          description="顶楼渗水", household_id=ids["H1"], now=when - HOUR)
            await workflow.dispatch(access=ADMIN, actor="cw-1", ticket_id=ticket.id, now=when - HOUR)
            await workflow.escalate(access=ADMIN, actor="admin", ticket_id=ticket.id, reason="推诿扯皮", now=when)
            results.append(await tick(now=when + MIN))
    return results


DAYS = [_beijing(1, 31, 10), _beijing(2, 1, 10), _beijing(2, 2, 10)]


async def test_three_escalations_in_a_row_across_months_hand_the_unit_over(linshu_departments):
    c = linshu_departments
    # 31 January, 1 and 2 February: three in a row (the reports' rule), though never three in one month.
    results = await _escalate_p1_on(c, DAYS)
    assert [r["handed_over"] for r in results] == [0, 0, 1]
    async with tenant_transaction(c["tenant"].id):
        cases = await EfficiencyCase.all().values_list("unit_kind", "unit_id", "period", "escalations")
    assert cases == [("property_company", c["ids"]["P1"], "2027-02", 3)]


async def test_by_calendar_month_31_january_and_2_february_never_add_up(linshu_departments):
    c = linshu_departments
    with tenant_context(c["tenant"].id):
        window = {"tickets": {"efficiency_office_window": "calendar_month"}}
        await config.change_config(access=SYSTEM, actor="admin", set_values=window)
    results = await _escalate_p1_on(c, DAYS)
    assert [r["handed_over"] for r in results] == [0, 0, 0]  # January 1, February 2


async def test_an_on_time_resolution_breaks_the_row(linshu_departments):
    c = linshu_departments
    # Two escalations on 1 February, then P1 resolves a ticket on time (16:00), then three more. By calendar month
    # the third (2 February 10:00) would hand P1 over; in a row the count restarts at the resolution, so only the
    # third after it (3 February) does.
    days = [_beijing(2, 1, 10), _beijing(2, 1, 14), _beijing(2, 2, 10), _beijing(2, 2, 14), _beijing(2, 3, 9)]
    results = await _escalate_p1_on(c, days, resolved_on_time_at=_beijing(2, 1, 16))
    assert [r["handed_over"] for r in results] == [0, 0, 0, 0, 1]
    async with tenant_transaction(c["tenant"].id):
        cases = await EfficiencyCase.all().values_list("period", "escalations")
    assert cases == [("2027-02", 3)]


# --- Notifications follow the state change ---------------------------------------------------------------------


async def test_an_automatic_dispatch_at_intake_tells_the_assignee(linshu_departments, gql):
    c = linshu_departments
    steps = {"review": False, "dispatch": False, "accept": True, "resolve": True, "rate": True}
    assert "errors" not in await gql(CHANGE, c["admin"], {"in": {"set": {"tickets": {"steps": steps}}}})
    t = await _report(gql, c, "cleaning_lapse", description="楼道无人打扫")
    p1 = gid("PropertyCompany", c["ids"]["P1"])
    assert (t["state"], t["assignee"]) == ("DISPATCHED", {"kind": "PROPERTY_COMPANY", "id": p1})
    assert await _inbox(c, "p1-staff") == [("ticket.assigned", db_id(t["id"]))]
    assert ("ticket.dispatch", db_id(t["id"])) in await _inbox(c, "res-H1")
    # The community helps with cleaning (the matrix's partner): its task is opened at intake too.
    assert ("ticket.partner_assigned", db_id(t["id"])) in await _inbox(c, "cw-1")


# --- 回访: return visits ---------------------------------------------------------------------------------------------


async def _resolved(gql, c, token: str, **over) -> str:
    t = await _report(gql, c, "cleaning_lapse", token=token, description="楼道无人打扫", **over)
    await gql(DISPATCH, c["community_worker"], {"id": t["id"]})
    for m in ('acceptTicket(id: $id) { state }', 'resolveTicket(id: $id, note: "已打扫") { state }'):
        body = await gql(f"mutation($id: ID!) {{ {m} }}", c["company_p1"], {"id": t["id"]})
        assert "errors" not in body, body
    return str(t["id"])


async def test_staff_record_the_residents_rating_on_a_return_visit_and_it_counts(linshu_departments, gql):
    c = linshu_departments
    by_grid_worker = await _resolved(gql, c, c["grid_worker"], onBehalfOf="res-H1", channel="GRID_WORKER")
    in_the_app = await _resolved(gql, c, c["resident"])
    # The resident's own app ticket is rated by the resident, never by staff on their behalf.
    for staff in ("grid_worker", "community_worker"):
        body = await gql(RETURN_VISIT, c[staff], {"id": in_the_app, "rating": 5, "channel": "PHONE"})
        assert codes(body) == ["FORBIDDEN"]
    app = await gql(RETURN_VISIT, c["grid_worker"], {"id": by_grid_worker, "rating": 5, "channel": "APP"})
    assert app["errors"][0]["extensions"]["problems"][0]["field"] == "channel"
    assert codes(await gql(RETURN_VISIT, c["company_p1"], {"id": by_grid_worker, "rating": 5, "channel": "PHONE"})) == [
        "FORBIDDEN"  # the company that did the work does not rate itself
    ]
    assert codes(await gql(RETURN_VISIT, c["other_admin"],
                           {"id": by_grid_worker, "rating": 5, "channel": "PHONE"})) == ["NOT_FOUND"]
    low = await gql(RETURN_VISIT, c["grid_worker"], {"id": by_grid_worker, "rating": 6, "channel": "PHONE"})
    assert low["errors"][0]["extensions"]["problems"][0]["field"] == "rating"  # 临沭's scale is 1..5
    visit = await gql(RETURN_VISIT, c["grid_worker"], {"id": by_grid_worker, "rating": 3, "channel": "PHONE"})
    assert visit["data"]["recordReturnVisit"] == {"state": "REOPENED", "rating": 3, "ratingChannel": "PHONE"}
    rated = await gql("mutation($id: ID!) { rateTicket(id: $id, rating: 5) { ratingChannel } }", c["resident"],
                      {"id": in_the_app})
    assert rated["data"]["rateTicket"] == {"ratingChannel": "APP"}
    body = (await gql(TICKET, c["admin"], {"id": by_grid_worker}))["data"]["ticket"]
    rate = [e for e in body["timeline"] if e["action"] == "rate"]
    assert [(e["actor"], e["details"]) for e in rate] == [
        ("gw-1", {"rating": 3, "channel": "phone", "returnVisit": True, "resident": "res-H1", "reopened": 1})
    ]
    assert rate[0]["change"] == {
        "unit": None, "partnerTaskId": None, "rating": 3, "ratingChannel": "PHONE", "returnVisit": True,
        "resident": "res-H1", "reopened": 1,
    }
    # Satisfaction counts both: 2 rated, 1 satisfied (5 >= 4; 3 is not) = 5,000 basis points.
    today = clock.local_day(clock.now(), BEIJING)
    period = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    kpis = await gql(
        "query($p: TicketKpiPeriodInput!) { ticketKpis(period: $p, dimension: COMPOUND) { rated satisfactionRateBp } }",
        c["admin"],
        {"p": period},
    )
    assert kpis["data"]["ticketKpis"] == [{"rated": 2, "satisfactionRateBp": 5000}], kpis


# --- Review fixes: partner tasks ----------------------------------------------------------------------------------


async def test_a_partner_cannot_complete_its_task_once_the_ticket_is_resolved(linshu_departments, gql):
    c = linshu_departments
    t = await _report(gql, c, "illegal_construction")  # 城管 acts, P1 helps
    await gql(DISPATCH, c["community_worker"], {"id": t["id"]})
    async with tenant_transaction(c["tenant"].id):
        task = await PartnerTask.get(ticket_id=db_id(t["id"]), unit_kind="property_company")
    assert "errors" not in await gql(ACCEPT_TASK, c["company_p1"], {"id": str(task.id)})
    for m in ('acceptTicket(id: $id) { state }', 'resolveTicket(id: $id, note: "已拆除") { state }'):
        body = await gql(f"mutation($id: ID!) {{ {m} }}", c["unit_staff"], {"id": t["id"]})
        assert "errors" not in body, body
    late = await gql(COMPLETE_TASK, c["company_p1"], {"id": str(task.id), "note": "已配合拆除板房"})
    assert codes(late) == ["ILLEGAL_TRANSITION"]
    async with tenant_transaction(c["tenant"].id):
        assert (await PartnerTask.get(id=task.id)).state == "accepted"  # nothing saved


async def test_notes_and_reasons_postgresql_cannot_store_are_typed_off_the_graphql_edge(linshu_departments):
    # Jobs and the CLI call the services without the edge's argument guard: the services refuse NUL and lone
    # surrogates themselves, naming the field, instead of failing in PostgreSQL.
    from tenants.errors import InvalidInput

    c, ids = linshu_departments, linshu_departments["ids"]
    at = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H1"]})}, user_id="res-H1")
    with tenant_context(c["tenant"].id):
        ticket = await intake.report(access=resident, actor="res-H1", item_code="illegal_construction",
                                      description="违章搭建", household_id=ids["H1"], now=at)
        with pytest.raises(InvalidInput) as bad_reason:
            await workflow.reject(access=ADMIN, actor="cw-1", ticket_id=ticket.id, reason="重复\x00", now=at)
        await workflow.dispatch(access=ADMIN, actor="cw-1", ticket_id=ticket.id, now=at)
        async with tenant_transaction(c["tenant"].id):
            task = await PartnerTask.get(ticket_id=ticket.id, unit_kind="property_company")
        with pytest.raises(InvalidInput) as bad_note:
            await partners.accept(access=ADMIN, actor="p1-staff", task_id=task.id, note="到\ud800", now=at)
        async with tenant_transaction(c["tenant"].id):
            assert (await PartnerTask.get(id=task.id)).state == "pending"
    assert [(p.field, p.reason) for p in bad_reason.value.problems] == [("reason", "nul")]
    assert [(p.field, p.reason) for p in bad_note.value.problems] == [("note", "surrogate")]


async def test_each_run_of_three_in_a_row_is_handed_over_once_even_twice_in_a_month(linshu_departments):
    c, ids = linshu_departments, linshu_departments["ids"]
    # 临沭 counts in a row (since the unit's latest on-time resolution or hand-over). Each roof_leak ticket (P1,
    # 72 h) is dispatched 73 h before P1 is escalated on it, then resolved late just after: no on-time resolution
    # breaks the row, and no ticket stays open to be escalated again by a later tick. 1-3 February is a run (handed
    # over on the 3rd); the count restarts at that hand-over, so 10-12 February is a second run in the same month
    # (handed over on the 12th); 1 March is the first of a third.
    resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H1"]})}, user_id="res-H1")
    days = [_beijing(2, d, 10) for d in (1, 2, 3, 10, 11, 12)] + [_beijing(3, 1, 10)]
    handed = []
    with tenant_context(c["tenant"].id):
        for when in days:
            start = when - 73 * HOUR
            ticket = await intake.report(access=resident, actor="res-H1", item_code="roof_leak",
                                          description="顶楼渗水", household_id=ids["H1"], now=start)
            await workflow.dispatch(access=ADMIN, actor="cw-1", ticket_id=ticket.id, now=start)
            await workflow.accept(access=ADMIN, actor="p1-staff", ticket_id=ticket.id, now=start)
            await workflow.escalate(access=ADMIN, actor="admin", ticket_id=ticket.id, reason="推诿扯皮", now=when)
            handed.append((await tick(now=when + MIN))["handed_over"])
            done = await workflow.resolve(access=ADMIN, actor="p1-staff", ticket_id=ticket.id, note="已修复",
                                         now=when + 2 * MIN)
            assert done.resolved_on_time is False
        assert (await tick(now=_beijing(3, 1, 12)))["handed_over"] == 0  # another tick hands nothing over again
    assert handed == [0, 0, 1, 0, 0, 1, 0]
    async with tenant_transaction(c["tenant"].id):
        cases = await EfficiencyCase.all().order_by("id").values_list("period", "run_no", "escalations")
    assert cases == [("2027-02", 1, 3), ("2027-02", 2, 3)]


async def test_one_broken_partner_task_neither_stops_the_others_nor_the_tick(linshu_departments):
    c, ids = linshu_departments, linshu_departments["ids"]
    t0 = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 09:00 in Beijing
    resident = Access(roles=frozenset({Role.RESIDENT}), nodes={"household": frozenset({ids["H1"]})}, user_id="res-H1")
    with tenant_context(c["tenant"].id):
        made = []
        for _ in range(3):  # 违章搭建 at K1: each ticket gives the street S1 and the company P1 a task
            ticket = await intake.report(access=resident, actor="res-H1", item_code="illegal_construction",
                                          description="违章搭建", household_id=ids["H1"], now=t0)
            await workflow.dispatch(access=ADMIN, actor="cw-1", ticket_id=ticket.id, now=t0)
            made.append(ticket.id)
        async with tenant_transaction(c["tenant"].id) as conn:  # the second ticket's rule snapshot is damaged
            await conn.execute_query("UPDATE ticket SET rules = rules || '{\"item\": null}' WHERE id = $1", [made[1]])
        first = await tick(now=t0 + 24 * HOUR + MIN)
        async with tenant_transaction(c["tenant"].id):
            escalated = await Escalation.filter(automatic=True).order_by("ticket_id", "unit_kind").values_list(
                "ticket_id", "unit_kind")
            retried = await PartnerTask.filter(ticket_id=made[1]).values_list("escalated_at", flat=True)
    # 3 tickets x 2 tasks = 6 overdue; the damaged ticket's 2 fail and are released for the next tick, 4 escalate.
    assert first["partner_escalated"] == 4 and "handed_over" in first
    assert escalated == [(made[0], "property_company"), (made[0], "street"),
                         (made[2], "property_company"), (made[2], "street")]
    assert retried == [None, None]
    inbox = await _inbox(c, "so-1")  # one message per escalated task, for S1's two tasks
    assert [t for k, t in inbox if k == "ticket.partner_escalated"] == [made[0], made[2]]
