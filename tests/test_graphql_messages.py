"""GraphQL's own parse and validation errors carry code, reason, field, messageZh and messageEn like a domain
error's; input errors name the input's own field (parentId, not gridId)."""

from __future__ import annotations

import pytest

from tenants.tenancy.roles import Role


def ext(body: dict) -> dict:
    assert body.get("data") is None, body
    return body["errors"][0]["extensions"]


@pytest.mark.parametrize(
    ("query", "reason", "field", "zh"),
    [
        ("{ nope }", "unknown_field", "nope", "类型 Query 没有字段 nope"),
        ("{ ticket { id } }", "required", "id", "缺少必填参数 id（ID!）"),
        ('{ tickets(first: "x") { edges { cursor } } }', "wrong_type", None, "值的类型不对：应为 Int"),
        ("{ tickets(", "syntax", None, "GraphQL 语法错误：Expected Name, found <EOF>."),
        ('mutation { createArea(input: {level: GRID, code: "a"}) { id } }', "required", "name",
         "CreateAreaInput 缺少必填字段 name"),
        ("{ tickets(bogus: 1) { edges { cursor } } }", "unknown_argument", "bogus",
         "字段 Query.tickets 没有参数 bogus"),
        ("{ me }", "selection_required", "me", "字段 me（Me!）需要选择子字段"),
        ("query($x: Int!) { me { roles } }", "unused_variable", "x", "变量 $x 未被使用"),
        ("query A { me { roles } } query A { me { roles } }", "invalid", None, None),
    ],
)
async def test_validation_errors_speak_both_languages(three_tenants, gql, token, query, reason, field, zh):
    e = ext(await gql(query, token("xiahuayuan", Role.TENANT_ADMIN)))
    assert e["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert (e["reason"], e["field"]) == (reason, field)
    assert e["messageEn"]
    assert e["messageZh"] == zh if zh else e["messageZh"].startswith("请求不符合接口定义")


async def test_a_variable_of_the_wrong_type_is_named(three_tenants, gql, token):
    body = await gql("query($x: Int) { tickets(first: $x) { edges { cursor } } }", token("xiahuayuan"), {"x": "a"})
    e = ext(body)
    assert (e["code"], e["reason"], e["field"]) == ("GRAPHQL_VALIDATION_FAILED", "wrong_type", "x")
    assert e["messageZh"] == "变量 $x 的值类型不对"


async def test_create_area_errors_name_parent_id(three_tenants, gql, token):
    admin = token("xiahuayuan")
    missing = ext(await gql('mutation { createArea(input: {level: GRID, code: "G1", name: "网格"}) { id } }', admin))
    assert (missing["code"], missing["field"]) == ("INVALID_INPUT", "parentId")
    gone = ext(await gql('mutation { createArea(input: {level: GRID, parentId: "999", code: "G1", name: "网格"})'
                         " { id } }", admin))
    # The level's name that errors used before stays, deprecated, in details.legacyField.
    assert (gone["code"], gone["field"], gone["details"]) == ("NOT_FOUND", "parentId", {"legacyField": "communityId"})
    moved = ext(await gql('mutation { moveArea(input: {level: GRID, id: "999", newParentId: "1"}) { id } }', admin))
    assert (moved["code"], moved["field"]) == ("NOT_FOUND", "id")
