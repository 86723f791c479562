"""Stored rows as GraphQL objects, and the Relay ``Node`` contract.

- ``from_row(cls, row, **given)`` fills a strawberry type from a stored row by field name: ids become ``ID``
  strings, enums the GraphQL enum of the same value, private ``*_pk`` fields the row's ``*_id``. A type's
  converter passes only what it computes (``given``); every ``of()`` is this one mapping.
- ``Node``: every object a client refetches. Its ``id`` is an opaque global id (base64 of ``Type:databaseId``,
  the encoding of strawberry's relay ``GlobalID``), ``databaseId`` is the row's own id, and ``node(id:)`` /
  ``nodes(ids:)`` refetch it through the rows the caller may read (``readable``): another tenant's object, or one
  the caller may not read, is ``null``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar

import strawberry
from strawberry import relay
from strawberry.types.base import StrawberryList, StrawberryOptional
from strawberry.types.enum import StrawberryEnumDefinition as EnumDefinition
from strawberry.types.private import is_private
from tortoise.queryset import QuerySet

from api.context import Info
from api.ids import parse_global_id
from tenants.errors import Forbidden, InvalidInput, Problem, TenantScopeMissing
from tenants.records import rows_by_id
from tenants.settings import get_settings

T = TypeVar("T")
Convert = Callable[[Any], Any]

_PLANS: dict[type, list[tuple[str, str, Convert | None]]] = {}


def _to_id(v: Any) -> Any:
    return None if v is None else strawberry.ID(str(v))


def _to_list(v: Any) -> Any:
    return None if v is None else list(v)


def _to_text(v: Any) -> Any:
    return v._value_ if isinstance(v, enum.Enum) else v  # ``_value_``: ``value`` is a slow descriptor


def _to_enum(kind: type[enum.Enum]) -> Convert:
    members = kind._value2member_map_  # a dict lookup: calling the enum class costs ten times as much

    def convert(v: Any) -> Any:
        if v is None or type(v) is kind:
            return v
        value = v._value_ if isinstance(v, enum.Enum) else v
        found = members.get(value)
        return found if found is not None else kind(value)

    return convert


def _converter(field_type: Any) -> Convert | None:
    while isinstance(field_type, StrawberryOptional):
        field_type = field_type.of_type
    if field_type is strawberry.ID:
        return _to_id
    if field_type is str:  # a stored enum shown as its value
        return _to_text
    if isinstance(field_type, EnumDefinition):
        return _to_enum(field_type.wrapped_cls)
    if isinstance(field_type, type) and issubclass(field_type, enum.Enum):
        return _to_enum(field_type)
    if isinstance(field_type, StrawberryList):
        return _to_list
    return None


def _plan(cls: type) -> list[tuple[str, str, Convert | None]]:
    """(field, row attribute, converter) for every field the constructor takes, worked out once per type."""
    plan = _PLANS.get(cls)
    if plan is None:
        graphql = {f.python_name: f for f in cls.__strawberry_definition__.fields}  # type: ignore[attr-defined]
        plan = []
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if not f.init:
                continue
            if f.name not in graphql or is_private(graphql[f.name].type):  # a NodeID or private: as the row holds it
                attr = f"{f.name[:-3]}_id" if f.name.endswith("_pk") else f.name
                plan.append((f.name, attr, None))
            else:
                plan.append((f.name, f.name, _converter(graphql[f.name].type)))
        _PLANS[cls] = plan
    return plan


def from_row(cls: type[T], row: Any, **given: Any) -> T:
    """``cls`` filled from ``row`` by field name; ``given`` supplies (or overrides) computed fields."""
    values = dict(given)
    for name, attr, convert in _plan(cls):
        if name not in values:
            value = getattr(row, attr)
            values[name] = convert(value) if convert is not None else value
    return cls(**values)


class FromRow:
    """A type filled from a stored row by field name: ``Type.of(row)`` is ``from_row(Type, row)``."""

    @classmethod
    def of(cls, row: Any) -> Any:
        return from_row(cls, row)


@strawberry.type
class Node(FromRow, relay.Node):
    """Base of every refetchable type: ``id`` is global, ``databaseId`` the row's id, and ``readable`` names the
    rows a caller may refetch (the domain's ``readable(caller)``)."""

    id: relay.NodeID[int]
    readable: ClassVar[Callable[[Any], QuerySet[Any]]]

    @strawberry.field(
        description="The row's own database id, as digits. Every ID argument accepts it as well as the global `id`; "
        "new clients should keep `id`."
    )
    def database_id(self) -> strawberry.ID:
        return strawberry.ID(str(self.id))

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[Any]:
        ids = [int(i) for i in node_ids]
        rows = await cls.fetch(await info.context.access(), ids)
        return [cls.of(rows[i]) if i in rows else None for i in ids]

    @classmethod
    async def fetch(cls, caller: Any, ids: list[int]) -> dict[int, Any]:
        """The rows among ``ids`` the caller may refetch, by id: ``readable`` (a type whose list filters further
        than its readable rows overrides this with the list's own rule)."""
        return await rows_by_id(cls.readable(caller), ids)


_NODE_TYPES: dict[str, type[Node]] = {}


def node_types() -> dict[str, type[Node]]:
    """Every concrete Node type by its GraphQL name (found once: every type exists once the schema is built)."""
    if _NODE_TYPES:
        return _NODE_TYPES
    found: dict[str, type[Node]] = {}
    todo: list[type] = [Node]
    while todo:
        kind = todo.pop()
        todo.extend(kind.__subclasses__())
        definition = getattr(kind, "__strawberry_definition__", None)
        if kind is not Node and definition is not None and not definition.is_interface and (
            hasattr(kind, "readable") or "resolve_nodes" in vars(kind)
        ):
            found[definition.name] = kind  # type: ignore[assignment]
    _NODE_TYPES.update(found)
    return _NODE_TYPES



async def _refetch(info: Info, values: Sequence[strawberry.ID], field: str) -> list[Any]:
    types = node_types()
    refs: list[tuple[str, int] | None] = []
    for i, value in enumerate(values):
        ref = parse_global_id(str(value))
        name = field if len(values) == 1 and field == "id" else f"{field}.{i}"
        if ref is None or ref[0] not in types:
            raise InvalidInput.of(
                [Problem(name, "bad_id", f"{name} 不是有效的全局编号", f"{name} is not a global id of this API")]
            )
        refs.append(ref)
    wanted: dict[str, list[int]] = {}
    for type_name, pk in refs:  # type: ignore[misc]
        wanted.setdefault(type_name, []).append(pk)
    found: dict[tuple[str, int], Any] = {}
    for type_name, pks in wanted.items():
        kind = types[type_name]
        unique = list(dict.fromkeys(pks))
        try:
            objs = await kind.resolve_nodes(info=info, node_ids=[str(p) for p in unique])
        except (Forbidden, TenantScopeMissing):  # a resource the caller may not read at all (or, on the
            # platform path, no tenant's rows): nothing of it exists for them
            objs = [None] * len(unique)
        for pk, obj in zip(unique, objs, strict=True):
            found[(type_name, pk)] = obj
    return [found.get(ref) for ref in refs]  # type: ignore[arg-type]


@strawberry.type
class NodeQuery:
    @strawberry.field(
        description="Refetch any object by its global `id`. Null when it does not exist, belongs to another tenant "
        "or is outside what you may read."
    )
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        return (await _refetch(info, [id], "id"))[0]  # type: ignore[no-any-return]

    @strawberry.field(
        description="Refetch objects by their global ids, in the order given (at most the page-size limit); null "
        "for each one you may not read."
    )
    async def nodes(self, info: Info, ids: list[strawberry.ID]) -> list[relay.Node | None]:
        limit = get_settings().max_page_size
        if len(ids) > limit:
            raise InvalidInput.of(
                [Problem("ids", "too_many", f"一次最多 {limit} 个编号", f"at most {limit} ids at once")]
            )
        return await _refetch(info, ids, "ids")
