"""Intake and workflow of grievance tickets: report, dispatch or reject, accept, transfer, resolve, rate."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from tenants import clock, idempotency
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, NotFound, Problem, text_problems
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.models import Tenant
from tenants.tenancy.roles import Role
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access, get_in_scope
from tenants.territory.parties import Unit
from tenants.tickets import matrix, notify, partners
from tenants.tickets.access import REVIEWERS, STAFF_REPORTERS, acts_for_assignee, may_review, readable, require
from tenants.tickets.errors import IllegalTransition
from tenants.tickets.models import (
    OPEN_STATES,
    UNIT_STATES,
    Channel,
    Escalation,
    RatingChannel,
    Ticket,
    TicketEvent,
    TicketState,
    UnitKind,
)
from tenants.tickets.rules import period_of, snapshot

MAX_PHOTOS = 9
MAX_DESCRIPTION = 2000
MAX_NOTE = 500


def _text(field: str, value: str, *, required: bool, limit: int = MAX_NOTE) -> str:
    """A note or reason: stripped, bounded, storable, and present when ``required`` (typed error otherwise)."""
    if problems := text_problems(field, value, _FIELD_ZH.get(field, field), required=required, limit=limit):
        raise InvalidInput.of(problems)
    return value.strip()


_FIELD_ZH = {"reason": "理由", "note": "说明", "comment": "评价"}


def _check_photos(photos: list[str]) -> list[Problem]:
    problems = []
    if len(photos) > MAX_PHOTOS:
        problems.append(Problem("photos", "too_many", f"照片最多 {MAX_PHOTOS} 张", f"at most {MAX_PHOTOS} photos"))
    for i, url in enumerate(photos[:MAX_PHOTOS]):
        if not url.startswith(("https://", "http://")) or len(url) > 500:
            problems.append(Problem(f"photos.{i}", "format", "照片须为 http(s) 链接", "a photo must be an http(s) URL"))
    return problems


S = TicketState


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


def _check_intake(
    description: str,
    photos: list[str],
    contact: str,
    address: str,
    latitude: Decimal | None,
    longitude: Decimal | None,
    has_node: bool,
) -> list[Problem]:
    problems = []
    if not description.strip():
        problems.append(Problem("description", "required", "请描述问题", "description must not be empty"))
    elif len(description) > MAX_DESCRIPTION:
        problems.append(
            Problem(
                "description",
                "too_long",
                f"描述不能超过 {MAX_DESCRIPTION} 字",
                f"description must be at most {MAX_DESCRIPTION} characters",
            )
        )
    problems += _check_photos(photos)
    if len(contact) > 64:
        problems.append(
            Problem("contact", "too_long", "联系方式不能超过 64 字", "contact must be at most 64 characters")
        )
    if len(address) > 300:
        problems.append(Problem("address", "too_long", "地址不能超过 300 字", "address must be at most 300 characters"))
    if (latitude is None) != (longitude is None):
        problems.append(Problem("latitude", "pair", "经纬度须同时填写", "latitude and longitude go together"))
    if latitude is not None and not Decimal(-90) <= latitude <= Decimal(90):
        problems.append(Problem("latitude", "out_of_range", "纬度须在 -90 到 90 之间", "latitude must be -90..90"))
    if longitude is not None and not Decimal(-180) <= longitude <= Decimal(180):
        problems.append(
            Problem("longitude", "out_of_range", "经度须在 -180 到 180 之间", "longitude must be -180..180")
        )
    if not has_node and not address.strip():
        problems.append(
            Problem(
                "compoundId",
                "required",
                "请选择小区、楼栋、住户或填写地址",
                "give a compound, building or household, or an address",
            )
        )
    return problems


async def _location(
    access: Access, compound_id: int | None, building_id: int | None, household_id: int | None, problems: list[Problem]
) -> dict[str, int | None]:
    """The most specific node given, if it is inside the reporter's scope, with all its ancestors."""
    for level, node_id in (("household", household_id), ("building", building_id), ("compound", compound_id)):
        if node_id is None:
            continue
        try:
            node = await get_in_scope(level, node_id, access)
        except NotFound:
            problems.append(
                Problem(f"{level}Id", "out_of_scope", "该位置不在您的范围内", f"this {level} is not within your scope")
            )
            return {}
        ids = {
            f"{a}_id": getattr(node, f"{a}_id")
            for a in ("street", "community", "grid", "compound", "building")
            if hasattr(node, f"{a}_id")
        }
        ids[f"{level}_id"] = node.id
        return ids
    return {}


async def _free_address_area(
    access: Access, actor: str, community_id: int | None, problems: list[Problem]
) -> dict[str, int | None]:
    """A ticket with only an address still belongs to a community (so someone reviews it): the one named, or the
    reporting resident's own."""
    from tenants.territory.models import Household
    from tenants.territory.people import Person

    if community_id is not None:
        try:
            community = await get_in_scope("community", community_id, access)
        except NotFound:
            problems.append(
                Problem(
                    "communityId", "out_of_scope", "该社区不在您的范围内", "this community is not within your scope"
                )
            )
            return {}
        return {"street_id": community.street_id, "community_id": community.id}  # type: ignore[attr-defined]
    person = await Person.get_or_none(user_id=actor)
    household = await Household.get_or_none(id=person.household_id) if person and person.household_id else None
    if household is None:
        problems.append(
            Problem(
                "communityId",
                "required",
                "只填写地址时须指定所属社区",
                "a ticket with only an address needs its communityId",
            )
        )
        return {}
    return {"street_id": household.street_id, "community_id": household.community_id}


async def _check_on_behalf(access: Access, user_id: str, problems: list[Problem]) -> None:
    """Staff may report only for a registered resident living within their own scope."""
    from tenants.territory.people import Person

    person = await Person.get_or_none(user_id=user_id)
    if person is None or person.household_id is None:
        problems.append(Problem("onBehalfOf", "unknown", "未找到该居民", "no resident with this user id"))
        return
    try:
        await get_in_scope("household", person.household_id, access)
    except NotFound:
        problems.append(
            Problem(
                "onBehalfOf", "out_of_scope", "该居民不在您的范围内", "this resident does not live within your scope"
            )
        )


async def report(
    *,
    access: Access,
    actor: str,
    item_code: str,
    description: str,
    channel: Channel = Channel.APP,
    photos: list[str] | None = None,
    contact: str = "",
    compound_id: int | None = None,
    building_id: int | None = None,
    household_id: int | None = None,
    address: str = "",
    latitude: Decimal | None = None,
    longitude: Decimal | None = None,
    on_behalf_of: str | None = None,
    community_id: int | None = None,
    now: datetime | None = None,
    idempotency_key: str | None = None,
) -> Ticket:
    """A resident reports (or staff enter a report for a resident). Bad input saves nothing. A retry with the
    same ``idempotency_key`` returns the ticket the first request made (tenants.idempotency)."""
    at = _now(now)
    photos = photos or []
    if on_behalf_of is not None:
        require(bool(access.roles & STAFF_REPORTERS), "report for another person")
    elif Role.RESIDENT not in access.roles:
        require(bool(access.roles & STAFF_REPORTERS), "report")
    problems = _check_intake(
        description,
        photos,
        contact,
        address,
        latitude,
        longitude,
        any(x is not None for x in (compound_id, building_id, household_id, community_id)),
    ) + idempotency.key_problems(idempotency_key)
    async with savepoint():
        effective = await effective_config()
        rules, item_problems = snapshot(effective.document, item_code)
        problems = item_problems + problems
        where = await _location(access, compound_id, building_id, household_id, problems)
        if not where and not any(x is not None for x in (compound_id, building_id, household_id)):
            where = await _free_address_area(access, on_behalf_of or actor, community_id, problems)
        if on_behalf_of is not None:
            await _check_on_behalf(access, on_behalf_of, problems)
        if problems:
            raise InvalidInput.of(problems)
        if idempotency_key is not None and (done := await idempotency.claim(idempotency_key, "reportTicket", actor)):
            return await Ticket.get(id=done)
        me = (await Tenant.get(id=current_tenant_id())).slug
        ticket = await Ticket.create(
            category_code=rules["category"]["code"],
            item_code=item_code,
            description=description.strip(),
            photos=photos,
            contact=contact,
            channel=channel,
            address=address.strip(),
            latitude=latitude,
            longitude=longitude,
            reporter_user_id=on_behalf_of or actor,
            entered_by=actor,
            rules=rules,
            config_version=effective.versions.get(me),
            opened_at=at,
            due_at=at + timedelta(hours=rules["review_hours"]),
            **where,  # type: ignore[arg-type]
        )
        await _event(
            ticket,
            at,
            actor,
            "report",
            None,
            S.REPORTED,
            note=description.strip()[:200],
            attachments=photos,
            details={"channel": channel.value, "onBehalfOf": on_behalf_of},
        )
        if idempotency_key is not None:
            await idempotency.record(idempotency_key, ticket.id)
        steps = rules["steps"]
        held = notify.Holding.of(ticket)
        if not steps["review"] and not steps["dispatch"]:  # both switched off: straight to the matrix's unit
            route = await matrix.acting_unit(ticket, at)
            kind, unit = route.kind, route.unit_id
            note = "自动派单"
            if unit is None:  # the named department is not on file or deactivated: the community (or street) acts
                kind, unit = (
                    (UnitKind.COMMUNITY, ticket.community_id)
                    if ticket.community_id
                    else (UnitKind.STREET, ticket.street_id)
                )
                note = f"自动派单（{route.problem().message_zh.removesuffix('，请指定承办单位')}，由属地办理）"
            await _assign(ticket, kind, unit, at, "system", "dispatch", note)
            await partners.open_tasks(ticket, at)
        await notify.ticket_changed(ticket, held, at)
        return ticket


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


async def _event(
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


async def _assign(
    ticket: Ticket, kind: UnitKind, unit_id: int | None, at: datetime, actor: str, action: str, note: str
) -> None:
    """Hand the ticket to a unit: its resolution clock starts; without an accept step it is accepted at once."""
    before = ticket.state
    ticket.assignee_kind, ticket.assignee_id = kind, unit_id
    ticket.dispatched_at = ticket.dispatched_at or at
    ticket.step_seq += 1
    ticket.due_at = ticket.sla_due_at = at + timedelta(hours=ticket.rules["item"]["sla_hours"])
    waiting = S.TRANSFERRED if action == "transfer" else S.DISPATCHED
    ticket.state = waiting if ticket.rules["steps"]["accept"] else S.ACCEPTED
    await ticket.save()
    await _event(
        ticket, at, actor, action, before, ticket.state, note=note, details={"unit": kind.value, "unitId": unit_id}
    )


async def _for_update(ticket_id: int, access: Access) -> Ticket:
    ticket = await readable(access).filter(id=ticket_id).select_for_update().first()
    if ticket is None:
        raise NotFound(f"工单 {ticket_id} 不存在", f"ticket {ticket_id} does not exist", field="ticketId")
    return ticket


def _expect(ticket: Ticket, action: str, *states: TicketState) -> None:
    if ticket.state not in states:
        raise IllegalTransition(action, ticket.state.value)


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
    at = _now(now)
    note = _text("note", note, required=False)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        require(may_review(access, ticket), "dispatch")
        _expect(ticket, "dispatch", S.REPORTED)
        held = notify.Holding.of(ticket)
        if unit_kind is not None:
            await _check_unit(unit_kind, unit_id, "unitId")
            kind, unit = unit_kind, unit_id
        else:
            route = await matrix.acting_unit(ticket, at)
            if route.unit_id is None:  # e.g. the named department was deactivated since: the reviewer names one
                raise InvalidInput.of([route.problem()])
            kind, unit = route.kind, route.unit_id
        await _assign(ticket, kind, unit, at, actor, "dispatch", note)
        await partners.open_tasks(ticket, at)
        await notify.ticket_changed(ticket, held, at)
        return ticket


async def reject(*, access: Access, actor: str, ticket_id: int, reason: str, now: datetime | None = None) -> Ticket:
    at = _now(now)
    reason = _text("reason", reason, required=True)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        held = notify.Holding.of(ticket)
        require(may_review(access, ticket), "reject")
        _expect(ticket, "reject", S.REPORTED)
        ticket.state, ticket.due_at, ticket.closed_at = S.REJECTED, None, at
        await ticket.save()
        await _event(ticket, at, actor, "reject", S.REPORTED, S.REJECTED, note=reason)
        await notify.ticket_changed(ticket, held, at)
        return ticket


async def accept(*, access: Access, actor: str, ticket_id: int, note: str = "", now: datetime | None = None) -> Ticket:
    at = _now(now)
    note = _text("note", note, required=False)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        require(acts_for_assignee(access, ticket), "accept")
        held = notify.Holding.of(ticket)
        _expect(ticket, "accept", S.DISPATCHED, S.TRANSFERRED)
        before = ticket.state
        ticket.state = S.ACCEPTED
        await ticket.save()
        await _event(ticket, at, actor, "accept", before, S.ACCEPTED, note=note)
        await notify.ticket_changed(ticket, held, at)
        return ticket


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
    at = _now(now)
    reason = _text("reason", reason, required=True)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        require(acts_for_assignee(access, ticket) or may_review(access, ticket), "transfer")
        held = notify.Holding.of(ticket)
        _expect(ticket, "transfer", *UNIT_STATES)
        await _check_unit(unit_kind, unit_id, "unitId")
        if (unit_kind, unit_id) == (ticket.assignee_kind, ticket.assignee_id):
            raise InvalidInput.of(
                [Problem("unitId", "same_unit", "不能转给当前承办单位", "the ticket is already with this unit")]
            )
        await _assign(ticket, unit_kind, unit_id, at, actor, "transfer", reason)
        await notify.ticket_changed(ticket, held, at)
        return ticket


async def resolve(
    *,
    access: Access,
    actor: str,
    ticket_id: int,
    note: str,
    photos: list[str] | None = None,
    now: datetime | None = None,
) -> Ticket:
    at = _now(now)
    note = _text("note", note, required=True, limit=MAX_DESCRIPTION)
    if photo_problems := _check_photos(photos or []):
        raise InvalidInput.of(photo_problems)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        require(acts_for_assignee(access, ticket), "resolve")
        held = notify.Holding.of(ticket)
        _expect(ticket, "resolve", S.ACCEPTED, S.REOPENED)
        before = ticket.state
        # Against the resolution SLA, which escalation never extends.
        ticket.resolved_on_time = ticket.sla_due_at is None or at <= ticket.sla_due_at
        ticket.resolved_at, ticket.due_at = at, None
        ticket.state = S.RESOLVED if ticket.rules["steps"]["rate"] else S.CLOSED
        if ticket.state == S.CLOSED:
            ticket.closed_at = at
        await ticket.save()
        await _event(
            ticket,
            at,
            actor,
            "resolve",
            before,
            ticket.state,
            note=note,
            attachments=photos,
            details={"onTime": ticket.resolved_on_time},
        )
        await notify.ticket_changed(ticket, held, at)
        return ticket


async def rate(
    *, access: Access, actor: str, ticket_id: int, rating: int, comment: str = "", now: datetime | None = None
) -> Ticket:
    """The resident rates the result: satisfied closes it, unsatisfied reopens it (counted)."""
    at = _now(now)
    comment = _text("comment", comment, required=False)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        require(ticket.reporter_user_id == actor, "rate")
        await _rate_locked(ticket, actor=actor, rating=rating, comment=comment, channel=RatingChannel.APP, at=at)
        return ticket


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
    at = _now(now)
    comment = _text("comment", comment, required=False)
    if channel == RatingChannel.APP:
        raise InvalidInput.of(
            [Problem("channel", "app_channel", "居民在应用内自行评价，回访须为电话、上门或短信",
                     "residents rate in the app themselves; a return visit is by phone, visit or sms")]
        )
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        entered_for_resident = ticket.entered_by != ticket.reporter_user_id
        require(
            entered_for_resident and (ticket.entered_by == actor or may_review(access, ticket)), "record a return visit"
        )
        await _rate_locked(ticket, actor=actor, rating=rating, comment=comment, channel=channel, at=at)
        return ticket


async def _rate_locked(
    ticket: Ticket, *, actor: str, rating: int, comment: str, channel: RatingChannel, at: datetime
) -> None:
    held = notify.Holding.of(ticket)
    _expect(ticket, "rate", S.RESOLVED)
    scale = ticket.rules["scale"]
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
    details: dict[str, Any] = {"rating": rating}
    if channel != RatingChannel.APP:
        details |= {"channel": channel.value, "returnVisit": True, "resident": ticket.reporter_user_id}
    if ticket.satisfied:
        ticket.state, ticket.closed_at = S.CLOSED, at
        await ticket.save()
        await _event(ticket, at, actor, "rate", S.RESOLVED, S.RATED, note=comment, details=details)
        await _event(ticket, at, "system", "close", S.RATED, S.CLOSED)
    else:
        ticket.state, ticket.reopened = S.REOPENED, ticket.reopened + 1
        ticket.step_seq += 1
        ticket.due_at = ticket.sla_due_at = at + timedelta(hours=ticket.rules["item"]["sla_hours"])
        ticket.resolved_at = ticket.resolved_on_time = None
        await ticket.save()
        await _event(
            ticket, at, actor, "rate", S.RESOLVED, S.REOPENED, note=comment,
            details={**details, "reopened": ticket.reopened},
        )
    await notify.ticket_changed(ticket, held, at)


async def escalate_locked(
    ticket: Ticket, *, actor: str, automatic: bool, reason: str, at: datetime, zone: ZoneInfo
) -> Escalation:
    """Climb one rung (or stay on the last): the assigned unit collects the escalation; the clock restarts."""
    ladder = ticket.rules["ladder"]
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
    await _event(
        ticket,
        at,
        actor,
        "escalate",
        ticket.state,
        ticket.state,
        note=reason,
        details={"from": ladder[from_level]["level"], "to": ladder[to_level]["level"], "automatic": automatic},
    )
    await notify.escalated(ticket, esc, at)
    return esc


async def escalate(*, access: Access, actor: str, ticket_id: int, reason: str, now: datetime | None = None) -> Ticket:
    """提级督办 by hand, by the community, street or tenant administration."""
    at = _now(now)
    reason = _text("reason", reason, required=True)
    async with savepoint():
        ticket = await _for_update(ticket_id, access)
        require(may_review(access, ticket), "escalate")
        _expect(ticket, "escalate", *OPEN_STATES)
        await escalate_locked(ticket, actor=actor, automatic=False, reason=reason, at=at, zone=await current_zone())
        return ticket


async def get_visible(access: Access, ticket_id: int) -> Ticket:
    ticket = await readable(access).filter(id=ticket_id).first()
    if ticket is None:
        raise NotFound(f"工单 {ticket_id} 不存在", f"ticket {ticket_id} does not exist", field="id")
    return ticket


async def list_tickets(
    *,
    access: Access,
    after: tuple[datetime, int] | None,
    limit: int,
    state: TicketState | None = None,
    item_code: str | None = None,
    unit: tuple[UnitKind, int] | None = None,
    compound_id: int | None = None,
    overdue: bool | None = None,
    opened_from: date | None = None,
    opened_before: date | None = None,
    mine: bool = False,
    now: datetime | None = None,
) -> list[Ticket]:
    """Newest first, keyset on (opened_at, id), filtered; every filter is an indexed column."""
    from tenants.paging import newest_first

    at = _now(now)
    qs = readable(access)
    if mine:
        qs = qs.filter(reporter_user_id=access.user_id or "")
    if state is not None:
        qs = qs.filter(state=state)
    if item_code:
        qs = qs.filter(item_code=item_code)
    if unit is not None:
        qs = qs.filter(assignee_kind=unit[0], assignee_id=unit[1])
    if compound_id is not None:
        qs = qs.filter(compound_id=compound_id)
    if overdue is True:
        qs = qs.filter(state__in=list(OPEN_STATES), due_at__lt=at)
    elif overdue is False:
        qs = qs.exclude(state__in=list(OPEN_STATES), due_at__lt=at)
    zone = await current_zone()
    if opened_from is not None:
        qs = qs.filter(opened_at__gte=datetime.combine(opened_from, datetime.min.time(), zone))
    if opened_before is not None:
        qs = qs.filter(opened_at__lt=datetime.combine(opened_before, datetime.min.time(), zone))
    return await newest_first(qs, time_field="opened_at", after=after, limit=limit)


async def events_of(ticket_ids: list[int]) -> list[TicketEvent]:
    return await TicketEvent.filter(ticket_id__in=ticket_ids).order_by("at", "id")


__all__ = [
    "REVIEWERS", "accept", "dispatch", "escalate", "rate", "record_return_visit", "reject", "report", "resolve",
    "transfer",
]
