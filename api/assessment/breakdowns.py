"""Typed shapes of the ratings' JSON breakdowns (``CompanyRating.breakdown``): the JSON fields stay, deprecated."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry

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
    mode: str = strawberry.field(description="The configured combination: fee_receivable or equal.")
    weighting: str = strawberry.field(description="The weighting used: equal when every fee is 0.")
    compounds: list[CompanyScoreLine] = strawberry.field(description="Each compound's part.")
    adjustments: list[ScoreAdjustment] = strawberry.field(description="Rounding lines; with the parts, the score.")
    score: Decimal = strawberry.field(description="The company's score: the contributions plus adjustments.")

    @classmethod
    def of(cls, b: dict[str, Any]) -> CompanyScoreBreakdown:
        return cls(
            mode=b.get("mode", ""),
            weighting=b.get("weighting", b.get("mode", "")),
            compounds=[CompanyScoreLine.of(r) for r in b.get("compounds", [])],
            adjustments=[ScoreAdjustment.of(a) for a in b.get("adjustments", [])],
            score=Decimal(b.get("score", "0")),
        )
