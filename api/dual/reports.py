"""双报到 talks 谈话, notices 通报 and year-end figures through GraphQL (issue 18 part E). Resolvers are thin: the
services check who may do what and read through tenants/dual/report_access.py."""

from __future__ import annotations

from datetime import date, datetime
from enum import Enum
from typing import Any

import strawberry

from api.context import Info
from api.ids import opt_id, to_id
from api.pagination import After, Connection, First, connection
from api.rows import Node, from_row
from tenants.dual import talks as talk_service
from tenants.dual import year_end
from tenants.dual.report_access import readable_notices, readable_talks
from tenants.dual.rule_models import AbsenceCase, TalkStatus
from tenants.paging import Page, Window

TalkState = strawberry.enum(
    Enum("DualTalkStatus", {s.name: s.value for s in TalkStatus}), name="DualTalkStatus",
    description="Where a talk 谈话 is: open (to be held), done (held, outcome recorded) or withdrawn (attendance "
    "corrected: the streak no longer holds).",
)


@strawberry.type(name="DualTalk", description="A talk 谈话 the member's community holds with an in-service party "
                 "member whose absences in a row reached the configured count.")
class DualTalkNode(Node):
    readable = staticmethod(readable_talks)
    person_id: strawberry.ID = strawberry.field(description="The member.")
    community_id: strawberry.ID = strawberry.field(description="The member's community (its workers hold the talk).")
    street_id: strawberry.ID = strawberry.field(description="The community's street.")
    work_unit_id: strawberry.ID | None = strawberry.field(description="The member's work unit, if registered.")
    activity_id: strawberry.ID = strawberry.field(description="The activity whose absence completed the streak.")
    absent_at: datetime = strawberry.field(description="That activity's start (UTC).")
    absences: int = strawberry.field(description="Absences in a row.")
    opened_on: date = strawberry.field(description="The day it opened (tenant-local).")
    due_on: date = strawberry.field(description="The day it is due (tenant-local): opened + talk_due_days.")
    status: TalkState  # type: ignore[valid-type]
    overdue: bool = strawberry.field(description="Still open after its due day (tenant today).")
    reminded_at: datetime | None = strawberry.field(description="When the community's workers were reminded (UTC).")
    outcome: str = strawberry.field(description="What was said and agreed (empty while open).")
    held_on: date | None = strawberry.field(description="The day it was held (tenant-local).")
    closed_by: str | None = strawberry.field(description="Who recorded the outcome.")
    closed_at: datetime | None = strawberry.field(description="When the outcome was recorded (UTC).")

    @classmethod
    def of(cls, talk: talk_service.Talk) -> DualTalkNode:  # type: ignore[override]
        return from_row(cls, talk.row, overdue=talk.overdue)

    @classmethod
    async def fetch(cls, caller: Any, ids: list[int]) -> dict[int, Any]:
        return await talk_service.talks_by_id(access=caller, ids=ids)


@strawberry.type(name="DualNotice", description="A notice 通报 to a member's work unit: their absences in a row "
                 "reached the configured count.")
class DualNoticeNode(Node):
    readable = staticmethod(readable_notices)
    person_id: strawberry.ID = strawberry.field(description="The member.")
    community_id: strawberry.ID = strawberry.field(description="The member's community.")
    work_unit_id: strawberry.ID | None = strawberry.field(description="The member's work unit (its contacts were "
                                                          "told); null when not registered in civicgrid.")
    activity_id: strawberry.ID = strawberry.field(description="The activity whose absence completed the streak.")
    absent_at: datetime = strawberry.field(description="That activity's start (UTC).")
    absences: int = strawberry.field(description="Absences in a row.")
    opened_on: date = strawberry.field(description="The day it was issued (tenant-local).")
    withdrawn: bool = strawberry.field(description="Withdrawn: attendance was corrected after the close and the "
                                       "streak no longer holds.")

    @classmethod
    def of(cls, row: AbsenceCase) -> DualNoticeNode:
        return from_row(cls, row, withdrawn=row.status == TalkStatus.WITHDRAWN)


@strawberry.type(name="DualMemberYear", description="An in-service party member's 双报到 year (tenant-local "
                 "calendar year of each activity's start).")
class DualMemberYear:
    person_id: strawberry.ID = strawberry.field(description="The member.")
    name: str = strawberry.field(description="The member's name.")
    registration_id: strawberry.ID = strawberry.field(description="Their latest registration approved in the year.")
    community_id: strawberry.ID = strawberry.field(description="That registration's community.")
    work_unit_id: strawberry.ID | None = strawberry.field(description="That registration's work unit.")
    work_unit_name: str = strawberry.field(description="The unit's name as registered (a unit not in civicgrid).")
    participations: int = strawberry.field(description="Activities attended (present) in the year.")
    minutes: int = strawberry.field(description="Minutes of service counted in the year.")
    outside_minutes: int = strawberry.field(description="Of those, minutes outside working hours (8小时以外).")
    absences: int = strawberry.field(description="Activities signed up for or assigned and missed.")
    talks: int = strawberry.field(description="Talks 谈话 opened for absences in the year.")
    notices: int = strawberry.field(description="Notices 通报 sent for absences in the year.")
    below_minimum: bool = strawberry.field(description="Participations below min_participations_per_year.")

    @classmethod
    def of(cls, r: year_end.MemberYear) -> DualMemberYear:
        return cls(
            person_id=strawberry.ID(str(r.person_id)), name=r.name,
            registration_id=strawberry.ID(str(r.registration_id)), community_id=strawberry.ID(str(r.community_id)),
            work_unit_id=None if r.work_unit_id is None else strawberry.ID(str(r.work_unit_id)),
            work_unit_name=r.work_unit_name, participations=r.participations, minutes=r.minutes,
            outside_minutes=r.outside_minutes, absences=r.absences, talks=r.talks, notices=r.notices,
            below_minimum=r.below_minimum,
        )


@strawberry.type(name="DualUnitYear", description="A work unit's 双报到 year: its members' roll-up.")
class DualUnitYear:
    work_unit_id: strawberry.ID = strawberry.field(description="The work unit.")
    code: str = strawberry.field(description="The unit's code.")
    name: str = strawberry.field(description="The unit's name.")
    members: int = strawberry.field(description="Members registered (approved during any part of the year).")
    posts: int = strawberry.field(description="Posts (building heads, volunteer roles) they held during the year.")
    participations: int = strawberry.field(description="Their participations in the year.")
    below_minimum: int = strawberry.field(description="Members below min_participations_per_year.")

    @classmethod
    def of(cls, u: year_end.UnitYear) -> DualUnitYear:
        return cls(work_unit_id=strawberry.ID(str(u.work_unit_id)), code=u.code, name=u.name, members=u.members,
                   posts=u.posts, participations=u.participations, below_minimum=u.below_minimum)


@strawberry.type
class DualReportQuery:
    @strawberry.field(description="Talks 谈话 the caller's communities hold (staff), newest first.")
    async def dual_talks(
        self, info: Info, community_id: strawberry.ID | None = None,
        status: TalkState | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None,
    ) -> Connection[DualTalkNode]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")

        async def fetch(window: Window) -> Page[talk_service.Talk]:
            return await talk_service.list_talks(access=caller, window=window, community_id=cid,
                                                 status=None if status is None else status.value)

        return await connection(info, fetch, DualTalkNode.of, first=first, after=after, last=None, before=None)

    @strawberry.field(description="Notices 通报 the caller reads (a unit's contact: about its members), newest first.")
    async def dual_notices(
        self, info: Info, community_id: strawberry.ID | None = None, first: First = None, after: After = None,
    ) -> Connection[DualNoticeNode]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")

        async def fetch(window: Window) -> Page[AbsenceCase]:
            return await talk_service.list_notices(access=caller, window=window, community_id=cid)

        return await connection(info, fetch, DualNoticeNode.of, first=first, after=after, last=None, before=None)

    @strawberry.field(description="Each member's year (the members the caller reads), by person.")
    async def dual_year_end(
        self, info: Info, year: int, community_id: strawberry.ID | None = None,
        work_unit_id: strawberry.ID | None = None, below_minimum_only: bool = False,
        first: First = None, after: After = None,
    ) -> Connection[DualMemberYear]:
        caller = await info.context.access()
        cid, uid = opt_id(community_id, "communityId"), opt_id(work_unit_id, "workUnitId", "WorkUnit")

        async def fetch(window: Window) -> Page[year_end.MemberYear]:
            return await year_end.member_rows(access=caller, year=year, window=window, community_id=cid,
                                              work_unit_id=uid, below_minimum_only=below_minimum_only)

        return await connection(info, fetch, DualMemberYear.of, first=first, after=after, last=None, before=None)

    @strawberry.field(description="Each work unit's roll-up of the year, by unit. Units and figures follow the "
                      "members the caller reads (the administration: all; staff: those registered in their area; a "
                      "unit's contact: its unit's; a member: themselves), not the whole unit.")
    async def dual_unit_year_end(
        self, info: Info, year: int, first: First = None, after: After = None
    ) -> Connection[DualUnitYear]:
        caller = await info.context.access()

        async def fetch(window: Window) -> Page[year_end.UnitYear]:
            return await year_end.unit_rows(access=caller, year=year, window=window)

        return await connection(info, fetch, DualUnitYear.of, first=first, after=after, last=None, before=None)

    @strawberry.field(description="The caller's own 双报到 year; null when they were not a registered member in it.")
    async def my_dual_year(self, info: Info, year: int) -> DualMemberYear | None:
        row = await year_end.my_year(access=await info.context.access(), year=year)
        return None if row is None else DualMemberYear.of(row)


@strawberry.type
class DualReportMutation:
    @strawberry.mutation(description="Record a talk's outcome and the day it was held: the talk is done.")
    async def record_talk_outcome(self, info: Info, id: strawberry.ID, outcome: str, held_on: date) -> DualTalkNode:
        talk = await talk_service.record_outcome(
            access=await info.context.access(), actor=info.context.actor, talk_id=to_id(id, "id", "DualTalk"),
            outcome=outcome, held_on=held_on,
        )
        return DualTalkNode.of(talk)
