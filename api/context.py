"""The typed GraphQL context: principal, caller and per-request DataLoaders; it knows no domain (each domain's
loaders live in ``api/<domain>/loaders.py``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from strawberry.dataloader import DataLoader
from strawberry.types import Info as _Info

from api.auth import Caller, Principal, caller_of
from tenants.settings import Settings

D = TypeVar("D", bound="DomainLoaders")


def grouped(rows: list[Any], key: str, keys: list[int]) -> list[list[Any]]:
    """Rows grouped by ``key``, in the order of ``keys`` (a DataLoader's contract), keeping row order."""
    groups: dict[int, list[Any]] = {k: [] for k in keys}
    for row in rows:
        groups[getattr(row, key)].append(row)
    return [groups[k] for k in keys]


class Loaders:
    """One set per request, so batching and caching never cross requests or tenants: the caller, resolved once,
    and one instance of each domain's loader class (``api/<domain>/loaders.py``), made on first use."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._caller: Caller | None = None
        self._domains: dict[type, Any] = {}

    async def caller(self) -> Caller:
        """The caller's roles and data scope in this tenant, resolved once per request."""
        if self._caller is None:
            self._caller = await caller_of(self.principal)
        return self._caller

    def of(self, kind: type[D]) -> D:
        """This request's instance of a domain's loader class."""
        if kind not in self._domains:
            self._domains[kind] = kind(self)
        return self._domains[kind]  # type: ignore[no-any-return]


class DomainLoaders:
    """Base of a domain's loader class: its DataLoaders are made on first use and kept for the request."""

    def __init__(self, loaders: Loaders) -> None:
        self.loaders = loaders
        self._made: dict[Hashable, DataLoader[Any, Any]] = {}

    @classmethod
    def of(cls: type[D], info: _Info[Context, None]) -> D:
        return info.context.loaders.of(cls)

    def loader(self, key: Hashable, load_fn: Callable[[list[Any]], Awaitable[list[Any]]]) -> DataLoader[Any, Any]:
        """The DataLoader kept under ``key`` for this request (``load_fn`` batches a list of keys)."""
        if key not in self._made:
            self._made[key] = DataLoader(load_fn=load_fn)
        return self._made[key]


@dataclass
class Context:
    request: Request
    response: Response
    settings: Settings
    principal: Principal
    loaders: Loaders

    async def access(self) -> Caller:
        """The caller as the domains know it (what ``readable(caller)`` and the permission checks take)."""
        return await self.loaders.caller()

    async def acting(self) -> dict[str, Any]:
        """The caller as every service that changes something takes it: ``access`` and ``actor`` (the user id)."""
        return {"access": await self.access(), "actor": self.actor}

    @property
    def actor(self) -> str:
        return self.principal.user_id

    @property
    def tenant_id(self) -> int | None:
        """The tenant this request is scoped to (None on the platform path)."""
        return self.principal.tenant_id


Info = _Info[Context, None]
