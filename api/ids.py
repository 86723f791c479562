"""Parse GraphQL ID arguments into database ids, with a typed error naming the argument.

An ID argument takes either an object's global id (the `id` every Node returns: base64 of ``Type:databaseId``) or
its ``databaseId`` (digits, as clients stored before global ids). A global id of the wrong kind for the argument
(a person's id as ``compoundId``) is INVALID_INPUT with reason ``wrong_kind``, never another row with that number.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence

from tenants.errors import InvalidInput, Problem

MAX_ID = 2**63 - 1  # PostgreSQL bigint

AREAS = ("Street", "Community", "Grid", "Compound", "Building", "Household")
# The Node type of each territory level, and of the other things a post or a ticket unit can be on.
NODE_OF = {
    "street": "Street",
    "community": "Community",
    "grid": "Grid",
    "compound": "Compound",
    "building": "Building",
    "household": "Household",
    "company": "PropertyCompany",
    "unit": "Unit",
}
# The kinds an argument takes, by its name (the last part of a dotted input path, without list indexes).
# An argument not named here takes the global id of any object.
KINDS: dict[str, tuple[str, ...]] = {
    "streetId": ("Street",),
    "communityId": ("Community",),
    "gridId": ("Grid",),
    "compoundId": ("Compound",),
    "buildingId": ("Building",),
    "householdId": ("Household",),
    "parentId": AREAS,
    "newParentId": AREAS,
    "companyId": ("PropertyCompany",),
    "contractId": ("PropertyContract",),
    "personId": ("Person",),
    "ticketId": ("Ticket",),
    "photoFileIds": ("File",),
    "managerId": ("PropertyManager",),
    "contractManagerId": ("ContractManager",),
    "interviewId": ("Interview",),
    "commendationId": ("Commendation",),
}
_NAME = re.compile(r"[A-Z][A-Za-z0-9]{0,63}")


def _digits(text: str) -> int | None:
    if text.isascii() and text.isdigit() and len(text) <= 19 and 0 < int(text) <= MAX_ID:
        return int(text)
    return None


def global_id_of(type_name: str, pk: int) -> str:
    """The opaque global id of row ``pk`` of GraphQL type ``type_name`` (strawberry relay's encoding)."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def parse_global_id(value: str) -> tuple[str, int] | None:
    """(type name, database id) of a well-formed global id; None for anything else."""
    if not value.isascii() or len(value) > 120:
        return None
    try:
        type_name, _, pk = base64.b64decode(value.encode(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    number = _digits(pk)
    return (type_name, number) if _NAME.fullmatch(type_name) and number is not None else None


def _bad(field: str, reason: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput.of([Problem(field, reason, zh, en)])


def to_id(value: str | None, field: str, kind: str | tuple[str, ...] | None = None) -> int:
    """A database id from a global id or from digits (1 to 2^63 - 1), or INVALID_INPUT naming ``field``.

    ``kind``: the GraphQL type names the argument takes (default: by the argument's name, see ``KINDS``)."""
    text = "" if value is None else str(value)
    number = _digits(text)
    if number is not None:
        return number
    ref = parse_global_id(text)
    if ref is None:
        raise _bad(field, "bad_id", f"{field} 不是有效的编号", f"{field} is not a valid id")
    wanted = (kind,) if isinstance(kind, str) else kind or KINDS.get(re.sub(r"\.\d+$", "", field).rsplit(".", 1)[-1])
    if wanted and ref[0] not in wanted:
        raise _bad(
            field,
            "wrong_kind",
            f"{field} 应为 {' / '.join(wanted)} 的编号，收到的是 {ref[0]} 的编号",
            f"{field} takes the id of a {' or '.join(wanted)}, not of a {ref[0]}",
        )
    return ref[1]


def opt_id(value: str | None, field: str, kind: str | tuple[str, ...] | None = None) -> int | None:
    return None if value is None else to_id(value, field, kind)


def to_ids(values: Sequence[str], field: str, kind: str | tuple[str, ...] | None = None) -> list[int]:
    """A list of database ids; a bad one is INVALID_INPUT naming ``<field>.<i>``."""
    return [to_id(v, f"{field}.{i}", kind) for i, v in enumerate(values)]
