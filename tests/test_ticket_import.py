"""Historical tickets imported with their own times: KPIs as they were, nothing reminded for the past, all or
nothing, idempotent, isolated per tenant. Times in the files are Beijing wall times (张家口's zone), in March 2026,
well before any run of this suite, so every figure holds at any hour of the day the suite runs.

张家口 preset: corridor_clutter goes to the property company with a 24 h SLA; review within 3 h; ladder community
24 h -> street 48 h -> county 72 h; ratings 1..5, satisfied from 4. P1 (credit code 91130700MA0001) serves K1 from
2026-01-01.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook

from tenants.inbox.models import Notification
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.access import SYSTEM
from tenants.tickets.importer import import_tickets
from tenants.tickets.models import Escalation, Ticket, TicketEvent, TicketState
from tenants.tickets.scheduled import tick
from tests.conftest import codes
from tests.fixtures.callers import bearer
from tests.fixtures.cli import run_cli
from tests.fixtures.territory import build

PLACE = "S1,C1,G1,K1"
HEADER = "external_ref,item_code,street_code,community_code,grid_code,compound_code,opened_at,dispatched_at," \
         "resolved_at,rated_at,rating,escalations\n"
HISTORY = HEADER + (
    f"HL-001,corridor_clutter,{PLACE},2026-03-02 09:00,2026-03-02 10:00,2026-03-02 20:00,2026-03-02 21:00,5,\n"
    f"HL-002,corridor_clutter,{PLACE},2026-03-05 08:00,2026-03-05 09:00,2026-03-07 09:00,,2,1\n"
    f"HL-003,corridor_clutter,{PLACE},2026-03-10 08:00,2026-03-10 08:30,2026-03-10 12:00,,,\n"
    f"HL-004,corridor_clutter,{PLACE},2026-03-20 08:00,2026-03-20 09:00,,,,2\n"
    f"HL-005,corridor_clutter,{PLACE},2026-03-25 08:00,,,,,\n"
)
IMPORT = """mutation($in: ImportTicketsInput!) { importTickets(input: $in) { dryRun applied rows skippedRows
  created { kind count } unchanged { kind count } errors { row column reason messageZh messageEn } } }"""
KPIS = """query($p: TicketKpiPeriodInput!, $d: TicketKpiDimension!) { ticketKpis(period: $p, dimension: $d) {
  kind name received rejected closed closureRateBp resolved onTimeRateBp rated satisfactionRateBp
  avgHoursToResolve reopened escalations } }"""
NOW = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)  # the import's instant in the service tests: 10:00 on 1 April in Beijing


@pytest.fixture
async def county(app, settings, once):
    return await once(_county, settings)


async def _county(settings):
    tenant = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    ids = await build(tenant.id)
    await build(other.id)

    return {
        "tenant": tenant,
        "other": other,
        "ids": ids,
        "admin": bearer(settings, tenant, Role.TENANT_ADMIN, user_id="admin"),
        "other_admin": bearer(settings, other, Role.TENANT_ADMIN, user_id="admin"),
        "resident": bearer(settings, tenant, Role.RESIDENT, user_id="admin"),
    }


async def _import(tenant, text: str | bytes, fmt: str = "csv", **kw):
    data = text.encode() if isinstance(text, str) else text
    with tenant_context(tenant.id):
        return await import_tickets(access=SYSTEM, data=data, fmt=fmt, actor="admin", now=NOW, **kw)


async def _tickets(tenant) -> dict[str, Ticket]:
    async with tenant_transaction(tenant.id):
        return {t.external_ref: t for t in await Ticket.all()}


async def test_imported_history_gives_the_kpis_it_had(county, gql):
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": HISTORY}})
    report = body["data"]["importTickets"]
    assert report["applied"] and report["errors"] == [] and report["rows"] == 5
    assert {c["kind"]: c["count"] for c in report["created"]} == {"ticket": 5, "escalation": 3}
    kpis = await gql(KPIS, county["admin"], {"p": {"from": "2026-03-01", "to": "2026-04-01"}, "d": "UNIT"})
    assert "errors" not in kpis, kpis
    # P1 holds HL-001..004 (HL-005 was never dispatched). Closed: 001 (rated 5) and 002 (rated 2) -> 2/4 = 50.00 %.
    # Resolved 001, 002, 003; on time: 001 (10 h of 24) and 003 (3.5 h); 002 took 48 h -> 2/3 = 66.67 %.
    # Rated 001 (satisfied), 002 (not) -> 50.00 %. Hours opened -> resolved: 11 + 49 + 4 = 64, / 3 = 21.3.
    # Escalations in March collected by P1: 002 once (at its deadline 6 March 09:00), 004 twice (21 March 09:00
    # and 48 h later, 23 March 09:00) -> 3.
    assert kpis["data"]["ticketKpis"] == [{
        "kind": "PROPERTY_COMPANY", "name": "P1", "received": 4, "rejected": 0, "closed": 2, "closureRateBp": 5000,
        "resolved": 3, "onTimeRateBp": 6667, "rated": 2, "satisfactionRateBp": 5000, "avgHoursToResolve": "21.3",
        "reopened": 0, "escalations": 3,
    }]
    community = await gql(KPIS, county["admin"], {"p": {"from": "2026-03-01", "to": "2026-04-01"}, "d": "COMMUNITY"})
    # Where the tickets are: all five in C1, the never-dispatched HL-005 included (closure 2 / 5 = 40.00 %).
    c1 = community["data"]["ticketKpis"][0]
    assert (c1["name"], c1["received"], c1["closed"], c1["closureRateBp"], c1["escalations"]) == ("C1名", 5, 2, 4000, 3)
    tickets = await _tickets(county["tenant"])
    assert tickets["HL-002"].state == TicketState.CLOSED and tickets["HL-002"].satisfied is False
    assert tickets["HL-003"].state == TicketState.RESOLVED  # resolved, waiting for a rating that never came
    assert tickets["HL-004"].state == TicketState.ACCEPTED and tickets["HL-004"].escalation_level == 2
    assert tickets["HL-005"].state == TicketState.REPORTED and tickets["HL-005"].assignee_id is None
    async with tenant_transaction(county["tenant"].id):
        timeline = [e.action for e in await TicketEvent.filter(ticket_id=tickets["HL-002"].id).order_by("at", "id")]
    assert timeline == ["report", "dispatch", "escalate", "resolve", "rate", "close"]
    # The typed change of imported events: the source row's reference, the rung climbed, a rating whose channel
    # an import does not know, and no return visit claimed.
    body = await gql(
        "query($id: ID!) { ticket(id: $id) { ladderLevel timeline { kind details change { importedRef rating"
        " ratingChannel returnVisit escalatedFrom escalatedTo resolvedOnTime } } } }",
        county["admin"],
        {"id": str(tickets["HL-002"].id)},
    )
    events = body["data"]["ticket"]["timeline"]
    assert {e["change"]["importedRef"] for e in events} == {"HL-002"} == {e["details"]["imported"] for e in events}
    by_kind = {e["kind"]: e["change"] for e in events}
    assert (by_kind["ESCALATE"]["escalatedFrom"], by_kind["ESCALATE"]["escalatedTo"]) == ("COMMUNITY", "STREET")
    assert by_kind["RESOLVE"]["resolvedOnTime"] is False  # 48 h of 24
    assert (by_kind["RATE"]["rating"], by_kind["RATE"]["ratingChannel"], by_kind["RATE"]["returnVisit"]) == (
        2, None, None
    )


async def test_units_named_or_routed_by_the_matrix_on_the_day_of_dispatch(county):
    head = "external_ref,item_code,street_code,community_code,grid_code,compound_code,opened_at,dispatched_at," \
           "unit_kind,unit\n"
    text = head + (
        f"U-1,corridor_clutter,{PLACE},2026-03-02 09:00,2026-03-02 10:00,,\n"  # P1 serves K1 since 1 January
        f"U-2,corridor_clutter,{PLACE},2025-12-31 09:00,2025-12-31 10:00,,\n"  # before P1's contract: C1 acts
        "U-3,corridor_clutter,S1,C2,G2,K2,2026-03-02 09:00,2026-03-02 10:00,,\n"  # nobody serves K2: C2
        f"U-4,sewage_overflow,{PLACE},2026-03-02 09:00,2026-03-02 10:00,,\n"  # a street item: S1
        f"U-5,corridor_clutter,{PLACE},2026-03-02 09:00,2026-03-02 10:00,物业企业,91130700MA0002\n"  # named: P2
        f"U-6,water_outage,{PLACE},2026-03-02 09:00,2026-03-02 10:00,,\n"  # row 7: the matrix names 水务, not on file
        f"U-7,corridor_clutter,{PLACE},2026-03-02 09:00,2026-03-02 10:00,,91139999\n"  # row 8: no such unit
    )
    report = await _import(county["tenant"], text)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (7, "unit", "unknown_unit"),
        (8, "unit", "unknown_unit"),
    ]
    report = await _import(county["tenant"], text, skip_bad_rows=True)
    ids = county["ids"]
    tickets = await _tickets(county["tenant"])
    assert {ref: (t.assignee_kind.value, t.assignee_id) for ref, t in tickets.items()} == {
        "U-1": ("property_company", ids["P1"]),
        "U-2": ("community", ids["C1"]),
        "U-3": ("community", ids["C2"]),
        "U-4": ("street", ids["S1"]),
        "U-5": ("property_company", ids["P2"]),
    }


async def test_dry_run_writes_nothing(county, gql):
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": HISTORY, "dryRun": True}})
    report = body["data"]["importTickets"]
    assert report["dryRun"] and not report["applied"]
    assert {c["kind"]: c["count"] for c in report["created"]} == {"ticket": 5, "escalation": 3}
    assert await _tickets(county["tenant"]) == {}
    async with tenant_transaction(county["tenant"].id):
        assert await Escalation.all().count() == 0 and await TicketEvent.all().count() == 0


BAD = HISTORY + (
    f"HL-006,no_such_item,{PLACE},2026-03-26 08:00,,,,,\n"  # row 7: item not in the taxonomy
    f"HL-007,corridor_clutter,S1,C9,,,2026-03-26 08:00,,,,,\n"  # row 8: unknown community
    f"HL-008,corridor_clutter,{PLACE},2026-03-26 09:00,2026-03-26 08:00,,,,\n"  # row 9: dispatched before opened
    f"HL-009,corridor_clutter,{PLACE},2026/3/26 9点,,,,,\n"  # row 10: not a time
    f"HL-001,corridor_clutter,{PLACE},2026-03-26 09:00,,,,,\n"  # row 11: repeats row 2's ticket number
    f"HL-010,corridor_clutter,{PLACE},2026-03-26 09:00,2026-03-26 10:00,2026-03-26 11:00,,9,\n"  # row 12: 9 of 5
)


async def test_bad_rows_are_listed_and_nothing_is_imported(county, gql):
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": BAD}})
    report = body["data"]["importTickets"]
    assert not report["applied"] and report["created"] == []
    assert [(e["row"], e["column"], e["reason"]) for e in report["errors"]] == [
        (7, "item_code", "unknown"),
        (8, "community_code", "unknown_place"),
        (9, "dispatched_at", "out_of_order"),
        (10, "opened_at", "bad_time"),
        (11, "external_ref", "duplicate"),
        (12, "rating", "out_of_range"),
    ]
    assert all(e["messageZh"] and e["messageEn"] for e in report["errors"])
    assert await _tickets(county["tenant"]) == {}


async def test_hostile_cells_are_row_errors_never_a_server_error(county, gql):
    hostile = HEADER + (
        f"HL-1,corridor_clutter,{PLACE},2026-03-02 09:00+99:00,,,,,\n"  # row 2: no such offset
        f"HL-2,corridor_clutter,{PLACE},2026-03-02 09:00,2026-03-02 10:00,2026-03-02 11:00,,²,\n"  # row 3
        f"HL-3,corridor_clutter,{PLACE},2026-03-02 09:00,,,,,-1\n"  # row 4: negative count
        f"{'R' * 65},corridor_clutter,{PLACE},0001-01-01 00:00,,,,,\n"  # row 5: too long, year 1
    )
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": hostile}})
    assert "errors" not in body, body
    assert [(e["row"], e["column"], e["reason"]) for e in body["data"]["importTickets"]["errors"]] == [
        (2, "opened_at", "bad_time"),
        (3, "rating", "bad_number"),
        (4, "escalations", "bad_number"),
        (5, "external_ref", "too_long"),
        (5, "opened_at", "bad_time"),
    ]
    # Text PostgreSQL cannot store is refused at the edge (api/guard.py), for the file as a whole.
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": HEADER + "HL-9\x00,x\n"}})
    assert [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]] == [("content", "nul")]


async def test_skip_bad_rows_imports_the_rest(county, gql):
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": BAD, "skipBadRows": True}})
    report = body["data"]["importTickets"]
    assert report["applied"] and report["skippedRows"] == 6 and len(report["errors"]) == 6
    assert sorted(await _tickets(county["tenant"])) == ["HL-001", "HL-002", "HL-003", "HL-004", "HL-005"]


async def test_importing_the_same_file_again_changes_nothing(county):
    first = await _import(county["tenant"], HISTORY)
    before = await _tickets(county["tenant"])
    again = await _import(county["tenant"], HISTORY)
    assert again.applied and again.created == {} and again.unchanged == {"ticket": 5}
    after = await _tickets(county["tenant"])
    assert {k: (t.id, t.updated_at) for k, t in after.items()} == {k: (t.id, t.updated_at) for k, t in before.items()}
    async with tenant_transaction(county["tenant"].id):
        assert await Escalation.all().count() == first.created["escalation"] == 3


async def test_no_reminders_for_past_deadlines_and_open_tickets_work_from_now(county):
    await _import(county["tenant"], HISTORY)
    tickets = await _tickets(county["tenant"])
    # HL-004 missed its deadlines in March; it climbed to the county rung, whose 72 h start again at the import.
    assert tickets["HL-004"].due_at == NOW + timedelta(hours=72)
    assert tickets["HL-004"].sla_due_at == datetime(2026, 3, 21, 1, 0, tzinfo=UTC)  # 09:00 Beijing, as it was
    assert tickets["HL-005"].due_at == NOW + timedelta(hours=3)  # review and dispatch: 3 h from now
    with tenant_context(county["tenant"].id):
        counts = await tick(now=NOW + timedelta(minutes=1))
        assert counts["due_soon"] == 0 and counts["escalated"] == 0
        async with tenant_transaction(county["tenant"].id):
            assert await Notification.all().count() == 0
            assert await Escalation.all().count() == 3
        later = await tick(now=NOW + timedelta(hours=72, minutes=1))
    assert later["escalated"] == 2  # HL-005 (3 h review) and HL-004 (72 h): from now on, like any ticket
    after = await _tickets(county["tenant"])
    assert after["HL-004"].escalations == 3 and after["HL-005"].escalations == 1


async def test_a_published_period_is_refused_by_row(county):
    from tenants.assessment.models import RatingSnapshot, SnapshotStatus

    async with tenant_transaction(county["tenant"].id):
        await RatingSnapshot.create(period_key="2026-03", status=SnapshotStatus.PUBLISHED, computed_at=NOW)
    text = HISTORY.splitlines()[0] + "\n" + HISTORY.splitlines()[1] + "\n" + (
        f"HL-099,corridor_clutter,{PLACE},2026-02-28 23:30,,,,,\n"  # 28 Feb in Beijing: allowed
    )
    report = await _import(county["tenant"], text)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [(2, "opened_at", "period_published")]
    assert not report.applied and await _tickets(county["tenant"]) == {}


async def test_second_tenant_sees_none_and_imports_its_own(county, gql):
    await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": HISTORY}})
    listed = await gql("{ tickets(first: 10) { edges { node { id } } } }", county["other_admin"])
    assert listed["data"]["tickets"]["edges"] == []
    # The same hotline numbers are 临沭's own tickets (in its taxonomy, cleaning_lapse): new tickets there.
    body = await gql(IMPORT, county["other_admin"], {"in": {"format": "CSV", "content": HISTORY.replace(
        "corridor_clutter", "cleaning_lapse")}})
    report = body["data"]["importTickets"]
    assert report["applied"] and {c["kind"]: c["count"] for c in report["created"]}["ticket"] == 5, body
    a, b = await _tickets(county["tenant"]), await _tickets(county["other"])
    assert sorted(a) == sorted(b) and not {t.id for t in a.values()} & {t.id for t in b.values()}
    assert {t.item_code for t in a.values()} == {"corridor_clutter"}
    denied = await gql(IMPORT, county["resident"], {"in": {"format": "CSV", "content": HISTORY}})
    assert codes(denied) == ["FORBIDDEN"]


ZH_HEADER = "工单编号,事项编码,街道编码,社区编码,网格编码,小区编码,渠道,受理时间,派单时间,办结时间," \
            "评价时间,满意度评分\n"


async def test_chinese_headers_and_xlsx(county, gql):
    zh = ZH_HEADER + f"12345-0001,corridor_clutter,{PLACE},12345热线,2026-03-02 09:00,2026-03-02 10:00," \
                     "2026-03-02 20:00,2026-03-02 21:00,5\n"
    report = await _import(county["tenant"], zh)
    assert report.applied and report.created == {"ticket": 1}
    book = Workbook()
    sheet = book.active
    sheet.append(ZH_HEADER.strip().split(","))
    sheet.append(["12345-0002", "corridor_clutter", "S1", "C1", "G1", "K1", "热线", datetime(2026, 3, 3, 9, 0),
                  datetime(2026, 3, 3, 10, 0), datetime(2026, 3, 5, 10, 30), None, None])
    buf = io.BytesIO()
    book.save(buf)
    content = base64.b64encode(buf.getvalue()).decode()
    body = await gql(IMPORT, county["admin"], {"in": {"format": "XLSX", "content": content}})
    report = body["data"]["importTickets"]
    assert report["applied"] and report["created"] == [{"kind": "ticket", "count": 1}], body
    tickets = await _tickets(county["tenant"])
    late = tickets["12345-0002"]
    # Dispatched 3 March 10:00 Beijing, resolved 5 March 10:30: 48.5 h against 24 h -> late.
    assert late.opened_at == datetime(2026, 3, 3, 1, 0, tzinfo=UTC) and late.resolved_on_time is False
    assert late.channel.value == "hotline" and tickets["12345-0001"].resolved_on_time is True


async def test_import_tickets_command(county, tmp_path: Path):
    good = tmp_path / "history.csv"
    good.write_text(HISTORY)
    dry = run_cli("import", "tickets", str(good), "--tenant", "zhangjiakou", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "dry run: nothing written" in dry.stdout and "工单 ticket 5" in dry.stdout
    assert await _tickets(county["tenant"]) == {}
    done = run_cli("import", "tickets", str(good), "--tenant", "zhangjiakou")
    assert done.returncode == 0 and "imported" in done.stdout
    assert len(await _tickets(county["tenant"])) == 5
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD)
    failed = run_cli("import", "tickets", str(bad), "--tenant", "zhangjiakou")
    assert failed.returncode == 1 and "row 7, item_code" in failed.stdout and "nothing imported" in failed.stdout
    unreadable = tmp_path / "other.csv"
    unreadable.write_text("工单编号,备注\nHL-1,x\n")
    refused = run_cli("import", "tickets", str(unreadable), "--tenant", "zhangjiakou")
    said = refused.stdout + refused.stderr
    assert refused.returncode == 1 and "unknown column 备注" in said
    assert "required column opened_at is missing" in said


# --- Review fixes ---------------------------------------------------------------------------------------------------

SHORT = "external_ref,item_code,street_code,community_code,grid_code,compound_code,opened_at,dispatched_at\n"


async def test_an_unknown_community_under_a_known_street_is_a_row_error(county, gql):
    text = SHORT + "X-1,corridor_clutter,S1,NOPE,G1,K1,2026-03-02 09:00,2026-03-02 10:00\n"
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": text}})
    assert "errors" not in body, body  # was INTERNAL_ERROR (KeyError 'community_id')
    report = body["data"]["importTickets"]
    assert [(e["row"], e["column"], e["reason"]) for e in report["errors"]] == [(2, "community_code", "unknown_place")]
    assert await _tickets(county["tenant"]) == {}


async def test_a_county_department_item_is_routed_to_the_unit_the_matrix_names(linshu_departments):
    c, ids = linshu_departments, linshu_departments["ids"]
    # 违章搭建 names 城管, 城市内涝 names 水务; 水务 was registered first, so "the first department by id" is wrong.
    text = SHORT + (
        "M-1,illegal_construction,S1,C1,G1,K1,2026-03-02 09:00,2026-03-02 10:00\n"
        "M-2,urban_waterlogging,S1,C1,G1,K1,2026-03-02 09:00,2026-03-02 10:00\n"
    )
    report = await _import(c["tenant"], text)
    assert report.errors == [] and report.applied
    tickets = await _tickets(c["tenant"])
    assert {ref: (t.assignee_kind.value, t.assignee_id) for ref, t in tickets.items()} == {
        "M-1": ("county_department", ids["urban"]),
        "M-2": ("county_department", ids["water"]),
    }


async def test_an_inactive_named_unit_is_a_row_error_never_another_default(linshu_departments):
    c = linshu_departments
    from tenants.territory.parties import Unit

    async with tenant_transaction(c["tenant"].id):
        await Unit.filter(id=c["ids"]["urban"]).update(is_active=False)
    text = SHORT + "M-3,illegal_construction,S1,C1,G1,K1,2026-03-02 09:00,2026-03-02 10:00\n"
    report = await _import(c["tenant"], text)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [(2, "unit", "inactive_unit")]
    assert "城管" in report.errors[0].message_zh and "城管" in report.errors[0].message_en
    assert await _tickets(c["tenant"]) == {}


async def test_the_second_tenants_departments_never_route_an_import(linshu_departments):
    # 张家口's 停水 names 水务, which only 临沭 has; 张家口's one department (环保) is not the default for a code.
    c = linshu_departments
    with tenant_context(c["other"].id):
        await build(c["other"].id)
    text = SHORT + "Z-1,water_outage,S1,C1,G1,K1,2026-03-02 09:00,2026-03-02 10:00\n"
    report = await _import(c["other"], text)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [(2, "unit", "unknown_unit")]


async def test_a_withdrawn_version_never_applies_to_imported_tickets(county):
    from tenants import clock
    from tenants.config import service as config

    with tenant_context(county["tenant"].id):
        today = await clock.today()  # tenant-local
        v = await config.change_config(access=SYSTEM, actor="admin",
                                       set_values={"reminders": {"ticket_deadline_lead_minutes": 47}},
                                       effective_from=today + timedelta(days=2), comment="试行")
        await config.withdraw_version(access=SYSTEM, actor="admin", version_no=v.version_no, reason="撤回")
        # Opened on the day the withdrawn version would have started; imported two days later.
        opened = (today + timedelta(days=3)).isoformat() + " 09:00"
        report = await import_tickets(access=SYSTEM,
                                      data=(SHORT + f"W-1,corridor_clutter,{PLACE},{opened},\n").encode(),
                                      fmt="csv", actor="admin", now=clock.now() + timedelta(days=5))
    assert report.errors == [], report.errors
    ticket = (await _tickets(county["tenant"]))["W-1"]
    assert ticket.config_version != v.version_no and ticket.rules["lead_minutes"] != 47


async def test_escalations_and_resolutions_in_a_published_period_are_refused_by_row_and_column(county):
    from tenants.assessment.models import RatingSnapshot, SnapshotStatus

    async with tenant_transaction(county["tenant"].id):
        await RatingSnapshot.create(period_key="2026-03", status=SnapshotStatus.PUBLISHED, computed_at=NOW)
    # corridor_clutter: 24 h to resolve from dispatch; the first escalation falls at that missed deadline.
    text = HEADER + (
        # row 2: all in February (escalated 11 Feb 10:00, resolved 12 Feb): allowed
        f"P-1,corridor_clutter,{PLACE},2026-02-10 09:00,2026-02-10 10:00,2026-02-12 09:00,,,1\n"
        # row 3: opened in February, resolved on 2 March
        f"P-2,corridor_clutter,{PLACE},2026-02-27 08:00,2026-02-27 09:00,2026-03-02 09:00,,,\n"
        # row 4: opened 28 February 08:00, still open; its escalation falls at 1 March 09:00 (24 h after dispatch)
        f"P-3,corridor_clutter,{PLACE},2026-02-28 08:00,2026-02-28 09:00,,,,1\n"
    )
    report = await _import(county["tenant"], text)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (3, "resolved_at", "period_published"),
        (4, "escalations", "period_published"),
    ]
    assert "2026-03" in report.errors[1].message_zh and not report.applied


async def test_a_csv_with_bare_carriage_returns_or_a_broken_quote_is_read_or_refused_never_a_fault(county, gql):
    # Found by bench/fuzz.py: a lone \r in an unquoted field was a csv.Error, masked as INTERNAL_ERROR.
    old_mac = HEADER.replace("\n", "\r") + "HL-1,corridor_clutter\r"  # lines ended by \r alone: read as lines
    body = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": old_mac, "dryRun": True}})
    assert "errors" not in body, body
    assert body["data"]["importTickets"]["rows"] == 1
    noise = await gql(IMPORT, county["admin"], {"in": {"format": "CSV", "content": "\ud7a5Í\rdC\x1b\u0011\rx"}})
    assert [e["extensions"]["code"] for e in noise["errors"]] == ["INVALID_INPUT"]
