"""Rules across fields of the configuration document: sums, references between codes, orderings.

Every rule reads only the parts it needs (see ``parts``), so one pass reports every problem of a document.
"""

from __future__ import annotations

import itertools
from typing import Annotated, Any

from pydantic import Field, StrictInt

from tenants.config.assessment import (
    AssessmentMode,
    Body,
    Dimension,
    Elimination,
    FinalScore,
    Objective,
    RedBlackList,
    RubricItem,
    ServiceStar,
    SupervisorFindings,
)
from tenants.config.document import (
    CODED_UNITS,
    LADDER_ORDER,
    BrandProjects,
    DualRegistration,
    Earner,
    EarningEvent,
    EarningRule,
    EscalationLevel,
    GridScoreWeights,
    JointMeeting,
    LadderLevel,
    PayBand,
    PerformancePay,
    Redemption,
    SatisfactionScale,
    SubsidyBand,
    TicketCategory,
    TicketSteps,
    WorkGroup,
    WorkingHours,
)
from tenants.config.parts import (
    at,
    duplicates,
    entries,
    not_above,
    not_below,
    raw_codes,
    too_fine,
    unknown,
    valid,
    weights_sum,
)
from tenants.config.types import Cadence, Strict
from tenants.errors import Problem

BODY = ("考核主体", "body")
DIMENSION = ("维度", "dimension")
THREE_HUNDRED = "three_hundred_percent"


def cross_checks(raw: Any) -> list[Problem]:
    """Every cross-field problem of a (possibly broken) full document."""
    return [
        *_weights(raw),
        *_rubric(raw),
        *_scoring(raw),
        *_tickets(raw),
        *_subsidies(raw),
        *_points(raw),
        *_dual(raw),
        *_meetings(raw),
        *_across_sections(raw),
    ]


def _weights(raw: Any) -> list[Problem]:
    """Bodies' weights sum to 100 in weighted mode, dimensions' weights in 三个百分百 mode."""
    out: list[Problem] = []
    mode = valid(raw, "assessment.mode", AssessmentMode)
    bodies: dict[str, Body] | None = valid(raw, "assessment.bodies", dict[str, Body])
    dims_raw = at(raw, "assessment.dimensions")
    dims, dims_whole = entries(raw, "assessment.dimensions", Dimension)
    if mode == "weighted":
        if bodies is not None and (total := sum(b.weight for b in bodies.values())) != 100:
            out.append(weights_sum("assessment.bodies", total))
        if isinstance(dims_raw, list) and dims_raw:
            out.append(
                Problem(
                    "assessment.dimensions",
                    "not_in_mode",
                    "加权模式不使用维度，应为空",
                    "must be empty in weighted mode",
                )
            )
    elif mode == THREE_HUNDRED:
        if isinstance(dims_raw, list) and not dims_raw:
            out.append(
                Problem(
                    "assessment.dimensions",
                    "required",
                    "“三个百分百”模式至少需要一个维度",
                    "three_hundred_percent mode needs at least one dimension",
                )
            )
        elif dims_whole and (total := sum(d.weight for _, d in dims)) != 100:
            out.append(weights_sum("assessment.dimensions", total))
    return out


def _rubric(raw: Any) -> list[Problem]:
    """Codes are unique, rubric items and dimensions name bodies that exist, and every weight has a rubric."""
    mode = valid(raw, "assessment.mode", AssessmentMode)
    bodies: dict[str, Body] | None = valid(raw, "assessment.bodies", dict[str, Body])
    body_codes = raw_codes(raw, "assessment.bodies")
    dims, dims_whole = entries(raw, "assessment.dimensions", Dimension)
    rubric, rubric_whole = entries(raw, "assessment.rubric", RubricItem)
    # A dimension whose owner is unknown is reported once, not again on each of its rubric lines.
    owners = {d.code: (d.owner if body_codes is None or d.owner in body_codes else None) for _, d in dims}

    out = duplicates([(f"assessment.dimensions.{i}", d.code) for i, d in dims])
    out += duplicates([(f"assessment.rubric.{i}", item.code) for i, item in rubric])
    if body_codes is not None:
        out += [
            unknown(f"assessment.dimensions.{i}.owner", "unknown_body", BODY, d.owner, body_codes)
            for i, d in dims
            if d.owner not in body_codes
        ]
    for i, item in rubric:
        here = f"assessment.rubric.{i}"
        if body_codes is not None and item.body not in body_codes:
            out.append(unknown(f"{here}.body", "unknown_body", BODY, item.body, body_codes))
        if mode == "weighted" and item.dimension is not None:
            out.append(
                Problem(
                    f"{here}.dimension", "not_in_mode", "加权模式下不应设置维度", "must not be set in weighted mode"
                )
            )
        elif mode == THREE_HUNDRED and item.dimension is None:
            out.append(
                Problem(
                    f"{here}.dimension",
                    "required",
                    "“三个百分百”模式下必填",
                    "is required in three_hundred_percent mode",
                )
            )
        elif mode == THREE_HUNDRED and dims_whole and item.dimension not in owners:
            out.append(unknown(f"{here}.dimension", "unknown_dimension", DIMENSION, str(item.dimension), set(owners)))
        elif mode == THREE_HUNDRED and item.dimension in owners and owners[item.dimension] not in (item.body, None):
            owner = owners[item.dimension]
            out.append(
                Problem(
                    f"{here}.body",
                    "owner_mismatch",
                    f"维度 {item.dimension} 由 {owner} 评分，不能由 {item.body} 评分",
                    f"dimension {item.dimension!r} is scored by {owner!r}, not {item.body!r}",
                )
            )

    if not rubric_whole:
        return out
    if mode == "weighted" and bodies is not None:
        scored = {item.body for _, item in rubric}
        out += [
            Problem(
                f"assessment.bodies.{code}",
                "no_rubric",
                "有权重但没有由其评分的细则项",
                "has a weight but no rubric item to score",
            )
            for code, body in bodies.items()
            if body.weight > 0 and code not in scored
        ]
    if mode == THREE_HUNDRED and dims_whole:
        covered = {item.dimension for _, item in rubric}
        out += [
            Problem(f"assessment.dimensions.{i}", "no_rubric", "没有属于该维度的细则项", "has no rubric item")
            for i, d in dims
            if d.code not in covered
        ]
    return out


def _scoring(raw: Any) -> list[Problem]:
    """Final-score shares, objective inputs, deductions and the rankings built on scores."""
    out: list[Problem] = []
    final: FinalScore | None = valid(raw, "assessment.final_score", FinalScore)
    if final is not None and (total := final.body_share + final.objective_share) != 100:
        out.append(weights_sum("assessment.final_score", total))
    objective: Objective | None = valid(raw, "assessment.objective", Objective)
    if objective is not None:
        w = objective.weights
        total = w.closure_rate + w.satisfaction_rate + w.on_time_rate + w.monthly_ticket_volume
        if final is not None and final.objective_share > 0 and total != 100:
            out.append(weights_sum("assessment.objective.weights", total))
        full, zero = objective.volume_full_marks_at, objective.volume_zero_marks_at
        if zero <= full:
            out.append(
                Problem(
                    "assessment.objective.volume_zero_marks_at",
                    "range_order",
                    f"须大于 volume_full_marks_at（{full}），实为 {zero}",
                    f"must be greater than volume_full_marks_at ({full}), got {zero}",
                )
            )
    findings: SupervisorFindings | None = valid(raw, "assessment.supervisor_findings", SupervisorFindings)
    if findings is not None and findings.resolved_points_per_finding > findings.points_per_finding:
        out.append(
            not_above(
                "assessment.supervisor_findings.resolved_points_per_finding",
                "points_per_finding",
                findings.points_per_finding,
                findings.resolved_points_per_finding,
            )
        )
    cadence: Cadence | None = valid(raw, "assessment.cadence", Cadence)
    ranking: RedBlackList | None = valid(raw, "assessment.red_black_list", RedBlackList)
    if ranking is not None:
        both = ranking.commend_top + ranking.interview_bottom
        if ranking.basis == "percent" and both > 100:
            out.append(
                Problem(
                    "assessment.red_black_list",
                    "range_order",
                    f"按比例时 commend_top 与 interview_bottom 之和不能超过 100，实为 {both}",
                    f"commend_top + interview_bottom must not exceed 100 percent, got {both}",
                )
            )
        out += too_fine("assessment.red_black_list.cadence", ranking.cadence, cadence)
    star: ServiceStar | None = valid(raw, "assessment.service_star", ServiceStar)
    if star is not None:
        out += too_fine("assessment.service_star.cadence", star.cadence, cadence)
    rule: Elimination | None = valid(raw, "assessment.elimination", Elimination)
    if rule is not None and rule.enabled and not (rule.bottom_percent or rule.below_score or rule.black_list_times):
        out.append(
            Problem(
                "assessment.elimination",
                "no_criterion",
                "末位淘汰已启用，但 bottom_percent、below_score、black_list_times 均为 0",
                "elimination is enabled but bottom_percent, below_score and black_list_times are all 0",
            )
        )
    return out


def _tickets(raw: Any) -> list[Problem]:
    """Resolve stays on, codes are unique across the taxonomy, the ladder climbs, the scale is ordered."""
    out: list[Problem] = []
    steps: TicketSteps | None = valid(raw, "tickets.steps", TicketSteps)
    if steps is not None and not steps.resolve:
        out.append(
            Problem("tickets.steps.resolve", "step_required", "办结步骤不能关闭", "resolve cannot be turned off")
        )

    categories, _ = entries(raw, "tickets.taxonomy", TicketCategory)
    out += duplicates([(f"tickets.taxonomy.{i}", c.code) for i, c in categories])
    out += duplicates(
        [(f"tickets.taxonomy.{i}.items.{j}", item.code) for i, c in categories for j, item in enumerate(c.items)]
    )

    for i, c in categories:
        for j, item in enumerate(c.items):
            refs = [(f"tickets.taxonomy.{i}.items.{j}", item.unit, item.unit_code)]
            refs += [(f"tickets.taxonomy.{i}.items.{j}.partners.{k}", p.unit, p.unit_code)
                     for k, p in enumerate(item.partners)]
            out += [
                Problem(
                    f"{path}.unit_code",
                    "not_applicable",
                    f"{unit} 由工单所在地确定，不能指定单位编码",
                    f"a {unit} follows the ticket's place; only {' or '.join(CODED_UNITS)} take a unit_code",
                )
                for path, unit, code in refs
                if code is not None and unit not in CODED_UNITS
            ]

    ladder, _ = entries(raw, "tickets.escalation_ladder", EscalationLevel)
    previous: LadderLevel | None = None
    for i, rung in ladder:
        if previous is not None and LADDER_ORDER.index(rung.level) <= LADDER_ORDER.index(previous):
            out.append(
                Problem(
                    f"tickets.escalation_ladder.{i}.level",
                    "ladder_order",
                    f"须排在 {previous} 之后（顺序：社区、街道、县直部门）",
                    f"must come after {previous} (order: community, street, county_department)",
                )
            )
        previous = rung.level

    scale: SatisfactionScale | None = valid(raw, "tickets.satisfaction_scale", SatisfactionScale)
    if scale is not None:
        lo, hi, ok = scale.lowest, scale.highest, scale.satisfied_from
        if hi <= lo:
            out.append(
                Problem(
                    "tickets.satisfaction_scale.highest",
                    "scale_order",
                    f"须大于 lowest（{lo}），实为 {hi}",
                    f"must be greater than lowest ({lo}), got {hi}",
                )
            )
        elif not lo <= ok <= hi:
            out.append(
                Problem(
                    "tickets.satisfaction_scale.satisfied_from",
                    "scale_order",
                    f"须在 {lo} 到 {hi} 之间，实为 {ok}",
                    f"must be between {lo} and {hi}, got {ok}",
                )
            )
    return out


def _subsidies(raw: Any) -> list[Problem]:
    """Bands ascend by score without overlap and never pay less for more; a project fits in the yearly cap."""
    out: list[Problem] = []
    bands, _ = entries(raw, "subsidies.bands", SubsidyBand)
    for (_, before), (i, band) in itertools.pairwise(bands):
        if band.min_score <= before.min_score:
            out.append(
                Problem(
                    f"subsidies.bands.{i}.min_score",
                    "bands_order",
                    f"须大于上一档的 {before.min_score}（各档按分数升序且不重叠），实为 {band.min_score}",
                    f"must be greater than the previous band's {before.min_score} (bands ascend without overlap), "
                    f"got {band.min_score}",
                )
            )
        elif band.share_percent < before.share_percent:
            out.append(
                not_below(
                    f"subsidies.bands.{i}.share_percent",
                    "the previous band's share",
                    before.share_percent,
                    band.share_percent,
                    "bands_order",
                )
            )
    brand: BrandProjects | None = valid(raw, "subsidies.brand_projects", BrandProjects)
    if brand is not None and brand.per_project_cap_fen > brand.yearly_cap_fen:
        out.append(
            not_above(
                "subsidies.brand_projects.per_project_cap_fen",
                "yearly_cap_fen",
                brand.yearly_cap_fen,
                brand.per_project_cap_fen,
                "cap_order",
            )
        )
    return out


# Who an event can pay: the person the event is about. A ticket's events pay the resident who reported or rated it; a
# steward's report pays the steward (a ticket_reported of the steward channel); attending a community activity
# pays whoever took part (every earner but a grid worker, for whom activities are duty, paid by manual rules).
# ``manual`` rules are awarded by staff to any earner.
EVENT_EARNERS: dict[EarningEvent, frozenset[Earner]] = {
    "manual": frozenset(("resident", "building_head", "unit_head", "party_member", "volunteer", "grid_worker",
                         "steward")),
    "ticket_reported": frozenset(("resident",)),
    "ticket_accepted": frozenset(("resident",)),
    "ticket_rated": frozenset(("resident",)),
    "steward_report": frozenset(("steward",)),
    "activity_attended": frozenset(("resident", "building_head", "unit_head", "party_member", "volunteer",
                                    "steward")),
}
PARTNER_KINDS = ("merchant", "canteen")  # kinds a partner honours (service/goods are handed out by the community)


def _points(raw: Any) -> list[Problem]:
    """Codes are unique; caps allow a day's activity; events pay their earners; the catalogue, the grid score and
    the performance pay are coherent."""
    rules, _ = entries(raw, "points.earning_rules", EarningRule)
    redemptions, _ = entries(raw, "points.redemptions", Redemption)
    out = duplicates([(f"points.earning_rules.{i}", r.code) for i, r in rules])
    out += duplicates([(f"points.redemptions.{i}", r.code) for i, r in redemptions])
    for i, rule in rules:
        here = f"points.earning_rules.{i}"
        if rule.daily_cap < rule.points:
            out.append(not_below(f"{here}.daily_cap", "points", rule.points, rule.daily_cap, "cap_order"))
        if rule.monthly_cap < rule.daily_cap:
            out.append(not_below(f"{here}.monthly_cap", "daily_cap", rule.daily_cap, rule.monthly_cap, "cap_order"))
        allowed = EVENT_EARNERS[rule.on]
        for j, earner in enumerate(rule.earners):
            if earner not in allowed:
                listed = ", ".join(sorted(allowed))
                out.append(Problem(
                    f"{here}.earners.{j}",
                    "earner_not_in_event",
                    f"事件 {rule.on} 不产生 {earner} 的积分（可为：{listed}）",
                    f"event {rule.on!r} has no {earner!r} to earn (it has: {listed})",
                ))
    for i, item in redemptions:
        here = f"points.redemptions.{i}"
        if item.valid_from is not None and item.valid_until is not None and item.valid_until < item.valid_from:
            out.append(Problem(
                f"{here}.valid_until",
                "range_order",
                f"不能早于 valid_from（{item.valid_from}），实为 {item.valid_until}",
                f"must not be before valid_from ({item.valid_from}), got {item.valid_until}",
            ))
        if item.partner is not None and item.kind not in PARTNER_KINDS:
            out.append(Problem(
                f"{here}.partner",
                "not_applicable",
                f"只有 merchant、canteen 类兑换可指定合作商户，{item.kind} 不能",
                f"only merchant and canteen redemptions name a partner, not {item.kind}",
            ))
    weights: GridScoreWeights | None = valid(raw, "points.grid_score.weights", GridScoreWeights)
    if weights is not None and (total := sum(weights.model_dump().values())) != 100:
        out.append(weights_sum("points.grid_score.weights", total))
    out += _pay_bands(raw)
    pay: PerformancePay | None = valid(raw, "points.performance_pay", PerformancePay)
    if pay is None:
        return out
    here = "points.performance_pay"
    if pay.points_rate_fen > 0 and pay.points_cap_fen == 0:
        out.append(Problem(
            f"{here}.points_cap_fen",
            "cap_order",
            "积分折算单价大于 0 时积分部分上限须大于 0（不折算积分则把 points_rate_fen 设为 0）",
            "must be above 0 when points_rate_fen is (set points_rate_fen to 0 to pay nothing for points)",
        ))
    # A total cap may cut even the best band (a county's budget); it must leave room for the points part.
    if 0 < pay.cap_fen < pay.points_cap_fen:
        out.append(not_above(f"{here}.points_cap_fen", "cap_fen", pay.cap_fen, pay.points_cap_fen, "cap_order"))
    return out


def _pay_bands(raw: Any) -> list[Problem]:
    """Bands descend strictly by score to a last band at 0, and a lower band never pays a higher percent."""
    path = "points.performance_pay.bands"
    value = at(raw, path)
    if isinstance(value, list) and not value:
        return [Problem(path, "required", "至少需要一档（最后一档 min_score 为 0）",
                        "needs at least one band (the last with min_score 0)")]
    bands, whole = entries(raw, path, PayBand)
    out: list[Problem] = []
    for (_, above), (i, band) in itertools.pairwise(bands):
        if band.min_score >= above.min_score:
            out.append(Problem(
                f"{path}.{i}.min_score",
                "bands_order",
                f"须小于上一档的 {above.min_score}（各档按分数降序且不重叠），实为 {band.min_score}",
                f"must be less than the previous band's {above.min_score} (bands descend without overlap), "
                f"got {band.min_score}",
            ))
        elif band.percent > above.percent:
            out.append(Problem(
                f"{path}.{i}.percent",
                "bands_order",
                f"不能高于上一档（分数更高）的 {above.percent}%，实为 {band.percent}%",
                f"must not exceed the previous (higher-scoring) band's {above.percent} percent, got {band.percent}",
            ))
    if whole and bands and (last := bands[-1])[1].min_score != 0:
        out.append(Problem(
            f"{path}.{last[0]}.min_score",
            "bands_order",
            f"最后一档须从 0 分起（覆盖所有分数），实为 {last[1].min_score}",
            f"the last band must start at 0 (so every score has a band), got {last[1].min_score}",
        ))
    return out


DUAL = "party.dual_registration"


def _dual(raw: Any) -> list[Problem]:
    """双报到: a notice 通报 needs more absences than a talk 谈话, reminders come before their deadlines, working hours
    end after they start on distinct days, and each set of work groups has unique codes and at most one group for
    building heads and one for the others."""
    out: list[Problem] = []
    if isinstance(at(raw, DUAL), dict):  # each number on its own: a broken work group does not hide these
        flag, notice = _dual_number(raw, "consecutive_absences_flag"), _dual_number(raw, "notice_after_absences")
        if flag is not None and notice is not None and notice <= flag:
            out.append(Problem(
                f"{DUAL}.notice_after_absences",
                "range_order",
                f"须大于 consecutive_absences_flag（{flag}，谈话在先、通报在后），实为 {notice}",
                f"must be greater than consecutive_absences_flag ({flag}: the talk comes first, then the notice), "
                f"got {notice}",
            ))
        for reminder, due in (("talk_reminder_days", "talk_due_days"), ("wish_reminder_days", "wish_due_days")):
            before, limit = _dual_number(raw, reminder), _dual_number(raw, due)
            if before is not None and limit is not None and before >= limit:
                out.append(Problem(
                    f"{DUAL}.{reminder}",
                    "range_order",
                    f"须小于 {due}（{limit}，提醒在到期之前），实为 {before}",
                    f"must be less than {due} ({limit}: the reminder comes before the due day), got {before}",
                ))
    hours: WorkingHours | None = valid(raw, f"{DUAL}.working_hours", WorkingHours)
    if hours is not None:
        if hours.end <= hours.start:
            out.append(Problem(
                f"{DUAL}.working_hours.end",
                "range_order",
                f"须晚于 start（{hours.start}），实为 {hours.end}",
                f"must be after start ({hours.start}), got {hours.end}",
            ))
        seen: set[int] = set()
        for i, day in enumerate(hours.weekdays):
            if day in seen:
                out.append(Problem(f"{DUAL}.working_hours.weekdays.{i}", "duplicate", f"星期 {day} 重复",
                                   f"weekday {day} is listed twice"))
            seen.add(day)
    for name in ("normal", "emergency"):
        path = f"{DUAL}.work_groups.{name}"
        groups, _ = entries(raw, path, WorkGroup)
        out += duplicates([(f"{path}.{i}", g.code) for i, g in groups])
        for flag_name, zh in (("building_heads", "楼长"), ("others", "其余人员")):
            marked = [(i, g) for i, g in groups if getattr(g, flag_name)]
            out += [
                Problem(
                    f"{path}.{i}.{flag_name}",
                    "only_one",
                    f"每套工作组最多一个{zh}组（已是 {path}.{marked[0][0]}），{g.code} 不能再设",
                    f"at most one group of a set takes the {flag_name.replace('_', ' ')} "
                    f"({path}.{marked[0][0]} does), not {g.code!r} too",
                )
                for i, g in marked[1:]
            ]
    return out


def _dual_number(raw: Any, key: str) -> int | None:
    """A number of ``party.dual_registration``: as set, else its default; None when broken or required."""
    if at(raw, f"{DUAL}.{key}") is None:
        default = DualRegistration.model_fields[key].default
        return default if isinstance(default, int) else None
    return valid(raw, f"{DUAL}.{key}", Annotated[StrictInt, Field(ge=0)])


MEETING = "party.joint_meeting"
RED_BLACK = "assessment.red_black_list"
# The shortest period of a meeting cadence in days: a decision's reminder and escalation come within it, before the
# next meeting takes the decision up again.
CADENCE_DAYS: dict[str, int] = {"monthly": 28, "quarterly": 90}


def _meetings(raw: Any) -> list[Problem]:
    """Joint meetings and interviews (issue 19): a rubric line scored from meeting records needs the meetings, an
    owed interview's reminder comes before its deadline, a decision's reminder and escalation before the next
    meeting."""
    out: list[Problem] = []
    rubric, _ = entries(raw, "assessment.rubric", RubricItem)
    enabled = _number(raw, MEETING, "enabled", JointMeeting, bool)
    if enabled is False:
        out += [
            Problem(
                f"assessment.rubric.{i}.source",
                "needs_joint_meeting",
                f"细则项 {item.code} 由联席会议记录评分（{item.source}），须开启 {MEETING}.enabled",
                f"rubric line {item.code!r} is scored from meeting records ({item.source}): {MEETING}.enabled must "
                "be on",
            )
            for i, item in rubric
            if item.source != "body"
        ]
    within = _number(raw, RED_BLACK, "interview_within_days", RedBlackList, int)
    reminder = _number(raw, RED_BLACK, "interview_reminder_days", RedBlackList, int)
    if within is not None and reminder is not None and reminder >= within:
        out.append(Problem(
            f"{RED_BLACK}.interview_reminder_days",
            "range_order",
            f"须小于 interview_within_days（{within}，提醒在约谈期限之前），实为 {reminder}",
            f"must be less than interview_within_days ({within}: the reminder comes before the interview's "
            f"deadline), got {reminder}",
        ))
    cadence = valid(raw, f"{MEETING}.cadence", Cadence)
    if cadence is not None:
        days = CADENCE_DAYS[cadence]
        for key, zh, en in (
            ("decision_reminder_days", "到期前提醒", "the reminder before the due day"),
            ("decision_escalation_days", "逾期升级", "the escalation after it"),
        ):
            value = _number(raw, MEETING, key, JointMeeting, int)
            if value is not None and value >= days:
                out.append(Problem(
                    f"{MEETING}.{key}",
                    "range_order",
                    f"须小于 {days} 天（会议周期 {cadence}：{zh}须在下次会议之前），实为 {value}",
                    f"must be less than {days} days (meetings are {cadence}: {en} comes before the next meeting), "
                    f"got {value}",
                ))
    return out


def _number(raw: Any, section: str, key: str, model: type[Strict], tp: type) -> Any:
    """A field of a section: as set, else the model's default; None when broken or required without a value."""
    if at(raw, f"{section}.{key}") is None:
        default = model.model_fields[key].default
        return default if isinstance(default, tp) else None
    return valid(raw, f"{section}.{key}", Annotated[tp, Field(strict=True)])


def _across_sections(raw: Any) -> list[Problem]:
    """Rules that tie the assessment to tickets and to the schedule."""
    out: list[Problem] = []
    final: FinalScore | None = valid(raw, "assessment.final_score", FinalScore)
    objective: Objective | None = valid(raw, "assessment.objective", Objective)
    steps: TicketSteps | None = valid(raw, "tickets.steps", TicketSteps)
    weighs_satisfaction = final and objective and final.objective_share > 0 and objective.weights.satisfaction_rate
    if weighs_satisfaction and steps is not None and not steps.rate:
        out.append(
            Problem(
                "tickets.steps.rate",
                "needs_step",
                "考核计入满意率，评价步骤须开启",
                "must be on: the assessment weighs satisfaction_rate",
            )
        )
    window = valid(raw, "assessment.submission_window_days", StrictInt)
    day = valid(raw, "schedule.monthly_rating.day", StrictInt)
    if window is not None and day is not None and day <= window:
        out.append(
            Problem(
                "schedule.monthly_rating.day",
                "range_order",
                f"须晚于 {window} 天的评分提交期，实为 {day} 日",
                f"must fall after the {window}-day submission window, got day {day}",
            )
        )
    return out
