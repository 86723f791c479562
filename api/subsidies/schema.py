"""以奖代补 through GraphQL: yearly pools, settlement statements with their lines and payees; run, approve, pay.

Who reads what: tenant administrators and the housing department every statement; a street officer the statements
of the communities in its street(s), a community worker those of its community; a property company only the
lines it is paid by, on the approved and paid statements that have such lines (a draft may still change), with
its own subtotal and not the statement's total.
Only a tenant administrator runs, approves and pays.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON
from tortoise.expressions import Q, Subquery

from api.context import Info, grouped
from api.ids import opt_id, to_id
from api.money import Fen
from api.pagination import Connection, paginate
from api.territory.types import CommunityType, CompoundType, _load
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.permissions import require
from tenants.subsidies import service as subsidies
from tenants.subsidies.models import LineKind, SettlementLine, SettlementStatement, StatementStatus
from tenants.territory.access import staff_communities
from tenants.territory.models import Community
from tenants.territory.parties import PropertyCompany

SettlementStatus = strawberry.enum(
    Enum("SettlementStatus", {s.name: s.value for s in StatementStatus}), name="SettlementStatus"
)
SettlementLineKind = strawberry.enum(
    Enum("SettlementLineKind", {k.name: k.value for k in LineKind}), name="SettlementLineKind"
)

# A company sees a statement once it is decided: a draft may still change with the ratings.
DECIDED = [StatementStatus.APPROVED.value, StatementStatus.PAID.value]


@dataclass(frozen=True)
class Viewer:
    """What of the statements a caller reads: all of them, every line of the statements of some communities, or
    only the lines paid to some companies."""

    whole: bool
    communities: frozenset[int] = frozenset()
    companies: frozenset[int] = frozenset()

    def payees_of(self, community_id: int) -> frozenset[int] | None:
        """The companies whose lines are shown on a statement of ``community_id`` (None: every line)."""
        return None if self.whole or community_id in self.communities else self.companies

    def statements(self) -> Q | None:
        if self.whole:
            return None
        q = Q(community_id__in=sorted(self.communities) or [0])
        if self.companies:
            paid_to = SettlementLine.filter(company_id__in=sorted(self.companies)).values("statement_id")
            q |= Q(Q(id__in=Subquery(paid_to)), Q(status__in=DECIDED))
        return q


WHOLE = Viewer(whole=True)


async def _viewer(info: Info, permission: str) -> Viewer:
    access = await info.context.access()
    require(access, permission)
    communities = await staff_communities(access)
    if communities is None:
        return WHOLE
    companies = access.companies if permission == "subsidies.read_statements" else frozenset()
    return Viewer(whole=False, communities=communities, companies=companies)


async def _load_lines(statement_ids: list[int]) -> list[list[SettlementLine]]:
    lines = await SettlementLine.filter(statement_id__in=statement_ids).order_by("statement_id", "position")
    return grouped(lines, "statement_id", statement_ids)


async def _load_companies(company_ids: list[int]) -> list[PropertyCompany | None]:
    found = {c.id: c for c in await PropertyCompany.filter(id__in=company_ids)}
    return [found.get(i) for i in company_ids]


async def _company(info: Info, company_id: int) -> PropertyCompany | None:
    return await info.context.loaders.named("subsidy_companies", _load_companies).load(company_id)  # type: ignore[no-any-return]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


@strawberry.type(name="SettlementLine", description="One line of a statement: a compound, its payee and amount.")
class SettlementLineType:
    id: strawberry.ID
    position: int
    kind: SettlementLineKind  # type: ignore[valid-type]
    for_period: str = strawberry.field(
        description="The period the line pays for: the statement's own, or an earlier one for an adjustment."
    )
    compound_id: strawberry.ID
    company_id: strawberry.ID = strawberry.field(description="The payee 物业企业.")
    score: Decimal | None = strawberry.field(description="The compound's rating for the period (mean of its scores).")
    band_min_score: Decimal | None = strawberry.field(description="The band reached (its lowest score); null: none.")
    share_percent: int | None = strawberry.field(description="The band's share of the compound's slot of the pool.")
    rule: str = strawberry.field(description="The rule applied, in words (Chinese, then English).")
    amount_fen: Fen = strawberry.field(description="In fen (分); negative for an adjustment that takes back.")
    detail: JSON = strawberry.field(description="Exact quota, whether a remainder fen was added, period scores.")
    compound_pk: strawberry.Private[int]
    company_pk: strawberry.Private[int]

    @strawberry.field
    async def compound(self, info: Info) -> CompoundType | None:
        return await _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]

    @strawberry.field(description="The payee's name.")
    async def company_name(self, info: Info) -> str:
        company = await _company(info, self.company_pk)
        return company.name if company else ""

    @classmethod
    def of(cls, line: SettlementLine) -> SettlementLineType:
        return cls(
            id=strawberry.ID(str(line.id)),
            position=line.position,
            kind=SettlementLineKind(line.kind.value),
            for_period=line.for_period,
            compound_id=strawberry.ID(str(line.compound_id)),
            company_id=strawberry.ID(str(line.company_id)),
            score=_decimal(line.score),
            band_min_score=_decimal(line.band_min_score),
            share_percent=line.share_percent,
            rule=line.rule,
            amount_fen=Fen(line.amount_fen),
            detail=line.detail,
            compound_pk=line.compound_id,
            company_pk=line.company_id,
        )


@strawberry.type(name="SettlementPayee", description="What one company is paid by a statement: its lines' sum.")
class SettlementPayeeType:
    company_id: strawberry.ID
    line_count: int
    amount_fen: Fen
    company_pk: strawberry.Private[int]

    @strawberry.field
    async def company_name(self, info: Info) -> str:
        company = await _company(info, self.company_pk)
        return company.name if company else ""

    @strawberry.field(description="统一社会信用代码.")
    async def credit_code(self, info: Info) -> str:
        company = await _company(info, self.company_pk)
        return company.credit_code if company else ""


@strawberry.type(
    name="SettlementStatement",
    description="以奖代补 statement of a community for a settlement period: draft, approved (frozen), paid.",
)
class SettlementStatementType:
    id: strawberry.ID
    period_key: str = strawberry.field(description="2026Q3 (quarterly settlement) or 2026 (yearly).")
    community_id: strawberry.ID
    status: SettlementStatus  # type: ignore[valid-type]
    pool_fen: Fen = strawberry.field(description="The community's pool for this period, in fen.")
    total_fen: Fen | None = strawberry.field(
        description="Sum of the lines (adjustments included), in fen; null for a property company, which sees only "
        "its own lines and subtotal (payees)."
    )
    config_version: int | None
    rule: JSON = strawberry.field(description="Bands, cadence, pool and rounding rule as applied.")
    basis: JSON = strawberry.field(description="Rating period -> published revision used.")
    computed_at: datetime
    computed_by: str
    approved_at: datetime | None
    approved_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    payment_reference: str | None
    pk: strawberry.Private[int]
    community_pk: strawberry.Private[int]
    shown_payees: strawberry.Private[frozenset[int] | None]  # None: every line

    @strawberry.field
    async def community(self, info: Info) -> CommunityType | None:
        return await _load(info, "community", self.community_pk)  # type: ignore[no-any-return]

    async def _lines(self, info: Info) -> list[SettlementLine]:
        rows: list[SettlementLine] = await info.context.loaders.named("subsidy_lines", _load_lines).load(self.pk)
        if self.shown_payees is None:
            return rows
        return [r for r in rows if r.company_id in self.shown_payees]

    @strawberry.field(description="The lines in order (a property company: only its own).")
    async def lines(self, info: Info) -> list[SettlementLineType]:
        return [SettlementLineType.of(r) for r in await self._lines(info)]

    @strawberry.field(description="Subtotal per payee company, by company id (a property company: its own).")
    async def payees(self, info: Info) -> list[SettlementPayeeType]:
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for line in await self._lines(info):
            sums[line.company_id][0] += 1
            sums[line.company_id][1] += line.amount_fen
        return [
            SettlementPayeeType(company_id=strawberry.ID(str(c)), line_count=n, amount_fen=Fen(fen), company_pk=c)
            for c, (n, fen) in sorted(sums.items())
        ]

    @classmethod
    def of(cls, s: SettlementStatement, viewer: Viewer) -> SettlementStatementType:
        shown = viewer.payees_of(s.community_id)
        return cls(
            id=strawberry.ID(str(s.id)),
            period_key=s.period_key,
            community_id=strawberry.ID(str(s.community_id)),
            status=SettlementStatus(s.status.value),
            pool_fen=Fen(s.pool_fen),
            total_fen=Fen(s.total_fen) if shown is None else None,
            config_version=s.config_version,
            rule=s.rule,
            basis=s.basis,
            computed_at=s.computed_at,
            computed_by=s.computed_by,
            approved_at=s.approved_at,
            approved_by=s.approved_by,
            paid_at=s.paid_at,
            paid_by=s.paid_by,
            payment_reference=s.payment_reference,
            pk=s.id,
            community_pk=s.community_id,
            shown_payees=shown,
        )


@strawberry.type(name="SubsidyPool", description="A community's 以奖代补 pool of a year, in fen (分).")
class SubsidyPoolType:
    community_id: strawberry.ID
    year: int
    yearly_pool_fen: Fen = strawberry.field(description="What the configuration grants the community for the year.")
    drawn_fen: Fen = strawberry.field(description="Drawn by approved (and paid) statements, for this year's periods.")
    paid_fen: Fen = strawberry.field(description="The part of the drawn amount on paid statements.")
    remaining_fen: Fen = strawberry.field(description="What is left in the pool account (yearlyPoolFen - drawnFen).")
    community_pk: strawberry.Private[int]

    @strawberry.field
    async def community(self, info: Info) -> CommunityType | None:
        return await _load(info, "community", self.community_pk)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, p: subsidies.Pool) -> SubsidyPoolType:
        return cls(
            community_id=strawberry.ID(str(p.community_id)),
            year=p.year,
            yearly_pool_fen=Fen(p.yearly_pool_fen),
            drawn_fen=Fen(p.drawn_fen),
            paid_fen=Fen(p.paid_fen),
            remaining_fen=Fen(p.remaining_fen),
            community_pk=p.community_id,
        )


@strawberry.type(name="SettlementRun", description="What a settlement run did to the period's statements.")
class SettlementRunType:
    period_key: str
    created_count: int
    replaced_count: int = strawberry.field(description="Drafts recomputed because their inputs changed.")
    unchanged_count: int = strawberry.field(description="Drafts with nothing new, and approved or paid statements.")
    approved_count: int = strawberry.field(description="Approved at once: the configuration asks for no approval.")
    removed_count: int = strawberry.field(description="Drafts removed: their community has nothing to settle now.")
    statements: list[SettlementStatementType] = strawberry.field(description="The period's statements, by community.")


def _year(year: int) -> int:
    if not 1900 <= year <= 2999:
        raise InvalidInput.of([Problem("year", "out_of_range", "年份须在 1900 到 2999 之间", "year is 1900-2999")])
    return year


async def _statement(statement_id: int, viewer: Viewer) -> SettlementStatement:
    qs = SettlementStatement.filter(id=statement_id)
    q = viewer.statements()
    s = await (qs.filter(q) if q is not None else qs).first()
    if s is None:
        raise NotFound("结算单不存在", "no such settlement statement", field="id")
    return s


@strawberry.type
class SubsidyQuery:
    @strawberry.field(
        description="以奖代补 pools of a year per community in your scope: granted, drawn, paid and remaining (fen)."
    )
    async def subsidy_pools(
        self, info: Info, year: int, community_id: strawberry.ID | None = None
    ) -> list[SubsidyPoolType]:
        viewer = await _viewer(info, "subsidies.read_pools")
        cid = opt_id(community_id, "communityId")
        qs = Community.filter()
        if not viewer.whole:
            qs = qs.filter(id__in=sorted(viewer.communities) or [0])
        if cid is not None:
            qs = qs.filter(id=cid)
        ids: list[int] = await qs.order_by("id").values_list("id", flat=True)  # type: ignore[assignment]
        if cid is not None and not ids:
            raise NotFound("社区不存在", "no such community", field="communityId")
        return [SubsidyPoolType.of(p) for p in await subsidies.pools(_year(year), ids)]

    @strawberry.field(description="Settlement statements you may read, newest period first, then by id.")
    async def settlement_statements(
        self,
        info: Info,
        period: str | None = None,
        community_id: strawberry.ID | None = None,
        status: SettlementStatus | None = None,  # type: ignore[valid-type]
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[SettlementStatementType]:
        viewer = await _viewer(info, "subsidies.read_statements")
        qs = SettlementStatement.filter()
        scope = viewer.statements()
        if scope is not None:
            qs = qs.filter(scope)
        if period is not None:
            subsidies.bounds(period)
            qs = qs.filter(period_key=period)
        if (cid := opt_id(community_id, "communityId")) is not None:
            qs = qs.filter(community_id=cid)
        if status is not None:
            qs = qs.filter(status=status.value)

        async def fetch(after_key: tuple[Any, ...] | None, limit: int) -> list[SettlementStatement]:
            page = qs
            if after_key is not None:
                key, last_id = after_key
                page = page.filter(Q(period_key__lt=key) | Q(period_key=key, id__gt=last_id))
            return await page.order_by("-period_key", "id").limit(limit)

        return await paginate(
            first=first,
            after=after,
            key=lambda s: (s.period_key, s.id),
            types=(str, int),
            fetch=fetch,
            to_node=lambda s: SettlementStatementType.of(s, viewer),
        )

    @strawberry.field(description="One settlement statement with its lines and payees.")
    async def settlement_statement(self, info: Info, id: strawberry.ID) -> SettlementStatementType:
        viewer = await _viewer(info, "subsidies.read_statements")
        return SettlementStatementType.of(await _statement(to_id(id, "id"), viewer), viewer)


@strawberry.type
class SubsidyMutation:
    @strawberry.mutation(
        description="Settle a period from its published ratings (tenant admin): new or recomputed drafts, one per "
        "community; approved and paid statements stay as they are."
    )
    async def run_settlement(self, info: Info, period: str) -> SettlementRunType:
        result = await subsidies.run(access=await info.context.access(), period_key=period, actor=info.context.actor)
        rows = await SettlementStatement.filter(id__in=result.statement_ids).order_by("community_id")
        return SettlementRunType(
            period_key=result.period_key,
            created_count=len(result.created),
            replaced_count=len(result.replaced),
            unchanged_count=len(result.unchanged),
            approved_count=len(result.approved),
            removed_count=result.removed,
            statements=[SettlementStatementType.of(s, WHOLE) for s in rows],
        )

    @strawberry.mutation(description="Approve a draft (tenant admin): it is frozen and posted to the ledger.")
    async def approve_settlement(self, info: Info, id: strawberry.ID) -> SettlementStatementType:
        stmt = await subsidies.approve(
            access=await info.context.access(), statement_id=to_id(id, "id"), actor=info.context.actor
        )
        return SettlementStatementType.of(stmt, WHOLE)

    @strawberry.mutation(description="Record the payment of an approved statement with its reference (tenant admin).")
    async def pay_settlement(self, info: Info, id: strawberry.ID, reference: str) -> SettlementStatementType:
        stmt = await subsidies.pay(
            access=await info.context.access(),
            statement_id=to_id(id, "id"),
            reference=reference,
            actor=info.context.actor,
        )
        return SettlementStatementType.of(stmt, WHOLE)
