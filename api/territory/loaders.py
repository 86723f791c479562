"""Territory's DataLoaders for one request: nodes in the caller's scope, companies, units, people's posts;
property managers' ratings and contracts' manager histories."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.assessment.managers import ManagerRating, rated_managers
from tenants.errors import DomainError
from tenants.territory import managers
from tenants.territory.models import Area
from tenants.territory.parties import ContractManager, PropertyCompany, Unit
from tenants.territory.people import Post
from tenants.territory.people_service import posts_of
from tenants.territory.service import areas_by_ids, companies_by_ids, units_by_ids


class TerritoryLoaders(DomainLoaders):
    def area(self, level: str) -> DataLoader[int, Area | None]:
        """Territory nodes of one level by id, filtered to the caller's scope (out of scope reads as null)."""

        async def load(ids: list[int]) -> list[Area | None]:
            rows = await areas_by_ids(level, ids, await self.loaders.caller())
            by_id = {r.id: r for r in rows}
            return [by_id.get(i) for i in ids]

        return self.loader(("area", level), load)

    @property
    def companies(self) -> DataLoader[int, PropertyCompany | None]:
        """Property companies by id, as the caller reads them (one it does not read is null)."""

        async def load(ids: list[int]) -> list[PropertyCompany | None]:
            by_id = {c.id: c for c in await companies_by_ids(ids, await self.loaders.caller())}
            return [by_id.get(i) for i in ids]

        return self.loader("companies", load)

    @property
    def units(self) -> DataLoader[int, Unit | None]:
        """Departments and offices by id."""

        async def load(ids: list[int]) -> list[Unit | None]:
            by_id = {u.id: u for u in await units_by_ids(ids, await self.loaders.caller())}
            return [by_id.get(i) for i in ids]

        return self.loader("units", load)

    @property
    def posts(self) -> DataLoader[int, list[Post]]:
        """A person's posts (all of them, ended ones too)."""

        async def load(person_ids: list[int]) -> list[list[Post]]:
            return grouped(await posts_of(person_ids), "person_id", person_ids)

        return self.loader("posts", load)


class ManagerLoaders(DomainLoaders):
    @property
    def ratings(self) -> DataLoader[str, list[ManagerRating]]:
        """A period's managers' ratings as the caller reads them, computed once per request (rating them ranks the
        whole tenant's managers: 30 aliases of ``managerRatings`` cost one computation, not 30)."""

        async def load(period_keys: list[str]) -> list[list[ManagerRating] | BaseException]:
            caller = await self.loaders.caller()
            out: list[list[ManagerRating] | BaseException] = []
            for key in period_keys:
                try:
                    out.append(await rated_managers(access=caller, period_key=key))
                except DomainError as refused:  # this key's error, not its batch-mates'
                    out.append(refused)
            return out

        return self.loader("manager_ratings", load)

    @property
    def histories(self) -> DataLoader[int, list[ContractManager]]:
        """A contract's managers, the first named first."""

        async def load(contract_ids: list[int]) -> list[list[ContractManager]]:
            rows = await managers.histories(access=await self.loaders.caller(), contract_ids=contract_ids)
            return grouped(rows, "contract_id", contract_ids)

        return self.loader("contract_histories", load)
