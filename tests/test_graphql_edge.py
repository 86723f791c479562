"""The GraphQL edge: limits, error shaping, introspection switches, schema freshness, pagination."""

from __future__ import annotations

from types import SimpleNamespace

import strawberry
from httpx import ASGITransport, AsyncClient

from api.app import create_app
from api.auth import Principal
from api.errors import ShapeErrors
from api.schema import schema
from api.transaction import OperationTransaction
from tenants.errors import InvalidInput, Problem
from tenants.jobruns.models import JobRun
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tests.conftest import ROOT, codes


def test_schema_graphql_is_fresh():
    assert (ROOT / "schema.graphql").read_text() == schema.as_str() + "\n", (
        "schema.graphql is stale: run `civicgrid export-schema`"
    )


async def test_depth_alias_and_token_limits(three_tenants, gql, token, settings):
    tok = token(None, Role.PLATFORM_ADMIN)
    deep = "{ tenants { edges { node { parent { parent { parent { parent { parent { parent { parent { parent { slug } } } } } } } } } } } }"  # noqa: E501
    body = await gql(deep, tok)
    assert body["data"] is None
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    aliases = "{ " + " ".join(f"a{i}: me {{ userId }}" for i in range(settings.max_aliases + 1)) + " }"
    body = await gql(aliases, tok)
    assert "aliases found" in body["errors"][0]["message"]
    tokens = "{ me { " + "userId " * settings.max_tokens + "} }"
    body = await gql(tokens, tok)
    assert f"more than {settings.max_tokens} tokens" in body["errors"][0]["message"]


async def test_get_queries_are_refused_and_graphiql_is_served_in_development(client, token, three_tenants):
    resp = await client.get(
        "/graphql", params={"query": "{ me { userId } }"}, headers={"Authorization": f"Bearer {token('linshu')}"}
    )
    assert resp.status_code in (400, 405)
    assert "data" not in resp.text
    page = await client.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


async def test_production_settings_hide_the_schema(settings, app, three_tenants, token):
    prod = settings.model_copy(update={"env": "production"})
    assert not prod.introspection_enabled and not prod.graphiql_enabled
    prod_app = create_app(prod)  # shares the session's database connection; no lifespan needed
    async with AsyncClient(transport=ASGITransport(app=prod_app), base_url="http://test") as c:
        headers = {"Authorization": f"Bearer {token('linshu')}"}
        body = (await c.post("/graphql", json={"query": "{ __schema { types { name } } }"}, headers=headers)).json()
        assert "introspection" in body["errors"][0]["message"].lower()
        body = (await c.post("/graphql", json={"query": "{ mee { userId } }"}, headers=headers)).json()
        assert "Did you mean" not in body["errors"][0]["message"]
        page = await c.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 401  # no IDE: a browser GET is just an unauthenticated request
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c:
        body = (await c.post("/graphql", json={"query": "{ mee { userId } }"}, headers=headers)).json()
        assert "Did you mean 'me'" in body["errors"][0]["message"]


async def test_create_tenant_lists_every_problem(three_tenants, gql, token):
    tok = token(None, Role.PLATFORM_ADMIN)
    body = await gql(
        'mutation { createTenant(input: {slug: "9X", name: " ", timezone: "Mars/Olympus", parentSlug: "nowhere"})'
        " { slug } }",
        tok,
    )
    err = body["errors"][0]["extensions"]
    assert err["code"] == "INVALID_INPUT"
    assert [(p["field"], p["reason"]) for p in err["problems"]] == [
        ("slug", "format"),
        ("name", "required"),
        ("timezone", "unknown"),
        ("parentSlug", "not_found"),
    ]
    assert all(p["messageZh"] and p["messageEn"] for p in err["problems"])
    body = await gql('mutation { createTenant(input: {slug: "linshu", name: "临沭县"}) { slug } }', tok)
    assert codes(body) == ["CONFLICT"] and body["errors"][0]["extensions"]["field"] == "slug"
    body = await gql(
        'mutation { createTenant(input: {slug: "xuanhua", name: "宣化区", parentSlug: "zhangjiakou"})'
        " { slug timezone isActive parent { slug } } }",
        tok,
    )
    assert body["data"]["createTenant"] == {
        "slug": "xuanhua", "timezone": "Asia/Shanghai", "isActive": True, "parent": {"slug": "zhangjiakou"}
    }
    body = await gql(
        'mutation { createTenant(input: {slug: "deeper", name: "x", parentSlug: "xuanhua"}) { slug } }', tok
    )
    assert body["errors"][0]["extensions"]["problems"][0]["reason"] == "too_deep"


async def test_a_platform_mutation_with_an_error_saves_nothing(three_tenants, gql, token):
    tok = token(None, Role.PLATFORM_ADMIN)
    body = await gql(
        'mutation { a: createTenant(input: {slug: "xuanhua", name: "宣化区"}) { slug }'
        ' b: createTenant(input: {slug: "linshu", name: "临沭县"}) { slug } }',
        tok,
    )
    assert codes(body) == ["CONFLICT"]
    body = await gql("{ tenants { edges { node { slug } } } }", tok)
    assert [e["node"]["slug"] for e in body["data"]["tenants"]["edges"]] == ["zhangjiakou", "xiahuayuan", "linshu"]


async def test_keyset_pagination_walks_every_tenant_once(three_tenants, gql, token, settings):
    tok = token(None, Role.PLATFORM_ADMIN)
    seen, after, pages = [], None, []
    while True:
        body = await gql(
            "query($after: String) { tenants(first: 2, after: $after) { edges { cursor node { slug } }"
            " pageInfo { hasNextPage endCursor hasPreviousPage startCursor } } }",
            tok,
            {"after": after},
        )
        page = body["data"]["tenants"]
        seen += [e["node"]["slug"] for e in page["edges"]]
        pages.append(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["zhangjiakou", "xiahuayuan", "linshu"]
    # Relay's PageInfo in full: pages of 2 + 1; only the second has rows before it; startCursor is its first edge's.
    assert [p["pageInfo"]["hasPreviousPage"] for p in pages] == [False, True]
    assert [p["pageInfo"]["startCursor"] for p in pages] == [p["edges"][0]["cursor"] for p in pages]
    body = await gql(f"{{ tenants(first: {settings.max_page_size + 1}) {{ edges {{ cursor }} }} }}", tok)
    assert body["errors"][0]["extensions"]["field"] == "first"
    body = await gql('{ tenants(after: "garbage!") { edges { cursor } } }', tok)
    assert body["errors"][0]["extensions"]["field"] == "after"


# A small schema with the production extensions, to exercise error masking and rollback on a real execution.
@strawberry.type
class _Q:
    @strawberry.field
    def boom(self) -> int:
        raise RuntimeError("secret connection string postgres://admin:pw@db")

    @strawberry.field
    def refused(self) -> int:
        raise InvalidInput.of([Problem("x", "bad", "x 不对", "x is wrong")])


@strawberry.type
class _M:
    @strawberry.mutation
    async def write_then_fail(self) -> int:
        await JobRun.create(kind="half", period_key="p")
        raise InvalidInput.of([Problem("kind", "bad", "不行", "no")])

    @strawberry.mutation
    async def write(self) -> int:
        return (await JobRun.create(kind="whole", period_key="p")).id


_schema = strawberry.Schema(query=_Q, mutation=_M, extensions=[ShapeErrors, OperationTransaction])


def _ctx(tenant_id: int) -> SimpleNamespace:
    return SimpleNamespace(principal=Principal("u", frozenset({Role.TENANT_ADMIN}), "t", tenant_id))


async def test_unexpected_errors_are_masked_expected_ones_kept(three_tenants):
    result = await _schema.execute("{ boom }", context_value=_ctx(three_tenants[0].id))
    err = result.errors[0]
    assert "secret" not in err.message and err.extensions["code"] == "INTERNAL_ERROR"
    assert err.message == "服务器内部错误 / Unexpected error"
    result = await _schema.execute("{ refused }", context_value=_ctx(three_tenants[0].id))
    assert result.errors[0].extensions["code"] == "INVALID_INPUT"
    assert result.errors[0].extensions["field"] == "x"
    assert result.errors[0].message == "x 不对 / x is wrong"


async def test_a_mutation_with_an_error_saves_nothing(three_tenants):
    a = three_tenants[0]
    result = await _schema.execute("mutation { write writeThenFail }", context_value=_ctx(a.id))
    assert [e.extensions["code"] for e in result.errors] == ["INVALID_INPUT"]
    async with tenant_transaction(a.id):
        assert await JobRun.all().count() == 0
    result = await _schema.execute("mutation { write }", context_value=_ctx(a.id))
    assert result.errors is None
    async with tenant_transaction(a.id):
        assert await JobRun.all().values_list("kind", flat=True) == ["whole"]
