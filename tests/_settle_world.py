"""Shared fixtures for the 以奖代补 settlement tests: the 下花园区 territory, ratings written or computed, helpers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from tenants.assessment import ratings, rounds
from tenants.assessment.models import CompoundRating, RatingSnapshot
from tenants.ledger import service as ledger
from tenants.ledger.models import LedgerBalance
from tenants.scope import tenant_context
from tenants.subsidies.models import SettlementLine, SettlementStatement
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import create_tenant
from tenants.territory import parties_service as parties
from tenants.territory import service as territory
from tenants.territory.access import SYSTEM
from tests.test_territory import ADMIN, build

NOW_Q3 = datetime(2026, 10, 2, tzinfo=UTC)  # 2026Q3 has ended (10:00 in 下花园区)
NOW_Q4 = datetime(2027, 1, 5, tzinfo=UTC)  # 2026Q4 has ended; its submission window is still open
PARTY_ITEMS = ("party_coverage", "service_publicity", "four_party_coordination", "grievance_response")


@dataclass
class World:
    t: Tenant  # 下花园区 (settles quarterly: 1,500,000 fen per community per quarter)
    city: Tenant  # 张家口市 (subsidies off)
    other: Tenant  # 临沭县 (subsidies off)
    ids: dict[str, int]
    payee: dict[str, str]  # compound key -> company key

    def key(self, prefix: str, id_: int) -> str:
        """The key of a node by its level's prefix (ids repeat across levels): C community, K compound, P company."""
        return next(k for k, v in self.ids.items() if k.startswith(prefix) and v == id_)


async def make_world(*, extra: bool) -> World:
    """``build`` (C1: K1 by P1; C2: K2 without contract; C3: K3 by P2). With ``extra``: C1 also has K4 (P2) and
    K5 (P1), so three compounds; C3 also has K6..K11 (P1, P2, P1, P2, P1, P2), so seven."""
    city = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    t = await create_tenant(slug="xiahuayuan", name="下花园区", parent_slug="zhangjiakou", preset="xiahuayuan")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    ids = await build(t.id)
    payee = {"K1": "P1", "K3": "P2"}
    if extra:
        plan = [("K4", "G1", "P2"), ("K5", "G1", "P1")]
        plan += [(f"K{i}", "G3", "P1" if i % 2 == 0 else "P2") for i in range(6, 12)]
        with tenant_context(t.id):
            for key, grid, company in plan:
                node = await territory.create_area(
                    "compound", access=ADMIN, actor="seed", code=key, name=f"{key}名", parent_id=ids[grid]
                )
                ids[key] = node.id
                payee[key] = company
                await parties.create_contract(
                    access=ADMIN,
                    actor="seed",
                    company_id=ids[company],
                    compound_id=node.id,
                    starts_on=date(2026, 1, 1),
                    ends_on=date(2028, 12, 31),
                    annual_fee_fen=120_000_00,
                )
    return World(t, city, other, ids, payee)


async def publish_scores(
    w: World, period_key: str, scores: dict[str, str], *, now: datetime = NOW_Q3, reason: str = ""
) -> RatingSnapshot:
    """Publish a (new revision of the) period's ratings with the given scores, written directly (inside a tenant
    transaction): a draft snapshot, its compound ratings, then ``ratings.publish``."""
    latest = await RatingSnapshot.filter(period_key=period_key).order_by("-revision").first()
    snap = await RatingSnapshot.create(
        period_key=period_key, revision=latest.revision + 1 if latest else 1, reason=reason, computed_at=now
    )
    await CompoundRating.bulk_create(
        [
            CompoundRating(
                snapshot_id=snap.id,
                compound_id=w.ids[key],
                company_id=w.ids[w.payee[key]],
                score=Decimal(score),
                body_part=Decimal(score),
                objective_part=None,
                deductions=Decimal(0),
                rank=rank,
                breakdown={},
            )
            for rank, (key, score) in enumerate(sorted(scores.items(), key=lambda kv: -Decimal(kv[1])), start=1)
        ]
    )
    return await ratings.publish(access=SYSTEM, period_key=period_key, actor="test", now=now)


async def score_party(w: World, period_key: str, key: str, each: int, *, now: datetime, reason: str = "") -> None:
    """The party organisation's sheet for a compound, every item at ``each`` of 25 points (a correction when a
    ``reason`` is given). Only this body scores, so the score is 0.8 x (4 x each) + 20 (no tickets: the volume
    alone, at 100, carries the objective 20%)."""
    await rounds.submit(
        access=ADMIN,
        actor="test",
        period_key=period_key,
        compound_id=w.ids[key],
        body_code="party_org",
        scores=dict.fromkeys(PARTY_ITEMS, each),
        reason=reason,
        correction=bool(reason),
        now=now,
    )


async def statements(period_key: str | None = None) -> dict[int, SettlementStatement]:
    """community id -> statement (of the period)."""
    qs = SettlementStatement.all() if period_key is None else SettlementStatement.filter(period_key=period_key)
    return {s.community_id: s for s in await qs}


async def lines_of(statement_id: int) -> list[SettlementLine]:
    return await SettlementLine.filter(statement_id=statement_id).order_by("position")


def table(w: World, lines: list[SettlementLine]) -> list[tuple[Any, ...]]:
    """Lines as (compound key, payee key, score, band minimum, share, fen) for comparing with hand figures."""
    return [
        (
            w.key("K", ln.compound_id),
            w.key("P", ln.company_id),
            None if ln.score is None else str(ln.score),
            None if ln.band_min_score is None else int(ln.band_min_score),
            ln.share_percent,
            ln.amount_fen,
        )
        for ln in lines
    ]


async def all_balances() -> dict[str, int]:
    return {a: b for a, b in await LedgerBalance.all().values_list("account", "balance_fen") if b != 0}  # type: ignore[misc]


async def verified() -> bool:
    return await ledger.verify() == []
