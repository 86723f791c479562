"""Leaderboards 排行榜, public within the tenant (any signed-in person of it, never another tenant's).

- People: by points earned in the period (``points_period_total.earned``: awards less reversals, by the day each
  award counts for), those who earned more than 0; the top ``first`` plus the caller's own rank and points. Names
  are published masked (张三 -> 张*, 欧阳娜娜 -> 欧***).
- Grids, communities, streets: by grid score. A grid's score for a quarter or a year is the mean of its months'
  scores (the months it was scored); a community's or street's, the mean of its grids' (each grid counted once,
  under the community and street it belonged to in its latest month). Rounded half up to 0.01 at the end.

Ties share a rank (1, 1, 3: competition ranking); within a tie, the smaller id first. Periods: a month 2026-01, a
quarter 2026Q1, a year 2026. Each board is one statement (the caller's own rank one more).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from tortoise import connections

from tenants import periods
from tenants.errors import InvalidInput, Problem
from tenants.permissions import require
from tenants.scope import current_tenant_id
from tenants.territory.access import Access
from tenants.territory.people import Person

MAX_FIRST = 100
_PERIOD = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])|Q([1-4]))?\Z")


class BoardKind(StrEnum):
    PERSON = "person"
    GRID = "grid"
    COMMUNITY = "community"
    STREET = "street"


@dataclass(frozen=True)
class Standing:
    rank: int
    id: int
    name: str
    points: int | None = None  # people
    score: Decimal | None = None  # grids, communities, streets


@dataclass(frozen=True)
class Board:
    kind: BoardKind
    period: str
    entries: list[Standing]
    me: Standing | None = None  # the caller's own place (people only; None when they earned nothing)


def months_of(period: str, field: str = "period") -> list[str]:
    """The month keys of a month, quarter or year."""
    m = _PERIOD.match(period)
    if m is None:
        raise InvalidInput.of(
            [Problem(field, "format", "期间须为 2026-01、2026Q1 或 2026 的形式",
                     "a period looks like 2026-01 (month), 2026Q1 (quarter) or 2026 (year)")]
        )
    year = int(m[1])
    periods.check_year(year, field)
    if m[2]:
        return [period]
    first, last = (3 * int(m[3]) - 2, 3 * int(m[3])) if m[3] else (1, 12)
    return [f"{year}-{month:02d}" for month in range(first, last + 1)]


def mask(name: str) -> str:
    """A name as the tenant publishes it: the family name's first character, then one * per other character."""
    name = name.strip()
    return (name[:1] + "*" * max(1, len(name) - 1)) if name else "*"


def _first(first: int | None) -> int:
    n = 10 if first is None else first
    if not 1 <= n <= MAX_FIRST:
        raise InvalidInput.of(
            [Problem("first", "out_of_range", f"条数须在 1 到 {MAX_FIRST} 之间", f"first is 1 to {MAX_FIRST}")]
        )
    return n


PEOPLE_SQL = """
SELECT top.person_id, top.earned, top.rank, p.name
FROM (
    SELECT person_id, earned, rank() OVER (ORDER BY earned DESC) AS rank
    FROM points_period_total
    WHERE tenant_id = $1 AND period_key = $2 AND earned > 0
    ORDER BY earned DESC, person_id
    LIMIT $3
) top JOIN person p ON p.tenant_id = $1 AND p.id = top.person_id
ORDER BY top.earned DESC, top.person_id
"""

OWN_SQL = """
SELECT me.earned, (SELECT count(*) FROM points_period_total o
                   WHERE o.tenant_id = $1 AND o.period_key = $2 AND o.earned > me.earned) + 1 AS rank
FROM points_period_total me WHERE me.tenant_id = $1 AND me.period_key = $2 AND me.person_id = $3 AND me.earned > 0
"""

AREAS_SQL = """
WITH g AS (
    SELECT grid_id, (array_agg(community_id ORDER BY period_key DESC))[1] AS community_id,
           (array_agg(street_id ORDER BY period_key DESC))[1] AS street_id, avg(score) AS score
    FROM grid_score WHERE tenant_id = $1 AND period_key = ANY($2::text[])
    GROUP BY grid_id
), k AS (
    SELECT {key} AS id, round(avg(score), 2) AS score FROM g GROUP BY 1
)
SELECT ranked.id, ranked.score, ranked.rank, a.name
FROM (SELECT id, score, rank() OVER (ORDER BY score DESC) AS rank FROM k ORDER BY score DESC, id LIMIT $3) ranked
JOIN {table} a ON a.tenant_id = $1 AND a.id = ranked.id
ORDER BY ranked.score DESC, ranked.id
"""
_AREA = {BoardKind.GRID: "grid", BoardKind.COMMUNITY: "community", BoardKind.STREET: "street"}


async def leaderboard(*, access: Access, kind: BoardKind, period: str, first: int | None = None) -> Board:
    """The top ``first`` (default 10, at most 100) of ``kind`` for ``period``, with the caller's own place among
    people."""
    require(access, "points.leaderboard")
    kind = BoardKind(kind)
    months = months_of(period)
    n = _first(first)
    conn = connections.get("default")
    tid = current_tenant_id()
    if kind == BoardKind.PERSON:
        rows = await conn.execute_query_dict(PEOPLE_SQL, [tid, period, n])
        entries = [
            Standing(int(r["rank"]), int(r["person_id"]), mask(r["name"]), points=int(r["earned"])) for r in rows
        ]
        me = None
        if access.user_id:
            person = await Person.filter(user_id=access.user_id).first()
            if person is not None:
                own = await conn.execute_query_dict(OWN_SQL, [tid, period, person.id])
                if own:
                    me = Standing(int(own[0]["rank"]), person.id, person.name, points=int(own[0]["earned"]))
        return Board(kind, period, entries, me)
    level = _AREA[kind]
    key_col = "grid_id" if level == "grid" else f"{level}_id"
    rows = await conn.execute_query_dict(AREAS_SQL.format(key=key_col, table=level), [tid, months, n])
    entries = [
        Standing(int(r["rank"]), int(r["id"]), r["name"],
                 score=Decimal(r["score"]).quantize(Decimal("0.01"), ROUND_HALF_UP))
        for r in rows
    ]
    return Board(kind, period, entries)
