"""Configuration schema 5 (issue 19 part A): the upgrade of stored documents, the checks of the new fields, the
presets' rubric lines scored from meeting records, and those lines in the scores and the rating run's breakdown."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.assessment import ratings
from tenants.assessment import rounds as assessment_rounds
from tenants.assessment.models import AssessmentRound, CompoundRating, ScoreSubmission
from tenants.assessment.scoring import CompoundInputs, score_compound
from tenants.config.assessment import Assessment
from tenants.config.checks import cross_checks
from tenants.config.document import ConfigDocument
from tenants.config.merge import effective
from tenants.config.upgrade import _V5_WHOLE, upgrade_document
from tenants.meetings import compliance
from tenants.presets import load_preset, preset_chain
from tenants.scope import tenant_context, tenant_transaction
from tenants.territory.access import SYSTEM
from tests.conftest import codes
from tests.fixtures.territory import build

D = Decimal
CHANGE = """mutation($set: JSON) { changeConfig(input: {set: $set, comment: "联席会议"}) { versionNo } }"""
NOVEMBER = "2026-11"
DECEMBER_1 = datetime(2026, 11, 30, 17, 30, tzinfo=UTC)  # 2026-12-01 01:30 in Asia/Shanghai


@cache
def document(name: str) -> ConfigDocument:
    return effective([(p.name, p.overrides) for p in preset_chain(name)])[0]


def raw(name: str) -> dict:
    """A preset's whole document as JSON, to break for the checks."""
    return document(name).model_dump(mode="json")


# The upgrade -----------------------------------------------------------------------------------------------------


def test_a_stored_document_of_schema_4_takes_the_defaults():
    """A root document gets the owed-interview and meeting fields; every rubric line, in a root or a district, is
    entered by its body (as before); a district inherits the rest from its city."""
    old = copy.deepcopy(load_preset("linshu").overrides)
    for line in old["assessment"]["rubric"]:
        line.pop("source", None)
    for section, name, key in (path for path, _ in _V5_WHOLE):
        del old[section][name][key]
    upgraded, filled = upgrade_document(old, 4, root=True)
    assert filled == [
        "assessment.red_black_list.interview_within_days",
        "assessment.red_black_list.interview_reminder_days",
        "party.joint_meeting.level",
        "party.joint_meeting.decision_reminder_days",
        "party.joint_meeting.decision_escalation_days",
        *(f"assessment.rubric.{i}.source" for i in range(9)),
    ]
    doc = effective([("linshu", upgraded)])[0]
    assert {i.source for i in doc.assessment.rubric} == {"body"}
    rb, meeting = doc.assessment.red_black_list, doc.party.joint_meeting
    assert (rb.interview_within_days, rb.interview_reminder_days) == (30, 7)
    assert (meeting.level, meeting.decision_reminder_days, meeting.decision_escalation_days) == ("community", 3, 1)
    assert "source" not in old["assessment"]["rubric"][0]  # the stored document itself is untouched
    district = {"assessment": {"red_black_list": {"commend_top": 15}, "rubric": [{"code": "x", "title": "细则",
                                                                                  "max_points": 10, "body": "b"}]}}
    upgraded, filled = upgrade_document(district, 4, root=False)
    assert filled == ["assessment.rubric.0.source"]
    assert upgraded["assessment"]["red_black_list"] == {"commend_top": 15}  # the city's days are not shadowed


# The checks ------------------------------------------------------------------------------------------------------


def problems(doc: dict) -> list[tuple[str, str]]:
    found = cross_checks(doc)
    assert all(p.message_zh and p.message_en for p in found)  # bilingual
    return [(p.field, p.reason) for p in found]


def test_every_preset_passes_the_new_checks():
    for name in ("linshu", "shuangluan", "sanbai", "zhangjiakou", "xuanhua", "xiahuayuan"):
        assert problems(raw(name)) == [], name


def test_a_line_scored_from_meetings_needs_the_meetings():
    doc = raw("linshu")
    doc["party"]["joint_meeting"]["enabled"] = False
    assert problems(doc) == [("assessment.rubric.1.source", "needs_joint_meeting")]
    found = cross_checks(doc)[0]
    assert "four_in_one_meeting" in found.message_en and "party.joint_meeting.enabled" in found.message_zh
    doc["assessment"]["rubric"][1]["source"] = "body"  # entered by the body again: no meetings needed
    assert problems(doc) == []


def test_an_interview_is_reminded_before_its_deadline_and_a_decision_before_the_next_meeting():
    doc = raw("xuanhua")
    doc["assessment"]["red_black_list"] |= {"interview_within_days": 7, "interview_reminder_days": 7}
    assert problems(doc) == [("assessment.red_black_list.interview_reminder_days", "range_order")]
    doc["assessment"]["red_black_list"]["interview_reminder_days"] = 6
    assert problems(doc) == []
    doc = raw("shuangluan")  # monthly meetings: both within 28 days
    doc["party"]["joint_meeting"] |= {"decision_reminder_days": 28, "decision_escalation_days": 30}
    assert problems(doc) == [("party.joint_meeting.decision_reminder_days", "range_order"),
                             ("party.joint_meeting.decision_escalation_days", "range_order")]
    doc["party"]["joint_meeting"]["cadence"] = "quarterly"  # 90 days
    assert problems(doc) == []
    # A broken value is validation's to name; the cross-check does not guess around it.
    doc["party"]["joint_meeting"]["decision_reminder_days"] = "28"
    assert problems(doc) == []


async def test_a_tenant_admin_is_told_which_path_breaks_the_rule(district, gql):
    d = district  # 临沭 is the district's other tenant
    body = await gql(CHANGE, d["other_admin"], {"set": {"party": {"joint_meeting": {"enabled": False}}}})
    assert codes(body) == ["INVALID_INPUT"], body
    found = body["errors"][0]["extensions"]["problems"]
    assert [(p["field"], p["reason"]) for p in found] == [("assessment.rubric.1.source", "needs_joint_meeting")]


# The presets -----------------------------------------------------------------------------------------------------


def sources(name: str) -> dict[str, str]:
    return {i.code: i.source for i in document(name).assessment.rubric if i.source != "body"}


def test_the_presets_score_their_meeting_lines_from_records():
    assert sources("linshu") == {"four_in_one_meeting": "meeting_compliance"}
    assert sources("shuangluan") == {"joint_meeting_followup": "decisions_on_time"}
    assert sources("sanbai") == {"round_table_followup": "decisions_on_time"}
    assert sources("zhangjiakou") == sources("xuanhua") == sources("xiahuayuan") == {}
    levels = {n: document(n).party.joint_meeting.level for n in ("linshu", "shuangluan", "sanbai")}
    assert levels == {"linshu": "community", "shuangluan": "community", "sanbai": "compound"}
    assert all(document(n).party.joint_meeting.enabled for n in ("linshu", "shuangluan", "sanbai"))
    # 宣化: the top 15 commended 表彰挂牌, the bottom 5 interviewed 集中约谈, within the city's 30 days.
    rb = document("xuanhua").assessment.red_black_list
    assert (rb.enabled, rb.basis, rb.commend_top, rb.interview_bottom) == (True, "count", 15, 5)
    assert (rb.interview_within_days, rb.interview_reminder_days) == (30, 7)


# Scoring ---------------------------------------------------------------------------------------------------------

LINSHU: Assessment = document("linshu").assessment
# 临沭: community_party_org 40 (grievance_handling 40, four_in_one_meeting 30, daily_service 30), street_party_org
# 30 and owners_committee 30 (100 points each). Without ticket data the score is the body part.


def full_sheets(a: Assessment) -> dict[str, dict[str, int]]:
    """Every body's sheet at full marks, the meeting line included (the body cannot enter it: ignored)."""
    return {b: {i.code: i.max_points for i in a.rubric if i.body == b} for b in a.bodies}


def linshu_compound(key: int, share: Fraction | None, **kw) -> CompoundInputs:
    return CompoundInputs(key, kw.pop("subs", full_sheets(LINSHU)), None, None, None, None, [],
                          sourced={"meeting_compliance": share})


def meeting_line(breakdown: dict) -> dict:
    return next(i for p in breakdown["bodies"] for i in p["items"] if i["code"] == "four_in_one_meeting")


def test_a_line_scored_from_records_gives_max_points_times_the_share():
    met, missed, unknown = (score_compound(LINSHU, linshu_compound(k, s))
                            for k, s in ((1, Fraction(1)), (2, Fraction(0)), (3, None)))
    # Met: every body 100 -> 100.00. Missed: community 70 of 100, (40 x 70 + 30 x 100 + 30 x 100) / 100 = 88.00.
    assert (met.score, missed.score, unknown.score) == (D("100.00"), D("88.00"), D("88.00"))
    assert meeting_line(met.breakdown) == {"code": "four_in_one_meeting", "title": "参加“四位一体”联席会议",
                                           "points": "30.00", "max_points": 30, "source": "meeting_compliance",
                                           "share": "100.00"}
    assert meeting_line(missed.breakdown) | {"title": ""} == {
        "code": "four_in_one_meeting", "title": "", "points": "0.00", "max_points": 30,
        "source": "meeting_compliance", "share": "0.00"}
    # No record: 0 and said so, on the line and in the notes; the 30 points are not spread over the other lines.
    assert meeting_line(unknown.breakdown)["note"] == "no_meeting_data"
    assert meeting_line(unknown.breakdown)["share"] is None and "no_meeting_data" in unknown.breakdown["notes"]
    assert "no_meeting_data" not in missed.breakdown["notes"]
    community = next(p for p in missed.breakdown["bodies"] if p["code"] == "community_party_org")
    assert (community["score"], community["contribution"]) == ("70.00", "28.00")
    # The body's own lines as entered, ints as before.
    assert [i["points"] for i in community["items"]] == [40, "0.00", 30]


def test_a_share_is_exact_to_the_hundredth():
    # 5/9 of 30 = 16.666.. -> 16.67; community (40 + 16.67 + 30) = 86.67; (40 x 86.67 + 6000) / 100 = 94.668
    s = score_compound(LINSHU, linshu_compound(4, Fraction(5, 9)))
    assert (meeting_line(s.breakdown)["points"], meeting_line(s.breakdown)["share"]) == ("16.67", "55.56")
    assert s.score == D("94.67") and s.body_part == D("94.67")
    rows = s.breakdown["bodies"]
    assert [r["contribution"] for r in rows] == ["34.67", "30.00", "30.00"]
    # Out of range is clamped; a body's missing sheet leaves its part out, the meeting line with it.
    assert score_compound(LINSHU, linshu_compound(5, Fraction(3, 2))).score == D("100.00")
    subs = full_sheets(LINSHU)
    del subs["community_party_org"]
    left_out = score_compound(LINSHU, linshu_compound(6, Fraction(1), subs=subs))
    assert left_out.score == D("100.00") and meeting_line(left_out.breakdown)["points"] is None


def test_a_part_whose_lines_all_come_from_records_counts_without_a_sheet():
    rubric = [i.model_copy(update={"source": "meeting_compliance"}) if i.body == "street_party_org" else i
              for i in LINSHU.rubric]
    a = LINSHU.model_copy(update={"rubric": rubric})
    subs = full_sheets(a)
    del subs["street_party_org"]
    s = score_compound(a, linshu_compound(7, Fraction(1, 2), subs=subs))
    # Half of every sourced line: community 40 + 15 + 30 = 85, street 50: (40 x 85 + 30 x 50 + 30 x 100) / 100
    assert s.score == D("79.00")
    street = next(p for p in s.breakdown["bodies"] if p["code"] == "street_party_org")
    assert (street["submitted"], street["score"], [i["points"] for i in street["items"]]) == (
        False, "50.00", ["15.00", "20.00", "15.00"])


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_lines_from_records_keep_the_score_in_bounds_and_the_breakdown_whole(data):
    """Any preset with such lines, any sheets, any shares (or none): the line is max_points x the clamped share to
    the hundredth, the score within 0-100 with two places, the contributions add up to it."""
    a = document(data.draw(st.sampled_from(["linshu", "shuangluan", "sanbai"]))).assessment
    subs = {b: {i.code: data.draw(st.integers(-5, i.max_points + 5)) for i in a.rubric if i.body == b}
            for b in a.bodies if data.draw(st.booleans())}
    share = data.draw(st.none() | st.fractions(Fraction(-1, 2), Fraction(3, 2), max_denominator=1000))
    rate = st.none() | st.integers(0, 10_000)
    inputs = CompoundInputs(1, subs, data.draw(rate), data.draw(rate), data.draw(rate),
                            data.draw(st.none() | st.decimals(0, 60, places=2)), [],
                            sourced={"meeting_compliance": share, "decisions_on_time": share})
    s = score_compound(a, inputs)
    assert D(0) <= s.score <= D(100) and s.score.as_tuple().exponent == -2
    parts = s.breakdown.get("bodies", s.breakdown.get("dimensions", []))
    lines = sum((D(r["contribution"]) for r in [*parts, *s.breakdown["objective"], *s.breakdown["adjustments"]]),
                D(0))
    assert lines + D(s.breakdown["deductions"]["contribution"]) == s.score
    for part in parts:
        for item in part["items"]:
            if "source" in item and item["points"] is not None:
                clamped = None if share is None else min(max(share, Fraction(0)), Fraction(1))
                want = 0 if clamped is None else round(Fraction(item["max_points"]) * clamped * 100)
                got = D(item["points"]) * 100
                assert abs(got - want) <= 1 and (clamped is None) == ("note" in item)


# The rating run --------------------------------------------------------------------------------------------------


RANKINGS = """query($period: String!) { compoundRankings(period: $period) { edges { node { score
  scoreBreakdown { parts { items { code points awarded source share note } } } } } } }"""


async def test_the_rating_run_fills_the_meeting_line_of_every_compound(district, monkeypatch, gql):
    """临沭, November 2026, rated on 1 December (Asia/Shanghai): K1 met every month, K3 held no meeting. The
    meetings part is parallel: its ``rubric_inputs`` is faked with the shares it contracts to give."""
    d = district
    linshu = d["other"]
    with tenant_context(linshu.id):
        ids = await build(linshu.id)
    asked: list[tuple[str, list[int]]] = []

    async def fake(period_key: str, compound_ids: list[int]) -> dict:
        asked.append((period_key, list(compound_ids)))
        return {(ids["K1"], "meeting_compliance"): Fraction(1), (ids["K3"], "meeting_compliance"): Fraction(0)}

    monkeypatch.setattr(compliance, "rubric_inputs", fake)
    async with tenant_transaction(linshu.id):
        await assessment_rounds.open_round(access=SYSTEM, actor="admin", period_key=NOVEMBER, now=DECEMBER_1)
        rnd = await AssessmentRound.get(period_key=NOVEMBER)
        await ScoreSubmission.bulk_create([
            ScoreSubmission(round_id=rnd.id, compound_id=ids[k], body_code=body, revision=1, scores=scores,
                            submitted_by="admin", submitted_at=DECEMBER_1, late_entry=False)
            for k in ("K1", "K3") for body, scores in full_sheets(LINSHU).items()
        ])
        snap = await ratings.compute(access=SYSTEM, period_key=NOVEMBER, now=DECEMBER_1)
        rows = {r.compound_id: r for r in await CompoundRating.filter(snapshot_id=snap.id)}
    assert asked == [(NOVEMBER, [ids["K1"], ids["K3"]])]  # once, every compound under contract
    met, missed = rows[ids["K1"]], rows[ids["K3"]]
    # No tickets: the volume input alone scores 100 (0 a month), the other rates have no data. Body share 60,
    # objective 40: K1 0.6 x 100 + 40 = 100.00; K3 0.6 x 88 + 40 = 92.80 (its community body 70: no meeting).
    assert (met.score, missed.score) == (D("100.00"), D("92.80"))
    assert (met.body_part, missed.body_part) == (D("100.00"), D("88.00"))
    assert (meeting_line(met.breakdown)["points"], meeting_line(missed.breakdown)["points"]) == ("30.00", "0.00")
    assert {meeting_line(r.breakdown)["source"] for r in (met, missed)} == {"meeting_compliance"}
    assert met.rank == 1 and missed.rank == 2
    # The typed breakdown shows the line with its source, its points to the hundredth.
    body = await gql(RANKINGS, d["other_admin"], {"period": NOVEMBER})
    assert "errors" not in body, body
    lines = [[i for p in e["node"]["scoreBreakdown"]["parts"] for i in p["items"] if i["code"] == "four_in_one_meeting"]
             for e in body["data"]["compoundRankings"]["edges"]]
    assert lines == [
        [{"points": 30, "awarded": "30.00", "source": "MEETING_COMPLIANCE", "share": "100.00", "note": None,
          "code": "four_in_one_meeting"}],
        [{"points": 0, "awarded": "0.00", "source": "MEETING_COMPLIANCE", "share": "0.00", "note": None,
          "code": "four_in_one_meeting"}],
    ]


async def test_an_assessment_without_such_lines_never_asks_the_meetings(district, monkeypatch):
    d = district  # 下花园区: every line entered by a body

    async def refuse(*args, **kwargs):
        raise AssertionError("no rubric line is scored from records")

    monkeypatch.setattr(compliance, "rubric_inputs", refuse)
    async with tenant_transaction(d["t"].id):
        await assessment_rounds.open_round(access=SYSTEM, actor="admin", period_key="2026Q4", now=DECEMBER_1)
        snap = await ratings.compute(access=SYSTEM, period_key="2026Q4", now=DECEMBER_1)
        rows = await CompoundRating.filter(snapshot_id=snap.id)
    assert rows and all("source" not in i for r in rows for p in r.breakdown["bodies"] for i in p["items"])


def test_the_api_names_exactly_the_configured_sources():
    from typing import get_args

    from api.assessment.modes import RubricLineSource
    from tenants.config.assessment import RubricItem

    assert {m.value for m in RubricLineSource} == set(get_args(RubricItem.model_fields["source"].annotation))
    assert set(compliance.SOURCES) == {m.value for m in RubricLineSource} - {"body"}


def test_a_body_does_not_enter_a_line_scored_from_records():
    from tenants.assessment.rounds import check_sheet

    doc = document("linshu")
    entered = {"grievance_handling": 40, "daily_service": 30}
    assert check_sheet(doc, "community_party_org", entered, {}) == []  # the meeting line is not required
    found = check_sheet(doc, "community_party_org", entered | {"four_in_one_meeting": 30}, {})
    assert [(p.field, p.reason) for p in found] == [("scores.four_in_one_meeting", "from_records")]
    assert "meeting_compliance" in found[0].message_en and found[0].message_zh
