"""The ticket's workflow as one table: dispatch or reject, accept, transfer, resolve, rate (or a return visit),
escalate. Each action locks the ticket, checks its permission and state, applies its effect, and tells whoever
the change concerns (``messages.ticket_changed`` decides by the state before and after)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenants import clock
from tenants.errors import InvalidInput, NotFound, Problem, text_problems
from tenants.events import emit
from tenants.files import service as files
from tenants.files.models import Purpose
from tenants.scope import savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.parties import Unit
from tenants.tickets import matrix, messages, partners
from tenants.tickets.access import check, readable
from tenants.tickets.errors import TICKET
from tenants.tickets.models import (
    OPEN_STATES,
    UNIT_STATES,
    Escalation,
    RatingChannel,
    Ticket,
    TicketEvent,
    TicketState,
    UnitKind,
)
from tenants.tickets.rules import period_of, rules_of
from tenants.workflow import Transition, transition

S = TicketState
MAX_PHOTOS = 9
MAX_DESCRIPTION = 2000
MAX_NOTE = 500
_FIELD_ZH = {"reason": "理由", "note": "说明", "comment": "评价"}


def _text(field: str, value: str, *, required: bool, limit: int = MAX_NOTE) -> str:
    """A note or reason: stripped, bounded, storable, and present when ``required`` (typed error otherwise)."""
    if problems := text_problems(field, value, _FIELD_ZH.get(field, field), required=required, limit=limit):
        raise InvalidInput.of(problems)
    return value.strip()


def check_photos(photos: list[str], file_ids: list[int] | None = None) -> list[Problem]:
    """Photo links (deprecated: http(s) URLs) and uploaded photos together are at most MAX_PHOTOS."""
    problems = []
    if len(photos) + len(file_ids or []) > MAX_PHOTOS:
        field = "photoFileIds" if file_ids else "photos"
        problems.append(Problem(field, "too_many", f"照片最多 {MAX_PHOTOS} 张", f"at most {MAX_PHOTOS} photos"))
    for i, url in enumerate(photos[:MAX_PHOTOS]):
        if not url.startswith(("https://", "http://")) or len(url) > 500:
            problems.append(Problem(f"photos.{i}", "format", "照片须为 http(s) 链接", "a photo must be an http(s) URL"))
    return problems


async def event(
    ticket: Ticket,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    *,
    note: str = "",
    attachments: list[str] | None = None,
    details: dict | None = None,
) -> None:
    """One entry of the ticket's timeline."""
    await TicketEvent.create(
        ticket_id=ticket.id,
        at=at,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        attachments=attachments or [],
        details=details or {},
    )


async def assign(
    ticket: Ticket, kind: UnitKind, unit_id: int | None, at: datetime, actor: str, action: str, note: str
) -> None:
    """Hand the ticket to a unit: its resolution clock starts; without an accept step it is accepted at once."""
    rules = rules_of(ticket)
    before = ticket.state
    ticket.assignee_kind, ticket.assignee_id = kind, unit_id
    ticket.dispatched_at = ticket.dispatched_at or at
    ticket.step_seq += 1
    ticket.due_at = ticket.sla_due_at = at + timedelta(hours=rules["item"]["sla_hours"])
    waiting = S.TRANSFERRED if action == "transfer" else S.DISPATCHED
    ticket.state = waiting if rules["steps"]["accept"] else S.ACCEPTED
    await ticket.save()
    await event(
        ticket, at, actor, action, before, ticket.state, note=note, details={"unit": kind.value, "unitId": unit_id}
    )


async def _check_unit(kind: UnitKind, unit_id: int | None, field: str) -> None:
    from tenants.territory.models import Community, Street
    from tenants.territory.parties import PropertyCompany

    model: Any = {
        UnitKind.COMMUNITY: Community,
        UnitKind.STREET: Street,
        UnitKind.PROPERTY_COMPANY: PropertyCompany,
    }.get(kind, Unit)
    qs = model.filter(id=unit_id or 0)
    if model is Unit:
        qs = qs.filter(kind=kind.value)
    if not await qs.exists():
        raise InvalidInput.of([Problem(field, "unknown_unit", "指定的承办单位不存在", "the unit does not exist")])


async def _for_update(ticket_id: int, access: Access) -> Ticket:
    ticket = await readable(access).filter(id=ticket_id).select_for_update().first()
    if ticket is None:
        raise NotFound(f"工单 {ticket_id} 不存在", f"ticket {ticket_id} does not exist", field="ticketId")
    return ticket


# Effects: each runs on the locked ticket after its permission and state were checked.


async def _dispatch(
    ticket: Ticket, *, actor: str, at: datetime, unit_kind: UnitKind | None, unit_id: int | None, note: str
) -> None:
    if unit_kind is not None:
        await _check_unit(unit_kind, unit_id, "unitId")
        kind, unit = unit_kind, unit_id
    else:
        route = await matrix.acting_unit(ticket, at)
        if route.unit_id is None:  # e.g. the named department was deactivated since: the reviewer names one
            raise InvalidInput.of([route.problem()])
        kind, unit = route.kind, route.unit_id
    await assign(ticket, kind, unit, at, actor, "dispatch", note)
    await partners.open_tasks(ticket, at)
    await emit("ticket_accepted", ticket_id=ticket.id, reporter_user_id=ticket.reporter_user_id,
               channel=ticket.channel.value, at=at)


async def _reject(ticket: Ticket, *, actor: str, at: datetime, reason: str) -> None:
    ticket.state, ticket.due_at, ticket.closed_at = S.REJECTED, None, at
    await ticket.save()
    await event(ticket, at, actor, "reject", S.REPORTED, S.REJECTED, note=reason)
    await emit("ticket_rejected", ticket_id=ticket.id, reporter_user_id=ticket.reporter_user_id, at=at)


async def _accept(ticket: Ticket, *, actor: str, at: datetime, note: str) -> None:
    before = ticket.state
    ticket.state = S.ACCEPTED
    await ticket.save()
    await event(ticket, at, actor, "accept", before, S.ACCEPTED, note=note)


async def _transfer(
    ticket: Ticket, *, actor: str, at: datetime, unit_kind: UnitKind, unit_id: int | None, reason: str
) -> None:
    await _check_unit(unit_kind, unit_id, "unitId")
    if (unit_kind, unit_id) == (ticket.assignee_kind, ticket.assignee_id):
        raise InvalidInput.of(
            [Problem("unitId", "same_unit", "不能转给当前承办单位", "the ticket is already with this unit")]
        )
    await assign(ticket, unit_kind, unit_id, at, actor, "transfer", reason)


async def _resolve(
    ticket: Ticket, *, actor: str, at: datetime, note: str, photos: list[str] | None, photo_file_ids: list[int],
    caller: Access,
) -> None:
    before = ticket.state
    uploads = await files.attachable(caller, photo_file_ids, purpose=Purpose.TICKET, field="photoFileIds")
    # Against the resolution SLA, which escalation never extends.
    ticket.resolved_on_time = ticket.sla_due_at is None or at <= ticket.sla_due_at
    ticket.resolved_at, ticket.due_at = at, None
    ticket.state = S.RESOLVED if rules_of(ticket)["steps"]["rate"] else S.CLOSED
    if ticket.state == S.CLOSED:
        ticket.closed_at = at
    await ticket.save()
    await event(
        ticket,
        at,
        actor,
        "resolve",
        before,
        ticket.state,
        note=note,
        attachments=photos,
        details={"onTime": ticket.resolved_on_time, **({"fileIds": photo_file_ids} if photo_file_ids else {})},
    )
    await files.attach(uploads, kind="ticket", owner_id=ticket.id, now=at)


async def _rate(
    ticket: Ticket, *, actor: str, at: datetime, rating: int, comment: str, channel: RatingChannel
) -> None:
    rules = rules_of(ticket)
    scale = rules["scale"]
    if not scale["lowest"] <= rating <= scale["highest"]:
        raise InvalidInput.of(
            [
                Problem(
                    "rating",
                    "out_of_range",
                    f"评分须在 {scale['lowest']} 到 {scale['highest']} 之间",
                    f"rating must be {scale['lowest']}..{scale['highest']}",
                )
            ]
        )
    ticket.rating, ticket.satisfied = rating, rating >= scale["satisfied_from"]
    ticket.rating_channel = channel
    # the resident's rating (in the app, or taken on a return visit) earns the reporter, once per ticket
    await emit("ticket_rated", ticket_id=ticket.id, rater_user_id=ticket.reporter_user_id, at=at)
    details: dict[str, Any] = {"rating": rating}
    if channel != RatingChannel.APP:
        details |= {"channel": channel.value, "returnVisit": True, "resident": ticket.reporter_user_id}
    if ticket.satisfied:
        ticket.state, ticket.closed_at = S.CLOSED, at
        await ticket.save()
        await event(ticket, at, actor, "rate", S.RESOLVED, S.RATED, note=comment, details=details)
        await event(ticket, at, "system", "close", S.RATED, S.CLOSED)
    else:
        ticket.state, ticket.reopened = S.REOPENED, ticket.reopened + 1
        ticket.step_seq += 1
        ticket.due_at = ticket.sla_due_at = at + timedelta(hours=rules["item"]["sla_hours"])
        ticket.resolved_at = ticket.resolved_on_time = None
        await ticket.save()
        await event(
            ticket, at, actor, "rate", S.RESOLVED, S.REOPENED, note=comment,
            details={**details, "reopened": ticket.reopened},
        )


async def _escalate(ticket: Ticket, *, actor: str, at: datetime, reason: str) -> None:
    await escalate_locked(ticket, actor=actor, automatic=False, reason=reason, at=at, zone=await current_zone())


# The workflow: action -> from-states, permission (tenants.tickets.access.check), effect.
TRANSITIONS: dict[str, Transition[Ticket]] = {
    "dispatch": Transition("dispatch", {S.REPORTED}, "tickets.dispatch", _dispatch),
    "reject": Transition("reject", {S.REPORTED}, "tickets.reject", _reject),
    "accept": Transition("accept", {S.DISPATCHED, S.TRANSFERRED}, "tickets.accept", _accept),
    "transfer": Transition("transfer", UNIT_STATES, "tickets.transfer", _transfer),
    "resolve": Transition("resolve", {S.ACCEPTED, S.REOPENED}, "tickets.resolve", _resolve),
    "rate": Transition("rate", {S.RESOLVED}, "tickets.rate", _rate),
    "record_return_visit": Transition("rate", {S.RESOLVED}, "tickets.record_return_visit", _rate),
    "escalate": Transition("escalate", OPEN_STATES, "tickets.escalate", _escalate),
}


async def _transition(
    name: str, *, access: Access, actor: str, ticket_id: int, now: datetime | None, **effect_args: Any
) -> Ticket:
    """Lock the ticket the caller sees, run ``TRANSITIONS[name]`` on it, and tell whom the change concerns."""
    at = now or clock.now()
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        held = messages.Holding.of(ticket)

        async def allow(permission: str, t: Ticket) -> None:
            check(access, permission, t, actor=actor)

        await transition(
            TRANSITIONS[name], TICKET, ticket, state=ticket.state, allow=allow, actor=actor, at=at, **effect_args
        )
        await messages.ticket_changed(ticket, held, at)
        return ticket


async def dispatch(
    *,
    access: Access,
    actor: str,
    ticket_id: int,
    unit_kind: UnitKind | None = None,
    unit_id: int | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Review and dispatch 审核派单: to the matrix's unit, or to the one the reviewer names."""
    note = _text("note", note, required=False)
    return await _transition(
        "dispatch", access=access, actor=actor, ticket_id=ticket_id, now=now, unit_kind=unit_kind, unit_id=unit_id,
        note=note,
    )


async def reject(*, access: Access, actor: str, ticket_id: int, reason: str, now: datetime | None = None) -> Ticket:
    reason = _text("reason", reason, required=True)
    return await _transition("reject", access=access, actor=actor, ticket_id=ticket_id, now=now, reason=reason)


async def accept(*, access: Access, actor: str, ticket_id: int, note: str = "", now: datetime | None = None) -> Ticket:
    note = _text("note", note, required=False)
    return await _transition("accept", access=access, actor=actor, ticket_id=ticket_id, now=now, note=note)


async def transfer(
    *,
    access: Access,
    actor: str,
    ticket_id: int,
    unit_kind: UnitKind,
    unit_id: int | None,
    reason: str,
    now: datetime | None = None,
) -> Ticket:
    """Send the ticket to another unit, with a reason; its clock starts again there."""
    reason = _text("reason", reason, required=True)
    return await _transition(
        "transfer", access=access, actor=actor, ticket_id=ticket_id, now=now, unit_kind=unit_kind, unit_id=unit_id,
        reason=reason,
    )


async def resolve(
    *,
    access: Access,
    actor: str,
    ticket_id: int,
    note: str,
    photos: list[str] | None = None,
    photo_file_ids: list[int] | None = None,
    now: datetime | None = None,
) -> Ticket:
    """The assigned unit reports the problem solved, with photos of the result (uploaded files, or links)."""
    note = _text("note", note, required=True, limit=MAX_DESCRIPTION)
    if photo_problems := check_photos(photos or [], photo_file_ids):
        raise InvalidInput.of(photo_problems)
    return await _transition(
        "resolve", access=access, actor=actor, ticket_id=ticket_id, now=now, note=note, photos=photos,
        photo_file_ids=photo_file_ids or [], caller=access,
    )


async def rate(
    *, access: Access, actor: str, ticket_id: int, rating: int, comment: str = "", now: datetime | None = None
) -> Ticket:
    """The resident rates the result: satisfied closes it, unsatisfied reopens it (counted)."""
    comment = _text("comment", comment, required=False)
    return await _transition(
        "rate", access=access, actor=actor, ticket_id=ticket_id, now=now, rating=rating, comment=comment,
        channel=RatingChannel.APP,
    )


async def record_return_visit(
    *,
    access: Access,
    actor: str,
    ticket_id: int,
    rating: int,
    channel: RatingChannel,
    comment: str = "",
    now: datetime | None = None,
) -> Ticket:
    """回访: for a ticket entered for a resident, the staff member who entered it (or the reviewing community or
    street) records the resident's rating and how it came in; it counts exactly like a rating in the app."""
    comment = _text("comment", comment, required=False)
    if channel == RatingChannel.APP:
        raise InvalidInput.of(
            [Problem("channel", "app_channel", "居民在应用内自行评价，回访须为电话、上门或短信",
                     "residents rate in the app themselves; a return visit is by phone, visit or sms")]
        )
    return await _transition(
        "record_return_visit", access=access, actor=actor, ticket_id=ticket_id, now=now, rating=rating,
        comment=comment, channel=channel,
    )


async def escalate(*, access: Access, actor: str, ticket_id: int, reason: str, now: datetime | None = None) -> Ticket:
    """提级督办 by hand, by the community, street or tenant administration."""
    reason = _text("reason", reason, required=True)
    return await _transition("escalate", access=access, actor=actor, ticket_id=ticket_id, now=now, reason=reason)


async def escalate_locked(
    ticket: Ticket, *, actor: str, automatic: bool, reason: str, at: datetime, zone: ZoneInfo
) -> Escalation:
    """Climb one rung (or stay on the last): the assigned unit collects the escalation; the clock restarts. The
    entry for the reminder tick too (it holds the ticket's lock and has checked its state)."""
    ladder = rules_of(ticket)["ladder"]
    from_level = ticket.escalation_level
    to_level = min(from_level + 1, len(ladder) - 1)
    ticket.escalation_level, ticket.escalations = to_level, ticket.escalations + 1
    ticket.step_seq += 1
    ticket.due_at = at + timedelta(hours=ladder[to_level]["hours"])
    await ticket.save()
    # The unit answerable for the delay: the assignee, or, before dispatch, the community that should review it.
    unit_kind, unit_id = (ticket.assignee_kind, ticket.assignee_id)
    if unit_kind is None and ticket.community_id is not None:
        unit_kind, unit_id = UnitKind.COMMUNITY, ticket.community_id
    esc = await Escalation.create(
        ticket_id=ticket.id,
        from_level=from_level,
        to_level=to_level,
        unit_kind=unit_kind,
        unit_id=unit_id,
        automatic=automatic,
        reason=reason,
        period=period_of(at, zone),
        at=at,
    )
    await event(
        ticket,
        at,
        actor,
        "escalate",
        ticket.state,
        ticket.state,
        note=reason,
        details={"from": ladder[from_level]["level"], "to": ladder[to_level]["level"], "automatic": automatic},
    )
    await messages.escalated(ticket, esc, at)
    return esc
