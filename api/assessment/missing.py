"""``missingScoreSheets``: the typed form of ``missingScores`` (compound id -> body codes JSON, deprecated)."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.territory.types import CompoundType, _load


@strawberry.type(description="A compound whose score sheets are not all in: the assessor bodies still missing.")
class MissingScoreSheets:
    compound_id: strawberry.ID = strawberry.field(description="The compound 小区.")
    body_codes: list[str] = strawberry.field(description="The assessor bodies that have not submitted yet.")
    compound_pk: strawberry.Private[int]

    @strawberry.field(description="The compound (null if outside your scope).")
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]


def missing_sheets(missing: dict[int, list[str]]) -> list[MissingScoreSheets]:
    """Compounds with missing bodies, by compound id."""
    return [
        MissingScoreSheets(compound_id=strawberry.ID(str(c)), body_codes=list(bodies), compound_pk=c)
        for c, bodies in sorted(missing.items())
        if bodies
    ]
