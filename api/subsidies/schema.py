"""以奖代补 through GraphQL: yearly pools, settlement statements with their lines and payees; run, approve, pay.

Who reads what: tenant administrators and the housing department every statement; a street officer the statements
of the communities in its street(s), a community worker those of its community; a property company only the
lines it is paid by, on the approved and paid statements that have such lines (a draft may still change), with
its own subtotal and not the statement's total.
Only a tenant administrator runs, approves and pays.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry
from strawberry.scalars import JSON

from api.compiled import compiled
from api.context import Info
from api.ids import opt_id, to_id
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection, node_fields
from api.pagination import expand as _expand
from api.rows import Node, from_row
from api.subsidies.details import SettlementDetail, settlement_detail
from api.subsidies.loaders import SubsidyLoaders
from api.subsidies.rules import BasisRevision, SettlementRule, basis_revisions
from api.territory.types import CommunityType, CompoundType, _load
from tenants.errors import InvalidInput, Problem
from tenants.paging import Page, Window
from tenants.records import rows_by_id
from tenants.subsidies import access as subsidy_access
from tenants.subsidies import reads as subsidy_reads
from tenants.subsidies import service as subsidies
from tenants.subsidies.models import LineKind, SettlementLine, SettlementStatement, StatementStatus
from tenants.territory.parties import PropertyCompany

SettlementStatus = strawberry.enum(
    Enum("SettlementStatus", {s.name: s.value for s in StatementStatus}), name="SettlementStatus"
)
SettlementLineKind = strawberry.enum(
    Enum("SettlementLineKind", {k.name: k.value for k in LineKind}), name="SettlementLineKind"
)


async def _company(info: Info, company_id: int) -> PropertyCompany | None:
    return await SubsidyLoaders.of(info).companies.load(company_id)


async def _statement_types(info: Info, rows: list[SettlementStatement]) -> list[SettlementStatementType]:
    """Statements as the caller reads them: in full, or (a property company) only through its own lines."""
    full = await subsidy_reads.in_full(await info.context.access(), [s.id for s in rows])
    return [SettlementStatementType.of(s, full=s.id in full) for s in rows]


async def _company_name(info: Info, company_id: int) -> str:
    company = await _company(info, company_id)
    return company.name if company else ""


# What a list read with its page, by name (``SettlementStatementType.links``).
Links = dict[str, Any]


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


@strawberry.type(name="SettlementLine", description="One line of a statement: a compound, its payee and amount.")
class SettlementLineType(Node):
    readable = staticmethod(subsidy_access.readable_lines)
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
    detail: JSON = strawberry.field(
        description="Exact quota, whether a remainder fen was added, period scores.",
        deprecation_reason="Use breakdown (typed).",
    )
    compound_pk: strawberry.Private[int]
    company_pk: strawberry.Private[int]
    links: strawberry.Private[Links]

    @strawberry.field(description="How the amount came about, typed: a rating line's quota or an adjustment's.")
    def breakdown(self) -> SettlementDetail:
        return settlement_detail(self.kind.value, self.detail)

    @strawberry.field
    def compound(self, info: Info) -> CompoundType | None:
        if "compounds" in self.links:  # read with the page
            return self.links["compounds"].get(self.compound_pk)  # type: ignore[no-any-return]
        return _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]

    @strawberry.field(description="The payee's name.")
    def company_name(self, info: Info) -> str:
        if "companies" in self.links:
            company = self.links["companies"].get(self.company_pk)
            return company.name if company else ""  # type: ignore[no-any-return]
        return _company_name(info, self.company_pk)  # type: ignore[return-value]

    @classmethod
    def of(cls, line: SettlementLine, links: Links | None = None) -> SettlementLineType:
        return from_row(
            cls,
            line,
            score=_decimal(line.score),
            band_min_score=_decimal(line.band_min_score),
            amount_fen=Fen(line.amount_fen),
            links=links or {},
        )


@strawberry.type(name="SettlementPayee", description="What one company is paid by a statement: its lines' sum.")
class SettlementPayeeType:
    company_id: strawberry.ID
    line_count: int
    amount_fen: Fen
    company_pk: strawberry.Private[int]
    links: strawberry.Private[Links] = strawberry.field(default_factory=dict)

    @strawberry.field
    def company_name(self, info: Info) -> str:
        if "companies" in self.links:  # read with the page
            company = self.links["companies"].get(self.company_pk)
            return company.name if company else ""  # type: ignore[no-any-return]
        return _company_name(info, self.company_pk)  # type: ignore[return-value]

    @strawberry.field(description="统一社会信用代码.")
    def credit_code(self, info: Info) -> str:
        if "companies" in self.links:
            company = self.links["companies"].get(self.company_pk)
            return company.credit_code if company else ""  # type: ignore[no-any-return]
        return self._credit_code(info)  # type: ignore[return-value]

    async def _credit_code(self, info: Info) -> str:
        company = await _company(info, self.company_pk)
        return company.credit_code if company else ""


@strawberry.type(
    name="SettlementStatement",
    description="以奖代补 statement of a community for a settlement period: draft, approved (frozen), paid.",
)
class SettlementStatementType(Node):
    readable = staticmethod(subsidy_access.readable)
    period_key: str = strawberry.field(description="2026Q3 (quarterly settlement) or 2026 (yearly).")
    community_id: strawberry.ID
    status: SettlementStatus  # type: ignore[valid-type]
    pool_fen: Fen = strawberry.field(description="The community's pool for this period, in fen.")
    total_fen: Fen | None = strawberry.field(
        description="Sum of the lines (adjustments included), in fen; null for a property company, which sees only "
        "its own lines and subtotal (payees)."
    )
    config_version: int | None
    rule: JSON = strawberry.field(
        description="Bands, cadence, pool and rounding rule as applied.", deprecation_reason="Use settlementRule."
    )
    basis: JSON = strawberry.field(
        description="Rating period -> published revision used.", deprecation_reason="Use basisRevisions."
    )

    @strawberry.field(description="Bands, cadence, pool and rounding rule as applied.")
    def settlement_rule(self) -> SettlementRule:
        return SettlementRule.of(self.rule)

    @strawberry.field(description="Each rating period settled, with the published revision used.")
    def basis_revisions(self) -> list[BasisRevision]:
        return basis_revisions(self.basis)
    computed_at: datetime
    computed_by: str
    approved_at: datetime | None
    approved_by: str | None
    paid_at: datetime | None
    paid_by: str | None
    payment_reference: str | None
    pk: strawberry.Private[int]
    community_pk: strawberry.Private[int]
    # Read with the page (``subsidy_reads.statements_with``): community, lines, and the lines' compounds and
    # companies by id; each field below is then a plain value, else an awaitable (the general path).
    links: strawberry.Private[Links]

    @strawberry.field
    def community(self, info: Info) -> CommunityType | None:
        if "community" in self.links:
            row = self.links["community"]
            return None if row is None else CommunityType.of(row)  # type: ignore[no-any-return]
        return _load(info, "community", self.community_pk)  # type: ignore[no-any-return]

    async def _lines(self, info: Info) -> list[SettlementLine]:
        return await SubsidyLoaders.of(info).lines.load(self.pk)

    @strawberry.field(description="The lines in order (a property company: only its own).")
    def lines(self, info: Info) -> list[SettlementLineType]:
        if "lines" in self.links:
            return [SettlementLineType.of(r, self.links) for r in self.links["lines"]]
        return self._line_types(info)  # type: ignore[return-value]

    async def _line_types(self, info: Info) -> list[SettlementLineType]:
        return [SettlementLineType.of(r) for r in await self._lines(info)]

    @strawberry.field(description="Subtotal per payee company, by company id (a property company: its own).")
    def payees(self, info: Info) -> list[SettlementPayeeType]:
        if "lines" in self.links:
            return self._payees(self.links["lines"])
        return self._payees_of(info)  # type: ignore[return-value]

    async def _payees_of(self, info: Info) -> list[SettlementPayeeType]:
        return self._payees(await self._lines(info))

    def _payees(self, lines: list[SettlementLine]) -> list[SettlementPayeeType]:
        sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
        for line in lines:
            sums[line.company_id][0] += 1
            sums[line.company_id][1] += line.amount_fen
        return [
            SettlementPayeeType(
                company_id=strawberry.ID(str(c)), line_count=n, amount_fen=Fen(fen), company_pk=c, links=self.links
            )
            for c, (n, fen) in sorted(sums.items())
        ]

    @classmethod
    def of(cls, s: SettlementStatement, *, full: bool, links: Links | None = None) -> SettlementStatementType:
        return from_row(
            cls, s, pool_fen=Fen(s.pool_fen), total_fen=Fen(s.total_fen) if full else None, pk=s.id,
            links=links or {},
        )

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[SettlementStatementType | None]:
        ids = [int(i) for i in node_ids]
        rows = await rows_by_id(cls.readable(await info.context.access()), ids)
        shown = {t.pk: t for t in await _statement_types(info, list(rows.values()))}
        return [shown.get(i) for i in ids]


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
        return from_row(
            cls,
            p,
            yearly_pool_fen=Fen(p.yearly_pool_fen),
            drawn_fen=Fen(p.drawn_fen),
            paid_fen=Fen(p.paid_fen),
            remaining_fen=Fen(p.remaining_fen),
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


def _fields_of(fields: list[Any]) -> set[str]:
    """The names selected under these selections of one field."""
    return {f.name for field in fields for f in _expand(field.selections)}


def _line_fields(selected: dict[str, list[Any]]) -> set[str]:
    return _fields_of(selected.get("lines", []))


@strawberry.type
class SubsidyQuery:
    @strawberry.field(
        description="以奖代补 pools of a year per community in your scope: granted, drawn, paid and remaining (fen)."
    )
    async def subsidy_pools(
        self, info: Info, year: int, community_id: strawberry.ID | None = None
    ) -> list[SubsidyPoolType]:
        ids = await subsidy_reads.pool_communities(await info.context.access(), opt_id(community_id, "communityId"))
        return [SubsidyPoolType.of(p) for p in await subsidies.pools(_year(year), ids)]

    @strawberry.field(description="Settlement statements you may read, newest period first, then by id.")
    async def settlement_statements(
        self,
        info: Info,
        period: str | None = None,
        community_id: strawberry.ID | None = None,
        status: SettlementStatus | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[SettlementStatementType]:
        caller = await info.context.access()
        if period is not None:
            subsidies.bounds(period)
        cid = opt_id(community_id, "communityId")
        full: set[int] = set()
        wanted = status.value if status is not None else None
        selected = node_fields(info)
        if selected:  # the page with its community and lines in one statement, the lines' links in one each
            lines = {"lines", "payees"} & set(selected)
            nested = _line_fields(selected)
            links: dict[int, Links] = {}

            async def fetch_with(window: Window) -> Page[SettlementStatement]:
                got = await subsidy_reads.statements_with(
                    caller, period=period, community_id=cid, status=wanted, window=window,
                    community="community" in selected, lines=bool(lines),
                )
                full.update(await subsidy_reads.in_full(caller, [s.id for s, _ in got.rows]))
                every = [x for _, linked in got.rows for x in linked.get("lines", [])]
                compounds, companies = await subsidy_reads.line_links(
                    caller, every, compounds="compound" in nested, companies="companyName" in nested
                    or bool({"companyName", "creditCode"} & _fields_of(selected.get("payees", []))),
                )
                compound_types = {pk: CompoundType.of(row) for pk, row in compounds.items()}  # once per page
                for s, linked in got.rows:
                    if "compound" in nested:
                        linked["compounds"] = compound_types
                    if "companyName" in nested or "payees" in selected:
                        linked["companies"] = companies
                    links[s.id] = linked
                return got.with_rows([s for s, _ in got.rows])

            return await compiled(info, await connection(
                info, fetch_with, lambda s: SettlementStatementType.of(s, full=s.id in full, links=links[s.id]),
                first=first, after=after, last=last, before=before
            ))

        async def fetch(window: Window) -> Page[SettlementStatement]:
            got = await subsidy_reads.statements(
                caller, period=period, community_id=cid, status=wanted, window=window,
            )
            full.update(await subsidy_reads.in_full(caller, [s.id for s in got.rows]))
            return got

        return await connection(
            info, fetch, lambda s: SettlementStatementType.of(s, full=s.id in full),
            first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="One settlement statement with its lines and payees.")
    async def settlement_statement(self, info: Info, id: strawberry.ID) -> SettlementStatementType:
        s = await subsidy_reads.statement(await info.context.access(), to_id(id, "id", "SettlementStatement"))
        return (await _statement_types(info, [s]))[0]


@strawberry.type
class SubsidyMutation:
    @strawberry.mutation(
        description="Settle a period from its published ratings (tenant admin): new or recomputed drafts, one per "
        "community; approved and paid statements stay as they are."
    )
    async def run_settlement(self, info: Info, period: str) -> SettlementRunType:
        result = await subsidies.run(access=await info.context.access(), period_key=period, actor=info.context.actor)
        rows = await subsidy_reads.statements_by_ids(await info.context.access(), result.statement_ids)
        return SettlementRunType(
            period_key=result.period_key,
            created_count=len(result.created),
            replaced_count=len(result.replaced),
            unchanged_count=len(result.unchanged),
            approved_count=len(result.approved),
            removed_count=result.removed,
            statements=await _statement_types(info, rows),
        )

    @strawberry.mutation(description="Approve a draft (tenant admin): it is frozen and posted to the ledger.")
    async def approve_settlement(self, info: Info, id: strawberry.ID) -> SettlementStatementType:
        stmt = await subsidies.approve(
            access=await info.context.access(),
            statement_id=to_id(id, "id", "SettlementStatement"),
            actor=info.context.actor,
        )
        return (await _statement_types(info, [stmt]))[0]

    @strawberry.mutation(description="Record the payment of an approved statement with its reference (tenant admin).")
    async def pay_settlement(self, info: Info, id: strawberry.ID, reference: str) -> SettlementStatementType:
        stmt = await subsidies.pay(
            access=await info.context.access(),
            statement_id=to_id(id, "id", "SettlementStatement"),
            reference=reference,
            actor=info.context.actor,
        )
        return (await _statement_types(info, [stmt]))[0]
