"""The resident's catalogue ``ticketCatalog``: every role reads it, a resident reports from it alone, and each tenant
reads its own."""

from __future__ import annotations

from tenants.tenancy.roles import Role
from tests.fixtures.callers import bearer

CATALOG = """{ ticketCatalog {
  display { slug name timeZone ratingScale { lowest highest satisfiedFrom } }
  reviewHours partnerAcceptHours steps { review dispatch rate }
  categories { code title items { code title categoryCode location resolveHours
                                  unit { kind code name } partners { kind code name } } }
  units { kind code name } } }"""
REPORT = """mutation($in: ReportTicketInput!) { reportTicket(input: $in) { id itemCode state dueAt } }"""


def items(cat: dict) -> list[dict]:
    return [i for c in cat["categories"] for i in c["items"]]


async def test_a_resident_reports_from_the_catalogue_alone(gql, linshu_departments):
    world = linshu_departments
    me = (await gql("{ me { scope } }", world["resident"]))["data"]["me"]
    body = await gql(CATALOG, world["resident"])
    assert "errors" not in body, body
    cat = body["data"]["ticketCatalog"]
    assert cat["display"] == {"slug": "linshu", "name": "临沭县", "timeZone": "Asia/Shanghai",
                              "ratingScale": cat["display"]["ratingScale"]}
    scale = cat["display"]["ratingScale"]
    assert scale["lowest"] < scale["satisfiedFrom"] <= scale["highest"]
    # 临沭's matrix: 5 categories / 46 items in the report (the preset ships a part of them).
    assert len(cat["categories"]) == 5
    # The departments the taxonomy names by code, with their registered names.
    assert {"kind": "COUNTY_DEPARTMENT", "code": "水务", "name": "县水务局"} in cat["units"]
    assert {"kind": "COUNTY_DEPARTMENT", "code": "城管", "name": "县城管局"} in cat["units"]
    by_kind = {i["unit"]["kind"]: i for i in items(cat)}
    assert by_kind["PROPERTY_COMPANY"]["location"] == "COMPOUND"
    assert by_kind["COUNTY_DEPARTMENT"]["location"] == "COMMUNITY"

    # The report: the first item that needs a compound, at the resident's own household (from `me`).
    item = next(i for i in items(cat) if i["location"] == "COMPOUND")
    household = next(s.split(":")[1] for s in me["scope"] if s.startswith("household:"))
    body = await gql(REPORT, world["resident"], {"in": {
        "itemCode": item["code"], "description": f"{item['title']}，请尽快处理", "householdId": household}})
    assert "errors" not in body, body
    ticket = body["data"]["reportTicket"]
    assert ticket["itemCode"] == item["code"] and ticket["state"] == "REPORTED"


async def test_every_role_reads_it_and_each_tenant_its_own(gql, settings, linshu_departments):
    world = linshu_departments
    mine = (await gql(CATALOG, world["admin"]))["data"]["ticketCatalog"]
    for name in ("company_p1", "grid_worker", "street_officer", "unit_staff"):
        assert (await gql(CATALOG, world[name]))["data"]["ticketCatalog"] == mine, name
    for role in (Role.SUPERVISOR, Role.PARTY_MEMBER, Role.OWNERS_COMMITTEE, Role.HOUSING_DEPT):
        assert (await gql(CATALOG, bearer(settings, world["tenant"], role)))["data"]["ticketCatalog"] == mine

    other = (await gql(CATALOG, world["other_admin"]))["data"]["ticketCatalog"]
    assert other["display"]["slug"] == "zhangjiakou" and other["display"]["name"] == "张家口市"
    assert len(other["categories"]) == 9 and other["reviewHours"] == 3
    assert {i["code"] for i in items(other)} != {i["code"] for i in items(mine)}
    # 张家口 names 水务 but has no such unit on file: listed, without a name; 临沭's units never show.
    assert other["units"] == [{"kind": "COUNTY_DEPARTMENT", "code": "水务", "name": None}]


async def test_a_platform_admin_has_no_catalogue(gql, token, linshu_departments):
    body = await gql("{ ticketCatalog { reviewHours } }", token(None, Role.PLATFORM_ADMIN))
    assert body["errors"][0]["extensions"]["code"] in ("FORBIDDEN", "TENANT_SCOPE_MISSING")


async def test_photo_expected_is_a_hint_not_a_refusal(gql, linshu_departments):
    world = linshu_departments
    cat = (await gql("{ ticketCatalog { categories { items { code location photoExpected } } } }",
                     world["resident"]))["data"]["ticketCatalog"]
    expecting = [i for i in items(cat) if i["photoExpected"]]
    assert [i["code"] for i in expecting] == ["illegal_construction"]  # 临沭's preset: 违章搭建
    # The resident's form asks for a photo; a report without one (as a hotline operator enters it) is taken.
    body = await gql(REPORT, world["resident"], {"in": {
        "itemCode": "illegal_construction", "description": "院内违章搭建", "householdId": str(world["ids"]["H1"])}})
    assert "errors" not in body, body
    # A tenant's own taxonomy sets it per item (default false).
    other = (await gql("{ ticketCatalog { categories { items { code photoExpected } } } }",
                       world["other_admin"]))["data"]["ticketCatalog"]
    assert sorted(i["code"] for i in items(other) if i["photoExpected"]) == ["corridor_clutter",
                                                                           "illegal_construction"]
