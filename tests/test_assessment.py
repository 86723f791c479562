"""Assessment rounds, submissions, ratings and the red/black list through GraphQL and the scheduled job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from asyncpg.exceptions import RaiseError
from tortoise.exceptions import OperationalError

from api.auth import mint_token
from tenants.assessment import ratings
from tenants.assessment import scheduled as assessment_schedule
from tenants.assessment.models import CompanyRating, RatingSnapshot
from tenants.audit.models import AuditEntry
from tenants.config.service import effective_config
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory.access import SYSTEM, Access
from tests.conftest import codes
from tests.fixtures.assessment import RATING_PERIOD, sheet, submit_scores
from tests.fixtures.territory import build

CORRECT = """mutation($in: SubmitScoresInput!) { correctScores(input: $in) { bodyCode revision reason } }"""
RANKS = """query($p: String!, $r: Int) { companyRankings(period: $p, revision: $r) { edges { node { companyId score
  rank mark breakdown scoreBreakdown { score combination weightingUsed
  compounds { compoundId contribution compound { code } } adjustments { contribution } } } } } }"""


async def test_a_period_is_scored_rated_published_and_revised(district, gql):
    d = district
    opened = await gql(
        'mutation { openAssessmentRound(period: "2026Q4") { periodKey deadline status state } }', d["admin"]
    )
    assert opened["data"]["openAssessmentRound"]["state"] == "OPEN"
    deadline = datetime.fromisoformat(opened["data"]["openAssessmentRound"]["deadline"])
    assert deadline.astimezone(ZoneInfo("Asia/Shanghai")).isoformat() == "2027-01-11T00:00:00+08:00"  # 10 days on
    full = {b: sheet(d["rubric"], b) for b in ("party_org", "owners_committee", "housing_dept")}
    assert "errors" not in await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org", full["party_org"])
    assert "errors" not in await submit_scores(gql, d["owners_committee_k1"], d, "K1", "owners_committee",
                                               full["owners_committee"])
    assert "errors" not in await submit_scores(gql, d["housing_dept"], d, "K1", "housing_dept", full["housing_dept"])
    half = sheet(d["rubric"], "party_org", Fraction(1, 2))
    assert "errors" not in await submit_scores(gql, d["street_officer_s2"], d, "K3", "party_org", half)
    # Scope, once-only, and the sheet itself.
    assert codes(await submit_scores(gql, d["owners_committee_k1"], d, "K3", "owners_committee",
                                     full["owners_committee"])) == ["FORBIDDEN"]
    assert codes(await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org",
                                     full["party_org"])) == ["CONFLICT"]
    bad = await submit_scores(gql, d["street_officer_s2"], d, "K3", "owners_committee", {"nonsense": 1})
    assert codes(bad) == ["FORBIDDEN"]  # a street officer speaks for the party organisation only
    first_item = next(iter(full["housing_dept"]))
    wrong = await submit_scores(gql, d["admin"], d, "K3", "housing_dept", {**full["housing_dept"], first_item: 999})
    assert wrong["errors"][0]["extensions"]["problems"][0]["reason"] == "out_of_range"
    no_contract = await submit_scores(gql, d["admin"], d, "K2", "housing_dept", full["housing_dept"])
    assert no_contract["errors"][0]["extensions"]["problems"][0]["reason"] == "no_contract"

    # No tickets: no closure, satisfaction or on-time rate, but a known volume of 0 a month, which scores 100; it
    # alone carries the objective share (20% in 张家口's preset, body share 80%).
    # K1: every body full marks: 80% x 100 + 20% x 100 = 100.00.
    # K3: only the party organisation, at half marks; the others missing and redistributed: 80% x its score + 20.
    party_max = sum(i.max_points for i in d["rubric"] if i.body == "party_org")
    party = Decimal(sum(half.values()) * 100) / party_max
    k3 = (party * Decimal("0.8") + 20).quantize(Decimal("0.01"), ROUND_HALF_UP)
    computed = await gql('mutation { computeRatings(period: "2026Q4") { revision status state } }', d["admin"])
    assert computed["data"]["computeRatings"] == {"revision": 1, "status": "draft", "state": "DRAFT"}
    ranks = (await gql(RANKS, d["admin"], {"p": RATING_PERIOD}))["data"]["companyRankings"]["edges"]
    ids = d["ids"]
    assert [(e["node"]["companyId"], Decimal(e["node"]["score"]), e["node"]["rank"]) for e in ranks] == [
        (str(ids["P1"]), Decimal("100.00"), 1),
        (str(ids["P2"]), k3, 2),
    ]
    # 张家口's 红黑榜 (inherited): top and bottom 10%, at least one firm each.
    assert [e["node"]["mark"] for e in ranks] == ["COMMENDED", "INTERVIEWED"]
    typed = ranks[0]["node"]["scoreBreakdown"]  # the typed shape of the deprecated JSON breakdown
    assert [(c["compoundId"], c["compound"]["code"]) for c in typed["compounds"]] == [(str(ids["K1"]), "K1")]
    parts = [c["contribution"] for c in typed["compounds"]] + [a["contribution"] for a in typed["adjustments"]]
    assert sum(map(Decimal, parts)) == Decimal(typed["score"]) == Decimal(ranks[0]["node"]["score"])
    assert typed["score"] == ranks[0]["node"]["breakdown"]["score"]
    assert (typed["combination"], typed["weightingUsed"]) == tuple(
        ranks[0]["node"]["breakdown"][k].upper() for k in ("mode", "weighting")
    )
    assert codes(await gql(RANKS, d["resident"], {"p": RATING_PERIOD})) == ["NOT_FOUND"]  # a draft is not public
    body = await gql(
        'query { compoundRankings(period: "2026Q4") { edges { node { compound { code } score breakdown'
        " scoreBreakdown { score bodyPart assessmentMode missingBodyRule"
        " parts { code contribution items { code points awarded } }"
        " deductions { points } adjustments { contribution } } } } } }",
        d["admin"],
    )
    k1 = body["data"]["compoundRankings"]["edges"][0]["node"]
    assert k1["compound"] == {"code": "K1"} and k1["breakdown"]["score"] == "100.00"
    for edge in body["data"]["compoundRankings"]["edges"]:  # the typed breakdown says what the JSON says
        typed, raw = edge["node"]["scoreBreakdown"], edge["node"]["breakdown"]
        assert (typed["score"], typed["bodyPart"]) == (raw["score"], raw["body_part"])
        assert [(p["code"], p["contribution"]) for p in typed["parts"]] == [
            (p["code"], p["contribution"]) for p in raw["bodies"]
        ]
        assert typed["deductions"]["points"] == raw["deductions"]["points"]
        # A body's whole points read to the hundredth in awarded, as a line scored from records does ("30.00").
        entered = [(i["points"], i["awarded"]) for p in typed["parts"] for i in p["items"] if i["points"] is not None]
        assert entered and all(awarded == f"{points}.00" for points, awarded in entered), entered
        assert (typed["assessmentMode"], typed["missingBodyRule"]) == (raw["mode"].upper(), raw["missing_body"].upper())

    assert (await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"]))["data"][
        "publishRatings"
    ]["status"] == "published"
    public = (await gql(RANKS, d["resident"], {"p": RATING_PERIOD}))["data"]["companyRankings"]["edges"]
    assert [e["node"]["rank"] for e in public] == [1, 2]

    # A late correction is an audited revision; the published period does not move when the job runs again.
    corrected = await submit_scores(
        gql, d["street_officer_s2"], d, "K3", "party_org", sheet(d["rubric"], "party_org"), CORRECT, reason="复核后更正"
    )
    assert corrected["data"]["correctScores"] == {"bodyCode": "party_org", "revision": 2, "reason": "复核后更正"}
    again = await gql('mutation { computeRatings(period: "2026Q4") { revision status } }', d["admin"])
    assert again["data"]["computeRatings"] == {"revision": 1, "status": "published"}
    assert [
        Decimal(e["node"]["score"])
        for e in (await gql(RANKS, d["admin"], {"p": RATING_PERIOD}))["data"]["companyRankings"]["edges"]
    ] == [Decimal("100.00"), k3]
    revised = await gql(
        'mutation { computeRatings(period: "2026Q4", reason: "党组织评分更正") { revision status reason } }', d["admin"]
    )
    assert revised["data"]["computeRatings"] == {"revision": 2, "status": "draft", "reason": "党组织评分更正"}
    new = (await gql(RANKS, d["admin"], {"p": RATING_PERIOD, "r": 2}))["data"]["companyRankings"]["edges"]
    assert [Decimal(e["node"]["score"]) for e in new] == [Decimal("100.00"), Decimal("100.00")]
    old = (await gql(RANKS, d["admin"], {"p": RATING_PERIOD, "r": 1}))["data"]["companyRankings"]["edges"]
    assert Decimal(old[1]["node"]["score"]) == k3  # the published revision stays readable
    async with tenant_transaction(d["t"].id):
        assert await AuditEntry.filter(action="assessment.correct").count() == 1
        published = await RatingSnapshot.get(period_key=RATING_PERIOD, revision=1)
    with pytest.raises((OperationalError, RaiseError), match="published"):  # the database refuses it
        async with tenant_transaction(d["t"].id):
            await CompanyRating.filter(snapshot_id=published.id).update(score=Decimal("1.00"))
    assert (await gql(RANKS, d["other_admin"], {"p": RATING_PERIOD}))["errors"][0]["extensions"]["code"] == "NOT_FOUND"


TYPED_SUBMIT = """mutation($in: SubmitScoresInput!) { submitScores(input: $in) { bodyCode scores notes
  items { itemCode points note } } }"""
MISSING = """query($p: String!) { missingScores(period: $p)
  missingScoreSheets(period: $p) { compoundId bodyCodes compound { code } } }"""


def _problems(body: dict) -> list[tuple[str, str]]:
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INVALID_INPUT"], body
    return [(p["field"], p["reason"]) for p in body["errors"][0]["extensions"]["problems"]]


async def test_a_sheet_given_as_typed_items_is_stored_as_the_json_one(district, gql):
    d, ids = district, district["ids"]
    assert "errors" not in await gql('mutation { openAssessmentRound(period: "2026Q4") { state } }', d["admin"])
    full = sheet(d["rubric"], "party_org")
    codes_ = list(full)
    items = [{"itemCode": c, "points": p} for c, p in full.items()]
    items[0]["note"] = "公示栏缺一期"
    given = {"period": RATING_PERIOD, "compoundId": str(ids["K1"]), "bodyCode": "party_org"}

    # Mixed, absent, doubled or wrong: INVALID_INPUT naming the input's own field, nothing saved.
    assert _problems(await gql(TYPED_SUBMIT, d["admin"], {"in": given})) == [("items", "required")]
    both = await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": items, "scores": full}})
    assert _problems(both) == [("scores", "exclusive")]
    with_notes = await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": items, "notes": {codes_[0]: "x"}}})
    assert _problems(with_notes) == [("notes", "exclusive")]
    twice = await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": [*items, items[1]]}})
    assert _problems(twice) == [(f"items.{len(items)}.itemCode", "duplicate")]
    too_many = [dict(i) for i in items]
    too_many[1]["points"] = 999
    assert _problems(await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": too_many}})) == [
        ("items.1.points", "out_of_range")
    ]
    unknown = [*items[:-1], {"itemCode": "nonsense", "points": 1, "note": "\u3000" * 501}]
    assert _problems(await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": unknown}})) == [
        (f"items.{len(items) - 1}.itemCode", "unknown_item"),
        ("items", "required"),  # the item left out
        (f"items.{len(items) - 1}.note", "invalid"),
    ]
    short = await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": items[1:]}})
    assert _problems(short) == [("items", "required")]  # the item left out
    assert _problems(await gql(TYPED_SUBMIT, d["admin"], {"in": {**given, "items": [], "scores": None}})) == [
        ("items", "required")
    ] * (len(items))

    missing = (await gql(MISSING, d["admin"], {"p": RATING_PERIOD}))["data"]
    bodies = ["party_org", "housing_dept", "owners_committee"]  # the configuration's order
    # Every compound under contract (K1 of P1, K3 of P2) misses every body; the typed list says what the JSON says.
    assert missing["missingScoreSheets"] == [
        {"compoundId": str(ids[k]), "bodyCodes": bodies, "compound": {"code": k}} for k in ("K1", "K3")
    ]
    assert {m["compoundId"]: m["bodyCodes"] for m in missing["missingScoreSheets"]} == missing["missingScores"]

    typed = await gql(TYPED_SUBMIT, d["street_officer_s1"], {"in": {**given, "items": items}})
    assert "errors" not in typed, typed
    stored = typed["data"]["submitScores"]
    # Stored as the JSON sheet is: points and notes by item code; read back as the same items.
    assert (stored["scores"], stored["notes"]) == (full, {codes_[0]: "公示栏缺一期"})
    assert stored["items"] == [{"itemCode": c, "points": p, "note": i.get("note")} for i in items
                               for c, p in [(i["itemCode"], i["points"])]]
    json_sheet = await submit_scores(gql, d["street_officer_s2"], d, "K3", "party_org", full, TYPED_SUBMIT)
    assert json_sheet["data"]["submitScores"]["items"] == [{**i, "note": None} for i in stored["items"]]
    after = (await gql(MISSING, d["admin"], {"p": RATING_PERIOD}))["data"]
    assert [m["bodyCodes"] for m in after["missingScoreSheets"]] == [bodies[1:], bodies[1:]]


async def test_two_runs_at_once_leave_one_snapshot(district):
    from tenants.assessment import rounds

    d = district
    async with tenant_transaction(d["t"].id):
        await rounds.open_round(access=SYSTEM, actor="admin", period_key=RATING_PERIOD)

    async def run():
        async with tenant_transaction(d["t"].id):
            return await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD)

    results = await asyncio.gather(run(), run())
    assert {s.id for s in results} == {results[0].id}
    async with tenant_transaction(d["t"].id):
        assert await RatingSnapshot.filter(period_key=RATING_PERIOD).count() == 1


async def test_the_hourly_job_opens_the_round_and_rates_on_schedule(district):
    d = district
    # 张家口's schedule (inherited): rate the last quarter on the 12th at 02:00 local (18:00 UTC the day before).
    with tenant_context(d["t"].id):
        early = await assessment_schedule.hourly(now=datetime(2027, 1, 11, 17, 0, tzinfo=UTC))  # 01:00 local
        first = await assessment_schedule.hourly(now=datetime(2027, 1, 11, 18, 0, tzinfo=UTC))  # 02:00 local
        second = await assessment_schedule.hourly(now=datetime(2027, 1, 11, 19, 0, tzinfo=UTC))
    assert (early["period"], early["rated"], first["rated"], second["rated"]) == (RATING_PERIOD, False, True, False)
    async with tenant_transaction(d["t"].id):
        assert await RatingSnapshot.filter(period_key=RATING_PERIOD).count() == 1
        assert await AuditEntry.filter(action="assessment.open").count() == 1  # the round, opened once


async def test_interviews_and_elimination_candidates(district, gql):
    d = district
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    await submit_scores(gql, d["street_officer_s2"], d, "K3", "party_org",
                        sheet(d["rubric"], "party_org", Fraction(1, 4)))
    await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org", sheet(d["rubric"], "party_org"))
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
    await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"])
    black = (
        await gql(
            '{ redBlackList(period: "2026Q4") { commended { companyId } interviewed { companyId } } }',
            d["housing_dept"],
        )
    )["data"]["redBlackList"]
    assert black == {
        "commended": [{"companyId": str(d["ids"]["P1"])}],
        "interviewed": [{"companyId": str(d["ids"]["P2"])}],
    }
    rec = await gql(
        """mutation($c: ID!) { recordInterview(input: {companyId: $c, period: "2026Q4",
      heldOn: "2026-12-01", attendees: ["住建局 王科长", "物业经理 李某"], outcome: "限期整改",
      followUp: "一个月内补齐保洁人员", followUpDue: "2027-02-20"}) { outcome followUpDue } }""",
        d["admin"],
        {"c": str(d["ids"]["P2"])},
    )
    assert rec["data"]["recordInterview"] == {"outcome": "限期整改", "followUpDue": "2027-02-20"}
    listed = await gql('{ interviews(period: "2026Q4") { companyId attendees } }', d["admin"])
    assert listed["data"]["interviews"][0]["attendees"] == ["住建局 王科长", "物业经理 李某"]
    trend = await gql(
        "query($c: ID!) { companyTrend(companyId: $c) { periodKey rank of mark listMark } }",
        d["admin"],
        {"c": str(d["ids"]["P2"])},
    )
    assert trend["data"]["companyTrend"] == [
        {"periodKey": "2026Q4", "rank": 2, "of": 2, "mark": "interviewed", "listMark": "INTERVIEWED"}
    ]
    candidates = (await gql("{ eliminationCandidates(year: 2026) { companyId reasons } }", d["admin"]))["data"][
        "eliminationCandidates"
    ]
    elimination = await _elimination(d)
    if elimination.enabled:
        assert candidates[0]["companyId"] == str(d["ids"]["P2"])
    else:
        assert candidates == []


async def _elimination(d):
    async with tenant_transaction(d["t"].id):
        return (await effective_config()).document.assessment.elimination


async def test_the_county_office_exports_a_period_as_csv_and_xlsx(district, gql, client):
    import csv as csv_module
    import io

    from openpyxl import load_workbook

    d = district
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org", sheet(d["rubric"], "party_org"))
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])

    def auth(token):
        return {"Authorization": f"Bearer {token}"}

    # By default the published ratings: none yet, so only the draft can be had, on request.
    assert (await client.get("/exports/ratings/2026Q4.csv", headers=auth(d["admin"]))).status_code == 404
    assert (await client.get("/exports/ratings/2026Q4.csv?draft=1", headers=auth(d["admin"]))).status_code == 200
    await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"])
    resp = await client.get("/exports/ratings/2026Q4.csv", headers=auth(d["admin"]))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert 'filename="ratings-2026Q4-r1.csv"' in resp.headers["content-disposition"]
    rows = list(csv_module.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[1][0] == "排名 rank" and [r[1] for r in rows[2:4]] == ["P1", "P2"]
    assert "xiahuayuan:v1" in rows[0][3] and "zhangjiakou:v1" in rows[0][3]  # the configuration versions used
    blank = [i for i, r in enumerate(rows) if r == []]
    compounds = rows[blank[0] + 2 : blank[1]]
    assert [(r[1], r[3]) for r in compounds] == [("K1", "P1"), ("K3", "P2")]
    breakdown = rows[blank[1] + 2 :]
    assert ["K1", "合计 score", "", "", "", compounds[0][4]] in breakdown
    xlsx = await client.get("/exports/ratings/2026Q4.xlsx", headers=auth(d["housing_dept"]))
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["企业排名", "小区明细", "评分明细"]
    assert [c.value for c in book["小区明细"][2]][1:4] == ["K1", "K1名", "P1"]
    assert (await client.get("/exports/ratings/2026Q4.csv", headers=auth(d["resident"]))).status_code == 403
    assert (await client.get("/exports/ratings/2026Q4.csv")).status_code == 401
    assert (await client.get("/exports/ratings/2026Q3.csv", headers=auth(d["admin"]))).status_code == 404
    assert (await client.get("/exports/ratings/2026Q4.csv", headers=auth(d["other_admin"]))).status_code == 404
    assert (await client.get("/exports/ratings/2026Q4.pdf", headers=auth(d["admin"]))).status_code == 400


async def test_bodies_that_have_not_scored_are_reminded_once_before_and_once_after_the_deadline(district):
    from datetime import timedelta

    from tenants.assessment import rounds
    from tenants.assessment.reminders import remind_missing
    from tenants.inbox.models import Notification
    from tenants.territory.access import Access
    from tenants.territory.people import PostKind
    from tenants.territory.people_service import assign_post, create_person

    d, ids = district, district["ids"]
    admin = Access(roles=frozenset({Role.TENANT_ADMIN}))
    with tenant_context(d["t"].id):
        person = await create_person(access=admin, actor="seed", user_id="committee-k1", name="业委会主任")
        await assign_post(
            access=admin,
            actor="seed",
            person_id=person.id,
            kind=PostKind.OWNERS_COMMITTEE,
            target_kind="compound",
            target_id=ids["K1"],
        )
        rnd = await rounds.open_round(access=SYSTEM, actor="admin", period_key=RATING_PERIOD)
        async with tenant_transaction(d["t"].id):
            lead = (await effective_config()).document.reminders.assessment_deadline_lead_hours
        assert (await remind_missing(now=rnd.deadline - timedelta(hours=lead + 1)))["due"] == 0  # not yet
        assert (await remind_missing(now=rnd.deadline - timedelta(hours=1)))["due"] == 1
        assert (await remind_missing(now=rnd.deadline - timedelta(minutes=30)))["due"] == 0  # once
        assert (await remind_missing(now=rnd.deadline + timedelta(hours=1)))["late"] == 1
        assert (await remind_missing(now=rnd.deadline + timedelta(hours=2)))["late"] == 0
        async with tenant_transaction(d["t"].id):
            sent = await Notification.filter(recipient="committee-k1").order_by("id").values_list("kind", "body")
    assert [k for k, _ in sent] == ["assessment.due", "assessment.late"]
    assert "K1名" in sent[0][1] and "K3名" not in sent[0][1]  # only the compound they score


async def test_a_role_scores_only_where_that_role_was_granted_and_reads_only_its_sheets(district, gql, settings):
    d, ids = district, district["ids"]
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    # An owners' committee member of K1 who is also a community worker of C3 (K3's community).
    both = mint_token(
        settings,
        roles=[Role.OWNERS_COMMITTEE, Role.COMMUNITY_WORKER],
        tenant_slug="xiahuayuan",
        scope=(f"compound:{ids['K1']}/owners_committee", f"community:{ids['C3']}/community_worker"),
    )
    full = sheet(d["rubric"], "owners_committee")
    assert codes(await submit_scores(gql, both, d, "K3", "owners_committee", full)) == ["FORBIDDEN"]
    assert "errors" not in await submit_scores(gql, both, d, "K1", "owners_committee", full)
    assert "errors" not in await submit_scores(gql, both, d, "K3", "party_org", sheet(d["rubric"], "party_org"))
    assert "errors" not in await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org",
                                               sheet(d["rubric"], "party_org"))
    q = ('query($k: ID!) { scoreSubmissions(period: "2026Q4", compoundId: $k)'
         ' { bodyCode scores items { itemCode points } } }')
    mine = await gql(q, d["owners_committee_k1"], {"k": str(ids["K1"])})
    assert [s["bodyCode"] for s in mine["data"]["scoreSubmissions"]] == ["owners_committee"]  # not party_org's
    sub = mine["data"]["scoreSubmissions"][0]
    assert {i["itemCode"]: i["points"] for i in sub["items"]} == sub["scores"] == full  # typed items = the JSON
    assert codes(await gql(q, d["owners_committee_k1"], {"k": str(ids["K3"])})) == ["NOT_FOUND"]
    every = await gql(q, d["housing_dept"], {"k": str(ids["K1"])})
    assert [s["bodyCode"] for s in every["data"]["scoreSubmissions"]] == ["owners_committee", "party_org"]


async def test_nothing_can_be_added_to_a_published_snapshot(district, gql):
    d = district
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
    await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"])
    with pytest.raises((OperationalError, RaiseError), match="published"):
        async with tenant_transaction(d["t"].id):
            snap = await RatingSnapshot.get(period_key=RATING_PERIOD)
            await CompanyRating.create(
                snapshot_id=snap.id, company_id=d["ids"]["P1"], score=Decimal("99.00"), rank=0, breakdown={}
            )


async def test_tickets_and_findings_reach_the_rating(district, gql):
    """The database path end to end: K1 has one closed, satisfied, on-time ticket and one finding."""
    from datetime import timedelta

    from tenants.assessment import rounds as assessment_rounds
    from tenants.territory.access import resolve
    from tenants.tickets import intake, workflow

    d, ids = district, district["ids"]
    q4 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    async with tenant_transaction(d["t"].id):
        from tenants.territory.people import Person

        await Person.create(user_id="res-1", name="居民", household_id=ids["H1"])
        resident = await resolve(frozenset({Role.RESIDENT}), [f"household:{ids['H1']}"], "res-1")
        admin = await resolve(frozenset({Role.TENANT_ADMIN}), [], "admin")
        t = await intake.report(
            access=resident,
            actor="res-1",
            item_code="corridor_clutter",
            description="堆物",
            compound_id=ids["K1"],
            now=q4,
        )
        await workflow.dispatch(access=admin, actor="admin", ticket_id=t.id, now=q4)
        await workflow.accept(access=admin, actor="admin", ticket_id=t.id, now=q4)
        await workflow.resolve(access=admin, actor="admin", ticket_id=t.id, note="已清理", now=q4 + timedelta(hours=2))
        await workflow.rate(access=resident, actor="res-1", ticket_id=t.id, rating=5, now=q4 + timedelta(hours=3))
        supervisor = await resolve(frozenset({Role.SUPERVISOR}), [f"compound:{ids['K1']}/supervisor"], "sup-1")
        await assessment_rounds.record_finding(
            access=supervisor, actor="sup-1", compound_id=ids["K1"], description="消防通道堵塞", now=q4
        )
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
    body = await gql(
        'query { compoundRankings(period: "2026Q4") { edges { node { compound { code } breakdown'
        " scoreBreakdown { objective { input observedValue observed } } } } } }",
        d["admin"],
    )
    k1 = next(e["node"] for e in body["data"]["compoundRankings"]["edges"] if e["node"]["compound"]["code"] == "K1")
    observed = {line["input"]: line["value"] for line in k1["breakdown"]["objective"]}
    # The typed observed figure is the JSON's: rates of 100% and 1/3 ticket a month (0.33).
    assert {o["input"]: o["observedValue"] for o in k1["scoreBreakdown"]["objective"]} == {
        "closure_rate": "100.00", "satisfaction_rate": "100.00", "on_time_rate": "100.00",
        "monthly_ticket_volume": "0.33",
    } == {line["input"]: line["observed"] for line in k1["breakdown"]["objective"]}
    # K3 has no tickets: no rates (null, where the deprecated observed: JSON! cannot say null), no volume.
    k3 = next(e["node"] for e in body["data"]["compoundRankings"]["edges"] if e["node"]["compound"]["code"] == "K3")
    assert [o["observedValue"] for o in k3["scoreBreakdown"]["objective"]] == [None, None, None, "0.00"]
    # One ticket in the quarter, closed, resolved on time, rated satisfied: each rate 100; 1/3 ticket a month.
    assert {k: observed[k] for k in ("closure_rate", "satisfaction_rate", "on_time_rate")} == {
        "closure_rate": "100.00",
        "satisfaction_rate": "100.00",
        "on_time_rate": "100.00",
    }
    assert k1["breakdown"]["deductions"]["findings"] == 1  # recorded (张家口 does not deduct: findings are off)
    assert k1["breakdown"]["config_versions"] == {"zhangjiakou": 1, "xiahuayuan": 1}


async def test_monthly_ratings_list_firms_only_when_the_list_period_closes(app, gql, settings):
    from tenants.assessment import rounds as assessment_rounds

    t = await create_tenant(slug="sanbai", name="XX市", preset="sanbai")  # rates monthly, lists quarterly
    ids = await build(t.id)
    admin = Access(roles=frozenset({Role.TENANT_ADMIN}))
    async with tenant_transaction(t.id):
        doc = (await effective_config()).document.assessment
        assert (doc.cadence, doc.red_black_list.cadence) == ("monthly", "quarterly")
        for period in ("2026-07", "2026-09"):
            await assessment_rounds.open_round(access=SYSTEM, actor="admin", period_key=period)
            # Scored firms only are listed: the street party office scores both compounds within the window.
            for compound in ("K1", "K3"):
                await assessment_rounds.submit(
                    access=admin,
                    actor="admin",
                    period_key=period,
                    compound_id=ids[compound],
                    body_code="street_party_office",
                    scores={
                        i.code: i.max_points // (1 if compound == "K1" else 2)
                        for i in doc.rubric
                        if i.body == "street_party_office"
                    },
                    now=datetime(2026, int(period[-2:]) + 1, 2, tzinfo=UTC),
                )
            await ratings.compute(access=SYSTEM, period_key=period)
        marks = {
            p: sorted(
                m
                for m in await CompanyRating.filter(
                    snapshot_id=(await RatingSnapshot.get(period_key=p)).id
                ).values_list("mark", flat=True)
            )
            for p in ("2026-07", "2026-09")
        }
    assert set(marks["2026-07"]) == {"none"}
    assert set(marks["2026-09"]) != {"none"}  # September closes the quarter: the bottom firms are listed


async def test_elimination_candidates_when_the_tenant_eliminates(district, gql):
    d = district
    change = await gql(
        "mutation { changeConfig(input: {set: {assessment: {elimination: {enabled: true,"
        ' bottom_percent: 1, below_score: 0, black_list_times: 0}}}, comment: "末位淘汰"})'
        " { versionNo } }",
        d["admin"],
    )
    assert "errors" not in change, change
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org", sheet(d["rubric"], "party_org"))
    await submit_scores(gql, d["street_officer_s2"], d, "K3", "party_org",
                        sheet(d["rubric"], "party_org", Fraction(1, 4)))
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
    before = await gql("{ eliminationCandidates(year: 2026) { companyId } }", d["admin"])
    assert before["data"]["eliminationCandidates"] == []  # drafts do not count
    await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"])
    after = (await gql("{ eliminationCandidates(year: 2026) { companyId reasons } }", d["admin"]))["data"]
    # Two firms, bottom 1% rounds up to one: the lower one.
    assert after["eliminationCandidates"] == [{"companyId": str(d["ids"]["P2"]), "reasons": ["bottom 1%"]}]


LISTED = """query($p: String!) { companyRankings(period: $p) { edges { node { companyId score rank mark breakdown } } }
  redBlackList(period: $p) { commended { companyId } interviewed { companyId } heldOff { companyId } } }"""


async def test_an_unscored_or_tied_quarter_never_splits_firms_by_id(district, gql):
    d = district
    ids = d["ids"]
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])

    async def listed():
        await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
        body = (await gql(LISTED, d["admin"], {"p": RATING_PERIOD}))["data"]
        return [e["node"] for e in body["companyRankings"]["edges"]], body["redBlackList"]

    # No sheet at all and no tickets: each firm scores the ticket volume alone, 20% x 100 = 20.00. Before, the id
    # broke the tie: P1 was commended and P2 interviewed. Now neither firm, being unscored, is on a list.
    rows, board = await listed()
    assert [(Decimal(r["score"]), r["mark"]) for r in rows] == [(Decimal("20.00"), "NONE")] * 2
    both = [{"companyId": str(ids["P1"])}, {"companyId": str(ids["P2"])}]
    assert board == {"commended": [], "interviewed": [], "heldOff": both}
    assert rows[0]["breakdown"]["lists"] == {
        "scored": False,
        "red_black": {"mark": "none", "reason": "unscored", "ties": "all_on", "unscored": "off_lists"},
        "service_star": None,  # 张家口 awards no star
    }

    # The party organisation scores K1 and K3 alike (full marks): 80% x 100 + 20% x 100 = 100.00 each. 张家口's
    # top and bottom 10% of 2 firms are 1 each: both lists reach into the pair, which goes on neither.
    for token, compound in (("street_officer_s1", "K1"), ("street_officer_s2", "K3")):
        assert "errors" not in await submit_scores(gql, d[token], d, compound, "party_org",
                                                   sheet(d["rubric"], "party_org"))
    rows, board = await listed()
    assert [(r["companyId"], Decimal(r["score"]), r["rank"], r["mark"]) for r in rows] == [
        (str(ids["P1"]), Decimal("100.00"), 1, "NONE"),  # the unique rank stays for the table
        (str(ids["P2"]), Decimal("100.00"), 2, "NONE"),
    ]
    assert board == {"commended": [], "interviewed": [], "heldOff": both}
    assert {r["breakdown"]["lists"]["red_black"]["reason"] for r in rows} == {"tie_both_lists"}
    assert all(r["breakdown"]["lists"]["scored"] for r in rows)


async def test_elimination_without_a_share_takes_only_those_below_standard(district, gql):
    d = district
    change = """mutation($set: JSON!) { changeConfig(input: {set: $set, comment: "末位淘汰"}) { versionNo } }"""

    def rule(**kw):
        return {"assessment": {"elimination": {"enabled": True, "black_list_times": 0, **kw}}}

    # A rule that names nothing, and list rules outside their vocabulary, are refused whole.
    empty = await gql(change, d["admin"], {"set": rule(bottom_percent=0, below_score=0)})
    assert [(p["field"], p["reason"]) for p in empty["errors"][0]["extensions"]["problems"]] == [
        ("assessment.elimination", "no_criterion")
    ]
    bad = await gql(
        change,
        d["admin"],
        {"set": {"assessment": {"red_black_list": {"ties": "by_id", "unscored": "commend"}}}},
    )
    assert {p["field"].removeprefix("document.") for p in bad["errors"][0]["extensions"]["problems"]} == {
        "assessment.red_black_list.ties",
        "assessment.red_black_list.unscored",
    }
    # XX市's "eliminate those below standard": no share, a 60-point threshold.
    assert "errors" not in await gql(change, d["admin"], {"set": rule(bottom_percent=0, below_score=60)})
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org", sheet(d["rubric"], "party_org"))
    quarter = sheet(d["rubric"], "party_org", Fraction(1, 4))
    await submit_scores(gql, d["street_officer_s2"], d, "K3", "party_org", quarter)
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
    await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"])
    out = (await gql("{ eliminationCandidates(year: 2026) { companyId averageScore reasons } }", d["admin"]))["data"]
    # P1: 100.00, not below 60 and no share to fall into. P2: 80% x (a quarter of the party marks) + 20 < 60.
    party_max = sum(i.max_points for i in d["rubric"] if i.body == "party_org")
    p2 = (Decimal(sum(quarter.values()) * 100) / party_max * Decimal("0.8") + 20).quantize(Decimal("0.01"))
    assert p2 < 60
    assert out["eliminationCandidates"] == [
        {"companyId": str(d["ids"]["P2"]), "averageScore": str(p2), "reasons": ["below 60"]}
    ]


RECORD = """mutation($c: ID!, $p: String!, $o: String!) { recordInterview(input: {companyId: $c, period: $p,
  heldOn: "2026-12-01", attendees: ["街道 张主任"], outcome: $o}) { companyId periodKey recordedBy } }"""
LIST = "query($c: ID) { interviews(companyId: $c) { companyId periodKey } }"


async def test_a_street_interviews_and_reads_only_the_firms_of_its_street(district, gql, settings):
    d, ids = district, district["ids"]
    p1, p2 = str(ids["P1"]), str(ids["P2"])  # P1 serves K1 (street S1), P2 serves K3 (street S2), 2026-2028

    async def record(token, company, period="2026Q4", outcome="限期整改"):
        return await gql(RECORD, token, {"c": company, "p": period, "o": outcome})

    # S1's officer may not interview S2's firm; each street its own.
    denied = await record(d["street_officer_s1"], p2)
    assert codes(denied) == ["FORBIDDEN"] and denied["errors"][0]["extensions"]["field"] == "companyId"
    assert (await record(d["street_officer_s1"], p1))["data"]["recordInterview"]["companyId"] == p1
    assert (await record(d["street_officer_s2"], p2))["data"]["recordInterview"]["companyId"] == p2
    # In force during the period: in 2025Q4 P2 had no contract yet, so it was no firm of S2 then.
    assert codes(await record(d["street_officer_s2"], p2, period="2025Q4")) == ["FORBIDDEN"]
    assert "errors" not in await record(d["admin"], p2, period="2025Q4")  # the administration: any firm
    # A period is a month or a quarter; every problem at once, nothing saved.
    bad = await record(d["admin"], p1, period="2026Q5", outcome=" ")
    assert codes(bad) == ["INVALID_INPUT"]
    assert [(p["field"], p["reason"]) for p in bad["errors"][0]["extensions"]["problems"]] == [
        ("period", "format"),
        ("outcome", "format"),
    ]
    assert codes(await record(d["admin"], p1, period="x" * 40)) == ["INVALID_INPUT"]
    community = mint_token(settings, roles=[Role.COMMUNITY_WORKER], tenant_slug="xiahuayuan",
                           scope=(f"community:{ids['C1']}",))
    assert codes(await record(community, p1)) == ["FORBIDDEN"]

    async def listed(token, company=None):
        body = await gql(LIST, token, {"c": company})
        assert "errors" not in body, body
        return sorted((i["companyId"], i["periodKey"]) for i in body["data"]["interviews"])

    assert await listed(d["admin"]) == [(p1, "2026Q4"), (p2, "2025Q4"), (p2, "2026Q4")]
    assert await listed(d["street_officer_s1"]) == [(p1, "2026Q4")]
    assert await listed(d["street_officer_s1"], p2) == []  # asking for another street's firm reads nothing
    # S2 reads its firm's interview of 2026Q4, not that of 2025Q4 (P2 was no firm of S2 then).
    assert await listed(d["street_officer_s2"]) == [(p2, "2026Q4")]
    firm = mint_token(settings, roles=[Role.PROPERTY_COMPANY], tenant_slug="xiahuayuan", scope=(f"company:{p2}",))
    assert await listed(firm) == [(p2, "2025Q4"), (p2, "2026Q4")]
    assert await listed(firm, p1) == []
    assert codes(await gql('{ interviews(period: "2026-13") { id } }', d["admin"])) == ["INVALID_INPUT"]
    # Another tenant sees none of it and cannot name this tenant's firms.
    assert await listed(d["other_admin"]) == []
    assert codes(await record(d["other_admin"], p1)) == ["NOT_FOUND"]
