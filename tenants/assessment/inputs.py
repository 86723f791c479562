"""A period's rating inputs for every compound under contract, in one aggregate statement.

The ticket figures are the compound dimension of ``tenants.tickets.kpis`` (same cohort, counts and rates) without
what the rating never reads: escalations, hours and names. Per compound under contract in the period:

- the contract in force at the period's end, else the last one that started within the period (company, fee);
- the counting revision of every body's sheet (points as submitted; a body is ``late`` when that revision was
  entered late from paper);
- the cohort of tickets opened in the period (tenant-local days): received, rejected, closed, resolved, resolved
  on time, rated, satisfied — the counts behind ``Kpi.closure_rate_bp`` and the others;
- supervisor findings made in the period: how many, how many resolved in time;
- for an assessment with rubric lines scored from records (issue 19), each compound's shares of them from
  ``tenants.meetings.compliance.rubric_inputs`` (joint-meeting compliance, decisions done on time), one call.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from types import MappingProxyType
from typing import Any

import orjson
from tortoise import connections

from tenants import periods
from tenants.assessment.scoring import CompoundInputs
from tenants.config.assessment import Assessment
from tenants.meetings import compliance
from tenants.scope import current_tenant_id
from tenants.tenancy.service import current_zone
from tenants.tickets.kpis import TICKET_COUNTS, rate_bp

# $1 tenant, $2 first day, $3 last day (inclusive), $4 / $5 the period as UTC instants [from, to), $6 its key.
# The ``tenant_id = $1`` terms are for the planner; row-level security is the guarantee.
INPUTS_SQL = f"""
WITH c AS (
    SELECT DISTINCT ON (compound_id) compound_id, company_id, annual_fee_fen
    FROM property_contract
    WHERE tenant_id = $1 AND starts_on <= $3 AND ends_on >= $2
    ORDER BY compound_id, (ends_on >= $3) DESC, starts_on DESC
), t AS (
    SELECT t.compound_id,
           {TICKET_COUNTS}
    FROM ticket t
    WHERE t.tenant_id = $1 AND t.opened_at >= $4 AND t.opened_at < $5 AND t.compound_id IS NOT NULL
    GROUP BY 1
), s AS (
    SELECT DISTINCT ON (compound_id, body_code) compound_id, body_code, scores, late_entry
    FROM score_submission
    WHERE tenant_id = $1 AND round_id = (SELECT id FROM assessment_round WHERE tenant_id = $1 AND period_key = $6)
    ORDER BY compound_id, body_code, revision DESC
), sheets AS (
    SELECT compound_id, jsonb_object_agg(body_code, scores)::text AS sheets,
           array_agg(body_code) FILTER (WHERE late_entry) AS late
    FROM s GROUP BY 1
), f AS (
    SELECT compound_id, count(*) AS findings,
           count(*) FILTER (WHERE resolved_at IS NOT NULL AND resolved_at <= resolve_by) AS in_time
    FROM supervisor_finding
    WHERE tenant_id = $1 AND found_at >= $4 AND found_at < $5
    GROUP BY 1
)
SELECT c.compound_id, c.company_id, c.annual_fee_fen,
       t.received, t.rejected, t.closed, t.resolved, t.on_time, t.rated, t.satisfied,
       sheets.sheets, sheets.late, f.findings, f.in_time
FROM c
LEFT JOIN t ON t.compound_id = c.compound_id
LEFT JOIN sheets ON sheets.compound_id = c.compound_id
LEFT JOIN f ON f.compound_id = c.compound_id
ORDER BY c.compound_id
"""


@dataclass(frozen=True)
class Contracted:
    """One compound's inputs with the company that serves it and that contract's annual fee (fen)."""

    inputs: CompoundInputs
    company_id: int
    fee_fen: int


async def inputs_params(period_key: str) -> list:
    """The statement's parameters for a period of the tenant in scope."""
    start, end = periods.bounds(period_key)
    zone = await current_zone()
    return [
        current_tenant_id(),
        start,
        end,
        periods.local_midnight(start, zone),
        periods.local_midnight(end + timedelta(days=1), zone),
        period_key,
    ]


def _inputs(r: Mapping[str, Any], months: int, sourced: Mapping[str, Fraction | None]) -> CompoundInputs:
    received = r["received"] or 0
    rejected = r["rejected"] or 0
    sheets = orjson.loads(r["sheets"]) if r["sheets"] is not None else {}
    findings, in_time = r["findings"] or 0, r["in_time"] or 0
    return CompoundInputs(
        compound_id=r["compound_id"],
        submissions={body: {k: int(v) for k, v in points.items()} for body, points in sheets.items()},
        closure_rate_bp=rate_bp(r["closed"] or 0, received - rejected),
        satisfaction_rate_bp=rate_bp(r["satisfied"] or 0, r["rated"] or 0),
        on_time_rate_bp=rate_bp(r["on_time"] or 0, r["resolved"] or 0),
        tickets_per_month=Decimal(received) / months,
        findings=[False] * (findings - in_time) + [True] * in_time,  # only the counts matter
        late_bodies=frozenset(r["late"] or ()),
        sourced=sourced,
    )


NO_SOURCES: Mapping[str, Fraction | None] = MappingProxyType({})


def record_sources(assessment: Assessment) -> tuple[str, ...]:
    """The sources of the assessment's rubric lines scored from records, in rubric order, once each."""
    return tuple(dict.fromkeys(i.source for i in assessment.rubric if i.source != "body"))


async def compound_inputs(period_key: str, *, sources: tuple[str, ...] = ()) -> list[Contracted]:
    """Every compound under contract in the period, by id, with its inputs: one statement, and for ``sources``
    (``record_sources``) one call for the shares of the lines scored from records."""
    params = await inputs_params(period_key)
    _, rows = await connections.get("default").execute_query(INPUTS_SQL, params)  # records, not dicts
    months = periods.months(period_key)
    fed = await compliance.rubric_inputs(period_key, [r["compound_id"] for r in rows]) if sources and rows else {}
    return [
        Contracted(
            _inputs(r, months, {s: fed.get((r["compound_id"], s)) for s in sources} if sources else NO_SOURCES),
            r["company_id"],
            r["annual_fee_fen"],
        )
        for r in rows
    ]
