"""Bearer tokens: 401 for anything not a valid token of an active tenant, FORBIDDEN for the wrong role."""

from __future__ import annotations

import time

import jwt
import pytest

from api.auth import mint_token
from tenants.tenancy.roles import Role
from tenants.tenancy.service import set_tenant_active
from tests.conftest import TEST_SECRET, codes

ME = "{ me { userId roles scope tenant { slug name timezone } } }"


async def _post(client, headers):
    return await client.post("/graphql", json={"query": ME}, headers=headers)


def _claims(**over):
    now = int(time.time())
    claims = {
        "iss": "civicgrid",
        "aud": "civicgrid-api",
        "iat": now,
        "exp": now + 600,
        "sub": "u1",
        "roles": ["tenant_admin"],
        "tenant": "zhangjiakou",
    }
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


async def test_me_answers_with_a_valid_token(three_tenants, gql, settings):
    tok = mint_token(
        settings, roles=[Role.STREET_OFFICER], tenant_slug="zhangjiakou", user_id="u-42", scope=("street:12",)
    )
    body = await gql(ME, tok)
    assert body["data"]["me"] == {
        "userId": "u-42",
        "roles": ["STREET_OFFICER"],
        "scope": ["street:12"],
        "tenant": {"slug": "zhangjiakou", "name": "张家口市", "timezone": "Asia/Shanghai"},
    }


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing Authorization header"),
        ({"Authorization": "Basic dXNlcjpwdw=="}, "must be a Bearer token"),
        ({"Authorization": "Bearer not-a-jwt"}, "token is invalid"),
    ],
)
async def test_missing_or_malformed_token_is_401_json(three_tenants, client, headers, reason):
    resp = await _post(client, headers)
    assert resp.status_code == 401
    assert resp.headers["content-type"].startswith("application/json")
    error = resp.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert reason in error["extensions"]["messageEn"]
    assert error["extensions"]["messageZh"]


@pytest.mark.parametrize(
    ("claims", "key", "alg", "reason"),
    [
        (_claims(exp=int(time.time()) - 10), TEST_SECRET, "HS256", "expired"),
        (_claims(aud="someone-else"), TEST_SECRET, "HS256", "audience"),
        (_claims(iss="evil"), TEST_SECRET, "HS256", "issuer"),
        (_claims(), "another-secret-of-sufficient-length-123", "HS256", "invalid"),
        (_claims(exp=None), TEST_SECRET, "HS256", "invalid"),
        (_claims(roles=["emperor"]), TEST_SECRET, "HS256", "roles or scope"),
        (_claims(roles=[]), TEST_SECRET, "HS256", "no role"),
        (_claims(tenant=None), TEST_SECRET, "HS256", "names no tenant"),
        (_claims(tenant="atlantis"), TEST_SECRET, "HS256", "unknown or inactive"),
        (_claims(roles=None), TEST_SECRET, "HS256", "no role"),
        (_claims(roles="tenant_admin"), TEST_SECRET, "HS256", "malformed"),
        (_claims(scope=5), TEST_SECRET, "HS256", "malformed"),
        (_claims(tenant=["a"]), TEST_SECRET, "HS256", "malformed"),
        (_claims(roles=["platform_admin"]), TEST_SECRET, "HS256", "must not name a tenant"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "bad-signature", "no-expiry", "bad-role", "no-role",
         "no-tenant", "unknown-tenant", "null-roles", "string-roles", "number-scope", "list-tenant",
         "platform-with-tenant"],
)
async def test_bad_tokens_are_401(three_tenants, client, claims, key, alg, reason):
    # The claims were made at collection, on the real clock; move their times to the suite's clock.
    shift = int(time.time()) - claims["iat"]
    claims = {**claims, **{k: claims[k] + shift for k in ("iat", "exp") if k in claims}}
    tok = jwt.encode(claims, key, algorithm=alg)
    resp = await _post(client, {"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401, resp.text
    assert reason in resp.json()["errors"][0]["extensions"]["messageEn"]


async def test_unsigned_token_is_401(three_tenants, client):
    tok = jwt.encode(_claims(), key=None, algorithm="none")
    resp = await _post(client, {"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401


async def test_inactive_tenant_token_is_401(three_tenants, client, token):
    tok = token("linshu")
    assert (await _post(client, {"Authorization": f"Bearer {tok}"})).status_code == 200
    await set_tenant_active(slug="linshu", active=False)
    resp = await _post(client, {"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401
    assert "inactive" in resp.json()["errors"][0]["extensions"]["messageEn"]


async def test_wrong_role_is_forbidden(three_tenants, gql, token):
    resident = token("zhangjiakou", Role.RESIDENT)
    body = await gql("{ tenants { edges { node { slug } } } }", resident)
    assert codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["tenants"]
    assert "platform_admin" in body["errors"][0]["extensions"]["messageEn"]
    body = await gql("{ jobRuns { edges { node { id } } } }", resident)
    assert codes(body) == ["FORBIDDEN"]
    body = await gql(
        'mutation { createTenant(input: {slug: "evil", name: "x"}) { slug } }', token("zhangjiakou")
    )
    assert codes(body) == ["FORBIDDEN"]


async def test_platform_admin_has_no_tenant_and_no_tenant_data(three_tenants, gql, token):
    platform = token(None, Role.PLATFORM_ADMIN)
    body = await gql("{ me { roles tenant { slug } } }", platform)
    assert body["data"]["me"] == {"roles": ["PLATFORM_ADMIN"], "tenant": None}
    body = await gql("{ jobRuns { edges { node { id } } } }", token(None, Role.PLATFORM_ADMIN, Role.TENANT_ADMIN))
    assert codes(body) == ["TENANT_SCOPE_MISSING"]


def test_production_refuses_a_weak_signing_secret(settings):
    for weak in (None, "short", "change-me-change-me-change-me-change-me"):
        prod = settings.model_copy(update={"env": "production", "jwt_secret": weak})
        with pytest.raises(RuntimeError, match="CIVICGRID_JWT_SECRET"):
            prod.signing_secret()
    strong = "x" * 48
    assert settings.model_copy(update={"env": "production", "jwt_secret": strong}).signing_secret() == strong


DAY = 24 * 3600


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"exp": 2**62}, "lifetime exceeds the maximum of 604800 seconds"),  # 7 days = 604,800 s
        ({"exp": 8 * DAY}, "lifetime exceeds"),  # exp - iat = 8 days
        ({"iat": -30 * DAY, "exp": 600}, "lifetime exceeds"),  # issued 30 days ago, still valid for 10 minutes
        ({"iat": 3600, "exp": 7200}, "issued in the future"),  # PyJWT says "The token is not yet valid (iat)"
        ({"sub": ""}, "sub must be a non-empty string"),
        ({"sub": "   "}, "sub must be a non-empty string"),
        ({"sub": "u" * 129}, "at most 128 characters"),
        ({"sub": 42}, "sub must be a non-empty string"),
        ({"sub": None}, "a required claim is missing"),
        ({"sub": "u\x00"}, "NUL or invalid characters"),
        ({"tenant": "zhangjiakou\x00"}, "NUL or invalid characters"),
        ({"scope": ["street:\ud800"]}, "NUL or invalid characters"),
        ({"extra": {"deep": ["\x00"]}}, "NUL or invalid characters"),
        ({"iat": "yesterday"}, "iat must be a number"),
        ({"exp": "later"}, "token is invalid"),
        ({"exp": 1e400}, "token is invalid"),
    ],
    ids=["exp-2^62", "exp-iat-8-days", "old-iat", "future-iat", "empty-sub", "blank-sub", "long-sub", "number-sub",
         "no-sub", "nul-sub", "nul-tenant", "surrogate-scope", "nul-nested", "text-iat", "text-exp", "inf-exp"],
)
async def test_token_lifetime_subject_and_text_are_checked(three_tenants, client, over, reason):
    now = int(time.time())  # the suite's clock
    times = {k: now + over[k] for k in ("iat", "exp") if isinstance(over.get(k), int) and over[k] != 2**62}
    claims = {**_claims(iat=now, exp=now + 600), **over, **times}
    claims = {k: v for k, v in claims.items() if v is not None}
    tok = jwt.encode(claims, TEST_SECRET, algorithm="HS256")
    resp = await _post(client, {"Authorization": f"Bearer {tok}"})
    assert resp.status_code == 401, resp.text
    ext = resp.json()["errors"][0]["extensions"]
    assert ext["code"] == "UNAUTHENTICATED" and reason in ext["messageEn"] and ext["messageZh"]
    # Our words, never PyJWT's ("The token is not yet valid (iat)", "Signature has expired", ...).
    assert "The token" not in ext["messageEn"] and "claim (" not in ext["messageEn"]


async def test_a_seven_day_token_is_accepted_and_the_maximum_is_configurable(three_tenants, client, settings):
    now = int(time.time())
    week = jwt.encode(_claims(iat=now, exp=now + 7 * DAY), TEST_SECRET, algorithm="HS256")
    assert (await _post(client, {"Authorization": f"Bearer {week}"})).status_code == 200
    with pytest.raises(ValueError, match="CIVICGRID_MAX_TOKEN_TTL_SECONDS"):
        mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="linshu", ttl_seconds=7 * DAY + 1)
    from api.auth import decode_token
    from tenants.errors import Unauthenticated

    short = settings.model_copy(update={"max_token_ttl_seconds": 3600})
    with pytest.raises(Unauthenticated, match="3600 seconds"):
        decode_token(short, jwt.encode(_claims(iat=now, exp=now + 3601), TEST_SECRET, algorithm="HS256"))
    assert decode_token(short, jwt.encode(_claims(iat=now, exp=now + 3600), TEST_SECRET, algorithm="HS256"))["sub"]


async def test_library_messages_are_not_echoed(three_tenants, client):
    header = jwt.encode(_claims(), TEST_SECRET, algorithm="HS256").split(".")[0]
    for raw in ("a.b.c", f"{header}.e30.xx", "x" * 9000, "eyJ.eyJ.eyJ"):
        resp = await _post(client, {"Authorization": f"Bearer {raw}"})
        assert resp.status_code == 401
        en = resp.json()["errors"][0]["extensions"]["messageEn"]
        assert en.startswith("token is invalid"), en
        assert "padding" not in en and "header" not in en.lower() and "utf" not in en.lower(), en
