"""Relay cursor connections over the services' keyset windows (``tenants.paging``): ``first``/``after`` forward,
``last``/``before`` backward, opaque cursors bound to their list, capped page sizes, a lazy ``totalCount``."""

from __future__ import annotations

import base64
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from tenants.errors import InvalidInput, Problem
from tenants.paging import Key, Page, Window, checked
from tenants.settings import get_settings

T = TypeVar("T")
Row = TypeVar("Row")

DEFAULT_PAGE_SIZE = 20

# Lists whose totalCount is null: counting them would scan a large table for a large tenant.
UNCOUNTED = ("tickets, persons, areas of level HOUSEHOLD, auditLog, notifications, webhookDeliveries, ledgerEntries, "
             "dualYearEnd, dualUnitYearEnd")

First = Annotated[
    int | None, strawberry.argument(description="Page forward: at most this many rows (default 20, capped).")
]
After = Annotated[
    str | None, strawberry.argument(description="A cursor of this list (e.g. endCursor): rows after it.")
]
Last = Annotated[
    int | None,
    strawberry.argument(description="Page backward: the last this many rows (before `before`, if given); not with "
                        "`first`."),
]
Before = Annotated[
    str | None, strawberry.argument(description="A cursor of this list (e.g. startCursor): rows before it.")
]


@strawberry.type(description="Where a page sits in its list, and the cursors to page on from it.")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Paging forward (`first`): whether more rows follow this page. Paging backward (`last`): "
        "true when the page was asked for `before` a cursor."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor of this page's last edge (pass it as `after`); null on an empty page."
    )
    has_previous_page: bool = strawberry.field(
        default=False,
        description="Paging backward (`last`): whether more rows come before this page. Paging forward (`first`): "
        "true when the page was asked for `after` a cursor.",
    )
    start_cursor: str | None = strawberry.field(
        default=None, description="The cursor of this page's first edge (pass it as `before`); null on an empty page."
    )


@strawberry.type
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Opaque, and valid only for this list: pass it as `after` or `before`.")
    node: T


@strawberry.type
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    count: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(description="The nodes of this page, without cursors.")
    def nodes(self) -> list[T]:
        return [e.node for e in self.edges]

    @strawberry.field(
        description="How many rows the whole list has with these arguments' filters (every page, not this one); "
        f"counted only when asked. Null on the lists where a count would scan a large table: {UNCOUNTED}."
    )
    async def total_count(self) -> int | None:
        return None if self.count is None else await self.count()


# Lists read their nodes' links with the page (one statement: ``tenants.paging.page_with``) when this is true;
# False forces the general path (each link through its resolver and DataLoader), which tests compare it with.
PRELOAD = True


def expand(selections: Sequence[Any]) -> list[Any]:
    """The fields of a selection set, fragments expanded."""
    found = []
    for s in selections:
        if isinstance(s, SelectedField):
            found.append(s)
        else:  # an inline fragment or a fragment spread
            found.extend(expand(s.selections))
    return found


def node_fields(info: Info) -> dict[str, list[Any]]:
    """The fields the client selected on a connection's nodes (under ``edges { node }`` and ``nodes``), by name,
    each with every selection of it; empty when ``PRELOAD`` is off."""
    if not PRELOAD:
        return {}
    wanted: dict[str, list[Any]] = {}
    for top in info.selected_fields:
        for part in expand(top.selections):
            nodes = [part] if part.name == "nodes" else [
                n for e in expand(part.selections) if part.name == "edges" for n in [e] if e.name == "node"
            ]
            for node in nodes:
                for f in expand(node.selections):
                    wanted.setdefault(f.name, []).append(f)
    return wanted


def _encode_value(v: Any) -> Any:
    return {"dt": v.isoformat()} if isinstance(v, datetime) else v


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict):
        if set(v) != {"dt"} or not isinstance(v["dt"], str):
            raise ValueError
        return datetime.fromisoformat(v["dt"])
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValueError
    return v


def encode_cursor(key: Sequence[Any], tag: str | None = None) -> str:
    """An opaque cursor for a row's ordering ``key``; ``tag`` names the list it belongs to."""
    values = [_encode_value(v) for v in key]
    raw = json.dumps(values if tag is None else [tag, values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(
    cursor: str, types: tuple[type, ...] | None = None, *, tag: str | None = None, name: str = "after"
) -> Key:
    """The ordering key in ``cursor`` (of the list ``tag``; of column ``types`` when given, else checked by the
    service's ordering), or INVALID_INPUT on the argument ``name``."""
    bad = InvalidInput.of([Problem(name, "bad_cursor", "分页游标无效", "the pagination cursor is not valid")])
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if tag is not None:
            if not isinstance(payload, list) or len(payload) != 2 or payload[0] != tag:
                raise ValueError
            payload = payload[1]
        if not isinstance(payload, list):
            raise ValueError
        key = tuple(_decode_value(v) for v in payload)
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise bad from exc
    if types is not None:
        checked(key, types, name)
    return key


def page_size(first: int | None, name: str = "first") -> int:
    limit = get_settings().max_page_size
    size = DEFAULT_PAGE_SIZE if first is None else first
    if size < 1 or size > limit:
        raise InvalidInput.of(
            [Problem(name, "out_of_range", f"每页条数须在 1 到 {limit} 之间", f"{name} must be between 1 and {limit}")]
        )
    return size


async def connection(
    info: Info,
    fetch: Callable[[Window], Awaitable[Page[Row]]],
    to_node: Callable[[Row], T],
    *,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[T]:
    """A connection field's page: ``fetch(window)`` is the list service (rows in the list's order, with keys)."""
    if first is not None and last is not None:
        raise InvalidInput.of(
            [Problem("last", "exclusive", "first 与 last 不能同时使用", "first and last cannot be used together")]
        )
    backward = last is not None
    size = page_size(last, "last") if backward else page_size(first)
    tag = f"{info.path.typename}.{info.field_name}"
    window = Window(
        limit=size + 1,  # one more than asked: whether more rows lie in the direction of travel
        after=decode_cursor(after, tag=tag, name="after") if after is not None else None,
        before=decode_cursor(before, tag=tag, name="before") if before is not None else None,
        backward=backward,
    )
    got = await fetch(window)
    rows, keys = got.rows, got.keys
    more = len(rows) > size
    if more:
        rows, keys = (rows[-size:], keys[-size:]) if backward else (rows[:size], keys[:size])
    edges = [Edge(cursor=encode_cursor(k, tag), node=to_node(r)) for r, k in zip(rows, keys, strict=True)]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=before is not None if backward else more,
            end_cursor=edges[-1].cursor if edges else None,
            has_previous_page=more if backward else after is not None,
            start_cursor=edges[0].cursor if edges else None,
        ),
        count=got.count,
    )
