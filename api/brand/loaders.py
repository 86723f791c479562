"""Brand projects' DataLoaders for one request: a project's steps, a year's standing."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.brand import reads
from tenants.brand.models import BrandProjectStep


class BrandLoaders(DomainLoaders):
    @property
    def steps(self) -> DataLoader[int, list[BrandProjectStep]]:
        """A project's recorded steps."""

        async def load(project_ids: list[int]) -> list[list[BrandProjectStep]]:
            return grouped(await reads.steps_of(project_ids), "project_id", project_ids)

        return self.loader("steps", load)

    @property
    def years(self) -> DataLoader[int, reads.YearSummary]:
        """A year's cap, awarded, paid and remaining."""

        async def load(years: list[int]) -> list[reads.YearSummary]:
            return [await reads.standing(year) for year in years]  # a handful of queries per distinct year

        return self.loader("years", load)
