"""Where a webhook may go: the URL parsed as httpx parses it, its name resolved as the socket layer resolves it,
every answer checked, and the connection pinned to the checked address.

Parsing and resolving the way the HTTP client does is what makes ``http://2130706433/``, ``http://0x7f000001/``,
``http://127.1/`` or ``http://[::ffff:127.0.0.1]/`` loopback here as they are there (``getaddrinfo`` reads the
numeric forms). Pinning (connecting to the checked IP with the original ``Host`` header and TLS server name) is
what stops a DNS answer from changing between the check and the send.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

import httpx

from tenants.errors import Problem
from tenants.settings import get_settings

MAX_URL = 500
RESOLVE_SECONDS = 5.0


def private(address: str) -> bool:
    """Not on the public internet: private, loopback, link-local, shared, reserved, multicast, unspecified, and
    the same inside an IPv4-mapped, 6to4 or Teredo IPv6 address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None and private(str(inner)):
            return True
    return not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_loopback or ip.is_link_local


async def resolve(host: str, port: int) -> list[str]:
    """The addresses a connection to ``host`` would use (the resolver httpx's transport uses), in its order."""
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP), RESOLVE_SECONDS
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _format(zh: str, en: str) -> Problem:
    return Problem("url", "format", zh, en)


def parse(url: str) -> tuple[httpx.URL | None, list[Problem]]:
    """The URL as the HTTP client reads it, or the problems that make it unusable (no address checked yet)."""
    general = _format(
        f"地址须为 http(s) 链接，且不超过 {MAX_URL} 字", f"url must be an http(s) URL of at most {MAX_URL} characters"
    )
    if len(url) > MAX_URL:
        return None, [general]
    try:
        parsed = httpx.URL(url.strip())
        port = parsed.port
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return None, [general]
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        return None, [general]
    problems = []
    if port is not None and not 1 <= port <= 65535:
        problems.append(_format("端口须在 1 到 65535 之间", "the port must be between 1 and 65535"))
    if parsed.userinfo:
        problems.append(
            Problem("url", "credentials", "推送地址不能包含用户名或密码", "url must not carry a user name or password")
        )
    return (None if problems else parsed), problems


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


async def checked_addresses(url: httpx.URL) -> tuple[list[str], str | None]:
    """(addresses, None) when every address the host resolves to may be called, else ([], why not).

    With ``CIVICGRID_WEBHOOK_ALLOW_PRIVATE`` (development, tests) private answers are allowed."""
    host = url.raw_host.decode("ascii")
    try:
        addresses = await resolve(host, _port(url))
    except (OSError, UnicodeError, TimeoutError) as exc:
        return [], f"cannot resolve {host}: {type(exc).__name__}"
    if not addresses:
        return [], f"cannot resolve {host}"
    bad = [a for a in addresses if private(a)]
    if bad and not get_settings().webhook_allow_private:
        return [], f"refused: {host} resolves to a private address ({', '.join(sorted(bad))})"
    return addresses, None


async def creation_problems(url: str) -> list[Problem]:
    """Why ``url`` cannot be registered: malformed, credentials, a name that does not resolve, or an address
    that is private in any notation or any DNS answer."""
    parsed, problems = parse(url)
    if parsed is None:
        return problems
    host = parsed.raw_host.decode("ascii")
    if get_settings().webhook_allow_private:
        return []
    if host.rstrip(".").lower() == "localhost" or host.lower().endswith(".localhost"):
        return [_private_problem()]
    addresses, refused = await checked_addresses(parsed)
    if refused is None:
        return []
    if addresses == [] and refused.startswith("cannot resolve"):
        return [
            Problem("url", "unresolvable", f"无法解析推送地址的主机名 {host}", f"the host name {host} does not resolve")
        ]
    return [_private_problem()]


def _private_problem() -> Problem:
    return Problem("url", "private", "推送地址不能指向内网", "url must not point to a private network address")


@dataclass(frozen=True)
class Target:
    """A checked destination: connect to ``address``, say ``host`` (Host header, TLS server name)."""

    url: httpx.URL
    address: str

    def request(self, client: httpx.AsyncClient, *, content: bytes, headers: dict[str, str]) -> httpx.Request:
        host = self.url.raw_host.decode("ascii")
        pinned = self.url.copy_with(host=self.address)
        netloc = host if self.url.port is None else f"{host}:{self.url.port}"
        if ":" in host and not host.startswith("["):
            netloc = f"[{host}]" if self.url.port is None else f"[{host}]:{self.url.port}"
        extensions = {"sni_hostname": host} if self.url.scheme == "https" else {}
        return client.build_request(
            "POST", pinned, content=content, headers={**headers, "Host": netloc}, extensions=extensions
        )


async def target(url: str) -> Target | str:
    """Where to connect for ``url`` now, or why not (malformed, unresolvable, private)."""
    parsed, problems = parse(url)
    if parsed is None:
        return f"refused: {problems[0].message_en}" if problems else "refused: malformed url"
    addresses, refused = await checked_addresses(parsed)
    if refused is not None:
        return refused
    return Target(parsed, addresses[0])
