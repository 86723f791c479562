"""Brand projects 品牌项目 under the 张家口 preset: the lifecycle through GraphQL with exact fen, roles and scope,
the times of year, the yearly cap (5,280,000 CNY in the preset; a small one by a configuration override), and
another tenant."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tenants.audit.models import AuditEntry
from tenants.brand import reads
from tenants.brand import service as brand
from tenants.brand.models import BrandProject, BrandProjectStep, ProjectStatus
from tenants.config.service import change_config
from tenants.errors import DomainError
from tenants.inbox.models import Notification
from tenants.ledger import accounts
from tenants.ledger.models import LedgerJournal
from tenants.ledger.service import balances, verify
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.access import SYSTEM, resolve
from tenants.territory.people import PostKind
from tests.conftest import codes
from tests.fixtures.callers import bearer, tokens
from tests.fixtures.ids import gid
from tests.fixtures.territory import build, staff

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = datetime.now(ZONE).date()
# A year whose mid-year evaluation (1 June) and acceptance (1 December) are behind us whenever the tests run;
# its declaration window (1 Oct of the year before to 31 Mar) is closed, so its projects are declared at the
# service level with a frozen clock.
PAST = TODAY.year - 1
# A year that has not started: a configuration version from its 1 January can still be recorded.
NEXT = TODAY.year + 1

PROJECT = """id status year budgetRequestedFen amountAwardedFen paymentReference community { code name }"""
SUMMARY = """capFen funded awardedFen paidFen payableFen remainingCapFen runningBudgetFen uncommittedCapFen"""
APPROVE = f"mutation($id: ID!, $note: String!) {{ approveBrandProject(id: $id, note: $note) {{ {PROJECT}"
APPROVE += f" yearSummary {{ {SUMMARY} }} }} }}"
REJECT = "mutation($id: ID!, $r: String!) { rejectBrandProject(id: $id, reason: $r) { status } }"
EVALUATE = "mutation($id: ID!, $ok: Boolean!, $note: String!) { evaluateBrandProject(id: $id, passed: $ok, note: $note)"
EVALUATE += " { status } }"
ACCEPT = """mutation($id: ID!, $ok: Boolean!, $fen: Fen, $note: String! = "") { acceptBrandProject(id: $id,
  passed: $ok, amountAwardedFen: $fen, note: $note) { status amountAwardedFen } }"""
PAY = """mutation($id: ID!, $ref: String!) { payBrandProject(id: $id, paymentReference: $ref) { status
  paymentReference } }"""
DECLARE = """mutation($in: DeclareBrandProjectInput!) { declareBrandProject(input: $in) { id } }"""
LIST = """query($f: BrandProjectFilter) { brandProjects(filter: $f, first: 50) { edges { node { id status
  community { code } } } } }"""
ONE = """query($id: ID!) { brandProject(id: $id) { status steps { step actor amountFen passed note reference } } }"""
YEAR = f"query($y: Int!) {{ brandYearSummary(year: $y) {{ {SUMMARY} projectCounts {{ status count }} }} }}"


def local(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZONE)


@pytest.fixture
async def zjk(app, settings, once):
    return await once(_zjk, settings)


async def _zjk(settings):
    t = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    ids = await build(t.id)
    with tenant_context(t.id):  # C1's community worker holds a post there, so the inbox reaches them
        await staff("c1-worker", PostKind.COMMUNITY_WORKER, "community", ids["C1"], since=date(2020, 1, 1),
                    name="社区干部")

    return {
        "t": t,
        "other": other,
        "ids": ids,
        **tokens(
            settings, t, ids,
            admin="county-admin", housing_dept=None, street_officer_s1="s1-officer", street_officer_s2=None,
            community_worker_c1="c1-worker", community_worker_c2=None, grid_worker=None, resident=None,
        ),
        "other_admin": bearer(settings, other, Role.TENANT_ADMIN),
    }


async def step(tenant_id: int, fn, role: Role, *scope: str, **kw):
    """A service call as a caller with ``role`` on ``scope``, in its own transaction (rolled back on error)."""
    async with tenant_transaction(tenant_id):
        access = await resolve(frozenset({role}), scope, f"user-{role.value}")
        return await fn(access=access, actor=f"user-{role.value}", **kw)


async def declare(d, community: str, year: int, budget: int, *, when: datetime | None = None, title: str = "红色物业"):
    return await step(
        d["t"].id,
        brand.declare,
        Role.COMMUNITY_WORKER,
        f"community:{d['ids'][community]}",
        community_id=d["ids"][community],
        year=year,
        title=title,
        aim="党建引领，楼院共治",
        budget_requested_fen=budget,
        now=when or local(year - 1, 12, 1),
    )


async def to_evaluated(d, community: str, year: int, budget: int) -> BrandProject:
    """Declared, approved and evaluated (by the community's street) at frozen dates of ``year``."""
    p = await declare(d, community, year, budget)
    tid, street = d["t"].id, "S2" if community == "C3" else "S1"
    await step(tid, brand.approve, Role.TENANT_ADMIN, project_id=p.id, now=local(year, 1, 10))
    await step(
        tid,
        brand.evaluate,
        Role.STREET_OFFICER,
        f"street:{d['ids'][street]}",
        project_id=p.id,
        passed=True,
        note="进度正常",
        now=local(year, 6, 15),
    )
    return p


async def refused(coro) -> DomainError:
    with pytest.raises(DomainError) as err:
        await coro
    return err.value


def where(body: dict) -> tuple[str, str | None]:
    ext = error(body)
    return ext["code"], ext["field"]


def error(body: dict) -> dict:
    assert body.get("data") is None or all(v is None for v in body["data"].values()), body
    return body["errors"][0]["extensions"]


async def test_the_whole_lifecycle_through_graphql_with_exact_fen(zjk, gql):
    d = zjk
    p = await declare(d, "C1", PAST, 12_000_000)  # 120,000 CNY asked
    pid = str(p.id)

    seen = await gql(LIST, d["community_worker_c1"], {"f": {"year": PAST}})
    assert seen["data"]["brandProjects"]["edges"] == [
        {"node": {"id": gid("BrandProject", p.id), "status": "DECLARED", "community": {"code": "C1"}}}
    ]

    body = await gql(APPROVE, d["admin"], {"id": pid, "note": "同意立项"})
    approved = body["data"]["approveBrandProject"]
    assert approved["status"] == "APPROVED" and approved["community"] == {"code": "C1", "name": "C1名"}
    # Nothing awarded yet: the whole 5,280,000 CNY cap remains; this budget now claims 120,000 CNY of it.
    assert approved["yearSummary"] == {
        "capFen": 528_000_000,
        "funded": False,
        "awardedFen": 0,
        "paidFen": 0,
        "payableFen": 0,
        "remainingCapFen": 528_000_000,
        "runningBudgetFen": 12_000_000,
        "uncommittedCapFen": 516_000_000,
    }

    body = await gql(EVALUATE, d["street_officer_s1"], {"id": pid, "ok": True, "note": "楼院议事会已建立，进度正常"})
    assert body["data"]["evaluateBrandProject"]["status"] == "EVALUATED"

    body = await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 9_960_000, "note": "验收合格"})
    assert body["data"]["acceptBrandProject"] == {"status": "ACCEPTED", "amountAwardedFen": 9_960_000}
    body = await gql(YEAR, d["housing_dept"], {"y": PAST})
    assert body["data"]["brandYearSummary"] == {
        "capFen": 528_000_000,
        "funded": True,
        "awardedFen": 9_960_000,
        "paidFen": 0,
        "payableFen": 9_960_000,
        "remainingCapFen": 518_040_000,  # 528,000,000 - 9,960,000
        "runningBudgetFen": 0,
        "uncommittedCapFen": 518_040_000,
        "projectCounts": [{"status": "ACCEPTED", "count": 1}],
    }

    body = await gql(PAY, d["admin"], {"id": pid, "ref": "ZF-2026-0815"})
    assert body["data"]["payBrandProject"] == {"status": "PAID", "paymentReference": "ZF-2026-0815"}
    summary = (await gql(YEAR, d["admin"], {"y": PAST}))["data"]["brandYearSummary"]
    assert (summary["awardedFen"], summary["paidFen"], summary["payableFen"]) == (9_960_000, 9_960_000, 0)
    assert summary["remainingCapFen"] == 518_040_000

    steps = (await gql(ONE, d["community_worker_c1"], {"id": pid}))["data"]["brandProject"]
    assert steps["status"] == "PAID"
    assert [(s["step"], s["actor"], s["amountFen"], s["passed"], s["reference"]) for s in steps["steps"]] == [
        ("declare", "user-community_worker", 12_000_000, None, None),
        ("approve", "county-admin", 12_000_000, None, None),
        ("evaluate", "s1-officer", None, True, None),
        ("accept", "county-admin", 9_960_000, True, None),
        ("pay", "county-admin", 9_960_000, None, "ZF-2026-0815"),
    ]
    c1 = d["ids"]["C1"]
    async with tenant_transaction(d["t"].id):
        held = await balances(
            [
                accounts.brand_fund(PAST),
                accounts.brand_cap(PAST),
                accounts.brand_payable(c1),
                accounts.brand_paid(c1),
            ]
        )
        assert list(held.values()) == [-528_000_000, 518_040_000, 0, 9_960_000]
        assert await verify() == []
        keys = await LedgerJournal.all().order_by("id").values_list("idempotency_key", flat=True)
        assert keys == [f"brand_cap:{PAST}", f"brand:{pid}:award", f"brand:{pid}:pay"]
        actions = await AuditEntry.filter(target_type="brand_project").order_by("id").values_list("action", flat=True)
        assert actions == ["brand.declare", "brand.approve", "brand.evaluate", "brand.accept", "brand.pay"]
        inbox = await Notification.filter(recipient="c1-worker").order_by("id").values_list("title", "body")
        assert inbox == [
            ("品牌项目已批准", "您社区申报的品牌项目“红色物业”已获批准，请按计划实施。"),
            ("品牌项目验收通过", "品牌项目“红色物业”年终验收通过，奖补 99,600.00 元。"),
            ("品牌项目奖补已拨付", "品牌项目“红色物业”奖补 99,600.00 元已拨付，凭证号 ZF-2026-0815。"),
        ]


async def test_each_step_by_the_wrong_role_or_outside_its_scope_is_refused(zjk, gql):
    d = zjk
    p = await declare(d, "C1", PAST, 5_000_000)
    c3 = await declare(d, "C3", PAST, 3_000_000)
    pid = str(p.id)
    for token in ("community_worker_c1", "street_officer_s1", "housing_dept"):
        assert codes(await gql(APPROVE, d[token], {"id": pid, "note": ""})) == ["FORBIDDEN"], token
    assert codes(await gql(REJECT, d["community_worker_c1"], {"id": pid, "r": "不行"})) == ["FORBIDDEN"]
    await gql(APPROVE, d["admin"], {"id": pid, "note": ""})
    for token in ("community_worker_c1", "housing_dept"):
        assert codes(await gql(EVALUATE, d[token], {"id": pid, "ok": True, "note": "x"})) == ["FORBIDDEN"], token
    # Street S2 does not see, let alone evaluate, a project of S1's community C1.
    assert where(await gql(EVALUATE, d["street_officer_s2"],
                           {"id": pid, "ok": True, "note": "x"})) == ("NOT_FOUND", "id")
    await gql(EVALUATE, d["street_officer_s1"], {"id": pid, "ok": True, "note": "进度正常"})
    for token in ("street_officer_s1", "community_worker_c1", "housing_dept"):
        assert codes(await gql(ACCEPT, d[token], {"id": pid, "ok": True, "fen": 1})) == ["FORBIDDEN"], token
    await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 4_000_000})
    for token in ("street_officer_s1", "community_worker_c1"):
        assert codes(await gql(PAY, d[token], {"id": pid, "ref": "X"})) == ["FORBIDDEN"], token

    # Declaring: a community worker for their own community only; streets and others not at all.
    entry = {"communityId": str(d["ids"]["C1"]), "year": NEXT, "title": "t", "aim": "a", "budgetRequestedFen": 1}
    for token in ("street_officer_s1", "housing_dept", "resident", "grid_worker"):
        assert codes(await gql(DECLARE, d[token], {"in": entry})) == ["FORBIDDEN"], token
    assert where(await gql(DECLARE, d["community_worker_c2"], {"in": entry})) == ("NOT_FOUND", "communityId")

    # Reading: each sees their own area's projects; others are refused.
    def ids_of(body):
        return sorted(e["node"]["community"]["code"] for e in body["data"]["brandProjects"]["edges"])

    assert ids_of(await gql(LIST, d["admin"])) == ["C1", "C3"]
    listed = await gql("{ brandProjects { edges { node { community { code } steps { step } } } } }", d["admin"])
    assert [
        (e["node"]["community"]["code"], [s["step"] for s in e["node"]["steps"]])
        for e in listed["data"]["brandProjects"]["edges"]
    ] == [("C1", ["declare", "approve", "evaluate", "accept"]), ("C3", ["declare"])]
    assert ids_of(await gql(LIST, d["housing_dept"])) == ["C1", "C3"]
    assert ids_of(await gql(LIST, d["street_officer_s1"])) == ["C1"]
    assert ids_of(await gql(LIST, d["street_officer_s2"])) == ["C3"]
    assert ids_of(await gql(LIST, d["community_worker_c2"])) == []
    assert ids_of(await gql(LIST, d["admin"], {"f": {"status": "ACCEPTED"}})) == ["C1"]
    assert ids_of(await gql(LIST, d["admin"], {"f": {"communityId": str(d["ids"]["C3"])}})) == ["C3"]
    assert ids_of(await gql(LIST, d["admin"], {"f": {"year": NEXT}})) == []
    assert codes(await gql(ONE, d["community_worker_c2"], {"id": pid})) == ["NOT_FOUND"]
    assert codes(await gql(ONE, d["street_officer_s1"], {"id": str(c3.id)})) == ["NOT_FOUND"]
    for token in ("resident", "grid_worker"):
        assert codes(await gql(LIST, d[token])) == ["FORBIDDEN"], token
    for token in ("community_worker_c1", "street_officer_s1"):
        assert codes(await gql(YEAR, d[token], {"y": PAST})) == ["FORBIDDEN"], token
    # A project read by its community shows no tenant totals.
    body = await gql("query($id: ID!) { brandProject(id: $id) { yearSummary { capFen } } }",
                     d["community_worker_c1"], {"id": pid})
    assert body["data"]["brandProject"]["yearSummary"] is None
    async with tenant_transaction(d["t"].id):
        assert await BrandProjectStep.filter(project_id=p.id).count() == 4  # declare, approve, evaluate, accept


async def test_bad_input_and_illegal_transitions_save_nothing(zjk, gql):
    d = zjk
    tid = d["t"].id
    err = await refused(declare(d, "C1", NEXT, 20_000_001, title=" "))
    assert err.code == "INVALID_INPUT"
    assert [(p.field, p.reason) for p in err.problems] == [
        ("title", "required"),
        ("budgetRequestedFen", "above_cap"),  # the per-project cap is 200,000 CNY
    ]
    assert "20000000" in err.problems[1].message_en
    err = await refused(declare(d, "C1", NEXT, 0))
    assert (err.field, err.problems[0].reason) == ("budgetRequestedFen", "not_positive")
    # Every problem at once, the year among them (at a time when only the input is wrong).
    err = await refused(declare(d, "C1", 1999, 20_000_001, title=" ", when=local(NEXT - 1, 12, 1)))
    assert (err.code, err.field) == ("INVALID_INPUT", "year")
    assert [(p.field, p.reason) for p in err.problems] == [
        ("year", "out_of_range"),
        ("title", "required"),
        ("budgetRequestedFen", "above_cap"),
    ]
    # Declarations for PAST closed on 31 March of PAST.
    entry = {"communityId": str(d["ids"]["C1"]), "year": PAST, "title": "t", "aim": "a", "budgetRequestedFen": 100}
    ext = error(await gql(DECLARE, d["community_worker_c1"], {"in": entry}))
    assert (ext["code"], ext["field"]) == ("DECLARATION_CLOSED", "year")
    assert ext["details"] == {"opensOn": f"{PAST - 1}-10-01", "closesOn": f"{PAST}-03-31"}
    async with tenant_transaction(tid):
        assert await BrandProject.all().count() == 0

    p = await declare(d, "C1", PAST, 12_000_000)
    pid = str(p.id)
    ext = error(await gql(PAY, d["admin"], {"id": pid, "ref": "X"}))
    assert (ext["code"], ext["field"]) == ("ILLEGAL_TRANSITION", "status")
    assert "已申报待审批" in ext["messageZh"] and "declared" in ext["messageEn"]
    assert codes(await gql(REJECT, d["admin"], {"id": pid, "r": "  "})) == ["INVALID_INPUT"]
    await gql(APPROVE, d["admin"], {"id": pid, "note": ""})
    ext = error(await gql(APPROVE, d["admin"], {"id": pid, "note": ""}))
    assert ext["code"] == "ILLEGAL_TRANSITION" and "已批准实施中" in ext["messageZh"]
    assert codes(await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 1})) == ["ILLEGAL_TRANSITION"]
    assert error(await gql(EVALUATE, d["street_officer_s1"], {"id": pid, "ok": False, "note": ""}))["field"] == "note"
    await gql(EVALUATE, d["street_officer_s1"], {"id": pid, "ok": False, "note": "进度滞后，需加快"})

    # More than the budget, no amount, or a failure without a reason: refused, nothing posted.
    ext = error(await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 12_000_001}))
    assert (ext["code"], ext["field"], ext["problems"][0]["reason"]) == (
        "INVALID_INPUT",
        "amountAwardedFen",
        "above_budget",
    )
    assert error(await gql(ACCEPT, d["admin"], {"id": pid, "ok": True}))["field"] == "amountAwardedFen"
    assert error(await gql(ACCEPT, d["admin"], {"id": pid, "ok": False}))["field"] == "note"
    async with tenant_transaction(tid):
        assert (await BrandProject.get(id=p.id)).status == ProjectStatus.EVALUATED
        assert await BrandProjectStep.filter(project_id=p.id).count() == 3
        assert await LedgerJournal.all().count() == 0

    body = await gql(ACCEPT, d["admin"], {"id": pid, "ok": False, "note": "未达到立项目标"})
    assert body["data"]["acceptBrandProject"] == {"status": "FAILED", "amountAwardedFen": None}
    assert codes(await gql(PAY, d["admin"], {"id": pid, "ref": "X"})) == ["ILLEGAL_TRANSITION"]
    q = await gql(ONE, d["admin"], {"id": pid})
    assert [(s["step"], s["passed"], s["note"]) for s in q["data"]["brandProject"]["steps"]][-2:] == [
        ("evaluate", False, "进度滞后，需加快"),
        ("fail", False, "未达到立项目标"),
    ]
    r = await declare(d, "C2", PAST, 1_000_000)
    assert (await gql(REJECT, d["admin"], {"id": str(r.id), "r": "与往年重复"}))["data"]["rejectBrandProject"] == {
        "status": "REJECTED"
    }
    assert codes(await gql(APPROVE, d["admin"], {"id": str(r.id), "note": ""})) == ["ILLEGAL_TRANSITION"]
    async with tenant_transaction(tid):
        assert await LedgerJournal.all().count() == 0  # a failed or rejected project moves no money
        assert await verify() == []


async def test_each_step_keeps_its_time_of_year_in_the_tenants_zone(zjk):
    d = zjk
    tid, y = d["t"].id, NEXT
    err = await refused(declare(d, "C1", y, 100, when=local(y - 1, 9, 30, 23, 59)))
    assert (err.code, err.field) == ("DECLARATION_CLOSED", "year")
    await declare(d, "C1", y, 100, when=local(y - 1, 10, 1, 0, 1))
    p = await declare(d, "C1", y, 100, when=local(y, 3, 31, 23, 59))
    # 00:30 on 1 April in 张家口 is still 31 March in UTC: closed all the same.
    err = await refused(declare(d, "C1", y, 100, when=local(y, 4, 1, 0, 30)))
    assert err.code == "DECLARATION_CLOSED"
    await step(tid, brand.approve, Role.TENANT_ADMIN, project_id=p.id, now=local(y, 4, 2))
    evaluate = dict(project_id=p.id, passed=True, note="ok")
    err = await refused(step(tid, brand.evaluate, Role.TENANT_ADMIN, **evaluate, now=local(y, 5, 31, 23, 59)))
    assert (err.code, err.field) == ("EVALUATION_NOT_OPEN", "year")
    await step(tid, brand.evaluate, Role.TENANT_ADMIN, **evaluate, now=local(y, 6, 1, 0, 1))
    accept = dict(project_id=p.id, passed=True, amount_awarded_fen=100)
    err = await refused(step(tid, brand.accept, Role.TENANT_ADMIN, **accept, now=local(y, 11, 30, 23, 59)))
    assert (err.code, err.field) == ("ACCEPTANCE_NOT_OPEN", "year")
    done = await step(tid, brand.accept, Role.TENANT_ADMIN, **accept, now=local(y, 12, 1, 0, 1))
    assert done.status == ProjectStatus.ACCEPTED

    # 临沭 runs no brand projects.
    other_ids = await build(d["other"].id)
    err = await refused(
        step(
            d["other"].id,
            brand.declare,
            Role.TENANT_ADMIN,
            community_id=other_ids["C1"],
            year=y,
            title="t",
            aim="a",
            budget_requested_fen=100,
            now=local(y - 1, 11, 1),
        )
    )
    assert err.code == "NOT_ENABLED"


async def test_awards_stay_within_the_years_cap(zjk):
    d = zjk
    tid, y = d["t"].id, NEXT
    async with tenant_transaction(tid):  # a 300,000 CNY cap from 1 January of NEXT
        await change_config(
            access=SYSTEM,
            actor="county-admin",
            set_values={"subsidies": {"brand_projects": {"yearly_cap_fen": 30_000_000}}},
            effective_from=date(y, 1, 1),
        )
    a = await to_evaluated(d, "C1", y, 20_000_000)
    b = await to_evaluated(d, "C2", y, 15_000_000)
    c = await to_evaluated(d, "C3", y, 10_000_000)
    async with tenant_transaction(tid):
        before = await reads.standing(y)
    # Approvals may claim more than the cap (45,000,000 against 30,000,000): the cap binds awards.
    assert (before.cap_fen, before.running_budget_fen, before.uncommitted_cap_fen) == (
        30_000_000,
        45_000_000,
        -15_000_000,
    )
    when = local(y, 12, 5)

    def award(p, fen):
        return step(
            tid, brand.accept, Role.TENANT_ADMIN, project_id=p.id, passed=True, amount_awarded_fen=fen, now=when
        )

    await award(a, 20_000_000)
    err = await refused(award(b, 15_000_000))
    assert (err.code, err.field, err.details["remainingFen"]) == ("BRAND_CAP_EXCEEDED", "amountAwardedFen", 10_000_000)
    assert "10000000" in err.message_zh and "10000000" in err.message_en and "100,000.00" in err.message_en
    async with tenant_transaction(tid):  # nothing half-saved
        assert (await BrandProject.get(id=b.id)).status == ProjectStatus.EVALUATED
        assert not await BrandProjectStep.filter(project_id=b.id, step="accept").exists()
        assert not await LedgerJournal.filter(idempotency_key=f"brand:{b.id}:award").exists()
        assert (await balances([accounts.brand_cap(y)]))[accounts.brand_cap(y)] == 10_000_000

    # Two awards of 10,000,000 at once when 10,000,000 remain: exactly one is made.
    results = await asyncio.gather(award(b, 10_000_000), award(c, 10_000_000), return_exceptions=True)
    failures = [r for r in results if isinstance(r, DomainError)]
    assert len(failures) == 1 and failures[0].code == "BRAND_CAP_EXCEEDED" and failures[0].details["remainingFen"] == 0
    async with tenant_transaction(tid):
        after = await reads.standing(y)
        assert (after.cap_fen, after.awarded_fen, after.remaining_cap_fen) == (30_000_000, 30_000_000, 0)
        assert after.counts == {"accepted": 2, "evaluated": 1}
        assert await verify() == []


async def set_cap(tid: int, fen: int, on: date, per_project_fen: int = 20_000_000) -> None:
    async with tenant_transaction(tid):
        await change_config(
            access=SYSTEM,
            actor="county-admin",
            set_values={
                "subsidies": {"brand_projects": {"yearly_cap_fen": fen, "per_project_cap_fen": per_project_fen}}
            },
            effective_from=on,
        )


async def test_a_cap_raised_after_1_january_binds_that_years_awards(zjk):
    d = zjk
    tid, y = d["t"].id, NEXT
    await set_cap(tid, 1, date(y, 1, 1), per_project_fen=1)  # 0.01 CNY from 1 January, 1,000,000 CNY from 1 February
    await set_cap(tid, 100_000_000, date(y, 2, 1))
    p = await declare(d, "C1", y, 1_000_000, when=local(y, 2, 15))
    await step(tid, brand.approve, Role.TENANT_ADMIN, project_id=p.id, now=local(y, 2, 20))
    async with tenant_transaction(tid):
        approved = await AuditEntry.get(target_type="brand_project", target_id=p.id, action="brand.approve")
        assert approved.details["remainingCapFen"] == 100_000_000
        assert approved.details["uncommittedCapFen"] == 99_000_000
        # As it stood in January, and as it stands on an award's date.
        january, december = await reads.standing(y, date(y, 1, 10)), await reads.standing(y, date(y, 12, 5))
        assert (january.cap_fen, january.remaining_cap_fen, january.funded) == (1, 1, False)
        assert (december.cap_fen, december.remaining_cap_fen, december.funded) == (100_000_000, 100_000_000, False)
    await step(
        tid,
        brand.evaluate,
        Role.STREET_OFFICER,
        f"street:{d['ids']['S1']}",
        project_id=p.id,
        passed=True,
        note="进度正常",
        now=local(y, 6, 15),
    )
    done = await step(
        tid,
        brand.accept,
        Role.TENANT_ADMIN,
        project_id=p.id,
        passed=True,
        amount_awarded_fen=500_000,
        now=local(y, 12, 5),
    )
    assert (done.status, done.amount_awarded_fen) == (ProjectStatus.ACCEPTED, 500_000)
    async with tenant_transaction(tid):
        summary = await reads.standing(y, date(y, 12, 6))
        assert (summary.cap_fen, summary.funded, summary.awarded_fen, summary.remaining_cap_fen) == (
            100_000_000,
            True,
            500_000,
            99_500_000,  # 100,000,000 - 500,000
        )
        held = await balances([accounts.brand_fund(y), accounts.brand_cap(y)])
        assert list(held.values()) == [-100_000_000, 99_500_000]
        keys = await LedgerJournal.all().order_by("id").values_list("idempotency_key", flat=True)
        assert keys == [f"brand_cap:{y}", f"brand:{p.id}:award"]
        assert await verify() == []


async def test_a_cap_raised_after_the_first_award_is_topped_up_and_a_lowered_one_takes_nothing_back(zjk):
    d = zjk
    tid, y = d["t"].id, NEXT
    await set_cap(tid, 30_000_000, date(y, 1, 1))  # 300,000 CNY
    await set_cap(tid, 40_000_000, date(y, 12, 10))  # raised to 400,000 CNY on 10 December
    await set_cap(tid, 35_000_000, date(y, 12, 20))  # lowered to 350,000 CNY on 20 December
    a = await to_evaluated(d, "C1", y, 20_000_000)
    b = await to_evaluated(d, "C2", y, 15_000_000)
    c = await to_evaluated(d, "C3", y, 5_000_000)

    def award(p, fen, when):
        return step(
            tid, brand.accept, Role.TENANT_ADMIN, project_id=p.id, passed=True, amount_awarded_fen=fen, now=when
        )

    await award(a, 20_000_000, local(y, 12, 5))  # funds 30,000,000
    err = await refused(award(b, 15_000_000, local(y, 12, 9)))
    assert (err.code, err.details["remainingFen"]) == ("BRAND_CAP_EXCEEDED", 10_000_000)
    async with tenant_transaction(tid):  # the summary of 12 December counts the raise not yet funded
        raised = await reads.standing(y, date(y, 12, 12))
        assert (raised.cap_fen, raised.remaining_cap_fen, raised.uncommitted_cap_fen) == (
            40_000_000,
            20_000_000,  # 40,000,000 - 20,000,000
            0,  # 20,000,000 - the running budgets 15,000,000 + 5,000,000
        )
    await award(b, 15_000_000, local(y, 12, 12))  # tops up 10,000,000
    # From 20 December 35,000,000 are configured, less than the 40,000,000 funded: the 5,000,000 left stay.
    await award(c, 5_000_000, local(y, 12, 21))
    async with tenant_transaction(tid):
        journals = (
            await LedgerJournal.filter(source_kind="brand_cap").order_by("id").values_list("idempotency_key", "reason")
        )
        assert journals == [
            (f"brand_cap:{y}", f"{y} 年度品牌项目奖补上限 300,000.00 元"),
            (f"brand_cap:{y}:40000000", f"{y} 年度品牌项目奖补上限 400,000.00 元（上限提高，追加 100,000.00 元）"),
        ]
        held = await balances([accounts.brand_fund(y), accounts.brand_cap(y)])
        assert list(held.values()) == [-40_000_000, 0]
        after = await reads.standing(y, date(y, 12, 31))
        assert (after.cap_fen, after.awarded_fen, after.remaining_cap_fen) == (40_000_000, 40_000_000, 0)
        accepted = await AuditEntry.filter(target_type="brand_project", action="brand.accept").order_by("id")
        assert [e.details["remainingCapFen"] for e in accepted] == [10_000_000, 5_000_000, 0]
        assert await verify() == []


async def test_every_problem_of_a_step_is_reported_at_once(zjk, gql):
    d = zjk
    tid = d["t"].id
    p = await to_evaluated(d, "C1", PAST, 12_000_000)
    pid = str(p.id)

    def problems(ext):
        return [(x["field"], x["reason"]) for x in ext["problems"]]

    ext = error(await gql(ACCEPT, d["admin"], {"id": pid, "ok": False, "fen": 5, "note": ""}))
    assert ext["code"] == "INVALID_INPUT"
    assert problems(ext) == [("note", "required"), ("amountAwardedFen", "not_allowed")]
    ext = error(await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 12_000_001, "note": "好" * 2001}))
    assert problems(ext) == [("note", "too_long"), ("amountAwardedFen", "above_budget")]
    ext = error(await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 0, "note": "好" * 2001}))
    assert problems(ext) == [("note", "too_long"), ("amountAwardedFen", "not_positive")]
    async with tenant_transaction(tid):
        assert (await BrandProject.get(id=p.id)).status == ProjectStatus.EVALUATED
        assert await LedgerJournal.all().count() == 0

    await gql(ACCEPT, d["admin"], {"id": pid, "ok": True, "fen": 10_000_000})
    pay = dict(project_id=p.id, payment_reference="  ", note="好" * 2001)
    err = await refused(step(tid, brand.pay, Role.TENANT_ADMIN, **pay))
    assert [(x.field, x.reason) for x in err.problems] == [("paymentReference", "required"), ("note", "too_long")]
    err = await refused(step(tid, brand.pay, Role.TENANT_ADMIN, **{**pay, "payment_reference": "Z" * 129}))
    assert [(x.field, x.reason) for x in err.problems] == [("paymentReference", "too_long"), ("note", "too_long")]
    async with tenant_transaction(tid):
        assert (await BrandProject.get(id=p.id)).status == ProjectStatus.ACCEPTED
        assert await BrandProjectStep.filter(project_id=p.id).count() == 4
        assert not await LedgerJournal.filter(idempotency_key=f"brand:{p.id}:pay").exists()


async def test_another_tenant_sees_nothing_and_cannot_act(zjk, gql):
    d = zjk
    p = await declare(d, "C1", PAST, 12_000_000)
    pid = str(p.id)
    other = d["other_admin"]
    assert (await gql(LIST, other))["data"]["brandProjects"]["edges"] == []
    assert codes(await gql(ONE, other, {"id": pid})) == ["NOT_FOUND"]
    for query, variables in (
        (APPROVE, {"id": pid, "note": ""}),
        (REJECT, {"id": pid, "r": "x"}),
        (EVALUATE, {"id": pid, "ok": True, "note": "x"}),
        (ACCEPT, {"id": pid, "ok": True, "fen": 1}),
        (PAY, {"id": pid, "ref": "x"}),
    ):
        assert codes(await gql(query, other, variables)) == ["NOT_FOUND"]
    entry = {"communityId": str(d["ids"]["C1"]), "year": NEXT, "title": "t", "aim": "a", "budgetRequestedFen": 1}
    assert codes(await gql(DECLARE, other, {"in": entry})) == ["NOT_FOUND"]
    summary = (await gql(YEAR, other, {"y": PAST}))["data"]["brandYearSummary"]
    assert (summary["capFen"], summary["awardedFen"], summary["projectCounts"]) == (0, 0, [])
    assert (await gql(ONE, d["admin"], {"id": pid}))["data"]["brandProject"]["status"] == "DECLARED"
