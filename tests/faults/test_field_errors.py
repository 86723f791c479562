"""A field's error while its siblings are still talking to the database is that field's error, not an outage.

graphql-core 3.3 cancelled a failing field's running siblings and left a list's started items running after the
answer; on the request's one connection the COMMIT then met "another operation is in progress" and the whole
request became UNAVAILABLE (``api/execution.py``). Here siblings sleep in PostgreSQL while one item fails.
"""

from __future__ import annotations

import strawberry
from tortoise.connection import connections

from api.context import Context, Loaders
from api.errors import ShapeErrors
from api.execution import SettledExecution
from api.schema import build_schema
from api.transaction import OperationTransaction
from tenants.settings import get_settings
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tests.fixtures.tickets import principal


async def _slow(seconds: float) -> int:
    await connections.get("default").execute_query("SELECT pg_sleep($1)", [seconds])
    return 1


@strawberry.type
class Item:
    n: int

    @strawberry.field
    async def slow(self) -> int:
        return await _slow(0.05 * self.n)

    @strawberry.field
    def broken(self) -> int:
        if self.n == 2:
            return None  # type: ignore[return-value]  # a non-null field with nothing to show
        return self.n


@strawberry.type
class Query:
    @strawberry.field
    async def slow(self) -> int:
        return await _slow(0.2)

    @strawberry.field
    async def items(self) -> list[Item]:
        return [Item(n=i) for i in range(1, 6)]

    @strawberry.field
    async def fails(self) -> int:
        raise ValueError("a fault of this field only")


# The API's execution (api/schema.py's Schema uses it; checked below) on a schema of these few fields.
SCHEMA = strawberry.Schema(
    query=Query, extensions=[ShapeErrors, OperationTransaction], execution_context_class=SettledExecution
)


async def _run(tenant, query: str) -> tuple[dict | None, list[str]]:
    p = principal(tenant, "admin", Role.TENANT_ADMIN)
    ctx = Context(request=None, response=None, settings=get_settings(), principal=p, loaders=Loaders(p))  # type: ignore[arg-type]
    result = await SCHEMA.execute(query, context_value=ctx)
    return result.data, [e.extensions["code"] for e in result.errors or []]


async def test_a_failing_list_item_waits_for_its_siblings_queries(app):
    t = await create_tenant(slug="fielderr", name="字段错误", preset="zhangjiakou")
    data, codes = await _run(t, "{ items { slow broken } slow }")
    assert (data, codes) == (None, ["INTERNAL_ERROR"])  # the item's null reaches the root; not UNAVAILABLE
    # The request's connection is usable again: the next request answers.
    assert await _run(t, "{ slow }") == ({"slow": 1}, [])


async def test_a_failing_root_field_does_not_cancel_its_siblings(app):
    t = await create_tenant(slug="fielderr2", name="字段错误", preset="zhangjiakou")
    data, codes = await _run(t, "{ a: slow fails b: slow }")
    assert (data, codes) == (None, ["INTERNAL_ERROR"])
    assert await _run(t, "{ slow }") == ({"slow": 1}, [])


def test_the_api_schema_executes_this_way():
    assert build_schema().execution_context_class is SettledExecution


def test_a_value_the_orm_refuses_is_the_clients_input_error():
    """A length no service checked, refused by the ORM's field check, is INVALID_INPUT naming the field (not a
    masked INTERNAL_ERROR)."""
    from graphql import GraphQLError
    from tortoise.exceptions import ValidationError

    from api.errors import shape

    shaped = shape(GraphQLError("x", original_error=ValidationError("contact_phone: Length of 'x' 40 > 32")))
    assert (shaped.extensions["code"], shaped.extensions["field"]) == ("INVALID_INPUT", "contactPhone")
