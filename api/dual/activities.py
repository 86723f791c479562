"""双报到 activities through GraphQL (part D): activities, sign-up and the waiting line, check-in codes,
attendance, a member's hours. Resolvers are thin: the services check who may do what."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.dual.loaders import DualLoaders
from api.ids import opt_id, to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from tenants.dual import activities as service
from tenants.dual import activity_reads as reads
from tenants.dual import checkin, signups
from tenants.dual.activity_access import readable_activities, readable_signups, shown_actor
from tenants.dual.models import Activity, ActivityStatus, Attendance, Signup, SignupStatus
from tenants.paging import Page, Window


@strawberry.enum(name="ActivityStatus", description="Where a 双报到 activity is.")
class ActivityState(Enum):
    OPEN = strawberry.enum_value(ActivityStatus.OPEN.value, description="Published: sign-up (until it starts) and "
                                 "check-in (an hour either side).")
    CLOSED = strawberry.enum_value(ActivityStatus.CLOSED.value, description="Over: places without attendance are "
                                   "absent; corrections need a reason.")
    CANCELLED = strawberry.enum_value(ActivityStatus.CANCELLED.value, description="Called off: nothing on it counts.")


@strawberry.enum(name="SignupStatus", description="A member's place on an activity.")
class SignupState(Enum):
    SIGNED = strawberry.enum_value(SignupStatus.SIGNED.value, description="Signed up: has a place.")
    WAITING = strawberry.enum_value(SignupStatus.WAITING.value, description="On the waiting line (see position).")
    ASSIGNED = strawberry.enum_value(SignupStatus.ASSIGNED.value, description="Put on it by staff: counts like "
                                     "signed.")
    CANCELLED = strawberry.enum_value(SignupStatus.CANCELLED.value, description="Left before the start: not an "
                                      "absence.")


@strawberry.enum(name="Attendance", description="Whether a member with a place took part.")
class AttendanceMark(Enum):
    PRESENT = strawberry.enum_value(Attendance.PRESENT.value, description="Took part (checked in or marked by "
                                    "staff): counts, earns points.")
    ABSENT = strawberry.enum_value(Attendance.ABSENT.value, description="Did not take part: counts for the absence "
                                   "rules.")


@strawberry.type(name="ActivityPost", description="A post an activity needs 岗位, and how many people.")
class ActivityPost:
    role: str = strawberry.field(description="The post's name (e.g. 文明劝导).")
    count: int = strawberry.field(description="How many people it needs.")


@strawberry.type(name="Activity", description="A 双报到 community activity 活动 members sign up for or are "
                 "assigned to.")
class ActivityNode(Node):
    readable = staticmethod(readable_activities)
    community_id: strawberry.ID = strawberry.field(description="The community that holds it.")
    street_id: strawberry.ID = strawberry.field(description="The community's street.")
    title: str
    kind: str = strawberry.field(description="What kind of activity (e.g. volunteer_service, cleanup).")
    place: str = strawberry.field(description="Where it takes place.")
    starts_at: datetime = strawberry.field(description="When it starts (UTC).")
    ends_at: datetime = strawberry.field(description="When it ends (UTC).")
    capacity: int = strawberry.field(description="Places; sign-ups beyond them wait in line.")
    posts_needed: list[ActivityPost] = strawberry.field(description="The posts it needs.")
    outside_working_hours: bool = strawberry.field(description="Service 8小时以外: outside the tenant's working "
                                                   "hours or on a day off.")
    status: ActivityState
    creator: strawberry.Private[str]
    created_at: datetime
    closed_at: datetime | None = strawberry.field(description="When it was closed or cancelled (UTC).")

    @strawberry.field(description="Who created it: the staff user id, read by those who run activities; anyone "
                      "else reads \"staff\".")
    async def created_by(self, info: Info) -> str:
        return shown_actor(await info.context.access(), self.creator) or ""

    @classmethod
    def of(cls, row: Activity) -> ActivityNode:
        posts = [ActivityPost(role=str(p["role"]), count=int(p["count"])) for p in row.posts_needed]
        return from_row(cls, row, posts_needed=posts, status=ActivityState(row.status.value), creator=row.created_by)


@strawberry.type(name="ActivitySignup", description="One member's place on an activity, and their attendance.")
class SignupNode(Node):
    readable = staticmethod(readable_signups)
    activity_id: strawberry.ID = strawberry.field(description="The activity.")
    person_id: strawberry.ID = strawberry.field(description="The member.")
    status: SignupState
    position: int | None = strawberry.field(description="Waiting: the place in line (1 is next).")
    post: str = strawberry.field(description="The needed post taken, if any.")
    attendance: AttendanceMark | None = strawberry.field(
        description="Present or absent; null until checked in, marked or the activity closes."
    )
    checked_in_at: datetime | None = strawberry.field(description="When they were marked present (UTC).")
    marked_by: strawberry.Private[str | None]
    minutes: int = strawberry.field(description="Service minutes counted (present: the activity's length by "
                                    "default).")
    starts_at: datetime = strawberry.field(description="The activity's start (UTC).")
    outside_working_hours: bool = strawberry.field(description="Whether the activity is 8小时以外.")
    created_at: datetime
    updated_at: datetime

    @strawberry.field(description="Who marked them present: the member's own user id (checked in with the code) or "
                      "a staff user id; only those who run activities read a staff user id, anyone else reads "
                      "\"staff\".")
    async def checked_in_by(self, info: Info) -> str | None:
        caller = await info.context.access()
        if shown_actor(caller, self.marked_by) == self.marked_by:
            return self.marked_by
        member = await DualLoaders.of(info).member_user_ids.load(int(self.person_id))
        return shown_actor(caller, self.marked_by, member_user_id=member)

    @classmethod
    def of(cls, row: Signup) -> SignupNode:
        return from_row(cls, row, status=SignupState(row.status.value), marked_by=row.checked_in_by,
                        attendance=None if row.attendance is None else AttendanceMark(row.attendance.value))


@strawberry.type(name="MyActivity", description="One of the caller's sign-ups with its activity.")
class MyActivity:
    signup: SignupNode = strawberry.field(description="The caller's place and attendance.")
    activity: ActivityNode = strawberry.field(description="The activity.")


@strawberry.type(name="ActivityCheckinCode", description="The code to show at the venue for members to check in.")
class ActivityCheckinCode:
    code: str = strawberry.field(description="The code (checkIn takes it); accepted until one window after "
                                 "expiresAt.")
    expires_at: datetime = strawberry.field(description="When a new code replaces it (UTC).")


@strawberry.type(name="MemberHours", description="A member's 双报到 participation in a tenant-local year.")
class MemberHours:
    person_id: strawberry.ID = strawberry.field(description="The member.")
    year: int = strawberry.field(description="The tenant-local calendar year.")
    count: int = strawberry.field(description="Activities attended (present, not cancelled).")
    minutes: int = strawberry.field(description="Service minutes.")
    outside_minutes: int = strawberry.field(description="Service minutes outside working hours (8小时以外).")


@strawberry.input(name="ActivityPostInput", description="A post an activity needs.")
class ActivityPostInput:
    role: str = strawberry.field(description="The post's name (at most 100 characters).")
    count: int = strawberry.field(description="How many people (1 to the capacity).")


@strawberry.input(name="ActivityInput", description="An activity's details (updateActivity: only what changes; "
                  "communityId is ignored).")
class ActivityInput:
    community_id: strawberry.ID | None = strawberry.field(default=None, description="The community that holds it.")
    title: str | None = strawberry.field(default=None, description="Its title (at most 200 characters).")
    kind: str | None = strawberry.field(default=None, description="a-z, 0-9 and _ (e.g. volunteer_service).")
    place: str | None = strawberry.field(default=None, description="Where (at most 200 characters).")
    starts_at: datetime | None = strawberry.field(default=None, description="Start, with a time zone offset.")
    ends_at: datetime | None = strawberry.field(default=None, description="End, after the start, at most 24 h later.")
    capacity: int | None = strawberry.field(default=None, description="Places, 1 to 10,000.")
    posts_needed: list[ActivityPostInput] | None = strawberry.field(default=None, description="The posts it needs.")
    outside_working_hours: bool | None = strawberry.field(
        default=None, description="8小时以外; null: computed from the tenant's working hours."
    )


def _posts(items: list[ActivityPostInput] | None) -> list[service.Post] | None:
    return None if items is None else [service.Post(role=p.role, count=p.count) for p in items]


@strawberry.type
class ActivityQuery:
    @strawberry.field(description="The activities the caller reads, by start time (a keyset connection).")
    async def activities(
        self, info: Info, community_id: strawberry.ID | None = None,
        from_: Annotated[datetime | None, strawberry.argument(
            name="from", description="Only activities starting at or after this instant.")] = None,
        to: Annotated[datetime | None, strawberry.argument(description="Only activities starting before this "
                                                          "instant.")] = None,
        status: ActivityState | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[ActivityNode]:
        caller = await info.context.access()
        cid = opt_id(community_id, "communityId")

        async def fetch(window: Window) -> Page[Activity]:
            return await reads.list_activities(access=caller, window=window, community_id=cid, since=from_,
                                                 until=to, status=None if status is None else status.value)

        return await connection(info, fetch, ActivityNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="The caller's own sign-ups with their activities, the latest start first.")
    async def my_activities(
        self, info: Info, first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[MyActivity]:
        caller = await info.context.access()

        async def fetch(window: Window) -> Page[tuple[Signup, Activity]]:
            return await reads.my_activities(access=caller, window=window)

        return await connection(info, fetch, lambda r: MyActivity(signup=SignupNode.of(r[0]),
                                                                  activity=ActivityNode.of(r[1])),
                                first=first, after=after, last=last, before=before)

    @strawberry.field(description="An activity's sign-ups and attendance (staff of its community or street).")
    async def activity_attendance(
        self, info: Info, id: strawberry.ID,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[SignupNode]:
        caller = await info.context.access()
        activity_id = to_id(id, "id", "Activity")

        async def fetch(window: Window) -> Page[Signup]:
            return await reads.attendance(access=caller, activity_id=activity_id, window=window)

        return await connection(info, fetch, SignupNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="A member's participation in a year: their own, or (staff, a unit's contact) "
                      "a member's they read.")
    async def member_hours(self, info: Info, year: int, person_id: strawberry.ID | None = None) -> MemberHours:
        h = await reads.member_hours(access=await info.context.access(), year=year,
                                       person_id=opt_id(person_id, "personId"))
        return MemberHours(person_id=strawberry.ID(str(h.person_id)), year=h.year, count=h.count, minutes=h.minutes,
                           outside_minutes=h.outside_minutes)

    @strawberry.field(description="The check-in code to show at the venue now (staff of the community or street).")
    async def activity_checkin_code(self, info: Info, id: strawberry.ID) -> ActivityCheckinCode:
        c = await checkin.current_code(access=await info.context.access(), activity_id=to_id(id, "id", "Activity"))
        return ActivityCheckinCode(code=c.code, expires_at=c.expires_at)


@strawberry.type
class ActivityMutation:
    @strawberry.mutation(description="Publish an activity of a community (staff of the community or its street).")
    async def create_activity(
        self, info: Info, input: ActivityInput, idempotency_key: str | None = None
    ) -> ActivityNode:
        row = await service.create(
            **await info.context.acting(), community_id=to_id(input.community_id, "input.communityId"),
            title=input.title or "", kind=input.kind or "", place=input.place or "", starts_at=input.starts_at,
            ends_at=input.ends_at, capacity=input.capacity, posts_needed=_posts(input.posts_needed),
            outside_hours=input.outside_working_hours, idempotency_key=idempotency_key,
        )
        return ActivityNode.of(row)

    @strawberry.mutation(description="Change an open activity before it starts; more places promote people in line.")
    async def update_activity(self, info: Info, id: strawberry.ID, input: ActivityInput) -> ActivityNode:
        row = await service.update(
            **await info.context.acting(), activity_id=to_id(id, "id", "Activity"), title=input.title,
            kind=input.kind, place=input.place, starts_at=input.starts_at, ends_at=input.ends_at,
            capacity=input.capacity, posts_needed=_posts(input.posts_needed),
            outside_hours=input.outside_working_hours,
        )
        return ActivityNode.of(row)

    @strawberry.mutation(description="Call an activity off; everyone signed, assigned or waiting is told once.")
    async def cancel_activity(self, info: Info, id: strawberry.ID, reason: str) -> ActivityNode:
        row = await service.cancel(**await info.context.acting(), activity_id=to_id(id, "id", "Activity"),
                                   reason=reason)
        return ActivityNode.of(row)

    @strawberry.mutation(description="Close an activity that has ended: places without attendance become absent.")
    async def close_activity(self, info: Info, id: strawberry.ID) -> ActivityNode:
        row = await service.close(**await info.context.acting(), activity_id=to_id(id, "id", "Activity"))
        return ActivityNode.of(row)

    @strawberry.mutation(description="Sign up for an activity: a place, or the waiting line when it is full.")
    async def join_activity(
        self, info: Info, id: strawberry.ID,
        post: Annotated[str | None, strawberry.argument(description="A post the activity needs, to take.")] = None,
    ) -> SignupNode:
        row = await signups.join(**await info.context.acting(), activity_id=to_id(id, "id", "Activity"), post=post)
        return SignupNode.of(row)

    @strawberry.mutation(description="Cancel your sign-up before the activity starts; the first in line moves up.")
    async def leave_activity(self, info: Info, id: strawberry.ID) -> SignupNode:
        row = await signups.leave(**await info.context.acting(), activity_id=to_id(id, "id", "Activity"))
        return SignupNode.of(row)

    @strawberry.mutation(description="Put a member on an activity (staff); it may exceed the capacity.")
    async def assign_to_activity(self, info: Info, id: strawberry.ID, person_id: strawberry.ID) -> SignupNode:
        row = await signups.assign(**await info.context.acting(), activity_id=to_id(id, "id", "Activity"),
                                   person_id=to_id(person_id, "personId"))
        return SignupNode.of(row)

    @strawberry.mutation(description="Check in at the venue with the code shown there.")
    async def check_in(self, info: Info, code: str, activity_id: strawberry.ID | None = None) -> SignupNode:
        row = await checkin.check_in(**await info.context.acting(), code=code,
                                     activity_id=opt_id(activity_id, "activityId", "Activity"))
        return SignupNode.of(row)

    @strawberry.mutation(description="Record or correct a member's attendance (staff); after closing, with a reason.")
    async def mark_attendance(
        self, info: Info, signup_id: strawberry.ID,
        attendance: Annotated[AttendanceMark, strawberry.argument(description="Present or absent.")],
        minutes: Annotated[int | None, strawberry.argument(
            description="Present: service minutes 0..1440 (default the activity's length).")] = None,
        reason: Annotated[str | None, strawberry.argument(
            description="Why (required once the activity is closed).")] = None,
    ) -> SignupNode:
        row = await checkin.mark(**await info.context.acting(), signup_id=to_id(signup_id, "signupId",
                                                                                 "ActivitySignup"),
                                 attendance=attendance.value, minutes=minutes, reason=reason)
        return SignupNode.of(row)
