"""The tenant configuration document: presets, inheritance with provenance, validation, overrides and diffs.

Pure Python; the numbers are the reports' (see DOMAIN.md): 下花园区 party weight 70%, 60,000 CNY pool, 3-hour
review in 张家口, 宣化区 15 / 5, 临沭 3 escalations and 5%-10% bonds, 双报到 5 a year and 2 absences.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenants.config import ConfigDocument, check_overrides, deep_merge, diff, effective, flatten, validate_document
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.presets import UnknownPreset, load_preset, preset_chain, preset_document, preset_names

PRESETS = ["linshu", "sanbai", "shuangluan", "xiahuayuan", "xuanhua", "zhangjiakou"]


def chain_of(name: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, p.overrides) for p in preset_chain(name)]


def problems_of(raw: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InvalidInput) as exc:
        validate_document(raw)
    return exc.value.problems


def located(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.field, p.reason) for p in problems}


# -- presets ------------------------------------------------------------------------------------------------------


def test_the_source_cities_are_shipped_as_presets():
    assert preset_names() == PRESETS
    assert {n: load_preset(n).parent for n in PRESETS} == {
        "linshu": None,
        "sanbai": None,
        "shuangluan": None,
        "xiahuayuan": "zhangjiakou",
        "xuanhua": "zhangjiakou",
        "zhangjiakou": None,
    }
    assert load_preset("xiahuayuan").title == "下花园区"


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_validates_merged_over_its_parent(name):
    doc, provenance = effective(chain_of(name))
    assert isinstance(doc, ConfigDocument)
    # Every leaf has a source; an optional setting a preset leaves unset (None: TOML has no null) has none.
    assert set(provenance) == set(flatten(doc.model_dump(exclude_none=True)))
    preset = load_preset(name)
    if preset.parent is None:
        assert validate_document(preset.overrides) == doc
    assert check_overrides(preset.overrides) == []


def test_child_presets_hold_only_their_overrides():
    assert set(flatten(load_preset("xiahuayuan").overrides)) == {
        "assessment.bodies.party_org.weight",
        "assessment.bodies.owners_committee.weight",
        "assessment.bodies.housing_dept.weight",
        "subsidies.enabled",
        "subsidies.settlement_cadence",
        "subsidies.yearly_pool_per_community_fen",
    }
    assert set(flatten(load_preset("xuanhua").overrides)) == {
        "assessment.red_black_list.enabled",
        "assessment.red_black_list.basis",
        "assessment.red_black_list.commend_top",
        "assessment.red_black_list.interview_bottom",
    }


def test_xiahuayuan_weighs_the_party_organisation_70_and_inherits_the_rest_from_zhangjiakou():
    doc, source = effective(chain_of("xiahuayuan"))
    assert doc.assessment.bodies["party_org"].weight == 70
    assert source["assessment.bodies.party_org.weight"] == "xiahuayuan"
    assert source["assessment.bodies.party_org.title"] == "zhangjiakou"
    assert sum(b.weight for b in doc.assessment.bodies.values()) == 100
    assert doc.subsidies.yearly_pool_per_community_fen == 60_000 * 100
    assert source["subsidies.yearly_pool_per_community_fen"] == "xiahuayuan"
    assert doc.tickets.review_dispatch_sla_hours == 3
    assert source["tickets.review_dispatch_sla_hours"] == "zhangjiakou"
    assert doc.assessment.cadence == "quarterly"
    assert source["assessment.rubric"] == "zhangjiakou"  # a list is one leaf


def test_xuanhua_commends_15_and_interviews_5():
    doc, source = effective(chain_of("xuanhua"))
    ranking = doc.assessment.red_black_list
    assert (ranking.enabled, ranking.basis, ranking.commend_top, ranking.interview_bottom) == (True, "count", 15, 5)
    assert source["assessment.red_black_list.commend_top"] == "xuanhua"
    assert source["assessment.red_black_list.cadence"] == "zhangjiakou"
    assert doc.assessment.bodies["party_org"].weight == 40


def test_zhangjiakou_runs_a_quarterly_three_party_assessment_and_a_9_category_taxonomy():
    doc, _ = effective(chain_of("zhangjiakou"))
    assert doc.assessment.mode == "weighted"
    assert doc.assessment.cadence == "quarterly"
    assert set(doc.assessment.bodies) == {"party_org", "owners_committee", "housing_dept"}
    assert len(doc.tickets.taxonomy) == 9
    assert [r.level for r in doc.tickets.escalation_ladder] == ["community", "street", "county_department"]
    assert doc.subsidies.brand_projects.yearly_cap_fen == 5_280_000 * 100


def test_linshu_escalates_to_the_efficiency_office_after_3_and_holds_bonds():
    doc, _ = effective(chain_of("linshu"))
    assert doc.tickets.escalations_before_efficiency_office == 3
    assert len(doc.tickets.taxonomy) == 5
    assert doc.assessment.elimination.enabled and doc.assessment.elimination.bottom_percent >= 1
    assert doc.assessment.elimination.target == "manager"
    assert doc.bonds.enabled and 5 <= doc.bonds.ratio_percent <= 10
    assert doc.assessment.supervisor_findings.enabled
    assert doc.party.joint_meeting.cadence == "monthly"


def test_shuangluan_dual_registration_and_monthly_three_party_meeting():
    doc, _ = effective(chain_of("shuangluan"))
    dual = doc.party.dual_registration
    assert (dual.enabled, dual.min_participations_per_year, dual.consecutive_absences_flag) == (True, 5, 2)
    meeting = doc.party.joint_meeting
    assert meeting.cadence == "monthly"
    assert set(meeting.parties) == {"residents_committee", "owners_committee", "property_company"}


def test_sanbai_scores_three_dimensions_each_by_a_different_body():
    doc, _ = effective(chain_of("sanbai"))
    a = doc.assessment
    assert a.mode == "three_hundred_percent"
    assert len(a.dimensions) == 3
    assert len({d.owner for d in a.dimensions}) == 3
    assert sum(d.weight for d in a.dimensions) == 100
    assert (a.service_star.enabled, a.service_star.cadence, a.service_star.top_n) == (True, "monthly", 1)
    assert a.red_black_list.cadence == "quarterly" and a.red_black_list.interview_bottom > 0
    assert a.elimination.enabled


def test_sanbai_ships_thirty_redemptions_of_every_kind_and_pays_grid_workers_by_band():
    points = effective(chain_of("sanbai"))[0].points
    catalogue = {r.code: r for r in points.redemptions}
    assert len(catalogue) >= 30
    assert {r.kind for r in catalogue.values()} == {"fee_reduction", "merchant", "canteen", "service", "goods"}
    assert any(r.stock for r in catalogue.values()) and any(r.monthly_limit for r in catalogue.values())
    assert any(r.valid_from and r.valid_until for r in catalogue.values())
    assert (catalogue["fee_reduction_50"].cost_points, catalogue["fee_reduction_50"].value_fen) == (450, 5_000)
    assert (catalogue["canteen_meal_5"].cost_points, catalogue["canteen_meal_5"].value_fen) == (50, 500)
    duty = next(r for r in points.earning_rules if r.code == "building_head_duty")
    assert (duty.points, duty.daily_cap, duty.monthly_cap, duty.on) == (5, 10, 50, "manual")
    assert points.expiry_months == 12
    pay = points.performance_pay
    assert pay.enabled and pay.base_fen == 200_000
    assert [(b.min_score, b.percent) for b in pay.bands] == [(90, 100), (80, 80), (60, 60), (0, 0)]


def test_zhangjiakou_earns_from_ticket_events_and_keeps_points_two_years():
    for name in ("zhangjiakou", "xiahuayuan", "xuanhua"):  # the districts inherit it
        points = effective(chain_of(name))[0].points
        assert {r.code: r.on for r in points.earning_rules} == {
            "report_issue": "ticket_accepted",
            "rate_result": "ticket_rated",
            "steward_visit": "steward_report",
            "volunteer_service": "manual",
            "dual_activity": "activity_attended",
        }
        assert points.expiry_months == 24 and points.performance_pay.enabled


def test_an_unknown_preset_is_a_clear_not_found():
    with pytest.raises(UnknownPreset) as exc:
        load_preset("beijing")
    assert isinstance(exc.value, KeyError) and isinstance(exc.value, NotFound)
    assert str(exc.value) == f"no preset named 'beijing' (known: {', '.join(PRESETS)})"


# -- validation ---------------------------------------------------------------------------------------------------


def test_an_invalid_document_reports_every_problem_at_once():
    raw = preset_document("zhangjiakou")
    a = raw["assessment"]
    a["bodies"]["party_org"]["weight"] = 35  # 35 + 30 + 30 = 95
    a["rubric"][1]["body"] = "street_office"
    a["rubric"][2]["code"] = a["rubric"][0]["code"]
    raw["subsidies"]["yearly_pool_per_community_fen"] = -600
    raw["tickets"]["taxonomy"][1]["items"][0]["code"] = "elevator_fault"  # also in category 0
    raw["tickets"]["steps"]["resolve"] = False

    problems = problems_of(raw)

    assert located(problems) == {
        ("assessment.bodies", "weights_sum"),
        ("assessment.rubric.1.body", "unknown_body"),
        ("assessment.rubric.2.code", "duplicate_code"),
        ("subsidies.yearly_pool_per_community_fen", "out_of_range"),
        ("tickets.taxonomy.1.items.0.code", "duplicate_code"),
        ("tickets.steps.resolve", "step_required"),
    }
    by_field = {p.field: p for p in problems}
    assert by_field["assessment.bodies"].message_en == "must sum to 100, got 95"
    assert by_field["assessment.bodies"].message_zh == "权重之和须为 100，实为 95"
    assert by_field["subsidies.yearly_pool_per_community_fen"].message_en == "must be >= 0, got -600"
    assert "street_office" in by_field["assessment.rubric.1.body"].message_en
    assert all(p.message_zh and p.message_en for p in problems)


def test_the_error_lists_the_problems_for_the_api():
    raw = preset_document("zhangjiakou")
    raw["assessment"]["bodies"]["party_org"]["weight"] = 35
    raw["bonds"]["ratio_percent"] = 0
    with pytest.raises(InvalidInput) as exc:
        validate_document(raw)
    ext = exc.value.extensions()
    assert ext["code"] == "INVALID_INPUT"
    assert ext["messageEn"] == "2 problems in the input"
    assert {p["field"] for p in ext["problems"]} == {"assessment.bodies", "bonds.ratio_percent"}


def test_effective_rejects_a_merged_document_with_all_its_problems():
    chain = [
        ("zhangjiakou", load_preset("zhangjiakou").overrides),
        ("xiahuayuan", {"assessment": {"bodies": {"party_org": {"weight": 70}}}, "bonds": {"top_up_deadline_days": 0}}),
    ]
    with pytest.raises(InvalidInput) as exc:
        effective(chain)
    assert located(exc.value.problems) == {
        ("assessment.bodies", "weights_sum"),
        ("bonds.top_up_deadline_days", "out_of_range"),
    }
    assert exc.value.problems[-1].message_en == "must sum to 100, got 130"


def test_three_hundred_percent_rules():
    raw = preset_document("sanbai")
    a = raw["assessment"]
    a["dimensions"][2]["weight"] = 20  # 30 + 40 + 20
    a["dimensions"][0]["owner"] = "housing_dept"
    a["rubric"][2]["body"] = "community_party_org"  # its dimension belongs to property_centre
    a["rubric"][3]["dimension"] = "safety"
    del a["rubric"][4]["dimension"]
    assert located(problems_of(raw)) == {
        ("assessment.dimensions", "weights_sum"),
        ("assessment.dimensions.0.owner", "unknown_body"),
        ("assessment.rubric.2.body", "owner_mismatch"),
        ("assessment.rubric.3.dimension", "unknown_dimension"),
        ("assessment.rubric.4.dimension", "required"),
    }


def test_orderings_caps_and_styles():
    raw = preset_document("zhangjiakou")
    raw["subsidies"]["bands"][2]["min_score"] = 60  # same as the band before
    raw["subsidies"]["brand_projects"]["per_project_cap_fen"] = 600_000_000
    raw["tickets"]["escalation_ladder"] = [{"level": "street", "hours": 24}, {"level": "community", "hours": 24}]
    raw["assessment"]["red_black_list"].update(basis="percent", commend_top=60, interview_bottom=50)
    raw["assessment"]["service_star"]["cadence"] = "monthly"  # assessments are quarterly
    raw["points"]["earning_rules"][0]["monthly_cap"] = 1
    raw["schedule"]["monthly_rating"]["day"] = 10  # inside the 10-day submission window
    assert located(problems_of(raw)) == {
        ("subsidies.bands.2.min_score", "bands_order"),
        ("subsidies.brand_projects.per_project_cap_fen", "cap_order"),
        ("tickets.escalation_ladder.1.level", "ladder_order"),
        ("assessment.red_black_list", "range_order"),
        ("assessment.service_star.cadence", "cadence_too_fine"),
        ("points.earning_rules.0.monthly_cap", "cap_order"),
        ("schedule.monthly_rating.day", "range_order"),
    }


def test_points_rules_name_the_field_in_both_languages():
    raw = preset_document("sanbai")
    p = raw["points"]
    p["grid_score"]["weights"]["points"] = 20  # 110
    p["earning_rules"][0].update(on="ticket_accepted")  # building heads are not what a ticket pays
    p["earning_rules"].append({"code": "visit", "title": "走访", "earners": ["resident", "steward"], "points": 1,
                               "daily_cap": 1, "monthly_cap": 1, "on": "steward_report"})
    fee = next(i for i, r in enumerate(p["redemptions"]) if r["kind"] == "fee_reduction")
    p["redemptions"][fee]["partner"] = "lao_wang"  # a fee reduction is the property company's, no partner
    p["redemptions"][0].update(valid_from="2026-05-01", valid_until="2026-04-30")
    p["redemptions"].append(copy.deepcopy(p["redemptions"][1]))  # duplicate code
    p["performance_pay"]["bands"] = [{"min_score": 80, "percent": 80}, {"min_score": 90, "percent": 100},
                                     {"min_score": 70, "percent": 90}, {"min_score": 10, "percent": 95}]
    p["performance_pay"].update(points_rate_fen=100, points_cap_fen=0, cap_fen=100_000)  # base 200,000
    problems = problems_of(raw)
    last = len(p["redemptions"]) - 1
    assert located(problems) == {
        ("points.grid_score.weights", "weights_sum"),
        ("points.earning_rules.0.earners.0", "earner_not_in_event"),
        (f"points.earning_rules.{len(p['earning_rules']) - 1}.earners.0", "earner_not_in_event"),
        (f"points.redemptions.{fee}.partner", "not_applicable"),
        ("points.redemptions.0.valid_until", "range_order"),
        (f"points.redemptions.{last}.code", "duplicate_code"),
        ("points.performance_pay.bands.1.min_score", "bands_order"),
        ("points.performance_pay.bands.3.percent", "bands_order"),
        ("points.performance_pay.bands.3.min_score", "bands_order"),
        ("points.performance_pay.points_cap_fen", "cap_order"),
    }
    by = {(x.field, x.reason): x for x in problems}
    earner = by[("points.earning_rules.0.earners.0", "earner_not_in_event")]
    assert earner.message_en == "event 'ticket_accepted' has no 'building_head' to earn (it has: resident)"
    assert "ticket_accepted" in earner.message_zh and "building_head" in earner.message_zh
    assert by[("points.grid_score.weights", "weights_sum")].message_en == "must sum to 100, got 110"


def test_performance_pay_bands_and_caps_that_hold():
    raw = preset_document("sanbai")
    pay = raw["points"]["performance_pay"]
    pay["bands"] = []
    assert located(problems_of(raw)) == {("points.performance_pay.bands", "required")}
    pay["bands"] = [{"min_score": 60, "percent": 100}]  # a score below 60 would have no band
    assert located(problems_of(raw)) == {("points.performance_pay.bands.0.min_score", "bands_order")}
    pay.update(bands=[{"min_score": 0, "percent": 50}], cap_fen=100_000, points_cap_fen=100_001)
    assert located(problems_of(raw)) == {("points.performance_pay.points_cap_fen", "cap_order")}
    pay.update(points_cap_fen=0, points_rate_fen=0, cap_fen=0)  # no points part, no total cap
    assert validate_document(raw).points.performance_pay.bands[0].percent == 50
    # Every event pays the earners it has; a rule awarded by hand may pay anyone.
    rule = raw["points"]["earning_rules"][0]
    for on, earners in (("activity_attended", ["party_member", "volunteer", "resident", "building_head"]),
                        ("ticket_rated", ["resident"]), ("manual", ["grid_worker", "steward"])):
        rule.update(on=on, earners=earners)
        validate_document(raw)
    rule.update(on="activity_attended", earners=["grid_worker"])
    assert located(problems_of(raw)) == {("points.earning_rules.0.earners.0", "earner_not_in_event")}
    rule.update(on="at_midnight", earners=["resident"])
    assert located(problems_of(raw)) == {("points.earning_rules.0.on", "invalid_choice")}


def test_a_document_that_is_not_a_table():
    assert located(problems_of([])) == {("", "wrong_type")}
    assert ("assessment", "required") in located(problems_of({}))


# -- overrides ----------------------------------------------------------------------------------------------------


def test_a_partial_override_is_fine_on_its_own():
    assert check_overrides({"assessment": {"bodies": {"party_org": {"weight": 70}}}}) == []
    assert check_overrides({}) == []


def test_check_overrides_flags_unknown_keys_and_wrong_types_by_path():
    override = {
        "assessment": {
            "bodies": {"party_org": {"wieght": 70}, "owners_committee": {"weight": "15"}},
            "cadence": "weekly",
        },
        "tickets": 3,
        "subsidies": {"yearly_pool_per_community_fen": 60_000.0},
        "colour": "red",
    }
    problems = check_overrides(override)
    assert located(problems) == {
        ("assessment.bodies.party_org.wieght", "unknown_key"),
        ("assessment.bodies.owners_committee.weight", "wrong_type"),
        ("assessment.cadence", "invalid_choice"),
        ("tickets", "wrong_type"),
        ("subsidies.yearly_pool_per_community_fen", "wrong_type"),
        ("colour", "unknown_key"),
    }
    by_field = {p.field: p for p in problems}
    assert by_field["assessment.bodies.owners_committee.weight"].message_en == "must be an integer, got '15'"


def test_a_list_in_an_override_replaces_the_inherited_one_so_its_items_must_be_complete():
    problems = check_overrides({"assessment": {"rubric": [{"code": "cleanliness", "max_points": 0}]}})
    assert located(problems) == {
        ("assessment.rubric.0.title", "required"),
        ("assessment.rubric.0.body", "required"),
        ("assessment.rubric.0.max_points", "out_of_range"),
    }


def test_none_in_an_override_means_not_set():
    chain = [*chain_of("xiahuayuan"), ("district", {"tickets": {"review_dispatch_sla_hours": None}})]
    doc, source = effective(chain)
    assert doc.tickets.review_dispatch_sla_hours == 3
    assert source["tickets.review_dispatch_sla_hours"] == "zhangjiakou"
    assert check_overrides({"tickets": None}) == []


# -- merge, flatten, diff -----------------------------------------------------------------------------------------


def test_deep_merge_merges_mappings_and_replaces_everything_else():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": 1}
    override = {"a": {"y": [3], "z": {"k": None}}, "b": None, "c": {"d": 2}}
    before = copy.deepcopy((base, override))
    merged = deep_merge(base, override)
    assert merged == {"a": {"x": 1, "y": [3], "z": {}}, "b": 1, "c": {"d": 2}}
    assert (base, override) == before
    merged["a"]["y"].append(4)
    assert override["a"]["y"] == [3]


def test_flatten_treats_lists_as_leaves():
    assert flatten({"a": {"b": 1, "c": [1, {"d": 2}]}, "e": {}}) == {"a.b": 1, "a.c": [1, {"d": 2}]}


def test_diff_between_zhangjiakou_and_xiahuayuan_is_exactly_their_overrides():
    city, _ = effective(chain_of("zhangjiakou"))
    district, _ = effective(chain_of("xiahuayuan"))
    assert diff(city.model_dump(), district.model_dump()) == [
        {"path": "assessment.bodies.housing_dept.weight", "before": 30, "after": 15},
        {"path": "assessment.bodies.owners_committee.weight", "before": 30, "after": 15},
        {"path": "assessment.bodies.party_org.weight", "before": 40, "after": 70},
        {"path": "subsidies.enabled", "before": False, "after": True},
        {"path": "subsidies.settlement_cadence", "before": "yearly", "after": "quarterly"},
        {"path": "subsidies.yearly_pool_per_community_fen", "before": 0, "after": 6_000_000},
    ]


def test_diff_reports_added_removed_and_whole_list_changes():
    before = {"a": {"b": 1, "flag": True}, "l": [1, 2]}
    after = {"a": {"c": 2, "flag": 1}, "l": [1, 3]}
    assert diff(before, after) == [
        {"path": "a.b", "before": 1, "after": None},
        {"path": "a.c", "before": None, "after": 2},
        {"path": "a.flag", "before": True, "after": 1},
        {"path": "l", "before": [1, 2], "after": [1, 3]},
    ]
    assert diff(before, copy.deepcopy(before)) == []


# -- properties ---------------------------------------------------------------------------------------------------


def with_bodies(weights: list[int]) -> dict[str, Any]:
    """The 张家口 document with one body per weight, each scoring one rubric line."""
    raw = preset_document("zhangjiakou")
    raw["assessment"]["bodies"] = {
        f"body_{i}": {"title": f"主体{i}", "roles": [], "weight": w} for i, w in enumerate(weights)
    }
    raw["assessment"]["rubric"] = [
        {"code": f"line_{i}", "title": f"细则{i}", "max_points": 10, "body": f"body_{i}"} for i in range(len(weights))
    ]
    return raw


def cuts_to_weights(cuts: list[int]) -> list[int]:
    points = [0, *sorted(cuts), 100]
    return [b - a for a, b in itertools.pairwise(points)]


no_db_state = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@no_db_state
@given(st.lists(st.integers(0, 100), max_size=4).map(cuts_to_weights))
def test_any_weights_summing_to_100_validate(weights):
    doc = validate_document(with_bodies(weights))
    assert [b.weight for b in doc.assessment.bodies.values()] == weights


@no_db_state
@given(st.lists(st.integers(0, 100), min_size=1, max_size=5).filter(lambda w: sum(w) != 100))
def test_weights_not_summing_to_100_are_rejected(weights):
    problems = problems_of(with_bodies(weights))
    assert [(p.field, p.reason, p.message_en) for p in problems] == [
        ("assessment.bodies", "weights_sum", f"must sum to 100, got {sum(weights)}")
    ]


def test_points_figures_stay_inside_what_the_ledger_can_hold():
    """An expiry of 100,000 months or a rule of 3,000,000,000 points would be accepted and then break every award."""
    raw = preset_document("sanbai")
    p = raw["points"]
    p["expiry_months"] = 100_000
    p["earning_rules"][0].update(points=3_000_000_000, daily_cap=3_000_000_000, monthly_cap=3_000_000_000)
    p["redemptions"][0].update(value_fen=10**15, stock=10**12)
    assert {(f, r) for f, r in located(problems_of(raw))} >= {
        ("points.expiry_months", "out_of_range"),
        ("points.earning_rules.0.points", "out_of_range"),
        ("points.redemptions.0.value_fen", "out_of_range"),
        ("points.redemptions.0.stock", "out_of_range"),
    }
