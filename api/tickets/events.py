"""Typed shapes of a ticket event's JSON ``details`` (``TicketEvent.change``) and of the ticket's escalation
rung; the JSON and string fields stay, deprecated."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, get_args

import strawberry

from tenants.config.document import LadderLevel
from tenants.tickets.models import Channel as _Channel
from tenants.tickets.models import RatingChannel as _RatingChannel
from tenants.tickets.models import UnitKind as _UnitKind

if TYPE_CHECKING:
    from api.tickets.types import RatingChannel, TicketChannel, TicketUnit

EscalationLevel = strawberry.enum(
    Enum("EscalationLevel", {v.upper(): v for v in get_args(LadderLevel)}),
    name="EscalationLevel",
    description="A rung of the escalation ladder 提级督办 (community -> street -> county department).",
)


@strawberry.enum(
    name="TicketEventKind",
    description="What a ticket event records: a workflow step, an escalation, or a partner task's step.",
)
class TicketEventKind(Enum):
    # Every action that writes a ticket event (tenants/tickets: workflow, intake, partners, importer).
    REPORT = strawberry.enum_value("report", description="Reported 居民说事.")
    DISPATCH = strawberry.enum_value("dispatch", description="Reviewed and dispatched to a unit 审核派单.")
    TRANSFER = strawberry.enum_value("transfer", description="Handed to another unit.")
    ACCEPT = strawberry.enum_value("accept", description="Accepted by the unit.")
    REJECT = strawberry.enum_value("reject", description="Rejected at review.")
    RESOLVE = strawberry.enum_value("resolve", description="Resolved by the unit.")
    RATE = strawberry.enum_value("rate", description="Rated by the resident (or on a return visit 回访).")
    CLOSE = strawberry.enum_value("close", description="Closed.")
    ESCALATE = strawberry.enum_value("escalate", description="Escalated a rung 提级督办.")
    PARTNER_ASSIGN = strawberry.enum_value("partner_assign", description="A partner unit's task opened.")
    PARTNER_ACCEPT = strawberry.enum_value("partner_accept", description="A partner unit accepted its task.")
    PARTNER_COMPLETE = strawberry.enum_value("partner_complete", description="A partner unit completed its task.")
    PARTNER_ESCALATE = strawberry.enum_value(
        "partner_escalate", description="A partner unit's task escalated for not being accepted in time."
    )


ACTIONS = frozenset(k.value for k in TicketEventKind)


def escalation_level(value: Any) -> EscalationLevel | None:  # type: ignore[valid-type]
    return EscalationLevel(value) if value in get_args(LadderLevel) else None


def event_kind(action: str) -> TicketEventKind | None:
    return TicketEventKind(action) if action in ACTIONS else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@strawberry.type(
    description="What a ticket event changed, typed (the facts of its JSON details); a field is null where the "
    "event's kind does not carry it."
)
class TicketEventChange:
    channel: Annotated[TicketChannel, strawberry.lazy("api.tickets.types")] | None = strawberry.field(
        description="report: how the ticket came in."
    )
    on_behalf_of: str | None = strawberry.field(
        description="report: the resident's user id when staff reported for them (代报)."
    )
    unit: Annotated[TicketUnit, strawberry.lazy("api.tickets.types")] | None = strawberry.field(
        description="dispatch and transfer: the unit the ticket went to; partner_*: the partner unit."
    )
    partner_task_id: strawberry.ID | None = strawberry.field(description="partner_*: the partner task.")
    resolved_on_time: bool | None = strawberry.field(
        description="resolve: whether it was resolved within the resolution SLA."
    )
    rating: int | None = strawberry.field(description="rate: the rating given.")
    rating_channel: Annotated[RatingChannel, strawberry.lazy("api.tickets.types")] | None = strawberry.field(
        description="rate: how the rating came in (null for an imported one, whose channel is not known)."
    )
    return_visit: bool | None = strawberry.field(description="rate: true when staff took it on a return visit 回访.")
    resident: str | None = strawberry.field(description="rate on a return visit: the resident's user id.")
    reopened: int | None = strawberry.field(
        description="rate (unsatisfied): how many times the ticket has now been reopened."
    )
    escalated_from: EscalationLevel | None = strawberry.field(  # type: ignore[valid-type]
        description="escalate: the rung before."
    )
    escalated_to: EscalationLevel | None = strawberry.field(  # type: ignore[valid-type]
        description="escalate: the rung reached."
    )
    automatic: bool | None = strawberry.field(
        description="escalate: true when the deadline ran out, false when staff escalated."
    )
    file_ids: list[strawberry.ID] = strawberry.field(
        description="report and resolve: the uploaded photos added with this step (see files)."
    )
    imported_ref: str | None = strawberry.field(
        description="The source row's reference when the event was imported from a legacy system (importTickets)."
    )

    @classmethod
    def of(cls, action: str, details: Any) -> TicketEventChange:
        from api.tickets.types import RatingChannel, TicketChannel, TicketUnit

        d: dict[str, Any] = details if isinstance(details, dict) else {}
        unit = None
        if d.get("unit") in {k.value for k in _UnitKind}:
            unit_id = _int(d.get("unitId"))
            unit = TicketUnit.of(_UnitKind(d["unit"]), unit_id)
        channel = rating_channel = None
        if action == "report" and d.get("channel") in {c.value for c in _Channel}:
            channel = TicketChannel(d["channel"])
        if action == "rate":
            # A live rating records its channel unless it came through the app; an import records none.
            value = d.get("channel", None if "imported" in d else _RatingChannel.APP.value)
            rating_channel = RatingChannel(value) if value in {c.value for c in _RatingChannel} else None
        task = _int(d.get("taskId"))
        files = d.get("fileIds")
        return cls(
            channel=channel,
            on_behalf_of=_str(d.get("onBehalfOf")),
            unit=unit,
            partner_task_id=strawberry.ID(str(task)) if task is not None else None,
            resolved_on_time=_bool(d.get("onTime")),
            rating=_int(d.get("rating")),
            rating_channel=rating_channel,
            return_visit=(d.get("returnVisit") is True if "imported" not in d else None) if action == "rate" else None,
            resident=_str(d.get("resident")),
            reopened=_int(d.get("reopened")),
            escalated_from=escalation_level(d.get("from")) if action == "escalate" else None,
            escalated_to=escalation_level(d.get("to")) if action == "escalate" else None,
            automatic=_bool(d.get("automatic")),
            file_ids=[strawberry.ID(str(i)) for i in files if _int(i) is not None] if isinstance(files, list) else [],
            imported_ref=None if d.get("imported") is None else str(d["imported"]),
        )
