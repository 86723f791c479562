"""Issue 12, point 5: a create retried after a lost response (or sent twice at once) never doubles its row."""

from __future__ import annotations

import asyncio

import pytest

from api.auth import mint_token
from tenants.idempotency import IdempotencyKey
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tests.conftest import codes
from tests.fixtures.ids import db_id
from tests.fixtures.tickets import REPORT_TICKET, ticket_input, tickets_of


async def test_a_retried_report_with_its_key_returns_the_first_ticket(two_cities, gql):
    c = two_cities["zhangjiakou"]
    first = await gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c, idempotencyKey="k-1")})
    again = await gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c, idempotencyKey="k-1")})
    assert "errors" not in again, again
    assert again["data"]["reportTicket"]["id"] == first["data"]["reportTicket"]["id"]
    assert await tickets_of(c["tenant"].id) == 1
    # another key, or none, is another ticket: 1 + 1 + 1 = 3
    await gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c, idempotencyKey="k-2")})
    await gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c)})
    assert await tickets_of(c["tenant"].id) == 3


async def test_concurrent_reports_with_one_key_make_one_ticket(two_cities, gql):
    c = two_cities["zhangjiakou"]
    answers = await asyncio.gather(
        *(gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c, idempotencyKey="same")}) for _ in range(6))
    )
    assert all("errors" not in a for a in answers), answers
    assert len({a["data"]["reportTicket"]["id"] for a in answers}) == 1
    assert await tickets_of(c["tenant"].id) == 1


async def test_a_key_is_one_users_and_one_tenants(two_cities, gql):
    a, b = two_cities["zhangjiakou"], two_cities["zjk2"]
    mine = await gql(REPORT_TICKET, a["resident_h1"], {"in": ticket_input(a, idempotencyKey="k")})
    # another resident of the tenant with the same key: a conflict, never res-1's ticket
    theirs = await gql(REPORT_TICKET, a["resident_h2"], {"in": ticket_input(a, idempotencyKey="k")})
    assert codes(theirs) == ["CONFLICT"] and theirs["errors"][0]["extensions"]["field"] == "idempotencyKey"
    assert theirs["data"] is None
    # the second tenant's resident with the same key: a ticket of its own
    other = await gql(REPORT_TICKET, b["resident_h1"], {"in": ticket_input(b, idempotencyKey="k")})
    assert "errors" not in other, other
    assert (await tickets_of(a["tenant"].id), await tickets_of(b["tenant"].id)) == (1, 1)
    assert other["data"]["reportTicket"]["id"] != mine["data"]["reportTicket"]["id"]
    async with tenant_transaction(b["tenant"].id):
        assert await IdempotencyKey.all().count() == 1


@pytest.mark.parametrize("key", ["", "   ", "x" * 129])
async def test_a_bad_key_is_invalid_and_saves_nothing(two_cities, gql, key):
    c = two_cities["zhangjiakou"]
    body = await gql(REPORT_TICKET, c["resident_h1"], {"in": ticket_input(c, idempotencyKey=key)})
    assert codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["extensions"]["problems"][0]["field"] == "idempotencyKey"
    assert await tickets_of(c["tenant"].id) == 0


CREATES = [
    ("createPropertyCompany", "CreatePropertyCompanyInput", {"creditCode": "91130700MA0009", "name": "华丰物业"}),
    ("createUnit", "CreateUnitInput", {"kind": "COUNTY_DEPARTMENT", "code": "SW", "name": "水务局"}),
    ("createPerson", "CreatePersonInput", {"userId": "u-new", "name": "王芳"}),
    ("createArea", "CreateAreaInput", {"level": "STREET", "code": "S9", "name": "新华街道"}),
]


@pytest.mark.parametrize("mutation, input_type, values", CREATES)
async def test_other_creates_retried_with_their_key_return_the_first_row(
    two_cities, gql, settings, mutation, input_type, values
):
    a, b = two_cities["zhangjiakou"], two_cities["zjk2"]
    admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=a["tenant"].slug, user_id="admin")
    query = f"mutation($in: {input_type}!) {{ {mutation}(input: $in) {{ id }} }}"
    first = await gql(query, admin, {"in": {**values, "idempotencyKey": "c-1"}})
    # Before: the retry was a CONFLICT (the code or user id exists), so a client could not tell it had succeeded.
    again = await gql(query, admin, {"in": {**values, "idempotencyKey": "c-1"}})
    assert "errors" not in first and "errors" not in again, (first, again)
    assert again["data"][mutation]["id"] == first["data"][mutation]["id"]
    # without the key (or with another one) the duplicate is still refused by its natural key
    other = await gql(query, admin, {"in": {**values, "idempotencyKey": "c-2"}})
    assert [e["extensions"]["code"] for e in other["errors"]] == ["CONFLICT"]
    # the second tenant's admin with the same key makes its own
    b_admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=b["tenant"].slug, user_id="admin")
    theirs = await gql(query, b_admin, {"in": {**values, "idempotencyKey": "c-1"}})
    assert "errors" not in theirs and theirs["data"][mutation]["id"] != first["data"][mutation]["id"], theirs


async def test_a_retried_interview_with_its_key_is_recorded_once(two_cities, gql, settings):
    a = two_cities["zhangjiakou"]
    admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=a["tenant"].slug, user_id="admin")
    record = """mutation($c: ID!, $k: String) { recordInterview(input: {companyId: $c, period: "2026Q4",
      heldOn: "2026-12-01", attendees: ["街道 张主任"], outcome: "限期整改", idempotencyKey: $k}) { companyId } }"""
    for _ in range(2):
        done = await gql(record, admin, {"c": str(a["ids"]["P1"]), "k": "talk-1"})
        assert "errors" not in done, done
    listed = await gql('{ interviews(period: "2026Q4") { companyId } }', admin)
    # Before: the retry recorded a second interview (2 here)
    assert listed["data"]["interviews"] == [{"companyId": str(a["ids"]["P1"])}]


async def test_a_retried_post_assignment_with_its_key_makes_one_post(two_cities, gql, settings):
    a = two_cities["zhangjiakou"]
    admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=a["tenant"].slug, user_id="admin")
    made = await gql('mutation { createPerson(input: {userId: "u-gw", name: "网格员 李"}) { id } }', admin)
    assign = """mutation($p: ID!, $g: ID!, $k: String) { assignPost(input: {personId: $p, kind: GRID_WORKER,
      targetKind: "grid", targetId: $g, idempotencyKey: $k}) { id } }"""
    args = {"p": made["data"]["createPerson"]["id"], "g": str(a["ids"]["G1"]), "k": "post-1"}
    first, again = await gql(assign, admin, args), await gql(assign, admin, args)
    assert "errors" not in first and "errors" not in again, (first, again)
    assert again["data"]["assignPost"]["id"] == first["data"]["assignPost"]["id"]
    from tenants.territory.people import Post

    async with tenant_transaction(a["tenant"].id):
        # Before: the retry was refused or made a second post (a second grid worker needs allowSecondGridWorker)
        assert await Post.filter(person_id=db_id(args["p"])).count() == 1


async def test_retried_findings_and_score_sheets_with_their_keys_are_stored_once(two_cities, gql, settings):
    from tenants.assessment.models import ScoreSubmission, SupervisorFinding

    a = two_cities["zhangjiakou"]
    tid, k1 = a["tenant"].id, str(a["ids"]["K1"])
    admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=a["tenant"].slug, user_id="admin")
    finding = """mutation($c: ID!, $k: String) { recordFinding(compoundId: $c, description: "消防通道被占用",
      idempotencyKey: $k) { id } }"""
    first = await gql(finding, admin, {"c": k1, "k": "f-1"})
    again = await gql(finding, admin, {"c": k1, "k": "f-1"})
    assert "errors" not in first and again["data"] == first["data"], (first, again)
    await gql(finding, admin, {"c": k1, "k": "f-2"})
    async with tenant_transaction(tid):
        assert await SupervisorFinding.all().count() == 2  # f-1 once, f-2 once

    period = "2026Q4"
    assert "errors" not in await gql(f'mutation {{ openAssessmentRound(period: "{period}") {{ periodKey }} }}', admin)
    async with tenant_transaction(tid):
        from tenants.config.service import effective_config

        rubric = (await effective_config()).document.assessment.rubric
    scores = {i.code: i.max_points for i in rubric if i.body == "housing_dept"}
    submit = """mutation($in: SubmitScoresInput!) { submitScores(input: $in) { bodyCode revision } }"""
    sheet = {"period": period, "compoundId": k1, "bodyCode": "housing_dept", "scores": scores,
             "idempotencyKey": "sheet-1"}
    first = await gql(submit, admin, {"in": sheet})
    # Before: the retry of a submitted sheet was a CONFLICT, so a client could not tell its sheet had arrived.
    again = await gql(submit, admin, {"in": sheet})
    assert "errors" not in first and again["data"] == first["data"] == {
        "submitScores": {"bodyCode": "housing_dept", "revision": 1}}, (first, again)
    assert codes(await gql(submit, admin, {"in": {**sheet, "idempotencyKey": "sheet-2"}})) == ["CONFLICT"]
    async with tenant_transaction(tid):
        assert await ScoreSubmission.all().count() == 1


async def test_a_service_called_twice_with_one_key_makes_one_row_as_a_job_or_the_cli_would(two_cities):
    """The key is the services' (``tenants.idempotency.idempotent``), not the GraphQL edge's."""
    from tenants.inbox import webhooks
    from tenants.inbox.models import WebhookEndpoint
    from tenants.territory import parties_service as parties
    from tenants.territory.access import SYSTEM
    from tenants.territory.parties import PropertyCompany

    a = two_cities["zhangjiakou"]
    async with tenant_transaction(a["tenant"].id):
        made = [await parties.create_company(access=SYSTEM, actor="cli", credit_code="91130700MA0000001X",
                                             name="宏达物业", idempotency_key="svc-1") for _ in range(2)]
        hooks = [await webhooks.create_endpoint(access=SYSTEM, actor="cli", url="https://hooks.example.org/in",
                                                secret="s" * 24, idempotency_key="hook-1") for _ in range(2)]
        assert made[0].id == made[1].id and hooks[0].id == hooks[1].id
        assert await PropertyCompany.filter(credit_code="91130700MA0000001X").count() == 1
        # Before: a retried createWebhookEndpoint registered the endpoint twice, so every message went out twice.
        assert await WebhookEndpoint.filter(url="https://hooks.example.org/in").count() == 1
