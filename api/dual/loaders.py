"""双报到 DataLoaders for one request: work units and members' names on registrations and posts, emergencies'
community names and counts, members' user ids (who checked in with the code)."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders
from tenants.dual import activity_access, emergency_reads, registrations, units
from tenants.territory.parties import WorkUnit


class DualLoaders(DomainLoaders):
    @property
    def work_units(self) -> DataLoader[int, WorkUnit | None]:
        async def load(ids: list[int]) -> list[WorkUnit | None]:
            found = await units.work_units_by_ids(access=await self.loaders.caller(), ids=ids)
            return [found.get(i) for i in ids]

        return self.loader("work_units", load)

    @property
    def member_names(self) -> DataLoader[int, str | None]:
        async def load(ids: list[int]) -> list[str | None]:
            found = await registrations.member_names(access=await self.loaders.caller(), person_ids=ids)
            return [found.get(i) for i in ids]

        return self.loader("member_names", load)

    @property
    def emergency_figures(self) -> DataLoader[int, tuple[str, int, int] | None]:
        async def load(ids: list[int]) -> list[tuple[str, int, int] | None]:
            found = await emergency_reads.emergency_figures(access=await self.loaders.caller(), ids=ids)
            return [found.get(i) for i in ids]

        return self.loader("emergency_figures", load)

    @property
    def member_user_ids(self) -> DataLoader[int, str | None]:
        async def load(ids: list[int]) -> list[str | None]:
            found = await activity_access.member_user_ids(ids)
            return [found.get(i) for i in ids]

        return self.loader("member_user_ids", load)
