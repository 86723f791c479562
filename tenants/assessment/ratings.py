"""Ratings of a period: computed set-based into a draft snapshot, published, revised with a reason."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient

from tenants import clock, periods
from tenants.assessment.access import readable_snapshots
from tenants.assessment.models import (
    AssessmentRound,
    CompanyRating,
    CompoundRating,
    ListMark,
    RatingSnapshot,
    SnapshotStatus,
    SupervisorFinding,
)
from tenants.assessment.ranking import rank, red_black_places, star_places
from tenants.assessment.rounds import latest_submissions, period_config, period_versions
from tenants.assessment.scoring import CompoundInputs, CompoundScore, combine_company, score_compound
from tenants.audit import service as audit
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import SYSTEM, Access


async def _contracts(start, end) -> dict[int, tuple[int, int]]:  # type: ignore[no-untyped-def]
    """compound -> (company, annual fee in fen) of the contract in force at the period's end, else the last one
    that started within the period."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT DISTINCT ON (compound_id) compound_id, company_id, annual_fee_fen FROM property_contract"
        " WHERE tenant_id = $1 AND starts_on <= $3 AND ends_on >= $2"
        " ORDER BY compound_id, (ends_on >= $3) DESC, starts_on DESC",
        [current_tenant_id(), start, end],
    )
    return {r["compound_id"]: (r["company_id"], r["annual_fee_fen"]) for r in rows}


async def _findings(start_at: datetime, end_at: datetime) -> dict[int, list[bool]]:
    rows = await SupervisorFinding.filter(found_at__gte=start_at, found_at__lt=end_at).values(
        "compound_id", "resolved_at", "resolve_by"
    )
    out: dict[int, list[bool]] = defaultdict(list)
    for r in rows:
        out[r["compound_id"]].append(r["resolved_at"] is not None and r["resolved_at"] <= r["resolve_by"])
    return out


async def _inputs(period_key: str) -> list[tuple[CompoundInputs, int, int]]:
    """(inputs, company, fee) for every compound under contract in the period: a handful of set-based queries."""
    from tenants.tickets.kpis import Dimension, ticket_kpis

    start, end = periods.bounds(period_key)
    zone = await current_zone()
    contracts = await _contracts(start, end)
    rnd = await AssessmentRound.get_or_none(period_key=period_key)
    sheets: dict[int, dict[str, dict[str, int]]] = defaultdict(dict)
    late: dict[int, set[str]] = defaultdict(set)
    if rnd is not None:
        for sub in await latest_submissions(rnd.id):
            sheets[sub.compound_id][sub.body_code] = {k: int(v) for k, v in sub.scores.items()}
            if sub.late_entry:
                late[sub.compound_id].add(sub.body_code)
    kpis = {
        k.id: k
        for k in await ticket_kpis(
            access=SYSTEM, start=start, end=end + timedelta(days=1), dimension=Dimension.COMPOUND
        )
    }
    found = await _findings(periods.local_midnight(start, zone), periods.local_midnight(end + timedelta(days=1), zone))
    months = periods.months(period_key)
    out = []
    for compound_id, (company_id, fee) in sorted(contracts.items()):
        k = kpis.get(compound_id)
        out.append(
            (
                CompoundInputs(
                    compound_id=compound_id,
                    submissions=sheets.get(compound_id, {}),
                    closure_rate_bp=k.closure_rate_bp if k else None,
                    satisfaction_rate_bp=k.satisfaction_rate_bp if k else None,
                    on_time_rate_bp=k.on_time_rate_bp if k else None,
                    tickets_per_month=Decimal(k.received if k else 0) / months,
                    findings=found.get(compound_id, []),
                    late_bodies=frozenset(late.get(compound_id, ())),
                ),
                company_id,
                fee,
            )
        )
    return out


async def lock_period(conn: BaseDBAsyncClient, period_key: str) -> None:
    """Queue on the period's ratings until the transaction ends: compute, publish and late sheets take turns."""
    await advisory_lock("ratings", period_key, conn=conn)


async def compute(
    *,
    access: Access,
    period_key: str,
    actor: str = "system",
    revise_reason: str | None = None,
    now: datetime | None = None,
) -> RatingSnapshot:
    """Compute the period's ratings into its draft (replacing the draft's rows). A published period is left as
    it is unless ``revise_reason`` asks for a new revision. Concurrent runs queue on an advisory lock."""
    require(access, "assessment.rate")
    at = now or clock.now()
    periods.bounds(period_key)
    async with savepoint() as conn:
        await lock_period(conn, period_key)
        doc, version = await period_config(period_key)
        if not await AssessmentRound.exists(period_key=period_key):
            raise InvalidInput.of(
                [
                    Problem(
                        "period",
                        "no_round",
                        f"{period_key} 的考核尚未开启",
                        f"no assessment round was opened for {period_key}",
                    )
                ]
            )
        chain = await period_versions(period_key)
        latest = await RatingSnapshot.filter(period_key=period_key).order_by("-revision").first()
        if latest is not None and latest.status == SnapshotStatus.PUBLISHED:
            if not revise_reason:
                return latest
            snapshot = await RatingSnapshot.create(
                period_key=period_key,
                revision=latest.revision + 1,
                reason=revise_reason.strip()[:500],
                config_version=version,
                computed_at=at,
            )
        elif latest is not None:  # a draft: recompute it in place
            await CompoundRating.filter(snapshot_id=latest.id).delete()
            await CompanyRating.filter(snapshot_id=latest.id).delete()
            latest.computed_at, latest.config_version = at, version
            if revise_reason:
                latest.reason = revise_reason.strip()[:500]
            await latest.save()
            snapshot = latest
        else:
            snapshot = await RatingSnapshot.create(
                period_key=period_key, revision=1, config_version=version, computed_at=at
            )
        await _write(snapshot, doc.assessment, await _inputs(period_key), chain, period_key)
        await audit.record(
            actor=actor,
            action="ratings.compute",
            target_type="rating_snapshot",
            target_id=snapshot.id,
            details={"period": period_key, "revision": snapshot.revision, "reason": snapshot.reason},
        )
        return snapshot


async def _write(
    snapshot: RatingSnapshot,
    assessment,
    rows: list[tuple[CompoundInputs, int, int]],  # type: ignore[no-untyped-def]
    versions: dict[str, int | None],
    period_key: str,
) -> None:
    scores: list[tuple[CompoundScore, int, int]] = [(score_compound(assessment, i), c, f) for i, c, f in rows]
    compound_ranks = {
        r.key: r.rank for r in rank([(s.compound_id, s.score, s.body_part, s.deductions) for s, _, _ in scores])
    }
    await CompoundRating.bulk_create(
        [
            CompoundRating(
                snapshot_id=snapshot.id,
                compound_id=s.compound_id,
                company_id=company,
                score=s.score,
                body_part=s.body_part,
                objective_part=s.objective_part,
                deductions=s.deductions,
                rank=compound_ranks[s.compound_id],
                breakdown={**s.breakdown, "config_versions": versions},
            )
            for s, company, _ in scores
        ]
    )
    by_company: dict[int, list[tuple[CompoundScore, int]]] = defaultdict(list)
    for s, company, fee in scores:
        by_company[company].append((s, fee))
    combined = {
        c: combine_company(assessment, parts, mode=assessment.company_combination) for c, parts in by_company.items()
    }
    body = {c: sum((s.body_part for s, _ in parts), Decimal(0)) / len(parts) for c, parts in by_company.items()}
    deductions = {c: sum((s.deductions for s, _ in parts), Decimal(0)) for c, parts in by_company.items()}
    ranked = rank([(c, combined[c][0], body[c], deductions[c]) for c in combined])
    # A firm counts as scored when at least one body submitted a sheet for at least one of its compounds.
    unscored = frozenset(c for c, parts in by_company.items() if not any(s.scored for s, _ in parts))
    # The star and the red/black list come with their own cadence: a monthly rating in March also closes the
    # quarter, in December the year; in other months no one is starred or listed.
    star_due = periods.closes(period_key, assessment.service_star.cadence)
    list_due = periods.closes(period_key, assessment.red_black_list.cadence)
    stars = star_places(assessment, ranked, unscored) if star_due else {}
    places = red_black_places(assessment, ranked, unscored) if list_due else {}
    rb, star = assessment.red_black_list, assessment.service_star

    def lists(key: int) -> dict:
        listed = places.get(key)
        starred = stars.get(key)
        return {
            "scored": key not in unscored,
            "red_black": None
            if listed is None
            else {"mark": listed[0], "reason": listed[1].reason, "ties": rb.ties, "unscored": rb.unscored},
            "service_star": None
            if starred is None
            else {"star": starred.on, "reason": starred.reason, "ties": star.ties},
        }

    await CompanyRating.bulk_create(
        [
            CompanyRating(
                snapshot_id=snapshot.id,
                company_id=r.key,
                score=r.score,
                rank=r.rank,
                star=r.key in stars and stars[r.key].on,
                mark=ListMark(places[r.key][0]) if r.key in places else ListMark.NONE,
                breakdown={**combined[r.key][1], "lists": lists(r.key), "config_versions": versions},
            )
            for r in ranked
        ]
    )


async def publish(*, access: Access, period_key: str, actor: str, now: datetime | None = None) -> RatingSnapshot:
    require(access, "assessment.rate")
    at = now or clock.now()
    async with savepoint() as conn:
        # The same lock as compute: a publish never interleaves with a recompute of the draft.
        await lock_period(conn, period_key)
        draft = (
            await RatingSnapshot.filter(period_key=period_key, status=SnapshotStatus.DRAFT)
            .order_by("-revision")
            .select_for_update()
            .first()
        )
        if draft is None:
            raise InvalidInput.of(
                [
                    Problem(
                        "period",
                        "no_draft",
                        f"{period_key} 没有待发布的评级",
                        f"{period_key} has no draft ratings to publish",
                    )
                ]
            )
        draft.status, draft.published_at, draft.published_by = SnapshotStatus.PUBLISHED, at, actor
        await draft.save()
        await audit.record(
            actor=actor,
            action="ratings.publish",
            target_type="rating_snapshot",
            target_id=draft.id,
            details={"period": period_key, "revision": draft.revision},
        )
        return draft


async def snapshot_for(
    caller: Access, period_key: str, *, drafts: bool = True, revision: int | None = None
) -> RatingSnapshot:
    """The snapshot to show: a given revision, else the latest the caller reads (the latest published, or for
    those who see drafts the latest of all); ``drafts=False`` keeps to the published ones."""
    qs = readable_snapshots(caller).filter(period_key=period_key)
    if revision is not None:
        qs = qs.filter(revision=revision)
    if not drafts:
        qs = qs.filter(status=SnapshotStatus.PUBLISHED)
    snap = await qs.order_by("-revision").first()
    if snap is None:
        raise NotFound(f"{period_key} 暂无评级", f"no ratings for {period_key}", field="period")
    return snap
