from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.context import Info
from api.files.types import FileType, attached_files, files_by_id
from api.ids import global_id_of
from api.rows import Node, from_row
from api.territory.loaders import TerritoryLoaders
from api.territory.types import CompoundType, _load
from api.tickets.events import EscalationLevel, TicketEventChange, TicketEventKind, event_kind
from api.tickets.loaders import TicketLoaders
from tenants import clock
from tenants.tickets import access as ticket_access
from tenants.tickets.models import OPEN_STATES, PartnerTask, Ticket, TicketEvent
from tenants.tickets.models import Channel as _Channel
from tenants.tickets.models import PartnerTaskState as _PartnerState
from tenants.tickets.models import RatingChannel as _RatingChannel
from tenants.tickets.models import TicketState as _State
from tenants.tickets.models import UnitKind as _UnitKind

TicketState = strawberry.enum(Enum("TicketState", {s.name: s.value for s in _State}), name="TicketState")


async def unit_name(info: Info, kind: str, unit_id: int | None) -> str | None:
    """A ticket unit's name through the territory loaders: a community or street, a company, a department."""
    if unit_id is None:
        return None
    loaders = TerritoryLoaders.of(info)
    if kind in ("community", "street"):
        node = await loaders.area(kind).load(unit_id)
    elif kind == "property_company":
        node = await loaders.companies.load(unit_id)
    else:
        node = await loaders.units.load(unit_id)
    return node.name if node is not None else None


def _state_of(value: str | None) -> TicketState | None:  # type: ignore[valid-type]
    return TicketState(value) if value in {s.value for s in _State} else None
TicketChannel = strawberry.enum(Enum("TicketChannel", {c.name: c.value for c in _Channel}), name="TicketChannel")
RatingChannel = strawberry.enum(
    Enum("RatingChannel", {c.name: c.value for c in _RatingChannel}),
    name="RatingChannel",
    description="How a rating came in: the resident in the app, or staff on a return visit 回访.",
)
PartnerTaskState = strawberry.enum(
    Enum("PartnerTaskState", {c.name: c.value for c in _PartnerState}), name="PartnerTaskState"
)
TicketUnitKind = strawberry.enum(Enum("TicketUnitKind", {k.name: k.value for k in _UnitKind}), name="TicketUnitKind")


@strawberry.type(name="TicketEvent", description="One line of a ticket's timeline.")
class TicketEventType:
    at: datetime
    actor: str
    action: str
    from_state: str | None = strawberry.field(deprecation_reason="Use fromStatus (the TicketState enum).")
    to_state: str | None = strawberry.field(deprecation_reason="Use toStatus (the TicketState enum).")
    note: str
    attachments: list[str] = strawberry.field(
        deprecation_reason="Photo links given as URLs; uploaded photos are in files."
    )
    details: JSON = strawberry.field(
        description="Details of the action, by key.", deprecation_reason="Use change (typed)."
    )
    file_ids: strawberry.Private[list[int]]

    @strawberry.field(description="What happened, as an enum (null: an action this schema does not know).")
    def kind(self) -> TicketEventKind | None:  # type: ignore[valid-type]
        return event_kind(self.action)

    @strawberry.field(description="What the event changed, typed: the facts of details by the event's kind.")
    def change(self) -> TicketEventChange:
        return TicketEventChange.of(self.action, self.details)

    @strawberry.field(description="Photos uploaded with this step (uploadFile), with signed links and thumbnails.")
    async def files(self, info: Info) -> list[FileType]:
        return await files_by_id(info, self.file_ids) if self.file_ids else []

    @strawberry.field(description="The ticket's state before this step (null: none, or not a ticket state).")
    def from_status(self) -> TicketState | None:  # type: ignore[valid-type]
        return _state_of(self.from_state)

    @strawberry.field(description="The ticket's state after this step (null: unchanged, or not a ticket state).")
    def to_status(self) -> TicketState | None:  # type: ignore[valid-type]
        return _state_of(self.to_state)

    @classmethod
    def of(cls, e: TicketEvent) -> TicketEventType:
        ids = e.details.get("fileIds") if isinstance(e.details, dict) else None
        return from_row(cls, e, file_ids=[int(i) for i in ids] if isinstance(ids, list) else [])


# The Node type a ticket unit's id names, by its kind (any other kind is a department or office: a Unit).
UNIT_NODE_TYPES = {"community": "Community", "street": "Street", "property_company": "PropertyCompany"}


@strawberry.type
class TicketUnit:
    kind: TicketUnitKind  # type: ignore[valid-type]
    pk: strawberry.Private[int | None]
    # Read with the page (a list's one statement): the unit's row as the caller reads it (None: not readable).
    row: strawberry.Private[tuple[Any | None] | None] = None

    @strawberry.field(
        description="The unit's global id: a Community, Street, PropertyCompany or Unit by `kind` (null: the kind "
        "as a whole, no particular one)."
    )
    def id(self) -> strawberry.ID | None:
        kind = UNIT_NODE_TYPES.get(self.kind.value, "Unit")
        return None if self.pk is None else strawberry.ID(global_id_of(kind, self.pk))

    @strawberry.field(description="The unit's own database id, as digits (null: no particular one).")
    def database_id(self) -> strawberry.ID | None:
        return None if self.pk is None else strawberry.ID(str(self.pk))

    @strawberry.field(description="The unit's name (null: no id, or a unit the caller does not read).")
    def name(self, info: Info) -> str | None:
        if self.row is not None:
            return None if self.pk is None or self.row[0] is None else self.row[0].name  # type: ignore[no-any-return]
        return unit_name(info, self.kind.value, self.pk)  # type: ignore[return-value]

    @classmethod
    def of(cls, kind: _UnitKind | None, pk: int | None, row: tuple[Any | None] | None = None) -> TicketUnit | None:
        return None if kind is None else cls(kind=TicketUnitKind(kind.value), pk=pk or None, row=row)


@strawberry.type(name="PartnerTask", description="怎么配合干: a partner unit's co-handling task on a ticket.")
class PartnerTaskType(Node):
    readable = staticmethod(ticket_access.readable_partner_tasks)
    ticket_id: strawberry.ID
    unit: TicketUnit
    state: PartnerTaskState  # type: ignore[valid-type]
    accept_due_at: datetime = strawberry.field(description="Accept by then, or the task escalates (UTC).")
    due_at: datetime = strawberry.field(description="Help done by then: the acting unit's resolution deadline.")
    created_at: datetime
    accepted_at: datetime | None
    accepted_by: str | None
    completed_at: datetime | None
    completed_by: str | None
    note: str
    escalated_at: datetime | None = strawberry.field(description="When it escalated for not being accepted.")

    @classmethod
    def of(cls, t: PartnerTask) -> PartnerTaskType:
        return from_row(cls, t, unit=TicketUnit.of(t.unit_kind, t.unit_id))


@strawberry.type(name="Ticket", description="A resident's grievance 百姓说事 and how it is being handled 干部解题.")
class TicketType(Node):
    readable = staticmethod(ticket_access.readable)
    state: TicketState  # type: ignore[valid-type]
    category_code: str
    item_code: str
    item_title: str
    description: str
    photos: list[str] = strawberry.field(
        deprecation_reason="Photo links given as URLs by older clients; uploaded photos are in photoFiles."
    )
    contact: str
    channel: TicketChannel  # type: ignore[valid-type]
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    reporter_user_id: str
    entered_by: str
    assignee: TicketUnit | None
    due_at: datetime | None = strawberry.field(description="Deadline of the current step (UTC).")
    escalation_level: str = strawberry.field(
        description="The rung of the escalation ladder it has reached (community until escalated).",
        deprecation_reason="Use ladderLevel (the EscalationLevel enum).",
    )
    escalations: int
    reopened: int
    rating: int | None
    satisfied: bool | None
    rating_channel: RatingChannel | None  # type: ignore[valid-type]
    resolved_on_time: bool | None
    config_version: int | None
    opened_at: datetime
    dispatched_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    compound_pk: strawberry.Private[int | None]
    is_open: strawberry.Private[bool]
    # Links read with the page (``reads.list_tickets_with``), by name: plain values, no resolver round.
    links: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Seconds left on the current step's clock; negative when overdue.")
    def seconds_left(self) -> int | None:
        if self.due_at is None or not self.is_open:
            return None
        return int((self.due_at - clock.now()).total_seconds())

    @strawberry.field(description="The rung of the escalation ladder it has reached (community until escalated).")
    def ladder_level(self) -> EscalationLevel:  # type: ignore[valid-type]
        # The ladder's levels are the configuration's LadderLevel literals, checked when the config is saved.
        return EscalationLevel(self.escalation_level)

    @strawberry.field(description="The current step is past its deadline.")
    def overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.due_at < clock.now()

    # Each link below is a plain value when the list read it with its page, else an awaitable (general path).
    @strawberry.field
    def compound(self, info: Info) -> CompoundType | None:
        if "compound" in self.links:
            row = self.links["compound"]
            return None if row is None else CompoundType.of(row)  # type: ignore[no-any-return]
        return _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]

    @strawberry.field(
        description="Uploaded photos of the ticket (the report's and the resolution's), oldest first, with signed "
        "links and thumbnails; the timeline says which step added which."
    )
    def photo_files(self, info: Info) -> list[FileType]:
        if "photo_files" in self.links:
            return [FileType.of(f) for f in self.links["photo_files"]]
        return attached_files(info, "ticket", self.id)  # type: ignore[return-value]

    @strawberry.field(description="Every event, oldest first.")
    def timeline(self, info: Info) -> list[TicketEventType]:
        if "timeline" in self.links:
            return [TicketEventType.of(e) for e in self.links["timeline"]]
        return self._timeline(info)  # type: ignore[return-value]

    async def _timeline(self, info: Info) -> list[TicketEventType]:
        return [TicketEventType.of(e) for e in await TicketLoaders.of(info).events.load(self.id)]

    @strawberry.field(description="Partner units' co-handling tasks 怎么配合干, oldest first.")
    def partner_tasks(self, info: Info) -> list[PartnerTaskType]:
        if "partner_tasks" in self.links:
            return [PartnerTaskType.of(t) for t in self.links["partner_tasks"]]
        return self._partner_tasks(info)  # type: ignore[return-value]

    async def _partner_tasks(self, info: Info) -> list[PartnerTaskType]:
        return [PartnerTaskType.of(t) for t in await TicketLoaders.of(info).partner_tasks.load(self.id)]

    @classmethod
    def of(cls, t: Ticket, links: dict[str, Any] | None = None) -> TicketType:
        """A ticket as the API shows it; ``links``: those read with its page (``reads.list_tickets_with``)."""
        links = links or {}
        ladder = t.rules.get("ladder") or [{"level": "community"}]
        return from_row(
            cls,
            t,
            item_title=t.rules.get("item", {}).get("title", t.item_code),
            assignee=TicketUnit.of(
                t.assignee_kind, t.assignee_id, (links["assignee"],) if "assignee" in links else None
            ),
            escalation_level=ladder[min(t.escalation_level, len(ladder) - 1)]["level"],
            is_open=t.state in OPEN_STATES,
            links=links,
        )

    @classmethod
    def with_links(cls, row: tuple[Ticket, dict[str, Any]]) -> TicketType:
        return cls.of(row[0], row[1])
