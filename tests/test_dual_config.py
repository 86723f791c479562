"""双报到 configuration (schema 4): presets, the cross-field checks by field path, the upgrade of a schema-3 document
and a district's work groups. Pure Python; the numbers are the reports' (临沭 5 a year, 2 absences -> a talk; XX市 4
groups in normal times, 7 in an emergency)."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from tenants.config import ConfigDocument, effective, validate_document
from tenants.config.document import DualRegistration
from tenants.config.upgrade import _V4_DUAL, upgrade_document
from tenants.errors import InvalidInput, Problem
from tenants.presets import load_preset, preset_chain, preset_document, preset_names

DUAL = "party.dual_registration"


def chain_of(name: str) -> list[tuple[str, dict[str, Any]]]:
    return [(p.name, p.overrides) for p in preset_chain(name)]


def problems_of(raw: dict[str, Any]) -> list[Problem]:
    with pytest.raises(InvalidInput) as exc:
        validate_document(raw)
    return exc.value.problems


def located(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.field, p.reason) for p in problems}


def schema_3(document: dict) -> dict:
    """``document`` as a release of schema 3 stored it: ``party.dual_registration`` with its three numbers only."""
    old = copy.deepcopy(document)
    dual = old["party"]["dual_registration"]
    old["party"]["dual_registration"] = {k: dual[k] for k in
                                         ("enabled", "min_participations_per_year", "consecutive_absences_flag")}
    return old


def test_every_preset_sets_dual_registration_and_round_trips():
    for name in preset_names():
        doc = effective(chain_of(name))[0]
        dual = doc.party.dual_registration
        assert (dual.enabled, dual.min_participations_per_year, dual.consecutive_absences_flag) == (True, 5, 2), name
        assert (dual.working_hours.start, dual.working_hours.end, dual.working_hours.weekdays) == (
            "09:00", "17:30", [1, 2, 3, 4, 5])
        assert (len(dual.work_groups.normal), len(dual.work_groups.emergency)) == (4, 7), name
        # Stored as JSON and read back: the same document.
        assert ConfigDocument.model_validate(json.loads(doc.model_dump_json())) == doc


def test_linshu_notices_after_a_third_absence_and_the_others_notice_nobody():
    notice = {n: effective(chain_of(n))[0].party.dual_registration.notice_after_absences for n in preset_names()}
    assert notice == {"linshu": 3, "sanbai": None, "shuangluan": None, "xiahuayuan": None, "xuanhua": None,
                      "zhangjiakou": None}
    # Every root preset marks each value it sets as from a report or chosen.
    for name in ("linshu", "sanbai", "shuangluan", "zhangjiakou"):
        text = (resources.files("tenants.presets") / f"{name}.toml").read_text(encoding="utf-8")
        section = text.split("[party.dual_registration]")[1].split("[party.joint_meeting]")[0]
        settings = [line for line in section.splitlines() if "=" in line and not line.startswith(("#", "code ="))]
        assert settings and all("# report" in line or "# chosen" in line for line in settings), name


def test_xx_city_runs_4_groups_in_normal_times_and_7_in_an_emergency():
    groups = effective(chain_of("sanbai"))[0].party.dual_registration.work_groups
    assert [g.code for g in groups.normal] == ["party_building", "livelihood", "safety", "environment"]
    assert [g.code for g in groups.emergency] == ["command", "screening", "supplies", "medical", "order",
                                                  "publicity", "care"]
    for groups_set in (groups.normal, groups.emergency):
        assert sum(g.building_heads for g in groups_set) == 1 and sum(g.others for g in groups_set) == 1


def test_attending_an_activity_earns_party_members_points_where_points_are_on():
    for name in preset_names():
        points = effective(chain_of(name))[0].points
        rules = [r for r in points.earning_rules if r.on == "activity_attended"]
        if not points.enabled:
            assert rules == [], name
            continue
        assert [(r.code, r.earners, r.points, r.daily_cap, r.monthly_cap) for r in rules] == [
            ("dual_activity", ["party_member"], 5, 10, 50)], name


def test_each_check_names_its_field_in_both_languages():
    raw = preset_document("linshu")
    dual = raw["party"]["dual_registration"]
    dual.update(notice_after_absences=2, talk_reminder_days=14, wish_reminder_days=30)
    dual["working_hours"] = {"start": "18:00", "end": "09:00", "weekdays": [1, 2, 2]}
    groups = copy.deepcopy(load_preset("sanbai").overrides["party"]["dual_registration"]["work_groups"])
    groups["normal"][1]["code"] = "party_building"  # the first group's code again
    groups["normal"][2]["others"] = True  # livelihood takes the others already
    groups["emergency"][3]["building_heads"] = True  # screening takes the building heads already
    groups["emergency"][4]["skills"] = ["Security guard"]  # not a code
    dual["work_groups"] = groups
    problems = problems_of(raw)
    assert located(problems) == {
        (f"{DUAL}.notice_after_absences", "range_order"),
        (f"{DUAL}.talk_reminder_days", "range_order"),
        (f"{DUAL}.wish_reminder_days", "range_order"),
        (f"{DUAL}.working_hours.end", "range_order"),
        (f"{DUAL}.working_hours.weekdays.2", "duplicate"),
        (f"{DUAL}.work_groups.normal.1.code", "duplicate_code"),
        (f"{DUAL}.work_groups.normal.2.others", "only_one"),
        (f"{DUAL}.work_groups.emergency.3.building_heads", "only_one"),
        (f"{DUAL}.work_groups.emergency.4.skills.0", "format"),
    }
    by = {p.field: p for p in problems}
    notice = by[f"{DUAL}.notice_after_absences"]
    assert notice.message_en == ("must be greater than consecutive_absences_flag (2: the talk comes first, then the "
                                 "notice), got 2")
    assert notice.message_zh.startswith("须大于 consecutive_absences_flag（2")
    assert by[f"{DUAL}.talk_reminder_days"].message_en.startswith("must be less than talk_due_days (14")
    others = by[f"{DUAL}.work_groups.normal.2.others"]
    assert others.message_en == (f"at most one group of a set takes the others ({DUAL}.work_groups.normal.1 does), "
                                 "not 'safety' too")
    assert others.message_zh == f"每套工作组最多一个其余人员组（已是 {DUAL}.work_groups.normal.1），safety 不能再设"
    # A time of day is not a code: its own message.
    dual["working_hours"] = {"start": "9:00", "end": "24:00"}
    wrong = {p.field: p for p in problems_of(raw)}
    assert wrong[f"{DUAL}.working_hours.start"].reason == "format"
    assert wrong[f"{DUAL}.working_hours.end"].message_en == "must be a time of day HH:MM (00:00 to 23:59), got '24:00'"
    # A trailing newline is not a time either (the pattern's $ is the end of the text).
    dual["working_hours"] = {"start": "09:00\n"}
    assert located(problems_of(raw)) >= {(f"{DUAL}.working_hours.start", "format")}


def test_a_lone_notice_threshold_and_equal_reminders_are_the_only_limits():
    raw = preset_document("zhangjiakou")
    dual = raw["party"]["dual_registration"]
    dual.update(notice_after_absences=3, talk_reminder_days=0, wish_reminder_days=29, wish_due_days=30)
    dual["working_hours"] = {"weekdays": []}  # no working days: every activity is 8小时以外
    validate_document(raw)
    dual["work_groups"] = {"normal": [{"code": "all", "title": "全体"}]}  # no building-head or others group
    assert validate_document(raw).party.dual_registration.work_groups.normal[0].others is False


def test_a_district_overriding_its_city_groups_replaces_the_list():
    """Inheritance merges tables key by key and replaces lists whole (tenants/config/merge.py): a district that sets
    ``work_groups.emergency`` has exactly its own groups; ``normal``, which it does not set, is its city's."""
    three = [{"code": "command", "title": "指挥组"}, {"code": "screening", "title": "排查组", "building_heads": True},
             {"code": "rest", "title": "其他", "others": True}]
    district = {"party": {"dual_registration": {"work_groups": {"emergency": three}, "talk_due_days": 7}}}
    doc, source = effective([*chain_of("zhangjiakou"), ("xuanhua", district)])
    dual = doc.party.dual_registration
    assert [g.code for g in dual.work_groups.emergency] == ["command", "screening", "rest"]
    assert [g.code for g in dual.work_groups.normal] == ["party_building", "livelihood", "safety", "environment"]
    assert (source[f"{DUAL}.work_groups.emergency"], source[f"{DUAL}.talk_due_days"]) == ("xuanhua", "xuanhua")
    assert source[f"{DUAL}.min_participations_per_year"] == "zhangjiakou"
    # The district's list is checked whole: a repeated code there is its problem.
    district["party"]["dual_registration"]["work_groups"]["emergency"].append(
        {"code": "rest", "title": "重复", "others": True})
    with pytest.raises(InvalidInput) as exc:
        effective([*chain_of("zhangjiakou"), ("xuanhua", district)])
    assert located(exc.value.problems) == {(f"{DUAL}.work_groups.emergency.3.code", "duplicate_code"),
                                           (f"{DUAL}.work_groups.emergency.3.others", "only_one")}


def test_the_schema_4_step_gives_a_schema_3_city_the_defaults_and_leaves_a_district_alone():
    city = schema_3(load_preset("linshu").overrides)
    upgraded, filled = upgrade_document(city, 3, root=True, to=4)
    assert filled == [f"{DUAL}.{key}" for key, _ in _V4_DUAL]
    dual = effective([("linshu", upgraded)])[0].party.dual_registration
    assert dual.notice_after_absences is None  # no notice 通报 before schema 4
    assert dual == DualRegistration(enabled=True, min_participations_per_year=5, consecutive_absences_flag=2)
    assert city["party"]["dual_registration"].keys() == {"enabled", "min_participations_per_year",
                                                          "consecutive_absences_flag"}  # the stored one untouched
    # The frozen values are document.py's defaults of the day schema 4 shipped.
    assert {k: v for k, v in upgraded["party"]["dual_registration"].items() if k in dict(_V4_DUAL)} == {
        k: v for k, v in DualRegistration(enabled=True, min_participations_per_year=5, consecutive_absences_flag=2)
        .model_dump().items() if k in dict(_V4_DUAL)}
    # A value the document has is kept; a district (which inherits them) and a document of schema 4 get nothing.
    city["party"]["dual_registration"]["talk_due_days"] = 10
    assert upgrade_document(city, 3, root=True, to=4)[0]["party"]["dual_registration"]["talk_due_days"] == 10
    district = {"party": {"dual_registration": {"min_participations_per_year": 6}}}
    assert upgrade_document(district, 3, root=False, parents=[upgraded], to=4) == (district, [])
    assert upgrade_document({"tickets": {}}, 3, root=True, to=4) == ({"tickets": {}}, [])
    preset = load_preset("sanbai").overrides
    assert upgrade_document(preset, 4, root=True, to=4) == (preset, [])


def test_the_thresholds_have_upper_bounds():
    """3,000,000,000 absences in a row overflowed the rule's int parameter (every close a 500): the numbers are
    bounded, 50 absences in a row and 366 participations a year at most."""
    raw = preset_document("linshu")
    raw["party"]["dual_registration"].update(consecutive_absences_flag=3_000_000_000, notice_after_absences=51,
                                             min_participations_per_year=367)
    assert located(problems_of(raw)) >= {
        (f"{DUAL}.consecutive_absences_flag", "out_of_range"),
        (f"{DUAL}.notice_after_absences", "out_of_range"),
        (f"{DUAL}.min_participations_per_year", "out_of_range"),
    }
    raw["party"]["dual_registration"].update(consecutive_absences_flag=49, notice_after_absences=50,
                                             min_participations_per_year=366)
    validate_document(raw)
