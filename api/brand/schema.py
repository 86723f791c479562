"""Brand projects 品牌项目 through GraphQL: the lifecycle mutations, lists, a project's steps, a year's totals."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.brand.loaders import BrandLoaders
from api.context import Info
from api.ids import opt_id, to_id
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import FromRow, Node, from_row
from api.territory.types import CommunityType, _load
from tenants.brand import access as brand_access
from tenants.brand import reads
from tenants.brand import service as brand
from tenants.brand.models import ProjectStatus
from tenants.permissions import allows

BrandProjectStatus = strawberry.enum(
    Enum("BrandProjectStatus", {s.name: s.value for s in ProjectStatus}), name="BrandProjectStatus"
)


@strawberry.type(name="BrandProjectStep", description="One step of a brand project's record: who, when, what.")
class BrandProjectStepType(FromRow):
    step: str = strawberry.field(description="declare, approve, reject, evaluate, accept, fail or pay.")
    actor: str
    at: datetime
    note: str
    passed: bool | None = strawberry.field(description="Evaluation: on track; acceptance: passed.")
    amount_fen: Fen | None = strawberry.field(description="Budget declared or approved, amount awarded or paid (分).")
    reference: str | None = strawberry.field(description="The payment's reference.")


@strawberry.type
class BrandStatusCount:
    status: BrandProjectStatus  # type: ignore[valid-type]
    count: int


@strawberry.type(
    name="BrandYearSummary",
    description="A year's brand-project money in fen (分): cap, awarded, paid and remaining from the ledger.",
)
class BrandYearSummaryType:
    year: int
    cap_fen: Fen = strawberry.field(
        description="The year's cap: what has been funded, or the cap configured today (within the year) when that "
        "is higher; an award funds it from the configuration of its date, and a lowered cap takes nothing back."
    )
    funded: bool = strawberry.field(description="Money has been moved into the cap account (at the first award).")
    awarded_fen: Fen
    paid_fen: Fen
    payable_fen: Fen = strawberry.field(description="Awarded, not yet paid.")
    remaining_cap_fen: Fen = strawberry.field(description="Cap minus awards: the most that can still be awarded.")
    running_budget_fen: Fen = strawberry.field(description="Budgets of approved projects not yet accepted or failed.")
    uncommitted_cap_fen: Fen = strawberry.field(
        description="Remaining cap minus running budgets; negative when approvals exceed what the cap can award."
    )
    project_counts: list[BrandStatusCount]

    @classmethod
    def of(cls, s: reads.YearSummary) -> BrandYearSummaryType:
        return from_row(
            cls,
            s,
            project_counts=[
                BrandStatusCount(status=BrandProjectStatus(st.value), count=s.counts[st.value])
                for st in ProjectStatus
                if s.counts.get(st.value)
            ],
        )


@strawberry.type(name="BrandProject", description="品牌项目: a community's project for a year and its steps.")
class BrandProjectType(Node):
    readable = staticmethod(brand_access.readable)
    community_id: strawberry.ID
    year: int
    title: str
    aim: str
    budget_requested_fen: Fen
    status: BrandProjectStatus  # type: ignore[valid-type]
    amount_awarded_fen: Fen | None
    payment_reference: str | None
    declared_by: str
    declared_at: datetime
    updated_at: datetime
    community_pk: strawberry.Private[int]

    @strawberry.field
    async def community(self, info: Info) -> CommunityType | None:
        return await _load(info, "community", self.community_pk)

    @strawberry.field(description="Every step, oldest first.")
    async def steps(self, info: Info) -> list[BrandProjectStepType]:
        rows = await BrandLoaders.of(info).steps.load(int(self.id))
        return [BrandProjectStepType.of(s) for s in rows]

    @strawberry.field(
        description="The project's year as it stands (e.g. the cap left after an approval); "
        "null for those who do not read the tenant's totals."
    )
    async def year_summary(self, info: Info) -> BrandYearSummaryType | None:
        if not allows(await info.context.access(), "brand.read_totals"):
            return None
        return BrandYearSummaryType.of(await BrandLoaders.of(info).years.load(self.year))


@strawberry.input
class BrandProjectFilter:
    year: int | None = None
    community_id: strawberry.ID | None = None
    status: BrandProjectStatus | None = None  # type: ignore[valid-type]


@strawberry.input
class DeclareBrandProjectInput:
    community_id: strawberry.ID
    year: int
    title: str
    aim: str
    budget_requested_fen: Fen = strawberry.field(description="In fen (分), at most the configured per-project cap.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.type
class BrandQuery:
    @strawberry.field(description="Brand projects in your scope, by id.")
    async def brand_projects(
        self, info: Info, filter: BrandProjectFilter | None = None, first: First = None, after: After = None,
        last: Last = None, before: Before = None,
    ) -> Connection[BrandProjectType]:
        access = await info.context.access()
        f = filter or BrandProjectFilter()
        community_id = opt_id(f.community_id, "filter.communityId")
        status = ProjectStatus(f.status.value) if f.status else None
        return await connection(
            info,
            lambda w: reads.list_projects(
                access=access, window=w, year=f.year, community_id=community_id, status=status
            ),
            BrandProjectType.of,
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="One brand project with its steps, if it is in your scope.")
    async def brand_project(self, info: Info, id: strawberry.ID) -> BrandProjectType:
        access = await info.context.access()
        project = await reads.get_project(access=access, project_id=to_id(id, "id", "BrandProject"))
        return BrandProjectType.of(project)

    @strawberry.field(description="A year's cap, awards, payments and what remains (tenant admin, housing dept).")
    async def brand_year_summary(self, info: Info, year: int) -> BrandYearSummaryType:
        return BrandYearSummaryType.of(await reads.year_summary(access=await info.context.access(), year=year))


@strawberry.type
class BrandMutation:
    @strawberry.mutation(description="A community declares a project for a year (1 Oct of the year before to 31 Mar).")
    async def declare_brand_project(self, info: Info, input: DeclareBrandProjectInput) -> BrandProjectType:
        project = await brand.declare(
            **await info.context.acting(),
            community_id=to_id(input.community_id, "communityId"),
            year=input.year,
            title=input.title,
            aim=input.aim,
            budget_requested_fen=input.budget_requested_fen,
            idempotency_key=input.idempotency_key,
        )
        return BrandProjectType.of(project)

    @strawberry.mutation(description="The tenant approves a declared project.")
    async def approve_brand_project(self, info: Info, id: strawberry.ID, note: str = "") -> BrandProjectType:
        project = await brand.approve(
            **await info.context.acting(),
            project_id=to_id(id, "id", "BrandProject"),
            note=note,
        )
        return BrandProjectType.of(project)

    @strawberry.mutation(description="The tenant rejects a declared project, with a reason.")
    async def reject_brand_project(self, info: Info, id: strawberry.ID, reason: str) -> BrandProjectType:
        project = await brand.reject(
            **await info.context.acting(),
            project_id=to_id(id, "id", "BrandProject"),
            reason=reason,
        )
        return BrandProjectType.of(project)

    @strawberry.mutation(description="Mid-year evaluation 中期评估 (from 1 June): on track or concerns, with a note.")
    async def evaluate_brand_project(self, info: Info, id: strawberry.ID, passed: bool, note: str) -> BrandProjectType:
        project = await brand.evaluate(
            **await info.context.acting(),
            project_id=to_id(id, "id", "BrandProject"),
            passed=passed,
            note=note,
        )
        return BrandProjectType.of(project)

    @strawberry.mutation(
        description="Year-end acceptance 年终验收 (from 1 December): passed awards amountAwardedFen (within the "
        "budget and the year's cap); failed needs the reason in note."
    )
    async def accept_brand_project(
        self, info: Info, id: strawberry.ID, passed: bool, amount_awarded_fen: Fen | None = None, note: str = ""
    ) -> BrandProjectType:
        project = await brand.accept(
            **await info.context.acting(),
            project_id=to_id(id, "id", "BrandProject"),
            passed=passed,
            amount_awarded_fen=amount_awarded_fen,
            note=note,
        )
        return BrandProjectType.of(project)

    @strawberry.mutation(description="Record the payment of an accepted project's award, with its reference.")
    async def pay_brand_project(
        self, info: Info, id: strawberry.ID, payment_reference: str, note: str = ""
    ) -> BrandProjectType:
        project = await brand.pay(
            **await info.context.acting(),
            project_id=to_id(id, "id", "BrandProject"),
            payment_reference=payment_reference,
            note=note,
        )
        return BrandProjectType.of(project)
