"""Who may do what: the README's table is tenants/permissions.py's, and every permission refuses every role without
it — through the service that checks it, or, where the check follows a lookup or sits at the platform edge, through
``require`` with the node it is checked on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest

from tenants import permissions
from tenants.assessment import commendations, elimination, interviews, late, ratings, reports, rounds
from tenants.assessment.manager_models import EliminationOutcome, EliminationTarget
from tenants.audit import service as audit
from tenants.bonds import reads as bond_reads
from tenants.brand import reads as brand_reads
from tenants.brand import service as brand
from tenants.config import service as config
from tenants.dual import coverage as dual_coverage
from tenants.dual import lists as dual_lists
from tenants.dual import posts as dual_posts
from tenants.dual import registrations as dual_registrations
from tenants.dual import signups as dual_signups
from tenants.dual import talks as dual_talks
from tenants.dual import units as dual_units
from tenants.dual import wishes as dual_wishes
from tenants.dual import year_end as dual_year_end
from tenants.errors import Forbidden
from tenants.files import service as files
from tenants.files.models import Purpose
from tenants.inbox import webhooks
from tenants.jobruns import service as jobruns
from tenants.ledger import service as ledger
from tenants.meetings import compliance as meetings_compliance
from tenants.meetings import meetings as meetings_service
from tenants.paging import Window
from tenants.permissions import PERMISSIONS, TENANT_ROLES, allows, in_readme, require
from tenants.points import earning as points_earning
from tenants.points import grid_reads, grids, leaderboards, pay
from tenants.points import partners as points_partners
from tenants.points import reads as points_reads
from tenants.points import statements as points_statements
from tenants.points import vouchers as points_vouchers
from tenants.scope import tenant_transaction
from tenants.subsidies import service as subsidies
from tenants.tenancy.roles import Role
from tenants.territory import managers, parties_service, people_service
from tenants.territory import service as territory
from tenants.territory.access import Access
from tenants.territory.importer import import_territory
from tenants.territory.parties import UnitKind
from tenants.territory.people import PostKind
from tenants.tickets import catalog
from tenants.tickets import intake as tickets
from tenants.tickets.importer import import_tickets
from tests.conftest import ROOT

Entry = Callable[[Access], Awaitable[Any]]
A = "perm-test"

# Each permission checked first thing in a service: the call that reaches that check.
THROUGH_SERVICES: dict[str, Entry] = {
    "config.read": lambda a: config.read_effective_config(access=a),
    "config.change": lambda a: config.change_config(access=a, actor=A, set_values={}),
    "audit.read": lambda a: audit.list_entries(access=a, target_type=None, target_id=None, window=Window(limit=1)),
    "jobs.read": lambda a: jobruns.list_runs(access=a, kind=None, window=Window(limit=1)),
    "territory.import": lambda a: import_territory(access=a, data=b"", fmt="csv", actor=A),
    "territory.create_street": lambda a: territory.create_area(
        "street", access=a, actor=A, code="S9", name="新街道", parent_id=None
    ),
    "parties.write_company": lambda a: parties_service.create_company(access=a, actor=A, credit_code="X", name="x"),
    "parties.write_contract": lambda a: parties_service.create_contract(
        access=a, actor=A, company_id=1, compound_id=1, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
        annual_fee_fen=1,
    ),
    "parties.write_unit": lambda a: parties_service.create_unit(
        access=a, actor=A, kind=UnitKind.HOUSING_DEPT, code="X", name="x"
    ),
    "people.register": lambda a: people_service.create_person(access=a, actor=A, user_id="u-1", name="张三"),
    "people.assign_post": lambda a: people_service.assign_post(
        access=a, actor=A, person_id=1, kind=PostKind.GRID_WORKER, target_kind="grid", target_id=1
    ),
    "tickets.report": lambda a: tickets.report(access=a, actor=A, item_code="corridor_clutter", description="x"),
    "tickets.report_for_resident": lambda a: tickets.report(
        access=a, actor=A, item_code="corridor_clutter", description="x", on_behalf_of="res-1"
    ),
    "tickets.import": lambda a: import_tickets(access=a, data=b"", fmt="csv", actor=A),
    "tickets.read_catalog": lambda a: catalog.read_catalog(caller=a),
    "assessment.open_round": lambda a: rounds.open_round(access=a, actor=A, period_key="2026Q1"),
    "assessment.enter_late": lambda a: late.enter_late(access=a, actor=A, period_key="2026Q1", sheets=[], reason="x"),
    "assessment.record_finding": lambda a: rounds.record_finding(access=a, actor=A, compound_id=1, description="x"),
    "assessment.read_drafts": lambda a: reports.elimination_candidates(access=a, year=2026),
    "assessment.rate": lambda a: ratings.compute(access=a, period_key="2026Q1"),
    "assessment.record_interview": lambda a: interviews.record_interview(
        access=a, actor=A, company_id=1, period_key="2026Q1", held_on=date(2026, 3, 1), attendees=["x"], outcome="x"
    ),
    "assessment.read_interviews": lambda a: interviews.interviews(access=a, company_id=None, period_key=None),
    "ledger.read": lambda a: ledger.check(access=a),
    "subsidies.run": lambda a: subsidies.run(access=a, period_key="2026Q1", actor=A),
    "subsidies.approve": lambda a: subsidies.approve(access=a, statement_id=1, actor=A),
    "subsidies.pay": lambda a: subsidies.pay(access=a, statement_id=1, reference="X", actor=A),
    "brand.read": lambda a: brand_reads.list_projects(access=a, window=Window(limit=1)),
    "brand.read_totals": lambda a: brand_reads.year_summary(access=a, year=2026),
    "brand.declare": lambda a: brand.declare(
        access=a, actor=A, community_id=1, year=2027, title="t", aim="a", budget_requested_fen=1
    ),
    "brand.approve": lambda a: brand.approve(access=a, actor=A, project_id=1),
    "brand.reject": lambda a: brand.reject(access=a, actor=A, project_id=1, reason="x"),
    "inbox.webhooks": lambda a: webhooks.list_endpoints(access=a),
    "brand.evaluate": lambda a: brand.evaluate(access=a, actor=A, project_id=1, passed=True, note="x"),
    "brand.accept": lambda a: brand.accept(access=a, actor=A, project_id=1, passed=True),
    "brand.pay": lambda a: brand.pay(access=a, actor=A, project_id=1, payment_reference="X"),
    "bonds.read": lambda a: bond_reads.list_bonds(access=a, window=Window(limit=1)),
    "files.upload": lambda a: files.upload(caller=a, actor=A, data=b"", purpose=Purpose.TICKET),
    "files.read": lambda a: files.get_readable(a, 1),
    # issue 17 part A
    "points.award": lambda a: points_earning.award_manually(access=a, actor=A, person_id=1, rule_code="x", reason="x"),
    "points.reverse": lambda a: points_earning.reverse_manually(access=a, actor=A, entry_id=1, reason="x"),
    "points.read": lambda a: points_reads.balance(a, 1),
    "points.check": lambda a: points_reads.check(a),
    "points.export": lambda a: points_reads.grid_history(a, 1, Window(limit=1)),
    # issue 17 part D
    "grid_scores.read": lambda a: grid_reads.scores(a, month="2026-01", window=Window(limit=1)),
    "grid_scores.compute": lambda a: grids.compute_month(access=a, month="2026-01", actor=A),
    "pay_statements.read": lambda a: grid_reads.statements(a, month="2026-01", window=Window(limit=1)),
    "pay_statements.approve": lambda a: pay.approve(access=a, statement_id=1, actor=A),
    "pay_statements.pay": lambda a: pay.mark_paid(access=a, month="2026-01", reference="X", actor=A),
    "points.leaderboard": lambda a: leaderboards.leaderboard(access=a, kind=leaderboards.BoardKind.PERSON,
                                                             period="2026"),
    # issue 17 part B
    "vouchers.verify": lambda a: points_vouchers.verify(access=a, actor=A, code="X"),
    "points.fund": lambda a: points_vouchers.fund(access=a, actor=A, amount_fen=1),
    "partner.manage": lambda a: points_partners.create_partner(access=a, actor=A, code="x", name="x", kind="merchant"),
    "partner.read": lambda a: points_partners.list_partners(access=a),
    "partner_statements.read": lambda a: points_statements.list_statements(access=a, window=Window(limit=1)),
    "partner_statements.compute": lambda a: points_statements.compute(access=a, month="2026-01", actor=A),
    "partner_statements.approve": lambda a: points_statements.approve(access=a, statement_id=1, actor=A),
    "partner_statements.pay": lambda a: points_statements.pay(access=a, statement_id=1, reference="X", actor=A),
    # issue 18 part B: 双报到 work units, registrations, posts, coverage.
    "dual.unit.manage": lambda a: dual_units.create_work_unit(access=a, actor=A, kind="organ", code="x", name="x"),
    "dual.unit.register": lambda a: dual_units.register_work_unit(
        access=a, actor=A, work_unit_id=1, community_id=1, resources=[], agreement_from=date(2026, 1, 1)
    ),
    "dual.registration.approve": lambda a: dual_registrations.decide(
        access=a, actor=A, registration_id=1, action="approve"
    ),
    "dual.member.register": lambda a: dual_registrations.register_member(
        access=a, actor=A, community_id=1, details=dual_registrations.Details(party_org="x")
    ),
    "dual.post.manage": lambda a: dual_posts.end(access=a, actor=A, post_id=1, reason="x"),
    "dual.read": lambda a: dual_registrations.my_registrations(access=a),
    "dual.coverage.read": lambda a: dual_coverage.coverage(access=a),
    # issue 18 part C
    "dual.list.manage": lambda a: dual_lists.publish_item(access=a, actor=A, community_id=1, kind="need", title="t",
                                                          description="d"),
    "dual.list.claim": lambda a: dual_lists.claim_item(access=a, actor=A, item_id=1),
    "dual.wish.post": lambda a: dual_wishes.post_wish(access=a, actor=A, title="t", description="d"),
    "dual.wish.claim": lambda a: dual_wishes.claim_wish(access=a, actor=A, wish_id=1),
    "dual.wish.confirm": lambda a: dual_wishes.confirm_wish(access=a, actor=A, wish_id=1),
    # issue 18 part D
    "dual.activity.join": lambda a: dual_signups.join(access=a, actor=A, activity_id=1),
    # issue 18 part E
    "dual.talk.manage": lambda a: dual_talks.list_talks(access=a, window=Window(limit=1)),
    "dual.report.read": lambda a: dual_year_end.member_rows(access=a, year=2026),
    "dual.report.export": lambda a: dual_year_end.export_members(access=a, year=2026),
    # issue 19 part B
    "meetings.record": lambda a: meetings_service.record_meeting(
        access=a, actor=A, target_kind="community", target_id=1, held_on=date(2026, 11, 1), convenor="x",
        attendance=[], agenda=[]),
    "meetings.read": lambda a: meetings_compliance.list_flags(access=a, window=Window(limit=1)),
    "meetings.figures.read": lambda a: meetings_compliance.issues_settled(access=a, period_key="2026-11"),
    # issue 19 part C
    "assessment.read_commendations": lambda a: commendations.commendations(access=a, period_key=None, company_id=None),
    "assessment.commend": lambda a: commendations.set_plaque_day(
        access=a, actor=A, commendation_id=1, plaque_on=date(2026, 12, 1)
    ),
    # issue 19 part D
    "parties.write_manager": lambda a: managers.create_manager(access=a, actor=A, company_id=1, name="x"),
    "parties.read_managers": lambda a: managers.list_managers(access=a, window=Window(limit=1)),
    "assessment.decide_elimination": lambda a: elimination.decide(
        access=a, actor=A, year=2026, target=EliminationTarget.MANAGER, target_id=1,
        outcome=EliminationOutcome.KEPT, reason="x",
    ),
}

TICKET = SimpleNamespace(
    community_id=3, street_id=1, assignee_kind="property_company", assignee_id=5, reporter_user_id="res-1",
    entered_by="gw-1", unit_kind="property_company", unit_id=5,
)
# Checked after a lookup (the row must be the caller's to read first) or at the platform edge: the node each is
# checked on, with a role that holds the permission but not the node.
ON_A_NODE: dict[str, tuple[Any, Role]] = {
    "tenants.manage": (None, Role.PLATFORM_ADMIN),
    "files.attach_others": (None, Role.GRID_WORKER),
    "exports.download": (None, Role.HOUSING_DEPT),
    "subsidies.read_pools": (None, Role.STREET_OFFICER),
    "subsidies.read_statements": (None, Role.PROPERTY_COMPANY),
    "tickets.dispatch": (TICKET, Role.COMMUNITY_WORKER),
    "tickets.reject": (TICKET, Role.STREET_OFFICER),
    "tickets.escalate": (TICKET, Role.COMMUNITY_WORKER),
    "tickets.accept": (TICKET, Role.PROPERTY_COMPANY),
    "tickets.resolve": (TICKET, Role.PROPERTY_COMPANY),
    "tickets.transfer": (TICKET, Role.PROPERTY_COMPANY),
    "tickets.rate": (TICKET, Role.RESIDENT),
    "tickets.record_return_visit": (TICKET, Role.GRID_WORKER),
    "tickets.accept_partner_task": (TICKET, Role.UNIT_STAFF),
    "tickets.complete_partner_task": (TICKET, Role.PROPERTY_COMPANY),
    "assessment.score": (
        rounds.Sheet("party_org", SimpleNamespace(id=40, street_id=1, community_id=3, grid_id=7), []),
        Role.STREET_OFFICER,
    ),
    "assessment.resolve_finding": (None, Role.SUPERVISOR),
    "bonds.move": (("street", 1), Role.STREET_OFFICER),
    "bonds.refund_early": (None, Role.TENANT_ADMIN),
    # issue 17 part B: every tenant role holds these; the services narrow them to the caller's own rows.
    "points.catalogue": (None, Role.RESIDENT),
    "points.redeem": (None, Role.RESIDENT),
    "vouchers.read": (None, Role.RESIDENT),
    "vouchers.cancel": (None, Role.RESIDENT),
    # issue 18 part D: an activity's community and street
    "dual.activity.manage": ([("community", 3), ("street", 1)], Role.COMMUNITY_WORKER),
    # issue 18 part F: the community's street; a community worker on the community itself.
    "dual.emergency.manage": (("street", 1), Role.STREET_OFFICER),
    "dual.emergency.assign": ([("community", 3), ("street", 1)], Role.COMMUNITY_WORKER),
    # issue 19 part B: the meeting's community or street; completing, also the decision's owner.
    "meetings.decision.manage": ([("community", 3), ("street", 1)], Role.COMMUNITY_WORKER),
    "meetings.decision.complete": (SimpleNamespace(owner_kind="company", owner_id=5, community_id=3, street_id=1),
                                   Role.PROPERTY_COMPANY),
}


def test_the_readme_table_is_the_modules():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert in_readme(readme) == readme, "README.md's permissions are stale: run `civicgrid roles --write`"


def test_every_permission_is_walked_once():
    assert sorted(THROUGH_SERVICES.keys() | ON_A_NODE.keys()) == sorted(PERMISSIONS)
    assert not THROUGH_SERVICES.keys() & ON_A_NODE.keys()
    assert permissions.ADMINISTRATION == {Role.TENANT_ADMIN, Role.HOUSING_DEPT}


def _without(name: str) -> list[Role]:
    perm = PERMISSIONS[name]
    everyone = TENANT_ROLES if perm.roles != {Role.PLATFORM_ADMIN} else frozenset(Role)
    return sorted(everyone - perm.roles)


@pytest.mark.parametrize("name", sorted(THROUGH_SERVICES))
async def test_a_role_without_the_permission_is_refused_by_its_service(name, three_tenants):
    tenant = three_tenants[0]
    refused = []
    for role in _without(name):
        async with tenant_transaction(tenant.id):
            with pytest.raises(Forbidden) as caught:
                await THROUGH_SERVICES[name](Access(roles=frozenset({role}), user_id=f"u-{role.value}"))
        assert caught.value.code == "FORBIDDEN"
        refused.append(role)
    assert refused == _without(name)


@pytest.mark.parametrize("name", sorted(ON_A_NODE))
def test_a_role_without_the_permission_or_the_node_is_refused(name):
    node, holder = ON_A_NODE[name]
    for role in _without(name):
        with pytest.raises(Forbidden):
            require(Access(roles=frozenset({role})), name, node)
    assert allows(Access(roles=frozenset({holder})), name) and holder in PERMISSIONS[name].roles
    if PERMISSIONS[name].node is not None:  # the role alone is not enough: the node must be the caller's
        stranger = Access(roles=frozenset({holder}), user_id="someone-else")
        with pytest.raises(Forbidden):
            require(stranger, name, node)
        if holder != Role.RESIDENT and name != "assessment.score":
            assert allows(Access(roles=frozenset({Role.TENANT_ADMIN})), name, node)


def test_a_writer_post_on_the_node_lets_through():
    officer = Access(roles=frozenset({Role.STREET_OFFICER}), staff_nodes={"street": frozenset({1})})
    require(officer, "tickets.dispatch", TICKET)
    require(officer, "bonds.move", ("street", 1))
    with pytest.raises(Forbidden) as other:
        require(officer, "bonds.move", ("street", 2), field="contractId")
    assert other.value.field == "contractId"
    company = Access(roles=frozenset({Role.PROPERTY_COMPANY}), companies=frozenset({5}))
    require(company, "tickets.resolve", TICKET)
    resident = Access(roles=frozenset({Role.RESIDENT}), user_id="res-1")
    require(resident, "tickets.rate", TICKET)
    assessor = Access(roles=frozenset({Role.STREET_OFFICER}))
    grant = rounds.BodyGrant("party_org", "street", 1)
    require(assessor, "assessment.score", rounds.Sheet("party_org", ON_A_NODE["assessment.score"][0].compound, [grant]))


def test_refusals_name_the_roles_in_both_languages():
    with pytest.raises(Forbidden) as caught:
        require(Access(roles=frozenset({Role.RESIDENT})), "tenants.manage")
    assert "platform_admin" in caught.value.message_en and "platform_admin" in caught.value.message_zh


# Where api/ still asks tenants.permissions itself (everything else is checked by the services), and why.
EDGE_CHECKS = {
    "api/tenancy/schema.py": "the platform path: no tenant, no data scope",
    "api/exports.py": "the export routes (plain HTTP, not GraphQL)",
    "api/assessment/schema.py": "whether a reader sees draft ratings",
    "api/brand/schema.py": "whether a project shows its year's totals",
    "api/descriptions.py": "no check: the schema's descriptions name the roles of each field (roles_note)",
}
# api/ modules that may name roles: tokens, the CLI that mints them, the data scope, the `me` type.
NAMES_ROLES = {"api/auth.py", "api/cli.py", "api/context.py", "api/tenancy/types.py", "api/tenancy/schema.py"}


def test_resolvers_name_no_roles_and_leave_checks_to_the_services():
    import ast

    asking, naming = set(), set()
    for path in sorted((ROOT / "api").rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "tenants.permissions":
                asking.add(rel)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("Role", "R"):
                naming.add(rel)
            if isinstance(node, ast.Attribute) and node.attr == "require" and ast.unparse(node.value) == "info.context":
                naming.add(rel)
    assert asking <= EDGE_CHECKS.keys(), sorted(asking - EDGE_CHECKS.keys())
    assert naming <= NAMES_ROLES, sorted(naming - NAMES_ROLES)
