"""Keyset (Relay-style cursor) pagination: opaque cursors over the ordering key, capped page sizes."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Generic, TypeVar

import strawberry

from tenants.errors import InvalidInput, Problem, unstorable
from tenants.settings import get_settings

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_PAGE_SIZE = 20


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]


def _encode_value(v: Any) -> Any:
    return {"dt": v.isoformat()} if isinstance(v, datetime) else v


def encode_cursor(key: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


BIGINT = 2**63 - 1


def _typed(value: Any, kind: type) -> Any:
    """A cursor value as the ordering key's column holds it; ValueError for anything the column could not take."""
    if kind is datetime:
        if not isinstance(value, dict) or set(value) != {"dt"} or not isinstance(value["dt"], str):
            raise ValueError
        at = datetime.fromisoformat(value["dt"])
        if at.tzinfo is None or not 1900 <= at.year <= 2999:
            raise ValueError
        return at
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int) or not -BIGINT <= value <= BIGINT:
            raise ValueError
        return value
    if not isinstance(value, str) or len(value) > 200 or unstorable(value):
        raise ValueError
    return value


def decode_cursor(cursor: str, types: tuple[type, ...]) -> tuple[Any, ...]:
    """The ordering key in ``cursor``, of the given column ``types`` (int, str or datetime), or INVALID_INPUT."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != len(types):
            raise ValueError
        return tuple(_typed(v, kind) for v, kind in zip(values, types, strict=True))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise InvalidInput.of(
            [Problem("after", "bad_cursor", "分页游标无效", "the pagination cursor is not valid")]
        ) from exc


def page_size(first: int | None) -> int:
    limit = get_settings().max_page_size
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 1 or size > limit:
        raise InvalidInput.of(
            [
                Problem(
                    "first",
                    "out_of_range",
                    f"每页条数须在 1 到 {limit} 之间",
                    f"first must be between 1 and {limit}",
                )
            ]
        )
    return size


async def paginate(
    *,
    first: int | None,
    after: str | None,
    key: Callable[[Row], tuple[Any, ...]],
    types: tuple[type, ...],
    fetch: Callable[[tuple[Any, ...] | None, int], Awaitable[list[Row]]],
    to_node: Callable[[Row], T],
) -> Connection[T]:
    """Fetch one page after ``after``: ``fetch(after_key, limit)`` must order by ``key`` (whose values are of
    ``types``) and honour the limit."""
    size = page_size(first)
    after_key = decode_cursor(after, types) if after else None
    rows = await fetch(after_key, size + 1)
    has_next = len(rows) > size
    rows = rows[:size]
    edges = [Edge(cursor=encode_cursor(key(r)), node=to_node(r)) for r in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=has_next,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=after_key is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
    )
