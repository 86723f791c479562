"""Interviews 约谈 and commendations 表彰挂牌 (issue 19 part C): publication owes the black list's interviews and
records the red list's commendations (idempotent), recording closes an owed one, the job reminds once then tells
overdue once, the efficiency office's units owe one, any subject (临沭's 9 units), scope and isolation."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from api.ids import global_id_of
from tenants.assessment import interviews
from tenants.assessment.models import Commendation, CompanyRating, Interview, InterviewStatus
from tenants.inbox.models import Notification
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.parties import PropertyCompany, PropertyManager, Unit, UnitKind
from tenants.tickets.models import EfficiencyCase
from tenants.tickets.models import UnitKind as TicketUnit
from tests.conftest import codes
from tests.fixtures.callers import bearer
from tests.fixtures.interviews import INTERVIEW_PERIOD, publish_company_scores

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

PUBLISHED = datetime(2026, 12, 1, 2, tzinfo=UTC)  # 10:00 in 宣化: owed interviews due 30 days later, 12-31
DISTINCT = {f"P{i}": f"{100 - 2 * i}.00" for i in range(1, 21)}  # P1 best ... P20 worst

LIST = """query($s: InterviewState, $k: InterviewSubjectKind, $first: Int, $after: ID) {
  interviews(state: $s, subjectKind: $k, first: $first, after: $after) {
  databaseId subjectKind subjectId companyId state source reason dueOn heldOn overdue followUpDoneOn followUpEvidence
} }"""
COMPLETE = """mutation($i: ID!, $e: String!, $d: Date) {
  completeInterviewFollowUp(interviewId: $i, evidence: $e, doneOn: $d) {
  databaseId followUpDoneOn followUpEvidence overdue } }"""
COMMENDATIONS = """{ commendations(period: "2026Q4", first: 50) { nodes { databaseId companyId rank plaqueOn } } }"""
RECORD = """mutation($in: RecordInterviewInput!) { recordInterview(input: $in) {
  databaseId subjectKind subjectId state source heldOn outcome } }"""


def _held(**given) -> dict:
    return {"period": INTERVIEW_PERIOD, "heldOn": "2026-12-01", "attendees": ["区住建局 王科长", "企业负责人"],
            "outcome": "限期整改", **given}


async def test_xuanhua_publication_owes_5_interviews_and_commends_15_once(interview_world, gql):
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    listed = await gql(LIST, w.admin, {"s": "OWED"})
    assert "errors" not in listed, listed
    owed = listed["data"]["interviews"]
    assert sorted(int(i["subjectId"]) for i in owed) == sorted(w.ids[f"P{i}"] for i in range(16, 21))
    assert {(i["subjectKind"], i["source"], i["reason"], i["dueOn"], i["heldOn"], i["overdue"]) for i in owed} == {
        ("FIRM", "RED_BLACK", "black_list:bottom", "2026-12-31", None, False)
    }
    commended = (await gql(COMMENDATIONS, w.admin))["data"]["commendations"]["nodes"]
    assert [(int(c["companyId"]), c["rank"]) for c in commended] == [(w.ids[f"P{i}"], i) for i in range(1, 16)]
    # A revision published again (same list) owes and commends no one twice: the unique keys hold.
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    async with tenant_transaction(w.t.id):
        assert await Interview.filter(status=InterviewStatus.OWED).count() == 5
        assert await Commendation.all().count() == 15
    # Recording the interview with P20 closes the one owed to it (the same row, now held).
    closed = next(i for i in owed if int(i["subjectId"]) == w.ids["P20"])
    done = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P20"]))})
    assert done["data"]["recordInterview"] == {
        "databaseId": closed["databaseId"], "subjectKind": "FIRM", "subjectId": str(w.ids["P20"]), "state": "HELD",
        "source": "RED_BLACK", "heldOn": "2026-12-01", "outcome": "限期整改",
    }
    assert len((await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"]) == 4
    # The plaque day of the first commendation.
    plaque = await gql(
        """mutation($c: ID!) { setPlaqueDay(commendationId: $c, plaqueOn: "2026-12-20") { plaqueOn } }""",
        w.admin, {"c": commended[0]["databaseId"]},
    )
    assert plaque["data"]["setPlaqueDay"] == {"plaqueOn": "2026-12-20"}


async def test_a_revision_reconciles_owed_interviews_and_commendations_with_its_lists(interview_world, gql):
    """Revision 2 puts P20 on top (99) and P1 at the bottom (10): P20's owed interview is withdrawn (kept, not
    reminded), P1 owes one; P1's commendation is revoked, P20 is commended first, P2..P15 keep ranks 2..15. Revision 3
    (the first scores again) gives P20 its owed row back and P1 its commendation."""
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    first_owed = {int(i["subjectId"]): i["databaseId"] for i in (await gql(LIST, w.admin, {"s": "OWED"}))["data"]
                  ["interviews"]}
    await publish_company_scores(w, {**DISTINCT, "P20": "99.00", "P1": "10.00"}, now=PUBLISHED)
    owed = (await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"]
    assert sorted(int(i["subjectId"]) for i in owed) == sorted(w.ids[k] for k in ("P16", "P17", "P18", "P19", "P1"))
    withdrawn = (await gql(LIST, w.admin, {"s": "WITHDRAWN"}))["data"]["interviews"]
    assert [(int(i["subjectId"]), i["state"], i["overdue"]) for i in withdrawn] == [(w.ids["P20"], "WITHDRAWN", False)]
    everything = (await gql(LIST, w.admin, {}))["data"]["interviews"]
    assert {i["state"] for i in everything} == {"OWED"} and len(everything) == 5  # withdrawn: only when asked
    commended = (await gql(COMMENDATIONS, w.admin))["data"]["commendations"]["nodes"]
    assert [(int(c["companyId"]), c["rank"]) for c in commended] == [(w.ids["P20"], 1)] + [
        (w.ids[f"P{i}"], i) for i in range(2, 16)
    ]
    # Reminders and overdue notices go to the 5 currently owed only.
    with tenant_context(w.t.id):
        assert (await interviews.remind(now=datetime(2026, 12, 24, 2, tzinfo=UTC)))["reminded"] == 5
        assert (await interviews.remind(now=datetime(2027, 1, 1, 2, tzinfo=UTC)))["overdue"] == 5
    async with tenant_transaction(w.t.id):
        told = await Notification.filter(recipient="xh-admin").values_list("title", flat=True)
    assert len(told) == 10 and not any(f"firm {w.ids['P20']}（" in t for t in told)
    # Revision 3: back to the first scores. P20 owes again (its own row, due 30 days after this publication).
    again = datetime(2027, 1, 5, 2, tzinfo=UTC)
    await publish_company_scores(w, DISTINCT, now=again)
    owed = {int(i["subjectId"]): i for i in (await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"]}
    assert sorted(owed) == sorted(w.ids[f"P{i}"] for i in range(16, 21))
    assert owed[w.ids["P20"]]["databaseId"] == first_owed[w.ids["P20"]]
    assert (owed[w.ids["P20"]]["dueOn"], owed[w.ids["P20"]]["overdue"]) == ("2027-02-04", False)
    assert owed[w.ids["P16"]]["dueOn"] == "2026-12-31"  # still owed since the first list: its day stands
    commended = (await gql(COMMENDATIONS, w.admin))["data"]["commendations"]["nodes"]
    assert [(int(c["companyId"]), c["rank"]) for c in commended] == [(w.ids[f"P{i}"], i) for i in range(1, 16)]
    async with tenant_transaction(w.t.id):
        assert await Commendation.all().count() == 16  # P20's revoked one is kept
        assert await Interview.filter(status=InterviewStatus.WITHDRAWN).count() == 1  # P1's


async def test_ties_and_unscored_firms_follow_the_list_rule_with_its_reason(interview_world, gql):
    """P1 has no score sheet; P15 and P16 tie where both lists reach: neither owes an interview nor is commended."""
    w = interview_world
    scores: dict[str, str | None] = {**DISTINCT, "P1": None, "P16": DISTINCT["P15"]}
    await publish_company_scores(w, scores, now=PUBLISHED)
    async with tenant_transaction(w.t.id):
        owed = set(await Interview.filter(status=InterviewStatus.OWED).values_list("subject_id", flat=True))
        commended = set(await Commendation.all().values_list("company_id", flat=True))
        reasons = {
            r["company_id"]: r["breakdown"]["lists"]["red_black"]["reason"]
            for r in await CompanyRating.all().values("company_id", "breakdown")
        }
    assert owed == {w.ids[f"P{i}"] for i in range(17, 21)}
    assert commended == {w.ids[f"P{i}"] for i in range(2, 15)}
    assert not owed & commended
    assert (reasons[w.ids["P1"]], reasons[w.ids["P15"]], reasons[w.ids["P16"]]) == (
        "unscored", "tie_both_lists", "tie_both_lists"
    )


async def test_an_owed_interview_is_reminded_once_then_told_overdue_once(interview_world, gql):
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    p20 = _held(companyId=str(w.ids["P20"]), followUp="一月内整改", followUpDue="2026-12-20")
    await gql(RECORD, w.admin, {"in": p20})

    async def tick(day: date) -> dict:
        with tenant_context(w.t.id):
            return await interviews.remind(now=datetime(day.year, day.month, day.day, 2, tzinfo=UTC))

    # The held interview's follow-up is reminded once, the day before its due day.
    assert [(await tick(date(2026, 12, d)))["follow_up"] for d in (18, 19, 20)] == [0, 1, 0]
    assert (await tick(date(2026, 12, 23)))["reminded"] == 0  # 8 days before the due day
    assert (await tick(date(2026, 12, 24)))["reminded"] == 4  # 7 days before: the 4 still owed
    assert (await tick(date(2026, 12, 25)))["reminded"] == 0
    assert (await tick(date(2026, 12, 31)))["overdue"] == 0  # due today: not yet overdue
    late = await tick(date(2027, 1, 1))
    assert (late["overdue"], (await tick(date(2027, 1, 2)))["overdue"]) == (4, 0)
    async with tenant_transaction(w.t.id):
        stamped = await Interview.filter(status=InterviewStatus.OWED, reminded_at__isnull=False,
                                         overdue_at__isnull=False).count()
        told = await Notification.filter(recipient="xh-admin").values_list("kind", flat=True)
    assert stamped == 4
    assert sorted(told) == ["interview.due_soon"] * 4 + ["interview.follow_up_due"] + ["interview.overdue"] * 4


async def test_a_unit_handed_to_the_efficiency_office_owes_an_interview_once(interview_world, gql):
    w = interview_world
    async with tenant_transaction(w.t.id):
        dept = await Unit.create(kind=UnitKind.COUNTY_DEPARTMENT, code="cg", name="城管局")
        await EfficiencyCase.create(unit_kind=TicketUnit.COUNTY_DEPARTMENT, unit_id=dept.id, period="2026-11",
                                    escalations=3, handed_at=PUBLISHED)
        await EfficiencyCase.create(unit_kind=TicketUnit.PROPERTY_COMPANY, unit_id=w.ids["P2"], period="2026-11",
                                    escalations=3, handed_at=PUBLISHED)
    for _ in range(2):
        with tenant_context(w.t.id):
            await interviews.remind(now=PUBLISHED)
    owed = (await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"]
    assert sorted((i["subjectKind"], int(i["subjectId"]), i["source"], i["reason"]) for i in owed) == sorted([
        ("UNIT", dept.id, "EFFICIENCY", "efficiency_office:3 escalations"),
        ("FIRM", w.ids["P2"], "EFFICIENCY", "efficiency_office:3 escalations"),
    ])
    # The firm sees the one owed to it; recording it (period of the case) closes it.
    mine = (await gql(LIST, w.firm_p1, {}))["data"]["interviews"]
    assert mine == []
    done = await gql(RECORD, w.admin, {"in": _held(period="2026-11", subjectKind="UNIT", subjectId=str(dept.id))})
    assert done["data"]["recordInterview"]["state"] == "HELD"
    assert done["data"]["recordInterview"]["source"] == "EFFICIENCY"


async def test_linshu_records_and_lists_9_units_of_mixed_kinds(interview_world, gql):
    w = interview_world
    for code, unit_id in w.units.items():
        made = await gql(RECORD, w.other_admin, {"in": _held(subjectKind="UNIT", subjectId=str(unit_id),
                                                             reason=f"不作为：{code}")})
        assert made["data"]["recordInterview"]["state"] == "HELD", made
    listed = (await gql(LIST, w.other_admin, {"k": "UNIT"}))["data"]["interviews"]
    assert sorted(int(i["subjectId"]) for i in listed) == sorted(w.units.values())
    async with tenant_transaction(w.other.id):
        kinds = set(await Unit.filter(id__in=list(w.units.values())).values_list("kind", flat=True))
    assert kinds == {UnitKind.COUNTY_DEPARTMENT, UnitKind.STREET_OFFICE, UnitKind.HOUSING_DEPT,
                     UnitKind.EFFICIENCY_OFFICE}
    # A department's staff see their own unit's interview only; 宣化 sees none of 临沭's.
    own = (await gql(LIST, w.unit_dept1, {}))["data"]["interviews"]
    assert [int(i["subjectId"]) for i in own] == [w.units["dept1"]]
    assert (await gql(LIST, w.admin, {}))["data"]["interviews"] == []
    # A property manager of the tenant; an unknown one, or a person, is not found.
    async with tenant_transaction(w.other.id):
        firm = await PropertyCompany.create(credit_code="91371329MA00000001", name="临沭物业")
        on_file = await PropertyManager.create(company_id=firm.id, name="张经理")
    manager = await gql(RECORD, w.other_admin, {"in": _held(subjectKind="MANAGER", subjectId=str(on_file.id))})
    assert manager["data"]["recordInterview"]["subjectKind"] == "MANAGER", manager
    unknown = await gql(RECORD, w.other_admin, {"in": _held(subjectKind="MANAGER", subjectId=str(on_file.id + 1))})
    assert unknown["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    nobody = await gql(RECORD, w.other_admin, {"in": _held(subjectKind="PERSON", subjectId="999999")})
    assert nobody["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_a_firm_sees_only_its_own_interviews_and_another_tenant_nothing(interview_world, gql):
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    mine = (await gql(LIST, w.firm_p20, {}))["data"]["interviews"]
    assert [int(i["subjectId"]) for i in mine] == [w.ids["P20"]]
    assert (await gql(LIST, w.firm_p1, {}))["data"]["interviews"] == []
    assert (await gql(LIST, w.other_admin, {}))["data"]["interviews"] == []
    # An interview of P20's property manager: P20 reads it, P1 does not.
    async with tenant_transaction(w.t.id):
        manager = await PropertyManager.create(company_id=w.ids["P20"], name="赵经理")
    held = await gql(RECORD, w.admin, {"in": _held(subjectKind="MANAGER", subjectId=str(manager.id))})
    assert held["data"]["recordInterview"]["subjectKind"] == "MANAGER", held
    kinds = sorted(i["subjectKind"] for i in (await gql(LIST, w.firm_p20, {}))["data"]["interviews"])
    assert kinds == ["FIRM", "MANAGER"]
    assert (await gql(LIST, w.firm_p1, {}))["data"]["interviews"] == []
    assert (await gql(COMMENDATIONS, w.other_admin))["data"]["commendations"]["nodes"] == []
    # A street officer reads the interviews of the firms of its street (P1 serves K1 in S1: none owed) and may not
    # record one with a firm elsewhere.
    assert (await gql(LIST, w.street_officer_s1, {}))["data"]["interviews"] == []
    refused = await gql(RECORD, w.street_officer_s1, {"in": _held(companyId=str(w.ids["P20"]))})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # Another tenant cannot set the plaque day of a commendation here.
    async with tenant_transaction(w.t.id):
        first = await Commendation.all().order_by("rank").first()
    assert first is not None
    other = await gql(
        """mutation($c: ID!) { setPlaqueDay(commendationId: $c, plaqueOn: "2026-12-20") { plaqueOn } }""",
        w.other_admin, {"c": str(first.id)},
    )
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("given", "field", "reason"),
    [
        ({"outcome": "整改\u202e完毕"}, "outcome", "bidi"),
        ({"reason": "x" * 501}, "reason", "too_long"),
        ({"followUp": "\u2066隐藏"}, "followUp", "bidi"),
        ({"attendees": ["王\u200f芳"]}, "attendees", "format"),
        ({"subjectKind": "UNIT", "companyId": None}, "subjectId", "required"),
        ({"companyId": "1", "subjectKind": "UNIT", "subjectId": "2"}, "companyId", "conflict"),
        ({"companyId": "1", "heldOn": "2026-11-10", "followUpDue": "2026-11-01"}, "followUpDue", "before"),
    ],
)
async def test_hostile_input_is_a_typed_client_error(interview_world, gql, given, field, reason):
    w = interview_world
    base = {k: v for k, v in {**_held(companyId=str(w.ids["P1"])), **given}.items() if v is not None}
    out = await gql(RECORD, w.admin, {"in": base})
    error = out["errors"][0]["extensions"]
    assert (error["code"], error["problems"][0]["field"], error["problems"][0]["reason"]) == (
        "INVALID_INPUT", field, reason
    )


async def test_unknown_subjects_and_ids_are_not_found(interview_world, gql):
    w = interview_world
    for given in ({"companyId": "99999999"}, {"subjectKind": "UNIT", "subjectId": "99999999"},
                  {"subjectKind": "COMMUNITY", "subjectId": str(2**62)}):
        out = await gql(RECORD, w.admin, {"in": _held(**given)})
        assert out["errors"][0]["extensions"]["code"] == "NOT_FOUND", out


async def test_a_follow_up_is_completed_with_evidence_once_and_is_then_neither_overdue_nor_reminded(
    interview_world, gql
):
    w = interview_world
    late = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P20"]), heldOn="2026-11-10",
                                                   followUp="一月内整改", followUpDue="2026-11-20")})
    talk = late["data"]["recordInterview"]["databaseId"]
    assert (await gql(LIST, w.admin, {}))["data"]["interviews"][0]["overdue"] is True  # 11-20 < today 12-01
    # The firm may not close it (no permission); the street officer of another street and another tenant do not
    # find it.
    for token, code in ((w.firm_p20, "FORBIDDEN"), (w.street_officer_s1, "NOT_FOUND"), (w.other_admin, "NOT_FOUND")):
        refused = await gql(COMPLETE, token, {"i": talk, "e": "已整改"})
        assert refused["errors"][0]["extensions"]["code"] == code, (token, refused)
    done = await gql(COMPLETE, w.admin, {"i": talk, "e": " 已更换保洁公司，照片见附件 ", "d": "2026-11-28"})
    assert done["data"]["completeInterviewFollowUp"] == {
        "databaseId": talk, "followUpDoneOn": "2026-11-28", "followUpEvidence": "已更换保洁公司，照片见附件",
        "overdue": False,
    }
    again = await gql(COMPLETE, w.admin, {"i": talk, "e": "再次"})
    assert (again["errors"][0]["extensions"]["code"], again["errors"][0]["extensions"]["details"]) == (
        "ILLEGAL_TRANSITION", {"status": "follow_up_done", "action": "complete_follow_up"}
    )
    # A follow-up due tomorrow and done today is not reminded the day before.
    soon = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P19"]), heldOn="2026-11-30",
                                                   followUp="整改", followUpDue="2026-12-02")})
    done = await gql(COMPLETE, w.admin, {"i": soon["data"]["recordInterview"]["databaseId"], "e": "已整改"})
    assert done["data"]["completeInterviewFollowUp"]["followUpDoneOn"] == "2026-12-02"  # today in 宣化 (01:30)
    with tenant_context(w.t.id):
        assert (await interviews.remind(now=datetime(2026, 12, 1, 2, tzinfo=UTC)))["follow_up"] == 0
    # An owed interview, or a held one without a follow-up, has none to complete.
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    owed = (await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"][0]["databaseId"]
    bare = (await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P1"]))}))["data"]["recordInterview"]
    for interview_id, status in ((owed, "owed"), (bare["databaseId"], "no_follow_up")):
        out = await gql(COMPLETE, w.admin, {"i": interview_id, "e": "已整改"})
        assert out["errors"][0]["extensions"]["details"]["status"] == status, out


async def test_a_street_officer_completes_the_follow_up_of_a_firm_of_its_street(interview_world, gql):
    w = interview_world
    made = await gql(RECORD, w.street_officer_s1, {"in": _held(companyId=str(w.ids["P1"]), followUp="整改",
                                                               followUpDue="2026-12-20", heldOn="2026-11-20")})
    talk = made["data"]["recordInterview"]["databaseId"]
    done = await gql(COMPLETE, w.street_officer_s1, {"i": talk, "e": "已整改"})
    assert done["data"]["completeInterviewFollowUp"]["followUpDoneOn"] == "2026-12-02", done  # 宣化's today


@pytest.mark.parametrize(
    ("evidence", "done_on", "field", "reason"),
    [
        ("  ", None, "evidence", "required"),
        ("整改\u202e完毕", None, "evidence", "bidi"),
        ("整改\x00", None, "evidence", "nul"),
        ("x" * 2001, None, "evidence", "too_long"),
        ("已整改", "2026-12-03", "doneOn", "future"),  # today in 宣化 is 12-02 (01:30)
        ("已整改", "2026-11-09", "doneOn", "before"),
    ],
)
async def test_hostile_follow_up_input_is_a_typed_client_error(interview_world, gql, evidence, done_on, field, reason):
    w = interview_world
    made = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P1"]), heldOn="2026-11-10",
                                                   followUp="整改", followUpDue="2026-11-20")})
    talk = made["data"]["recordInterview"]["databaseId"]
    out = await gql(COMPLETE, w.admin, {"i": talk, "e": evidence, "d": done_on})
    error = out["errors"][0]["extensions"]
    assert (error["code"], error["problems"][0]["field"], error["problems"][0]["reason"]) == (
        "INVALID_INPUT", field, reason
    ), out
    for bad in (str(2**70), "not-an-id"):
        out = await gql(COMPLETE, w.admin, {"i": bad, "e": "已整改"})
        assert out["errors"][0]["extensions"]["code"] in ("INVALID_INPUT", "NOT_FOUND"), out
    async with tenant_transaction(w.t.id):
        assert await Interview.filter(follow_up_done_on__isnull=False).count() == 0  # nothing half-saved


async def test_commendations_page_by_keyset_and_interviews_page_after_an_interview(interview_world, gql):
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    for firm, day in (("P1", "2026-12-01"), ("P2", "2026-12-01"), ("P3", "2026-11-02")):
        await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids[firm]), heldOn=day)})
    page = """query($after: String) { commendations(first: 6, after: $after) {
      nodes { companyId rank } pageInfo { hasNextPage endCursor } totalCount } }"""
    ranks, after, more = [], None, True
    while more:
        got = (await gql(page, w.admin, {"after": after}))["data"]["commendations"]
        assert got["totalCount"] == 15
        ranks += [c["rank"] for c in got["nodes"]]
        after, more = got["pageInfo"]["endCursor"], got["pageInfo"]["hasNextPage"]
    assert ranks == list(range(1, 16))
    # interviews: all of them (5 owed, not held: first, latest due first; then held, newest first), then by pages
    # of 3 after the last of each page: the same list.
    whole = [i["databaseId"] for i in (await gql(LIST, w.admin, {}))["data"]["interviews"]]
    assert len(whole) == 8
    paged, after = [], None
    while True:
        got = (await gql(LIST, w.admin, {"first": 3, "after": after}))["data"]["interviews"]
        if not got:
            break
        paged += [i["databaseId"] for i in got]
        after = got[-1]["databaseId"]
    assert paged == whole
    # A year is not a period of interviews or commendations; a page of 0, or after an unknown interview, is refused.
    for query, given in ((LIST, {"first": 0}), (LIST, {"after": "99999999"}),
                         ("""{ commendations(period: "2026") { nodes { rank } } }""", {}),
                         ("""{ interviews(period: "2026") { databaseId } }""", {})):
        out = await gql(query, w.admin, given)
        assert out["errors"][0]["extensions"]["code"] == "INVALID_INPUT", out


@pytest.mark.parametrize(
    ("given", "field", "reason"),
    [
        ({"heldOn": "2026-12-03"}, "heldOn", "future"),  # today in 宣化 is 12-02 (01:30): an owed one stays owed
        ({"period": "2027Q1", "heldOn": "2026-12-02"}, "period", "future"),
        ({"heldOn": "2026-09-30"}, "heldOn", "before_period"),  # 2026Q4 begins on 10-01
        ({"period": "1999-12", "heldOn": "1999-12-20"}, "heldOn", "before_period"),  # nothing before 2000
    ],
)
async def test_an_interview_is_recorded_once_held_about_a_period_that_has_begun(interview_world, gql, given, field,
                                                                               reason):
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    out = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P20"]), **given)})
    error = out["errors"][0]["extensions"]
    assert (error["code"], error["problems"][0]["field"], error["problems"][0]["reason"]) == (
        "INVALID_INPUT", field, reason
    ), out
    owed = (await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"]
    assert w.ids["P20"] in {int(i["subjectId"]) for i in owed}  # the owed interview was not closed
    today = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P20"]), heldOn="2026-12-02")})
    assert today["data"]["recordInterview"]["state"] == "HELD", today


async def test_an_id_of_another_type_is_refused_not_read_as_another_row(interview_world, gql):
    """A subjectId is of the type its subjectKind names; interviewId, commendationId and after are of theirs."""
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    async with tenant_transaction(w.t.id):
        manager = await PropertyManager.create(company_id=w.ids["P20"], name="赵经理")
        interview = await Interview.filter(status=InterviewStatus.OWED).order_by("id").first()
        commendation = await Commendation.all().order_by("id").first()
    assert interview is not None and commendation is not None
    firm, boss = global_id_of("PropertyCompany", w.ids["P20"]), global_id_of("PropertyManager", manager.id)
    talk, plaque = global_id_of("Interview", interview.id), global_id_of("Commendation", commendation.id)

    def refused(out: dict, field: str) -> None:
        error = out["errors"][0]["extensions"]
        assert (error["code"], error["problems"][0]["field"], error["problems"][0]["reason"]) == (
            "INVALID_INPUT", field, "wrong_kind"), out

    for kind, wrong in (("MANAGER", firm), ("FIRM", boss), ("UNIT", firm), ("STREET", boss),
                        ("COMMUNITY", global_id_of("Street", w.ids["S1"])), ("PERSON", boss)):
        refused(await gql(RECORD, w.admin, {"in": _held(subjectKind=kind, subjectId=wrong)}), "subjectId")
    refused(await gql(RECORD, w.admin, {"in": _held(companyId=boss)}), "companyId")
    listed = """query($k: InterviewSubjectKind, $s: ID, $after: ID) {
      interviews(subjectKind: $k, subjectId: $s, after: $after) { databaseId subjectKind } }"""
    refused(await gql(listed, w.admin, {"k": "FIRM", "s": boss}), "subjectId")
    refused(await gql(listed, w.admin, {"s": plaque}), "subjectId")  # no kind: one of the subjects' types
    refused(await gql(listed, w.admin, {"after": plaque}), "after")
    refused(await gql(COMPLETE, w.admin, {"i": plaque, "e": "已整改"}), "interviewId")
    refused(await gql("""mutation($c: ID!) { setPlaqueDay(commendationId: $c, plaqueOn: "2026-12-20") {
      plaqueOn } }""", w.admin, {"c": talk}), "commendationId")
    # The right types work; without a kind, a subject's global id names its kind.
    held = await gql(RECORD, w.admin, {"in": _held(subjectKind="MANAGER", subjectId=boss)})
    assert held["data"]["recordInterview"]["subjectKind"] == "MANAGER", held
    mine = (await gql(listed, w.admin, {"s": boss}))["data"]["interviews"]
    assert [i["subjectKind"] for i in mine] == ["MANAGER"]
    its_firm = global_id_of("PropertyCompany", interview.subject_id)
    theirs = (await gql(listed, w.admin, {"k": "FIRM", "s": its_firm}))["data"]["interviews"]
    assert [i["databaseId"] for i in theirs] == [str(interview.id)]
    assert "errors" not in await gql(listed, w.admin, {"after": talk})


async def test_a_commendation_node_is_read_only_by_those_who_may_read_commendations(interview_world, gql, settings):
    w = interview_world
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    async with tenant_transaction(w.t.id):
        first = await Commendation.all().order_by("rank").first()
    assert first is not None
    node = """query($id: ID!) { node(id: $id) { ... on Commendation { databaseId rank } } }"""
    gid = global_id_of("Commendation", first.id)
    resident = bearer(settings, w.t, Role.RESIDENT, user_id="xh-resident")
    assert codes(await gql(COMMENDATIONS, resident)) == ["FORBIDDEN"]  # the list, as before
    assert (await gql(node, resident, {"id": gid}))["data"]["node"] is None  # and now the node
    for token in (w.admin, w.firm_p1, w.street_officer_s1):
        assert (await gql(node, token, {"id": gid}))["data"]["node"] == {"databaseId": str(first.id), "rank": 1}
    assert (await gql(node, w.other_admin, {"id": gid}))["data"]["node"] is None  # another tenant: nothing


async def test_a_firm_interviewed_by_hand_for_the_period_owes_the_list_none(interview_world, gql):
    w = interview_world
    by_hand = await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P20"]), heldOn="2026-11-20")})
    assert by_hand["data"]["recordInterview"]["source"] == "HAND", by_hand
    # Another period's interview does not count: P19 was interviewed for 2026Q3 only.
    await gql(RECORD, w.admin, {"in": _held(companyId=str(w.ids["P19"]), period="2026Q3", heldOn="2026-09-20")})
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)
    owed = (await gql(LIST, w.admin, {"s": "OWED"}))["data"]["interviews"]
    assert sorted(int(i["subjectId"]) for i in owed) == sorted(w.ids[f"P{i}"] for i in range(16, 20))
    held = (await gql(LIST, w.admin, {"s": "HELD"}))["data"]["interviews"]
    assert [(int(i["subjectId"]), i["source"]) for i in held] == [(w.ids["P20"], "HAND"), (w.ids["P19"], "HAND")]
    await publish_company_scores(w, DISTINCT, now=PUBLISHED)  # a revision naming it again: still none
    async with tenant_transaction(w.t.id):
        assert await Interview.filter(status=InterviewStatus.OWED).count() == 4
