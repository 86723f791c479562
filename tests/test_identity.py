"""Tokens of a county's identity provider (OIDC discovery, JWKS with RS256 and ES256, rotation) and revocation:
an ended post, a person without posts or a deactivated tenant stops granting access at the next request after the
grants cache window, also for development (HS256) tokens. The provider is a real HTTP server on 127.0.0.1, its keys
made here with ``cryptography``."""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from api import oidc
from api.auth import mint_token
from tenants import clock
from tenants.scope import tenant_context, tenant_transaction
from tenants.settings import Settings
from tenants.tenancy.roles import Role
from tenants.tenancy.service import set_tenant_active
from tenants.territory.people import Person, Post, PostKind
from tests.fixtures.territory import build, staff

AUDIENCE = "civicgrid-county"
ME = "{ me { userId roles scope tenant { slug } } }"
WINDOW = 0.3  # CIVICGRID_GRANTS_CACHE_SECONDS in these tests


class Provider:
    """An OpenID provider's discovery document and JWKS on a real socket; ``keys`` may change (rotation)."""

    def __init__(self) -> None:
        self.keys: list[dict] = []
        self.fetches = 0
        self.misbehave = ""  # "drip", "huge" or "nested": how its JWKS answers instead
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": f"{provider.issuer}/jwks.json"}
                elif self.path == "/jwks.json" and provider.misbehave:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    try:
                        if provider.misbehave == "drip":  # a byte now and then: never a whole read timeout
                            for _ in range(40):
                                self.wfile.write(b" ")
                                self.wfile.flush()
                                time.sleep(0.1)
                        elif provider.misbehave == "huge":  # 8 MiB, no length declared
                            for _ in range(128):
                                self.wfile.write(b" " * 65536)
                        else:
                            self.wfile.write(b'{"keys":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
                    except OSError:
                        pass  # the client hung up
                    return
                elif self.path == "/jwks.json":
                    provider.fetches += 1
                    body = {"keys": provider.keys}
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def publish(self, *keys: tuple[str, Any]) -> None:
        self.keys = [jwk(kid, key) for kid, key in keys]


def jwk(kid: str, private: Any) -> dict:
    alg = "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"
    algorithm = jwt.get_algorithm_by_name(alg)
    data = json.loads(algorithm.to_jwk(private.public_key()))  # type: ignore[attr-defined]
    return {**data, "kid": kid, "use": "sig", "alg": alg}


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa2": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP256R1()),
    }


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    p = Provider()
    yield p
    p.server.shutdown()


@pytest.fixture
async def idp(app: Any, settings: Settings, provider: Provider, keys: dict) -> AsyncIterator[dict]:
    """An API whose identity provider is ``provider`` (keys: rsa as k1, ec as k2), a short grants window, and a
    tenant where `wang` is a grid worker and `li` a street officer."""
    from api.app import create_app
    from tenants.tenancy.service import create_tenant

    oidc.clear()
    provider.publish(("k1", keys["rsa"]), ("k2", keys["ec"]))
    provider.fetches = 0
    s = settings.model_copy(update={
        "oidc_issuer": provider.issuer, "oidc_audience": AUDIENCE, "grants_cache_seconds": WINDOW,
        "oidc_jwks_min_refresh_seconds": 0.0,
    })
    a = await create_tenant(slug="linshu", name="临沭县")
    b = await create_tenant(slug="xuanhua", name="宣化区")
    ids = await build(a.id)
    with tenant_context(a.id):
        await staff("wang", PostKind.GRID_WORKER, "grid", ids["G1"])
        await staff("li", PostKind.STREET_OFFICER, "street", ids["S1"])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(s)), base_url="http://test") as c:
        yield {"client": c, "settings": s, "a": a, "b": b, "ids": ids}
    oidc.clear()


def provider_token(issuer: str, key: Any, kid: str | None, *, sub: str = "wang", aud: str = AUDIENCE,
                   ttl: int = 600, **extra: Any) -> str:
    now = int(clock.now().timestamp())
    alg = "RS256" if isinstance(key, rsa.RSAPrivateKey) else "ES256"
    claims = {"iss": issuer, "aud": aud, "sub": sub, "iat": now, "exp": now + ttl, **extra}
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid} if kid else None)


async def ask(c: httpx.AsyncClient, token: str, tenant: str | None = None, query: str = ME) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **({"X-Civicgrid-Tenant": tenant} if tenant else {})}
    return await c.post("/graphql", json={"query": query}, headers=headers)


def refused(resp: httpx.Response) -> str:
    assert resp.status_code == 401, resp.text
    error = resp.json()["errors"][0]["extensions"]
    assert error["code"] == "UNAUTHENTICATED"
    return str(error["messageEn"])


async def test_rs256_and_es256_tokens_get_the_tenant_roles_and_scope_of_the_persons_posts(idp, provider, keys):
    c, ids = idp["client"], idp["ids"]
    for key, kid in ((keys["rsa"], "k1"), (keys["ec"], "k2")):
        # The provider's claims about roles or tenants are ignored: the records decide.
        token = provider_token(provider.issuer, key, kid, roles=["tenant_admin"], tenant="xuanhua")
        resp = await ask(c, token)
        assert resp.status_code == 200, resp.text
        me = resp.json()["data"]["me"]
        assert me == {"userId": "wang", "roles": ["GRID_WORKER"], "scope": [f"grid:{ids['G1']}/grid_worker"],
                      "tenant": {"slug": "linshu"}}
    assert provider.fetches == 1  # one fetch of the keys for both tokens and every later request


async def test_wrong_key_issuer_audience_and_expiry_are_refused(idp, provider, keys):
    c = idp["client"]
    wrong = ec.generate_private_key(ec.SECP256R1())  # not the provider's k2
    assert "bad signature" in refused(await ask(c, provider_token(provider.issuer, wrong, "k2")))
    assert "does not publish" in refused(await ask(c, provider_token(provider.issuer, keys["rsa"], "k9")))
    # An RSA key's id with an ES256 token: the key's own algorithm is the only one it verifies.
    assert "does not publish" in refused(await ask(c, provider_token(provider.issuer, keys["ec"], "k1")))
    assert "issuer is wrong" in refused(await ask(c, provider_token("https://idp.example.cn", keys["rsa"], "k1")))
    assert "audience is wrong" in refused(await ask(c, provider_token(provider.issuer, keys["rsa"], "k1",
                                                                      aud="another-app")))
    assert "expired" in refused(await ask(c, provider_token(provider.issuer, keys["rsa"], "k1", ttl=-10)))
    # HS256 with the provider's issuer (the public key as an HMAC secret, or any secret) is never accepted.
    now = int(clock.now().timestamp())
    forged = jwt.encode({"iss": provider.issuer, "aud": AUDIENCE, "sub": "wang", "iat": now, "exp": now + 60},
                        "x" * 32, algorithm="HS256", headers={"kid": "k1"})
    assert "algorithm not allowed" in refused(await ask(c, forged))
    # A subject without a person record in any tenant.
    assert "no active post" in refused(await ask(c, provider_token(provider.issuer, keys["rsa"], "k1", sub="zhao")))


async def test_keys_rotate_and_unknown_key_ids_are_fetched_at_most_once_per_interval(idp, provider, keys):
    c = idp["client"]
    assert (await ask(c, provider_token(provider.issuer, keys["rsa"], "k1"))).status_code == 200
    provider.publish(("k3", keys["rsa2"]), ("k2", keys["ec"]))  # the provider rotates k1 out, k3 in
    assert (await ask(c, provider_token(provider.issuer, keys["rsa2"], "k3"))).status_code == 200
    assert provider.fetches == 2
    assert "does not publish" in refused(await ask(c, provider_token(provider.issuer, keys["rsa"], "k1")))
    # With a refresh interval, made-up key ids cost the provider no more requests.
    limited = idp["settings"].model_copy(update={"oidc_jwks_min_refresh_seconds": 60.0})
    from api.app import create_app

    transport = httpx.ASGITransport(app=create_app(limited))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as slow:
        fetched = provider.fetches
        for n in range(5):
            refused(await ask(slow, provider_token(provider.issuer, keys["rsa"], f"made-up-{n}")))
        assert provider.fetches - fetched <= 1


async def yesterday(tenant_id: int) -> date:
    with tenant_context(tenant_id):
        return await clock.today() - timedelta(days=1)


async def test_an_ended_post_is_refused_at_the_next_request_after_the_window(idp, provider, keys, settings):
    c, a = idp["client"], idp["a"]
    token = provider_token(provider.issuer, keys["ec"], "k2")
    assert (await ask(c, token)).status_code == 200
    # Another process ends the post (this one is not told): refused once the window has passed.
    async with tenant_transaction(a.id) as conn:
        await conn.execute_query("UPDATE post SET ends_on = $1 WHERE person_id ="
                                 " (SELECT id FROM person WHERE user_id = 'wang')", [await yesterday(a.id)])
    assert (await ask(c, token)).status_code == 200  # within the window: the records as read just now
    await asyncio.sleep(WINDOW)
    assert "no active post" in refused(await ask(c, token))
    # A development token of a registered person is bound the same way, and in this process at once: li's post
    # ends through the API.
    dev = mint_token(settings, roles=[Role.STREET_OFFICER, Role.TENANT_ADMIN], tenant_slug="linshu", user_id="li",
                     scope=(f"street:{idp['ids']['S1']}",))
    me = (await ask(c, dev)).json()["data"]["me"]
    assert me["roles"] == ["STREET_OFFICER"]  # tenant_admin is no post of li's: not granted
    assert me["scope"] == [f"street:{idp['ids']['S1']}"]  # as written: its one role left holds the street
    admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="linshu", user_id="admin")
    post = (await ask(c, admin, query='{ persons(userId: "li") { edges { node { posts { id } } } } }')).json()
    post_id = post["data"]["persons"]["edges"][0]["node"]["posts"][0]["id"]
    end = 'mutation($id: ID!, $on: Date) { endPost(id: $id, endsOn: $on) { endsOn } }'

    async def end_post(on: date | None) -> dict:
        resp = await c.post("/graphql", json={"query": end, "variables": {"id": post_id, "on": on and str(on)}},
                            headers={"Authorization": f"Bearer {admin}"})
        assert "errors" not in resp.json(), resp.text
        return resp.json()["data"]["endPost"]

    today = await yesterday(a.id) + timedelta(days=1)
    assert await end_post(today + timedelta(days=1)) == {"endsOn": str(today + timedelta(days=1))}
    assert (await ask(c, dev)).status_code == 200  # ended ahead of time: held to the end of tomorrow
    # Ended today (no endsOn): today stays its last day on record, and it grants nothing from now on, in this
    # process at once, not at the tenant's midnight.
    assert await end_post(None) == {"endsOn": str(today)}
    assert "have ended" in refused(await ask(c, dev))


async def test_a_deactivated_tenant_is_refused_within_its_window(idp, provider, keys):
    c = idp["client"]
    token = provider_token(provider.issuer, keys["rsa"], "k1")
    assert (await ask(c, token)).status_code == 200
    await set_tenant_active(slug="linshu", active=False)
    assert "unknown or inactive" in refused(await ask(c, token))


async def test_a_subject_with_a_post_in_one_tenant_cannot_reach_another(idp, provider, keys, settings):
    c, b = idp["client"], idp["b"]
    token = provider_token(provider.issuer, keys["rsa"], "k1")
    assert "no active post in tenant xuanhua" in refused(await ask(c, token, tenant="xuanhua"))
    # A development token naming another tenant than the header's is refused too.
    dev = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="linshu", user_id="admin")
    assert "not xuanhua" in refused(await ask(c, dev, tenant="xuanhua"))
    # Once wang holds a post in B as well, the header chooses; without it the request names the choice.
    bids = await build(b.id)
    with tenant_context(b.id):
        await staff("wang", PostKind.GRID_WORKER, "grid", bids["G3"], name="王")
    resp = await ask(c, token)
    assert refused(resp).endswith("name one in the X-Civicgrid-Tenant header")
    assert "linshu, xuanhua" in resp.json()["errors"][0]["extensions"]["messageEn"]
    me = (await ask(c, token, tenant="xuanhua")).json()["data"]["me"]
    assert me["tenant"] == {"slug": "xuanhua"} and me["scope"] == [f"grid:{bids['G3']}/grid_worker"]


async def test_an_unreachable_provider_is_503_without_keys_and_kept_keys_still_verify(app, idp, keys):
    from api.app import create_app

    own = Provider()  # a provider of this test's own, stopped after its keys were fetched
    own.publish(("k1", keys["rsa"]))
    s = idp["settings"].model_copy(update={"oidc_issuer": own.issuer, "oidc_jwks_cache_seconds": 0.0,
                                           "oidc_http_timeout_seconds": 0.5})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(s)), base_url="http://test") as c:
        token = provider_token(own.issuer, keys["rsa"], "k1")
        assert (await ask(c, token)).status_code == 200
        own.server.shutdown()
        own.server.server_close()
        # The kept key is stale (cache 0 s) and the provider is gone: it still verifies.
        assert (await ask(c, provider_token(own.issuer, keys["rsa"], "k1", sub="li"))).status_code == 200
        oidc.clear()  # a fresh process: no key kept, the provider down
        resp = await ask(c, token)
        assert resp.status_code == 503, resp.text
        assert resp.json()["errors"][0]["extensions"]["retryable"] is True


@pytest.mark.parametrize("misbehave", ["drip", "huge", "nested"])
async def test_a_provider_that_drips_floods_or_nests_is_a_prompt_503_naming_the_provider(app, idp, keys, misbehave,
                                                                                        caplog):
    """A JWKS sent a byte at a time, 8 MiB of it, or nested 100,000 deep: the fetch gives up within its deadline
    (CIVICGRID_OIDC_HTTP_TIMEOUT_SECONDS, 0.5 s here), reads no more than its limit, and the caller gets 503
    UNAVAILABLE naming the identity provider, not the database; no traceback is logged."""
    from api.app import create_app

    own = Provider()
    own.misbehave = misbehave
    s = idp["settings"].model_copy(update={"oidc_issuer": own.issuer, "oidc_http_timeout_seconds": 0.5})
    oidc.clear()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(s)), base_url="http://test") as c:
            started = time.monotonic()
            resp = await ask(c, provider_token(own.issuer, keys["rsa"], "k1"))
            assert time.monotonic() - started < 2.0
        assert resp.status_code == 503, resp.text
        ext = resp.json()["errors"][0]["extensions"]
        assert ext["code"] == "UNAVAILABLE" and "identity provider" in ext["messageEn"], ext
        assert not any(r.exc_info for r in caplog.records), [r.getMessage() for r in caplog.records]
    finally:
        own.server.shutdown()
        own.server.server_close()
        oidc.clear()


async def test_a_tenant_header_that_is_no_slug_is_refused_before_any_lookup(idp, provider, keys):
    token = provider_token(provider.issuer, keys["rsa"], "k1")
    for bad in ("linshu\x00", "Linshu", "x" * 64, "林沭"):
        resp = await idp["client"].post("/graphql", json={"query": ME}, headers={
            "Authorization": f"Bearer {token}", "X-Civicgrid-Tenant": bad.encode()})
        assert "not a tenant slug" in refused(resp)


async def test_strict_binding_refuses_unregistered_subjects_and_production_may_run_without_a_secret(idp, settings):
    from api.app import create_app

    strict = idp["settings"].model_copy(update={"token_binding": "strict"})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(strict)), base_url="http://test") as c:
        nobody = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="linshu", user_id="nobody")
        assert "not registered in tenant linshu" in refused(await ask(c, nobody))
        li = mint_token(settings, roles=[Role.STREET_OFFICER], tenant_slug="linshu", user_id="li")
        assert (await ask(c, li)).status_code == 200
    # Production with the provider and no secret: HS256 tokens are refused, the provider's still pass.
    prod = idp["settings"].model_copy(update={"env": "production", "jwt_secret": None})
    assert not prod.hs256_enabled
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(prod)), base_url="http://test") as c:
        li = mint_token(settings, roles=[Role.STREET_OFFICER], tenant_slug="linshu", user_id="li")
        assert "only tokens of its identity provider" in refused(await ask(c, li))


def test_the_provider_settings_are_checked_at_start():
    with pytest.raises(ValueError, match="AUDIENCE"):
        Settings(oidc_issuer="https://sso.example.cn/realms/county")
    with pytest.raises(ValueError, match="https"):
        Settings(env="production", oidc_issuer="http://sso.example.cn", oidc_audience="civicgrid")
    with pytest.raises(ValueError, match="RS256"):
        Settings(oidc_algorithms="HS256")
    assert Settings(env="production", oidc_issuer="http://127.0.0.1:8080", oidc_audience="x").oidc_enabled


SET_ACTIVE = """mutation($id: ID!, $on: Boolean!) { setPersonActive(id: $id, active: $on) {
  deactivatedAt posts { endsOn endedAt } } }"""


async def set_person_active(c: httpx.AsyncClient, token: str, person_id: int, active: bool) -> dict:
    resp = await c.post("/graphql", json={"query": SET_ACTIVE, "variables": {"id": str(person_id), "on": active}},
                        headers={"Authorization": f"Bearer {token}"})
    return resp.json()


async def test_a_deactivated_person_is_refused_at_once_and_their_posts_end(idp, provider, keys, settings):
    """Deactivating wang (a grid worker, and a resident of H1) ends his post now and withdraws every role his
    records grant, for the provider's token and a development token alike; reactivating gives back the resident's
    role, not the post."""
    c, ids = idp["client"], idp["ids"]
    admin = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="linshu", user_id="admin")
    async with tenant_transaction(idp["a"].id):
        wang = await Person.get(user_id="wang")
        wang.household_id = ids["H1"]
        await wang.save()
    provided = provider_token(provider.issuer, keys["rsa"], "k1")
    dev = mint_token(settings, roles=[Role.GRID_WORKER], tenant_slug="linshu", user_id="wang")
    assert sorted((await ask(c, provided)).json()["data"]["me"]["roles"]) == ["GRID_WORKER", "RESIDENT"]

    async def set_active(on: bool) -> dict:
        body = await set_person_active(c, admin, wang.id, on)
        assert "errors" not in body, body
        return body["data"]["setPersonActive"]

    off = await set_active(False)
    assert off["deactivatedAt"] and [p["endedAt"] is not None for p in off["posts"]] == [True]
    assert "no active post" in refused(await ask(c, provided))  # no wait: this process deactivated him
    assert "have ended" in refused(await ask(c, dev))
    on = await set_active(True)
    assert on["deactivatedAt"] is None and on["posts"][0]["endedAt"] is not None  # the post stays ended
    assert (await ask(c, provided)).json()["data"]["me"]["roles"] == ["RESIDENT"]
    other = mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug="xuanhua", user_id="admin")
    body = await set_person_active(c, other, wang.id, False)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # another tenant's admin cannot reach him


async def test_a_request_between_the_change_and_its_commit_keeps_nothing_stale(idp, settings):
    """A request reading a subject's grants while endPost's transaction is still open reads the old rows; the
    commit forgets them again, so the next request is refused, not a window later."""
    from tenants.territory import grants, people_service
    from tenants.territory.access import resolve

    a = idp["a"]
    async with tenant_transaction(a.id):
        admin = await resolve(frozenset({Role.TENANT_ADMIN}), [], "admin")
        post = await Post.get(person_id=(await Person.get(user_id="li")).id)
        await people_service.end_post(access=admin, actor="admin", post_id=post.id)
        # another request, on its own connection, in between: the committed rows still grant the post
        between = await asyncio.create_task(grants.grants_in(a.id, "li", ttl=60), context=contextvars.Context())
        assert between is not None and Role.STREET_OFFICER in between.roles
    after = await grants.grants_in(a.id, "li", ttl=60)
    assert after is not None and Role.STREET_OFFICER not in after.roles


async def test_deactivating_a_person_takes_what_ending_a_post_takes(idp, settings, provider, keys):
    """A street officer may register people but not end their posts: nor deactivate them (it ends every post)."""
    c = idp["client"]
    officer = mint_token(settings, roles=[Role.STREET_OFFICER], tenant_slug="linshu", user_id="li",
                         scope=(f"street:{idp['ids']['S1']}",))
    async with tenant_transaction(idp["a"].id):
        wang = await Person.get(user_id="wang")
    body = await set_person_active(c, officer, wang.id, False)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    assert (await ask(c, provider_token(provider.issuer, keys["rsa"], "k1"))).status_code == 200  # wang untouched


async def test_a_change_forgets_only_the_subject_it_is_about(idp, settings):
    """Registering a resident or ending wang's post re-reads only theirs: li's grants stay as read (a tenant's
    staff do not all pay a cold request each time somebody registers)."""
    from tenants.territory import grants, people_service
    from tenants.territory.access import resolve

    a, c = idp["a"], idp["client"]
    li = mint_token(settings, roles=[Role.STREET_OFFICER], tenant_slug="linshu", user_id="li")
    assert (await ask(c, li)).status_code == 200  # li's grants are now kept
    async with tenant_transaction(a.id):
        admin = await resolve(frozenset({Role.TENANT_ADMIN}), [], "admin")
        await people_service.create_person(access=admin, actor="admin", user_id="new-resident", name="新居民")
        post = await Post.get(person_id=(await Person.get(user_id="wang")).id)
        await people_service.end_post(access=admin, actor="admin", post_id=post.id)
    assert (a.id, "li") in grants._grants and (a.id, "wang") not in grants._grants
