"""Grid workers' performance pay 绩效工资: a statement per grid worker and month, in integer fen.

Who: a person holding a ``grid_worker`` post on a grid on any day of the month. One statement per person: a
worker who changed grids during the month is paid for the grid they held on the most days of it (ties: the post
that started later), and the base is not prorated for part of a month.

What (``points.performance_pay``): ``base_fen`` x the percent of the band their grid's score of the month reaches
(bands strictly descending by ``min_score``; the first band whose ``min_score`` the score reaches), rounded half up
to the fen; plus the points the worker earned in the month (``points_period_total``, never below 0) x
``points_rate_fen``, capped at ``points_cap_fen``; the total capped at ``cap_fen``. A cap of 0 means no cap. A grid
with no score for the month (not active when it was scored) gives no statement.

States: draft (a re-run of the month recomputes it in place, keeping its id) -> approved by a tenant admin (frozen by
a database trigger) -> paid (handed to payroll, with a reference). ``revise`` corrects an approved or paid statement:
a new draft revision from the current figures with a reason, the old one superseded (still readable).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise import connections

from tenants import clock, periods
from tenants.audit import service as audit
from tenants.config.document import ConfigDocument, PerformancePay
from tenants.errors import InvalidInput, NotFound, Noun, text_problems
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.points import grids
from tenants.points.grid_models import PayStatement, PayStatus
from tenants.points.grids import check_ended, settings_for
from tenants.scope import current_tenant_id, savepoint
from tenants.territory.access import Access
from tenants.workflow import Transition, transition

STATEMENT = Noun(
    "绩效工资单", "pay statement",
    {"draft": "草稿", "approved": "已审批", "paid": "已发放", "superseded": "已被修订"},
    {"approve": "审批", "pay": "发放", "revise": "修订"}, field="id", state_key="status",
)

# The grid each worker held longest in the month (ties: the later post), with their grid's score and own points.
WORKERS_SQL = """
WITH held AS (
    SELECT person_id, target_id AS grid_id, starts_on,
           LEAST(coalesce(ends_on, $3::date), $3::date) - GREATEST(starts_on, $2::date) + 1 AS days
    FROM post
    WHERE tenant_id = $1 AND kind = 'grid_worker' AND target_kind = 'grid' AND target_id IS NOT NULL
      AND starts_on <= $3::date AND (ends_on IS NULL OR ends_on >= $2::date)
      AND ($5::bigint IS NULL OR person_id = $5::bigint)
), chosen AS (
    SELECT DISTINCT ON (person_id) person_id, grid_id, days FROM held WHERE days > 0
    ORDER BY person_id, days DESC, starts_on DESC, grid_id
)
SELECT c.person_id, c.grid_id, c.days, s.score, coalesce(GREATEST(pt.earned, 0), 0) AS earned
FROM chosen c
JOIN grid_score s ON s.tenant_id = $1 AND s.period_key = $4 AND s.grid_id = c.grid_id
LEFT JOIN points_period_total pt ON pt.tenant_id = $1 AND pt.period_key = $4 AND pt.person_id = c.person_id
ORDER BY c.person_id
"""

UPSERT_SQL = """
INSERT INTO pay_statement (tenant_id, period_key, person_id, grid_id, revision, status, reason, supersedes_id,
    grid_score, band_min_score, band_percent, base_fen, base_part_fen, points_earned, points_rate_fen,
    points_part_fen, total_fen, rule, config_version, computed_at, computed_by)
SELECT $1, $2, u.person_id, u.grid_id, u.revision, 'draft', u.reason, u.supersedes_id, u.grid_score, u.band_min,
       u.band_percent, u.base_fen, u.base_part, u.earned, u.rate, u.points_part, u.total, u.rule::jsonb, $3, $4, $5
FROM unnest($6::bigint[], $7::bigint[], $8::int[], $9::text[], $10::bigint[], $11::numeric[], $12::int[],
            $13::int[], $14::bigint[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[],
            $20::text[])
     AS u(person_id, grid_id, revision, reason, supersedes_id, grid_score, band_min, band_percent, base_fen,
          base_part, earned, rate, points_part, total, rule)
ON CONFLICT (tenant_id, period_key, person_id, revision) DO UPDATE SET
    grid_id = EXCLUDED.grid_id, grid_score = EXCLUDED.grid_score, band_min_score = EXCLUDED.band_min_score,
    band_percent = EXCLUDED.band_percent, base_fen = EXCLUDED.base_fen, base_part_fen = EXCLUDED.base_part_fen,
    points_earned = EXCLUDED.points_earned, points_rate_fen = EXCLUDED.points_rate_fen,
    points_part_fen = EXCLUDED.points_part_fen, total_fen = EXCLUDED.total_fen, rule = EXCLUDED.rule,
    config_version = EXCLUDED.config_version, computed_at = EXCLUDED.computed_at, computed_by = EXCLUDED.computed_by
WHERE pay_statement.status = 'draft'
"""


@dataclass(frozen=True)
class Figures:
    """One worker's pay for a month, before it is written."""

    person_id: int
    grid_id: int
    grid_score: Decimal
    band_min_score: int
    band_percent: int
    base_fen: int
    base_part_fen: int
    points_earned: int
    points_rate_fen: int
    points_part_fen: int
    total_fen: int
    rule: dict[str, Any]


def _half_up(n: int, d: int) -> int:
    return (2 * n + d) // (2 * d)


def figures(person_id: int, grid_id: int, score: Decimal, earned: int, days: int, pay: PerformancePay) -> Figures:
    """The pay of one worker from their grid's score and own points (all integer fen)."""
    band = next((b for b in pay.bands if score >= b.min_score), None)
    percent = band.percent if band else 0
    base_part = _half_up(pay.base_fen * percent, 100)
    raw_points = max(earned, 0) * pay.points_rate_fen
    points_part = min(raw_points, pay.points_cap_fen) if pay.points_cap_fen > 0 else raw_points
    raw_total = base_part + points_part
    total = min(raw_total, pay.cap_fen) if pay.cap_fen > 0 else raw_total
    rule = {
        "bands": [{"min_score": b.min_score, "percent": b.percent} for b in pay.bands],
        "base_fen": pay.base_fen,
        "points_rate_fen": pay.points_rate_fen,
        "points_cap_fen": pay.points_cap_fen,
        "cap_fen": pay.cap_fen,
        "rounding": "base x percent / 100, half up to the fen",
        "points_uncapped_fen": raw_points,
        "total_uncapped_fen": raw_total,
        "days_on_grid": days,
    }
    return Figures(
        person_id, grid_id, score, band.min_score if band else 0, percent, pay.base_fen, base_part, max(earned, 0),
        pay.points_rate_fen, points_part, total, rule,
    )


async def _compute(month: str, doc: ConfigDocument, person_id: int | None = None) -> list[Figures]:
    start, end = periods.month_bounds(month)
    rows = await connections.get("default").execute_query_dict(
        WORKERS_SQL, [current_tenant_id(), start, end, month, person_id]
    )
    pay = doc.points.performance_pay
    return [
        figures(int(r["person_id"]), int(r["grid_id"]), Decimal(r["score"]), int(r["earned"]), int(r["days"]), pay)
        for r in rows
    ]


@dataclass
class PayRun:
    month: str
    written: list[int] = field(default_factory=list)  # persons whose draft was made or recomputed
    kept: list[int] = field(default_factory=list)  # persons whose statement is approved or paid
    removed: int = 0


async def _upsert(month: str, rows: list[tuple[Figures, int, str, int | None]], version: int | None, actor: str,
                  at: datetime) -> None:
    if not rows:
        return
    cols: list[list[Any]] = [[] for _ in range(15)]
    for f, revision, reason, supersedes in rows:
        values = [
            f.person_id, f.grid_id, revision, reason, supersedes, f.grid_score, f.band_min_score, f.band_percent,
            f.base_fen, f.base_part_fen, f.points_earned, f.points_rate_fen, f.points_part_fen, f.total_fen,
            json.dumps(f.rule),
        ]
        for col, v in zip(cols, values, strict=True):
            col.append(v)
    await connections.get("default").execute_query(
        UPSERT_SQL, [current_tenant_id(), month, version, at, actor, *cols]
    )


async def compute_month(*, access: Access, month: str, actor: str, now: datetime | None = None) -> PayRun:
    """Make or recompute the month's draft statements from its grid scores (computed first); approved and paid
    statements stay as they are. Nothing when performance pay is off."""
    require(access, "grid_scores.compute")
    at = now or clock.now()
    await check_ended(month, at)
    result = PayRun(month)
    async with savepoint() as conn:
        await advisory_lock("pay_statements", month, conn=conn)
        doc, version = await settings_for(month)
        if not doc.points.performance_pay.enabled:
            return result
        computed = await _compute(month, doc)
        # (id, status, revision, reason, supersedes) of each worker's current statement: plain tuples, not models
        current = {
            r[0]: r[1:]
            for r in await PayStatement.filter(period_key=month).exclude(status=PayStatus.SUPERSEDED).values_list(
                "person_id", "id", "status", "revision", "reason", "supersedes_id"
            )
        }
        rows: list[tuple[Figures, int, str, int | None]] = []
        for f in computed:
            s = current.get(f.person_id)
            if s is not None and s[1] != PayStatus.DRAFT:
                result.kept.append(f.person_id)
                continue
            rows.append((f, s[2], s[3], s[4]) if s else (f, 1, "", None))
            result.written.append(f.person_id)
        await _upsert(month, rows, version, actor, at)
        written = set(result.written)
        gone = [s[0] for p, s in current.items() if s[1] == PayStatus.DRAFT and p not in written]
        if gone:
            result.removed = await PayStatement.filter(id__in=gone).delete()
        await audit.record(
            actor=actor, action="pay_statements.compute", target_type="pay_statements", target_id=month,
            details={"written": len(result.written), "kept": len(result.kept), "removed": result.removed},
        )
        return result


async def _locked(statement_id: int) -> PayStatement:
    s = await PayStatement.filter(id=statement_id).select_for_update().first()
    if s is None:
        raise NotFound("绩效工资单不存在", "no such pay statement", field="id")
    return s


async def _approve(s: PayStatement, *, actor: str, at: datetime) -> PayStatement:
    s.status, s.approved_at, s.approved_by = PayStatus.APPROVED, at, actor
    await s.save(update_fields=["status", "approved_at", "approved_by"])
    await audit.record(
        actor=actor, action="pay_statement.approve", target_type="pay_statement", target_id=s.id,
        details={"month": s.period_key, "person": s.person_id, "total_fen": s.total_fen},
    )
    return s


async def _revise(s: PayStatement, *, reason: str, actor: str, at: datetime) -> PayStatement:
    doc, version = await settings_for(s.period_key)
    fresh = await _compute(s.period_key, doc, s.person_id)
    if not fresh:
        raise NotFound(
            "该网格员本月已无网格评分，无法修订", "the worker has no grid score for the month any more", field="id"
        )
    s.status = PayStatus.SUPERSEDED
    await s.save(update_fields=["status"])
    await _upsert(s.period_key, [(fresh[0], s.revision + 1, reason, s.id)], version, actor, at)
    new = await PayStatement.get(period_key=s.period_key, person_id=s.person_id, revision=s.revision + 1)
    await audit.record(
        actor=actor, action="pay_statement.revise", target_type="pay_statement", target_id=new.id,
        details={"supersedes": s.id, "reason": reason, "total_fen": new.total_fen, "was_fen": s.total_fen},
    )
    return new


APPROVE: Transition[PayStatement] = Transition("approve", {PayStatus.DRAFT}, "pay_statements.approve", _approve)
REVISE: Transition[PayStatement] = Transition(
    "revise", {PayStatus.APPROVED, PayStatus.PAID}, "pay_statements.approve", _revise
)


def _allow(access: Access):  # type: ignore[no-untyped-def]
    async def allow(permission: str, _row: Any) -> None:
        require(access, permission)

    return allow


async def approve(*, access: Access, statement_id: int, actor: str, now: datetime | None = None) -> PayStatement:
    """Approve a draft (tenant admin): from now on the database refuses any change to its figures."""
    require(access, "pay_statements.approve")
    async with savepoint() as conn:
        month = await PayStatement.filter(id=statement_id).values_list("period_key", flat=True)
        if not month:
            raise NotFound("绩效工资单不存在", "no such pay statement", field="id")
        await advisory_lock("pay_statements", month[0], conn=conn)  # not while a run of the month rewrites drafts
        s = await _locked(statement_id)
        return await transition(  # type: ignore[no-any-return]
            APPROVE, STATEMENT, s, state=s.status, allow=_allow(access), actor=actor, at=now or clock.now()
        )


async def revise(
    *, access: Access, statement_id: int, reason: str, actor: str, now: datetime | None = None
) -> PayStatement:
    """Correct an approved or paid statement: a new draft revision from the current figures, with a reason; the
    old one is superseded."""
    require(access, "pay_statements.approve")
    reason = reason.strip()
    if problems := text_problems("reason", reason, "修订原因", required=True, limit=500):
        raise InvalidInput.of(problems)
    async with savepoint() as conn:
        month = await PayStatement.filter(id=statement_id).values_list("period_key", flat=True)
        if not month:
            raise NotFound("绩效工资单不存在", "no such pay statement", field="id")
        await advisory_lock("pay_statements", month[0], conn=conn)  # as a run takes it, before the row
        s = await _locked(statement_id)
        return await transition(  # type: ignore[no-any-return]
            REVISE, STATEMENT, s, state=s.status, allow=_allow(access), reason=reason, actor=actor,
            at=now or clock.now(),
        )


async def mark_paid(
    *, access: Access, month: str, reference: str, actor: str, now: datetime | None = None
) -> list[int]:
    """Record that the month's approved statements went to payroll (the payroll batch's reference): they become
    paid. Returns their ids; drafts are left as they are."""
    require(access, "pay_statements.pay")
    periods.month_bounds(month)
    reference = reference.strip()
    if problems := text_problems("reference", reference, "发放批次号", required=True, limit=128):
        raise InvalidInput.of(problems)
    at = now or clock.now()
    async with savepoint() as conn:
        await advisory_lock("pay_statements", month, conn=conn)
        ids: list[int] = await PayStatement.filter(  # type: ignore[assignment]
            period_key=month, status=PayStatus.APPROVED
        ).order_by("id").values_list("id", flat=True)
        if ids:
            await PayStatement.filter(id__in=ids).update(
                status=PayStatus.PAID, paid_at=at, paid_by=actor, payment_reference=reference
            )
            await audit.record(
                actor=actor, action="pay_statements.pay", target_type="pay_statements", target_id=month,
                details={"statements": len(ids), "reference": reference},
            )
        return ids


async def run_month(
    *, access: Access, month: str, actor: str, now: datetime | None = None
) -> tuple[grids.MonthScores, PayRun]:
    """The month's grid scores, then its pay statements (what ``computeGridScores`` and the monthly job run)."""
    async with savepoint():
        scores = await grids.compute_month(access=access, month=month, actor=actor, now=now)
        return scores, await compute_month(access=access, month=month, actor=actor, now=now)
