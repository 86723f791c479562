"""Bearer JWTs (HS256): minting for development and verifying on every request."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

import jwt
from starlette.requests import Request

from tenants import clock
from tenants.errors import Unauthenticated, unstorable
from tenants.settings import Settings
from tenants.tenancy import cache as tenant_cache
from tenants.tenancy.roles import Role, parse_scope_entry
from tenants.territory.access import Access
from tenants.territory.access import resolve as resolve_access


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


def decode_token(settings: Settings, token: str) -> dict:
    if len(token) > MAX_TOKEN_CHARS:
        raise _unauthenticated("令牌过长", "token is invalid: too long")
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
        zh, en = next((msg for kind, msg in _JWT_ERRORS if isinstance(exc, kind)), _INVALID)
        raise _unauthenticated(zh, en) from exc
    _check_claims(settings, claims)
    return claims


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


def _verify(settings: Settings, token: str) -> _Verified:
    """A token's signature and claims, checked once per process (HMAC, claim shapes, roles and scope); a token
    that fails is never kept."""
    key = (id(settings), token)
    found = _verified.get(key)
    if found is not None:
        _verified.move_to_end(key)
        _check_clock(settings, found)
        return found
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
    verified = _verified[key] = _Verified(settings, str(claims["sub"]), roles, slug, scope,
                                          float(claims["iat"]), float(claims["exp"]))
    while len(_verified) > VERIFIED_SIZE:
        _verified.popitem(last=False)
    return verified


async def authenticate(settings: Settings, request: Request) -> Principal:
    """The principal of a request, or ``Unauthenticated`` (which the edge answers with HTTP 401)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _unauthenticated("缺少 Authorization 请求头", "missing Authorization header")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthenticated("Authorization 须为 Bearer 令牌", "Authorization must be a Bearer token")
    v = _verify(settings, token.strip())
    slug = v.slug
    tenant_id = None
    if slug:
        tenant = await tenant_cache.by_slug(slug, ttl=settings.tenant_cache_seconds)
        if tenant is None or not tenant.is_active:
            raise _unauthenticated(f"租户 {slug} 不存在或已停用", f"tenant {slug} is unknown or inactive")
        tenant_id = tenant.id
    return Principal(user_id=v.user_id, roles=v.roles, tenant_slug=slug, tenant_id=tenant_id, scope=v.scope)


Caller = Access  # who calls, as every domain's readable() and permission checks take it


async def caller_of(principal: Principal) -> Access:
    """The caller as the domains know it (roles and data scope), inside the principal's tenant transaction."""
    return await resolve_access(principal.roles, principal.scope, principal.user_id)
