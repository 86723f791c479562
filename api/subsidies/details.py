"""Typed shapes of a settlement line's JSON ``detail`` (``SettlementLine.breakdown``; the JSON field stays,
deprecated): a rating line's exact quota, or an adjustment line's correction."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Any

import strawberry

from api.money import Fen
from api.subsidies.rules import BasisRevision, basis_revisions
from tenants.subsidies.models import LineKind


@strawberry.type(description="A rating period's published score that entered a line's (mean) score.")
class PeriodScore:
    period_key: str = strawberry.field(description="The rating period (2026-10, 2026Q3 ...).")
    score: Decimal = strawberry.field(description="The compound's published score for that period.")


@strawberry.type(
    description="A rating line's arithmetic: the exact share of the pool in fen (a fraction), and the remainder fen "
    "the largest-remainder rounding added."
)
class RatingLineDetail:
    quota_fen: str = strawberry.field(
        description="The exact quota in fen as a reduced fraction numerator/denominator (e.g. 2000000/3)."
    )
    quota_numerator: Fen = strawberry.field(description="The exact quota's numerator (fen).")
    quota_denominator: Fen = strawberry.field(description="The exact quota's denominator.")
    remainder_fen: Fen = strawberry.field(
        description="Fen added to the quota's whole part by largest-remainder rounding (0 or 1)."
    )
    period_scores: list[PeriodScore] = strawberry.field(
        description="The rating periods settled, each with the compound's published score; the line's score is "
        "their mean."
    )

    @classmethod
    def of(cls, d: dict[str, Any]) -> RatingLineDetail:
        quota = Fraction(str(d.get("quota_fen", "0")))
        return cls(
            quota_fen=f"{quota.numerator}/{quota.denominator}",
            quota_numerator=Fen(quota.numerator),
            quota_denominator=Fen(quota.denominator),
            remainder_fen=Fen(int(d.get("remainder_fen", 0))),
            period_scores=[
                PeriodScore(period_key=k, score=Decimal(str(v))) for k, v in sorted(d.get("period_scores", {}).items())
            ],
        )


@strawberry.type(
    description="An adjustment line's correction: an approved statement's compound re-settled after its ratings "
    "were revised; the line's amount is due minus settled."
)
class AdjustmentLineDetail:
    corrected_statement_id: strawberry.ID = strawberry.field(
        description="The approved (or paid) statement whose period is corrected."
    )
    basis: list[BasisRevision] = strawberry.field(
        description="The published rating revisions the correction uses, per rating period."
    )
    due_fen: Fen = strawberry.field(description="What the compound is due for that period now, in fen.")
    settled_fen: Fen = strawberry.field(description="What earlier statements settled for it, in fen.")

    @classmethod
    def of(cls, d: dict[str, Any]) -> AdjustmentLineDetail:
        return cls(
            corrected_statement_id=strawberry.ID(str(d.get("statement_id", ""))),
            basis=basis_revisions(d.get("basis", {})),
            due_fen=Fen(int(d.get("due_fen", 0))),
            settled_fen=Fen(int(d.get("settled_fen", 0))),
        )


SettlementDetail = Annotated[
    RatingLineDetail | AdjustmentLineDetail,
    strawberry.union(
        "SettlementDetail",
        description="How a settlement line's amount came about: RatingLineDetail for a rating line, "
        "AdjustmentLineDetail for an adjustment.",
    ),
]


def settlement_detail(kind: str, detail: Any) -> RatingLineDetail | AdjustmentLineDetail:
    """The typed detail of a line of ``kind``."""
    d = detail if isinstance(detail, dict) else {}
    return AdjustmentLineDetail.of(d) if kind == LineKind.ADJUSTMENT else RatingLineDetail.of(d)
