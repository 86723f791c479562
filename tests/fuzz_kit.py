"""What the fuzzer sends: hypothesis-graphql operations for every query and mutation of schema.graphql (with
strategies for our custom scalars), a list of hostile raw requests, and how an answer is judged.

Shared by tests/test_fuzz.py (a few examples per operation, in CI) and bench/fuzz.py (many, with counts).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = graphql.build_schema((ROOT / "schema.graphql").read_text())
QUERIES = sorted(SCHEMA.query_type.fields) if SCHEMA.query_type else []
MUTATIONS = sorted(SCHEMA.mutation_type.fields) if SCHEMA.mutation_type else []

_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # NUL included
_HUGE = st.sampled_from([2**31, 2**53, 2**63 - 1, 2**63, 2**64 + 1, -(2**63) - 1, 10**30])


def _json_node(value: Any) -> graphql.ValueNode:
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return nodes.Boolean(value)
    if isinstance(value, int):
        return nodes.Int(value)
    if isinstance(value, float):
        return nodes.Float(value)
    if isinstance(value, str):
        return nodes.String(value)
    if isinstance(value, list):
        return nodes.List([_json_node(v) for v in value])
    return nodes.Object(
        [graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=_json_node(v)) for k, v in value.items()]
    )


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | _TEXT,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), children, max_size=4)
    ),
    max_leaves=12,
)

# Custom scalars: mostly well-formed values (so the operation reaches the service), some hostile ones.
SCALARS: dict[str, st.SearchStrategy[graphql.ValueNode]] = {
    "ID": st.one_of(st.integers(0, 50).map(str), _HUGE.map(str), st.integers(-(2**70), -1).map(str), _TEXT).map(
        nodes.String
    ),
    "Fen": st.one_of(
        st.integers(-(2**53) + 1, 2**53 - 1).map(nodes.Int), _HUGE.map(nodes.Int), _TEXT.map(nodes.String)
    ),
    "Date": st.one_of(
        st.dates().map(lambda d: d.isoformat()), st.sampled_from(["2026-02-30", "0000-01-01", "99999-01-01"]), _TEXT
    ).map(nodes.String),
    "DateTime": st.one_of(
        st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
        st.sampled_from(["2026-11-30T25:00:00", "2026-11-30T10:00:00+99:00"]),
        _TEXT,
    ).map(nodes.String),
    "Decimal": st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
        st.sampled_from(["NaN", "Infinity", "1e999999", "-0"]),
        _TEXT,
    ).map(nodes.String),
    "JSON": _JSON_VALUES.map(_json_node),
    # A file is only ever a multipart part; inline, any value is a client error (uploadFile refuses it).
    "Upload": st.one_of(_TEXT, st.just("")).map(nodes.String),
}


def strategy(kind: str, name: str) -> st.SearchStrategy[str]:
    """Operations selecting one root field (with arguments and sub-selections drawn by hypothesis-graphql)."""
    make = queries if kind == "query" else mutations
    return make(SCHEMA, fields=[name], custom_scalars=SCALARS)  # type: ignore[return-value]


def operations() -> Iterator[tuple[str, str]]:
    yield from (("query", q) for q in QUERIES)
    yield from (("mutation", m) for m in MUTATIONS)


@dataclass(frozen=True)
class Raw:
    """A hand-made hostile request: its name, the HTTP method, path and body (bytes: sent as they are)."""

    name: str
    body: bytes | None = None
    method: str = "POST"
    path: str = "/graphql"
    content_type: str = "application/json"


def _j(value: Any) -> bytes:
    return json.dumps(value).encode()


def _q(query: str, variables: Any = None) -> bytes:
    return _j({"query": query, "variables": variables or {}})


def _fragment_bomb(levels: int = 12) -> str:
    frags = ["fragment F0 on Me { userId roles }"]
    for i in range(1, levels):
        frags.append(f"fragment F{i} on Me {{ ...F{i - 1} ...F{i - 1} }}")
    return f"{{ me {{ ...F{levels - 1} }} }} " + " ".join(frags)


_B64_JSON = base64.b64encode(b'{"k": [1, 2]}').decode()
_HUGE_ID = "9" * 40

HOSTILE: list[Raw] = [
    *(Raw(f"body {b!r}", b) for b in (b"[]", b"1", b'"x"', b"null", b"true", b"{", b"", b"\xff\xfe", b"{}")),
    Raw("query not a string", _j({"query": 5})),
    Raw("query null", _j({"query": None})),
    Raw("variables a list", _j({"query": "{ me { userId } }", "variables": []})),
    Raw("variables a string", _j({"query": "{ me { userId } }", "variables": "x"})),
    Raw("operationName a number", _j({"query": "{ me { userId } }", "operationName": 5})),
    Raw("extensions a list", _j({"query": "{ me { userId } }", "extensions": []})),
    Raw("batch of operations", _j([{"query": "{ me { userId } }"}] * 3)),
    Raw(
        "deeply nested JSON body",
        b'{"query": "{ me { userId } }", "variables": {"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    ),
    Raw(
        "deeply nested JSON variable",
        _q("query($s: JSON!) { me { userId } }", {"s": 1})[:-2] + b', "s": ' + b"[" * 5000 + b"]" * 5000 + b"}}",
    ),
    Raw("deeply nested query", _j({"query": "{ me " + "{ userId " * 3000 + "}" * 3000 + " }"})),
    Raw("fragment bomb", _j({"query": _fragment_bomb()})),
    Raw("many aliases", _j({"query": "{ " + " ".join(f"a{i}: me {{ userId }}" for i in range(2000)) + " }"})),
    Raw(
        "NUL in a string variable",
        _q(
            'mutation($n: String!) { createWebhookEndpoint(url: $n, secret: "0123456789abcdef0") { id } }',
            {"n": "https://exa\x00mple.org/"},
        ),
    ),
    Raw("NUL in an inline string", _j({"query": '{ areas(level: COMPOUND, after: "\\u0000") { edges { cursor } } }'})),
    Raw(
        "lone surrogate in a variable",
        b'{"query": "query($p: String!) { companyRankings(period: $p) '
        b'{ edges { cursor } } }", "variables": {"p": "2026Q4\\ud800"}}',
    ),
    Raw("lone surrogate in an id", b'{"query": "{ area(level: COMPOUND, id: \\"\\ud800\\") { id } }"}'),
    Raw("huge id", _q("query($i: ID!) { area(level: COMPOUND, id: $i) { id } }", {"i": _HUGE_ID})),
    Raw("negative id", _q("query($i: ID!) { area(level: COMPOUND, id: $i) { id } }", {"i": "-1"})),
    Raw("huge first", _j({"query": "{ areas(level: COMPOUND, first: 2147483647) { edges { cursor } } }"})),
    Raw("negative first", _j({"query": "{ areas(level: COMPOUND, first: -5) { edges { cursor } } }"})),
    Raw("Int beyond 32 bits", _j({"query": "{ areas(level: COMPOUND, first: 99999999999) { edges { cursor } } }"})),
    *(
        Raw(
            f"bad cursor {c!r}",
            _q("query($c: String) { areas(level: COMPOUND, after: $c) { edges { cursor } } }", {"c": c}),
        )
        for c in ("!!!", "bm90IGpzb24=", _B64_JSON, base64.b64encode(b"[99999999999999999999999]").decode(), "=" * 9)
    ),
    Raw("bad period", _q("query($p: String!) { companyRankings(period: $p) { edges { cursor } } }", {"p": "9" * 200})),
    Raw(
        "oversized string",
        _q(
            'mutation($o: String!) { recordInterview(input: {companyId: "1", period: "2026Q4",'
            ' heldOn: "2026-12-01", attendees: ["a"], outcome: $o}) { id } }',
            {"o": "长" * 1_000_000},
        ),
    ),
    Raw("oversized query text", _j({"query": "{ me { userId } }" + " " * 2_000_000})),
    *(
        Raw(
            f"Fen {a!r}",
            _q(
                'mutation($a: Fen!) { depositBond(input: {contractId: "1", amountFen: $a, '
                'reference: "r"}) { __typename } }',
                {"a": a},
            ),
        )
        for a in (2**80, 1.5, "12", -(2**53))
    ),
    Raw("text/plain body", b"{ me { userId } }", content_type="text/plain"),
    Raw("form body", b"query=%7B+me+%7B+userId+%7D+%7D", content_type="application/x-www-form-urlencoded"),
    Raw("GET query", None, method="GET", path="/graphql?query=%7B%20me%20%7B%20userId%20%7D%20%7D"),
    Raw("export: bad period", None, method="GET", path="/exports/ratings/%00.csv"),
    Raw("export: huge revision", None, method="GET", path="/exports/ratings/2026Q4.csv?revision=" + _HUGE_ID),
    Raw("export: bad format", None, method="GET", path="/exports/settlements/2026Q4.pdf"),
    Raw("export: surrogate period", None, method="GET", path="/exports/settlements/%ED%A0%80.csv"),
]


@dataclass(frozen=True)
class Outcome:
    status: int
    codes: tuple[str, ...]
    detail: str

    @property
    def bad(self) -> bool:
        """A server fault: an HTTP 5xx, or an error the edge masked as INTERNAL_ERROR."""
        return self.status >= 500 or "INTERNAL_ERROR" in self.codes


def judge(resp: httpx.Response) -> Outcome:
    try:
        body = resp.json()
    except ValueError:
        return Outcome(resp.status_code, (), resp.text[:200])
    errors = body.get("errors") if isinstance(body, dict) else None
    codes = tuple(str((e.get("extensions") or {}).get("code", "NO_CODE")) for e in errors or [] if isinstance(e, dict))
    detail = "; ".join(str(e.get("message", ""))[:160] for e in errors or [] if isinstance(e, dict))
    return Outcome(resp.status_code, codes, detail)


async def send(client: httpx.AsyncClient, token: str, *, query: str | None = None, raw: Raw | None = None) -> Outcome:
    """Send one operation or raw request; an exception escaping the app counts as a 500."""
    headers = {"Authorization": f"Bearer {token}"}
    try:
        if raw is None:
            resp = await client.post("/graphql", json={"query": query}, headers=headers)
        else:
            resp = await client.request(
                raw.method, raw.path, content=raw.body, headers={**headers, "Content-Type": raw.content_type}
            )
    except Exception as exc:  # the app crashed through the transport
        return Outcome(599, ("CRASH",), f"{type(exc).__name__}: {exc}"[:300])
    return judge(resp)


async def healthy(client: httpx.AsyncClient, token: str) -> bool:
    """The server still answers: liveness, readiness, and a real query."""
    if (await client.get("/healthz")).status_code != 200 or (await client.get("/readyz")).status_code != 200:
        return False
    me = await client.post(
        "/graphql", json={"query": "{ me { userId } }"}, headers={"Authorization": f"Bearer {token}"}
    )
    return me.status_code == 200 and "errors" not in me.json()


async def seed(settings: Any) -> dict[str, str]:
    """A district with territory, firms and contracts (tests.fixtures.territory.build); tokens by role."""
    from api.auth import mint_token
    from tenants.tenancy.roles import Role
    from tenants.tenancy.service import create_tenant
    from tests.fixtures.territory import build

    await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    t = await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou", preset="xiahuayuan")
    ids = await build(t.id)
    return {
        "tenant_admin": mint_token(settings, roles=[Role.TENANT_ADMIN], tenant_slug=t.slug, user_id="fuzz-admin"),
        "resident": mint_token(
            settings,
            roles=[Role.RESIDENT],
            tenant_slug=t.slug,
            user_id="fuzz-resident",
            scope=(f"household:{ids['H1']}",),
        ),
    }


class Causes(logging.Handler):
    """The exception behind each masked INTERNAL_ERROR, read from the edge's log (the answer hides it)."""

    LOGGERS = ("civicgrid.graphql", "civicgrid.api")

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.seen.append(f"{type(exc).__name__}: {str(exc)[:150]}")

    def take(self) -> str:
        seen, self.seen = "; ".join(self.seen), []
        return seen

    def install(self) -> Causes:
        for name in self.LOGGERS:
            logging.getLogger(name).addHandler(self)
        return self

    def remove(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)
