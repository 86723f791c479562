"""Enums for the configured modes that the typed breakdowns and settlement rules carry as strings (the strings
stay, deprecated); their values are the configuration's literals (tests/test_assessment_scoring.py keeps them
equal)."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

import strawberry


@strawberry.enum(name="AssessmentMode", description="How a compound's score is made up.")
class AssessmentMode(Enum):
    WEIGHTED = strawberry.enum_value("weighted", description="三方权重: assessor bodies' weighted scores.")
    THREE_HUNDRED_PERCENT = strawberry.enum_value(
        "three_hundred_percent", description="三个百分百: dimensions, each scored by one body."
    )


@strawberry.enum(name="MissingBodyRule", description="How a body's missing score sheet counts in a compound's score.")
class MissingBodyRule(Enum):
    REDISTRIBUTE = strawberry.enum_value(
        "redistribute", description="Left out: its weight goes to the bodies that scored."
    )
    ZERO = strawberry.enum_value("zero", description="Counted as 0 points.")


@strawberry.enum(name="CompanyCombination", description="How a property company's compounds make up its score.")
class CompanyCombination(Enum):
    FEE_RECEIVABLE = strawberry.enum_value(
        "fee_receivable", description="Weighted by each compound's annual property fee receivable."
    )
    EQUAL = strawberry.enum_value("equal", description="Every compound weighs the same.")


@strawberry.enum(name="RatingCadence", description="How often compounds are rated.")
class RatingCadence(Enum):
    MONTHLY = strawberry.enum_value("monthly", description="Every month.")
    QUARTERLY = strawberry.enum_value("quarterly", description="Every quarter.")


@strawberry.enum(name="SettlementCadence", description="How often a 以奖代补 pool is settled.")
class SettlementCadence(Enum):
    QUARTERLY = strawberry.enum_value("quarterly", description="Every quarter.")
    YEARLY = strawberry.enum_value("yearly", description="Once a year.")


@strawberry.enum(name="ObjectiveInput", description="An objective input of a compound's score, from its tickets.")
class ObjectiveInput(Enum):
    CLOSURE_RATE = strawberry.enum_value("closure_rate", description="Share of tickets closed, percent.")
    SATISFACTION_RATE = strawberry.enum_value("satisfaction_rate", description="Share rated satisfied, percent.")
    ON_TIME_RATE = strawberry.enum_value("on_time_rate", description="Share resolved within the SLA, percent.")
    MONTHLY_TICKET_VOLUME = strawberry.enum_value(
        "monthly_ticket_volume", description="Tickets per month (fewer scores higher)."
    )


@strawberry.enum(name="RubricLineSource", description="Who scores a rubric line (issue 19).")
class RubricLineSource(Enum):
    BODY = strawberry.enum_value("body", description="Its assessor body, on a score sheet.")
    MEETING_COMPLIANCE = strawberry.enum_value(
        "meeting_compliance",
        description="The rating run, from the joint-meeting records: full marks for a period with a meeting 联席会议.",
    )
    DECISIONS_ON_TIME = strawberry.enum_value(
        "decisions_on_time", description="The rating run: the share of the meetings' decisions done on time."
    )


E = TypeVar("E", bound=Enum)


def enum_of(enum: type[E], value: Any) -> E | None:
    """``enum``'s member of ``value``; None for a value it does not know (e.g. an old, unrecorded one)."""
    try:
        return enum(value)
    except ValueError:
        return None
