"""Signed, expiring links to a file: ``/files/<token>``, the token naming the tenant, the file, the variant
(original or thumbnail) and the expiry, with an HMAC-SHA256 over all four under a key derived from the signing
secret. A link needs no token in the request (an ``<img src>`` cannot send one) and works until it expires."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime

from tenants.errors import Forbidden, Unauthenticated
from tenants.settings import get_settings

VARIANTS = ("o", "t")  # the original, the thumbnail
TOKEN = re.compile(r"([0-9]{1,19})\.([0-9]{1,19})\.([ot])\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})")


def _key() -> bytes:
    # A key of its own, derived from the token secret: a link's MAC can never pass for a JWT signature.
    return hmac.new(get_settings().signing_secret().encode(), b"civicgrid files v1", hashlib.sha256).digest()


def _mac(payload: str) -> str:
    digest = hmac.new(_key(), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(tenant_id: int, file_id: int, variant: str, *, now: datetime) -> str:
    """A token for ``/files/<token>`` valid for CIVICGRID_FILE_LINK_TTL_SECONDS from ``now``."""
    expires = int(now.timestamp()) + get_settings().file_link_ttl_seconds
    payload = f"{tenant_id}.{file_id}.{variant}.{expires}"
    return f"{payload}.{_mac(payload)}"


@dataclass(frozen=True)
class Link:
    tenant_id: int
    file_id: int
    thumbnail: bool
    expires: int


def verify(token: str, *, now: datetime) -> Link:
    """The link a token names; Forbidden when it is malformed or its MAC is wrong, Unauthenticated when it has
    expired (a client asks for a fresh link)."""
    match = TOKEN.fullmatch(token)
    if match is None or not hmac.compare_digest(_mac(token.rsplit(".", 1)[0]), match.group(5)):
        raise Forbidden("文件链接无效", "this file link is not valid", field="token")
    tenant, file, variant, expires = int(match.group(1)), int(match.group(2)), match.group(3), int(match.group(4))
    if expires < now.timestamp():
        raise Unauthenticated("文件链接已过期，请重新获取", "this file link has expired; fetch a new one")
    return Link(tenant, file, variant == "t", expires)
