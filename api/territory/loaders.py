"""Territory's DataLoaders for one request: nodes in the caller's scope, people's posts."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.territory.models import Area
from tenants.territory.people import Post
from tenants.territory.people_service import posts_of
from tenants.territory.service import areas_by_ids


class TerritoryLoaders(DomainLoaders):
    def area(self, level: str) -> DataLoader[int, Area | None]:
        """Territory nodes of one level by id, filtered to the caller's scope (out of scope reads as null)."""

        async def load(ids: list[int]) -> list[Area | None]:
            rows = await areas_by_ids(level, ids, await self.loaders.caller())
            by_id = {r.id: r for r in rows}
            return [by_id.get(i) for i in ids]

        return self.loader(("area", level), load)

    @property
    def posts(self) -> DataLoader[int, list[Post]]:
        """A person's posts (all of them, ended ones too)."""

        async def load(person_ids: list[int]) -> list[list[Post]]:
            return grouped(await posts_of(person_ids), "person_id", person_ids)

        return self.loader("posts", load)
