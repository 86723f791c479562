"""Points 积分 through GraphQL (part A): balances, histories, lots expiring soon and the check; awarding duty
points by hand and reversing an award. Resolvers are thin: the services check who may do what."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.ids import opt_id, to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import FromRow, Node, from_row
from tenants.points import access as points_access
from tenants.points import earning, reads
from tenants.points.models import EntryKind


@strawberry.enum(name="PointsEntryKind", description="What an entry did to a person's points.")
class PointsEntryKind(Enum):
    AWARD = strawberry.enum_value(EntryKind.AWARD.value, description="Earned under a rule (+, leaves a lot).")
    CAPPED = strawberry.enum_value(EntryKind.CAPPED.value, description="Over a cap: 0 points, with the reason.")
    REVERSAL = strawberry.enum_value(EntryKind.REVERSAL.value, description="An award undone (-).")
    REDEEM = strawberry.enum_value(EntryKind.REDEEM.value, description="Spent on a voucher (-).")
    RETURN = strawberry.enum_value(EntryKind.RETURN.value, description="A cancelled voucher's points back (+).")
    EXPIRY = strawberry.enum_value(EntryKind.EXPIRY.value, description="Lots that reached their expiry day (-).")


@strawberry.type(name="PointsEntry", description="One change to one person's points (append-only).")
class PointsEntryType(Node):
    readable = staticmethod(points_access.readable)
    person_id: strawberry.ID
    kind: PointsEntryKind
    amount: int = strawberry.field(description="Points: + earned or returned, - spent, reversed or expired, 0 capped.")
    rule_code: str | None = strawberry.field(description="The earning rule (award, capped, reversal).")
    redemption_code: str | None = strawberry.field(description="The redemption (redeem, return).")
    source_kind: str = strawberry.field(description="ticket, manual, an activity kind, voucher, expiry, ...")
    source_id: strawberry.ID | None
    reason: str = strawberry.field(description="Why: a staff member's reason, the cap reached, what was kept.")
    evidence: list[str] = strawberry.field(description="Evidence links of a manual award.")
    author: str = strawberry.field(description="Who made it (a user id, or system).")
    occurred_on: date = strawberry.field(description="The tenant-local day it counts for (caps, periods).")
    created_at: datetime
    reverses_id: strawberry.ID | None = strawberry.field(description="The award a reversal undoes.")


@strawberry.type(name="PointsBalance", description="A person's points balance (kept by the database, never < 0).")
class PointsBalanceType:
    person_id: strawberry.ID
    balance: int = strawberry.field(description="Points held now: the sum of the live lots.")


@strawberry.type(name="PointsLot", description="Points earned together, spent oldest first, until they expire.")
class PointsLotType(FromRow):
    id: strawberry.ID
    amount: int = strawberry.field(description="Points the lot was made with.")
    remaining: int = strawberry.field(description="What is left to spend.")
    earned_on: date = strawberry.field(description="The tenant-local day the points were earned.")
    expires_on: date | None = strawberry.field(description="The first day the points are no longer good.")


@strawberry.type(name="PointsMismatch", description="A person whose kept balance differs from their entries or lots.")
class PointsMismatchType:
    person_id: strawberry.ID
    kept: int = strawberry.field(description="The kept balance.")
    entries: int = strawberry.field(description="The sum of the person's entries.")
    lots: int = strawberry.field(description="The sum of the person's live lots.")
    what: str = strawberry.field(description=(
        "Which figure: `balance`, `period:<key>` (earned in a month, quarter or year), `entry:<id>` (what a spend or "
        "an expiry took from its lots) or `lot:<id>` (what a lot has left)."))


@strawberry.type(name="PointsCheck", description="pointsCheck: every balance recomputed from entries and live lots.")
class PointsCheckType:
    ok: bool = strawberry.field(description="Every balance agrees with its entries and its lots.")
    mismatches: list[PointsMismatchType] = strawberry.field(description="The people whose figures disagree.")


@strawberry.type(name="PointsAward", description="What an award did: points, or a capped entry with the reason.")
class PointsAwardType:
    entry: PointsEntryType = strawberry.field(description="The award, or the capped entry.")
    capped: bool = strawberry.field(description="Over a daily or monthly cap: 0 points, the reason says which.")
    replayed: bool = strawberry.field(description="A retried request (same idempotencyKey): nothing new was awarded.")


@strawberry.input
class AwardPointsInput:
    person_id: strawberry.ID
    rule: str = strawberry.field(description="An earning rule of the configuration whose `on` is manual.")
    reason: str
    evidence: list[str] = strawberry.field(default_factory=list, description="http(s) links (at most 9).")
    occurred_on: date | None = strawberry.field(
        default=None, description="The tenant-local day it counts for: today (default) or up to 31 days back."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="Client-chosen key: a retried request with the same key awards once."
    )


@strawberry.input
class ReversePointsAwardInput:
    entry_id: strawberry.ID
    reason: str


def _entry(row) -> PointsEntryType:  # type: ignore[no-untyped-def]
    return from_row(PointsEntryType, row)  # type: ignore[no-any-return]


@strawberry.type
class PointsEarningQuery:
    @strawberry.field(description="A person's points balance (yours without personId).")
    async def points_balance(self, info: Info, person_id: strawberry.ID | None = None) -> PointsBalanceType:
        got = await reads.balance(await info.context.access(), opt_id(person_id, "personId"))
        return PointsBalanceType(person_id=strawberry.ID(str(got.person_id)), balance=got.balance)

    @strawberry.field(description="A person's points entries, newest first (yours without personId).")
    async def points_history(
        self, info: Info, person_id: strawberry.ID | None = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> Connection[PointsEntryType]:
        access = await info.context.access()
        pid = opt_id(person_id, "personId")
        return await connection(
            info, lambda w: reads.history(access, pid, w), _entry,
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="A person's lots expiring within `days` (default points.expiry_warning_days).")
    async def points_expiring(
        self, info: Info, person_id: strawberry.ID | None = None,
        days: Annotated[int | None, strawberry.argument(description="Within this many days (1..366).")] = None,
    ) -> list[PointsLotType]:
        lots = await reads.expiring(await info.context.access(), opt_id(person_id, "personId"), days)
        return [PointsLotType.of(lot) for lot in lots]

    @strawberry.field(description="Recompute every balance from the entries and the live lots; ok when all agree.")
    async def points_check(self, info: Info) -> PointsCheckType:
        found = await reads.check(await info.context.access())
        return PointsCheckType(
            ok=not found,
            mismatches=[
                PointsMismatchType(person_id=strawberry.ID(str(m.person_id)), kept=m.kept, entries=m.entries,
                                   lots=m.lots, what=m.what)
                for m in found
            ],
        )


@strawberry.type
class PointsEarningMutation:
    @strawberry.mutation(description="Award a duty rule's points by hand, with a reason and evidence (not to oneself).")
    async def award_points(self, info: Info, input: AwardPointsInput) -> PointsAwardType:
        done = await earning.award_manually(
            **await info.context.acting(),
            person_id=to_id(input.person_id, "personId"),
            rule_code=input.rule,
            reason=input.reason,
            evidence=input.evidence,
            occurred_on=input.occurred_on,
            idempotency_key=input.idempotency_key,
        )
        return PointsAwardType(entry=_entry(done.entry), capped=done.capped, replayed=not done.made)

    @strawberry.mutation(description="Reverse an award by a new entry (what the balance still holds; once).")
    async def reverse_points_award(self, info: Info, input: ReversePointsAwardInput) -> PointsEntryType:
        entry = await earning.reverse_manually(
            **await info.context.acting(), entry_id=to_id(input.entry_id, "entryId", "PointsEntry"),
            reason=input.reason,
        )
        return _entry(entry)
