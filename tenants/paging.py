"""Keyset paging for services: a ``Window`` (after and/or before a row's key, read forward or backward) over a list's
``Order``, answered as a ``Page`` (the rows in the list's order, their keys, and a lazy count). Never OFFSET."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from typing import Any, Generic, TypeVar

from tortoise import connections
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from tenants.errors import InvalidInput, Problem, unstorable

R = TypeVar("R")
S = TypeVar("S")
Key = tuple[Any, ...]

BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Order:
    """A keyset ordering: columns (together unique), each ascending, or descending when named with a leading '-',
    and the Python type of each (int, str or datetime)."""

    columns: tuple[str, ...]
    types: tuple[type, ...]

    def key(self, row: Any) -> Key:
        return tuple(getattr(row, c.lstrip("-")) for c in self.columns)


BY_ID = Order(("id",), (int,))


def where(qs: QuerySet[Any], **filters: Any) -> QuerySet[Any]:
    """``qs`` narrowed by the filters a list's caller gave (a None filter is not given): ``where(qs, status=s,
    community_id=c)``."""
    given = {k: v for k, v in filters.items() if v is not None}
    return qs.filter(**given) if given else qs


def newest(time_field: str) -> Order:
    """Newest first by ``time_field``, then by id (descending)."""
    return Order((f"-{time_field}", "-id"), (datetime, int))


@dataclass(frozen=True)
class Window:
    """Which rows of a list to read. Forward: the first ``limit`` rows after ``after``. Backward: the last ``limit``
    rows before ``before``. Either bound may be given in either direction (a range); each is a row's key in the
    list's ``Order``. The rows always come back in the list's order."""

    limit: int
    after: Key | None = None
    before: Key | None = None
    backward: bool = False


@dataclass(frozen=True)
class Page(Generic[R]):
    """One window of a list: its rows in the list's order, each row's key (for cursors), and ``count``, which
    counts the whole filtered list when awaited (None where a count would scan a large table)."""

    rows: list[R]
    keys: list[Key] = field(default_factory=list)
    count: Callable[[], Awaitable[int]] | None = None

    def with_rows(self, rows: list[S]) -> Page[S]:
        """The same window with each row replaced (same order, same length)."""
        assert len(rows) == len(self.rows)
        return Page(rows, self.keys, self.count)


def _bad_cursor(name: str) -> InvalidInput:
    return InvalidInput.of([Problem(name, "bad_cursor", "分页游标无效", "the pagination cursor is not valid")])


def _valid(value: Any, kind: type) -> bool:
    """Whether ``value`` is something the ordering's column (of ``kind``) could hold."""
    if kind is datetime:
        return isinstance(value, datetime) and value.tzinfo is not None and 1900 <= value.year <= 2999
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool) and -BIGINT <= value <= BIGINT
    return isinstance(value, str) and len(value) <= 200 and unstorable(value) is None


def checked(key: Key | None, types: tuple[type, ...], name: str) -> Key | None:
    """``key`` if its values are of ``types`` (an ordering's), else INVALID_INPUT on the argument ``name``."""
    if key is None:
        return None
    if len(key) != len(types) or not all(_valid(v, k) for v, k in zip(key, types, strict=True)):
        raise _bad_cursor(name)
    return key


def _beyond(order: Order, key: Key, *, later: bool) -> Q:
    """Rows after (``later``) or before ``key`` in ``order``: a lexicographic comparison over the columns."""
    terms = []
    for i, column in enumerate(order.columns):
        name = column.lstrip("-")
        ascending = not column.startswith("-")
        op = "gt" if ascending == later else "lt"
        equal = {c.lstrip("-"): v for c, v in zip(order.columns[:i], key[:i], strict=True)}
        terms.append(Q(**equal, **{f"{name}__{op}": key[i]}))
    return reduce(lambda a, b: a | b, terms)


def _windowed(qs: QuerySet[Any], order: Order, window: Window) -> QuerySet[Any]:
    """``qs`` past the window's cursors, in the order the window reads it (reversed backward), limited."""
    after = checked(window.after, order.types, "after")
    before = checked(window.before, order.types, "before")
    if after is not None:
        qs = qs.filter(_beyond(order, after, later=True))
    if before is not None:
        qs = qs.filter(_beyond(order, before, later=False))
    columns = order.columns
    if window.backward:
        columns = tuple(c[1:] if c.startswith("-") else f"-{c}" for c in columns)
    return qs.order_by(*columns).limit(window.limit)


async def page(qs: QuerySet[Any], order: Order, window: Window, *, countable: bool = True) -> Page[Any]:
    """One window of ``qs`` (filtered, unordered) in ``order``. ``countable=False`` where counting the filtered
    list would scan a large table for a large tenant (its ``count`` is then None)."""
    whole, qs = qs, _windowed(qs, order, window)
    rows = list(await qs)
    if window.backward:
        rows.reverse()

    async def count() -> int:
        return await whole.count()

    return Page(rows, [order.key(r) for r in rows], count if countable else None)


async def by_id(qs: QuerySet[Any], window: Window, *, countable: bool = True) -> Page[Any]:
    """A window of ``qs`` by id ascending."""
    return await page(qs, BY_ID, window, countable=countable)


async def newest_first(qs: QuerySet[Any], window: Window, *, time_field: str, countable: bool = True) -> Page[Any]:
    """A window of ``qs`` newest first by ``(time_field, id)``."""
    return await page(qs, newest(time_field), window, countable=countable)


@dataclass(frozen=True)
class Link:
    """Rows of ``model`` read with a page, in the same statement, matching each page row by ``on`` (SQL over ``x``,
    the linked row, and ``p``, the page row): one row (``many=False``) or all of them in ``order`` (SQL over
    ``x``). ``readable`` (the caller's rows of that table) filters them by id; without it the linked rows are the
    page row's own children (its timeline, its files), read by whoever reads the page row."""

    model: Any
    on: str
    readable: QuerySet[Any] | None = None
    many: bool = False
    order: str = "x.id"


def _sql(qs: Any, offset: int) -> tuple[str, list[Any]]:
    """``qs``'s parameterised SQL with its placeholders renumbered after ``offset`` earlier parameters."""
    qs._choose_db_if_not_chosen()
    qs._make_query()
    sql, params = qs.query.get_parameterized_sql()
    return re.sub(r"\$(\d+)", lambda m: f"${int(m[1]) + offset}", sql), list(params)


def _ids(readable: QuerySet[Any] | None, offset: int) -> tuple[str, list[Any]]:
    """The SQL of ``readable``'s ids (numbered after ``offset`` parameters), or '' when it reads every row of the
    tenant (row-level security keeps the tenant's rows: no filter needed, no scan of the whole table)."""
    if readable is None:
        return "", []
    ids, params = _sql(readable.values_list("id", flat=True), offset)
    every, _ = _sql(readable.model.all().values_list("id", flat=True), offset)
    return ("", []) if ids == every else (ids, params)


async def rows_by_ids(wanted: dict[str, tuple[QuerySet[Any], list[int]]]) -> dict[str, dict[int, Any]]:
    """Rows of several tables by id in one statement: for each name, the rows of its ``readable`` among its ids."""
    params: list[Any] = []
    selects = []
    for name, (readable, row_ids) in wanted.items():
        params.append(sorted(set(row_ids)))
        where = f"x.id = ANY(${len(params)}::bigint[])"
        ids, more = _ids(readable, len(params))
        if ids:
            params += more
            where = f"{where} AND x.id IN ({ids})"
        selects.append(f'ARRAY(SELECT x FROM "{readable.model._meta.db_table}" x WHERE {where}) AS "{name}"')
    if not selects:
        return {}
    records = await connections.get("default").execute_query("SELECT " + ", ".join(selects), params)
    row = records[1][0]
    found: dict[str, dict[int, Any]] = {}
    for name, (readable, _) in wanted.items():
        found[name] = {r["id"]: _model_of(readable.model, r) for r in row[name] or []}
    return found


def _model_of(model: Any, record: Any) -> Any:
    return model._init_from_db(**dict(record.items()))


async def page_with(
    qs: QuerySet[Any], order: Order, window: Window, links: dict[str, Link], *, countable: bool = True
) -> Page[tuple[Any, dict[str, Any]]]:
    """``page(qs, order, window)`` with each row's ``links`` in one statement: each row comes back as
    ``(row, {name: linked row or None, or linked rows in order})``. The linked rows are the table's own row type,
    filtered by each link's ``readable`` (its ids), under the same row-level security."""
    whole = qs
    base, params = _sql(_windowed(qs, order, window), 0)
    selects = []
    for name, link in links.items():
        table = link.model._meta.db_table
        where = link.on
        ids, more = _ids(link.readable, len(params))
        if ids:
            params += more
            where = f"{where} AND x.id IN ({ids})"
        if link.many:
            selects.append(f'ARRAY(SELECT x FROM "{table}" x WHERE {where} ORDER BY {link.order}) AS "_{name}"')
        else:
            selects.append(f'(SELECT x FROM "{table}" x WHERE {where} LIMIT 1) AS "_{name}"')
    outer = ", ".join(f'p."{c.lstrip("-")}" {"DESC" if c.startswith("-") else "ASC"}' for c in order.columns)
    sql = f"WITH p AS ({base}) SELECT p.*{''.join(', ' + s for s in selects)} FROM p ORDER BY {outer}"
    records = await connections.get("default").execute_query(sql, params)
    model = qs.model
    rows = []
    for r in records[1]:
        values = dict(r.items())
        linked: dict[str, Any] = {}
        for name, link in links.items():
            got = values.pop(f"_{name}")
            kind = link.model
            if link.many:
                linked[name] = [_model_of(kind, x) for x in got or []]
            else:
                linked[name] = None if got is None else _model_of(kind, got)
        rows.append((model._init_from_db(**values), linked))

    async def count() -> int:
        return await whole.count()

    return Page(rows, [order.key(r[0]) for r in rows], count if countable else None)
