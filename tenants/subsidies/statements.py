"""What a settlement period's statements should say: the published ratings of its assessment periods, each
compound's mean score and payee, the lines of the allocation rule, and corrections of earlier approved periods
whose ratings were revised since (computed for the whole tenant at once). Pure reading; ``service`` writes."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from tortoise import connections

from tenants import periods
from tenants.assessment.models import CompoundRating, RatingSnapshot, SnapshotStatus
from tenants.config.document import ConfigDocument
from tenants.config.service import effective_config
from tenants.errors import Conflict, InvalidInput, Problem
from tenants.scope import current_tenant_id
from tenants.subsidies.allocation import Band, Rated, allocate, period_pool
from tenants.subsidies.models import LineKind, SettlementStatement, StatementStatus
from tenants.tenancy.models import Tenant
from tenants.territory.models import Compound

YEAR = re.compile(r"^(\d{4})\Z")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])\Z")
CENT = Decimal("0.01")


class RatingsNotPublished(Conflict):
    code = "RATINGS_NOT_PUBLISHED"


def bounds(period_key: str, field_name: str = "period") -> tuple[date, date]:
    """First and last day of a settlement period: a year (2026) or a quarter (2026Q4)."""
    if m := YEAR.match(period_key):
        periods.check_year(int(m[1]), field_name)
        return date(int(m[1]), 1, 1), date(int(m[1]), 12, 31)
    if _QUARTER.match(period_key):
        return periods.bounds(period_key, field_name)
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
class Setting:
    doc: ConfigDocument
    version: int | None
    rule: dict[str, Any]


async def setting_for(period_key: str) -> Setting:
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
    return Setting(eff.document, eff.versions.get(me), rule)


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


async def _applied(for_periods: list[str]) -> dict[tuple[int, str, int], tuple[int, int]]:
    """What approved (or paid) statements settled for these periods, per (community, period, compound): (fen,
    payee), the period's own lines and every later correction of it, in one query."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT s.community_id, l.for_period, l.compound_id, SUM(l.amount_fen)::bigint AS fen,"
        " (array_agg(l.company_id ORDER BY l.id DESC))[1] AS company_id"
        " FROM settlement_line l JOIN settlement_statement s ON s.tenant_id = l.tenant_id AND s.id = l.statement_id"
        " WHERE l.tenant_id = $1 AND s.status IN ('approved', 'paid') AND l.for_period = ANY($2::text[])"
        " GROUP BY s.community_id, l.for_period, l.compound_id",
        [current_tenant_id(), for_periods],
    )
    return {(r["community_id"], r["for_period"], r["compound_id"]): (int(r["fen"]), r["company_id"]) for r in rows}


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
    revised_periods = sorted({s.period_key for s in revised})
    # A compound belongs, for a period, to the community whose approved statement settled it (it may have moved
    # since); one not settled anywhere yet, to its community now. So every community's slots stay as approved.
    applied = await _applied(revised_periods)
    scores_of: dict[tuple[str, ...], dict[int, dict[int, _Score]]] = {}
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for stmt in revised:
        keys, basis = tuple(keys_of[stmt.id]), basis_of[stmt.id]
        if keys not in scores_of:
            scores_of[keys] = await _scores({k: snaps[k] for k in keys if k in snaps}, None)
        by_community = scores_of[keys]
        rated = {c: sc for per in by_community.values() for c, sc in per.items()}
        settled_here = {c for (m, p, c) in applied if m == stmt.community_id and p == stmt.period_key}
        settled_anywhere = {c for (_, p, c) in applied if p == stmt.period_key}
        members = settled_here | (set(by_community.get(stmt.community_id, {})) - settled_anywhere)
        scores = {c: rated[c] for c in members if c in rated}
        regular, _ = _regular_lines(stmt.period_key, stmt.pool_fen, scores, stmt.rule)
        now_due = {line["compound_id"]: line for line in regular}
        for compound_id in sorted(settled_here | set(now_due)):
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


async def compute(period_key: str, setting: Setting, community_ids: list[int] | None) -> dict[int, Draft]:
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
