"""Pure scoring rules: hand-computed compounds under 下花园区 and 张家口市 weights, 三个百分百, lists, properties."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tenants.assessment.ranking import Placement, red_black_places, star_places
from tenants.assessment.scoring import (
    CompoundInputs,
    CompoundScore,
    Ranked,
    combine_company,
    rank,
    red_black,
    score_compound,
    service_stars,
)
from tenants.config.assessment import Assessment
from tenants.config.merge import effective
from tenants.presets import preset_chain

D = Decimal


@cache
def preset(name: str) -> Assessment:
    return effective([(p.name, p.overrides) for p in preset_chain(name)])[0].assessment


def with_findings(a: Assessment) -> Assessment:
    """The preset with supervisor findings on: 2 points a finding, 1 if resolved in time, at most 10."""
    return a.model_copy(update={"supervisor_findings": a.supervisor_findings.model_copy(update={"enabled": True})})


def sheet(body_points: dict[str, list[int]], a: Assessment) -> dict[str, dict[str, int]]:
    """Submissions from points listed in rubric order per body."""
    out = {}
    for body, points in body_points.items():
        codes = [i.code for i in a.rubric if i.body == body]
        assert len(codes) == len(points)
        out[body] = dict(zip(codes, points, strict=True))
    return out


ZJK = preset("zhangjiakou")
# Body maxima in the 张家口 rubric: party_org 4 x 25, owners_committee 4 x 25, housing_dept 30+30+20+20 = 100 each,
# so a body's score is the sum of its points. Objective weights 30/40/20/10, volume 8 (100) .. 30 (0),
# body share 80, objective share 20.
A_POINTS = {"party_org": [25, 25, 23, 22], "owners_committee": [20, 20, 20, 20], "housing_dept": [21, 21, 14, 14]}
B_POINTS = {"party_org": [20, 20, 20, 20], "owners_committee": [25, 25, 25, 20], "housing_dept": [30, 28, 19, 18]}
C_POINTS = {"party_org": [15, 15, 15, 15], "owners_committee": [20, 20, 15, 15], "housing_dept": [20, 20, 13, 12]}


def compound_a(**kw: Any) -> CompoundInputs:
    # bodies 95 / 80 / 70; objective 95, 90, 80, volume 8 -> 100:
    # (30x95 + 40x90 + 20x80 + 10x100) / 100 = 90.50; one finding, resolved in time: 1 point
    args: dict[str, Any] = dict(
        compound_id=101,
        submissions=sheet(A_POINTS, ZJK),
        closure_rate_bp=9500,
        satisfaction_rate_bp=9000,
        on_time_rate_bp=8000,
        tickets_per_month=D("8"),
        findings=[True],
    )
    return CompoundInputs(**(args | kw))


# bodies 80 / 95 / 95; objective 94, 95, 90, volume 13.5 -> 100 x (30-13.5)/22 = 75:
# (30x94 + 40x95 + 20x90 + 10x75) / 100 = 91.70; no findings
COMPOUND_B = CompoundInputs(102, sheet(B_POINTS, ZJK), 9400, 9500, 9000, D("13.5"), [])
# bodies 60 / 70 / 65; objective 80, 75.5, on-time without data, volume 24.5 -> 100 x 5.5/22 = 25:
# the on-time weight 20 is spread: (30x80 + 40x75.5 + 10x25) / 80 = 5670/80 = 70.875;
# 5 findings late (2 each) + 1 in time (1) = 11 points, capped at 10
COMPOUND_C = CompoundInputs(103, sheet(C_POINTS, ZJK), 8000, 7550, None, D("24.5"), [False] * 5 + [True])


def contributions(b: dict) -> Decimal:
    rows = b.get("bodies", b.get("dimensions", []))
    return (
        sum((D(r["contribution"]) for r in rows), D(0))
        + sum((D(r["contribution"]) for r in b["objective"]), D(0))
        + D(b["deductions"]["contribution"])
        + sum((D(r["contribution"]) for r in b["adjustments"]), D(0))
    )


def test_three_compounds_under_xiahuayuan_weights():
    a = with_findings(preset("xiahuayuan"))
    assert {c: b.weight for c, b in a.bodies.items()} == {"party_org": 70, "owners_committee": 15, "housing_dept": 15}
    sa, sb, sc = (score_compound(a, i) for i in (compound_a(), COMPOUND_B, COMPOUND_C))

    # A: body part (70x95 + 15x80 + 15x70)/100 = 89.00; 0.8 x 89 + 0.2 x 90.5 = 71.20 + 18.10 = 89.30; - 1
    assert (sa.score, sa.body_part, sa.objective_part, sa.deductions) == (D("88.30"), D("89.00"), D("90.50"), D(1))
    # B: (70x80 + 15x95 + 15x95)/100 = 84.50; 0.8 x 84.5 + 0.2 x 91.7 = 67.60 + 18.34 = 85.94
    assert (sb.score, sb.body_part, sb.objective_part, sb.deductions) == (D("85.94"), D("84.50"), D("91.70"), D(0))
    # C: (70x60 + 15x70 + 15x65)/100 = 62.25; 0.8 x 62.25 + 0.2 x 70.875 = 49.80 + 14.175 = 63.975; - 10 = 53.975
    assert (sc.score, sc.body_part, sc.objective_part, sc.deductions) == (D("53.98"), D("62.25"), D("70.88"), D(10))

    # The breakdown of C, line by line: 80% x 70% x 60 = 33.60, 80% x 15% x 70 = 8.40, 80% x 15% x 65 = 7.80;
    # objective 20% x 30/80 x 80 = 6.00, 20% x 40/80 x 75.5 = 7.55, 20% x 10/80 x 25 = 0.625 -> 0.63; -10.
    b = sc.breakdown
    assert [(r["code"], r["effective_weight"], r["score"], r["contribution"]) for r in b["bodies"]] == [
        ("party_org", "56.00", "60.00", "33.60"),
        ("owners_committee", "12.00", "70.00", "8.40"),
        ("housing_dept", "12.00", "65.00", "7.80"),
    ]
    assert [(r["input"], r["value"], r["effective_weight"], r["contribution"]) for r in b["objective"]] == [
        ("closure_rate", "80.00", "7.50", "6.00"),
        ("satisfaction_rate", "75.50", "10.00", "7.55"),
        ("on_time_rate", None, "0.00", "0.00"),
        ("monthly_ticket_volume", "25.00", "2.50", "0.63"),
    ]
    assert b["deductions"] == {
        "enabled": True,
        "findings": 6,
        "in_time": 1,
        "points": "10.00",
        "contribution": "-10.00",
    }
    assert b["notes"] == ["findings_capped"] and b["adjustments"] == [] and b["score"] == "53.98"
    assert b["bodies"][0]["items"][0] == {
        "code": "party_coverage",
        "title": "物业企业党的组织和工作覆盖",
        "points": 15,
        "max_points": 25,
    }
    assert all(contributions(s.breakdown) == s.score for s in (sa, sb, sc))

    ranked = rank([(s.compound_id, s.score, s.body_part, s.deductions) for s in (sc, sa, sb)])
    assert [(r.key, r.rank) for r in ranked] == [(101, 1), (102, 2), (103, 3)]
    # 张家口 preset: percent basis, 10% / 10% of 3 ranked -> ceil(0.3) = 1 each
    assert red_black(a, ranked) == ([101], [103])
    small = a.red_black_list.model_copy(update={"basis": "count", "commend_top": 2, "interview_bottom": 2})
    # 2 + 2 > 3: the bottom two are interviewed in full, the commendation keeps what is left above them
    assert red_black(a.model_copy(update={"red_black_list": small}), ranked) == ([101], [102, 103])
    stars = a.service_star.model_copy(update={"enabled": True, "top_n": 2, "min_score": 85})
    assert service_stars(a.model_copy(update={"service_star": stars}), ranked) == [101, 102]
    assert service_stars(a, ranked) == []  # disabled in the preset


def test_the_same_compounds_under_zhangjiakou_weights():
    a = with_findings(ZJK)
    assert {c: b.weight for c, b in a.bodies.items()} == {"party_org": 40, "owners_committee": 30, "housing_dept": 30}
    sa, sb, sc = (score_compound(a, i) for i in (compound_a(), COMPOUND_B, COMPOUND_C))
    # A: (40x95 + 30x80 + 30x70)/100 = 83.00; 0.8 x 83 + 18.10 = 84.50; - 1
    assert (sa.score, sa.body_part) == (D("83.50"), D("83.00"))
    # B: (40x80 + 30x95 + 30x95)/100 = 89.00; 0.8 x 89 + 18.34 = 89.54
    assert (sb.score, sb.body_part) == (D("89.54"), D("89.00"))
    # C: (40x60 + 30x70 + 30x65)/100 = 64.50; 0.8 x 64.5 + 14.175 = 65.775; - 10 = 55.775
    assert (sc.score, sc.body_part) == (D("55.78"), D("64.50"))
    assert all(contributions(s.breakdown) == s.score for s in (sa, sb, sc))

    ranked = rank([(s.compound_id, s.score, s.body_part, s.deductions) for s in (sa, sb, sc)])
    assert [(r.key, r.rank) for r in ranked] == [(102, 1), (101, 2), (103, 3)]
    assert red_black(a, ranked) == ([102], [103])
    stars = a.service_star.model_copy(update={"enabled": True, "top_n": 2, "min_score": 85})
    assert service_stars(a.model_copy(update={"service_star": stars}), ranked) == [102]  # A's 83.50 is below 85


def test_a_missing_body_is_redistributed_or_scored_zero():
    a = with_findings(preset("xiahuayuan"))
    no_owners = compound_a(submissions={k: v for k, v in sheet(A_POINTS, ZJK).items() if k != "owners_committee"})

    spread = score_compound(a, no_owners)
    # (70x95 + 15x70) / 85 = 7700/85 = 90.588...; 80% x 7700/85 = 72.4706 + 18.10 - 1 = 89.5706
    assert (spread.score, spread.body_part) == (D("89.57"), D("90.59"))
    owners = spread.breakdown["bodies"][1]
    assert (owners["submitted"], owners["score"], owners["effective_weight"], owners["contribution"]) == (
        False,
        None,
        "0.00",
        "0.00",
    )
    assert owners["items"][0]["points"] is None
    # party 80 x 70/85 = 65.88% of the score, housing 80 x 15/85 = 14.12%
    assert [r["effective_weight"] for r in spread.breakdown["bodies"]] == ["65.88", "0.00", "14.12"]

    zero = score_compound(a.model_copy(update={"missing_body": "zero"}), no_owners)
    # (70x95 + 15x0 + 15x70) / 100 = 77.00; 0.8 x 77 + 18.10 - 1 = 78.70
    assert (zero.score, zero.body_part) == (D("78.70"), D("77.00"))
    assert zero.breakdown["bodies"][1]["score"] == "0.00"
    assert contributions(spread.breakdown) == spread.score and contributions(zero.breakdown) == zero.score


def test_no_body_or_no_objective_data():
    a = with_findings(preset("xiahuayuan"))
    nobody = score_compound(a, compound_a(submissions={}))
    # body part 0; the objective line stays at its 20%: 18.10 - 1
    assert (nobody.score, nobody.body_part) == (D("17.10"), D("0.00"))
    assert nobody.breakdown["notes"] == ["no_body_scores"]

    blind = score_compound(
        a, compound_a(closure_rate_bp=None, satisfaction_rate_bp=None, on_time_rate_bp=None, tickets_per_month=None)
    )
    # no ticket data: the score is the body part, 89.00 - 1
    assert (blind.score, blind.objective_part) == (D("88.00"), None)
    assert (blind.breakdown["body_share"], blind.breakdown["objective_share"]) == (100, 0)
    assert blind.breakdown["notes"] == ["no_objective_data"]
    assert blind.breakdown["bodies"][0]["effective_weight"] == "70.00"


def test_rounding_and_clamp_lines_keep_the_breakdown_exact():
    a = with_findings(ZJK)
    # closure 95.25: 20% x 30% x 95.25 = 5.715 -> 5.72; volume 18.945 -> 100 x 11.055/22 = 50.25, x 2% = 1.005 -> 1.01.
    # Exact: 66.40 + 5.715 + 7.20 + 3.20 + 1.005 - 1 = 82.52; the rounded lines make 82.53, so one cent back.
    s = score_compound(a, compound_a(closure_rate_bp=9525, tickets_per_month=D("18.945")))
    assert s.score == D("82.52")
    assert s.breakdown["adjustments"] == [{"reason": "rounding", "contribution": "-0.01"}]
    assert contributions(s.breakdown) == s.score

    harsh = a.supervisor_findings.model_copy(update={"points_per_finding": 50, "max_points_per_period": 100})
    low = score_compound(
        a.model_copy(update={"supervisor_findings": harsh}),
        compound_a(submissions={}, closure_rate_bp=0, satisfaction_rate_bp=0, on_time_rate_bp=0, findings=[False]),
    )
    # objective: volume 100 x 10% x 20% = 2.00; 2.00 - 50 < 0 -> held at 0 by a clamp line of +48.00
    assert low.score == D("0.00")
    assert low.breakdown["adjustments"] == [{"reason": "clamp", "contribution": "48.00"}]
    assert contributions(low.breakdown) == D(0)


def test_points_outside_the_rubric_bounds_are_clamped():
    a = preset("xiahuayuan")
    odd = sheet(A_POINTS, ZJK)
    odd["party_org"] = {"party_coverage": 40, "service_publicity": -3, "four_party_coordination": 25, "unknown": 9}
    s = score_compound(a, compound_a(submissions=odd))
    # party: 25 + 0 + 25 + 0 (grievance_response left out) = 50
    assert s.breakdown["bodies"][0]["score"] == "50.00"
    assert [i["points"] for i in s.breakdown["bodies"][0]["items"]] == [25, 0, 25, 0]


def test_three_hundred_percent_with_the_sanbai_preset():
    a = preset("sanbai")
    assert [(d.code, d.owner, d.weight) for d in a.dimensions] == [
        ("party_building_coverage", "street_party_office", 30),
        ("professional_service", "property_centre", 40),
        ("resident_satisfaction", "community_party_org", 30),
    ]

    def sheet3(party: list[int], service: list[int] | None, satisfaction: list[int]) -> dict[str, dict[str, int]]:
        points = {"street_party_office": party, "community_party_org": satisfaction}
        if service is not None:
            points["property_centre"] = service
        return sheet(points, a)

    def inputs(key: int, subs: dict[str, dict[str, int]]) -> CompoundInputs:
        # The round table's follow-up is scored from records (its decisions done on time), not from the sheet: the
        # share given here is the points the sheet lists, out of 30.
        done = Fraction(subs["community_party_org"].pop("round_table_followup"), 30)
        return CompoundInputs(key, subs, 9000, 9000, 9000, D(5), [False], sourced={"decisions_on_time": done})

    # Every dimension's items total 100 points. The objective weights are all 0 (share 0): no objective part.
    x = score_compound(a, inputs(201, sheet3([45, 40], [27, 36, 25], [63, 27])))
    # 85 / 88 / 90: (30x85 + 40x88 + 30x90)/100 = 25.50 + 35.20 + 27.00 = 87.70
    assert (x.score, x.objective_part, x.deductions) == (D("87.70"), None, D(0))
    rows = x.breakdown["dimensions"]
    assert [(r["code"], r["owner"], r["score"], r["contribution"]) for r in rows] == [
        ("party_building_coverage", "street_party_office", "85.00", "25.50"),
        ("professional_service", "property_centre", "88.00", "35.20"),
        ("resident_satisfaction", "community_party_org", "90.00", "27.00"),
    ]
    assert x.breakdown["mode"] == "three_hundred_percent" and "bodies" not in x.breakdown

    # The property centre did not submit: its dimension is left out, (30x100 + 30x95)/60 = 97.50
    y = score_compound(a, inputs(202, sheet3([50, 50], None, [66, 29])))
    assert y.score == D("97.50")
    assert [r["effective_weight"] for r in y.breakdown["dimensions"]] == ["50.00", "0.00", "50.00"]
    # 98 / 99 / 95: 29.40 + 39.60 + 28.50 = 97.50, the same score and body part as Y
    z = score_compound(a, inputs(203, sheet3([50, 48], [30, 40, 29], [70, 25])))
    assert z.score == D("97.50")
    zero = score_compound(a.model_copy(update={"missing_body": "zero"}), inputs(202, sheet3([50, 50], None, [66, 29])))
    assert zero.score == D("58.50")  # (30x100 + 40x0 + 30x95)/100
    assert all(contributions(s.breakdown) == s.score for s in (x, y, z, zero))

    # Y and Z tie on score, body part and deductions: the smaller id ranks first.
    ranked = rank([(s.compound_id, s.score, s.body_part, s.deductions) for s in (z, x, y)])
    assert [(r.key, r.rank) for r in ranked] == [(202, 1), (203, 2), (201, 3)]
    # The star goes to the top 1, but Y and Z share 97.50: the id may order the table, not decide the title.
    # 三个百分百's preset puts tied firms on a list together (ties = "all_on"); with "all_off" neither is starred.
    assert service_stars(a, ranked) == [202, 203]
    all_off = a.service_star.model_copy(update={"ties": "all_off"})
    assert service_stars(a.model_copy(update={"service_star": all_off}), ranked) == []
    assert red_black(a, ranked) == ([], [202, 203, 201])  # commend 0, interview the bottom 3


def test_rank_tie_breaks_and_list_sizes():
    rows = [
        (5, D("95.00"), D("90.00"), D("0.00")),
        (1, D("90.00"), D("80.00"), D("2.00")),
        (2, D("90.00"), D("85.00"), D("5.00")),
        (4, D("90.00"), D("85.00"), D("3.00")),
        (3, D("90.00"), D("85.00"), D("3.00")),
    ]
    expected = [Ranked(5, D("95.00"), 1), Ranked(3, D("90.00"), 2), Ranked(4, D("90.00"), 3)]
    expected += [Ranked(2, D("90.00"), 4), Ranked(1, D("90.00"), 5)]
    for seed in range(5):
        shuffled = rows[:]
        random.Random(seed).shuffle(shuffled)
        assert rank(shuffled) == expected

    xuanhua = preset("xuanhua")  # 宣化区: commend the top 15, interview the bottom 5
    twenty = rank([(k, D(100 - k), D(0), D(0)) for k in range(1, 21)])
    assert red_black(xuanhua, twenty) == (list(range(1, 16)), list(range(16, 21)))
    assert red_black(xuanhua, twenty[:3]) == ([], [1, 2, 3])
    assert red_black(xuanhua, []) == ([], [])
    off = xuanhua.model_copy(update={"red_black_list": xuanhua.red_black_list.model_copy(update={"enabled": False})})
    assert red_black(off, twenty) == ([], [])


def _with(a: Assessment, **lists: dict[str, Any]) -> Assessment:
    return a.model_copy(update={k: getattr(a, k).model_copy(update=v) for k, v in lists.items()})


def test_an_interviewed_unscored_firm_keeps_its_equals_off_the_commendation():
    xuanhua = _with(preset("xuanhua"), red_black_list={"basis": "count", "commend_top": 1, "interview_bottom": 1,
                                                       "unscored": "interview"})
    # Firm 1 scored 20.00, firm 2 scored 10.00, firm 3 has no sheet and 20.00 from its ticket inputs alone: firm 3
    # is interviewed (unscored), so firm 1, at the same 20.00, is not commended; firm 2 is the bottom one.
    three = rank([(1, D(20), D(20), D(0)), (2, D(10), D(10), D(0)), (3, D(20), D(0), D(0))])
    places = red_black_places(xuanhua, three, unscored=frozenset({3}))
    assert places == {
        1: ("none", Placement(False, "tie_both_lists")),
        3: ("interviewed", Placement(True, "unscored")),
        2: ("interviewed", Placement(True, "bottom")),
    }


def test_equal_scores_never_land_on_opposite_lists():
    xuanhua = preset("xuanhua")  # 宣化区: commend the top 15, interview the bottom 5 (of 20 here)
    assert (xuanhua.red_black_list.ties, xuanhua.red_black_list.unscored) == ("all_on", "off_lists")
    # Firm k scores 100 - k, except that firms 15 and 16 share 85.00: rank 15 (commended before) and rank 16
    # (interviewed before) sat on opposite lists, decided by their ids alone.
    twenty = rank([(k, D(85) if k in (15, 16) else D(100 - k), D(0), D(0)) for k in range(1, 21)])
    assert [(r.key, r.rank) for r in twenty[14:16]] == [(15, 15), (16, 16)]
    # all_on: both lists reach into the pair (ranks 15 and 16), which cannot go on both, so it goes on neither;
    # all_off: it stays off both. Either way 14 commended (1..14) and 4 interviewed (17..20).
    assert red_black(xuanhua, twenty) == (list(range(1, 15)), list(range(17, 21)))
    assert red_black_places(xuanhua, twenty)[15] == ("none", Placement(False, "tie_both_lists"))
    all_off = _with(xuanhua, red_black_list={"ties": "all_off"})
    assert red_black(all_off, twenty) == (list(range(1, 15)), list(range(17, 21)))
    places = red_black_places(all_off, twenty)
    assert places[15] == places[16] == ("none", Placement(False, "tie_all_off"))
    assert places[14] == ("commended", Placement(True, "top")) and places[17][0] == "interviewed"
    # A tie at the interview's edge only: the bottom 5 of 20 where 16 and 17 share 84.00.
    low_pair = rank([(k, D(84) if k in (16, 17) else D(100 - k), D(0), D(0)) for k in range(1, 21)])
    assert red_black(xuanhua, low_pair) == (list(range(1, 16)), list(range(16, 21)))  # whole pair inside: 5
    # 25 firms, 20 and 21 sharing 80.00: the bottom 5 (ranks 21..25) cut the pair, the top 15 do not reach it.
    edge = rank([(k, D(80) if k == 21 else D(100 - k), D(0), D(0)) for k in range(1, 26)])
    assert red_black(xuanhua, edge) == (list(range(1, 16)), list(range(20, 26)))  # all_on: 6 interviewed
    assert red_black(all_off, edge) == (list(range(1, 16)), list(range(22, 26)))  # all_off: 4 interviewed

    # A tie at the commendation's edge only: commend 2, interview 1 of A 95, B 90, C 90, D 80, E 70.
    five = rank(
        [
            (1, D(95), D(0), D(0)),
            (2, D(90), D(0), D(0)),
            (3, D(90), D(0), D(0)),
            (4, D(80), D(0), D(0)),
            (5, D(70), D(0), D(0)),
        ]
    )
    small = _with(xuanhua, red_black_list={"commend_top": 2, "interview_bottom": 1})
    assert red_black(small, five) == ([1, 2, 3], [5])  # all_on: B and C both commended (3 firms)
    assert red_black_places(small, five)[3] == ("commended", Placement(True, "tie_all_on"))
    assert red_black(_with(small, red_black_list={"ties": "all_off"}), five) == ([1], [5])
    # Every firm tied (the unscored quarter of before, all at 20.00): one run, cut by both sizes.
    flat = rank([(k, D(20), D(0), D(0)) for k in range(1, 21)])
    assert red_black(xuanhua, flat) == ([], [])  # both lists reach into the one run: neither takes it
    assert red_black(all_off, flat) == ([], [])


def test_unscored_firms_are_never_commended_or_starred():
    a = _with(preset("xuanhua"), service_star={"enabled": True, "top_n": 1, "min_score": 0})
    # Firms 1 and 2 had no sheet at all (their 95.00 and 20.00 come from tickets alone); 3 and 4 were scored.
    ranked = rank([(1, D(95), D(0), D(0)), (2, D(20), D(0), D(0)), (3, D(80), D(80), D(0)), (4, D(60), D(60), D(0))])
    unscored = frozenset({1, 2})
    # Sizes count scored firms only: of 2, interview min(5, 2) = 2 → both; commend min(15, 2 - 2) = 0.
    assert red_black(a, ranked, unscored) == ([], [3, 4])
    assert red_black_places(a, ranked, unscored)[1] == ("none", Placement(False, "unscored"))
    # The star: firm 1 ranks first by score but is not starred; firm 3 is the top scored firm.
    assert service_stars(a, ranked, unscored) == [3]
    assert star_places(a, ranked, unscored)[1] == Placement(False, "unscored")
    interview = _with(a, red_black_list={"unscored": "interview"})
    assert red_black(interview, ranked, unscored) == ([], [1, 3, 4, 2])  # in rank order


def test_company_score_weighs_compounds_by_fee_or_equally():
    a = with_findings(preset("xiahuayuan"))
    sa, sb, sc = (score_compound(a, i) for i in (compound_a(), COMPOUND_B, COMPOUND_C))
    # fees 120,000 and 60,000 CNY: (2 x 88.30 + 53.98)/3 = 76.86; lines 58.87 + 17.99
    score, b = combine_company(a, [(sa, 12_000_000), (sc, 6_000_000)], mode="fee_receivable")
    assert score == D("76.86")
    assert [(r["compound_id"], r["weight"], r["contribution"]) for r in b["compounds"]] == [
        (101, "66.67", "58.87"),
        (103, "33.33", "17.99"),
    ]
    assert b["adjustments"] == [] and b["weighting"] == "fee_receivable"
    # equal: (88.30 + 53.98)/2 = 71.14
    assert combine_company(a, [(sa, 12_000_000), (sc, 6_000_000)], mode="equal")[0] == D("71.14")
    # all fees 0 fall back to equal: (88.30 + 85.94 + 53.98)/3 = 76.0733
    score, b = combine_company(a, [(sa, 0), (sb, 0), (sc, 0)], mode="fee_receivable")
    assert (score, b["weighting"]) == (D("76.07"), "equal")


# Property tests -------------------------------------------------------------------------------------------------


def split(total: int, n: int) -> st.SearchStrategy[list[int]]:
    """n non-negative ints summing to ``total``."""
    cuts = st.lists(st.integers(0, total), min_size=n - 1, max_size=n - 1).map(sorted)
    return cuts.map(lambda c: [b - a for a, b in zip([0, *c], [*c, total], strict=True)])


@st.composite
def assessments(draw: st.DrawFn) -> Assessment:
    n = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(["weighted", "three_hundred_percent"]))
    weights = draw(split(100, n))
    codes = [f"body_{i}" for i in range(n)]
    rubric = []
    for i, code in enumerate(codes):
        for j in range(draw(st.integers(1, 3))):
            item = {"code": f"item_{i}_{j}", "title": "细则", "max_points": draw(st.integers(1, 100)), "body": code}
            rubric.append(item | ({"dimension": f"dim_{i}"} if mode != "weighted" else {}))
    body_share = draw(st.integers(0, 100))
    objective = draw(split(100, 4))
    full = draw(st.integers(0, 40))
    per_finding = draw(st.integers(1, 100))
    raw = ZJK.model_dump() | {
        "mode": mode,
        "bodies": {c: {"title": c, "roles": [], "weight": w} for c, w in zip(codes, weights, strict=True)},
        "dimensions": []
        if mode == "weighted"
        else [
            {"code": f"dim_{i}", "title": "维度", "owner": c, "weight": w}
            for i, (c, w) in enumerate(zip(codes, weights, strict=True))
        ],
        "rubric": rubric,
        "missing_body": draw(st.sampled_from(["redistribute", "zero"])),
        "final_score": {"body_share": body_share, "objective_share": 100 - body_share},
        "objective": {
            "weights": dict(
                zip(
                    ["closure_rate", "satisfaction_rate", "on_time_rate", "monthly_ticket_volume"],
                    objective,
                    strict=True,
                )
            ),
            "volume_full_marks_at": full,
            "volume_zero_marks_at": draw(st.integers(full + 1, full + 60)),
        },
        "supervisor_findings": {
            "enabled": draw(st.booleans()),
            "points_per_finding": per_finding,
            "max_points_per_period": draw(st.integers(0, 100)),
            "resolved_within_hours": 24,
            "resolved_points_per_finding": draw(st.integers(0, per_finding)),
        },
    }
    return Assessment.model_validate(raw)


@st.composite
def compound_inputs(draw: st.DrawFn, a: Assessment, key: int) -> CompoundInputs:
    subs: dict[str, dict[str, int]] = {}
    for code in a.bodies:
        if draw(st.booleans()):
            items = [i for i in a.rubric if i.body == code]
            subs[code] = {i.code: draw(st.integers(-5, i.max_points + 5)) for i in items if draw(st.integers(0, 9))}
    rate = st.none() | st.integers(0, 10_000)
    return CompoundInputs(
        compound_id=key,
        submissions=subs,
        closure_rate_bp=draw(rate),
        satisfaction_rate_bp=draw(rate),
        on_time_rate_bp=draw(rate),
        tickets_per_month=draw(st.none() | st.decimals(0, 120, places=3)),
        findings=draw(st.lists(st.booleans(), max_size=12)),
    )


@st.composite
def cases(draw: st.DrawFn) -> tuple[Assessment, list[CompoundInputs], list[int]]:
    a = draw(assessments())
    n = draw(st.integers(1, 4))
    inputs = [draw(compound_inputs(a, key)) for key in range(1, n + 1)]
    fees = draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n))
    return a, inputs, fees


def two_places(x: Decimal) -> bool:
    return x.as_tuple().exponent == -2


@settings(max_examples=400, deadline=None)
@given(cases())
def test_scores_stay_in_bounds_and_breakdowns_add_up(case: tuple[Assessment, list[CompoundInputs], list[int]]):
    a, inputs, fees = case
    scores: list[CompoundScore] = [score_compound(a, i) for i in inputs]
    for s in scores:
        assert D(0) <= s.score <= D(100) and two_places(s.score)
        assert D(0) <= s.body_part <= D(100)
        assert s.objective_part is None or D(0) <= s.objective_part <= D(100)
        assert contributions(s.breakdown) == s.score == D(s.breakdown["score"])
        for adj in s.breakdown["adjustments"]:
            if adj["reason"] == "rounding":
                assert abs(D(adj["contribution"])) <= D("0.05")  # at most half a cent per line
    for mode in ("fee_receivable", "equal"):
        company, b = combine_company(a, list(zip(scores, fees, strict=True)), mode=mode)
        assert min(s.score for s in scores) <= company <= max(s.score for s in scores)
        lines = sum((D(r["contribution"]) for r in b["compounds"]), D(0))
        assert lines + sum((D(r["contribution"]) for r in b["adjustments"]), D(0)) == company
    ranked = rank([(s.compound_id, s.score, s.body_part, s.deductions) for s in scores])
    assert [r.rank for r in ranked] == list(range(1, len(scores) + 1))
    assert [r.score for r in ranked] == sorted((s.score for s in scores), reverse=True)
    top, bottom = red_black(a, ranked)
    assert not set(top) & set(bottom)


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.integers(0, 4), min_size=0, max_size=25),  # few distinct scores: many ties
    unscored_mask=st.lists(st.booleans(), min_size=25, max_size=25),
    basis=st.sampled_from(["count", "percent"]),
    top=st.integers(0, 30),
    bottom=st.integers(0, 30),
    ties=st.sampled_from(["all_on", "all_off"]),
    unscored_rule=st.sampled_from(["off_lists", "interview"]),
    top_n=st.integers(1, 5),
)
def test_lists_treat_equal_scores_alike(scores, unscored_mask, basis, top, bottom, ties, unscored_rule, top_n):
    if basis == "percent":
        top, bottom = min(top, 50), min(bottom, 50)
    a = _with(
        preset("xuanhua"),
        red_black_list={
            "basis": basis,
            "commend_top": top,
            "interview_bottom": bottom,
            "ties": ties,
            "unscored": unscored_rule,
        },
        service_star={"enabled": True, "top_n": top_n, "min_score": 0, "ties": ties},
    )
    ranked = rank([(k, D(s * 10), D(0), D(0)) for k, s in enumerate(scores, start=1)])
    unscored = frozenset(k for k in range(1, len(scores) + 1) if unscored_mask[k - 1])
    commended, interviewed = red_black(a, ranked, unscored)
    stars = service_stars(a, ranked, unscored)
    score = {r.key: r.score for r in ranked}
    assert not set(commended) & set(interviewed)
    assert not (set(commended) | set(stars)) & unscored
    scored_c = {score[k] for k in commended}
    scored_i = {score[k] for k in interviewed if k not in unscored}
    assert not scored_c & scored_i  # one score, one list
    for k, s in score.items():  # equal scored firms: both on a list or both off it
        if k in unscored:
            continue
        same = [x for x, t in score.items() if t == s and x not in unscored]
        assert all((x in commended) == (k in commended) for x in same)
        assert all((x in interviewed) == (k in interviewed) for x in same)
        assert all((x in stars) == (k in stars) for x in same)
    if ties == "all_off":
        assert len(stars) <= top_n
        assert len([k for k in interviewed if k not in unscored]) <= len(score) - len(unscored)


def test_the_api_enums_name_exactly_the_configured_modes():
    """The typed breakdowns' enums (api/assessment/modes.py) have the configuration's literal values, no more."""
    from typing import get_args

    from api.assessment import modes
    from api.tickets.events import EscalationLevel
    from tenants.config.assessment import AssessmentMode, ObjectiveWeights
    from tenants.config.document import LadderLevel, Subsidies
    from tenants.config.types import Cadence

    def values(enum) -> set[str]:
        return {m.value for m in enum}

    field = Assessment.model_fields
    assert values(modes.AssessmentMode) == set(get_args(AssessmentMode))
    assert values(modes.MissingBodyRule) == set(get_args(field["missing_body"].annotation))
    assert values(modes.CompanyCombination) == set(get_args(field["company_combination"].annotation))
    assert values(modes.RatingCadence) == set(get_args(Cadence))
    assert values(modes.SettlementCadence) == set(get_args(Subsidies.model_fields["settlement_cadence"].annotation))
    assert values(EscalationLevel) == set(get_args(LadderLevel))
    assert values(modes.ObjectiveInput) == set(ObjectiveWeights.model_fields)  # one weight per input

