"""Process settings, read from environment variables."""

from __future__ import annotations

import os
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_ORIGIN = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?")


class Settings(BaseSettings):
    """Everything a civicgrid process reads from its environment (see README, "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="CIVICGRID_", extra="ignore")

    env: Literal["development", "production"] = "production"
    home: Path = Field(default=Path(".civicgrid"))

    # The application role: no superuser, no table ownership, no BYPASSRLS.
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL"))
    # The owner role that runs migrations and grants the application role its rights.
    database_owner_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_OWNER_URL")
    )
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("REDIS_URL"))
    db_pool_size: int = 20
    # How long a process trusts what it read of a token's tenant (active or not) before reading it again: a tenant
    # deactivated elsewhere (another API worker, the CLI) is refused within this many seconds.
    tenant_cache_seconds: float = 5.0

    jwt_secret: str | None = None
    jwt_issuer: str = "civicgrid"
    jwt_audience: str = "civicgrid-api"
    token_ttl_seconds: int = 12 * 3600
    # No token lives longer than this (exp - iat and exp - now), whoever minted it.
    max_token_ttl_seconds: int = 7 * 24 * 3600
    # Identity (README "Identity"): tokens of the county's OpenID Connect provider, verified with its JWKS (RS256,
    # ES256) when oidc_issuer is set; civicgrid's user id is the claim oidc_user_claim. Such a token's tenant,
    # roles and scope come from the person's records (posts), read per request and kept grants_cache_seconds
    # (forgotten at once when this process changes them). token_binding: `registered` binds a development (HS256)
    # token of a registered person to what their records grant now, `strict` refuses one whose subject is not
    # registered in the tenant; jwt_secret may then stay unset in production (no HS256 token is accepted).
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_user_claim: str = "sub"
    oidc_jwks_url: str | None = None  # instead of discovery (<issuer>/.well-known/openid-configuration)
    oidc_algorithms: str = "RS256,ES256"
    oidc_jwks_cache_seconds: float = 3600.0
    oidc_jwks_min_refresh_seconds: float = 30.0  # an unknown `kid` fetches the keys again at most this often
    oidc_http_timeout_seconds: float = 5.0
    grants_cache_seconds: float = 30.0
    token_binding: Literal["registered", "strict"] = "registered"

    graphiql: bool | None = None
    # Browser origins allowed by CORS, comma-separated (`https://app.example.cn,http://10.1.2.3:8080`), or `*` for
    # any. Unset: none in production, any localhost/127.0.0.1 port in development; empty: none anywhere.
    cors_origins: str | None = None
    cors_max_age_seconds: int = 600
    introspection: bool | None = None
    max_page_size: int = 100
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 4000
    # Fields an operation may select with its fragments expanded (each fragment counted once).
    max_query_fields: int = 2000
    # Request bodies: GraphQL is refused above this (HTTP 413) before it is read; an import
    # (importTerritory/importTickets, whose file may be 16 MiB of text) may send up to max_import_body_bytes.
    max_body_bytes: int = 1024 * 1024
    max_import_body_bytes: int = 20 * 1024 * 1024
    # Slow clients (api/server.py): request headers must be complete within header_timeout_seconds, a body within
    # body_timeout_seconds (HTTP 408); idle keep-alive connections close after keep_alive_seconds; connections
    # beyond max_connections are answered 503 at once; headers are at most max_header_bytes.
    header_timeout_seconds: float = 10.0
    # API worker processes of `civicgrid api` (and `serve`): the request path is CPU-bound Python, so one process
    # per core serves more on the same machine; every per-process cache is safe with several (README).
    api_workers: int = Field(default=1, ge=1, le=64)
    body_timeout_seconds: float = 30.0
    keep_alive_seconds: int = 5
    max_connections: int = 500
    max_header_bytes: int = 64 * 1024
    # How often the ticket reminder and escalation tick runs (a divisor of 60 works best).
    reminder_interval_minutes: int = 1
    # Webhooks may target private/loopback addresses (development and tests only).
    webhook_allow_private: bool = False
    # Uploads (tenants/files/): each file at most max_upload_bytes; a multipart request at most that plus
    # max_body_bytes. Files live under CIVICGRID_HOME/files (``local``) or in an S3-compatible bucket (``s3``:
    # MinIO, OSS, COS, AWS); links to them are signed and live file_link_ttl_seconds.
    max_upload_bytes: int = 10 * 1024 * 1024
    files_backend: Literal["local", "s3"] = "local"
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str = "us-east-1"
    s3_addressing_style: Literal["path", "virtual"] = "path"
    file_link_ttl_seconds: int = 900
    # Deploy (issue 16). On SIGTERM the API finishes its in-flight requests and the worker its running jobs (taking
    # no new one) within shutdown_seconds, below the pod's terminationGracePeriodSeconds. `civicgrid worker --alive`
    # (the worker's liveness probe) fails when this worker's poll loop has not beaten for worker_stale_seconds.
    shutdown_seconds: int = Field(default=25, ge=1, le=3600)
    worker_stale_seconds: int = Field(default=60, ge=5)

    # Observability (README, "Observability"). /metrics asks for this bearer token when it is set (unset: open,
    # keep it off the public ingress); the worker serves its own metrics on worker_metrics_port (unset: none);
    # what /metrics reads from Redis and the database is read at most once per metrics_cache_seconds; GraphQL
    # operation names beyond metrics_max_operations distinct ones are counted as `other`. log_format `json`: one
    # JSON object a line. Traces go over OTLP/HTTP to otlp_endpoint (OTEL_EXPORTER_OTLP_ENDPOINT); unset: off.
    metrics_token: str | None = None
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_cache_seconds: float = 10.0
    metrics_max_operations: int = Field(default=1000, ge=1)  # above the schema's root fields (~200 in 2026-12)
    log_format: Literal["text", "json"] = "text"
    otlp_endpoint: str | None = Field(
        default=None, validation_alias=AliasChoices("CIVICGRID_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
    )

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: str | None) -> str | None:
        if value is None:
            return None
        origins = [o.strip() for o in value.split(",") if o.strip()]
        if "*" in origins and len(origins) > 1:
            raise ValueError("CIVICGRID_CORS_ORIGINS: `*` stands alone")
        bad = [o for o in origins if o != "*" and not _ORIGIN.fullmatch(o)]
        if bad:
            raise ValueError(f"CIVICGRID_CORS_ORIGINS: not an origin (scheme://host[:port], no path): {bad}")
        return ",".join(origins)

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: str) -> str:
        algs = [a.strip() for a in value.split(",") if a.strip()]
        bad = [a for a in algs if a not in ("RS256", "ES256")]
        if not algs or bad:
            raise ValueError(f"CIVICGRID_OIDC_ALGORITHMS: RS256 and/or ES256 only, not {bad or 'none'}")
        return ",".join(algs)

    @model_validator(mode="after")
    def _identity_provider_complete(self) -> Settings:
        if self.oidc_issuer is None:
            return self
        if not self.oidc_audience:
            raise ValueError("CIVICGRID_OIDC_AUDIENCE must be set with CIVICGRID_OIDC_ISSUER")
        for name, url in (("ISSUER", self.oidc_issuer), ("JWKS_URL", self.oidc_jwks_url)):
            if url is not None and not _secure_url(url) and not self.is_development:
                raise ValueError(f"CIVICGRID_OIDC_{name} must be https:// (http only on a loopback address)")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def hs256_enabled(self) -> bool:
        """Whether development (HS256) tokens are accepted: with a secret, or in development; in production without
        a secret only when the identity provider is configured (then it is the only way in)."""
        return bool(self.jwt_secret) or self.is_development or not self.oidc_enabled

    @property
    def cors_origin_list(self) -> tuple[str, ...]:
        """The configured origins; see ``cors_localhost`` for the development default."""
        return tuple(self.cors_origins.split(",")) if self.cors_origins else ()

    @property
    def cors_localhost(self) -> bool:
        """Whether any localhost origin is allowed: in development, when CIVICGRID_CORS_ORIGINS is unset."""
        return self.cors_origins is None and self.is_development

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def graphiql_enabled(self) -> bool:
        return self.is_development if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return self.is_development if self.introspection is None else self.introspection

    def require_database_url(self) -> str:
        if not self.database_url:
            raise RuntimeError("DATABASE_URL is not set (civicgrid serve sets it for the embedded database)")
        return self.database_url

    def require_redis_url(self) -> str:
        if not self.redis_url:
            raise RuntimeError("REDIS_URL is not set (civicgrid serve sets it for the embedded Redis)")
        return self.redis_url

    def signing_secret(self) -> str:
        """The HS256 secret; in development one is generated once and kept under CIVICGRID_HOME."""
        if self.jwt_secret:
            if not self.is_development and (len(self.jwt_secret) < 32 or "change-me" in self.jwt_secret.lower()):
                raise RuntimeError("CIVICGRID_JWT_SECRET must be at least 32 random characters in production")
            return self.jwt_secret
        if not self.is_development:
            raise RuntimeError("CIVICGRID_JWT_SECRET must be set in production")
        path = self.home / "jwt_secret"
        if not path.exists():
            write_private(path, secrets.token_urlsafe(48))
        return path.read_text().strip()


def _secure_url(url: str) -> bool:
    """https, or http to this machine only (a provider's keys must not travel in clear over a network)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1"))


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (mode 0600), never readable by others even for an instant."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # a file left by an older version keeps its mode through O_TRUNC
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


@lru_cache
def get_settings() -> Settings:
    return Settings()
