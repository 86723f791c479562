from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from api.compiled import compiled
from api.context import Info
from api.ids import opt_id, to_id, to_ids
from api.pagination import After, Before, Connection, First, Last, connection, node_fields
from api.tickets.catalog import CatalogQuery
from api.tickets.types import (
    UNIT_NODE_TYPES,
    PartnerTaskType,
    RatingChannel,
    TicketChannel,
    TicketState,
    TicketType,
    TicketUnitKind,
)
from tenants.tickets import intake, partners, reads, workflow
from tenants.tickets.models import Channel, UnitKind
from tenants.tickets.models import RatingChannel as _RatingChannel
from tenants.tickets.models import TicketState as _State


@strawberry.input
class ReportTicketInput:
    item_code: str = strawberry.field(description="An item of the tenant's taxonomy (see effectiveConfig).")
    description: str
    compound_id: strawberry.ID | None = None
    building_id: strawberry.ID | None = None
    household_id: strawberry.ID | None = None
    community_id: strawberry.ID | None = strawberry.field(
        default=None, description="For a ticket with only an address: the community it belongs to."
    )
    address: str = ""
    latitude: Decimal | None = None
    longitude: Decimal | None = None
    photos: list[str] = strawberry.field(
        default_factory=list,
        deprecation_reason="Links to photos elsewhere; upload them (uploadFile) and use photoFileIds.",
    )
    photo_file_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Photos uploaded with uploadFile(purpose: TICKET) by you (at most 9 in all)."
    )
    contact: str = ""
    channel: TicketChannel = TicketChannel.APP  # type: ignore[valid-type, attr-defined]
    on_behalf_of: str | None = strawberry.field(
        default=None, description="Staff reporting for a resident: their user id."
    )
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same ticket."
    )


@strawberry.input
class TicketUnitInput:
    kind: TicketUnitKind  # type: ignore[valid-type]
    id: strawberry.ID | None = None


@strawberry.input
class TicketFilter:
    state: TicketState | None = None  # type: ignore[valid-type]
    item_code: str | None = None
    unit: TicketUnitInput | None = None
    compound_id: strawberry.ID | None = None
    overdue: bool | None = None
    opened_from: date | None = None
    opened_before: date | None = None
    mine: bool = strawberry.field(default=False, description="Only tickets I reported.")


def _unit(u: TicketUnitInput | None) -> tuple[UnitKind, int | None] | None:
    if u is None:
        return None
    return UnitKind(u.kind.value), opt_id(u.id, "unit.id", UNIT_NODE_TYPES.get(u.kind.value, "Unit"))


# A ticket's fields that are links, and the link (``reads.TICKET_LINKS``) each reads with the page.
_LINKS = {
    "compound": "compound", "assignee": "assignee", "timeline": "timeline", "partnerTasks": "partner_tasks",
    "photoFiles": "photo_files",
}


@strawberry.type
class TicketQuery(CatalogQuery):
    @strawberry.field(description="Tickets in your scope (a resident: their own), newest first.")
    async def tickets(
        self, info: Info, filter: TicketFilter | None = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> Connection[TicketType]:
        access = await info.context.access()
        f = filter or TicketFilter()
        unit = _unit(f.unit)
        filters = dict(
            state=_State(f.state.value) if f.state else None,
            item_code=f.item_code,
            unit=(unit[0], unit[1] or 0) if unit else None,
            compound_id=opt_id(f.compound_id, "filter.compoundId"),
            overdue=f.overdue,
            opened_from=f.opened_from,
            opened_before=f.opened_before,
            mine=f.mine,
        )
        selected = node_fields(info)
        if selected:  # the page with the links selected, in one statement
            links = {_LINKS[n] for n in selected if n in _LINKS}
            return await compiled(info, await connection(
                info, lambda w: reads.list_tickets_with(access=access, window=w, links=links, **filters),
                TicketType.with_links, first=first, after=after, last=last, before=before,
            ))
        return await connection(
            info, lambda w: reads.list_tickets(access=access, window=w, **filters),
            TicketType.of, first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="One ticket with its timeline, if it is in your scope.")
    async def ticket(self, info: Info, id: strawberry.ID) -> TicketType:
        return TicketType.of(await reads.get_visible(await info.context.access(), to_id(id, "id", "Ticket")))


@strawberry.type
class TicketMutation:
    @strawberry.mutation(description="Report a problem (or enter one for a resident).")
    async def report_ticket(self, info: Info, input: ReportTicketInput) -> TicketType:
        ticket = await intake.report(
            **await info.context.acting(),
            item_code=input.item_code,
            description=input.description,
            channel=Channel(input.channel.value),
            photos=input.photos,
            photo_file_ids=to_ids(input.photo_file_ids, "photoFileIds"),
            contact=input.contact,
            compound_id=opt_id(input.compound_id, "compoundId"),
            building_id=opt_id(input.building_id, "buildingId"),
            household_id=opt_id(input.household_id, "householdId"),
            address=input.address,
            latitude=input.latitude,
            longitude=input.longitude,
            on_behalf_of=input.on_behalf_of,
            community_id=opt_id(input.community_id, "communityId"),
            idempotency_key=input.idempotency_key,
        )
        return TicketType.of(ticket)

    @strawberry.mutation(
        description="Review and dispatch 审核派单: to the responsibility matrix's unit unless you name one."
    )
    async def dispatch_ticket(
        self, info: Info, id: strawberry.ID, unit: TicketUnitInput | None = None, note: str = ""
    ) -> TicketType:
        u = _unit(unit)
        ticket = await workflow.dispatch(
            **await info.context.acting(),
            ticket_id=to_id(id, "id", "Ticket"),
            unit_kind=u[0] if u else None,
            unit_id=u[1] if u else None,
            note=note,
        )
        return TicketType.of(ticket)

    @strawberry.mutation(description="Reject an invalid report, with a reason.")
    async def reject_ticket(self, info: Info, id: strawberry.ID, reason: str) -> TicketType:
        return TicketType.of(
            await workflow.reject(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                reason=reason,
            )
        )

    @strawberry.mutation(description="The assigned unit accepts the ticket.")
    async def accept_ticket(self, info: Info, id: strawberry.ID, note: str = "") -> TicketType:
        return TicketType.of(
            await workflow.accept(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                note=note,
            )
        )

    @strawberry.mutation(description="Hand the ticket to another unit, with a reason.")
    async def transfer_ticket(self, info: Info, id: strawberry.ID, unit: TicketUnitInput, reason: str) -> TicketType:
        u = _unit(unit)
        assert u is not None
        return TicketType.of(
            await workflow.transfer(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                unit_kind=u[0],
                unit_id=u[1],
                reason=reason,
            )
        )

    @strawberry.mutation(description="The assigned unit reports the problem solved.")
    async def resolve_ticket(
        self,
        info: Info,
        id: strawberry.ID,
        note: str,
        photos: Annotated[list[str] | None, strawberry.argument(
            deprecation_reason="Links to photos elsewhere; upload them (uploadFile) and use photoFileIds."
        )] = None,
        photo_file_ids: Annotated[list[strawberry.ID] | None, strawberry.argument(
            description="Photos of the result, uploaded with uploadFile(purpose: TICKET)."
        )] = None,
    ) -> TicketType:
        return TicketType.of(
            await workflow.resolve(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                note=note,
                photos=photos,
                photo_file_ids=to_ids(photo_file_ids or [], "photoFileIds"),
            )
        )

    @strawberry.mutation(description="The resident rates the result; unsatisfied reopens it.")
    async def rate_ticket(self, info: Info, id: strawberry.ID, rating: int, comment: str = "") -> TicketType:
        return TicketType.of(
            await workflow.rate(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                rating=rating,
                comment=comment,
            )
        )

    @strawberry.mutation(description="提级督办 by hand: the ticket climbs one rung of the escalation ladder.")
    async def escalate_ticket(self, info: Info, id: strawberry.ID, reason: str) -> TicketType:
        return TicketType.of(
            await workflow.escalate(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                reason=reason,
            )
        )

    @strawberry.mutation(
        description="回访: staff who entered the ticket for a resident (or its community or street) record the "
        "resident's rating and how it came in; it counts like a rating in the app."
    )
    async def record_return_visit(
        self,
        info: Info,
        id: strawberry.ID,
        rating: int,
        channel: RatingChannel,  # type: ignore[valid-type]
        comment: str = "",
    ) -> TicketType:
        return TicketType.of(
            await workflow.record_return_visit(
                **await info.context.acting(),
                ticket_id=to_id(id, "id", "Ticket"),
                rating=rating,
                channel=_RatingChannel(channel.value),
                comment=comment,
            )
        )

    @strawberry.mutation(description="A partner unit accepts its co-handling task 怎么配合干.")
    async def accept_partner_task(self, info: Info, id: strawberry.ID, note: str = "") -> PartnerTaskType:
        return PartnerTaskType.of(
            await partners.accept(
                **await info.context.acting(),
                task_id=to_id(id, "id", "PartnerTask"),
                note=note,
            )
        )

    @strawberry.mutation(description="A partner unit reports its part done, with a note.")
    async def complete_partner_task(self, info: Info, id: strawberry.ID, note: str) -> PartnerTaskType:
        return PartnerTaskType.of(
            await partners.complete(
                **await info.context.acting(),
                task_id=to_id(id, "id", "PartnerTask"),
                note=note,
            )
        )
