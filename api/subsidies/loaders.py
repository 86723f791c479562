"""以奖代补 DataLoaders for one request: a statement's lines the caller reads, payee companies."""

from __future__ import annotations

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.subsidies import reads
from tenants.subsidies.models import SettlementLine
from tenants.territory.parties import PropertyCompany


class SubsidyLoaders(DomainLoaders):
    @property
    def lines(self) -> DataLoader[int, list[SettlementLine]]:
        """A statement's lines, as far as the caller reads them (a property company: its own)."""

        async def load(statement_ids: list[int]) -> list[list[SettlementLine]]:
            rows = await reads.lines_of(await self.loaders.caller(), statement_ids)
            return grouped(rows, "statement_id", statement_ids)

        return self.loader("lines", load)

    @property
    def companies(self) -> DataLoader[int, PropertyCompany | None]:
        """Payee companies by id."""

        async def load(company_ids: list[int]) -> list[PropertyCompany | None]:
            return await reads.companies_by_ids(await self.loaders.caller(), company_ids)

        return self.loader("companies", load)
