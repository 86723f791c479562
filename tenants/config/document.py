"""The tenant configuration document: one pydantic model per section, field types and ranges only.

Rules that relate several fields (weights summing to 100, references between codes, ordering) live in
``tenants.config.checks`` so that every problem of a document can be reported at once, and so that a partial
override can be checked for structure alone.

Inheritance merges mappings key by key and replaces lists whole, which is why assessor bodies (that districts
re-weight one by one) are a mapping keyed by code while rubric, taxonomy and catalogues are lists.
Every optional mechanism has ``enabled``; its numbers are validated whether it is on or off, so switching it on
with a one-key override never yields an invalid document.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator

from tenants.config.assessment import Assessment
from tenants.config.types import Cadence, ClockTime, Code, Count, Fen, Percent, PositiveInt, Score, Strict, Title

UnitType = Literal["community", "property_company", "street", "county_department", "housing_dept"]
LadderLevel = Literal["community", "street", "county_department"]
LADDER_ORDER: tuple[LadderLevel, ...] = ("community", "street", "county_department")


# A department's code as the tenant registered it (units: 城管, 住保 ...).
UnitCode = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# Unit types that are registered units (``Unit`` rows), so a code can name one; the others follow the place.
CODED_UNITS = ("county_department", "housing_dept")


class PartnerRef(Strict):
    """A partner named by its unit type and, for a department, its code."""

    unit: UnitType
    unit_code: UnitCode | None = None


class TicketItem(Strict):
    """One kind of resident request (e.g. 楼道堆物): who acts on it (由谁干) and how fast."""

    code: Code
    title: Title
    unit: UnitType
    # For a county department (or one of several housing departments): which one, by its unit code.
    unit_code: UnitCode | None = None
    sla_hours: PositiveInt
    # The responsibility matrix 职通民声 also names who helps ("怎么配合干"): a unit type, or a department by code.
    partners: list[PartnerRef] = Field(default_factory=list)
    # A hint for the resident's form (ticketCatalog, Open311): a photo helps. Never a refusal: hotline operators
    # enter reports without one.
    photo_expected: bool = False

    @field_validator("partners", mode="before")
    @classmethod
    def _bare_unit_types(cls, value: Any) -> Any:
        """``"street"`` is short for ``{unit = "street"}``."""
        if isinstance(value, list):
            return [{"unit": v} if isinstance(v, str) else v for v in value]
        return value


class TicketCategory(Strict):
    """A category of the ticket taxonomy (张家口: 9 categories / 81 items)."""

    code: Code
    title: Title
    items: Annotated[list[TicketItem], Field(min_length=1)]


class TicketSteps(Strict):
    """Which workflow steps are on; ``resolve`` is always on."""

    review: bool
    dispatch: bool
    accept: bool
    resolve: bool
    rate: bool


class EscalationLevel(Strict):
    """A rung of the escalation ladder: hours a ticket may stay unresolved here before moving up.

    On the last rung, running out of time marks the ticket overdue (and counts towards the efficiency office).
    """

    level: LadderLevel
    hours: PositiveInt


class SatisfactionScale(Strict):
    """The rating residents give a closed ticket, and the lowest rating that counts as satisfied."""

    lowest: Count
    highest: PositiveInt
    satisfied_from: Count


class Tickets(Strict):
    """Resident grievances "百姓说事、干部解题": taxonomy, steps, timers and escalation 提级督办."""

    taxonomy: Annotated[list[TicketCategory], Field(min_length=1)]
    steps: TicketSteps
    review_dispatch_sla_hours: PositiveInt
    escalation_ladder: Annotated[list[EscalationLevel], Field(min_length=1)]
    # A unit escalated this many times is handed to the efficiency-supervision office 作风效能办 (0: never).
    escalations_before_efficiency_office: Count
    # How escalations are counted for the hand-over: ``consecutive`` (连续: since the unit's last on-time
    # resolution or hand-over, across months) or ``calendar_month`` (within one tenant-local month).
    efficiency_office_window: Literal["consecutive", "calendar_month"] = "consecutive"
    # A partner unit accepts its co-handling task within this many hours, or the task escalates.
    partner_accept_hours: PositiveInt = 24
    satisfaction_scale: SatisfactionScale


class SubsidyBand(Strict):
    """From ``min_score`` up to the next band, a community earns ``share_percent`` of its pool."""

    min_score: Score
    share_percent: Percent


class BrandProjects(Strict):
    """Community brand projects 品牌项目: declared, checked mid-year, accepted and paid at year end."""

    enabled: bool
    yearly_cap_fen: Fen
    per_project_cap_fen: Fen


class Subsidies(Strict):
    """Reward in lieu of subsidy 以奖代补: a yearly pool per community paid out by rating bands."""

    enabled: bool
    yearly_pool_per_community_fen: Fen
    bands: Annotated[list[SubsidyBand], Field(min_length=1)]
    settlement_cadence: Literal["quarterly", "yearly"]
    approval_required: bool
    brand_projects: BrandProjects


class Bonds(Strict):
    """Performance bond 履约保证金: a share of the year's property fee receivable, held by the street."""

    enabled: bool
    ratio_percent: Annotated[int, Field(gt=0, le=100)]
    # After the street draws on a bond, the firm tops it up within this many days.
    top_up_deadline_days: PositiveInt


Earner = Literal[
    "resident", "building_head", "unit_head", "party_member", "volunteer", "grid_worker", "steward"
]
# What earns a rule's points: a staff member's award (duty rules 楼长履职 ...), or an event (tenants/events.py).
EarningEvent = Literal[
    "manual", "ticket_accepted", "ticket_reported", "ticket_rated", "steward_report", "activity_attended"
]


# Bounds that keep every figure far inside the database's integers (points in int, fen in bigint).
PointsAmount = Annotated[int, Field(gt=0, le=1_000_000)]
PointsFen = Annotated[int, Field(ge=0, le=100_000_000_000)]  # up to a billion yuan


class EarningRule(Strict):
    """Points 积分 for one activity, capped per person per day and per month (tenant time)."""

    code: Code
    title: Title
    earners: Annotated[list[Earner], Field(min_length=1)]
    points: PointsAmount
    daily_cap: PointsAmount
    monthly_cap: PointsAmount
    on: EarningEvent = "manual"


RedemptionKind = Literal["fee_reduction", "merchant", "canteen", "service", "goods"]
LooseDate = Annotated[date, Field(strict=False)]  # a TOML date or an ISO string from a stored document


class Redemption(Strict):
    """One redemption scenario: what it costs in points and what it is worth in fen."""

    code: Code
    title: Title
    kind: RedemptionKind
    cost_points: PointsAmount
    value_fen: PointsFen
    stock: Annotated[int, Field(gt=0, le=100_000_000)] | None = None  # vouchers issuable in all (None: unlimited)
    monthly_limit: Annotated[int, Field(gt=0, le=1_000)] | None = None  # per person per calendar month (None: none)
    valid_from: LooseDate | None = None  # first day it can be redeemed
    valid_until: LooseDate | None = None  # last day it can be redeemed
    voucher_days: Annotated[int, Field(ge=1, le=366)] = 30  # a voucher is good to the end of this many days
    partner: Code | None = None  # merchant/canteen: the partner that honours it (None: any of that kind)


class GridScoreWeights(Strict):
    """Shares of a grid's monthly score, summing to 100."""

    closure_rate: Percent = 30
    satisfaction_rate: Percent = 30
    on_time_rate: Percent = 20
    compound_rating: Percent = 10
    points: Percent = 10


class GridScore(Strict):
    """A grid's score for a month: its tickets, its compounds' ratings and its earners' points."""

    weights: GridScoreWeights = GridScoreWeights()
    points_basis: Literal["per_household", "per_earner"] = "per_household"
    points_full_marks: PositiveInt = 10  # average points in the month worth the whole points share


class PayBand(Strict):
    min_score: Annotated[int, Field(ge=0, le=100)]
    percent: Percent


class PerformancePay(Strict):
    """A grid worker's monthly performance pay: base x the band of their grid's score + own points, capped."""

    enabled: bool = False
    base_fen: PointsFen = 0
    bands: list[PayBand] = [PayBand(min_score=0, percent=100)]
    points_rate_fen: Annotated[int, Field(ge=0, le=100_000)] = 0  # fen per point the worker earned in the month
    points_cap_fen: PointsFen = 0  # cap on the points part
    cap_fen: PointsFen = 0  # cap on the whole pay (0: none)


class Points(Strict):
    """Points for residents, building heads and volunteers, and what they buy."""

    enabled: bool
    earning_rules: list[EarningRule]
    redemptions: list[Redemption]
    expiry_months: Annotated[int, Field(ge=0, le=120)]  # 0: points never expire
    expiry_warning_days: Annotated[int, Field(ge=1, le=90)] = 7
    grid_score: GridScore = GridScore()
    performance_pay: PerformancePay = PerformancePay()


class WorkingHours(Strict):
    """Working hours: an activity that starts or ends outside them, or on another day, is service 8小时以外."""

    start: ClockTime = "09:00"
    end: ClockTime = "17:30"
    weekdays: Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(max_length=7)] = [1, 2, 3, 4, 5]  # ISO
    # end after start and distinct weekdays: tenants.config.checks (one bilingual problem per field)


class WorkGroup(Strict):
    """A community work group; members are placed by their skills, their building-head post, or as the rest."""

    code: Code
    title: Title
    skills: list[Code] = []  # a member with one of these skills goes here
    building_heads: bool = False  # members holding a building-head post go here
    others: bool = False  # everyone no other rule places (one group at most)


def _group(code: str, title: str, **rules: Any) -> WorkGroup:
    return WorkGroup(code=code, title=title, **rules)


class WorkGroups(Strict):
    """平急结合: a community's work groups in normal times and in an emergency (一键启动)."""

    normal: Annotated[list[WorkGroup], Field(min_length=1, max_length=20)] = [
        _group("party_building", "党建引领组"),
        _group("livelihood", "民生服务组", others=True),
        _group("safety", "平安建设组", skills=["security"]),
        _group("environment", "环境整治组", building_heads=True),
    ]
    emergency: Annotated[list[WorkGroup], Field(min_length=1, max_length=20)] = [
        _group("command", "综合协调组"),
        _group("screening", "排查登记组", building_heads=True),
        _group("supplies", "物资保障组", skills=["logistics", "driver"]),
        _group("medical", "医疗救护组", skills=["medical"]),
        _group("order", "秩序维护组", skills=["security"]),
        _group("publicity", "宣传引导组", skills=["publicity"]),
        _group("care", "关爱帮扶组", others=True),
    ]


class YearEndRun(Strict):
    """When the year-end 双报到 reports of the year before are made and sent (tenant time)."""

    month: Annotated[int, Field(ge=1, le=3)] = 1
    day: Annotated[int, Field(ge=1, le=28)] = 5
    hour: Annotated[int, Field(ge=0, le=23)] = 3


class DualRegistration(Strict):
    """双报到: units and in-service party members register at a community and take part in its work."""

    enabled: bool
    min_participations_per_year: Annotated[int, Field(ge=1, le=366)]
    consecutive_absences_flag: Annotated[int, Field(ge=1, le=50)]  # this many absences in a row open a talk 谈话
    # optional: this many in a row, a notice 通报 to the work unit
    notice_after_absences: Annotated[int, Field(ge=1, le=50)] | None = None
    talk_due_days: Annotated[int, Field(ge=1, le=90)] = 14  # a talk is due this many days after it opens
    talk_reminder_days: Annotated[int, Field(ge=0, le=30)] = 3  # the secretary is reminded this many days before
    wish_claim_days: Annotated[int, Field(ge=1, le=90)] = 7  # a wish unclaimed this long goes to the community
    wish_due_days: Annotated[int, Field(ge=1, le=180)] = 30  # a claimed wish is due this many days after claiming
    wish_reminder_days: Annotated[int, Field(ge=0, le=30)] = 3  # its claimant is reminded this many days before
    checkin_code_minutes: Annotated[int, Field(ge=1, le=1440)] = 30  # a venue's check-in code is good this long
    working_hours: WorkingHours = WorkingHours()
    year_end_report: YearEndRun = YearEndRun()
    work_groups: WorkGroups = WorkGroups()


MeetingParty = Literal["community_party_org", "residents_committee", "owners_committee", "property_company"]


class JointMeeting(Strict):
    """Joint meeting 三方联动 / 四位一体联席会议 of the residents' committee, owners' committee and firm."""

    enabled: bool
    cadence: Cadence
    parties: Annotated[list[MeetingParty], Field(min_length=2)]
    # Where meetings are held and compliance is judged: per community (四位一体, 三方联席) or per compound.
    level: Literal["community", "compound"] = "community"
    # A decision's owner is reminded this many days before its due day; this many days overdue it escalates one
    # level up the ladder (community -> street -> tenant), once per level.
    decision_reminder_days: Annotated[int, Field(ge=0, le=60)] = 3
    decision_escalation_days: Annotated[int, Field(ge=0, le=60)] = 1


class Party(Strict):
    """Party-building mechanisms that produce records and flags."""

    dual_registration: DualRegistration
    joint_meeting: JointMeeting


class Reminders(Strict):
    """How long before a deadline people are reminded."""

    ticket_deadline_lead_minutes: PositiveInt
    assessment_deadline_lead_hours: PositiveInt
    bond_top_up_lead_days: PositiveInt


class MonthlyRun(Strict):
    """A monthly job time in the tenant's time zone (days 1-28 exist in every month)."""

    day: Annotated[int, Field(ge=1, le=28)]
    hour: Annotated[int, Field(ge=0, le=23)]


class Schedule(Strict):
    """When the rating of a closed period and the subsidy settlement run."""

    monthly_rating: MonthlyRun
    settlement: MonthlyRun
    monthly_points: MonthlyRun = MonthlyRun(day=5, hour=3)  # grid scores, pay and partner statements
    nightly_points_hour: Annotated[int, Field(ge=0, le=23)] = 1  # points expiry and expiry warnings


class Files(Strict):
    """Uploaded photos: whether the location a camera wrote into a photo (EXIF GPS) is kept, and how long an upload
    never attached to anything is kept before the hourly cleanup deletes it."""

    keep_location: bool = False
    unattached_retention_hours: Annotated[int, Field(ge=1, le=8760)] = 24


class Open311(Strict):
    """The Open311 GeoReport v2 facade: whether a service request publishes what the resident wrote (phone
    numbers, ID-card numbers and e-mail addresses masked)."""

    publish_descriptions: bool = False


class ConfigDocument(Strict):
    """A tenant's full, effective configuration."""

    assessment: Assessment
    tickets: Tickets
    subsidies: Subsidies
    bonds: Bonds
    points: Points
    party: Party
    reminders: Reminders
    schedule: Schedule
    files: Files
    open311: Open311
