"""Points earned from events (tenants/events.py), in the emitting transaction: every earning rule whose ``on``
names the event awards its person, once per (rule, person, source); an undone source reverses its awards.

A tenant without points (``points.enabled = false``) ignores the events: a ticket never fails for points.
"""

from __future__ import annotations

from datetime import datetime

from tenants import clock
from tenants.config.service import effective_config
from tenants.events import subscribe
from tenants.points.earning import award, reverse, reverse_people, reverse_source
from tenants.points.ledger import Source
from tenants.points.models import EntryKind, PointsEntry
from tenants.tenancy.service import current_zone
from tenants.territory.people import Person, Post, PostKind, active_on


async def _award_on(event: str, user_id: str | None, source: Source, at: datetime) -> None:
    """Award every rule ``on`` the event to the person with ``user_id`` (nobody on file: nothing)."""
    points = (await effective_config()).document.points
    rules = [r for r in points.earning_rules if r.on == event]
    if not points.enabled or not rules or not user_id:
        return
    person = await Person.get_or_none(user_id=user_id)
    if person is None:
        return
    day = clock.local_day(at, await current_zone())
    for rule in rules:
        await award(rule_code=rule.code, person=person, source=source, occurred_on=day, author="system", now=at)


async def ticket_reported(
    *, ticket_id: int, reporter_user_id: str, channel: str, actor: str, at: datetime, **_: object
) -> None:
    source = Source("ticket", ticket_id)
    await _award_on("ticket_reported", reporter_user_id, source, at)
    if channel == "steward" and actor != reporter_user_id:
        # 邻里大管家代报: the steward earns when they hold a steward post that day
        day = clock.local_day(at, await current_zone())
        steward = await Person.get_or_none(user_id=actor)
        if steward is not None and await Post.filter(
            active_on(day), person_id=steward.id, kind=PostKind.STEWARD
        ).exists():
            await _award_on("steward_report", actor, source, at)


async def ticket_accepted(*, ticket_id: int, reporter_user_id: str, at: datetime, **_: object) -> None:
    await _award_on("ticket_accepted", reporter_user_id, Source("ticket", ticket_id), at)


async def ticket_rated(*, ticket_id: int, rater_user_id: str, at: datetime, **_: object) -> None:
    await _award_on("ticket_rated", rater_user_id, Source("ticket", ticket_id), at)


async def ticket_rejected(*, ticket_id: int, at: datetime, **_: object) -> None:
    await reverse_source("ticket", ticket_id, reason="工单被驳回 ticket rejected as not valid", author="system",
                         now=at)


async def activity_attended(*, activity_kind: str, activity_id: int, user_id: str, at: datetime,
                            **_: object) -> None:
    await _award_on("activity_attended", user_id, Source(activity_kind, activity_id), at)


async def activity_withdrawn(*, activity_kind: str, activity_id: int, user_id: str, at: datetime,
                             **_: object) -> None:
    """Reverse what this attendance earned (the person's awards for the activity, not the other attendees')."""
    person = await Person.get_or_none(user_id=user_id)
    if person is None:
        return
    for entry in await PointsEntry.filter(
        kind=EntryKind.AWARD, source_kind=activity_kind, source_id=activity_id, person_id=person.id
    ):
        await reverse(entry, reason="取消参加活动 attendance withdrawn", author="system", now=at)


async def activity_withdrawn_all(*, activity_kind: str, activity_id: int, user_ids: list[str], at: datetime,
                                 **_: object) -> None:
    """Reverse what these people's attendances earned (an activity called off), set-based (``reverse_people``)."""
    persons = await Person.filter(user_id__in=sorted(set(user_ids)) or [""]).values_list("id", flat=True)
    await reverse_people(activity_kind, activity_id, [int(p) for p in persons],  # type: ignore[call-overload]
                         reason="活动取消 activity cancelled", author="system", now=at)


for _name, _handler in (
    ("ticket_reported", ticket_reported),
    ("ticket_accepted", ticket_accepted),
    ("ticket_rated", ticket_rated),
    ("ticket_rejected", ticket_rejected),
    ("activity_attended", activity_attended),
    ("activity_withdrawn", activity_withdrawn),
    ("activity_withdrawn_all", activity_withdrawn_all),
):
    subscribe(_name, _handler)
