"""One check of every GraphQL argument at the edge, before any resolver or the database sees it.

Strings (also inside input objects, lists, variables and JSON values) must be storable by PostgreSQL (no NUL, no
lone surrogate) and of bounded length; ids fit a ``bigint``; decimals are finite; dates lie in the years the
calendar, the time-zone shift and the database handle. Every problem of a field is listed at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from graphql import (
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLResolveInfo,
    GraphQLScalarType,
)
from strawberry.extensions import SchemaExtension

from tenants.errors import InvalidInput, Problem, unstorable

# Free text (a note, a description, a JSON value) is at most this long; each domain caps its own fields tighter.
MAX_TEXT = 10_000
# Arguments and input fields whose column or format has a length of its own (GraphQL names).
CAPS = {
    "period": 8,  # 2026-10, 2026Q4, 2026
    "fromMonth": 7,
    "toMonth": 7,
    "userId": 128,
    "actor": 128,
    "targetType": 64,
    "targetId": 64,
    "account": 96,
    "kind": 64,
    "slug": 63,
    "search": 200,
    "after": 1_000,  # a cursor
    "before": 1_000,
    "content": 16 * 1024 * 1024,  # an imported file (CSV text or base64 XLSX)
    "minutes": 20_000,  # a joint meeting's minutes (tenants/meetings/meetings.py MINUTES_LIMIT)
}
MAX_ID = 2**63 - 1  # PostgreSQL bigint
FIRST_YEAR, LAST_YEAR = 1900, 2999  # as periods (tenants.periods)


def string_problems(field: str, value: str, cap: int) -> list[Problem]:
    """What is wrong with one string argument: characters PostgreSQL refuses, or a length over ``cap``."""
    problems = []
    if (reason := unstorable(value)) is not None:
        problems.append(
            Problem(field, reason, f"{field} 含有无法保存的字符（NUL 或孤立代理项）",
                    f"{field} contains a character that cannot be stored (NUL or a lone surrogate)")
        )
    if len(value) > cap:
        problems.append(
            Problem(field, "too_long", f"{field} 不能超过 {cap} 个字符", f"{field} must be at most {cap} characters")
        )
    return problems


def _scalar(field: str, leaf: str, value: Any, scalar: GraphQLScalarType) -> Iterator[Problem]:
    if isinstance(value, str):
        yield from string_problems(field, value, CAPS.get(leaf, MAX_TEXT))
        if scalar.name == "ID" and value.isascii() and value.isdigit() and int(value) > MAX_ID:
            yield Problem(field, "bad_id", f"{field} 不是有效的编号", f"{field} is not a valid id")
    elif isinstance(value, int) and leaf == "year" and not FIRST_YEAR <= value <= LAST_YEAR:
        yield Problem(
            field, "out_of_range", f"{field} 须在 {FIRST_YEAR} 到 {LAST_YEAR} 年之间",
            f"{field} must lie in the years {FIRST_YEAR} to {LAST_YEAR}",
        )
    elif isinstance(value, Decimal) and not value.is_finite():
        yield Problem(field, "not_finite", f"{field} 须为有限的数", f"{field} must be a finite number")
    elif isinstance(value, date) and not FIRST_YEAR <= value.year <= LAST_YEAR:
        kind = "时间" if isinstance(value, datetime) else "日期"
        yield Problem(
            field, "out_of_range", f"{field} 的{kind}须在 {FIRST_YEAR} 到 {LAST_YEAR} 年之间",
            f"{field} must lie in the years {FIRST_YEAR} to {LAST_YEAR}",
        )
    elif isinstance(value, dict | list):  # a JSON value
        yield from _json(field, value)


def _json(field: str, value: Any) -> Iterator[Problem]:
    """Strings anywhere in a JSON value (keys too), each located by its path inside the value."""
    stack: list[tuple[str, Any]] = [(field, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, dict):
            for key, inner in reversed(item.items()):
                name = str(key)
                if unstorable(name) is not None:  # named in the path by its escapes: the answer must be storable too
                    name = name.encode("unicode_escape").decode("ascii")
                where = f"{path}.{name}"
                yield from string_problems(where, str(key), MAX_TEXT)
                stack.append((where, inner))
        elif isinstance(item, list):
            stack.extend((f"{path}.{i}", inner) for i, inner in reversed(list(enumerate(item))))
        elif isinstance(item, str):
            yield from string_problems(path, item, MAX_TEXT)


def problems_of(value: Any, type_: GraphQLInputType, field: str, leaf: str) -> Iterator[Problem]:
    """Every problem of one argument value (already coerced by GraphQL) of ``type_``, located by ``field``."""
    if value is None:
        return
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            yield from problems_of(item, type_.of_type, f"{field}.{i}", leaf)
    elif isinstance(type_, GraphQLInputObjectType):
        for name, spec in type_.fields.items():
            key = spec.out_name or name
            if isinstance(value, dict) and key in value:
                # The fields of the mutation's ``input`` are named by themselves, as the domain names them.
                path = name if field == "input" else f"{field}.{name}"
                yield from problems_of(value[key], spec.type, path, name)
    elif isinstance(type_, GraphQLScalarType):
        yield from _scalar(field, leaf, value, type_)


class GuardArguments(SchemaExtension):
    """Refuses a field whose arguments PostgreSQL, the calendar or a ``bigint`` could not take (INVALID_INPUT)."""

    def resolve(self, _next, root, info: GraphQLResolveInfo, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def]
        if kwargs:
            spec = info.parent_type.fields[info.field_name].args
            problems = [
                p
                for name, arg in spec.items()
                if (key := arg.out_name or name) in kwargs
                for p in problems_of(kwargs[key], arg.type, name, name)
            ]
            if problems:
                raise InvalidInput.of(problems)
        return _next(root, info, *args, **kwargs)
