"""Joint-meeting DataLoaders for one request: a meeting's attendance and agenda, by meeting id (through the
meetings the caller reads); a decision's timeline, by decision id (through the decisions the caller reads)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders
from tenants.meetings import decisions, meetings
from tenants.meetings.models import AgendaItem, DecisionEvent, MeetingAttendance


class MeetingLoaders(DomainLoaders):
    @property
    def attendance(self) -> DataLoader[int, list[MeetingAttendance]]:
        async def load(ids: list[int]) -> list[list[MeetingAttendance]]:
            found = await meetings.attendance_of(access=await self.loaders.caller(), meeting_ids=ids)
            return [found.get(i, []) for i in ids]

        return self.loader("meeting_attendance", load)

    @property
    def agenda(self) -> DataLoader[int, list[AgendaItem]]:
        async def load(ids: list[int]) -> list[list[AgendaItem]]:
            found = await meetings.agenda_of(access=await self.loaders.caller(), meeting_ids=ids)
            return [found.get(i, []) for i in ids]

        return self.loader("meeting_agenda", load)

    @property
    def timeline(self) -> DataLoader[int, list[DecisionEvent]]:
        async def load(ids: list[int]) -> list[list[DecisionEvent]]:
            found = await decisions.timelines_of(access=await self.loaders.caller(), decision_ids=ids)
            return [found.get(i, []) for i in ids]

        return self.loader("meeting_decision_timeline", load)
