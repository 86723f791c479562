"""以奖代补 settlement: statements per (period, community) from the published ratings, approval, payment.

A run reads the published ratings (latest revision) of every assessment period inside the settlement period,
rates each compound by the mean of its period scores, and allocates each community's pool for the period by
``tenants.subsidies.allocation``. It also corrects earlier approved periods whose ratings were revised since:
the difference per compound becomes an adjustment line (the earlier statement stays as it was approved).

A re-run replaces a draft (and leaves it untouched when nothing changed); an approved or paid statement never
changes (a database trigger refuses it). Runs of the same period queue on an advisory lock, and the statement is
unique per (tenant, period, community), so two runs at once leave one statement. An approval takes the period's
lock too (before the statement's row, as a run does), then the tenant's approval lock, so two drafts carrying the
same correction are never both approved. Everything happens in the caller's transaction: a crash leaves nothing
or the whole run.

Approval posts the statement to the ledger (the year's pool of the community is funded from the tenant's subsidy
fund at its first approval, and topped up if the configuration raises the yearly pool later that year; then each
line moves from the pool to its payee's payable); payment moves the payables to paid. The pool accounts cannot go
below zero (a database CHECK), so no approval pays more than the pool.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tortoise import connections

from tenants import clock
from tenants.audit import service as audit
from tenants.config.service import effective_config
from tenants.errors import Conflict, IllegalTransition, InvalidInput, NotEnabled, NotFound, Noun, Problem, text_problems
from tenants.ledger import accounts
from tenants.ledger import service as ledger
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.subsidies.models import SettlementLine, SettlementStatement, StatementStatus
from tenants.subsidies.statements import (
    CENT,
    YEAR,
    RatingsNotPublished,
    Setting,
    bounds,
    compute,
    rating_periods,
    setting_for,
)
from tenants.territory.access import Access

__all__ = [
    "Pool",
    "RatingsNotPublished",
    "RunResult",
    "StatementStale",
    "SubsidiesDisabled",
    "approve",
    "bounds",
    "pay",
    "pools",
    "rating_periods",
    "run",
]
_CADENCE_ZH = {"yearly": "年", "quarterly": "季度"}


class StatementStale(Conflict):
    code = "STATEMENT_STALE"


class SubsidiesDisabled(NotEnabled):
    feature = "subsidies"
    feature_zh, feature_en = "以奖代补", "reward-in-lieu-of-subsidy"


@dataclass
class RunResult:
    period_key: str
    created: list[int] = field(default_factory=list)
    replaced: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    approved: list[int] = field(default_factory=list)
    removed: int = 0

    @property
    def statement_ids(self) -> list[int]:
        return sorted(self.created + self.replaced + self.unchanged)


def _check_period(period_key: str, setting: Setting, today: date) -> None:
    sub = setting.doc.subsidies
    if not sub.enabled:
        raise SubsidiesDisabled(field="period")
    yearly = bool(YEAR.match(period_key))
    if yearly != (sub.settlement_cadence == "yearly"):
        raise InvalidInput.of(
            [
                Problem(
                    "period",
                    "cadence",
                    f"按配置须按{_CADENCE_ZH[sub.settlement_cadence]}结算，{period_key} 不是结算期间",
                    f"settlements are {sub.settlement_cadence} here; {period_key} is not a settlement period",
                )
            ]
        )
    _, end = bounds(period_key)
    if today <= end:
        raise InvalidInput.of(
            [
                Problem(
                    "period",
                    "not_ended",
                    f"{period_key} 尚未结束，结束后方可结算",
                    f"{period_key} has not ended yet; settle it afterwards",
                )
            ]
        )


def _content(lines: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            str(line["kind"]),
            line["for_period"],
            line["compound_id"],
            line["company_id"],
            None if line["score"] is None else Decimal(line["score"]).quantize(CENT),
            line["share_percent"],
            line["amount_fen"],
        )
        for line in lines
    ]


def _as_line(line: SettlementLine) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "for_period": line.for_period,
        "compound_id": line.compound_id,
        "company_id": line.company_id,
        "score": line.score,
        "share_percent": line.share_percent,
        "amount_fen": line.amount_fen,
    }


async def _stored(statement_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in await SettlementLine.filter(statement_id__in=statement_ids).order_by("statement_id", "position"):
        out[line.statement_id].append(_as_line(line))
    return out


async def _write_lines(statement_id: int, lines: list[dict[str, Any]]) -> None:
    await SettlementLine.bulk_create(
        [SettlementLine(statement_id=statement_id, position=i + 1, **line) for i, line in enumerate(lines)]
    )


async def run(*, access: Access, period_key: str, actor: str, now: datetime | None = None) -> RunResult:
    """Compute (or re-compute) the period's draft statements; approve them at once when the configuration does not
    ask for approval."""
    require(access, "subsidies.run")
    at = now or clock.now()
    bounds(period_key)
    async with savepoint() as conn:
        await advisory_lock("settlement", period_key, conn=conn)
        setting = await setting_for(period_key)
        _check_period(period_key, setting, await clock.today(at))
        drafts = await compute(period_key, setting, None)
        existing = {s.community_id: s for s in await SettlementStatement.filter(period_key=period_key)}
        stored = await _stored([s.id for s in existing.values() if s.status == StatementStatus.DRAFT])
        result = RunResult(period_key)
        for community_id, draft in drafts.items():
            stmt = existing.get(community_id)
            if stmt is not None and stmt.status != StatementStatus.DRAFT:
                result.unchanged.append(stmt.id)
                continue
            if (
                stmt is not None
                and _content(stored.get(stmt.id, [])) == _content(draft.lines)
                and (
                    stmt.pool_fen,
                    stmt.rule,
                    stmt.basis,
                )
                == (draft.pool_fen, setting.rule, draft.basis)
            ):
                result.unchanged.append(stmt.id)
                continue
            fields: dict[str, Any] = {
                "pool_fen": draft.pool_fen,
                "total_fen": draft.total_fen,
                "config_version": setting.version,
                "rule": setting.rule,
                "basis": draft.basis,
                "computed_at": at,
                "computed_by": actor,
            }
            if stmt is None:
                stmt = await SettlementStatement.create(period_key=period_key, community_id=community_id, **fields)
                result.created.append(stmt.id)
            else:
                await SettlementLine.filter(statement_id=stmt.id).delete()
                await SettlementStatement.filter(id=stmt.id).update(**fields)
                result.replaced.append(stmt.id)
            await _write_lines(stmt.id, draft.lines)
        stale = [s.id for c, s in existing.items() if c not in drafts and s.status == StatementStatus.DRAFT]
        if stale:
            await SettlementLine.filter(statement_id__in=stale).delete()
            result.removed = await SettlementStatement.filter(id__in=stale).delete()
        if result.created or result.replaced or result.removed:  # a run that changes nothing leaves no trace
            await audit.record(
                actor=actor,
                action="settlement.run",
                target_type="settlement_period",
                target_id=period_key,
                details={"created": result.created, "replaced": result.replaced, "unchanged": len(result.unchanged)},
            )
        if not setting.doc.subsidies.approval_required:
            for sid in result.created + result.replaced:
                await approve(access=access, statement_id=sid, actor=actor, now=at)
                result.approved.append(sid)
        return result


async def _locked(statement_id: int) -> SettlementStatement:
    stmt = await SettlementStatement.filter(id=statement_id).select_for_update().first()
    if stmt is None:
        raise NotFound("结算单不存在", "no such settlement statement", field="id")
    return stmt


STATEMENT = Noun(
    "结算单", "statement", {"draft": "草稿", "approved": "已审批", "paid": "已支付"},
    {"approve": "审批", "pay": "支付"}, field="id", state_key="status", code="CONFLICT",
)


async def approve(
    *, access: Access, statement_id: int, actor: str, now: datetime | None = None
) -> SettlementStatement:
    """Freeze a draft and post it: fund the community's yearly pool (once, topped up if raised), move each line to
    its payee."""
    require(access, "subsidies.approve")
    at = now or clock.now()
    async with savepoint() as conn:
        # The period's lock before the row's, in the order a run takes them (a run holding the period's lock
        # updates the draft row): the other order deadlocks against a run that replaces this draft.
        period_key = await SettlementStatement.filter(id=statement_id).values_list("period_key", flat=True)
        if not period_key:
            raise NotFound("结算单不存在", "no such settlement statement", field="id")
        await advisory_lock("settlement", period_key[0], conn=conn)
        # Approvals of the tenant queue on one more lock: drafts of two periods can carry the same correction of
        # an earlier period, and only the one approved first may pay it (the other is then stale, below).
        await advisory_lock("settlement-approval", conn=conn)
        stmt = await _locked(statement_id)
        if stmt.status != StatementStatus.DRAFT:
            raise IllegalTransition(STATEMENT, "approve", stmt.status.value)
        lines = await SettlementLine.filter(statement_id=stmt.id).order_by("position")
        fresh = (await compute(stmt.period_key, Setting(None, None, stmt.rule), [stmt.community_id])).get(  # type: ignore[arg-type]
            stmt.community_id
        )
        if (
            fresh is None
            or _content(fresh.lines) != _content([_as_line(x) for x in lines])
            or fresh.basis != stmt.basis
        ):
            raise StatementStale(
                "评级或已审批的结算已变化，请重新结算后再审批",
                "the ratings or approved settlements changed since this draft; run the settlement again first",
                field="id",
            )
        await _post_approval(stmt, lines, actor, at)
        stmt.status, stmt.approved_at, stmt.approved_by = StatementStatus.APPROVED, at, actor
        await stmt.save(update_fields=["status", "approved_at", "approved_by"])
        await audit.record(
            actor=actor,
            action="settlement.approve",
            target_type="settlement_statement",
            target_id=stmt.id,
            details={"period": stmt.period_key, "community": stmt.community_id, "total_fen": stmt.total_fen},
        )
        return stmt


async def _post_approval(stmt: SettlementStatement, lines: list[SettlementLine], actor: str, at: datetime) -> None:
    legs: dict[str, int] = defaultdict(int)
    years: set[int] = set()
    for line in lines:
        year = int(line.for_period[:4])
        legs[accounts.subsidy_pool(stmt.community_id, year)] -= line.amount_fen
        legs[accounts.subsidy_payable(line.company_id)] += line.amount_fen
        years.add(year)
    own = int(stmt.period_key[:4])
    for year in sorted(years):
        # Only the statement's own year is funded from its rule; the other years' lines are corrections of
        # approved statements, which funded their years' pools.
        await _fund(stmt.community_id, year, stmt.rule["yearly_pool_fen"], top_up=year == own, actor=actor, at=at)
    await _post(
        stmt,
        "approve",
        [ledger.Leg(a, fen) for a, fen in legs.items() if fen != 0],
        reason=f"{stmt.period_key} 以奖代补结算单 #{stmt.id} 审批 / settlement statement #{stmt.id} approved",
        actor=actor,
        at=at,
    )


async def _post(
    stmt: SettlementStatement, step: str, legs: list[ledger.Leg], *, reason: str, actor: str, at: datetime
) -> None:
    """The statement's ledger entry for ``step``, once, unless no leg moves money. Legs go in account-name order:
    concurrent journals on the same payables then take their balance rows in one order and cannot deadlock."""
    if legs:
        await ledger.post(
            key=f"settlement:{stmt.id}:{step}",
            legs=sorted(legs, key=lambda leg: leg.account),
            period=stmt.period_key,
            reason=reason,
            source_kind="settlement_statement",
            source_id=stmt.id,
            author=actor,
            now=at,
        )


async def _fund(community_id: int, year: int, pool: int, *, top_up: bool, actor: str, at: datetime) -> None:
    """Fund a community's pool of a year from the subsidy fund: with the yearly pool of the configuration at its
    first approval, then up to a larger yearly pool when the configuration raised it during the year (a period's
    pool is its share of the yearly pool in force at its end, so the year's periods may draw more than at first)."""
    await ledger.fund_up_to(
        key=f"subsidy_pool:{community_id}:{year}",
        source_account=accounts.subsidy_fund(year),
        account=accounts.subsidy_pool(community_id, year),
        target=pool,
        top_up=top_up,
        period=str(year),
        reason=lambda target, _: (
            f"{year} 年社区以奖代补资金池（{target} 分）/ {year} reward pool of community {community_id} ({target} fen)"
        ),
        source_kind="subsidy_pool",
        source_id=community_id,
        author=actor,
        now=at,
    )


async def pay(
    *, access: Access, statement_id: int, reference: str, actor: str, now: datetime | None = None
) -> SettlementStatement:
    """Record the payment of an approved statement (the bank's reference) and move the payables to paid."""
    require(access, "subsidies.pay")
    at = now or clock.now()
    reference = reference.strip()
    if problems := text_problems("reference", reference, "支付凭证号", required=True, limit=128):
        raise InvalidInput.of(problems)
    async with savepoint():
        stmt = await _locked(statement_id)
        if stmt.status != StatementStatus.APPROVED:
            raise IllegalTransition(STATEMENT, "pay", stmt.status.value)
        per_company: dict[int, int] = defaultdict(int)
        for company_id, fen in await SettlementLine.filter(statement_id=stmt.id).values_list(
            "company_id", "amount_fen"
        ):
            per_company[company_id] += fen  # type: ignore[index]
        legs: list[ledger.Leg] = []
        for company_id, fen in sorted(per_company.items()):
            if fen != 0:
                legs += [
                    ledger.Leg(accounts.subsidy_payable(company_id), -fen),
                    ledger.Leg(accounts.subsidy_paid(company_id), fen),
                ]
        reason = f"结算单 #{stmt.id} 支付（{reference}）/ statement #{stmt.id} paid ({reference})"
        await _post(stmt, "pay", legs, reason=reason, actor=actor, at=at)
        stmt.status, stmt.paid_at, stmt.paid_by, stmt.payment_reference = StatementStatus.PAID, at, actor, reference
        await stmt.save(update_fields=["status", "paid_at", "paid_by", "payment_reference"])
        await audit.record(
            actor=actor,
            action="settlement.pay",
            target_type="settlement_statement",
            target_id=stmt.id,
            details={"reference": reference, "total_fen": stmt.total_fen},
        )
        return stmt


@dataclass(frozen=True)
class Pool:
    """A community's pool of a year. Once funded (at its first approval), the figures are the ledger's: what the
    fund put in, what approved statements drew (corrections included), what is left in the pool account (never
    below zero); before that, the yearly pool the configuration grants."""

    community_id: int
    year: int
    yearly_pool_fen: int
    drawn_fen: int
    paid_fen: int
    remaining_fen: int


async def pools(year: int, community_ids: list[int]) -> list[Pool]:
    """The year's pools of the given communities (two set-based queries and the configuration)."""
    eff = await effective_config(date(year, 12, 31))
    configured = eff.document.subsidies.yearly_pool_per_community_fen if eff.document.subsidies.enabled else 0
    conn = connections.get("default")
    tid = current_tenant_id()
    funded_rows = await conn.execute_query_dict(
        "SELECT p.account, SUM(p.amount_fen)::bigint AS funded, MAX(b.balance_fen) AS balance"
        " FROM ledger_posting p JOIN ledger_journal j ON j.id = p.journal_id AND j.tenant_id = p.tenant_id"
        " JOIN ledger_balance b ON b.tenant_id = p.tenant_id AND b.account = p.account"
        " WHERE p.tenant_id = $1 AND j.source_kind = 'subsidy_pool' AND p.account = ANY($2::text[])"
        " GROUP BY p.account",
        [tid, [accounts.subsidy_pool(c, year) for c in community_ids]],
    )
    funded = {r["account"]: (int(r["funded"]), int(r["balance"])) for r in funded_rows}
    paid_rows = await conn.execute_query_dict(
        "SELECT s.community_id, SUM(l.amount_fen)::bigint AS paid"
        " FROM settlement_line l JOIN settlement_statement s ON s.id = l.statement_id AND s.tenant_id = l.tenant_id"
        " WHERE l.tenant_id = $1 AND s.status = 'paid' AND l.for_period LIKE $2"
        " AND s.community_id = ANY($3::bigint[]) GROUP BY s.community_id",
        [tid, f"{year}%", community_ids],
    )
    paid = {r["community_id"]: int(r["paid"]) for r in paid_rows}
    out = []
    for c in community_ids:
        put_in, left = funded.get(accounts.subsidy_pool(c, year), (configured, configured))
        out.append(Pool(c, year, put_in, put_in - left, paid.get(c, 0), left))
    return out
