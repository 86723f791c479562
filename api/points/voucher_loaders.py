"""Voucher DataLoaders for one request: a partner statement's lines (as far as the caller reads them), partners."""

from __future__ import annotations

from typing import Any

from strawberry.dataloader import DataLoader

from api.context import DomainLoaders, grouped
from tenants.points import statements
from tenants.points.voucher_access import own_person
from tenants.points.voucher_models import PartnerStatementLine
from tenants.territory.parties import Partner


class VoucherLoaders(DomainLoaders):
    _own: frozenset[int] | None = None

    async def own_person_ids(self) -> frozenset[int]:
        """The caller's own person records (a voucher's holder reads its code), read once per request."""
        if self._own is None:
            caller = await self.loaders.caller()
            ids: list[Any] = list(await own_person(caller).values_list("id", flat=True)) if caller.user_id else []
            self._own = frozenset(int(i) for i in ids)
        return self._own

    @property
    def lines(self) -> DataLoader[int, list[PartnerStatementLine]]:
        async def load(statement_ids: list[int]) -> list[list[PartnerStatementLine]]:
            rows = await statements.readable_lines_of(await self.loaders.caller(), statement_ids)
            return grouped(rows, "statement_id", statement_ids)

        return self.loader("lines", load)

    @property
    def partners(self) -> DataLoader[int, Partner | None]:
        async def load(partner_ids: list[int]) -> list[Partner | None]:
            found = await statements.partners_by_ids(await self.loaders.caller(), partner_ids)
            return [found.get(i) for i in partner_ids]

        return self.loader("partners", load)
