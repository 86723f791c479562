"""schema.graphql against the last released schema (tests/schema_released.graphql, stored by `make
schema-release`): every breaking change graphql-core finds must be allowed below, with a reason."""

from __future__ import annotations

import graphql

from tests.conftest import ROOT

# graphql-core's description of an allowed change ("Field Query.b was removed.") -> why it is acceptable.
# Emptied at each release (the new baseline has the change).
ALLOWED: dict[str, str] = {}


def breaking(old_sdl: str, new_sdl: str) -> list[str]:
    old, new = graphql.build_schema(old_sdl), graphql.build_schema(new_sdl)
    return [
        f"{c.type.name}: {c.description}"
        for c in graphql.find_breaking_changes(old, new)
        if c.description not in ALLOWED
    ]


def test_no_breaking_change_since_the_last_release():
    found = breaking((ROOT / "tests/schema_released.graphql").read_text(), (ROOT / "schema.graphql").read_text())
    assert not found, (
        "breaking changes against the last released schema (deprecate instead, or allow one in"
        " tests/test_schema_breaking.py ALLOWED with a reason):\n" + "\n".join(found)
    )


def test_the_check_sees_a_removed_field_and_a_retyped_one():
    old = "type Query { a: String\n b: String }"
    assert breaking(old, "type Query { a: String }") == ["FIELD_REMOVED: Field Query.b was removed."]
    assert breaking(old, "enum E { X }\ntype Query { a: E\n b: String }") == [
        "FIELD_CHANGED_KIND: Field Query.a changed type from String to E."
    ]
    # Adding a field, or deprecating one, is not breaking.
    assert breaking(old, 'type Query { a: String @deprecated(reason: "r")\n b: String\n c: Int }') == []


def test_every_allowed_change_has_a_reason_and_still_happens():
    old = graphql.build_schema((ROOT / "tests/schema_released.graphql").read_text())
    new = graphql.build_schema((ROOT / "schema.graphql").read_text())
    happening = {c.description for c in graphql.find_breaking_changes(old, new)}
    assert all(reason.strip() for reason in ALLOWED.values())
    assert not set(ALLOWED) - happening, "allowed changes that no longer happen: remove them"
