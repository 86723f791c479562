"""Territory, parties and people through GraphQL, as each role with its data scope."""

from __future__ import annotations

import pytest

from api.auth import mint_token
from tenants.audit.models import AuditEntry
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory import people_service as people
from tenants.territory.models import Building, Compound, Grid, Household
from tests.conftest import codes
from tests.fixtures.callers import bearer
from tests.fixtures.ids import gid
from tests.fixtures.territory import build

AREAS = """query($level: AreaLevel!) { areas(level: $level, first: 100) { edges { node { id code name
  ... on Compound { address street { code } community { code } } } } } }"""


@pytest.fixture
async def world(three_tenants):
    a, b, _ = three_tenants
    return {"a": a, "b": b, "ids": await build(a.id), "b_ids": await build(b.id)}


async def codes_of(gql, token, level):
    body = await gql(AREAS, token, {"level": level})
    assert "errors" not in body, body
    return sorted(e["node"]["code"] for e in body["data"]["areas"]["edges"])


async def test_each_role_reads_only_its_scope(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    street = bearer(settings, a, Role.STREET_OFFICER, f"street:{ids['S1']}")
    community = bearer(settings, a, Role.COMMUNITY_WORKER, f"community:{ids['C2']}")
    company = bearer(settings, a, Role.PROPERTY_COMPANY, f"company:{ids['P1']}")
    resident = bearer(settings, a, Role.RESIDENT, f"household:{ids['H1']}")
    assert await codes_of(gql, admin, "COMPOUND") == ["K1", "K2", "K3"]
    assert await codes_of(gql, street, "COMPOUND") == ["K1", "K2"]
    assert await codes_of(gql, street, "STREET") == ["S1"]
    assert await codes_of(gql, community, "COMPOUND") == ["K2"]
    assert await codes_of(gql, community, "STREET") == ["S1"]  # its own street's name, read-only
    assert await codes_of(gql, company, "COMPOUND") == ["K1"]
    assert await codes_of(gql, company, "HOUSEHOLD") == ["101", "102"]
    assert await codes_of(gql, resident, "HOUSEHOLD") == ["101"]
    assert await codes_of(gql, resident, "COMPOUND") == ["K1"]
    # Out of scope reads as null, exactly like a node that does not exist.
    body = await gql("query($id: ID!) { area(level: COMPOUND, id: $id) { code } }", street, {"id": str(ids["K3"])})
    assert body["data"]["area"] is None
    body = await gql(
        "query($id: ID!) { area(level: COMPOUND, id: $id) { code ... on Compound { address street { code } } } }",
        street, {"id": str(ids["K1"])},
    )
    assert body["data"]["area"] == {"code": "K1", "address": "东辰御园", "street": {"code": "S1"}}


async def test_a_street_officer_cannot_change_another_street(world, gql, settings):
    a, ids = world["a"], world["ids"]
    street = bearer(settings, a, Role.STREET_OFFICER, f"street:{ids['S1']}")
    create = ("mutation($p: ID!) { createArea(input: {level: GRID, parentId: $p, code: \"G9\", name: \"新网格\"})"
              " { id code ... on Grid { community { code } } } }")
    ok = await gql(create, street, {"p": str(ids["C1"])})
    assert ok["data"]["createArea"]["community"] == {"code": "C1"}
    denied = await gql(create, street, {"p": str(ids["C3"])})
    assert codes(denied) == ["NOT_FOUND"] and denied["errors"][0]["extensions"]["field"] == "parentId"
    assert denied["errors"][0]["extensions"]["details"] == {"legacyField": "communityId"}
    rename = "mutation($id: ID!) { updateArea(input: {level: COMPOUND, id: $id, name: \"改名\"}) { name } }"
    assert codes(await gql(rename, street, {"id": str(ids["K3"])})) == ["NOT_FOUND"]
    assert (await gql(rename, street, {"id": str(ids["K1"])}))["data"]["updateArea"] == {"name": "改名"}
    # Its own street is readable but not its to rename; creating streets is for tenant admins.
    own = await gql("mutation($id: ID!) { updateArea(input: {level: STREET, id: $id, name: \"x\"}) { name } }",
                    street, {"id": str(ids["S1"])})
    assert codes(own) == ["FORBIDDEN"]
    new_street = await gql('mutation { createArea(input: {level: STREET, code: "S9", name: "x"}) { id } }', street)
    assert codes(new_street) == ["FORBIDDEN"]
    resident = bearer(settings, a, Role.RESIDENT, f"household:{ids['H1']}")
    assert codes(await gql(rename, resident, {"id": str(ids["K1"])})) == ["FORBIDDEN"]


async def test_codes_are_unique_within_their_parent_and_bad_input_saves_nothing(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    create = "mutation($p: ID!, $c: String!) { createArea(input: {level: COMPOUND, parentId: $p, code: $c, name: \"n\"}) { id } }"  # noqa: E501
    dup = await gql(create, admin, {"p": str(ids["G1"]), "c": "K1"})
    assert codes(dup) == ["CONFLICT"] and dup["errors"][0]["extensions"]["field"] == "code"
    assert "errors" not in await gql(create, admin, {"p": str(ids["G2"]), "c": "K1"})  # another grid: fine
    bad = await gql('mutation($p: ID!) { createArea(input: {level: COMPOUND, parentId: $p, code: "bad code!",'
                    ' name: "  "}) { id } }', admin, {"p": str(ids["G1"])})
    problems = bad["errors"][0]["extensions"]["problems"]
    assert [(p["field"], p["reason"]) for p in problems] == [("code", "format"), ("name", "required")]
    no_parent = await gql('mutation { createArea(input: {level: GRID, code: "G7", name: "n"}) { id } }', admin)
    assert no_parent["errors"][0]["extensions"]["field"] == "parentId"
    async with tenant_transaction(a.id):
        assert await Compound.all().count() == 4


async def test_moves_and_renames_keep_ids_and_follow_scopes(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    s1 = bearer(settings, a, Role.STREET_OFFICER, f"street:{ids['S1']}")
    s2 = bearer(settings, a, Role.STREET_OFFICER, f"street:{ids['S2']}")
    moved = await gql(
        "mutation($id: ID!, $to: ID!) { moveArea(input: {level: GRID, id: $id, newParentId: $to})"
        " { id ... on Grid { community { code street { code } } } } }",
        admin, {"id": str(ids["G1"]), "to": str(ids["C3"])},
    )
    assert moved["data"]["moveArea"] == {
        "id": gid("Grid", ids["G1"]), "community": {"code": "C3", "street": {"code": "S2"}}}
    async with tenant_transaction(a.id):
        for model in (Compound, Building, Household):
            rows = await model.filter(grid_id=ids["G1"]).values_list("street_id", "community_id")
            assert rows and set(rows) == {(ids["S2"], ids["C3"])}, model
    assert await codes_of(gql, s1, "HOUSEHOLD") == []
    assert await codes_of(gql, s2, "HOUSEHOLD") == ["101", "102"]
    assert await codes_of(gql, s2, "COMPOUND") == ["K1", "K3"]
    # Moving next to a sibling with the same code is refused.
    await gql('mutation($p: ID!) { createArea(input: {level: GRID, parentId: $p, code: "G2", name: "n"}) { id } }',
              admin, {"p": str(ids["C3"])})
    clash = await gql("mutation($id: ID!, $to: ID!) { moveArea(input: {level: GRID, id: $id, newParentId: $to})"
                      " { id } }", admin, {"id": str(ids["G2"]), "to": str(ids["C3"])})
    assert codes(clash) == ["CONFLICT"]
    async with tenant_transaction(a.id):
        assert (await Grid.get(id=ids["G2"])).community_id == ids["C2"]
        assert await AuditEntry.filter(action="grid.move", target_id=str(ids["G1"])).count() == 1


async def test_property_company_sees_only_its_compounds_and_contracts(world, gql, settings):
    a, ids = world["a"], world["ids"]
    p1 = bearer(settings, a, Role.PROPERTY_COMPANY, f"company:{ids['P1']}")
    body = await gql("{ propertyContracts { edges { node { annualFeeFen compound { code } } } }"
                     " propertyCompanies { edges { node { name } } } }", p1)
    assert body["data"]["propertyContracts"]["edges"] == [{"node": {"annualFeeFen": 12_000_000,
                                                                    "compound": {"code": "K1"}}}]
    assert body["data"]["propertyCompanies"]["edges"] == [{"node": {"name": "P1"}}]
    s1 = bearer(settings, a, Role.STREET_OFFICER, f"street:{ids['S1']}")
    body = await gql("{ propertyContracts { edges { node { compound { code } } } } }", s1)
    assert [e["node"]["compound"]["code"] for e in body["data"]["propertyContracts"]["edges"]] == ["K1"]


async def test_contracts_validate_dates_money_and_overlap(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    create = """mutation($c: ID!, $k: ID!, $s: Date!, $e: Date!, $fee: Fen!) { createPropertyContract(input:
      {companyId: $c, compoundId: $k, startsOn: $s, endsOn: $e, annualFeeFen: $fee}) { id } }"""
    bad = await gql(create, admin, {"c": str(ids["P2"]), "k": str(ids["K2"]), "s": "2026-06-01", "e": "2026-01-01",
                                    "fee": -1})
    assert [p["field"] for p in bad["errors"][0]["extensions"]["problems"]] == ["endsOn", "annualFeeFen"]
    overlap = await gql(create, admin, {"c": str(ids["P2"]), "k": str(ids["K1"]), "s": "2027-01-01",
                                        "e": "2029-12-31", "fee": 100})
    assert codes(overlap) == ["CONFLICT"]
    ok = await gql(create, admin, {"c": str(ids["P2"]), "k": str(ids["K2"]), "s": "2026-01-01", "e": "2026-12-31",
                                   "fee": 8_000_000})
    assert "errors" not in ok


async def test_posts_drive_the_token(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    person = await gql('mutation($h: ID!) { createPerson(input: {userId: "wang", name: "王网格", householdId: $h,'
                       ' isPartyMember: true}) { id household { code } } }', admin, {"h": str(ids["H2"])})
    pid = person["data"]["createPerson"]["id"]
    assert person["data"]["createPerson"]["household"] == {"code": "102"}
    post = "mutation($p: ID!, $g: ID!) { assignPost(input: {personId: $p, kind: GRID_WORKER, targetKind: \"grid\", targetId: $g}) { id kind } }"  # noqa: E501
    assert (await gql(post, admin, {"p": pid, "g": str(ids["G1"])}))["data"]["assignPost"]["kind"] == "GRID_WORKER"
    second = await gql('mutation { createPerson(input: {userId: "li", name: "李"}) { id } }', admin)
    again = await gql(post, admin, {"p": second["data"]["createPerson"]["id"], "g": str(ids["G1"])})
    assert codes(again) == ["CONFLICT"]  # 一网一员
    async with tenant_transaction(a.id):
        from tenants.territory.people import Person

        claims = await people.claims_for(await Person.get(user_id="wang"))
    assert claims.roles == (Role.GRID_WORKER, Role.PARTY_MEMBER, Role.RESIDENT)
    assert claims.scope == (f"grid:{ids['G1']}/grid_worker", f"household:{ids['H2']}/resident")
    wang = mint_token(settings, roles=list(claims.roles), tenant_slug=a.slug, scope=claims.scope, user_id="wang")
    assert await codes_of(gql, wang, "HOUSEHOLD") == ["101", "102"]
    assert await codes_of(gql, wang, "COMPOUND") == ["K1"]


async def test_another_tenant_sees_nothing(world, gql, settings):
    b, ids = world["b"], world["ids"]
    b_admin = bearer(settings, b, Role.TENANT_ADMIN)
    assert await codes_of(gql, b_admin, "COMPOUND") == ["K1", "K2", "K3"]  # its own, same codes
    b_ids = {e["node"]["id"] for e in (await gql(AREAS, b_admin, {"level": "COMPOUND"}))["data"]["areas"]["edges"]}
    assert not b_ids & {gid("Compound", ids[k]) for k in ("K1", "K2", "K3")}
    body = await gql("query($id: ID!) { area(level: COMPOUND, id: $id) { code } }", b_admin, {"id": str(ids["K1"])})
    assert body["data"]["area"] is None
    forged = bearer(settings, b, Role.STREET_OFFICER, f"street:{ids['S1']}")  # a's street id in b's token
    assert await codes_of(gql, forged, "COMPOUND") == []
    rename = await gql("mutation($id: ID!) { updateArea(input: {level: COMPOUND, id: $id, name: \"x\"}) { name } }",
                       b_admin, {"id": str(ids["K1"])})
    assert codes(rename) == ["NOT_FOUND"]


async def test_assessor_accounts_name_a_configured_body_and_persons_list_posts(three_tenants, gql, settings):
    from tenants.tenancy.service import create_tenant

    city = await create_tenant(slug="zjk", name="张家口市", preset="zhangjiakou")
    ids = await build(city.id)
    admin = bearer(settings, city, Role.TENANT_ADMIN)
    pid = (await gql('mutation { createPerson(input: {userId: "assessor-1", name: "评议员"}) { id } }',
                     admin))["data"]["createPerson"]["id"]
    assign = """mutation($p: ID!, $k: ID!, $b: String) { assignPost(input: {personId: $p, kind: ASSESSOR,
      targetKind: "compound", targetId: $k, bodyCode: $b}) { kind bodyCode } }"""
    unknown = await gql(assign, admin, {"p": pid, "k": str(ids["K1"]), "b": "emperor"})
    assert unknown["errors"][0]["extensions"]["problems"][0]["reason"] == "unknown_body"
    ok = await gql(assign, admin, {"p": pid, "k": str(ids["K1"]), "b": "owners_committee"})
    assert ok["data"]["assignPost"] == {"kind": "ASSESSOR", "bodyCode": "owners_committee"}
    body = await gql(
        '{ persons(userId: "assessor-1") { edges { node { name posts { kind targetKind targetType bodyCode } } } } }',
        admin,
    )
    assert body["data"]["persons"]["edges"][0]["node"]["posts"] == [
        {"kind": "ASSESSOR", "targetKind": "compound", "targetType": "COMPOUND", "bodyCode": "owners_committee"}
    ]
    # The enum input instead of the deprecated string; both given must agree.
    typed = """mutation($p: ID!, $k: ID!, $t: PostTargetType, $s: String) { assignPost(input: {personId: $p,
      kind: ASSESSOR, targetType: $t, targetKind: $s, targetId: $k, bodyCode: "party_org"}) {
      targetKind targetType } }"""
    at = {"p": pid, "k": str(ids["S1"])}
    clash = await gql(typed, admin, {**at, "t": "STREET", "s": "compound"})
    assert [(p["field"], p["reason"]) for p in clash["errors"][0]["extensions"]["problems"]] == [
        ("targetType", "mismatch")
    ]
    ok = await gql(typed, admin, {**at, "t": "STREET"})
    assert ok["data"]["assignPost"] == {"targetKind": "street", "targetType": "STREET"}


async def test_owners_committees_and_units(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    street = bearer(settings, a, Role.STREET_OFFICER, f"street:{ids['S1']}")
    setc = """mutation($k: ID!, $n: String!) { setOwnersCommittee(input: {compoundId: $k, name: $n,
      termEndsOn: "2028-06-30"}) { name termEndsOn } }"""
    assert (await gql(setc, street, {"k": str(ids["K1"]), "n": "财苑业委会"}))["data"]["setOwnersCommittee"] == {
        "name": "财苑业委会", "termEndsOn": "2028-06-30"}
    assert (await gql(setc, street, {"k": str(ids["K1"]), "n": "财苑第二届业委会"}))["data"]["setOwnersCommittee"][
        "name"] == "财苑第二届业委会"  # one per compound: a second set replaces
    assert codes(await gql(setc, street, {"k": str(ids["K3"]), "n": "x"})) == ["NOT_FOUND"]
    committee = bearer(settings, a, Role.OWNERS_COMMITTEE, f"compound:{ids['K1']}")
    read = "query($k: ID!) { ownersCommittee(compoundId: $k) { name } }"
    own = await gql(read, committee, {"k": str(ids["K1"])})
    assert own["data"]["ownersCommittee"] == {"name": "财苑第二届业委会"}
    assert codes(await gql(read, committee, {"k": str(ids["K2"])})) == ["NOT_FOUND"]
    unit = """mutation($k: UnitKind!, $c: String!, $n: String!) { createUnit(input: {kind: $k, code: $c, name: $n})
      { kind code name } }"""
    for kind, code, name in (("HOUSING_DEPT", "ZJ", "住建局"), ("EFFICIENCY_OFFICE", "ZFXN", "作风效能办"),
                             ("COUNTY_DEPARTMENT", "SW", "水务局")):
        assert "errors" not in await gql(unit, admin, {"k": kind, "c": code, "n": name})
    assert codes(await gql(unit, admin, {"k": "HOUSING_DEPT", "c": "ZJ", "n": "重复"})) == ["CONFLICT"]
    too_long = await gql(unit, admin, {"k": "HOUSING_DEPT", "c": "Z" * 65, "n": "长编码"})
    problems = too_long["errors"][0]["extensions"]["problems"]
    assert [(p["field"], p["reason"]) for p in problems] == [("code", "too_long")]
    assert codes(await gql(unit, street, {"k": "HOUSING_DEPT", "c": "X", "n": "x"})) == ["FORBIDDEN"]
    listed = await gql("{ units(kind: EFFICIENCY_OFFICE) { code name } }", street)
    assert listed["data"]["units"] == [{"code": "ZFXN", "name": "作风效能办"}]
    other = await gql("{ units { code } }", bearer(settings, world["b"], Role.TENANT_ADMIN))
    assert other["data"]["units"] == []


async def test_write_access_comes_only_from_writer_posts(world, gql, settings):
    a, ids = world["a"], world["ids"]
    # A community worker of C2 who is also an assessor of street S2: S2 is readable, not writable.
    combo = mint_token(settings, roles=[Role.COMMUNITY_WORKER, Role.ASSESSOR], tenant_slug=a.slug,
                       scope=(f"community:{ids['C2']}/community_worker", f"street:{ids['S2']}/assessor"))
    rename = "mutation($id: ID!) { updateArea(input: {level: COMPOUND, id: $id, name: \"改\"}) { name } }"
    assert codes(await gql(rename, combo, {"id": str(ids["K3"])})) == ["FORBIDDEN"]
    assert "errors" not in await gql(rename, combo, {"id": str(ids["K2"])})
    assert await codes_of(gql, combo, "COMPOUND") == ["K2", "K3"]
    # A grant through a role the token does not hold grants nothing.
    forged = mint_token(settings, roles=[Role.RESIDENT], tenant_slug=a.slug,
                        scope=(f"street:{ids['S1']}/street_officer",))
    assert await codes_of(gql, forged, "COMPOUND") == []


async def test_territory_staff_create_directly_under_their_own_node(world, gql, settings):
    a, ids = world["a"], world["ids"]
    create = "mutation($l: AreaLevel!, $p: ID!, $c: String!) { createArea(input: {level: $l, parentId: $p, code: $c, name: \"新\"}) { code } }"  # noqa: E501
    cases = [
        (Role.STREET_OFFICER, f"street:{ids['S1']}", "COMMUNITY", ids["S1"], ids["S2"]),
        (Role.COMMUNITY_WORKER, f"community:{ids['C1']}", "GRID", ids["C1"], ids["C2"]),
        (Role.GRID_WORKER, f"grid:{ids['G1']}", "COMPOUND", ids["G1"], ids["G2"]),
    ]
    for role, scope, level, own, other in cases:
        t = bearer(settings, a, role, scope)
        assert "errors" not in await gql(create, t, {"l": level, "p": str(own), "c": f"N-{role.value}"}), role
        assert codes(await gql(create, t, {"l": level, "p": str(other), "c": "X"})) in (["NOT_FOUND"], ["FORBIDDEN"])


async def test_personal_data_is_for_staff_of_the_area_and_the_person(world, gql, settings):
    a, ids = world["a"], world["ids"]
    admin = bearer(settings, a, Role.TENANT_ADMIN)
    for user, household in (("zhang", "H1"), ("wang", "H2")):
        await gql("mutation($u: String!, $h: ID!) { createPerson(input: {userId: $u, name: $u, phone: \"138\","
                  " householdId: $h}) { id } }", admin, {"u": user, "h": str(ids[household])})
    persons = "{ persons { edges { node { userId phone } } } }"

    async def seen(token):
        return sorted(e["node"]["userId"] for e in (await gql(persons, token))["data"]["persons"]["edges"])

    assert await seen(admin) == ["wang", "zhang"]
    assert await seen(bearer(settings, a, Role.COMMUNITY_WORKER, f"community:{ids['C1']}")) == ["wang", "zhang"]
    assert await seen(bearer(settings, a, Role.COMMUNITY_WORKER, f"community:{ids['C2']}")) == []
    assert await seen(bearer(settings, a, Role.PROPERTY_COMPANY, f"company:{ids['P1']}")) == []
    assert await seen(bearer(settings, a, Role.SUPERVISOR, f"compound:{ids['K1']}")) == []
    resident = mint_token(settings, roles=[Role.RESIDENT], tenant_slug=a.slug, user_id="zhang",
                          scope=(f"household:{ids['H1']}",))
    assert await seen(resident) == ["zhang"]
    assert await seen(bearer(settings, world["b"], Role.TENANT_ADMIN)) == []


async def test_contracts_and_companies_stay_in_their_tenant(world, gql, settings):
    b_admin = bearer(settings, world["b"], Role.TENANT_ADMIN)
    body = await gql("{ propertyContracts { edges { node { id compound { id } } } }"
                     " propertyCompanies { edges { node { id } } } }", b_admin)
    b_ids = world["b_ids"]
    assert {e["node"]["compound"]["id"] for e in body["data"]["propertyContracts"]["edges"]} == {
        gid("Compound", b_ids["K1"]), gid("Compound", b_ids["K3"])}
    assert {e["node"]["id"] for e in body["data"]["propertyCompanies"]["edges"]} == {
        gid("PropertyCompany", b_ids["P1"]), gid("PropertyCompany", b_ids["P2"])}


async def test_a_post_ended_today_frees_its_grid_and_stays_ended(app):
    """Ending wang's grid post (or deactivating him) frees the grid for a successor the same day; an ended post
    cannot be ended again (its history rewritten, or reopened with a later date); a post not started yet, ended,
    never starts; a last day before the first is refused."""
    from datetime import timedelta

    from tenants import clock
    from tenants.errors import Conflict, InvalidInput
    from tenants.tenancy.service import create_tenant
    from tenants.territory.people import Post, PostKind
    from tests.fixtures.callers import ADMIN
    from tests.fixtures.territory import staff

    t = await create_tenant(slug="linshu", name="临沭县")
    ids = await build(t.id)
    async with tenant_transaction(t.id):
        today = await clock.today()
        await staff("wang", PostKind.GRID_WORKER, "grid", ids["G1"])
        await staff("li", PostKind.GRID_WORKER, "grid", ids["G2"])
        wang = await Post.get(target_id=ids["G1"], kind=PostKind.GRID_WORKER)
        await people.end_post(access=ADMIN, actor="admin", post_id=wang.id)
        zhao = await people.create_person(access=ADMIN, actor="admin", user_id="zhao", name="赵")
        await people.assign_post(access=ADMIN, actor="admin", person_id=zhao.id, kind=PostKind.GRID_WORKER,
                                 target_kind="grid", target_id=ids["G1"])  # the same day: the grid is free
        for again in (None, today + timedelta(days=365)):
            with pytest.raises(Conflict):
                await people.end_post(access=ADMIN, actor="admin", post_id=wang.id, ends_on=again)
        assert (await Post.get(id=wang.id)).ends_on == today

        li = await people.create_person(access=ADMIN, actor="admin", user_id="li-2", name="李")
        later = await people.assign_post(access=ADMIN, actor="admin", person_id=li.id, kind=PostKind.BUILDING_HEAD,
                                         target_kind="building", target_id=ids["B1"],
                                         starts_on=today + timedelta(days=10))
        with pytest.raises(InvalidInput) as early:
            await people.end_post(access=ADMIN, actor="admin", post_id=later.id, ends_on=today)
        assert [(p.field, p.reason) for p in early.value.problems] == [("endsOn", "before_start")]
        li_grid = await Post.get(target_id=ids["G2"], kind=PostKind.GRID_WORKER)
        li_person = await people.set_person_active(access=ADMIN, actor="admin", person_id=li_grid.person_id,
                                                   active=False)
        assert li_person.deactivated_at is not None
        sun = await people.create_person(access=ADMIN, actor="admin", user_id="sun", name="孙")
        await people.assign_post(access=ADMIN, actor="admin", person_id=sun.id, kind=PostKind.GRID_WORKER,
                                 target_kind="grid", target_id=ids["G2"])  # deactivating freed it too
        await people.end_post(access=ADMIN, actor="admin", post_id=later.id)  # not started: it never starts
        assert (await Post.get(id=later.id)).ends_on == later.starts_on - timedelta(days=1)
