"""Intake 百姓说事: a resident reports a problem (or staff enter one for a resident); with review and dispatch
both switched off, the ticket goes straight to the responsibility matrix's unit."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from tenants import clock
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.events import emit
from tenants.files import service as files
from tenants.files.models import Purpose
from tenants.idempotency import idempotent
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy import cache as tenant_cache
from tenants.tenancy.roles import Role
from tenants.territory.access import Access, get_in_scope
from tenants.tickets import matrix, messages, partners
from tenants.tickets.access import STAFF_REPORTERS, require
from tenants.tickets.models import Channel, Ticket, TicketState, UnitKind
from tenants.tickets.rules import snapshot
from tenants.tickets.workflow import MAX_DESCRIPTION, assign, check_photos, event


def _check_intake(
    description: str,
    photos: list[str],
    photo_file_ids: list[int],
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
    problems += check_photos(photos, photo_file_ids)
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
        known = access.known_ancestors(level, node_id)  # the reporter's own household, building or compound
        if known is not None:
            return {**{f"{a}_id": i for a, i in known.items()}, f"{level}_id": node_id}
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


@idempotent("reportTicket", Ticket)
async def report(
    *,
    access: Access,
    actor: str,
    item_code: str,
    description: str,
    channel: Channel = Channel.APP,
    photos: list[str] | None = None,
    photo_file_ids: list[int] | None = None,
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
) -> Ticket:
    """A resident reports (or staff enter a report for a resident). Bad input saves nothing. A retry with the
    same ``idempotency_key`` returns the ticket the first request made (``@idempotent``). Photos are uploaded
    files (``photo_file_ids``, tenants.files) or, deprecated, http(s) links (``photos``)."""
    at = now or clock.now()
    photos, photo_file_ids = photos or [], photo_file_ids or []
    if on_behalf_of is not None:
        require(bool(access.roles & STAFF_REPORTERS), "report for another person")
    elif Role.RESIDENT not in access.roles:
        require(bool(access.roles & STAFF_REPORTERS), "report")
    problems = _check_intake(
        description,
        photos,
        photo_file_ids,
        contact,
        address,
        latitude,
        longitude,
        any(x is not None for x in (compound_id, building_id, household_id, community_id)),
    )
    # No savepoint: every caller (GraphQL, Open311, the demo seed) rolls its whole transaction back when a report
    # fails, so one would only cost two round trips.
    async with scoped_transaction():
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
        uploads = await files.attachable(access, photo_file_ids, purpose=Purpose.TICKET, field="photoFileIds")
        me = (await tenant_cache.by_id(current_tenant_id())).slug
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
        await event(
            ticket,
            at,
            actor,
            "report",
            None,
            TicketState.REPORTED,
            note=description.strip()[:200],
            attachments=photos,
            details={"channel": channel.value, "onBehalfOf": on_behalf_of,
                     **({"fileIds": photo_file_ids} if photo_file_ids else {})},
        )
        await files.attach(uploads, kind="ticket", owner_id=ticket.id, now=at)
        await emit("ticket_reported", ticket_id=ticket.id, reporter_user_id=ticket.reporter_user_id,
                   channel=channel.value, actor=actor, at=at)
        steps = rules["steps"]
        held = messages.Holding.of(ticket)
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
            await assign(ticket, kind, unit, at, "system", "dispatch", note)
            await partners.open_tasks(ticket, at)
            # without a review, every report is taken as a valid request: it earns what an accepted one does
            await emit("ticket_accepted", ticket_id=ticket.id, reporter_user_id=ticket.reporter_user_id,
                       channel=channel.value, at=at)
        await messages.ticket_changed(ticket, held, at)
        return ticket
