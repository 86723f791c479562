"""Ratings of a period: computed set-based into a draft snapshot, published, revised with a reason.

A run is the inputs of every compound in one aggregate statement (``inputs.py``), then the scores, made with one
``Scorer`` (exact integer ratios) while COPY streams them to PostgreSQL, in the run's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
from tortoise.backends.base.client import BaseDBAsyncClient

from tenants import clock, periods
from tenants.assessment import commendations
from tenants.assessment.access import readable_snapshots
from tenants.assessment.inputs import Contracted, compound_inputs, record_sources
from tenants.assessment.models import (
    AssessmentRound,
    CompanyRating,
    CompoundRating,
    ListMark,
    RatingSnapshot,
    SnapshotStatus,
)
from tenants.assessment.ranking import rank, red_black_places, star_places
from tenants.assessment.rounds import period_config, period_versions
from tenants.assessment.scoring import CompoundScore, Scorer, combine_company
from tenants.audit import service as audit
from tenants.config.assessment import Assessment
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.territory.access import Access


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
        rows = await compound_inputs(period_key, sources=record_sources(doc.assessment))
        await write_ratings(conn, snapshot.id, doc.assessment, rows, chain, period_key)
        await audit.record(
            actor=actor,
            action="ratings.compute",
            target_type="rating_snapshot",
            target_id=snapshot.id,
            details={"period": period_key, "revision": snapshot.revision, "reason": snapshot.reason},
        )
        return snapshot


# What a compound's row gets while it is scored (its rank comes once all are).
SCORED_COLUMNS = ("compound_id", "company_id", "score", "body_part", "objective_part", "deductions", "breakdown")
COMPANY_COLUMNS = ("tenant_id", "snapshot_id", "company_id", "score", "rank", "star", "mark", "breakdown")


def _json(value: dict) -> str:
    """A breakdown as jsonb's text (orjson: ``json.dumps`` took a fifth of the job's own time)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


async def write_ratings(
    conn: BaseDBAsyncClient,
    snapshot_id: int,
    assessment: Assessment,
    rows: list[Contracted],
    versions: dict[str, int | None],
    period_key: str,
) -> None:
    """Score every compound with one ``Scorer`` and write the compound and company ratings with COPY.

    The compounds are scored as COPY streams them, so PostgreSQL parses each breakdown while the next ones are
    scored; their ranks follow in the INSERT that moves them from the staging table.
    """
    scorer = Scorer(assessment)
    scores: list[tuple[CompoundScore, int, int]] = []

    def scored() -> Iterator[tuple]:
        for r in rows:
            s = scorer(r.inputs)
            scores.append((s, r.company_id, r.fee_fen))
            breakdown = _json({**s.breakdown, "config_versions": versions})
            yield (s.compound_id, r.company_id, s.score, s.body_part, s.objective_part, s.deductions, breakdown)

    tenant_id = current_tenant_id()
    async with conn.acquire_connection() as raw:
        staged = await stage(raw, "compound_rating", SCORED_COLUMNS, scored())
        ranked = rank([(s.compound_id, s.score, s.body_part, s.deductions) for s, _, _ in scores])
        names = ", ".join(SCORED_COLUMNS)
        await raw.execute(
            f"INSERT INTO compound_rating (tenant_id, snapshot_id, {names}, rank)"
            f" SELECT $1::bigint, $2::bigint, {', '.join(f's.{c}' for c in SCORED_COLUMNS)}, r.rank"
            f" FROM {staged} s JOIN unnest($3::bigint[], $4::int[]) AS r (compound_id, rank) USING (compound_id)",
            tenant_id,
            snapshot_id,
            [r.key for r in ranked],
            [r.rank for r in ranked],
        )
        companies = [(tenant_id, snapshot_id, *c) for c in company_rows(assessment, scores, versions, period_key)]
        staged = await stage(raw, "company_rating", COMPANY_COLUMNS, companies)
        names = ", ".join(COMPANY_COLUMNS)
        await raw.execute(f"INSERT INTO company_rating ({names}) SELECT {names} FROM {staged}")


async def stage(raw: Any, table: str, columns: tuple[str, ...], records: Iterable[tuple]) -> str:
    """COPY ``records`` into a temporary table with ``table``'s ``columns`` (dropped at commit); its name.

    PostgreSQL refuses COPY FROM into a table under row-level security ("COPY FROM not supported with row-level
    security"), so rows are copied into a temporary table first and moved with one INSERT ... SELECT, which the
    tenant policy's WITH CHECK still guards.
    """
    staged = f"staged_{table}"
    await raw.execute(
        f"DROP TABLE IF EXISTS pg_temp.{staged};"
        f" CREATE TEMP TABLE {staged} ON COMMIT DROP AS SELECT {', '.join(columns)} FROM {table} WITH NO DATA"
    )
    await raw.copy_records_to_table(staged, records=records, columns=columns)
    return staged


def company_rows(
    assessment: Assessment,
    scores: list[tuple[CompoundScore, int, int]],
    versions: dict[str, int | None],
    period_key: str,
) -> list[tuple]:
    """The companies' rows (``COMPANY_COLUMNS`` after tenant and snapshot) from their compounds' scores: pure."""
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

    return [
        (
            r.key,
            r.score,
            r.rank,
            r.key in stars and stars[r.key].on,
            ListMark(places[r.key][0]).value if r.key in places else ListMark.NONE.value,
            _json({**combined[r.key][1], "lists": lists(r.key), "config_versions": versions}),
        )
        for r in ranked
    ]


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
        # Issue 19: owed interviews for the black list, commendations for the red list (idempotent).
        followed = await commendations.follow_publication(conn, draft, at)
        await audit.record(
            actor=actor,
            action="ratings.publish",
            target_type="rating_snapshot",
            target_id=draft.id,
            details={"period": period_key, "revision": draft.revision, **followed},
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
