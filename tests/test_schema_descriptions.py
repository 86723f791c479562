"""Every type, field, argument, input field and enum value of the schema is described, and every field that needs
a permission says which roles hold it (rendered from tenants/permissions.py)."""

from __future__ import annotations

from graphql import GraphQLEnumType, GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from api.glossary import NOTES, REQUIRES
from api.schema import schema
from tenants.permissions import PERMISSIONS, ROLE_ZH, roles_note
from tenants.roles import Role

BUILTIN = {"String", "Int", "Float", "Boolean", "ID"}


def undescribed() -> list[str]:
    missing = []
    for name, t in schema._schema.type_map.items():
        if name.startswith("__") or name in BUILTIN:
            continue
        if not (t.description or "").strip():
            missing.append(name)
        if isinstance(t, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for fname, f in t.fields.items():
                if not (f.description or "").strip():
                    missing.append(f"{name}.{fname}")
                for aname, a in getattr(f, "args", {}).items():
                    if not (a.description or "").strip():
                        missing.append(f"{name}.{fname}({aname})")
        if isinstance(t, GraphQLEnumType):
            missing += [f"{name}.{v}" for v, value in t.values.items() if not (value.description or "").strip()]
    return missing


def test_everything_in_the_schema_is_described():
    missing = undescribed()
    assert not missing, (
        f"{len(missing)} without a description (add description= in the code, or a text in api/glossary.py):\n"
        + "\n".join(missing)
    )


def test_the_contract_carries_the_descriptions():
    assert '"""The roles of the caller\'s token."""' in schema.as_str()


def test_roles_note_names_the_roles_from_the_permission_table():
    assert roles_note("tickets.dispatch") == (
        "Requires tickets.dispatch: tenant_admin 租户管理员, street_officer 街道干部, community_worker 社区工作者;"
        " on the ticket's community or street (or tenant_admin)."
    )
    assert roles_note("tickets.rate").startswith("Requires tickets.rate: every tenant role;")


def test_every_role_has_a_chinese_name():
    assert set(ROLE_ZH) == set(Role)


def test_fields_that_need_a_permission_say_which_roles():
    fields = {**schema._schema.query_type.fields, **schema._schema.mutation_type.fields}
    for coord, names in REQUIRES.items():
        _, _, name = coord.partition(".")
        assert all(n in PERMISSIONS for n in names), coord
        assert fields[name].description.endswith(roles_note(*names)), coord
    dispatch = fields["dispatchTicket"].description
    assert "street_officer 街道干部" in dispatch and "resident" not in dispatch


def test_every_mutation_but_the_callers_own_needs_a_named_permission():
    """A new mutation names its permission in api/glossary.py REQUIRES (or its rule in NOTES), or is listed here
    as open to every caller (it acts on the caller's own rows only)."""
    own = {"markNotificationsRead"}
    unnamed = {
        name
        for name in schema._schema.mutation_type.fields
        if f"Mutation.{name}" not in {**REQUIRES, **NOTES} and name not in own
    }
    assert not unnamed, f"mutations without a roles note: {sorted(unnamed)}"
