"""Needs and project lists, claims and micro-wishes 微心愿 through GraphQL. Resolvers are thin: the services in
tenants/dual (lists, wishes) check who may do what and read through ``tenants.dual.list_access``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.ids import opt_id, to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from tenants.dual import lists as list_service
from tenants.dual import wishes as wish_service
from tenants.dual.list_access import readable_claims, readable_items, readable_wishes, staff_user
from tenants.dual.list_models import DualClaim, DualItem
from tenants.paging import Page, Window


@strawberry.enum(name="DualItemKind", description="What a community's list item is.")
class DualItemKind(Enum):
    NEED = strawberry.enum_value("need", description="需求清单: something the community needs.")
    PROJECT = strawberry.enum_value("project", description="项目清单: a project the community runs.")


@strawberry.enum(name="DualItemStatus", description="Whether a need or project can be claimed.")
class DualItemStatus(Enum):
    OPEN = strawberry.enum_value("open", description="Open: units and members may claim it.")
    CLOSED = strawberry.enum_value("closed", description="Closed by staff: no more claims; claims made go on.")


@strawberry.enum(name="DualClaimStatus", description="Where a claim on a need or project is.")
class DualClaimStatus(Enum):
    CLAIMED = strawberry.enum_value("claimed", description="Taken on; the claimant works on it.")
    SUBMITTED = strawberry.enum_value("submitted", description="Reported done with evidence; staff to accept.")
    RETURNED = strawberry.enum_value("returned", description="Sent back by staff with a reason; submit again.")
    ACCEPTED = strawberry.enum_value("accepted", description="Accepted by staff: done.")
    WITHDRAWN = strawberry.enum_value("withdrawn", description="Given up by the claimant: the slot is free again.")
    CANCELLED = strawberry.enum_value("cancelled", description="Cancelled by staff (reason): the slot is free again.")


@strawberry.enum(name="WishStatus", description="Where a micro-wish 微心愿 is.")
class WishState(Enum):
    POSTED = strawberry.enum_value("posted", description="Posted, waiting for a claimant.")
    ESCALATED = strawberry.enum_value(
        "escalated", description="Unclaimed past the claim days: its community was told. Still claimable."
    )
    CLAIMED = strawberry.enum_value("claimed", description="Claimed by a unit or member; due on dueOn.")
    OVERDUE = strawberry.enum_value("overdue", description="Claimed and past its due day, not yet fulfilled.")
    FULFILLED = strawberry.enum_value("fulfilled", description="Fulfilled with evidence; the resident to confirm.")
    CONFIRMED = strawberry.enum_value("confirmed", description="Confirmed by the resident (or staff for them).")
    CANCELLED = strawberry.enum_value("cancelled", description="Withdrawn before it was fulfilled.")


@strawberry.type(name="DualItem", description="A community's need 需求清单 or project 项目清单 for units and "
                 "in-service members to claim.")
class DualItemNode(Node):
    readable = staticmethod(readable_items)
    community_id: strawberry.ID = strawberry.field(description="The community that published it.")
    street_id: strawberry.ID = strawberry.field(description="The community's street.")
    kind: DualItemKind = strawberry.field(description="A need or a project.")
    title: str = strawberry.field(description="Its title.")
    description: str = strawberry.field(description="What is needed or planned.")
    slots: int | None = strawberry.field(description="How many may claim it; null: any number.")
    claimed_count: int = strawberry.field(description="Claims made so far.")
    due_on: date | None = strawberry.field(description="When it should be done (tenant-local), if set.")
    status: DualItemStatus = strawberry.field(description="Open or closed.")
    created_at: datetime = strawberry.field(description="When it was published (UTC).")
    closed_at: datetime | None = strawberry.field(description="When staff closed it (UTC).")
    created_by: strawberry.Private[str]

    @strawberry.field(name="createdBy", description="Who published it: a user id for staff; others read staff.")
    async def shown_created_by(self, info: Info) -> str:
        return staff_user(await info.context.access(), self.created_by)


@strawberry.type(name="DualClaim", description="A unit's or member's claim on a need or project, followed to done "
                 "with evidence.")
class DualClaimNode(Node):
    readable = staticmethod(readable_claims)
    item_id: strawberry.ID = strawberry.field(description="The need or project claimed.")
    community_id: strawberry.ID = strawberry.field(description="The item's community.")
    person_id: strawberry.ID | None = strawberry.field(description="The member who claimed (a member's claim).")
    work_unit_id: strawberry.ID | None = strawberry.field(description="The unit that claimed (a unit's claim).")
    claimed_by: str = strawberry.field(description="The user who made the claim (a member, a unit's contact).")
    status: DualClaimStatus = strawberry.field(description="Claimed, submitted, returned or accepted.")
    evidence: list[str] = strawberry.field(description="Evidence links (http or https) given when reporting done.")
    note: str = strawberry.field(description="The claimant's note on what was done.")
    reason: str = strawberry.field(description="Why staff returned or cancelled it, or why the claimant withdrew "
                                   "it (empty otherwise).")
    created_at: datetime = strawberry.field(description="When it was claimed (UTC).")
    submitted_at: datetime | None = strawberry.field(description="When it was last reported done (UTC).")
    decided_at: datetime | None = strawberry.field(description="When staff last accepted or returned it (UTC).")



@strawberry.type(name="WishEvent", description="One step on a micro-wish's timeline.")
class WishEventType:
    action: str = strawberry.field(description="posted, claimed, escalated, reminded, overdue, fulfilled, "
                                   "reopened, confirmed or cancelled.")
    actor: str = strawberry.field(description="Who did it: a user id, or system (the hourly job). A claimant reads "
                                  "roles instead of user ids: resident, claimant, staff or system.")
    note: str = strawberry.field(description="What was recorded with it (the claimant, a reason), if anything.")
    at: datetime = strawberry.field(description="When (UTC).")

    @classmethod
    def of(cls, row: wish_service.Step) -> WishEventType:
        return cls(action=row.action, actor=row.actor, note=row.note, at=row.at)


@strawberry.type(name="Wish", description="A resident's micro-wish 微心愿: posted, claimed by a unit or in-service "
                 "member, fulfilled with evidence, confirmed by the resident.")
class WishNode(Node):
    readable = staticmethod(readable_wishes)
    community_id: strawberry.ID = strawberry.field(description="The resident's community.")
    resident_name: str = strawberry.field(
        description="The resident's name: whole for the resident and staff of the area, masked (张*) for claimants."
    )
    title: str = strawberry.field(description="The wish, in a few words.")
    description: str = strawberry.field(description="What the resident wishes for.")
    status: WishState = strawberry.field(description="Where the wish is.")
    posted_on: date = strawberry.field(description="The tenant-local day it was posted.")
    claimed_at: datetime | None = strawberry.field(description="When it was claimed (UTC).")
    due_on: date | None = strawberry.field(description="The day it is due once claimed (tenant-local).")
    evidence: list[str] = strawberry.field(description="Evidence links given when it was fulfilled.")
    note: str = strawberry.field(description="The claimant's note on the fulfilment.")
    rating: int | None = strawberry.field(description="The resident's rating, 1-5, if given.")
    created_at: datetime = strawberry.field(description="When it was posted (UTC).")
    claimant: str | None = strawberry.field(
        description="Who claimed it: a work unit (work_unit:<id>) or a member (person:<id>)."
    )

    @classmethod
    def view(cls, v: wish_service.WishView) -> WishNode:
        return from_row(cls, v.wish, resident_name=v.resident_name)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[WishNode | None]:
        ids = [int(i) for i in node_ids]
        found = await wish_service.get_wishes(await info.context.access(), ids)
        return [cls.view(found[i]) if i in found else None for i in ids]


@strawberry.input(name="PublishDualItemInput", description="A need or project to publish.")
class PublishDualItemInput:
    community_id: strawberry.ID = strawberry.field(description="The community publishing it.")
    kind: DualItemKind = strawberry.field(description="NEED or PROJECT.")
    title: str = strawberry.field(description="Its title (at most 200 characters).")
    description: str = strawberry.field(description="What is needed or planned (at most 4000 characters).")
    slots: int | None = strawberry.field(default=None, description="How many may claim it (1-10000); null: any.")
    due_on: date | None = strawberry.field(default=None, description="When it should be done (not in the past).")


@strawberry.input(name="PostWishInput", description="A micro-wish to post.")
class PostWishInput:
    title: str = strawberry.field(description="The wish, in a few words (at most 100 characters).")
    description: str = strawberry.field(description="What the resident wishes for (at most 1000 characters).")
    person_id: strawberry.ID | None = strawberry.field(
        default=None, description="Staff posting for a resident of their area: the resident; null: yourself."
    )


UnitArg = Annotated[
    strawberry.ID | None,
    strawberry.argument(description="Claim for this unit (you are its contact); null: as yourself."),
]
EvidenceArg = Annotated[list[str], strawberry.argument(description="1 to 10 http(s) links to photos or documents.")]


def _wish_fetch(caller, **filters):  # type: ignore[no-untyped-def]
    async def fetch(window: Window) -> Page[wish_service.WishView]:
        return await wish_service.list_wishes(access=caller, window=window, **filters)

    return fetch


@strawberry.type
class DualListQuery:
    @strawberry.field(description="Needs and projects the caller reads, newest first (a keyset connection).")
    async def dual_items(
        self, info: Info, community_id: strawberry.ID | None = None, kind: DualItemKind | None = None,
        status: DualItemStatus | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[DualItemNode]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")

        async def fetch(window: Window) -> Page[DualItem]:
            return await list_service.list_items(
                access=caller, window=window, community_id=cid, kind=kind.value if kind else None,
                status=status.value if status else None,
            )

        return await connection(info, fetch, DualItemNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Claims on needs and projects the caller reads, newest first.")
    async def dual_claims(
        self, info: Info, item_id: strawberry.ID | None = None,
        mine: Annotated[bool, strawberry.argument(description="Only claims made by you or your units.")] = False,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[DualClaimNode]:
        caller = await info.context.access()
        iid = opt_id(item_id, "itemId", "DualItem")

        async def fetch(window: Window) -> Page[DualClaim]:
            return await list_service.list_claims(access=caller, window=window, item_id=iid, mine=mine)

        return await connection(info, fetch, DualClaimNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Micro-wishes the caller reads, newest first: staff their area's, a resident their "
                      "own, members and units' contacts the claimable ones of their communities and those they "
                      "claimed.")
    async def wishes(
        self, info: Info, community_id: strawberry.ID | None = None, status: WishState | None = None,
        mine: Annotated[bool, strawberry.argument(description="Only wishes posted for you or claimed by you or "
                                                  "your units.")] = False,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[WishNode]:
        fetch = _wish_fetch(await info.context.access(), community_id=opt_id(community_id, "communityId"),
                            status=status.value if status else None, mine=mine)
        return await connection(info, fetch, WishNode.view, first=first, after=after, last=last, before=before)

    @strawberry.field(description="A micro-wish's steps, oldest first.")
    async def wish_timeline(self, info: Info, id: strawberry.ID) -> list[WishEventType]:
        rows = await wish_service.timeline(access=await info.context.access(), wish_id=to_id(id, "id", "Wish"))
        return [WishEventType.of(r) for r in rows]


async def _wish(info: Info, wish_id: int) -> WishNode:
    return WishNode.view((await wish_service.get_wishes(await info.context.access(), [wish_id]))[wish_id])


@strawberry.type
class DualListMutation:
    @strawberry.mutation(description="Publish a community's need or project.")
    async def publish_dual_item(
        self, info: Info, input: PublishDualItemInput, idempotency_key: str | None = None
    ) -> DualItemNode:
        row = await list_service.publish_item(
            **await info.context.acting(), community_id=to_id(input.community_id, "communityId"),
            kind=input.kind.value, title=input.title, description=input.description, slots=input.slots,
            due_on=input.due_on, idempotency_key=idempotency_key,
        )
        return DualItemNode.of(row)

    @strawberry.mutation(description="Close a need or project: no more claims.")
    async def close_dual_item(self, info: Info, id: strawberry.ID) -> DualItemNode:
        row = await list_service.close_item(**await info.context.acting(), item_id=to_id(id, "id", "DualItem"))
        return DualItemNode.of(row)

    @strawberry.mutation(description="Claim a need or project, as yourself (a registered member) or for a "
                         "registered unit you are the contact of.")
    async def claim_dual_item(
        self, info: Info, id: strawberry.ID,
        work_unit_id: UnitArg = None,
        idempotency_key: str | None = None,
    ) -> DualClaimNode:
        row = await list_service.claim_item(
            **await info.context.acting(), item_id=to_id(id, "id", "DualItem"),
            work_unit_id=opt_id(work_unit_id, "workUnitId", "WorkUnit"), idempotency_key=idempotency_key,
        )
        return DualClaimNode.of(row)

    @strawberry.mutation(description="Report your claim done, with evidence links (http or https) and a note.")
    async def complete_dual_claim(
        self, info: Info, id: strawberry.ID,
        evidence: EvidenceArg,
        note: str = "",
    ) -> DualClaimNode:
        row = await list_service.complete_claim(
            **await info.context.acting(), claim_id=to_id(id, "id", "DualClaim"), evidence=evidence, note=note
        )
        return DualClaimNode.of(row)

    @strawberry.mutation(description="Accept a claim reported done.")
    async def accept_dual_claim(self, info: Info, id: strawberry.ID) -> DualClaimNode:
        row = await list_service.accept_claim(**await info.context.acting(), claim_id=to_id(id, "id", "DualClaim"))
        return DualClaimNode.of(row)

    @strawberry.mutation(description="Send a claim reported done back, with the reason.")
    async def return_dual_claim(self, info: Info, id: strawberry.ID, reason: str) -> DualClaimNode:
        row = await list_service.return_claim(
            **await info.context.acting(), claim_id=to_id(id, "id", "DualClaim"), reason=reason
        )
        return DualClaimNode.of(row)

    @strawberry.mutation(description="Give up your claim (claimed or returned): its slot is free and you may claim "
                         "the item again later.")
    async def withdraw_dual_claim(
        self, info: Info, id: strawberry.ID,
        reason: Annotated[str, strawberry.argument(description="Why, if you like (at most 500 characters).")] = "",
    ) -> DualClaimNode:
        row = await list_service.withdraw_claim(
            **await info.context.acting(), claim_id=to_id(id, "id", "DualClaim"), reason=reason
        )
        return DualClaimNode.of(row)

    @strawberry.mutation(description="Cancel a claim not yet accepted (staff of its area), with the reason: its slot "
                         "is free again.")
    async def cancel_dual_claim(
        self, info: Info, id: strawberry.ID,
        reason: Annotated[str, strawberry.argument(description="Why (at most 500 characters).")],
    ) -> DualClaimNode:
        row = await list_service.cancel_claim(
            **await info.context.acting(), claim_id=to_id(id, "id", "DualClaim"), reason=reason
        )
        return DualClaimNode.of(row)

    @strawberry.mutation(description="Post a micro-wish for yourself, or (staff) for a resident of your area.")
    async def post_wish(self, info: Info, input: PostWishInput, idempotency_key: str | None = None) -> WishNode:
        row = await wish_service.post_wish(
            **await info.context.acting(), title=input.title, description=input.description,
            person_id=opt_id(input.person_id, "personId"), idempotency_key=idempotency_key,
        )
        return await _wish(info, row.id)

    @strawberry.mutation(description="Claim a posted or escalated micro-wish, as yourself (a registered member) or for "
                         "a registered unit you are the contact of.")
    async def claim_wish(
        self, info: Info, id: strawberry.ID,
        work_unit_id: UnitArg = None,
    ) -> WishNode:
        row = await wish_service.claim_wish(
            **await info.context.acting(), wish_id=to_id(id, "id", "Wish"),
            work_unit_id=opt_id(work_unit_id, "workUnitId", "WorkUnit"),
        )
        return await _wish(info, row.id)

    @strawberry.mutation(description="Report a micro-wish you claimed fulfilled, with evidence links and a note.")
    async def fulfil_wish(
        self, info: Info, id: strawberry.ID,
        evidence: EvidenceArg,
        note: str = "",
    ) -> WishNode:
        row = await wish_service.fulfil_wish(
            **await info.context.acting(), wish_id=to_id(id, "id", "Wish"), evidence=evidence, note=note
        )
        return await _wish(info, row.id)

    @strawberry.mutation(description="Confirm a fulfilled micro-wish: the resident (with a rating if they like), or "
                         "staff of its area for them (no rating).")
    async def confirm_wish(
        self, info: Info, id: strawberry.ID,
        rating: Annotated[int | None, strawberry.argument(description="The resident's rating, 1-5.")] = None,
    ) -> WishNode:
        row = await wish_service.confirm_wish(
            **await info.context.acting(), wish_id=to_id(id, "id", "Wish"), rating=rating
        )
        return await _wish(info, row.id)

    @strawberry.mutation(description="Withdraw a micro-wish before it is fulfilled: its resident, or staff of its "
                         "area.")
    async def cancel_wish(self, info: Info, id: strawberry.ID, reason: str = "") -> WishNode:
        row = await wish_service.cancel_wish(
            **await info.context.acting(), wish_id=to_id(id, "id", "Wish"), reason=reason
        )
        return await _wish(info, row.id)

    @strawberry.mutation(description="Dispute a fulfilled micro-wish (its resident, or staff of its area): it is "
                         "claimed again, the reason on its timeline, and the claimant told.")
    async def reopen_wish(
        self, info: Info, id: strawberry.ID,
        reason: Annotated[str, strawberry.argument(description="What is still missing (at most 500 characters).")],
    ) -> WishNode:
        row = await wish_service.reopen_wish(
            **await info.context.acting(), wish_id=to_id(id, "id", "Wish"), reason=reason
        )
        return await _wish(info, row.id)
