"""The typed GraphQL context: principal, tenant and per-request DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as _Info

from api.auth import Principal
from tenants.scope import platform_transaction, scoped_transaction
from tenants.settings import Settings
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import get_tenants_by_ids
from tenants.territory.access import Access
from tenants.territory.access import resolve as resolve_access
from tenants.territory.models import Area
from tenants.territory.people import Post
from tenants.territory.people_service import posts_of
from tenants.territory.service import areas_by_ids
from tenants.tickets.models import TicketEvent
from tenants.tickets.service import events_of


def grouped(rows: list[Any], key: str, keys: list[int]) -> list[list[Any]]:
    """Rows grouped by ``key``, in the order of ``keys`` (a DataLoader's contract), keeping row order."""
    groups: dict[int, list[Any]] = {k: [] for k in keys}
    for row in rows:
        groups[getattr(row, key)].append(row)
    return [groups[k] for k in keys]


@dataclass
class Loaders:
    """One set per request, so batching and caching never cross requests or tenants."""

    principal: Principal
    tenant: DataLoader[int, Tenant | None] = field(init=False)
    _access: Access | None = field(default=None, init=False)
    _areas: dict[str, DataLoader[int, Area | None]] = field(default_factory=dict, init=False)
    _posts: DataLoader[int, list[Post]] | None = field(default=None, init=False)
    _ticket_events: DataLoader[int, list[TicketEvent]] | None = field(default=None, init=False)
    _named: dict[str, DataLoader[Any, Any]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        self.tenant = DataLoader(load_fn=self._load_tenants)

    async def access(self) -> Access:
        """The caller's data scope in this tenant, resolved once per request."""
        if self._access is None:
            self._access = await resolve_access(self.principal.roles, self.principal.scope, self.principal.user_id)
        return self._access

    @property
    def ticket_events(self) -> DataLoader[int, list[TicketEvent]]:
        """A ticket's timeline, batched per request."""
        if self._ticket_events is None:

            async def load(ticket_ids: list[int]) -> list[list[TicketEvent]]:
                return grouped(await events_of(ticket_ids), "ticket_id", ticket_ids)

            self._ticket_events = DataLoader(load_fn=load)
        return self._ticket_events

    @property
    def posts(self) -> DataLoader[int, list[Post]]:
        """A person's posts (all of them, ended ones too), batched per request."""
        if self._posts is None:

            async def load(person_ids: list[int]) -> list[list[Post]]:
                return grouped(await posts_of(person_ids), "person_id", person_ids)

            self._posts = DataLoader(load_fn=load)
        return self._posts

    def area(self, level: str) -> DataLoader[int, Area | None]:
        """Territory nodes of one level by id, filtered to the caller's scope (out of scope reads as null)."""
        if level not in self._areas:

            async def load(ids: list[int]) -> list[Area | None]:
                rows = await areas_by_ids(level, ids, await self.access())
                by_id = {r.id: r for r in rows}
                return [by_id.get(i) for i in ids]

            self._areas[level] = DataLoader(load_fn=load)
        return self._areas[level]

    def named(self, name: str, load_fn: Callable[[list[Any]], Awaitable[list[Any]]]) -> DataLoader[Any, Any]:
        """A domain's own DataLoader, made on first use and kept for this request under ``name``."""
        if name not in self._named:
            self._named[name] = DataLoader(load_fn=load_fn)
        return self._named[name]

    async def _load_tenants(self, ids: list[int]) -> list[Tenant | None]:
        if self.principal.tenant_id is None:
            async with platform_transaction():
                rows = await get_tenants_by_ids(ids)
        else:
            async with scoped_transaction():
                rows = await get_tenants_by_ids(ids)
        by_id = {t.id: t for t in rows}
        return [by_id.get(i) for i in ids]


@dataclass
class Context:
    request: Request
    response: Response
    settings: Settings
    principal: Principal
    loaders: Loaders

    async def access(self) -> Access:
        return await self.loaders.access()

    @property
    def actor(self) -> str:
        return self.principal.user_id

    @property
    def tenant_id(self) -> int | None:
        """The tenant this request is scoped to (None on the platform path)."""
        return self.principal.tenant_id


Info = _Info[Context, None]
