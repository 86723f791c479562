"""Parse GraphQL ID arguments into database ids, with a typed error naming the argument."""

from __future__ import annotations

from tenants.errors import InvalidInput, Problem


def to_id(value: str | None, field: str) -> int:
    try:
        parsed = int(str(value))
        if parsed <= 0:
            raise ValueError
        return parsed
    except (TypeError, ValueError) as exc:
        raise InvalidInput.of(
            [Problem(field, "bad_id", f"{field} 不是有效的编号", f"{field} is not a valid id")]
        ) from exc


def opt_id(value: str | None, field: str) -> int | None:
    return None if value is None else to_id(value, field)
