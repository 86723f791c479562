"""Schema descriptions: who may call a field (rendered from ``tenants.permissions``), and the conventions and
glossary that describe what the code's own ``description=`` leaves open.

``describe(schema)`` runs once when a schema is built. A description written in the code wins; otherwise the
text comes from ``api.glossary.TEXT`` (by schema coordinate: ``Type``, ``Type.field``, ``Type.field(arg)``,
``Enum.VALUE``), then from a naming convention (``id``, ``...Id``, connections, edges, ``first``/``after``...),
then from the enum-value glossary. A field that needs a permission gets its roles appended ("Requires ...") from
``REQUIRES``. ``tests/test_schema_descriptions.py`` fails on anything left without a description.
"""

from __future__ import annotations

import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
)

from api.glossary import ENUM_VALUES, NOTES, REQUIRES, TEXT
from tenants.permissions import roles_note

BUILTIN = frozenset({"String", "Int", "Float", "Boolean", "ID"})


def _words(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


CONVENTIONS: dict[str, str] = {
    "id": "The object's id (unique within its type and tenant).",
    "createdAt": "When it was created (UTC).",
    "updatedAt": "When it last changed (UTC).",
    "isActive": "Whether it is active; inactive ones are kept for history.",
    "name": "Its name as people read it.",
    "code": "Its stable code (unique within the tenant where it names something).",
    "reason": "Why (kept in the audit log).",
    "note": "A free-text note.",
    "first": "Page size: at most this many (default 20, capped).",
    "after": "A cursor (endCursor of the previous page): start after it.",
    "input": "The mutation's input.",
    "idempotencyKey": "A key of the client's (e.g. a UUID): a retry with it returns the first result.",
    "periodKey": "The period: 2026-10 (month), 2026Q4 (quarter) or 2026 (year), in the tenant's time zone.",
    "period": "The period: 2026-10 (month), 2026Q4 (quarter) or 2026 (year), in the tenant's time zone.",
    "year": "The year (in the tenant's time zone).",
    "startsOn": "The first day (tenant-local).",
    "endsOn": "The last day (tenant-local).",
    "at": "When it happened (UTC).",
    "actor": "The user id of who did it.",
    "configVersion": "The configuration version it was computed with.",
    "revision": "The revision number: 1 first, each correction or recomputation adds one.",
    "count": "How many.",
    "rank": "The rank: 1 is best.",
    "score": "The score, 0-100.",
    "title": "Its title as people read it.",
    "status": "Its current status.",
    "kind": "Its kind.",
    "level": "The territory level.",
    "address": "A street address as people write it.",
    "dryRun": "Check only: report what would happen and change nothing.",
    "format": "The file's format.",
    "description": "What it is about, in the reporter's words.",
    "comment": "A free-text comment.",
    "notes": "Free-text notes.",
    "bodyCode": "The assessor body's code in the tenant's configuration (e.g. party, owners, housing).",
    "filter": "Narrow the list; all conditions must hold.",
    "photos": "Photo URLs.",
    "latitude": "WGS-84 latitude in degrees.",
    "longitude": "WGS-84 longitude in degrees.",
    "contact": "How to reach the reporter (shown to staff only).",
    "channel": "Where it came in.",
    "rating": "1 (worst) to 5 (best).",
    "details": "Details of the action, by key.",
}

LINKS = {"street": "street 街道", "community": "community 社区", "grid": "grid 网格", "compound": "compound 小区",
         "building": "building 楼栋", "household": "household 户", "tenant": "tenant"}


def _convention(type_name: str, field: str) -> str | None:
    """``type_name`` is empty for an argument."""
    given = not type_name or type_name.endswith("Input")  # an argument or an input field, not an output field
    if not type_name and field == "id":
        return "The object to read or act on: its global `id`, or its `databaseId`."
    if field in CONVENTIONS:
        return CONVENTIONS[field]
    if field in LINKS:
        return f"The {LINKS[field]} it belongs to (null if none or outside your scope)."
    if field.endswith("At") and len(field) > 2:
        return f"When it was {_words(field[:-2])} (UTC); null if not yet."
    if field.endswith("By") and len(field) > 2:
        return f"By whom it was {_words(field[:-2])}: a user id."
    if field.endswith("Fen"):
        return f"{_words(field[:-3]).capitalize()}, in fen (分, integer; 100 fen = 1 CNY)."
    if field == "userId" or field.endswith("UserId"):
        who = _words(field[:-6]) if field != "userId" else "person"
        return f"The user id (the login subject of the identity provider) of the {who}."
    if field.endswith("Ids"):
        if given:
            return f"The {_words(field[:-3])}s: their global ids, or their database ids."
        return f"The database ids of the {_words(field[:-3])}s."
    if field.endswith("Id"):
        if given:
            return f"The {_words(field[:-2])}: its global id, or its database id."
        return f"The database id of the {_words(field[:-2])} (its own `id` is the global one)."
    if type_name.endswith("Connection"):
        node = type_name[: -len("Connection")]
        return {"edges": f"This page's {node}s with their cursors.", "pageInfo": "Where this page ends and whether"
                " another follows."}.get(field)
    if type_name.endswith("Edge"):
        node = type_name[: -len("Edge")]
        return {"node": f"The {node}.", "cursor": "Opaque: pass it as `after` to continue from here."}.get(field)
    return None


def _type_convention(name: str) -> str | None:
    if name.endswith("Connection"):
        return f"A page of {name[: -len('Connection')]}s in keyset order (Relay cursor connection)."
    if name.endswith("Edge"):
        return f"One {name[: -len('Edge')]} of a page, with its cursor."
    if name.endswith("Input"):
        return f"The input of the `{name[0].lower()}{name[1:-len('Input')]}` mutation."
    return None


def describe(schema: GraphQLSchema) -> GraphQLSchema:
    """Fill in missing descriptions and append the roles notes (in place; returns the schema)."""
    for coord in [*REQUIRES, *NOTES]:
        type_name, _, field = coord.partition(".")
        fields = getattr(schema.type_map.get(type_name), "fields", {})
        if field not in fields:
            raise LookupError(f"api/glossary.py REQUIRES names {coord}, which the schema does not have")
    for name, t in schema.type_map.items():
        if name.startswith("__") or name in BUILTIN:
            continue
        if not t.description:
            t.description = TEXT.get(name) or _type_convention(name)
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for fname, f in t.fields.items():
                coord = f"{name}.{fname}"
                if not f.description:
                    f.description = TEXT.get(coord) or _convention(name, fname)
                if coord in REQUIRES:
                    note = roles_note(*REQUIRES[coord])
                    f.description = f"{f.description} {note}" if f.description else note
                if coord in NOTES:
                    f.description = f"{f.description} {NOTES[coord]}" if f.description else NOTES[coord]
                for aname, a in getattr(f, "args", {}).items():
                    if not a.description:
                        a.description = TEXT.get(f"{coord}({aname})") or _convention("", aname)
        if isinstance(t, GraphQLEnumType):
            for vname, v in t.values.items():
                if not v.description:
                    v.description = TEXT.get(f"{name}.{vname}") or ENUM_VALUES.get(vname)
    return schema
