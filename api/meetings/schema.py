"""Joint meetings 联席会议 through GraphQL: record a meeting (attendance per configured party, agenda items that may
escalate their tickets), add decisions and follow them to done or cancelled, read meetings, decisions with their
timeline, compliance flags and the issues settled. Resolvers are thin: the services check who may do what."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.ids import NODE_OF, opt_id, to_id, to_ids
from api.meetings.loaders import MeetingLoaders
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from tenants.meetings import compliance, decisions, meetings
from tenants.meetings.access import readable_decisions, readable_meetings
from tenants.meetings.models import ComplianceFlag, Meeting
from tenants.paging import Page, Window
from tenants.territory.access import Access


@strawberry.enum(name="MeetingTargetKind", description="Where a joint meeting is held (party.joint_meeting.level).")
class MeetingTargetKind(Enum):
    COMMUNITY = strawberry.enum_value("community", description="A community 社区 (四位一体, 三方联席会议).")
    COMPOUND = strawberry.enum_value("compound", description="A compound 小区.")


@strawberry.enum(name="MeetingParty", description="A party to joint meetings (party.joint_meeting.parties).")
class MeetingParty(Enum):
    COMMUNITY_PARTY_ORG = strawberry.enum_value("community_party_org", description="社区党组织 the community's "
                                                "party organisation.")
    RESIDENTS_COMMITTEE = strawberry.enum_value("residents_committee", description="居委会 residents' committee.")
    OWNERS_COMMITTEE = strawberry.enum_value("owners_committee", description="业委会 owners' committee.")
    PROPERTY_COMPANY = strawberry.enum_value("property_company", description="物业企业 the property company.")


@strawberry.enum(name="DecisionOwnerKind", description="Who answers for a meeting decision.")
class DecisionOwnerKind(Enum):
    UNIT = strawberry.enum_value("unit", description="A unit: a department, the housing department, a street office.")
    COMPANY = strawberry.enum_value("company", description="A property company.")


@strawberry.enum(name="DecisionStatus", description="Where a meeting decision stands.")
class DecisionStatusEnum(Enum):
    OPEN = strawberry.enum_value("open", description="办理中 being done (may be overdue).")
    DONE = strawberry.enum_value("done", description="已办结 done, with evidence.")
    CANCELLED = strawberry.enum_value("cancelled", description="已取消 cancelled by the area's staff.")


@strawberry.enum(name="SettledLevel", description="How issues settled by joint meetings are grouped.")
class SettledLevel(Enum):
    COMMUNITY = strawberry.enum_value("community", description="Per community.")
    STREET = strawberry.enum_value("street", description="Per street.")


@strawberry.type(name="MeetingAttendance", description="Who came for one party.")
class MeetingAttendanceType:
    party: MeetingParty = strawberry.field(description="The party.")
    names: list[str] = strawberry.field(description="The names of those who came for it.")


@strawberry.type(name="MeetingAgendaItem", description="An agenda item: free text or tickets (社区点题).")
class MeetingAgendaItemType:
    position: int = strawberry.field(description="Its place on the agenda, from 0.")
    text: str = strawberry.field(description="The item's text (may be empty when it lists tickets).")
    ticket_ids: list[strawberry.ID] = strawberry.field(description="The tickets it takes up.")
    escalated_at: datetime | None = strawberry.field(description="When its tickets were escalated by the meeting "
                                                     "(部门答题); null: not escalated.")


@strawberry.type(name="Meeting", description="A joint meeting 联席会议 of a community or compound.")
class MeetingNode(Node):
    readable = staticmethod(readable_meetings)
    target_kind: MeetingTargetKind = strawberry.field(description="Community or compound.")
    target_id: strawberry.ID = strawberry.field(description="The community or compound.")
    community_id: strawberry.ID = strawberry.field(description="Its community.")
    street_id: strawberry.ID = strawberry.field(description="Its street.")
    held_on: date = strawberry.field(description="The day it was held (tenant day).")
    convenor: str = strawberry.field(description="Who convened it.")
    minutes: str = strawberry.field(description="The minutes.")
    photo_links: list[str] = strawberry.field(description="Links to its photos.")
    recorded_by: str = strawberry.field(description="Who recorded it.")
    recorded_at: datetime = strawberry.field(description="When it was recorded (UTC).")

    @strawberry.field(description="Who came, per party.")
    async def attendance(self, info: Info) -> list[MeetingAttendanceType]:
        rows = await MeetingLoaders.of(info).attendance.load(self.id)
        return [MeetingAttendanceType(party=MeetingParty(r.party), names=list(r.names)) for r in rows]

    @strawberry.field(description="The agenda, in order.")
    async def agenda(self, info: Info) -> list[MeetingAgendaItemType]:
        rows = await MeetingLoaders.of(info).agenda.load(self.id)
        return [MeetingAgendaItemType(position=r.position, text=r.text, escalated_at=r.escalated_at,
                                      ticket_ids=[strawberry.ID(str(t)) for t in r.ticket_ids]) for r in rows]

    @classmethod
    def of(cls, row: Meeting) -> MeetingNode:
        return from_row(cls, row)


@strawberry.type(name="MeetingDecisionEvent", description="One step on a decision's timeline.")
class MeetingDecisionEvent:
    action: str = strawberry.field(description="added, reminded, overdue, escalated, done or cancelled.")
    actor: str = strawberry.field(description="Who (system for the hourly run).")
    at: datetime = strawberry.field(description="When (UTC).")
    note: str = strawberry.field(description="The evidence, reason or rung (community, street, tenant).")


@strawberry.type(name="MeetingDecision", description="A decision of a joint meeting, followed through to done.")
class MeetingDecisionNode(Node):
    readable = staticmethod(readable_decisions)
    meeting_id: strawberry.ID = strawberry.field(description="The meeting that took it.")
    community_id: strawberry.ID = strawberry.field(description="The meeting's community.")
    street_id: strawberry.ID = strawberry.field(description="The meeting's street.")
    owner_kind: DecisionOwnerKind = strawberry.field(description="A unit or a company.")
    owner_id: strawberry.ID = strawberry.field(description="The unit or company that answers for it.")
    due_on: date = strawberry.field(description="Its due day (tenant day).")
    description: str = strawberry.field(description="What was decided.")
    status: DecisionStatusEnum = strawberry.field(description="Open, done or cancelled.")
    done_on: date | None = strawberry.field(description="The day it was done.")
    evidence: str = strawberry.field(description="What was done.")
    evidence_links: list[str] = strawberry.field(description="Links to the evidence.")
    reminded_at: datetime | None = strawberry.field(description="When its owner was reminded (once).")
    escalation_level: int = strawberry.field(description="Rungs climbed overdue: 0 none, 1 community, 2 street, 3 "
                                             "tenant administration.")
    overdue: bool = strawberry.field(description="Open past its due day (tenant today).")

    @strawberry.field(description="Its timeline, oldest first.")
    async def timeline(self, info: Info) -> list[MeetingDecisionEvent]:
        rows = await MeetingLoaders.of(info).timeline.load(self.id)
        return [MeetingDecisionEvent(action=r.action, actor=r.actor, at=r.at, note=r.note) for r in rows]

    @classmethod
    async def fetch(cls, caller: Access, ids: list[int]) -> dict[int, decisions.DecisionRead]:  # type: ignore[override]
        """Refetched with whether each is overdue (tenant today)."""
        return await decisions.decisions_by_id(access=caller, ids=ids)

    @classmethod
    def of(cls, d: decisions.DecisionRead) -> MeetingDecisionNode:
        return from_row(cls, d.row, overdue=d.overdue)


@strawberry.type(name="MeetingComplianceFlag", description="A place that held no joint meeting in a period.")
class MeetingComplianceFlagType:
    target_kind: MeetingTargetKind = strawberry.field(description="Community or compound.")
    target_id: strawberry.ID = strawberry.field(description="The place.")
    community_id: strawberry.ID = strawberry.field(description="Its community.")
    period_key: str = strawberry.field(description="The period without a meeting (2026-11, 2026Q4).")
    flagged_on: date = strawberry.field(description="The day it was flagged (the next period's first, or later).")
    resolved_at: datetime | None = strawberry.field(description="When a meeting held in the period but recorded "
                                                    "after the flag resolved it (UTC); null: it stands.")
    resolved_by_meeting_id: strawberry.ID | None = strawberry.field(description="The meeting that resolved it.")

    @strawberry.field(description="Whether a meeting held in the period was recorded after the flag (the rubric "
                      "counts it).")
    def resolved(self) -> bool:
        return self.resolved_at is not None

    @classmethod
    def of(cls, row: ComplianceFlag) -> MeetingComplianceFlagType:
        return from_row(cls, row)


@strawberry.type(name="IssuesSettled", description="Issues settled by joint meetings in a period 解决问题数.")
class IssuesSettledType:
    level: SettledLevel = strawberry.field(description="Community or street.")
    node_id: strawberry.ID = strawberry.field(description="The community or street.")
    decisions_done: int = strawberry.field(description="Decisions done on a day in the period.")
    tickets_closed: int = strawberry.field(description="Agenda tickets closed in the period.")
    total: int = strawberry.field(description="Decisions done plus agenda tickets closed.")


@strawberry.input(name="MeetingAttendanceInput", description="Who came for one party.")
class MeetingAttendanceInput:
    party: MeetingParty = strawberry.field(description="A configured party (party.joint_meeting.parties).")
    names: list[str] = strawberry.field(description="Names (1-50, each at most 100 characters).")


@strawberry.input(name="MeetingAgendaInput", description="An agenda item: text, tickets, or both.")
class MeetingAgendaInput:
    text: str = strawberry.field(default="", description="The item (required without tickets; at most 1,000 "
                                 "characters).")
    ticket_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="Tickets it takes up.")
    escalate: bool = strawberry.field(default=False, description="Escalate its tickets 提级督办 with reason "
                                      "\"joint meeting\" (社区点题、部门答题).")


@strawberry.input(name="RecordMeetingInput", description="A joint meeting held.")
class RecordMeetingInput:
    target_kind: MeetingTargetKind = strawberry.field(description="The configured level.")
    target_id: strawberry.ID = strawberry.field(description="The community or compound.")
    held_on: date = strawberry.field(description="The day it was held (not in the future).")
    convenor: str = strawberry.field(description="Who convened it (at most 200 characters).")
    attendance: list[MeetingAttendanceInput] = strawberry.field(description="Who came: every configured party, "
                                                                "each once with a name at least.")
    agenda: list[MeetingAgendaInput] = strawberry.field(description="The agenda (1 to 50 items).")
    minutes: str = strawberry.field(default="", description="The minutes (at most 20,000 characters).")
    photo_links: list[str] = strawberry.field(default_factory=list, description="https links to photos (at most 9).")


@strawberry.input(name="AddDecisionInput", description="A decision of a meeting.")
class AddDecisionInput:
    owner_kind: DecisionOwnerKind = strawberry.field(description="A unit or a company.")
    owner_id: strawberry.ID = strawberry.field(description="The unit or company that answers for it.")
    due_on: date = strawberry.field(description="Its due day: not before the tenant's today, within three years of "
                                    "the meeting.")
    description: str = strawberry.field(description="What was decided (at most 2,000 characters).")


@strawberry.type
class MeetingQuery:
    @strawberry.field(description="Joint meetings the caller reads, newest first (a keyset connection).")
    async def meetings(
        self, info: Info,
        community_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this community's.")]
        = None,
        target_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this place's (with "
                                                                      "targetKind).")] = None,
        target_kind: Annotated[MeetingTargetKind | None, strawberry.argument(description="Only this level.")]
        = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[MeetingNode]:
        caller = await info.context.access()
        kind = target_kind.value if target_kind else None
        cid = opt_id(community_id, "communityId", "Community")
        tid = opt_id(target_id, "targetId", NODE_OF[kind] if kind else ("Community", "Compound"))

        async def fetch(window: Window) -> Page[Meeting]:
            return await meetings.list_meetings(access=caller, window=window, community_id=cid, target_kind=kind,
                                                target_id=tid)

        return await connection(info, fetch, MeetingNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Meeting decisions the caller reads, newest first (a keyset connection).")
    async def meeting_decisions(
        self, info: Info,
        meeting_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this meeting's.")] = None,
        status: Annotated[DecisionStatusEnum | None, strawberry.argument(description="Only in this status.")]
        = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[MeetingDecisionNode]:
        caller = await info.context.access()
        mid = opt_id(meeting_id, "meetingId", "Meeting")

        async def fetch(window: Window) -> Page[decisions.DecisionRead]:
            return await decisions.list_decisions(access=caller, window=window, meeting_id=mid,
                                                  status=status.value if status else None)

        return await connection(info, fetch, MeetingDecisionNode.of, first=first, after=after, last=last,
                                before=before)

    @strawberry.field(description="Places flagged for holding no joint meeting in a period (the caller's area), "
                      "newest period first (a keyset connection).")
    async def meeting_compliance_flags(
        self, info: Info,
        period_key: Annotated[str | None, strawberry.argument(description="Only this period (2026-11, 2026Q4).")]
        = None,
        resolved: Annotated[bool | None, strawberry.argument(description="Only those resolved by a meeting recorded "
                                                                         "late (true), or only those standing "
                                                                         "(false).")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[MeetingComplianceFlagType]:
        caller = await info.context.access()

        async def fetch(window: Window) -> Page[ComplianceFlag]:
            return await compliance.list_flags(access=caller, window=window, period_key=period_key,
                                               resolved=resolved)

        return await connection(info, fetch, MeetingComplianceFlagType.of, first=first, after=after, last=last,
                                before=before)

    @strawberry.field(description="Issues settled by joint meetings in a period (decisions done plus agenda tickets "
                      "closed), per community or street of the caller's area.")
    async def issues_settled(
        self, info: Info,
        period_key: Annotated[str, strawberry.argument(description="A month (2026-11) or quarter (2026Q4).")],
        level: Annotated[SettledLevel, strawberry.argument(description="Per community or per street.")]
        = SettledLevel.COMMUNITY,
    ) -> list[IssuesSettledType]:
        rows = await compliance.issues_settled(access=await info.context.access(), period_key=period_key,
                                               level=level.value)
        return [IssuesSettledType(level=SettledLevel(r.level), node_id=strawberry.ID(str(r.node_id)),
                                  decisions_done=r.decisions_done, tickets_closed=r.tickets_closed, total=r.total)
                for r in rows]


@strawberry.type
class MeetingMutation:
    @strawberry.mutation(description="Record a joint meeting of a community or compound (staff of its area): "
                         "every configured party attending, agenda items (an item may escalate its tickets).")
    async def record_meeting(self, info: Info, input: RecordMeetingInput,
                             idempotency_key: str | None = None) -> MeetingNode:
        row = await meetings.record_meeting(
            access=await info.context.access(), actor=info.context.actor, target_kind=input.target_kind.value,
            target_id=to_id(input.target_id, "targetId", NODE_OF[input.target_kind.value]), held_on=input.held_on,
            convenor=input.convenor, minutes=input.minutes, photo_links=input.photo_links,
            attendance=[meetings.Attendance(a.party.value, a.names) for a in input.attendance],
            agenda=[meetings.Agenda(a.text, to_ids(a.ticket_ids, f"agenda.{i}.ticketIds", "Ticket"), a.escalate)
                    for i, a in enumerate(input.agenda)],
            idempotency_key=idempotency_key,
        )
        return MeetingNode.of(row)

    @strawberry.mutation(description="Add a decision to a meeting: an owner, a due day, a description.")
    async def add_decision(self, info: Info, meeting_id: strawberry.ID, input: AddDecisionInput,
                           idempotency_key: str | None = None) -> MeetingDecisionNode:
        row = await decisions.add_decision(
            access=await info.context.access(), actor=info.context.actor,
            meeting_id=to_id(meeting_id, "meetingId", "Meeting"), owner_kind=input.owner_kind.value,
            owner_id=to_id(input.owner_id, "ownerId", NODE_OF[input.owner_kind.value]), due_on=input.due_on,
            description=input.description, idempotency_key=idempotency_key,
        )
        return MeetingDecisionNode.of(decisions.DecisionRead(row, False))

    @strawberry.mutation(description="Mark a decision done with evidence (its owner, or the area's staff).")
    async def complete_decision(
        self, info: Info, decision_id: strawberry.ID,
        evidence: Annotated[str, strawberry.argument(description="What was done (at most 2,000 characters).")],
        evidence_links: Annotated[list[str] | None, strawberry.argument(description="https links (at most 9).")]
        = None,
    ) -> MeetingDecisionNode:
        got = await decisions.complete(access=await info.context.access(), actor=info.context.actor,
                                       decision_id=to_id(decision_id, "decisionId", "MeetingDecision"),
                                       evidence=evidence, evidence_links=evidence_links)
        return MeetingDecisionNode.of(got)

    @strawberry.mutation(description="Cancel an open decision, with the reason (the area's staff).")
    async def cancel_decision(
        self, info: Info, decision_id: strawberry.ID,
        reason: Annotated[str, strawberry.argument(description="Why (at most 500 characters).")],
    ) -> MeetingDecisionNode:
        got = await decisions.cancel(access=await info.context.access(), actor=info.context.actor,
                                     decision_id=to_id(decision_id, "decisionId", "MeetingDecision"), reason=reason)
        return MeetingDecisionNode.of(got)
