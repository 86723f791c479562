"""The ``assessment`` section: who scores property firms, on what rubric, and what the ranking leads to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from tenants.config.types import Cadence, Code, Count, Percent, PositiveInt, Score, Strict, Title

AssessmentMode = Literal["weighted", "three_hundred_percent"]


BodyRole = Literal["street_officer", "community_worker", "grid_worker", "owners_committee", "housing_dept"]


class Body(Strict):
    """An assessor body 考核主体 (e.g. the street/community party organisation) and its share of the score."""

    title: Title
    # Token roles that speak for the body within their own area (the party organisation: street officers and
    # community workers; the owners' committee: its members); assessor posts can name the body too.
    roles: list[BodyRole]
    # Percent of the body score in "weighted" mode; all bodies sum to 100 there. Unused in
    # "three_hundred_percent" mode, where the dimensions carry the weights.
    weight: Percent


class Dimension(Strict):
    """One dimension of "三个百分百" (e.g. party-building coverage), scored by exactly one body."""

    code: Code
    title: Title
    owner: Code
    weight: Percent


class RubricItem(Strict):
    """One line of the scoring rubric 考评标准及评分细则, scored by one body."""

    code: Code
    title: Title
    max_points: Annotated[int, Field(gt=0, le=100)]
    body: Code
    # Required in "three_hundred_percent" mode (the dimension the line counts towards); absent otherwise.
    dimension: Code | None = None
    # Who scores the line: its body (a score sheet), or the scoring run from records (issue 19): the compound's or
    # community's joint-meeting compliance in the period, or the share of its meeting decisions done on time.
    source: Literal["body", "meeting_compliance", "decisions_on_time"] = "body"


class ObjectiveWeights(Strict):
    """Percent of the objective part of the score each ticket-derived input carries."""

    closure_rate: Percent
    satisfaction_rate: Percent
    on_time_rate: Percent
    monthly_ticket_volume: Percent


class Objective(Strict):
    """Inputs computed from tickets rather than scored by people."""

    weights: ObjectiveWeights
    # Ticket volume is lower-is-better: tickets per compound per month at or below this score 100 ...
    volume_full_marks_at: Count
    # ... and at or above this score 0, linear in between.
    volume_zero_marks_at: PositiveInt


class FinalScore(Strict):
    """How body (or dimension) scores and objective inputs combine; the shares sum to 100."""

    body_share: Percent
    objective_share: Percent


class SupervisorFindings(Strict):
    """Deductions for findings of community supervisors 小区监督员, taken off the final 0-100 score."""

    enabled: bool
    points_per_finding: Annotated[int, Field(gt=0, le=100)]
    max_points_per_period: Score
    # A finding the firm resolves within this many hours costs only ``resolved_points_per_finding``.
    resolved_within_hours: PositiveInt
    resolved_points_per_finding: Score


# Firms with the same score where a list's size cuts between them: all go on the list (it grows), or all stay
# off it (it shrinks). Never the tie-break by id: two firms with the same score get the same treatment.
Ties = Literal["all_on", "all_off"]


class RedBlackList(Strict):
    """Published ranking 红黑榜: the top firms are commended, the bottom ones interviewed 约谈."""

    enabled: bool
    cadence: Literal["monthly", "quarterly", "yearly"]
    # "count": commend_top / interview_bottom are numbers of firms; "percent": shares of the scored firms.
    basis: Literal["count", "percent"]
    commend_top: Count
    interview_bottom: Count
    ties: Ties = "all_on"
    # A firm without a single submitted score sheet in the period is never commended; it stays off both lists
    # ("off_lists") or is interviewed for it ("interview"). Either way it does not count towards the sizes.
    unscored: Literal["off_lists", "interview"] = "off_lists"
    # Publishing the list owes each interviewed firm an interview 约谈 within this many days (reminded once
    # ``interview_reminder_days`` before, then overdue); each commended firm gets a commendation record.
    interview_within_days: Annotated[int, Field(ge=1, le=365)] = 30
    interview_reminder_days: Annotated[int, Field(ge=0, le=60)] = 7


class ServiceStar(Strict):
    """The "service star" 服务之星 title for the best firms of a period."""

    enabled: bool
    cadence: Cadence
    top_n: PositiveInt
    min_score: Score
    # Ties at the ``top_n`` boundary; a firm without a single submitted score sheet is never starred.
    ties: Ties = "all_on"


class Elimination(Strict):
    """Yearly bottom elimination 末位淘汰 of firms or of property managers."""

    enabled: bool
    target: Literal["firm", "manager"]
    # 0: no share, only the thresholds below (XX市 "eliminate those below standard").
    bottom_percent: Annotated[int, Field(ge=0, le=100)]
    # Also eliminated: a yearly score below this (0: no threshold) ...
    below_score: Score
    # ... or this many black-list appearances in the year (0: not used).
    black_list_times: Count


class Assessment(Strict):
    """Property-service assessment: three-party weighted 三方权重考核 or "三个百分百"."""

    mode: AssessmentMode
    cadence: Cadence
    # Bodies submit their scores within this many days after the period ends.
    submission_window_days: Annotated[int, Field(ge=1, le=28)]
    bodies: dict[Code, Body]
    dimensions: list[Dimension]
    rubric: list[RubricItem]
    objective: Objective
    final_score: FinalScore
    # A body that does not submit: its weight is spread over the others, or it counts as zero.
    missing_body: Literal["redistribute", "zero"]
    # A company's score from its compounds': weighted by each compound's annual fee receivable, or equally.
    company_combination: Literal["fee_receivable", "equal"]
    supervisor_findings: SupervisorFindings
    red_black_list: RedBlackList
    service_star: ServiceStar
    elimination: Elimination
