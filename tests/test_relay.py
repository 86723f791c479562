"""Relay global ids: every Node type refetched by ``node(id:)`` and ``nodes(ids:)``, inside the caller's tenant and
scope; ID arguments that take a global id or a database id, and refuse another kind's id."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from api.auth import mint_token
from api.rows import node_types
from tenants.assessment.models import Interview, ScoreSubmission, SupervisorFinding
from tenants.audit import service as audit
from tenants.bonds.models import BondKind, BondTopUp, BondTransaction
from tenants.brand.models import BrandProject
from tenants.dual.emergency_models import AssignedBy, Emergency, WorkGroupAssignment
from tenants.dual.list_models import DualClaim, DualItem, ItemKind, Wish
from tenants.dual.models import (
    Activity,
    MemberPost,
    MemberPostKind,
    MemberRegistration,
    Signup,
    SignupStatus,
    UnitRegistration,
)
from tenants.dual.rule_models import AbsenceCase, CaseKind
from tenants.files.models import Purpose, StoredFile
from tenants.inbox import service as inbox
from tenants.inbox.models import WebhookDelivery, WebhookEndpoint
from tenants.jobruns.models import JobRun
from tenants.meetings.models import Decision, Meeting
from tenants.points.grid_models import GridScore, PayStatement
from tenants.points.ledger import Source as PointsSource
from tenants.points.ledger import credit as points_credit
from tenants.points.voucher_models import PartnerStatement, Voucher
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.parties import (
    ContractManager,
    OwnersCommittee,
    Partner,
    PartnerKind,
    PropertyContract,
    PropertyManager,
    Unit,
    WorkUnit,
    WorkUnitKind,
)
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.territory.people import Person, Post, PostKind
from tenants.tickets.models import PartnerTask, UnitKind
from tests.fixtures.callers import bearer
from tests.fixtures.ids import db_id, gid
from tests.fixtures.money import APPROVE, settle
from tests.fixtures.tickets import report

pytestmark = pytest.mark.usefixtures("app")

AT = datetime(2026, 10, 2, 2, 0, tzinfo=UTC)
WHOLE = Access(roles=frozenset({Role.TENANT_ADMIN}), user_id="admin")
NODE = "query($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"


async def _one_of_each(gql, w) -> dict[str, int]:
    """A row of every Node type in 下花园区 (settlements and ratings from the world, the rest made here): database
    id by GraphQL type name."""
    statements = await settle(gql, w)
    assert "errors" not in await gql(APPROVE, w["admin"], {"id": statements["C1"]})
    ids = w["ids"]
    async with tenant_transaction(w["t"].id):
        ticket = await report(ids, "corridor_clutter", AT)
        await PartnerTask.create(
            ticket_id=ticket.id, unit_kind=UnitKind.PROPERTY_COMPANY, unit_id=ids["P1"], accept_due_at=AT,
            due_at=AT, created_at=AT,
        )
        await inbox.send(to=["admin"], kind="relay", title="t", text="x", ticket_id=ticket.id, at=AT)
        endpoint = await WebhookEndpoint.create(url="https://hooks.example.com/x", secret="s" * 32)
        await WebhookDelivery.create(endpoint_id=endpoint.id, event="relay", payload={}, next_attempt_at=AT)
        await JobRun.create(kind="relay", period_key="2026Q3")
        await audit.record(actor="admin", action="relay", target_type="ticket", target_id=ticket.id)
        contract = await PropertyContract.filter(compound_id=ids["K1"]).first()
        assert contract is not None
        await BondTopUp.create(
            contract_id=contract.id, company_id=contract.company_id, required_fen=100, shortfall_fen=100,
            opened_at=AT, due_on=date(2026, 10, 30),
        )
        await BondTransaction.create(
            contract_id=contract.id, company_id=contract.company_id, kind=BondKind.DEPOSIT, amount_fen=100,
            balance_after_fen=100, journal_id=1, actor="admin", at=AT,
        )
        await BrandProject.create(
            community_id=ids["C1"], year=2026, title="红色物业", aim="共治", budget_requested_fen=100,
            declared_by="cw", declared_at=AT, updated_at=AT,
        )
        await Interview.create(
            company_id=ids["P1"], period_key="2026Q3", held_on=date(2026, 10, 2), outcome="整改", recorded_by="admin",
            recorded_at=AT,
        )
        await SupervisorFinding.create(
            compound_id=ids["K1"], description="垃圾堆放", found_at=AT, resolve_by=AT, recorded_by="sup",
        )
        await OwnersCommittee.create(compound_id=ids["K1"], name="业委会")
        await Unit.create(kind=PartyUnitKind.COUNTY_DEPARTMENT, code="城管", name="城管局")
        person = await Person.create(user_id="p-relay", name="张三", household_id=ids["H1"])
        await points_credit(person_id=person.id, amount=5, key="relay", occurred_on=date(2026, 7, 1), expires_on=None,
                            source=PointsSource("manual", ref="relay"), author="admin")  # issue 17 part A
        await Post.create(person_id=person.id, kind=PostKind.GRID_WORKER, target_kind="grid", target_id=ids["G1"],
                          starts_on=date(2026, 1, 1))
        await StoredFile.create(
            key="k", thumbnail_key="t", content_type="image/png", thumbnail_type="image/png", size=1, width=1,
            height=1, sha256="0" * 64, purpose=Purpose.TICKET, uploaded_by="admin", uploaded_at=AT,
        )
        # issue 17 part D
        await GridScore.create(period_key="2026-09", grid_id=ids["G1"], community_id=ids["C1"], street_id=ids["S1"],
                               score=Decimal("80.00"), breakdown={"lines": []}, computed_at=AT, computed_by="admin")
        await PayStatement.create(
            period_key="2026-09", person_id=person.id, grid_id=ids["G1"], grid_score=Decimal("80.00"),
            band_min_score=80, band_percent=80, base_fen=100, base_part_fen=80, points_earned=0, points_rate_fen=0,
            points_part_fen=0, total_fen=80, rule={}, computed_at=AT, computed_by="admin",
        )
        # issue 17 part B: a partner, a voucher, a partner statement.
        partner = await Partner.create(kind=PartnerKind.CANTEEN, code="relay", name="长者食堂")
        await Voucher.create(
            code="RELAY2345678", person_id=person.id, redemption_code="meal", kind="canteen", title="餐",
            cost_points=1, value_fen=0, spend_entry_id=1, issued_at=AT, issued_on=date(2026, 10, 2), expires_at=AT,
            idempotency_key="relay",
        )
        await PartnerStatement.create(partner_id=partner.id, month="2026-09", voucher_count=0, total_fen=0,
                                      computed_at=AT, computed_by="admin")
        # issue 18 part B: a work unit, its and a member's registration, a member post.
        unit = await WorkUnit.create(kind=WorkUnitKind.ORGAN, code="relay", name="组织部")
        await UnitRegistration.create(work_unit_id=unit.id, community_id=ids["C1"], street_id=ids["S1"],
                                      agreement_from=date(2026, 1, 1), created_by="admin", created_at=AT)
        member = await MemberRegistration.create(person_id=person.id, community_id=ids["C1"], street_id=ids["S1"],
                                                 party_org="党支部", created_by="admin", created_at=AT)
        await MemberPost.create(registration_id=member.id, person_id=person.id, community_id=ids["C1"],
                                street_id=ids["S1"], kind=MemberPostKind.VOLUNTEER, role="文明劝导",
                                starts_on=date(2026, 1, 1), created_by="admin", created_at=AT)
        # issue 18 part C: a need, a claim on it, a micro-wish.
        item = await DualItem.create(community_id=ids["C1"], street_id=ids["S1"], kind=ItemKind.NEED, title="清理",
                                     description="楼道", created_by="admin", created_at=AT)
        await DualClaim.create(item_id=item.id, community_id=ids["C1"], street_id=ids["S1"], claimant="person:1",
                               person_id=person.id, claimed_by="admin", created_at=AT)
        await Wish.create(community_id=ids["C1"], street_id=ids["S1"], person_id=person.id, title="换灯泡",
                          description="楼道灯", posted_on=date(2026, 10, 2), created_by="admin", created_at=AT)
        # issue 18 part D: an activity and a sign-up.
        activity = await Activity.create(
            community_id=ids["C1"], street_id=ids["S1"], title="清洁", kind="cleanup", starts_at=AT,
            ends_at=AT + timedelta(hours=2), capacity=5, outside_working_hours=False, checkin_key="k" * 64,
            created_by="admin", created_at=AT,
        )
        await Signup.create(activity_id=activity.id, person_id=person.id, community_id=ids["C1"],
                            status=SignupStatus.SIGNED, starts_at=AT, created_at=AT, updated_at=AT)
        # issue 18 part E: a talk and a notice.
        for kind in (CaseKind.TALK, CaseKind.NOTICE):
            await AbsenceCase.create(
                kind=kind, person_id=person.id, registration_id=1, community_id=ids["C1"], street_id=ids["S1"],
                signup_id=1, activity_id=1, absent_at=AT, absences=2, opened_on=date(2026, 10, 2),
                due_on=date(2026, 10, 16), created_at=AT,
            )
        # issue 18 part F: an emergency and a work-group assignment.
        emergency = await Emergency.create(community_id=ids["C1"], street_id=ids["S1"], reason="演练", started_at=AT,
                                           started_by="admin")
        await WorkGroupAssignment.create(community_id=ids["C1"], emergency_id=emergency.id, person_id=person.id,
                                         group_code="command", how=AssignedBy.RULE, assigned_at=AT, assigned_by="admin")
        # issue 19 part B: a joint meeting and its decision.
        meeting = await Meeting.create(series_id=1, target_kind="community", target_id=ids["C1"],
                                       community_id=ids["C1"], street_id=ids["S1"], held_on=date(2026, 10, 2),
                                       convenor="书记", recorded_by="admin", recorded_at=AT)
        await Decision.create(meeting_id=meeting.id, community_id=ids["C1"], street_id=ids["S1"], owner_kind="company",
                              owner_id=ids["P1"], due_on=date(2026, 10, 30), description="修缮", created_by="admin",
                              created_at=AT)
        # issue 19 part D: a property manager named on a contract.
        on_file = await PropertyContract.all().order_by("id").first()
        assert on_file is not None
        manager = await PropertyManager.create(company_id=on_file.company_id, name="王经理")
        await ContractManager.create(contract_id=on_file.id, manager_id=manager.id, starts_on=on_file.starts_on,
                                     assigned_by="admin", assigned_at=AT)
        found = {}
        for name, kind in node_types().items():
            if name == "Tenant":
                found[name] = w["t"].id
                continue
            row = await kind.readable(WHOLE).order_by("id").first()  # type: ignore[attr-defined]
            assert row is not None, f"no {name} in the world"
            found[name] = row.id
    return found


async def test_node_refetches_every_node_type_and_nodes_keeps_the_order(rated_district, gql, settings):
    w = {**rated_district, "admin": bearer(settings, rated_district["t"], Role.TENANT_ADMIN, user_id="admin")}
    rows = await _one_of_each(gql, w)  # the admin's inbox has the one message
    assert len(rows) == len(node_types()) >= 30
    for name, pk in rows.items():
        body = await gql(NODE, w["admin"], {"id": gid(name, pk)})
        assert body["data"]["node"] == {"__typename": name, "id": gid(name, pk)}, (name, body)
        assert db_id(body["data"]["node"]["id"]) == pk
    wanted = [gid(n, pk) for n, pk in sorted(rows.items(), reverse=True)]
    body = await gql(NODES, w["admin"], {"ids": wanted})
    assert [n["id"] for n in body["data"]["nodes"]] == wanted
    # databaseId is the row's id on every Node.
    ticket = await gql("query($id: ID!) { node(id: $id) { ... on Ticket { databaseId state } } }", w["admin"],
                       {"id": gid("Ticket", rows["Ticket"])})
    assert ticket["data"]["node"] == {"databaseId": str(rows["Ticket"]), "state": "REPORTED"}

    # Another tenant's administrator gets null for every one of them; so does a resident for what is not theirs.
    other = await gql(NODES, w["other_admin"], {"ids": wanted})
    assert other["data"]["nodes"] == [None] * len(wanted)
    assert (await gql(NODE, w["other_admin"], {"id": gid("Ticket", rows["Ticket"])}))["data"]["node"] is None
    stranger = await gql(NODE, w["resident"], {"id": gid("SettlementStatement", rows["SettlementStatement"])})
    assert stranger["data"]["node"] is None and "errors" not in stranger


async def test_bad_global_ids_are_invalid_input_naming_the_argument(rated_district, gql, settings):
    w = rated_district
    for bad in ("12", "garbage", "VGlja2V0Og==", "Tm9TdWNoVHlwZTox", "VGlja2V0Oi0x", "x" * 500):
        body = await gql(NODE, w["admin"], {"id": bad})
        err = body["errors"][0]["extensions"]
        assert (err["code"], err["field"]) == ("INVALID_INPUT", "id"), (bad, body)
    body = await gql(NODES, w["admin"], {"ids": [gid("Ticket", 1), "nope"]})
    assert body["errors"][0]["extensions"]["field"] == "ids.1"
    too_many = [gid("Ticket", i) for i in range(1, settings.max_page_size + 2)]
    assert (await gql(NODES, w["admin"], {"ids": too_many}))["errors"][0]["extensions"]["field"] == "ids"


async def test_id_arguments_take_a_global_or_a_database_id_and_refuse_another_kind(rated_district, gql):
    w = rated_district
    ids = w["ids"]
    async with tenant_transaction(w["t"].id):
        ticket = await report(ids, "corridor_clutter", AT)
    one = "query($id: ID!) { ticket(id: $id) { id databaseId } }"
    by_global = await gql(one, w["admin"], {"id": gid("Ticket", ticket.id)})
    by_number = await gql(one, w["admin"], {"id": str(ticket.id)})
    assert by_global["data"] == by_number["data"] == {
        "ticket": {"id": gid("Ticket", ticket.id), "databaseId": str(ticket.id)}
    }
    wrong = await gql(one, w["admin"], {"id": gid("Person", ticket.id)})
    problem = wrong["errors"][0]["extensions"]
    reason = problem["problems"][0]["reason"]
    assert (problem["code"], problem["field"], reason) == ("INVALID_INPUT", "id", "wrong_kind")
    # A named argument knows its kind: a compound's id, not a grid's.
    contracts = "query($c: ID) { propertyContracts(compoundId: $c) { edges { node { compound { id } } } } }"
    good = await gql(contracts, w["admin"], {"c": gid("Compound", ids["K1"])})
    compounds = {e["node"]["compound"]["id"] for e in good["data"]["propertyContracts"]["edges"]}
    assert compounds == {gid("Compound", ids["K1"])}
    bad = await gql(contracts, w["admin"], {"c": gid("Grid", ids["G1"])})
    assert bad["errors"][0]["extensions"]["field"] == "compoundId"


async def test_a_ticket_unit_names_the_node_it_points_at(rated_district, gql, settings):
    w = rated_district
    ids = w["ids"]
    async with tenant_transaction(w["t"].id):
        ticket = await report(ids, "corridor_clutter", AT)
    dispatch = (
        "mutation($id: ID!, $u: TicketUnitInput) { dispatchTicket(id: $id, unit: $u) "
        "{ assignee { kind id databaseId name } } }"
    )
    wrong = await gql(dispatch, w["admin"], {"id": str(ticket.id), "u": {"kind": "PROPERTY_COMPANY",
                                                                         "id": gid("Unit", ids["P1"])}})
    assert wrong["errors"][0]["extensions"]["field"] == "unit.id"
    body = await gql(dispatch, w["admin"], {"id": gid("Ticket", ticket.id),
                                            "u": {"kind": "PROPERTY_COMPANY", "id": gid("PropertyCompany", ids["P1"])}})
    unit = body["data"]["dispatchTicket"]["assignee"]
    assert unit == {"kind": "PROPERTY_COMPANY", "id": gid("PropertyCompany", ids["P1"]),
                    "databaseId": str(ids["P1"]), "name": unit["name"]}
    refetched = await gql("query($id: ID!) { node(id: $id) { ... on PropertyCompany { name } } }", w["admin"],
                          {"id": unit["id"]})
    assert refetched["data"]["node"] == {"name": unit["name"]} and unit["name"]


async def test_an_area_argument_takes_its_own_levels_id_only(rated_district, gql):
    """A street's global id where a compound's is meant is refused; it never reaches the compound with that number."""
    w = rated_district
    ids = w["ids"]
    rename = "mutation($i: UpdateAreaInput!) { updateArea(input: $i) { id name } }"
    wrong = await gql(rename, w["admin"], {"i": {"level": "COMPOUND", "id": gid("Street", ids["K1"]), "name": "X"}})
    assert (wrong["errors"][0]["extensions"]["field"], wrong["errors"][0]["extensions"]["problems"][0]["reason"]) == (
        "id", "wrong_kind")
    move = "mutation($i: MoveAreaInput!) { moveArea(input: $i) { id } }"
    wrong = await gql(move, w["admin"], {"i": {"level": "COMPOUND", "id": gid("Compound", ids["K1"]),
                                              "newParentId": gid("Street", ids["G1"])}})
    assert wrong["errors"][0]["extensions"]["field"] == "newParentId"
    listed = await gql("query($p: ID) { areas(level: COMPOUND, parentId: $p) { nodes { id } } }", w["admin"],
                       {"p": gid("Street", ids["G1"])})
    assert listed["errors"][0]["extensions"]["field"] == "parentId"
    right = await gql(rename, w["admin"], {"i": {"level": "COMPOUND", "id": gid("Compound", ids["K1"]), "name": "X"}})
    assert right["data"]["updateArea"] == {"id": gid("Compound", ids["K1"]), "name": "X"}


async def test_refetch_follows_the_lists_rules_and_the_platform_path_reads_no_tenant_rows(rated_district, gql,
                                                                                          settings):
    """A score sheet is refetched by whoever its list shows it to (the bodies they score for), not by everyone who
    reads the compound; the platform administrator, who reads no tenant's rows, gets null, not an error."""
    w = rated_district
    async with tenant_transaction(w["t"].id):
        sheets = [s.id async for s in ScoreSubmission.all().order_by("id")]  # type: ignore[attr-defined]
    assert sheets
    query = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    wanted = [gid("ScoreSubmission", s) for s in sheets]
    assert [n["id"] for n in (await gql(query, w["admin"], {"ids": wanted}))["data"]["nodes"]] == wanted
    for outsider in ("company_p1", "resident"):
        listed = await gql('query($k: ID!) { scoreSubmissions(period: "2026Q3", compoundId: $k) { id } }',
                           w[outsider], {"k": str(w["ids"]["K1"])})
        assert listed["data"]["scoreSubmissions"] == []
        assert (await gql(query, w[outsider], {"ids": wanted}))["data"]["nodes"] == [None] * len(wanted)
    platform = mint_token(settings, roles=[Role.PLATFORM_ADMIN], tenant_slug=None)
    body = await gql(query, platform, {"ids": [wanted[0], gid("Tenant", w["t"].id)]})
    assert "errors" not in body and body["data"]["nodes"] == [None, {"id": gid("Tenant", w["t"].id)}]
