"""Tokens of the county's OpenID Connect provider: its signing keys found by discovery, kept, and rotated.

The keys come from ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration`` (or CIVICGRID_OIDC_JWKS_URL)
and are kept CIVICGRID_OIDC_JWKS_CACHE_SECONDS. A token naming a key id not among them fetches the keys again
(a rotation), at most once every CIVICGRID_OIDC_JWKS_MIN_REFRESH_SECONDS, so that made-up key ids cannot turn
the API into a flood of requests to the provider. When the provider cannot be reached, the keys already kept
still verify; without any, the request is answered 503 (``ProviderUnavailable``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from tenants.settings import Settings

log = logging.getLogger("civicgrid.identity")
MAX_DOCUMENT_BYTES = 256 * 1024  # a discovery document or a key set; a provider's are a few KB


class ProviderUnavailable(Exception):
    """The identity provider's keys cannot be fetched and none are kept (HTTP 503, retryable)."""


class UnknownKey(Exception):
    """The token names a key the provider does not publish (HTTP 401)."""


@dataclass
class KeySet:
    """One provider's keys by ``kid``, the time they were fetched and the last fetch attempt (monotonic)."""

    keys: dict[str | None, jwt.PyJWK] = field(default_factory=dict)
    fetched_at: float = float("-inf")
    tried_at: float = float("-inf")
    jwks_uri: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_sets: dict[tuple[str, str | None], KeySet] = {}


def clear() -> None:
    _sets.clear()


def _keys_of(document: Any, algorithms: tuple[str, ...]) -> dict[str | None, jwt.PyJWK]:
    """The signing keys of a JWKS document usable with ``algorithms``; keys of other types or uses are skipped."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK set")
    keys: dict[str | None, jwt.PyJWK] = {}
    for data in document["keys"]:
        if not isinstance(data, dict) or data.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(data)
        except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError, KeyError):
            continue  # a key type this process does not verify with (e.g. an encryption key, Ed25519)
        if key.algorithm_name in algorithms:
            keys[data.get("kid")] = key
    return keys


async def _get_json(client: httpx.AsyncClient, url: str) -> Any:
    """The document at ``url``, read no further than ``MAX_DOCUMENT_BYTES`` (a huge body is refused while it
    streams, not once it is in memory)."""
    async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
        response.raise_for_status()
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > MAX_DOCUMENT_BYTES:
                raise ValueError(f"{url}: document larger than {MAX_DOCUMENT_BYTES} bytes")
    return json.loads(body)


async def _fetch(settings: Settings, ks: KeySet) -> None:
    """Fetch the provider's keys (discovery first, once); the kept keys stay when this fails."""
    assert settings.oidc_issuer is not None
    algorithms = tuple(settings.oidc_algorithms.split(","))
    ks.tried_at = time.monotonic()
    try:
        # One deadline for the whole fetch: httpx's timeout bounds each read, and a provider that drips a byte
        # at a time would otherwise hold every request waiting on the lock.
        async with asyncio.timeout(settings.oidc_http_timeout_seconds), httpx.AsyncClient(
                timeout=settings.oidc_http_timeout_seconds, follow_redirects=False) as client:
            if ks.jwks_uri is None:
                ks.jwks_uri = settings.oidc_jwks_url
            if ks.jwks_uri is None:
                issuer = settings.oidc_issuer.rstrip("/")
                discovery = await _get_json(client, f"{issuer}/.well-known/openid-configuration")
                if not isinstance(discovery, dict) or discovery.get("issuer") != settings.oidc_issuer:
                    raise ValueError("the discovery document names another issuer")
                uri = discovery.get("jwks_uri")
                if not isinstance(uri, str):
                    raise ValueError("the discovery document has no jwks_uri")
                ks.jwks_uri = uri
            keys = _keys_of(await _get_json(client, ks.jwks_uri), algorithms)
    except (httpx.HTTPError, ValueError, RecursionError, TimeoutError) as exc:
        log.warning("identity provider keys could not be fetched (%s); %d kept key(s) still verify",
                    type(exc).__name__, len(ks.keys))
        if not ks.keys:
            raise ProviderUnavailable(str(exc)[:200]) from exc
        return
    if set(keys) != set(ks.keys):
        log.info("identity provider keys: %s", ", ".join(sorted(str(k) for k in keys)) or "none")
    ks.keys, ks.fetched_at = keys, time.monotonic()


_background: set[asyncio.Task] = set()


async def _refresh(settings: Settings, ks: KeySet) -> None:
    async with ks.lock:
        now = time.monotonic()
        if now - ks.fetched_at >= settings.oidc_jwks_cache_seconds and \
                now - ks.tried_at >= settings.oidc_jwks_min_refresh_seconds:
            with contextlib.suppress(ProviderUnavailable):
                await _fetch(settings, ks)


def published(settings: Settings, kid: str | None, alg: str) -> bool:
    """Whether the kept keys still hold ``kid`` (a token verified earlier, whose key was rotated out, is not)."""
    ks = _sets.get((settings.oidc_issuer or "", settings.oidc_jwks_url))
    if ks is None:
        return False
    key = ks.keys.get(kid) or (next(iter(ks.keys.values())) if kid is None and len(ks.keys) == 1 else None)
    return key is not None and key.algorithm_name == alg


async def signing_key(settings: Settings, kid: str | None, alg: str) -> jwt.PyJWK:
    """The provider's key ``kid`` for ``alg``: from the kept keys, else fetched (rate-limited); ``UnknownKey``."""
    ks = _sets.setdefault((settings.oidc_issuer or "", settings.oidc_jwks_url), KeySet())
    kept = ks.keys.get(kid)
    if kept is not None and kept.algorithm_name == alg:
        # A kept key answers at once; when the keys are due a refresh, it runs beside this request (one at a time)
        # and the request never waits on the provider.
        if time.monotonic() - ks.fetched_at >= settings.oidc_jwks_cache_seconds and not ks.lock.locked():
            _background.add(task := asyncio.create_task(_refresh(settings, ks)))
            task.add_done_callback(_background.discard)
        return kept
    async with ks.lock:  # concurrent requests with a new kid wait for one fetch
        now = time.monotonic()
        stale = now - ks.fetched_at >= settings.oidc_jwks_cache_seconds
        unknown = kid not in ks.keys and not (kid is None and len(ks.keys) == 1)
        if (stale or unknown) and now - ks.tried_at >= settings.oidc_jwks_min_refresh_seconds:
            await _fetch(settings, ks)
        if not ks.keys:  # the last fetch failed moments ago: answer 503 again rather than 401
            raise ProviderUnavailable("no key of the identity provider is known")
    key = ks.keys.get(kid)
    if key is None and kid is None and len(ks.keys) == 1:  # a provider with one key may leave out kid
        key = next(iter(ks.keys.values()))
    if key is None or key.algorithm_name != alg:
        raise UnknownKey(kid)
    return key
