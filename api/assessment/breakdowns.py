"""Typed shapes of the ratings' JSON breakdowns (``CompanyRating``/``CompoundRating.breakdown``): the JSON fields
stay, deprecated."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import strawberry
from strawberry.scalars import JSON as JSONValue

from api.assessment.modes import (
    AssessmentMode,
    CompanyCombination,
    MissingBodyRule,
    ObjectiveInput,
    RubricLineSource,
    enum_of,
)
from api.context import Info
from api.money import Fen
from api.territory.types import CompoundType, _load


@strawberry.type(description="A rounding or clamping line that makes a breakdown's contributions sum to its score.")
class ScoreAdjustment:
    reason: str = strawberry.field(description="rounding or clamp.")
    contribution: Decimal = strawberry.field(description="Points added (negative: taken).")

    @classmethod
    def of(cls, a: dict[str, Any]) -> ScoreAdjustment:
        return cls(reason=a["reason"], contribution=Decimal(a["contribution"]))


@strawberry.type(description="One compound's part in a property company's score.")
class CompanyScoreLine:
    compound_id: strawberry.ID = strawberry.field(description="The compound 小区.")
    fee_fen: Fen = strawberry.field(description="Its annual property fee receivable (分), the weight's basis.")
    weight: Decimal = strawberry.field(description="Its weight in percent of the company's compounds.")
    score: Decimal = strawberry.field(description="The compound's score.")
    contribution: Decimal = strawberry.field(description="Weight x score: its points in the company's score.")
    compound_pk: strawberry.Private[int]

    @strawberry.field(description="The compound (null if outside your scope).")
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, row: dict[str, Any]) -> CompanyScoreLine:
        return cls(
            compound_id=strawberry.ID(str(row["compound_id"])),
            fee_fen=row["fee_fen"],
            weight=Decimal(row["weight"]),
            score=Decimal(row["score"]),
            contribution=Decimal(row["contribution"]),
            compound_pk=row["compound_id"],
        )


@strawberry.type(description="How a property company's score was combined from its compounds' scores.")
class CompanyScoreBreakdown:
    mode: str = strawberry.field(
        description="The configured combination: fee_receivable or equal.",
        deprecation_reason="Use combination (the CompanyCombination enum).",
    )
    weighting: str = strawberry.field(
        description="The weighting used: equal when every fee is 0.",
        deprecation_reason="Use weightingUsed (the CompanyCombination enum).",
    )
    compounds: list[CompanyScoreLine] = strawberry.field(description="Each compound's part.")
    adjustments: list[ScoreAdjustment] = strawberry.field(description="Rounding lines; with the parts, the score.")
    score: Decimal = strawberry.field(description="The company's score: the contributions plus adjustments.")

    @strawberry.field(description="The configured combination (null: not recorded).")
    def combination(self) -> CompanyCombination | None:
        return enum_of(CompanyCombination, self.mode)

    @strawberry.field(description="The weighting used: equal when every fee is 0 (null: not recorded).")
    def weighting_used(self) -> CompanyCombination | None:
        return enum_of(CompanyCombination, self.weighting)

    @classmethod
    def of(cls, b: dict[str, Any]) -> CompanyScoreBreakdown:
        return cls(
            mode=b.get("mode", ""),
            weighting=b.get("weighting", b.get("mode", "")),
            compounds=[CompanyScoreLine.of(r) for r in b.get("compounds", [])],
            adjustments=[ScoreAdjustment.of(a) for a in b.get("adjustments", [])],
            score=Decimal(b.get("score", "0")),
        )


CENT = Decimal("0.01")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@strawberry.type(description="One rubric item of a body's (or dimension's) sheet.")
class ScoreItem:
    code: str = strawberry.field(description="The rubric item's code.")
    title: str = strawberry.field(description="The rubric item's title.")
    points: int | None = strawberry.field(
        description="Points awarded, whole (null: the sheet is missing, or a line scored from records gave a "
        "fraction of a point: see awarded)."
    )
    max_points: int = strawberry.field(description="The most points the item gives.")
    awarded: Decimal | None = strawberry.field(
        description="Points awarded to 0.01 (a line scored from records may give a fraction; null: the sheet is "
        "missing)."
    )
    source: RubricLineSource = strawberry.field(
        description="Who scored the line: its body, or the rating run from meeting records."
    )
    share: Decimal | None = strawberry.field(
        description="A line scored from records: the share of its points it got, percent (null: no record, or "
        "entered by its body)."
    )
    note: str | None = strawberry.field(
        description="no_meeting_data: a line scored from records had no record to judge by and scored 0."
    )

    @classmethod
    def of(cls, i: dict[str, Any]) -> ScoreItem:
        points = _dec(i.get("points"))  # an int as entered, or "16.67" for a line scored from records
        whole = None if points is None or points != points.to_integral_value() else int(points)
        # Always to the hundredth: "30.00" whether a body entered 30 or the records gave 30.00.
        awarded = None if points is None else points.quantize(CENT, ROUND_HALF_UP)
        return cls(
            code=i["code"], title=i.get("title", ""), points=whole, max_points=i["max_points"], awarded=awarded,
            source=enum_of(RubricLineSource, i.get("source", "body")) or RubricLineSource.BODY,
            share=_dec(i.get("share")), note=i.get("note"),
        )


@strawberry.type(description="An assessor body's (or, in 三个百分百 mode, a dimension's) part of a compound's score.")
class ScorePart:
    code: str = strawberry.field(description="The body's or dimension's code.")
    title: str = strawberry.field(description="Its title.")
    owner: str | None = strawberry.field(description="A dimension's scoring body (null for a body itself).")
    weight: int = strawberry.field(description="Its configured weight.")
    effective_weight: Decimal = strawberry.field(description="Its weight in the final score, after missing parts.")
    submitted: bool = strawberry.field(description="Whether its sheet was submitted.")
    late_entry: bool = strawberry.field(description="Whether its sheet was entered late from paper 补录.")
    score: Decimal | None = strawberry.field(description="Its score 0-100 (null: missing and left out).")
    contribution: Decimal = strawberry.field(description="Its points in the compound's score.")
    items: list[ScoreItem] = strawberry.field(description="The rubric items and points awarded.")


@strawberry.type(description="An objective input (ticket figures) of a compound's score.")
class ObjectiveScore:
    input: str = strawberry.field(
        description="The input's name (e.g. closure_rate, satisfaction).",
        deprecation_reason="Use objectiveInput (the ObjectiveInput enum).",
    )
    observed: JSONValue | None = strawberry.field(
        description="What was observed (a rate, a count), as JSON; null when there was nothing to observe (no "
        "tickets).",
        deprecation_reason="Use observedValue (typed).",
    )
    value: Decimal | None = strawberry.field(description="Its score 0-100 (null: no data).")
    weight: int = strawberry.field(description="Its configured weight.")
    effective_weight: Decimal = strawberry.field(description="Its weight in the final score.")
    contribution: Decimal = strawberry.field(description="Its points in the compound's score.")

    @strawberry.field(
        description="What was observed: a rate in percent (closure_rate, satisfaction_rate, on_time_rate) or "
        "tickets per month (monthly_ticket_volume); null: no data."
    )
    def observed_value(self) -> Decimal | None:
        return _dec(self.observed)

    @strawberry.field(description="The input (null: one this schema does not know).")
    def objective_input(self) -> ObjectiveInput | None:
        return enum_of(ObjectiveInput, self.input)


@strawberry.type(description="Points deducted for supervisors' findings 监督问题.")
class FindingDeductions:
    enabled: bool = strawberry.field(description="Whether the tenant deducts for findings.")
    findings: int = strawberry.field(description="Findings in the period.")
    in_time: int = strawberry.field(description="Of them, resolved in time.")
    points: Decimal = strawberry.field(description="Points deducted (after the cap).")
    contribution: Decimal = strawberry.field(description="The deduction's (negative) part of the score.")


@strawberry.type(description="How a compound's score was computed: parts, objective inputs, deductions.")
class CompoundScoreBreakdown:
    mode: str = strawberry.field(
        description="weighted (三方权重) or three_hundred_percent (三个百分百).",
        deprecation_reason="Use assessmentMode (the AssessmentMode enum).",
    )
    missing_body: str = strawberry.field(
        description="How a missing sheet counts: zero, or left out.",
        deprecation_reason="Use missingBodyRule (the MissingBodyRule enum).",
    )
    body_share: int = strawberry.field(description="The bodies' share of the final score, percent.")
    objective_share: int = strawberry.field(description="The objective inputs' share, percent.")
    parts: list[ScorePart] = strawberry.field(description="Each body's (or dimension's) part.")
    body_part: Decimal = strawberry.field(description="The weighted score of the parts, 0-100.")
    objective: list[ObjectiveScore] = strawberry.field(description="Each objective input.")
    objective_part: Decimal | None = strawberry.field(description="The objective score (null: no data).")
    before_deductions: Decimal = strawberry.field(description="The score before deductions.")
    deductions: FindingDeductions | None = strawberry.field(description="Deductions for findings.")
    adjustments: list[ScoreAdjustment] = strawberry.field(description="Rounding or clamping lines.")
    notes: list[str] = strawberry.field(description="Notes (no_body_scores, late_entry, findings_capped, ...).")
    score: Decimal = strawberry.field(description="The compound's score: the contributions plus adjustments.")

    @strawberry.field(description="How the score is made up (null: not recorded).")
    def assessment_mode(self) -> AssessmentMode | None:
        return enum_of(AssessmentMode, self.mode)

    @strawberry.field(description="How a missing sheet counts (null: not recorded).")
    def missing_body_rule(self) -> MissingBodyRule | None:
        return enum_of(MissingBodyRule, self.missing_body)

    @classmethod
    def of(cls, b: dict[str, Any]) -> CompoundScoreBreakdown:
        d = b.get("deductions")
        return cls(
            mode=b.get("mode", ""),
            missing_body=b.get("missing_body", ""),
            body_share=int(b.get("body_share", 0)),
            objective_share=int(b.get("objective_share", 0)),
            parts=[
                ScorePart(
                    code=p["code"], title=p.get("title", ""), owner=p.get("owner"), weight=int(p["weight"]),
                    effective_weight=Decimal(p["effective_weight"]), submitted=bool(p.get("submitted")),
                    late_entry=bool(p.get("late_entry")), score=_dec(p.get("score")),
                    contribution=Decimal(p["contribution"]),
                    items=[ScoreItem.of(i) for i in p.get("items", [])],
                )
                for p in b.get("bodies", b.get("dimensions", []))
            ],
            body_part=Decimal(b.get("body_part", "0")),
            objective=[
                ObjectiveScore(
                    input=o["input"], observed=o.get("observed"), value=_dec(o.get("value")), weight=int(o["weight"]),
                    effective_weight=Decimal(o["effective_weight"]), contribution=Decimal(o["contribution"]),
                )
                for o in b.get("objective", [])
            ],
            objective_part=_dec(b.get("objective_part")),
            before_deductions=Decimal(b.get("before_deductions", "0")),
            deductions=None if d is None else FindingDeductions(
                enabled=d["enabled"], findings=d["findings"], in_time=d["in_time"], points=Decimal(d["points"]),
                contribution=Decimal(d["contribution"]),
            ),
            adjustments=[ScoreAdjustment.of(a) for a in b.get("adjustments", [])],
            notes=list(b.get("notes", [])),
            score=Decimal(b.get("score", "0")),
        )


@strawberry.type(description="One rubric item of a submitted score sheet.")
class SheetItem:
    item_code: str = strawberry.field(description="The rubric item's code.")
    points: int | None = strawberry.field(description="Points given (null: left blank).")
    note: str | None = strawberry.field(description="The assessor's note on the item, if any.")


def sheet_items(scores: dict[str, Any], notes: dict[str, Any] | None) -> list[SheetItem]:
    """A sheet's ``scores`` and ``notes`` JSON (by item code) as items, in the sheet's order."""
    notes = notes or {}
    codes = list(scores) + [c for c in notes if c not in scores]
    return [
        SheetItem(
            item_code=c,
            points=scores[c] if isinstance(scores.get(c), int) else None,
            note=str(notes[c]) if c in notes else None,
        )
        for c in codes
    ]
