"""Parse GraphQL ID arguments into database ids, with a typed error naming the argument."""

from __future__ import annotations

from collections.abc import Sequence

from tenants.errors import InvalidInput, Problem

MAX_ID = 2**63 - 1  # PostgreSQL bigint


def to_id(value: str | None, field: str) -> int:
    """A database id: 1 to 2^63 - 1 in ASCII digits, or INVALID_INPUT naming ``field``."""
    text = str(value)
    if value is None or not (text.isascii() and text.isdigit() and len(text) <= 19) or not 0 < int(text) <= MAX_ID:
        raise InvalidInput.of([Problem(field, "bad_id", f"{field} 不是有效的编号", f"{field} is not a valid id")])
    return int(text)


def opt_id(value: str | None, field: str) -> int | None:
    return None if value is None else to_id(value, field)


def to_ids(values: Sequence[str], field: str) -> list[int]:
    """A list of database ids; a bad one is INVALID_INPUT naming ``<field>.<i>``."""
    return [to_id(v, f"{field}.{i}") for i, v in enumerate(values)]
