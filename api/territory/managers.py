"""Property managers 物业经理 through GraphQL: on file, named on contracts (history, 撤换调整), rated from their
compounds, decisions on elimination candidates. Resolvers are thin: the services check who may do what."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

import strawberry

from api.context import Info
from api.ids import opt_id, to_id
from api.pagination import After, Before, Connection, First, Last, connection
from api.rows import Node, from_row
from api.territory.loaders import ManagerLoaders
from tenants.assessment import elimination, manager_history, reports
from tenants.assessment import managers as ratings
from tenants.assessment.manager_models import EliminationDecision, EliminationOutcome, EliminationTarget
from tenants.assessment.managers import ManagerRating
from tenants.paging import Page, Window
from tenants.territory import managers as service
from tenants.territory.access import readable_contract_managers, readable_managers
from tenants.territory.parties import PropertyManager

OVERRIDE = ("Change a day inside a published rating period (its managers' published ratings change with it): "
            "tenant administrators only, with a reason; audited with the period. Without it such a day is refused "
            "for everyone (INVALID_INPUT published_period).")

# The kind of id ``targetId`` takes for each target (a manager's id as a firm's is refused, not another row).
TARGET_NODE = {EliminationTarget.FIRM: "PropertyCompany", EliminationTarget.MANAGER: "PropertyManager"}


@strawberry.enum(name="EliminationTargetKind", description="What a yearly elimination 末位淘汰 ranks.")
class TargetKind(Enum):
    FIRM = strawberry.enum_value("firm", description="Property companies.")
    MANAGER = strawberry.enum_value("manager", description="Property managers 物业经理.")


@strawberry.enum(name="EliminationOutcome", description="What became of an elimination candidate.")
class Outcome(Enum):
    KEPT = strawberry.enum_value("kept", description="Kept 保留.")
    WARNED = strawberry.enum_value("warned", description="Warned 警告.")
    REPLACED = strawberry.enum_value("replaced", description="Replaced 撤换 (a manager: with the contract-manager "
                                     "change that replaced them).")


@strawberry.type(name="PropertyManager", description="A property manager 物业经理: a firm's person named on contracts.")
class PropertyManagerNode(Node):
    readable = staticmethod(readable_managers)
    company_id: strawberry.ID = strawberry.field(description="The firm they work for.")
    name: str = strawberry.field(description="Their name.")
    is_active: bool = strawberry.field(description="Whether they are still on file as active.")
    on_file: strawberry.Private[PropertyManager]

    @classmethod
    def of(cls, row: PropertyManager) -> PropertyManagerNode:
        return from_row(cls, row, on_file=row)

    @strawberry.field(description="Their phone number: for the administration and the manager's own firm; null "
                      "for anyone else.")
    async def phone(self, info: Info) -> str | None:
        return service.phone_shown(await info.context.access(), self.on_file)


@strawberry.type(name="ContractManager", description="A manager named on a contract for a span of days; a contract's "
                 "rows are its history of managers.")
class ContractManagerNode(Node):
    readable = staticmethod(readable_contract_managers)
    contract_id: strawberry.ID = strawberry.field(description="The contract.")
    manager_id: strawberry.ID = strawberry.field(description="The manager named on it.")
    starts_on: date = strawberry.field(description="The first day they managed it.")
    ends_on: date | None = strawberry.field(description="The last day (inclusive); null while named.")
    reason: str = strawberry.field(description="Why they were named (a replacement's reason 撤换原因).")
    successor_id: strawberry.ID | None = strawberry.field(description="The row of the manager who replaced them.")
    end_reason: str = strawberry.field(description="Ended without a successor (endContractManager): why; empty "
                                       "otherwise.")
    assigned_by: str = strawberry.field(description="Who named them.")
    assigned_at: datetime = strawberry.field(description="When they were named (UTC).")

    @strawberry.field(description="The contract's whole history of managers, the first named first, this row "
                      "among them (after assignContractManager: the predecessor it ended too, so a client need "
                      "not refetch). Requires parties.read_managers.")
    async def history(self, info: Info) -> list[ContractManagerNode]:
        rows = await ManagerLoaders.of(info).histories.load(int(self.contract_id))
        return [ContractManagerNode.of(r) for r in rows]


@strawberry.type(name="ManagerRating", description="A manager's rating of a period, from the compounds they "
                 "managed in it, weighted by the days they managed each (and by fee, as firms are).")
class ManagerRatingType:
    manager_id: strawberry.ID = strawberry.field(description="The manager.")
    company_id: strawberry.ID = strawberry.field(description="Their firm.")
    name: str = strawberry.field(description="Their name.")
    score: Decimal = strawberry.field(description="Their score, to the hundredth.")
    compounds: int = strawberry.field(description="How many compounds they managed in the period.")
    days: int = strawberry.field(description="Compound-days they managed in the period.")
    rank: int = strawberry.field(description="1 is the best among all the period's managers; ties by manager id.")
    scored: bool = strawberry.field(description="Whether a body scored a compound they managed in the period "
                                    "(unscored managers are outside the yearly elimination's pool).")


@strawberry.type(name="EliminationUnscored", description="A firm or manager the year's ratings name that no body "
                 "scored in any period: outside the elimination's pool, never a candidate, listed for a human to "
                 "look at.")
class EliminationUnscoredType:
    company_id: strawberry.ID = strawberry.field(description="The firm, or the manager's firm.")
    manager_id: strawberry.ID | None = strawberry.field(description="The manager, when the year's rule ranks "
                                                        "managers; null for firms.")
    black_list_times: int = strawberry.field(description="How many periods of the year it (a manager: a firm "
                                             "whose compound they managed) was on the black list.")


@strawberry.type(name="EliminationDecision", description="What was decided about one elimination candidate.")
class EliminationDecisionType:
    id: strawberry.ID = strawberry.field(description="The decision's database id.")
    year: int = strawberry.field(description="The year of the elimination.")
    target: TargetKind = strawberry.field(description="A firm or a manager.")
    target_id: strawberry.ID = strawberry.field(description="The firm's or the manager's id.")
    outcome: Outcome = strawberry.field(description="Kept, warned or replaced.")
    reason: str = strawberry.field(description="Why.")
    contract_manager_id: strawberry.ID | None = strawberry.field(
        description="Replaced: the contract-manager row that ended with the replacement.")
    decided_by: str = strawberry.field(description="Who decided.")
    decided_at: datetime = strawberry.field(description="When (UTC).")

    @classmethod
    def of(cls, row: EliminationDecision) -> EliminationDecisionType:
        return from_row(cls, row, target=TargetKind(row.target_kind.value), outcome=Outcome(row.outcome.value))


@strawberry.input(description="A property manager to put on file.")
class CreatePropertyManagerInput:
    company_id: strawberry.ID = strawberry.field(description="The firm they work for.")
    name: str = strawberry.field(description="Their name (1-100 characters).")
    phone: str = strawberry.field(default="", description="Their phone number (5-20 digits, at most 32 characters "
                                  "with spaces, hyphens and a leading +).")
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same manager."
    )


@strawberry.input(description="Name a manager on a contract from a day, replacing the one named before.")
class AssignContractManagerInput:
    contract_id: strawberry.ID = strawberry.field(description="The contract.")
    manager_id: strawberry.ID = strawberry.field(description="The manager (of the contract's firm).")
    from_: date = strawberry.field(name="from", description="Their first day; the manager before ends the day "
                                   "before. The current manager's own first day corrects that naming in place (a "
                                   "reason required). A day inside a published rating period: only with "
                                   "overridePublished, by a tenant administrator, with a reason.")
    reason: str = strawberry.field(default="", description="Why (撤换原因), up to 500 characters.")
    override_published: bool = strawberry.field(default=False, description=OVERRIDE)


@strawberry.input(description="End a contract's current manager without a successor: their days stop accruing.")
class EndContractManagerInput:
    contract_id: strawberry.ID = strawberry.field(description="The contract.")
    ends_on: date = strawberry.field(description="The manager's last day (inclusive). A day inside a published "
                                     "rating period: only with overridePublished, by a tenant administrator.")
    reason: str = strawberry.field(description="Why, 1-500 characters.")
    override_published: bool = strawberry.field(default=False, description=OVERRIDE)


@strawberry.input(description="The decision on one of a year's elimination candidates.")
class DecideEliminationInput:
    year: int = strawberry.field(description="The year of the elimination.")
    target: TargetKind = strawberry.field(description="A firm or a manager, as the year's rule ranks.")
    target_id: strawberry.ID = strawberry.field(description="The candidate firm's or manager's id.")
    outcome: Outcome = strawberry.field(description="Kept, warned or replaced.")
    reason: str = strawberry.field(description="Why, up to 500 characters.")
    contract_manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="Replaced manager: their contract-manager row the replacement ended.")


@strawberry.type
class ManagerQuery:
    @strawberry.field(description="Property managers on file, by id (staff: of the firms serving their area; a "
                      "firm: its own).")
    async def property_managers(
        self, info: Info,
        company_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this firm's.")] = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[PropertyManagerNode]:
        access, firm = await info.context.access(), opt_id(company_id, "companyId")
        return await connection(
            info, lambda w: service.list_managers(access=access, window=w, company_id=firm), PropertyManagerNode.of,
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="A contract's managers, the first named first (its 撤换调整 history, reasons "
                      "included: staff and the contract's firm).")
    async def contract_managers(self, info: Info, contract_id: strawberry.ID) -> list[ContractManagerNode]:
        found = await service.contract_managers(access=await info.context.access(),
                                                contract_id=to_id(contract_id, "contractId"))
        return [ContractManagerNode.of(r) for r in found]

    @strawberry.field(description="Managers' ratings of a period, best first, paged by rank (a firm: its own "
                      "managers).")
    async def manager_ratings(
        self, info: Info, period: str,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[ManagerRatingType]:
        async def fetch(window: Window) -> Page[ManagerRating]:
            return ratings.by_rank(await ManagerLoaders.of(info).ratings.load(period), window)

        return await connection(
            info, fetch,
            lambda r: ManagerRatingType(
                manager_id=strawberry.ID(str(r.manager_id)), company_id=strawberry.ID(str(r.company_id)),
                name=r.name, score=r.score, compounds=r.compounds, days=r.days, rank=r.rank, scored=r.scored,
            ),
            first=first, after=after, last=last, before=before,
        )

    @strawberry.field(description="The firms (or managers) of a year's elimination that no body scored in any "
                      "period: never candidates.")
    async def elimination_unscored(self, info: Info, year: int) -> list[EliminationUnscoredType]:
        found = await reports.elimination_unscored(access=await info.context.access(), year=year)
        return [
            EliminationUnscoredType(
                company_id=strawberry.ID(str(u.company_id)), black_list_times=u.black_list_times,
                manager_id=None if u.manager_id is None else strawberry.ID(str(u.manager_id)),
            )
            for u in found
        ]

    @strawberry.field(description="The decisions on a year's elimination candidates.")
    async def elimination_decisions(self, info: Info, year: int) -> list[EliminationDecisionType]:
        found = await elimination.decisions(access=await info.context.access(), year=year)
        return [EliminationDecisionType.of(d) for d in found]


@strawberry.type
class ManagerMutation:
    @strawberry.mutation(description="Put a property manager on file.")
    async def create_property_manager(self, info: Info, input: CreatePropertyManagerInput) -> PropertyManagerNode:
        manager = await service.create_manager(**await info.context.acting(),
                                               company_id=to_id(input.company_id, "companyId"),
                                               name=input.name, phone=input.phone,
                                               idempotency_key=input.idempotency_key)
        return PropertyManagerNode.of(manager)

    @strawberry.mutation(description="Name a manager on a contract from a day (撤换调整: the one before ends the day "
                         "before and is linked to this one).")
    async def assign_contract_manager(self, info: Info, input: AssignContractManagerInput) -> ContractManagerNode:
        row = await manager_history.assign_contract_manager(
            **await info.context.acting(), contract_id=to_id(input.contract_id, "contractId"),
            manager_id=to_id(input.manager_id, "managerId"), starts_on=input.from_, reason=input.reason,
            override_published=input.override_published,
        )
        return ContractManagerNode.of(row)

    @strawberry.mutation(description="End a contract's current manager without a successor (their days stop "
                         "accruing); a day inside a published rating period only with overridePublished.")
    async def end_contract_manager(self, info: Info, input: EndContractManagerInput) -> ContractManagerNode:
        row = await manager_history.end_contract_manager(
            **await info.context.acting(), contract_id=to_id(input.contract_id, "contractId"),
            ends_on=input.ends_on, reason=input.reason, override_published=input.override_published,
        )
        return ContractManagerNode.of(row)

    @strawberry.mutation(description="Record the decision on an elimination candidate (kept, warned, replaced).")
    async def decide_elimination(self, info: Info, input: DecideEliminationInput) -> EliminationDecisionType:
        target = EliminationTarget(input.target.value)
        decision = await elimination.decide(
            **await info.context.acting(), year=input.year, target=target,
            target_id=to_id(input.target_id, "targetId", TARGET_NODE[target]),
            outcome=EliminationOutcome(input.outcome.value),
            reason=input.reason, contract_manager_id=opt_id(input.contract_manager_id, "contractManagerId"),
        )
        return EliminationDecisionType.of(decision)
