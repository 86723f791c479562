"""Bearer JWTs: civicgrid's own development tokens (HS256, minted here) and the county's identity provider's
(RS256/ES256, api/oidc.py), verified on every request; what either grants is checked against the subject's
records (tenants/territory/grants.py), so an ended post stops granting access within seconds."""

from __future__ import annotations

import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import jwt
from starlette.requests import Request

from api import oidc
from tenants import clock
from tenants.errors import Unauthenticated, unstorable
from tenants.settings import Settings
from tenants.tenancy import cache as tenant_cache
from tenants.tenancy.roles import Role, parse_scope_entry
from tenants.territory import grants
from tenants.territory.access import Access
from tenants.territory.access import resolve as resolve_access
from tenants.territory.people_service import Claims


@dataclass(frozen=True)
class Principal:
    """Who is calling: user, tenant, roles and an optional territory scope (``kind:code`` entries)."""

    user_id: str
    roles: frozenset[Role]
    tenant_slug: str | None = None
    tenant_id: int | None = None
    scope: tuple[str, ...] = field(default_factory=tuple)


def parse_scope(entries: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validate and normalise scope entries (``KIND:ID`` or ``KIND:ID/ROLE``); ValueError when malformed."""
    return tuple(str(parse_scope_entry(e)) for e in entries)


def mint_token(
    settings: Settings,
    *,
    roles: list[Role],
    tenant_slug: str | None,
    user_id: str | None = None,
    scope: tuple[str, ...] = (),
    ttl_seconds: int | None = None,
) -> str:
    now = int(clock.now().timestamp())
    ttl = ttl_seconds if ttl_seconds is not None else settings.token_ttl_seconds
    if ttl > settings.max_token_ttl_seconds:
        raise ValueError(f"a token lives at most {settings.max_token_ttl_seconds} s (CIVICGRID_MAX_TOKEN_TTL_SECONDS)")
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl,
        "sub": user_id or f"dev-{uuid.uuid4().hex[:12]}",
        "roles": [r.value for r in roles],
        "scope": list(scope),
    }
    if tenant_slug:
        claims["tenant"] = tenant_slug
    return jwt.encode(claims, settings.signing_secret(), algorithm="HS256")


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _unauthenticated(zh: str, en: str) -> Unauthenticated:
    return Unauthenticated(zh, en, field="Authorization")


MAX_TOKEN_CHARS = 8192
MAX_SUB_CHARS = 128  # the actor columns (recorded_by, author, ...) hold 128 characters

# PyJWT's own messages name its internals ("The token is not yet valid (iat)"); the caller gets ours.
_INVALID = ("令牌无效", "token is invalid")
_JWT_ERRORS: tuple[tuple[type[Exception], tuple[str, str]], ...] = (
    (jwt.ExpiredSignatureError, ("令牌已过期", "token has expired")),
    (jwt.ImmatureSignatureError, ("令牌尚未生效（签发时间晚于当前时间）", "token is invalid: issued in the future")),
    (jwt.InvalidAudienceError, ("令牌的受众不正确", "token audience is wrong")),
    (jwt.InvalidIssuerError, ("令牌的签发方不正确", "token issuer is wrong")),
    (jwt.exceptions.InvalidSubjectError, ("令牌的用户（sub）无效", "token is invalid: sub must be a non-empty string")),
    (jwt.MissingRequiredClaimError, ("令牌缺少必需的声明", "token is invalid: a required claim is missing")),
    (jwt.InvalidSignatureError, ("令牌签名无效", "token is invalid: bad signature")),
    (jwt.InvalidAlgorithmError, ("令牌的签名算法不被接受", "token is invalid: algorithm not allowed")),
    (jwt.InvalidIssuedAtError, ("令牌的签发时间（iat）无效", "token is invalid: iat must be a number")),
)


def _bad_text(value: str) -> bool:
    """NUL bytes and lone surrogates: PostgreSQL refuses them in text, so no claim may carry them."""
    return "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def _has_bad_text(claims: dict) -> bool:
    stack: list[object] = [claims]  # iterative: a deeply nested claim must not exhaust the stack
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if _bad_text(value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _check_claims(settings: Settings, claims: dict) -> None:
    """What PyJWT leaves to us: a bounded lifetime, a usable subject, text PostgreSQL can store."""
    if _has_bad_text(claims):
        raise _unauthenticated("令牌含有空字符或无效的 Unicode 字符", "token claims contain NUL or invalid characters")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > MAX_SUB_CHARS:
        raise _unauthenticated(
            f"令牌的用户（sub）须为 1 到 {MAX_SUB_CHARS} 个字符",
            f"token is invalid: sub must be a non-empty string of at most {MAX_SUB_CHARS} characters",
        )
    iat, exp = claims.get("iat"), claims.get("exp")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
        raise _unauthenticated("令牌的时间声明无效", "token is invalid: iat and exp must be numbers")
    limit, now = settings.max_token_ttl_seconds, clock.now().timestamp()
    if exp - iat > limit or exp - now > limit:  # type: ignore[operator]
        raise _unauthenticated(
            f"令牌有效期超过上限 {limit} 秒", f"token lifetime exceeds the maximum of {limit} seconds"
        )


def _jwt_error(exc: jwt.InvalidTokenError) -> Unauthenticated:
    zh, en = next((msg for kind, msg in _JWT_ERRORS if isinstance(exc, kind)), _INVALID)
    return _unauthenticated(zh, en)


def decode_token(settings: Settings, token: str) -> dict:
    """A development (HS256) token's claims, checked."""
    if len(token) > MAX_TOKEN_CHARS:
        raise _unauthenticated("令牌过长", "token is invalid: too long")
    if not settings.hs256_enabled:
        raise _unauthenticated("本部署只接受统一身份认证（OIDC）签发的令牌",
                               "this deployment accepts only tokens of its identity provider (OIDC)")
    try:
        claims = jwt.decode(
            token,
            settings.signing_secret(),
            algorithms=["HS256"],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.InvalidTokenError as exc:
        raise _jwt_error(exc) from exc
    _check_claims(settings, claims)
    return claims


def _issuer_of(token: str) -> object:
    """The ``iss`` a token claims, unverified: which of the two verifications it gets (each checks it again)."""
    try:
        return jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.InvalidTokenError as exc:
        raise _jwt_error(exc) from exc


async def decode_provider_token(settings: Settings, token: str) -> tuple[str, dict, tuple[str | None, str]]:
    """An identity provider's token (RS256/ES256, keys from its JWKS): civicgrid's user id (the claim
    CIVICGRID_OIDC_USER_CLAIM), the claims, checked, and the key (kid, alg) that signed it;
    ``oidc.ProviderUnavailable`` when no key can be had."""
    if len(token) > MAX_TOKEN_CHARS:
        raise _unauthenticated("令牌过长", "token is invalid: too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise _jwt_error(exc) from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in settings.oidc_algorithms.split(","):
        raise _unauthenticated("令牌的签名算法不被接受", "token is invalid: algorithm not allowed")
    if not isinstance(kid, str | None) or (kid is not None and (len(kid) > 256 or _bad_text(kid))):
        raise _unauthenticated("令牌的密钥标识（kid）无效", "token is invalid: bad key id")
    try:
        key = await oidc.signing_key(settings, kid, alg)
    except oidc.UnknownKey as exc:
        raise _unauthenticated("令牌由未知的密钥签名",
                               "token is signed by a key the identity provider does not publish") from exc
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[alg],
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    except jwt.InvalidTokenError as exc:
        raise _jwt_error(exc) from exc
    user = claims.get(settings.oidc_user_claim)
    if isinstance(user, int) and not isinstance(user, bool):
        user = str(user)  # providers that number their users
    _check_claims(settings, {**claims, "sub": user})
    return str(user), claims, (kid, alg)


@dataclass(frozen=True)
class _Verified:
    """What a token says once its signature and claims were checked (all but the clock, checked every time)."""

    settings: Settings  # kept so that its id (part of the key) is not reused while the entry lives
    user_id: str
    roles: frozenset[Role]
    slug: str | None
    scope: tuple[str, ...]
    iat: float
    exp: float
    oidc: bool = False  # the identity provider's: tenant, roles and scope come from the records alone
    key: tuple[str | None, str] | None = None  # the provider's key (kid, alg) that signed it


_verified: OrderedDict[tuple[int, str], _Verified] = OrderedDict()
VERIFIED_SIZE = 1024


def _check_clock(settings: Settings, v: _Verified) -> None:
    """The checks of a verified token that depend on the time (as PyJWT and ``_check_claims`` make them)."""
    now = clock.now().timestamp()
    if v.exp <= now:
        raise _unauthenticated("令牌已过期", "token has expired")
    if v.iat > now:
        raise _unauthenticated("令牌尚未生效（签发时间晚于当前时间）", "token is invalid: issued in the future")
    limit = settings.max_token_ttl_seconds
    if v.exp - now > limit:
        raise _unauthenticated(
            f"令牌有效期超过上限 {limit} 秒", f"token lifetime exceeds the maximum of {limit} seconds"
        )


def _keep(key: tuple[int, str], verified: _Verified) -> _Verified:
    _verified[key] = verified
    while len(_verified) > VERIFIED_SIZE:
        _verified.popitem(last=False)
    return verified


async def _verify(settings: Settings, token: str) -> _Verified:
    """A token's signature and claims, checked once per process (signature, claim shapes, roles and scope); a
    token that fails is never kept. The identity provider's tokens (its ``iss``) go to its keys, all others to
    the development secret."""
    key = (id(settings), token)
    found = _verified.get(key)
    if found is not None and (found.key is None or oidc.published(settings, *found.key)):
        _verified.move_to_end(key)
        _check_clock(settings, found)
        return found
    if settings.oidc_enabled and len(token) <= MAX_TOKEN_CHARS:
        issuer = _issuer_of(token)
        if issuer == settings.oidc_issuer:
            user, provided, signer = await decode_provider_token(settings, token)
            return _keep(key, _Verified(settings, user, frozenset(), None, (), float(provided["iat"]),
                                        float(provided["exp"]), oidc=True, key=signer))
        if issuer != settings.jwt_issuer:
            raise _unauthenticated("令牌的签发方不正确", "token issuer is wrong")
    claims = decode_token(settings, token)
    raw_roles, raw_scope, slug = claims.get("roles", []), claims.get("scope", []), claims.get("tenant")
    if not _is_str_list(raw_roles) or not _is_str_list(raw_scope) or not isinstance(slug, str | None):
        raise _unauthenticated("令牌中的角色、范围或租户格式无效", "token roles, scope or tenant are malformed")
    texts = [str(claims["sub"]), *raw_roles, *raw_scope, *([slug] if slug else [])]
    if any(unstorable(t) for t in texts):
        raise _unauthenticated("令牌中含有无法处理的字符", "token claims contain NUL or a lone surrogate")
    try:
        roles = frozenset(Role(r) for r in raw_roles)
        scope = parse_scope(raw_scope)
    except ValueError as exc:
        raise _unauthenticated("令牌中的角色或范围无效", "token roles or scope are invalid") from exc
    if not roles:
        raise _unauthenticated("令牌未携带角色", "token carries no role")
    if Role.PLATFORM_ADMIN in roles and slug:
        raise _unauthenticated("平台管理员令牌不能指定租户", "a platform_admin token must not name a tenant")
    if not slug and Role.PLATFORM_ADMIN not in roles:
        raise _unauthenticated("令牌未指定租户", "token names no tenant")
    return _keep(key, _Verified(settings, str(claims["sub"]), roles, slug, scope, float(claims["iat"]),
                                float(claims["exp"])))


TENANT_HEADER = "x-civicgrid-tenant"


_SLUG = re.compile(r"[a-z][a-z0-9-]{1,62}")


async def _active_tenant(slug: str, settings: Settings) -> int:
    if not _SLUG.fullmatch(slug):  # a header is any text: never looked up unless it can be a slug
        raise _unauthenticated("租户标识无效", "the tenant named is not a tenant slug")
    tenant = await tenant_cache.by_slug(slug, ttl=settings.tenant_cache_seconds)
    if tenant is None or not tenant.is_active:
        raise _unauthenticated(f"租户 {slug} 不存在或已停用", f"tenant {slug} is unknown or inactive")
    return tenant.id


def bound_scope(token_scope: tuple[str, ...], held: Claims, roles: frozenset[Role]) -> tuple[str, ...]:
    """The token's scope entries that the records hold through one of ``roles``: an entry naming its role is kept
    when a post grants exactly it; one without a role is kept when posts grant that node through every one of
    ``roles``, else it becomes the entries of the posts on that node."""
    granted = [parse_scope_entry(e) for e in held.scope]
    out: list[str] = []
    for text in token_scope:
        entry = parse_scope_entry(text)
        matches = [g for g in granted if (g.kind, g.id) == (entry.kind, entry.id) and g.via in roles
                   and (entry.via is None or g.via == entry.via)]
        if entry.via is None and roles <= {m.via for m in matches}:
            matches = [entry]  # it grants the node to each of the roles, as the posts do: kept as written
        out.extend(str(m) for m in matches if str(m) not in out)
    return tuple(out)


async def _bound(settings: Settings, v: _Verified, tenant_id: int) -> tuple[frozenset[Role], tuple[str, ...]]:
    """A development token's roles and scope, as far as the subject's records grant them now: a registered person's
    token grants no more than their active posts (and residence) do; an unregistered subject's keeps what it was
    signed with, unless CIVICGRID_TOKEN_BINDING is ``strict``."""
    held = await grants.grants_in(tenant_id, v.user_id, ttl=settings.grants_cache_seconds)
    if held is None:
        if settings.token_binding == "strict":
            raise _unauthenticated(f"用户 {v.user_id} 未在租户 {v.slug} 登记",
                                   f"user {v.user_id} is not registered in tenant {v.slug}")
        return v.roles, v.scope
    roles = v.roles & frozenset(held.roles)
    if not roles:
        raise _unauthenticated("令牌所依据的岗位已结束或不存在", "the posts this token was issued for have ended")
    return roles, bound_scope(v.scope, held, roles)


async def _from_records(settings: Settings, v: _Verified, chosen: str | None) -> Principal:
    """An identity provider's subject as civicgrid's records know them: the tenant where they hold a post (the
    one named by X-Civicgrid-Tenant when they hold posts in several), with the roles and scope of those posts."""
    if chosen:
        tenant_id, slug = await _active_tenant(chosen, settings), chosen
    else:
        found = await grants.homes(v.user_id, ttl=settings.grants_cache_seconds)
        if not found:
            raise _unauthenticated(f"用户 {v.user_id} 在任何租户都没有在任的岗位",
                                   f"user {v.user_id} holds no active post in any tenant")
        if len(found) > 1:
            slugs = ", ".join(s for _, s in found)
            raise Unauthenticated(f"用户 {v.user_id} 在多个租户任职（{slugs}），请用 X-Civicgrid-Tenant 请求头指定",
                                  f"user {v.user_id} holds posts in several tenants ({slugs}): name one in the "
                                  "X-Civicgrid-Tenant header", field="X-Civicgrid-Tenant")
        (_, slug), = found
        tenant_id = await _active_tenant(slug, settings)
    held = await grants.grants_in(tenant_id, v.user_id, ttl=settings.grants_cache_seconds)
    if held is None or not held.roles:
        raise _unauthenticated(f"用户 {v.user_id} 在租户 {slug} 没有在任的岗位",
                               f"user {v.user_id} holds no active post in tenant {slug}")
    return Principal(user_id=v.user_id, roles=frozenset(held.roles), tenant_slug=slug, tenant_id=tenant_id,
                     scope=held.scope)


async def authenticate(settings: Settings, request: Request) -> Principal:
    """The principal of a request, or ``Unauthenticated`` (which the edge answers with HTTP 401); an identity
    provider that cannot be reached is ``oidc.ProviderUnavailable`` (HTTP 503)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthenticated("缺少 Authorization 请求头", "missing Authorization header")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("Authorization 须为 Bearer 令牌", "Authorization must be a Bearer token")
    v = await _verify(settings, token.strip())
    chosen = request.headers.get(TENANT_HEADER, "").strip() or None
    if v.oidc:
        return await _from_records(settings, v, chosen)
    slug, tenant_id, roles, scope = v.slug, None, v.roles, v.scope
    if slug:
        if chosen is not None and chosen != slug:
            raise Unauthenticated(f"令牌属于租户 {slug}，不是 {chosen}",
                                  f"the token is for tenant {slug}, not {chosen}", field="X-Civicgrid-Tenant")
        tenant_id = await _active_tenant(slug, settings)
        roles, scope = await _bound(settings, v, tenant_id)
    return Principal(user_id=v.user_id, roles=roles, tenant_slug=slug, tenant_id=tenant_id, scope=scope)


Caller = Access  # who calls, as every domain's readable() and permission checks take it


async def caller_of(principal: Principal) -> Access:
    """The caller as the domains know it (roles and data scope), inside the principal's tenant transaction."""
    return await resolve_access(principal.roles, principal.scope, principal.user_id)
