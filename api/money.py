"""Money in GraphQL: the ``Fen`` scalar, an integer number of fen (分) up to 2^53 - 1 in size.

GraphQL's ``Int`` is 32-bit (at most 21,474,836.47 CNY), too small for a year's fund or a tenant's totals; ``Fen``
travels as a JSON integer that every client reads exactly, and refuses fractions, strings and floats.
"""

from __future__ import annotations

from typing import Any, NewType

import strawberry
from graphql import GraphQLError, IntValueNode, ValueNode

LIMIT = 2**53 - 1


def _check(value: Any) -> int:
    """An amount on its way out; anything else is a bug of ours."""
    if isinstance(value, bool) or not isinstance(value, int) or not -LIMIT <= value <= LIMIT:
        raise ValueError(f"Fen is a whole number of fen (分) within ±{LIMIT}, got {value!r}")
    return value


def _parse(value: Any) -> int:
    """An amount from a client: a typed GraphQL error (like a bad Int), never an internal one."""
    if isinstance(value, bool) or not isinstance(value, int) or not -LIMIT <= value <= LIMIT:
        raise GraphQLError(f"金额须为整数分，绝对值不超过 {LIMIT} / Fen is a whole number of fen within ±{LIMIT}")
    return value


def _literal(node: ValueNode, _variables: Any = None) -> int:
    if not isinstance(node, IntValueNode):
        raise GraphQLError("金额须为整数分 / Fen is a whole number of fen (分)")
    return _parse(int(node.value))


Fen = NewType("Fen", int)

# Named to the schema through ``StrawberryConfig(scalar_map=SCALARS)`` (api/schema.py).
SCALARS = {
    Fen: strawberry.scalar(
        name="Fen",
        description="An amount of money in whole fen (分; 100 fen = 1 CNY), exact up to ±(2^53 - 1).",
        serialize=_check,
        parse_value=_parse,
        parse_literal=_literal,
    )
}
