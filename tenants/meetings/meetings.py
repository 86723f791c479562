"""Recording a joint meeting 联席会议 (day, convenor, attendance of every configured party, at least one agenda
item, minutes, photo links) and reading meetings. An agenda item may list tickets and escalate them
("社区点题、部门答题"): each is escalated through the tickets' own workflow with reason ``joint meeting``,
recorded like any 提级督办."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tenants import clock, periods
from tenants.audit.service import record
from tenants.errors import InvalidInput, Problem
from tenants.idempotency import idempotent
from tenants.meetings.access import readable_meetings
from tenants.meetings.models import AgendaItem, ComplianceFlag, Meeting, MeetingAttendance
from tenants.meetings.series import link_problems, meeting_config, places, series_of, target, text_problems
from tenants.paging import Page, Window, newest_first, where
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.tickets import workflow as tickets
from tenants.tickets.access import readable as readable_tickets
from tenants.tickets.models import OPEN_STATES

ESCALATION_REASON = "joint meeting"
MAX_ITEMS = 50
MAX_NAMES = 50
MINUTES_LIMIT = 20000
EARLIEST = date(2000, 1, 1)
CADENCES = ("monthly", "quarterly")  # party.joint_meeting.cadence: a flag's period is of either


@dataclass(frozen=True)
class Attendance:
    party: str
    names: list[str]


@dataclass(frozen=True)
class Agenda:
    text: str = ""
    ticket_ids: list[int] = field(default_factory=list)
    escalate: bool = False  # escalate the listed tickets 提级督办 (社区点题、部门答题)


PARTY_ZH = {"community_party_org": "社区党组织", "residents_committee": "居委会", "owners_committee": "业委会",
            "property_company": "物业企业"}


def spelling(party: str) -> str:
    """A party as clients send it, its GraphQL ``MeetingParty`` value (residents_committee: RESIDENTS_COMMITTEE)."""
    return party.upper()


def _named(parties: list[str]) -> tuple[str, str]:
    """(Chinese, English) lists of parties, each by its GraphQL spelling."""
    return ("、".join(f"{PARTY_ZH.get(p, p)}（{spelling(p)}）" for p in parties),
            ", ".join(spelling(p) for p in parties))


def missing_parties(attendance: list[Attendance], parties: list[str]) -> list[str]:
    """The configured parties nobody came for (a joint meeting is held with every one of them)."""
    came = {a.party for a in attendance if a.names}
    return [p for p in parties if p not in came]


def _attendance_problems(attendance: list[Attendance], parties: list[str]) -> list[Problem]:
    out: list[Problem] = []
    seen: set[str] = set()
    zh, en = _named(parties)
    for i, a in enumerate(attendance):
        f = f"attendance.{i}"
        if a.party not in parties:
            out.append(Problem(f"{f}.party", "party", f"与会方须为本地区配置的联席会议各方：{zh}",
                               f"party must be one of the configured parties: {en}"))
        elif a.party in seen:
            out.append(Problem(f"{f}.party", "duplicate", "同一方只能登记一次", "each party once"))
        seen.add(a.party)
        if not a.names or len(a.names) > MAX_NAMES:
            out.append(Problem(f"{f}.names", "count", f"每方到会人员 1-{MAX_NAMES} 人",
                               f"1 to {MAX_NAMES} names per party"))
        for j, name in enumerate(a.names):
            out += text_problems(f"{f}.names.{j}", name, "姓名", required=True, limit=100)
    if missing := missing_parties(attendance, parties):
        zh, en = _named(missing)
        out.append(Problem("attendance", "missing_party", f"联席会议须有配置的各方到会，缺少：{zh}",
                           f"every configured party attends a joint meeting; missing: {en}"))
    return out


async def _agenda_problems(access: Access, agenda: list[Agenda]) -> list[Problem]:
    out: list[Problem] = []
    if not agenda:
        return [Problem("agenda", "required", "联席会议须至少有一项议题",
                        "a joint meeting has at least one agenda item")]
    if len(agenda) > MAX_ITEMS:
        return [Problem("agenda", "too_many", f"议题最多 {MAX_ITEMS} 项", f"at most {MAX_ITEMS} agenda items")]
    wanted = sorted({t for item in agenda for t in item.ticket_ids})
    states = dict(await readable_tickets(access).filter(id__in=wanted).values_list("id", "state")) if wanted else {}
    for i, item in enumerate(agenda):
        f = f"agenda.{i}"
        out += text_problems(f"{f}.text", item.text, "议题", required=not item.ticket_ids, limit=1000)
        if len(item.ticket_ids) > MAX_ITEMS:
            out.append(Problem(f"{f}.ticketIds", "too_many", f"每项最多 {MAX_ITEMS} 个工单",
                               f"at most {MAX_ITEMS} tickets per item"))
        if len(set(item.ticket_ids)) < len(item.ticket_ids):
            out.append(Problem(f"{f}.ticketIds", "duplicate", "同一议题中每个工单只能列一次",
                               "each ticket once per agenda item"))
        for t in dict.fromkeys(item.ticket_ids):
            if t not in states:
                out.append(Problem(f"{f}.ticketIds", "ticket", f"工单 {t} 不存在", f"ticket {t} does not exist"))
            elif item.escalate and states[t] not in OPEN_STATES:
                out.append(Problem(f"{f}.ticketIds", "closed", f"工单 {t} 已办结或不可提级督办",
                                   f"ticket {t} is no longer open and cannot be escalated"))
        if item.escalate and not item.ticket_ids:
            out.append(Problem(f"{f}.escalate", "no_tickets", "提级督办须列出工单", "escalating needs tickets"))
    return out


@idempotent("meetings.record", Meeting)
async def record_meeting(
    *, access: Access, actor: str, target_kind: str, target_id: int, held_on: date, convenor: str,
    attendance: list[Attendance], agenda: list[Agenda], minutes: str = "", photo_links: list[str] | None = None,
    now: datetime | None = None,
) -> Meeting:
    """Record a meeting of a community or compound (the configured level) by the staff of its area: every configured
    party attends (a name at least each) and the agenda has an item."""
    require(access, "meetings.record", field="targetId")
    at = now or clock.now()
    today = await clock.today(at)
    jm = await meeting_config(today, field="targetKind")
    if target_kind != jm.level:
        level_zh = "社区" if jm.level == "community" else "小区"
        raise InvalidInput.of([Problem("targetKind", "level", f"本地区联席会议按{level_zh}召开",
                                       f"joint meetings are held per {jm.level} here")])
    node = await target(access, target_kind, target_id)
    community_id, street_id = places(node, target_kind)
    require(access, "meetings.record", [("community", community_id), ("street", street_id)], field="targetId")
    photo_links = photo_links or []
    problems = text_problems("convenor", convenor, "召集人", required=True, limit=200)
    problems += text_problems("minutes", minutes, "会议纪要", required=False, limit=MINUTES_LIMIT)
    problems += link_problems("photoLinks", photo_links)
    if held_on > today or held_on < EARLIEST:
        problems.append(Problem("heldOn", "date", "会议日期不能晚于今天", "heldOn is not in the future"))
    problems += _attendance_problems(attendance, list(jm.parties))
    problems += await _agenda_problems(access, agenda)
    if problems:
        err = InvalidInput.of(problems)
        if missing := missing_parties(attendance, list(jm.parties)):
            err.details["missingParties"] = [spelling(p) for p in missing]
        raise err
    async with savepoint():
        series = await series_of(target_kind, node, jm.cadence, at)
        meeting = await Meeting.create(
            series_id=series.id, target_kind=target_kind, target_id=target_id, community_id=community_id,
            street_id=street_id, held_on=held_on, convenor=convenor.strip(), minutes=minutes.strip(),
            photo_links=photo_links, recorded_by=actor, recorded_at=at,
        )
        await MeetingAttendance.bulk_create([
            MeetingAttendance(meeting_id=meeting.id, party=a.party, names=[n.strip() for n in a.names])
            for a in attendance
        ])
        await AgendaItem.bulk_create([
            AgendaItem(meeting_id=meeting.id, position=i, text=item.text.strip(), ticket_ids=item.ticket_ids,
                       escalated_at=at if item.escalate else None)
            for i, item in enumerate(agenda)
        ])
        # A flag of a period this meeting was held in (recorded late) is resolved by it: the list matches the rubric.
        await ComplianceFlag.filter(
            target_kind=target_kind, target_id=target_id, resolved_at=None,
            period_key__in=sorted({periods.key_for(held_on, c) for c in CADENCES}),
        ).update(resolved_at=at, resolved_by_meeting_id=meeting.id)
        # Each ticket once per meeting, however many escalating items list it (the set over the items).
        for ticket_id in sorted({t for item in agenda if item.escalate for t in item.ticket_ids}):
            await tickets.escalate(access=access, actor=actor, ticket_id=ticket_id, reason=ESCALATION_REASON,
                                   now=at)
        await record(actor=actor, action="meetings.record", target_type="meeting", target_id=meeting.id,
                     details={"target": f"{target_kind}:{target_id}", "held_on": held_on.isoformat()})
    return meeting


async def list_meetings(
    *, access: Access, window: Window, community_id: int | None = None, target_kind: str | None = None,
    target_id: int | None = None,
) -> Page[Meeting]:
    """Meetings the caller reads, newest first."""
    qs = where(readable_meetings(access), community_id=community_id, target_kind=target_kind, target_id=target_id)
    return await newest_first(qs, window, time_field="recorded_at")


async def _readable_ids(access: Access, meeting_ids: list[int]) -> list[int]:
    return list(await readable_meetings(access).filter(id__in=meeting_ids).values_list("id", flat=True))  # type: ignore[arg-type]


async def attendance_of(*, access: Access, meeting_ids: list[int]) -> dict[int, list[MeetingAttendance]]:
    """Attendance rows by meeting, of the meetings among ``meeting_ids`` the caller reads."""
    out: dict[int, list[MeetingAttendance]] = {}
    ids = await _readable_ids(access, meeting_ids)
    for row in await MeetingAttendance.filter(meeting_id__in=ids).order_by("meeting_id", "id"):
        out.setdefault(row.meeting_id, []).append(row)
    return out


async def agenda_of(*, access: Access, meeting_ids: list[int]) -> dict[int, list[AgendaItem]]:
    """Agenda items by meeting, of the meetings among ``meeting_ids`` the caller reads, in order."""
    out: dict[int, list[AgendaItem]] = {}
    ids = await _readable_ids(access, meeting_ids)
    for row in await AgendaItem.filter(meeting_id__in=ids).order_by("meeting_id", "position"):
        out.setdefault(row.meeting_id, []).append(row)
    return out
