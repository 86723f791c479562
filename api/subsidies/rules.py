"""Typed shapes of a settlement statement's JSON ``rule`` and ``basis`` (the JSON fields stay, deprecated)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry

from api.assessment.modes import RatingCadence, SettlementCadence, enum_of
from api.money import Fen


@strawberry.type(description="A score band of 以奖代补: compounds scoring at least minScore share sharePercent.")
class SubsidyBand:
    min_score: Decimal = strawberry.field(description="The band's lowest score.")
    share_percent: int = strawberry.field(description="The band's share of the pool, percent.")


@strawberry.type(description="The settlement rule as applied to a statement (the configuration of its period).")
class SettlementRule:
    cadence: str = strawberry.field(
        description="How often the pool is settled: quarterly or yearly.",
        deprecation_reason="Use settlementCadence (the SettlementCadence enum).",
    )
    yearly_pool_fen: Fen = strawberry.field(description="A community's pool per year, in fen.")
    bands: list[SubsidyBand] = strawberry.field(description="The score bands, highest first.")
    assessment_cadence: str = strawberry.field(
        description="How often compounds are rated: monthly or quarterly.",
        deprecation_reason="Use ratingCadence (the RatingCadence enum).",
    )
    rounding: str = strawberry.field(description="How fen are rounded: largest_remainder.")

    @strawberry.field(description="How often the pool is settled (null: not recorded).")
    def settlement_cadence(self) -> SettlementCadence | None:
        return enum_of(SettlementCadence, self.cadence)

    @strawberry.field(description="How often compounds are rated (null: not recorded).")
    def rating_cadence(self) -> RatingCadence | None:
        return enum_of(RatingCadence, self.assessment_cadence)

    @classmethod
    def of(cls, rule: dict[str, Any]) -> SettlementRule:
        return cls(
            cadence=rule.get("cadence", ""),
            yearly_pool_fen=int(rule.get("yearly_pool_fen", 0)),
            bands=[
                SubsidyBand(min_score=Decimal(str(b["min_score"])), share_percent=int(b["share_percent"]))
                for b in rule.get("bands", [])
            ],
            assessment_cadence=rule.get("assessment_cadence", ""),
            rounding=rule.get("rounding", ""),
        )


@strawberry.type(description="A rating period a statement settles, and the published revision it used.")
class BasisRevision:
    period_key: str = strawberry.field(description="The rating period.")
    revision: int = strawberry.field(description="The published snapshot's revision used.")


def basis_revisions(basis: dict[str, Any]) -> list[BasisRevision]:
    return [BasisRevision(period_key=k, revision=int(v)) for k, v in sorted(basis.items())]
