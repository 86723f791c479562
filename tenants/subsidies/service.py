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

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from tortoise import connections

from tenants.assessment import periods
from tenants.assessment.models import CompoundRating, RatingSnapshot, SnapshotStatus
from tenants.audit import service as audit
from tenants.config.document import ConfigDocument
from tenants.config.service import effective_config
from tenants.errors import Conflict, InvalidInput, NotFound, Problem
from tenants.ledger import accounts
from tenants.ledger import service as ledger
from tenants.ledger.models import LedgerJournal, LedgerPosting
from tenants.scope import current_tenant_id, savepoint
from tenants.subsidies.allocation import Band, Rated, allocate, period_pool
from tenants.subsidies.models import LineKind, SettlementLine, SettlementStatement, StatementStatus
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import current_zone
from tenants.territory.models import Compound

_YEAR = re.compile(r"^(\d{4})$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
CENT = Decimal("0.01")
_CADENCE_ZH = {"yearly": "年", "quarterly": "季度"}


class RatingsNotPublished(Conflict):
    code = "RATINGS_NOT_PUBLISHED"


class StatementStale(Conflict):
    code = "STATEMENT_STALE"


class SubsidiesDisabled(Conflict):
    code = "SUBSIDIES_DISABLED"


def bounds(period_key: str, field_name: str = "period") -> tuple[date, date]:
    """First and last day of a settlement period: a year (2026) or a quarter (2026Q4)."""
    if m := _YEAR.match(period_key):
        return date(int(m[1]), 1, 1), date(int(m[1]), 12, 31)
    if _QUARTER.match(period_key):
        return periods.bounds(period_key)
    raise InvalidInput.of(
        [
            Problem(
                field_name,
                "format",
                "结算期间须为 2026（年度）或 2026Q4（季度）的形式",
                "a settlement period looks like 2026 (a year) or 2026Q4 (a quarter)",
            )
        ]
    )


def rating_periods(period_key: str, assessment_cadence: str) -> list[str]:
    """The assessment periods (months or quarters) inside a settlement period."""
    start, end = bounds(period_key)
    keys: list[str] = []
    month = date(start.year, start.month, 1)
    while month <= end:
        key = periods.key_for(month, assessment_cadence)
        if key not in keys:
            keys.append(key)
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
    return keys


@dataclass
class Draft:
    """A community's computed statement before it is written."""

    community_id: int
    pool_fen: int
    lines: list[dict[str, Any]]
    basis: dict[str, int]

    @property
    def total_fen(self) -> int:
        return sum(line["amount_fen"] for line in self.lines)


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


@dataclass
class _Setting:
    doc: ConfigDocument
    version: int | None
    rule: dict[str, Any]


async def _setting(period_key: str) -> _Setting:
    _, end = bounds(period_key)
    eff = await effective_config(end)
    me = (await Tenant.get(id=current_tenant_id())).slug
    sub = eff.document.subsidies
    rule = {
        "cadence": sub.settlement_cadence,
        "yearly_pool_fen": sub.yearly_pool_per_community_fen,
        "bands": [{"min_score": str(b.min_score), "share_percent": b.share_percent} for b in sub.bands],
        "assessment_cadence": eff.document.assessment.cadence,
        "rounding": "largest_remainder",
        "versions": eff.versions,
    }
    return _Setting(eff.document, eff.versions.get(me), rule)


def _bands(rule: dict[str, Any]) -> list[Band]:
    return [Band(Decimal(b["min_score"]), int(b["share_percent"])) for b in rule["bands"]]


async def _published(keys: list[str]) -> dict[str, RatingSnapshot]:
    """The latest published snapshot of each period key that has one."""
    snaps = await RatingSnapshot.filter(period_key__in=keys, status=SnapshotStatus.PUBLISHED).order_by("revision")
    return {s.period_key: s for s in snaps}  # the last (highest revision) wins


@dataclass(frozen=True)
class _Score:
    score: Decimal
    company_id: int
    periods: dict[str, str]  # rating period -> score


async def _scores(snaps: dict[str, RatingSnapshot], community_ids: list[int] | None) -> dict[int, dict[int, _Score]]:
    """Per community, per compound: the mean of its published period scores (half up to 0.01) and its payee."""
    by_snapshot = {s.id: key for key, s in snaps.items()}
    rows = await CompoundRating.filter(snapshot_id__in=list(by_snapshot)).values_list(
        "snapshot_id", "compound_id", "company_id", "score"
    )
    compound_ids = sorted({r[1] for r in rows})
    qs = Compound.filter(id__in=compound_ids)
    if community_ids is not None:
        qs = qs.filter(community_id__in=community_ids)
    community_of = dict(await qs.values_list("id", "community_id"))  # type: ignore[arg-type]
    per: dict[int, dict[str, tuple[Decimal, int]]] = defaultdict(dict)
    for snapshot_id, compound_id, company_id, score in rows:
        if compound_id in community_of:
            per[compound_id][by_snapshot[snapshot_id]] = (Decimal(score), company_id)
    out: dict[int, dict[int, _Score]] = defaultdict(dict)
    for compound_id, scored in per.items():
        keys = sorted(scored)
        mean = (sum((scored[k][0] for k in keys), Decimal(0)) / len(keys)).quantize(CENT, ROUND_HALF_UP)
        out[community_of[compound_id]][compound_id] = _Score(
            mean, scored[keys[-1]][1], {k: str(scored[k][0]) for k in keys}
        )
    return out


def _rule_text(band: Band | None, pool_fen: int, n: int, cadence: str) -> str:
    slot = Fraction(pool_fen, n)
    slot_yuan = f"{Decimal(slot.numerator) / Decimal(slot.denominator) / 100:.2f}"
    if band is None:
        return f"未达最低档，不予奖补 / below the lowest band: nothing (slot {slot_yuan} CNY of {n})"
    return (
        f"≥{band.min_score} 分档：本期奖补池均分 {n} 份、每份 {slot_yuan} 元的 {band.share_percent}% / "
        f"band ≥{band.min_score}: {band.share_percent}% of a {slot_yuan} CNY slot (pool split {n} ways, {cadence})"
    )


def _regular_lines(
    period_key: str, pool_fen: int, scores: dict[int, _Score], rule: dict[str, Any]
) -> tuple[list[dict[str, Any]], int]:
    compound_ids = sorted(scores)
    allocations, total = allocate(pool_fen, [Rated(c, scores[c].score) for c in compound_ids], _bands(rule))
    lines = [
        {
            "kind": LineKind.RATING,
            "for_period": period_key,
            "compound_id": a.compound_id,
            "company_id": scores[a.compound_id].company_id,
            "score": a.score,
            "band_min_score": a.band.min_score if a.band else None,
            "share_percent": a.band.share_percent if a.band else 0,
            "rule": _rule_text(a.band, pool_fen, len(compound_ids), rule["cadence"]),
            "amount_fen": a.amount_fen,
            "detail": {
                "quota_fen": f"{a.quota.numerator}/{a.quota.denominator}",
                "remainder_fen": a.remainder_fen,
                "period_scores": scores[a.compound_id].periods,
            },
        }
        for a in allocations
    ]
    return lines, total


async def _applied(statement_ids: list[int], for_periods: list[str]) -> dict[tuple[int, str, int], tuple[int, int]]:
    """What the given approved statements settled per (community, period, compound): (fen, company)."""
    community_of = dict(
        await SettlementStatement.filter(id__in=statement_ids).values_list("id", "community_id")  # type: ignore[arg-type]
    )
    rows = await SettlementLine.filter(statement_id__in=statement_ids, for_period__in=for_periods).order_by("id")
    out: dict[tuple[int, str, int], tuple[int, int]] = {}
    for line in rows:
        key = (community_of[line.statement_id], line.for_period, line.compound_id)
        fen, _ = out.get(key, (0, line.company_id))
        out[key] = (fen + line.amount_fen, line.company_id)
    return out


async def _adjustments(community_ids: list[int] | None, before: date) -> dict[int, list[dict[str, Any]]]:
    """Per community, correction lines for its approved statements of periods before ``before`` whose ratings were
    revised since they were approved. A handful of queries for the whole tenant, plus two per revised period."""
    qs = SettlementStatement.filter(status__in=[StatementStatus.APPROVED, StatementStatus.PAID])
    if community_ids is not None:
        qs = qs.filter(community_id__in=community_ids)
    approved = await qs.order_by("period_key", "community_id")
    earlier = [s for s in approved if bounds(s.period_key)[1] < before]
    keys_of = {s.id: rating_periods(s.period_key, s.rule["assessment_cadence"]) for s in earlier}
    snaps = await _published(sorted({k for keys in keys_of.values() for k in keys}))
    basis_of = {sid: {k: snaps[k].revision for k in keys if k in snaps} for sid, keys in keys_of.items()}
    # An approval needs a fresh draft, so a statement whose basis is still the published one is settled right.
    revised = [s for s in earlier if basis_of[s.id] != s.basis]
    if not revised:
        return {}
    applied = await _applied([s.id for s in approved], sorted({s.period_key for s in revised}))
    scores_of: dict[tuple[str, ...], dict[int, dict[int, _Score]]] = {}
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for stmt in revised:
        keys, basis = tuple(keys_of[stmt.id]), basis_of[stmt.id]
        if keys not in scores_of:
            scores_of[keys] = await _scores({k: snaps[k] for k in keys if k in snaps}, community_ids)
        scores = scores_of[keys].get(stmt.community_id, {})
        regular, _ = _regular_lines(stmt.period_key, stmt.pool_fen, scores, stmt.rule)
        now_due = {line["compound_id"]: line for line in regular}
        settled = {c for (m, p, c) in applied if m == stmt.community_id and p == stmt.period_key}
        for compound_id in sorted(settled | set(now_due)):
            paid, company_id = applied.get((stmt.community_id, stmt.period_key, compound_id), (0, 0))
            due = now_due.get(compound_id)
            diff = (due["amount_fen"] if due else 0) - paid
            if diff == 0:
                continue
            revisions = ", ".join(f"{k} r{v}" for k, v in sorted(basis.items()))
            out[stmt.community_id].append(
                {
                    "kind": LineKind.ADJUSTMENT,
                    "for_period": stmt.period_key,
                    "compound_id": compound_id,
                    "company_id": due["company_id"] if due else company_id,
                    "score": due["score"] if due else None,
                    "band_min_score": due["band_min_score"] if due else None,
                    "share_percent": due["share_percent"] if due else 0,
                    "rule": f"{stmt.period_key} 评级修订后补差（{revisions}）/ correction of {stmt.period_key} after "
                    f"its ratings were revised ({revisions}): due {due['amount_fen'] if due else 0}, settled {paid}",
                    "amount_fen": diff,
                    "detail": {
                        "statement_id": stmt.id,
                        "basis": basis,
                        "due_fen": due["amount_fen"] if due else 0,
                        "settled_fen": paid,
                    },
                }
            )
    return out


async def _compute(period_key: str, setting: _Setting, community_ids: list[int] | None) -> dict[int, Draft]:
    keys = rating_periods(period_key, setting.rule["assessment_cadence"])
    snaps = await _published(keys)
    missing = [k for k in keys if k not in snaps]
    if missing:
        raise RatingsNotPublished(
            f"{period_key} 的评级尚未全部发布（缺 {', '.join(missing)}）",
            f"the ratings of {period_key} are not all published (missing {', '.join(missing)})",
            field="period",
            details={"missing": missing},
        )
    pool_fen = period_pool(setting.rule["yearly_pool_fen"], period_key, setting.rule["cadence"])
    scores = await _scores(snaps, community_ids)
    start, _ = bounds(period_key)
    # Communities with earlier approved statements may owe corrections even without ratings this period.
    corrections = await _adjustments(community_ids, start)
    drafts: dict[int, Draft] = {}
    for community_id in sorted(set(scores) | set(corrections)):
        lines, _ = _regular_lines(period_key, pool_fen, scores.get(community_id, {}), setting.rule)
        adjustments = corrections.get(community_id, [])
        if not lines and not adjustments:
            continue
        drafts[community_id] = Draft(
            community_id, pool_fen, lines + adjustments, {k: s.revision for k, s in snaps.items()}
        )
    return drafts


def _check_period(period_key: str, setting: _Setting, today: date) -> None:
    sub = setting.doc.subsidies
    if not sub.enabled:
        raise SubsidiesDisabled("本地区未启用以奖代补", "reward-in-lieu-of-subsidy is not enabled here", field="period")
    yearly = bool(_YEAR.match(period_key))
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


async def _stored(statement_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for line in await SettlementLine.filter(statement_id__in=statement_ids).order_by("statement_id", "position"):
        out[line.statement_id].append(
            {
                "kind": line.kind,
                "for_period": line.for_period,
                "compound_id": line.compound_id,
                "company_id": line.company_id,
                "score": line.score,
                "share_percent": line.share_percent,
                "amount_fen": line.amount_fen,
            }
        )
    return out


async def _write_lines(statement_id: int, lines: list[dict[str, Any]]) -> None:
    await SettlementLine.bulk_create(
        [SettlementLine(statement_id=statement_id, position=i + 1, **line) for i, line in enumerate(lines)]
    )


async def run(*, period_key: str, actor: str, now: datetime | None = None) -> RunResult:
    """Compute (or re-compute) the period's draft statements; approve them at once when the configuration does not
    ask for approval."""
    at = now or datetime.now(UTC)
    bounds(period_key)
    async with savepoint() as conn:
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtext($1))", [f"settlement:{current_tenant_id()}:{period_key}"]
        )
        setting = await _setting(period_key)
        _check_period(period_key, setting, at.astimezone(await current_zone()).date())
        drafts = await _compute(period_key, setting, None)
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
        await audit.record(
            actor=actor,
            action="settlement.run",
            target_type="settlement_period",
            target_id=period_key,
            details={"created": result.created, "replaced": result.replaced, "unchanged": len(result.unchanged)},
        )
        if not setting.doc.subsidies.approval_required:
            for sid in result.created + result.replaced:
                await approve(statement_id=sid, actor=actor, now=at)
                result.approved.append(sid)
        return result


async def _locked(statement_id: int) -> SettlementStatement:
    stmt = await SettlementStatement.filter(id=statement_id).select_for_update().first()
    if stmt is None:
        raise NotFound("结算单不存在", "no such settlement statement", field="statementId")
    return stmt


def _wrong_status(stmt: SettlementStatement, wanted: StatementStatus) -> Conflict:
    zh = {"draft": "草稿", "approved": "已审批", "paid": "已支付"}
    return Conflict(
        f"结算单当前为{zh[stmt.status.value]}，不能执行此操作",
        f"the statement is {stmt.status.value}; this needs it {wanted.value}",
        field="statementId",
        details={"status": stmt.status.value},
    )


async def approve(*, statement_id: int, actor: str, now: datetime | None = None) -> SettlementStatement:
    """Freeze a draft and post it: fund the community's yearly pool (once, topped up if raised), move each line to
    its payee."""
    at = now or datetime.now(UTC)
    async with savepoint() as conn:
        # The period's lock before the row's, in the order a run takes them (a run holding the period's lock
        # updates the draft row): the other order deadlocks against a run that replaces this draft.
        period_key = await SettlementStatement.filter(id=statement_id).values_list("period_key", flat=True)
        if not period_key:
            raise NotFound("结算单不存在", "no such settlement statement", field="statementId")
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtext($1))", [f"settlement:{current_tenant_id()}:{period_key[0]}"]
        )
        # Approvals of the tenant queue on one more lock: drafts of two periods can carry the same correction of
        # an earlier period, and only the one approved first may pay it (the other is then stale, below).
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtext($1))", [f"settlement-approval:{current_tenant_id()}"]
        )
        stmt = await _locked(statement_id)
        if stmt.status != StatementStatus.DRAFT:
            raise _wrong_status(stmt, StatementStatus.DRAFT)
        lines = await SettlementLine.filter(statement_id=stmt.id).order_by("position")
        fresh = (await _compute(stmt.period_key, _Setting(None, None, stmt.rule), [stmt.community_id])).get(  # type: ignore[arg-type]
            stmt.community_id
        )
        stored = (await _stored([stmt.id])).get(stmt.id, [])
        if fresh is None or _content(fresh.lines) != _content(stored) or fresh.basis != stmt.basis:
            raise StatementStale(
                "评级或已审批的结算已变化，请重新结算后再审批",
                "the ratings or approved settlements changed since this draft; run the settlement again first",
                field="statementId",
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
    nonzero = [ledger.Leg(a, fen) for a, fen in sorted(legs.items()) if fen != 0]
    if nonzero:
        await ledger.post(
            key=f"settlement:{stmt.id}:approve",
            legs=nonzero,
            period=stmt.period_key,
            reason=f"{stmt.period_key} 以奖代补结算单 #{stmt.id} 审批 / settlement statement #{stmt.id} approved",
            source_kind="settlement_statement",
            source_id=stmt.id,
            author=actor,
            now=at,
        )


async def _fund(community_id: int, year: int, pool: int, *, top_up: bool, actor: str, at: datetime) -> None:
    """Fund a community's pool of a year from the subsidy fund: with the yearly pool of the configuration at its
    first approval, then up to a larger yearly pool when the configuration raised it during the year (a period's
    pool is its share of the yearly pool in force at its end, so the year's periods may draw more than at first)."""
    key = f"subsidy_pool:{community_id}:{year}"
    account = accounts.subsidy_pool(community_id, year)
    journals = await LedgerJournal.filter(source_kind="subsidy_pool", source_id=community_id, period=str(year))
    mine = [j.id for j in journals if j.idempotency_key == key or j.idempotency_key.startswith(f"{key}:")]
    amounts = await LedgerPosting.filter(journal_id__in=mine, account=account).values_list("amount_fen", flat=True)
    funded = sum(amounts)  # type: ignore[arg-type]
    if pool <= funded or (mine and not top_up):
        return
    await ledger.post(
        key=f"{key}:{pool}" if mine else key,
        legs=[ledger.Leg(accounts.subsidy_fund(year), funded - pool), ledger.Leg(account, pool - funded)],
        period=str(year),
        reason=f"{year} 年社区以奖代补资金池（{pool} 分）/ {year} reward pool of community {community_id} ({pool} fen)",
        source_kind="subsidy_pool",
        source_id=community_id,
        author=actor,
        now=at,
    )


async def pay(*, statement_id: int, reference: str, actor: str, now: datetime | None = None) -> SettlementStatement:
    """Record the payment of an approved statement (the bank's reference) and move the payables to paid."""
    at = now or datetime.now(UTC)
    reference = reference.strip()
    if not reference or len(reference) > 128:
        raise InvalidInput.of(
            [Problem("reference", "required", "须填写 1-128 字的支付凭证号", "a payment reference of 1-128 characters")]
        )
    async with savepoint():
        stmt = await _locked(statement_id)
        if stmt.status != StatementStatus.APPROVED:
            raise _wrong_status(stmt, StatementStatus.APPROVED)
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
        if legs:
            await ledger.post(
                key=f"settlement:{stmt.id}:pay",
                # In account-name order, like an approval's legs: concurrent journals on the same payables then
                # take their balance rows in one order and cannot deadlock.
                legs=sorted(legs, key=lambda leg: leg.account),
                period=stmt.period_key,
                reason=f"结算单 #{stmt.id} 支付（{reference}）/ statement #{stmt.id} paid ({reference})",
                source_kind="settlement_statement",
                source_id=stmt.id,
                author=actor,
                now=at,
            )
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
    """A community's pool of a year: what the configuration grants, what approved statements drew, what is left."""

    community_id: int
    year: int
    yearly_pool_fen: int
    drawn_fen: int
    paid_fen: int

    @property
    def remaining_fen(self) -> int:
        return self.yearly_pool_fen - self.drawn_fen


async def pools(year: int, community_ids: list[int]) -> list[Pool]:
    """The year's pools of the given communities, from the configuration and the approved statements (one query)."""
    eff = await effective_config(date(year, 12, 31))
    yearly = eff.document.subsidies.yearly_pool_per_community_fen if eff.document.subsidies.enabled else 0
    rows = await connections.get("default").execute_query_dict(
        "SELECT s.community_id, SUM(l.amount_fen)::bigint AS drawn,"
        " SUM(CASE WHEN s.status = 'paid' THEN l.amount_fen ELSE 0 END)::bigint AS paid"
        " FROM settlement_line l JOIN settlement_statement s ON s.id = l.statement_id AND s.tenant_id = l.tenant_id"
        " WHERE l.tenant_id = $1 AND s.status IN ('approved', 'paid') AND l.for_period LIKE $2"
        " AND s.community_id = ANY($3::bigint[]) GROUP BY s.community_id",
        [current_tenant_id(), f"{year}%", community_ids],
    )
    found = {r["community_id"]: (int(r["drawn"]), int(r["paid"])) for r in rows}
    return [Pool(c, year, yearly, *found.get(c, (0, 0))) for c in community_ids]
