"""Ticket KPIs per unit, territory and property company, a compound's monthly series, and the public ranking.

Definitions (all figures for one tenant; row-level security applies):

- Period: ``[start, end)`` in tenant-local dates, turned into UTC instants at local midnight in the tenant's time
  zone (``Tenant.timezone``). At most 366 days.
- Cohort: the tickets *opened* in the period. Every figure except ``escalations`` is about the cohort as it stands
  now, so a period's figures still move while its tickets are open.
- Key: ``unit`` = the unit holding the ticket now (``assignee_kind``/``assignee_id``, after any transfer);
  ``property_company`` = the same, for property companies only; ``street``/``community``/``compound`` = where the
  ticket is. Tickets without that key (not yet dispatched, rejected, a free address, a unit that could not be
  resolved) are left out of that dimension.
- ``received``: tickets in the cohort, rejected ones included. ``rejected``: of those, state rejected (only ever
  before dispatch, so always 0 for units). ``closed``: of those, state closed.
- ``closure_rate`` = closed / (received - rejected): a rejected request is not work the unit could close.
- ``on_time_rate`` = resolved on time / resolved, where resolved = the ticket has a current resolution
  (``resolved_at``; an unsatisfied rating clears it until the unit resolves again) and on time = that latest
  resolution met its deadline.
- ``satisfaction_rate`` = satisfied / rated, by each ticket's latest rating.
- ``avg_hours_to_resolve``: mean of opened -> latest resolution over the resolved tickets, in hours, as a Decimal
  rounded to 0.1 h in SQL (numeric, never float).
- ``reopened``: the sum of each ticket's reopen count.
- ``escalations`` (提级督办): Escalation rows whose time falls in the period, whatever the ticket's opening date;
  for unit dimensions keyed by the unit that collected it (``Escalation.unit``), for territory dimensions by
  where its ticket is.
- Rates are integer basis points (10000 = 100.00%), rounded half up from exact integer counts; None when the
  denominator is 0.

Who sees which figures (``Reach``): tenant admins and the housing department see everything. Street, community,
grid and compound grants (street officers, community and grid workers, owners' committees, supervisors) see
territory keys whose whole subtree is theirs (a street officer: their street, its communities and compounds; a
community worker: their community and its compounds, not their street), and units' figures over the tickets
located in their territory. A property company sees its own figures (all its tickets) and the compounds it
serves under a current contract; a county department with a ``unit:`` grant sees its own. Anyone else
(residents, building heads) gets FORBIDDEN, except for the ranking: the 晾晒 of units is public within the
tenant and always covers the whole tenant.

Ranking (晾晒): every unit with figures in the period, ordered by closure rate, then satisfaction rate, then
on-time rate (each higher first, None last), then fewer escalations, then unit kind name and id ascending; the
rank is the position (1, 2, 3, ... with no shared ranks).

Each call is one aggregate statement (CTEs, no per-row queries) after a primary-key read of the tenant's time
zone; its ``tenant_id = $1`` terms are for the planner, row-level security is the guarantee.

Monthly series: tickets opened in a compound per tenant-local month (rejected included), for an inclusive
``YYYY-MM`` range of at most 36 months, months without tickets as 0; for whoever sees that compound in the
compound dimension (anyone else, like a compound that does not exist: NOT_FOUND).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from tenants.errors import Forbidden, InvalidInput, NotFound, Problem
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

MAX_PERIOD_DAYS = 366
MAX_SERIES_MONTHS = 36
BP = 10_000


class Dimension(StrEnum):
    UNIT = "unit"
    PROPERTY_COMPANY = "property_company"
    STREET = "street"
    COMMUNITY = "community"
    COMPOUND = "compound"


def rate_bp(part: int, whole: int) -> int | None:
    """``part / whole`` in basis points, rounded half up; None when there is nothing to divide by."""
    return None if whole <= 0 else (2 * BP * part + whole) // (2 * whole)


@dataclass(frozen=True)
class Kpi:
    """One key's figures (see the module docstring); ``kind`` is a dimension level or a unit kind."""

    kind: str
    id: int
    name: str | None
    received: int = 0
    rejected: int = 0
    closed: int = 0
    resolved: int = 0
    on_time: int = 0
    rated: int = 0
    satisfied: int = 0
    reopened: int = 0
    escalations: int = 0
    avg_hours_to_resolve: Decimal | None = None

    @property
    def closure_rate_bp(self) -> int | None:
        return rate_bp(self.closed, self.received - self.rejected)

    @property
    def on_time_rate_bp(self) -> int | None:
        return rate_bp(self.on_time, self.resolved)

    @property
    def satisfaction_rate_bp(self) -> int | None:
        return rate_bp(self.satisfied, self.rated)


@dataclass(frozen=True)
class RankedUnit:
    rank: int
    kpi: Kpi


@dataclass(frozen=True)
class MonthCount:
    month: str  # YYYY-MM, tenant-local
    count: int


@dataclass(frozen=True)
class Reach:
    """The part of the tenant whose KPIs a caller may read."""

    whole: bool = False
    streets: frozenset[int] = frozenset()
    communities: frozenset[int] = frozenset()
    grids: frozenset[int] = frozenset()
    compounds: frozenset[int] = frozenset()
    served: frozenset[int] = frozenset()  # compounds of the caller's company: the compound dimension only
    companies: frozenset[int] = frozenset()
    units: frozenset[int] = frozenset()

    @property
    def empty(self) -> bool:
        grants = (self.streets, self.communities, self.grids, self.compounds, self.served, self.companies, self.units)
        return not self.whole and not any(grants)


def reach_of(access: Access) -> Reach:
    if access.reads_whole_tenant:
        return Reach(whole=True)
    nodes = access.nodes
    return Reach(
        streets=nodes.get("street", frozenset()),
        communities=nodes.get("community", frozenset()),
        grids=nodes.get("grid", frozenset()),
        compounds=nodes.get("compound", frozenset()),
        served=access.company_compounds,
        companies=access.companies,
        units=access.units,
    )


# The territory grants whose subtree holds a key of each dimension whole (units: any territory grant).
_GRANTS = {
    Dimension.STREET: ("street",),
    Dimension.COMMUNITY: ("street", "community"),
    Dimension.COMPOUND: ("street", "community", "grid", "compound"),
    Dimension.UNIT: ("street", "community", "grid", "compound"),
    Dimension.PROPERTY_COMPANY: ("street", "community", "grid", "compound"),
}
_TICKET_PLACE = {lvl: f"t.{lvl}_id" for lvl in ("street", "community", "grid", "compound")}
_COMPOUND_PLACE = {"street": "k.street_id", "community": "k.community_id", "grid": "k.grid_id", "compound": "k.id"}


@dataclass
class _Sql:
    """Positional parameters of one statement."""

    params: list[Any] = field(default_factory=list)

    def p(self, value: Any) -> str:
        self.params.append(value)
        return f"${len(self.params)}"

    def reach(self, reach: Reach, dim: Dimension, place: dict[str, str], key: tuple[str, str] | None = None) -> str:
        """A predicate for what ``reach`` covers in ``dim``: ``place`` names each level's location column,
        ``key`` the (kind, id) columns of the unit a row is counted for."""
        if reach.whole:
            return "TRUE"
        granted = {
            "street": reach.streets,
            "community": reach.communities,
            "grid": reach.grids,
            "compound": reach.compounds | (reach.served if dim == Dimension.COMPOUND else frozenset()),
        }
        terms = [
            f"{place[lvl]} = ANY({self.p(sorted(granted[lvl]))}::bigint[])" for lvl in _GRANTS[dim] if granted[lvl]
        ]
        if key is not None:
            kind, key_id = key
            if reach.companies:
                companies = self.p(sorted(reach.companies))
                terms.append(f"({kind} = 'property_company' AND {key_id} = ANY({companies}::bigint[]))")
            if reach.units:
                units = self.p(sorted(reach.units))
                terms.append(f"({kind} IN ('housing_dept', 'county_department') AND {key_id} = ANY({units}::bigint[]))")
        return " OR ".join(f"({t})" for t in terms) or "FALSE"


@dataclass(frozen=True)
class _Keys:
    ticket: tuple[str, str]  # (kind, id) of a ticket row's key
    escalation: tuple[str, str]  # (kind, id) of an escalation row's key
    only: str = "TRUE"  # restricts unit kinds (property companies)


_UNIT = _Keys(("t.assignee_kind", "t.assignee_id"), ("e.unit_kind", "e.unit_id"))
_KEYS = {
    Dimension.UNIT: _UNIT,
    Dimension.PROPERTY_COMPANY: _Keys(_UNIT.ticket, _UNIT.escalation, "{kind} = 'property_company'"),
    **{
        d: _Keys((f"'{d.value}'", f"t.{d.value}_id"), (f"'{d.value}'", f"t.{d.value}_id"))
        for d in (Dimension.STREET, Dimension.COMMUNITY, Dimension.COMPOUND)
    },
}

# The counts behind every rate (closure, on time, satisfaction) over tickets ``t``: the KPIs and the rating's inputs.
TICKET_COUNTS = """count(*) AS received,
           count(*) FILTER (WHERE t.state = 'rejected') AS rejected,
           count(*) FILTER (WHERE t.state = 'closed') AS closed,
           count(t.resolved_at) AS resolved,
           count(*) FILTER (WHERE t.resolved_at IS NOT NULL AND t.resolved_on_time) AS on_time,
           count(t.rating) AS rated,
           count(*) FILTER (WHERE t.rating IS NOT NULL AND t.satisfied) AS satisfied"""

_KPI_SQL = """
WITH t AS (
    SELECT {tkind}::text AS kind, {tid} AS id,
           {counts},
           sum(t.reopened) AS reopened,
           round(avg(extract(epoch FROM t.resolved_at - t.opened_at)) / 3600, 1) AS avg_hours
    FROM ticket t
    WHERE t.tenant_id = $1 AND t.opened_at >= $2 AND t.opened_at < $3 AND {tid} IS NOT NULL
      AND {tonly} AND ({treach})
    GROUP BY 1, 2
), e AS (
    SELECT {ekind}::text AS kind, {eid} AS id, count(*) AS escalations
    FROM escalation e JOIN ticket t ON t.tenant_id = $1 AND t.id = e.ticket_id
    WHERE e.tenant_id = $1 AND e.at >= $2 AND e.at < $3 AND {eid} IS NOT NULL AND {eonly} AND ({ereach})
    GROUP BY 1, 2
), k AS (
    SELECT coalesce(t.kind, e.kind) AS kind, coalesce(t.id, e.id) AS id, t.received, t.rejected, t.closed,
           t.resolved, t.on_time, t.rated, t.satisfied, t.reopened, t.avg_hours, e.escalations
    FROM t FULL JOIN e ON e.kind = t.kind AND e.id = t.id
)
SELECT k.*, coalesce(s.name, c.name, ko.name, p.name, u.name) AS name
FROM k
LEFT JOIN street s ON k.kind = 'street' AND s.tenant_id = $1 AND s.id = k.id
LEFT JOIN community c ON k.kind = 'community' AND c.tenant_id = $1 AND c.id = k.id
LEFT JOIN compound ko ON k.kind = 'compound' AND ko.tenant_id = $1 AND ko.id = k.id
LEFT JOIN property_company p ON k.kind = 'property_company' AND p.tenant_id = $1 AND p.id = k.id
LEFT JOIN unit u ON k.kind IN ('housing_dept', 'county_department') AND u.tenant_id = $1 AND u.id = k.id
ORDER BY k.kind, k.id
"""


def _invalid(field_name: str, reason: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput.of([Problem(field_name, reason, zh, en)])


def check_period(start: date, end: date) -> None:
    if start >= end:
        raise _invalid("period.to", "not_after_from", "结束日期须晚于开始日期", "the period must end after it starts")
    if (end - start).days > MAX_PERIOD_DAYS:
        zh, en = f"统计期不能超过 {MAX_PERIOD_DAYS} 天", f"a period is at most {MAX_PERIOD_DAYS} days"
        raise _invalid("period.to", "too_long", zh, en)


def _reach(access: Access) -> Reach:
    reach = reach_of(access)
    if reach.empty:
        raise Forbidden("无权查看工单统计", "you may not read ticket KPIs; the unit ranking is public")
    return reach


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, zone)


async def _kpis(dimension: Dimension, start: date, end: date, reach: Reach) -> list[Kpi]:
    """One statement: the cohort's figures and the period's escalations per key, with the keys' names."""
    async with scoped_transaction() as conn:
        zone = await current_zone()
        sql = _Sql([current_tenant_id(), _local_midnight(start, zone), _local_midnight(end, zone)])
        keys = _KEYS[dimension]
        text = _KPI_SQL.format(
            counts=TICKET_COUNTS,
            tkind=keys.ticket[0],
            tid=keys.ticket[1],
            tonly=keys.only.format(kind=keys.ticket[0]),
            treach=sql.reach(reach, dimension, _TICKET_PLACE, keys.ticket),
            ekind=keys.escalation[0],
            eid=keys.escalation[1],
            eonly=keys.only.format(kind=keys.escalation[0]),
            ereach=sql.reach(reach, dimension, _TICKET_PLACE, keys.escalation),
        )
        rows = await conn.execute_query_dict(text, sql.params)
    counts = ("received", "rejected", "closed", "resolved", "on_time", "rated", "satisfied", "reopened", "escalations")
    return [
        Kpi(
            kind=r["kind"],
            id=r["id"],
            name=r["name"],
            avg_hours_to_resolve=r["avg_hours"],
            **{c: int(r[c] or 0) for c in counts},
        )
        for r in rows
    ]


async def ticket_kpis(*, access: Access, start: date, end: date, dimension: Dimension) -> list[Kpi]:
    """Figures per key of ``dimension`` for tickets opened in ``[start, end)`` (tenant-local), within the
    caller's reach, ordered by key kind and id."""
    check_period(start, end)
    return await _kpis(Dimension(dimension), start, end, _reach(access))


def ranking_key(k: Kpi) -> tuple:
    """Closure, satisfaction, on-time (higher first, None last), fewer escalations, then kind and id."""

    def high_first(bp: int | None) -> tuple[bool, int]:
        return (bp is None, -(bp or 0))

    return (
        *high_first(k.closure_rate_bp),
        *high_first(k.satisfaction_rate_bp),
        *high_first(k.on_time_rate_bp),
        k.escalations,
        k.kind,
        k.id,
    )


def rank(rows: list[Kpi]) -> list[RankedUnit]:
    return [RankedUnit(rank=i, kpi=k) for i, k in enumerate(sorted(rows, key=ranking_key), start=1)]


async def unit_ranking(*, start: date, end: date) -> list[RankedUnit]:
    """The public 晾晒 of every unit in the tenant for ``[start, end)``; readable by anyone in the tenant."""
    check_period(start, end)
    return rank(await _kpis(Dimension.UNIT, start, end, Reach(whole=True)))


_SERIES_SQL = """
WITH k AS (SELECT k.id FROM compound k WHERE k.tenant_id = $1 AND k.id = $2 AND ({reach}))
SELECT to_char(t.opened_at AT TIME ZONE $5, 'YYYY-MM') AS month, count(*) AS n
FROM k JOIN ticket t ON t.tenant_id = $1 AND t.compound_id = k.id AND t.opened_at >= $3 AND t.opened_at < $4
GROUP BY 1
UNION ALL
SELECT 'found', count(*) FROM k
"""


def parse_month(value: str, field_name: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}", value):
            raise ValueError
        return date(int(value[:4]), int(value[5:]), 1)
    except ValueError as exc:
        raise _invalid(field_name, "format", "月份格式须为 YYYY-MM", "a month is YYYY-MM") from exc


def _add_months(month: date, n: int) -> date:
    i = month.year * 12 + month.month - 1 + n
    return date(i // 12, i % 12 + 1, 1)


async def compound_series(*, access: Access, compound_id: int, from_month: str, to_month: str) -> list[MonthCount]:
    """Tickets opened in the compound per tenant-local month, ``from_month``..``to_month`` inclusive."""
    first, last = parse_month(from_month, "fromMonth"), parse_month(to_month, "toMonth")
    n = (last.year - first.year) * 12 + last.month - first.month + 1
    if n < 1 or n > MAX_SERIES_MONTHS:
        zh, en = f"月份范围须为 1 到 {MAX_SERIES_MONTHS} 个月", f"the range must cover 1 to {MAX_SERIES_MONTHS} months"
        raise _invalid("toMonth", "out_of_range", zh, en)
    reach = _reach(access)
    months = [_add_months(first, i) for i in range(n)]
    async with scoped_transaction() as conn:
        zone = await current_zone()
        first_at, end_at = _local_midnight(first, zone), _local_midnight(_add_months(last, 1), zone)
        sql = _Sql([current_tenant_id(), compound_id, first_at, end_at, zone.key])
        text = _SERIES_SQL.format(reach=sql.reach(reach, Dimension.COMPOUND, _COMPOUND_PLACE))
        counts = {r["month"]: r["n"] for r in await conn.execute_query_dict(text, sql.params)}
    if not counts["found"]:
        raise NotFound(f"小区 {compound_id} 不存在", f"compound {compound_id} does not exist", field="compoundId")
    return [MonthCount(month=m.strftime("%Y-%m"), count=counts.get(m.strftime("%Y-%m"), 0)) for m in months]
