"""Redemption through GraphQL: the catalogue, vouchers (redeem, verify, cancel), partners, the points fund, and
partner statements (compute, approve, pay). Resolvers are thin: the services check who may do what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import Enum

import strawberry

from api.context import Info
from api.ids import opt_id, to_id
from api.money import Fen
from api.pagination import After, Before, Connection, First, Last, connection
from api.points.voucher_loaders import VoucherLoaders
from api.rows import Node, from_row
from tenants.config.document import Redemption
from tenants.paging import Page, Window
from tenants.points import catalogue as catalogue_service
from tenants.points import partners as partner_service
from tenants.points import statements as statement_service
from tenants.points import vouchers as voucher_service
from tenants.points.voucher_access import readable_partners, readable_statements, readable_vouchers, shown_code
from tenants.points.voucher_models import (
    PartnerStatement,
    PartnerStatementLine,
    PartnerStatementStatus,
    Voucher,
    VoucherStatus,
)
from tenants.records import rows_by_id
from tenants.territory.parties import PartnerKind

VoucherState = strawberry.enum(
    Enum("VoucherStatus", {s.name: s.value for s in VoucherStatus}), name="VoucherStatus",
    description="Where a voucher is: issued (good until it expires), used, cancelled, expired.",
)
PartnerType = strawberry.enum(
    Enum("PartnerKind", {k.name: k.value for k in PartnerKind}), name="PartnerKind",
    description="What a partner is: a merchant 爱心商户 or an elderly canteen 长者食堂.",
)
PartnerStatementState = strawberry.enum(
    Enum("PartnerStatementStatus", {s.name: s.value for s in PartnerStatementStatus}),
    name="PartnerStatementStatus", description="Where a partner statement is: draft, approved (frozen), paid.",
)


@strawberry.enum(name="RedemptionKind", description="What a catalogue item (and its voucher) is for 兑换类型.")
class RedemptionKind(Enum):
    FEE_REDUCTION = strawberry.enum_value(
        "fee_reduction", description="物业费减免: credited to a household's property fee with its company."
    )
    MERCHANT = strawberry.enum_value("merchant", description="爱心商户: honoured by a merchant partner.")
    CANTEEN = strawberry.enum_value("canteen", description="长者食堂: honoured by an elderly canteen partner.")
    SERVICE = strawberry.enum_value(
        "service", description="A service, handed out by the administration or a named partner."
    )
    GOODS = strawberry.enum_value("goods", description="Goods, handed out by the administration or a named partner.")


@strawberry.type(name="PointsCatalogueItem", description="One redemption of the tenant's catalogue 积分兑换目录.")
class PointsCatalogueItem:
    code: str = strawberry.field(description="The redemption's code (redeemPoints takes it).")
    title: str
    kind: RedemptionKind = strawberry.field(description="What it is for: a fee reduction, a merchant's or a "
                                            "canteen's voucher, a service or goods.")
    cost_points: int = strawberry.field(description="What it costs in points.")
    value_fen: Fen = strawberry.field(description="What it is worth in fen (0: no money moves).")
    stock: int | None = strawberry.field(description="Vouchers that can be issued in all; null: unlimited.")
    stock_left: int | None = strawberry.field(description="Vouchers left to issue; null: unlimited.")
    monthly_limit: int | None = strawberry.field(description="Per person per calendar month; null: no limit.")
    monthly_left: int | None = strawberry.field(
        description="What the caller has left of the monthly limit this month (tenant time); null: no limit."
    )
    valid_from: date | None = strawberry.field(description="First day it can be redeemed (tenant-local).")
    valid_until: date | None = strawberry.field(description="Last day it can be redeemed (tenant-local).")
    available: bool = strawberry.field(description="Whether today is inside its validity window.")
    voucher_days: int = strawberry.field(description="A voucher is good to the end of this many days after issue.")
    partner: str | None = strawberry.field(description="The partner code that honours it; null: any of its kind.")

    @classmethod
    def of(cls, item: catalogue_service.Item) -> PointsCatalogueItem:
        r: Redemption = item.redemption
        return cls(
            code=r.code, title=r.title, kind=RedemptionKind(r.kind), cost_points=r.cost_points,
            value_fen=Fen(r.value_fen),
            stock=r.stock, stock_left=item.stock_left, monthly_limit=r.monthly_limit, monthly_left=item.monthly_left,
            valid_from=r.valid_from, valid_until=r.valid_until, available=item.available,
            voucher_days=r.voucher_days, partner=r.partner,
        )


@strawberry.type(name="Partner", description="A merchant or canteen that honours points vouchers 爱心商户/长者食堂.")
class PartnerNode(Node):
    readable = staticmethod(readable_partners)
    code: str
    name: str
    kind: PartnerType  # type: ignore[valid-type]
    community_id: strawberry.ID | None = strawberry.field(description="The community it serves, if one.")
    contact_name: str = strawberry.field(description="Who to contact.")
    contact_phone: str = strawberry.field(description="Their phone number.")
    is_active: bool


@strawberry.type(name="Voucher", description="A voucher 兑换券 issued for points: a one-time code with an expiry.")
class VoucherNode(Node):
    readable = staticmethod(readable_vouchers)
    voucher: strawberry.Private[Voucher]

    @strawberry.field(description="The one-time code shown at the counter (12 characters). Whole for its holder and "
                      "a tenant admin; for anyone else masked (********PBPG, the last 4) while it can be used.")
    async def code(self, info: Info) -> str:
        caller = await info.context.access()
        return shown_code(caller, self.voucher, await VoucherLoaders.of(info).own_person_ids())

    person_id: strawberry.ID = strawberry.field(description="The holder, who spent the points.")
    redemption_code: str = strawberry.field(description="The catalogue item.")
    kind: RedemptionKind = strawberry.field(description="What it is for: a fee reduction, a merchant's or a "
                                            "canteen's voucher, a service or goods.")
    title: str
    cost_points: int = strawberry.field(description="Points spent on it.")
    value_fen: Fen = strawberry.field(description="Its value in fen.")
    household_id: strawberry.ID | None = strawberry.field(description="A fee reduction's household.")
    company_id: strawberry.ID | None = strawberry.field(description="A fee reduction's property company.")
    partner_id: strawberry.ID | None = strawberry.field(
        description="The partner that honours it (set at verification when any partner of its kind may)."
    )
    status: VoucherState  # type: ignore[valid-type]
    issued_at: datetime = strawberry.field(description="When it was issued (UTC).")
    issued_on: date = strawberry.field(description="The tenant-local day it was issued.")
    expires_at: datetime = strawberry.field(description="When it stops being good (UTC): the end of its last day.")
    used_at: datetime | None = strawberry.field(description="When it was verified (UTC).")
    used_by: str | None = strawberry.field(description="Who verified it.")
    closed_at: datetime | None = strawberry.field(description="When it was cancelled or expired (UTC).")

    @classmethod
    def of(cls, row: Voucher) -> VoucherNode:
        return from_row(cls, row, value_fen=Fen(row.value_fen), kind=RedemptionKind(row.kind), voucher=row)


@strawberry.type(name="PartnerStatementLine", description="A verified voucher on a partner statement.")
class PartnerStatementLineType:
    position: int = strawberry.field(description="Its place on the statement.")
    voucher_id: strawberry.ID = strawberry.field(description="The voucher.")
    voucher_code: str = strawberry.field(description="The voucher's code.")
    redemption_code: str = strawberry.field(description="The catalogue item.")
    title: str
    used_at: datetime = strawberry.field(description="When the partner verified it (UTC).")
    amount_fen: Fen = strawberry.field(description="What the tenant owes for it, in fen.")

    @classmethod
    def of(cls, row: PartnerStatementLine) -> PartnerStatementLineType:
        return from_row(cls, row, amount_fen=Fen(row.amount_fen))


@strawberry.type(
    name="PartnerStatement",
    description="What the tenant owes a partner for a month's verified vouchers 商户结算单: draft, approved, paid.",
)
class PartnerStatementNode(Node):
    readable = staticmethod(readable_statements)
    partner_id: strawberry.ID = strawberry.field(description="The partner paid.")
    month: str = strawberry.field(description="The tenant-local month of verification, 2026-03.")
    status: PartnerStatementState  # type: ignore[valid-type]
    voucher_count: int = strawberry.field(description="Vouchers on it.")
    total_fen: Fen = strawberry.field(description="The sum of its lines, in fen.")
    computed_at: datetime = strawberry.field(description="When it was last computed (UTC).")
    approved_at: datetime | None = strawberry.field(description="When it was approved (UTC).")
    approved_by: str | None = strawberry.field(description="Who approved it.")
    paid_at: datetime | None = strawberry.field(description="When its payment was recorded (UTC).")
    paid_by: str | None = strawberry.field(description="Who recorded the payment.")
    payment_reference: str | None = strawberry.field(description="The bank's reference of the payment.")
    pk: strawberry.Private[int]
    partner_pk: strawberry.Private[int]

    @strawberry.field(description="The verified vouchers, in order of use.")
    async def lines(self, info: Info) -> list[PartnerStatementLineType]:
        return [PartnerStatementLineType.of(r) for r in await VoucherLoaders.of(info).lines.load(self.pk)]

    @strawberry.field(description="The partner (null when the caller does not read partners).")
    async def partner(self, info: Info) -> PartnerNode | None:
        row = await VoucherLoaders.of(info).partners.load(self.partner_pk)
        return None if row is None else PartnerNode.of(row)

    @classmethod
    def of(cls, row: PartnerStatement) -> PartnerStatementNode:
        return from_row(cls, row, total_fen=Fen(row.total_fen), pk=row.id)

    @classmethod
    async def resolve_nodes(  # type: ignore[override]
        cls, *, info: Info, node_ids: Sequence[str], required: bool = False
    ) -> list[PartnerStatementNode | None]:
        ids = [int(i) for i in node_ids]
        rows = await rows_by_id(cls.readable(await info.context.access()), ids)
        return [cls.of(rows[i]) if i in rows else None for i in ids]


@strawberry.type(name="PartnerStatementRun", description="What computing a month's partner statements did.")
class PartnerStatementRun:
    month: str = strawberry.field(description="The month computed.")
    created_count: int = strawberry.field(description="New drafts.")
    replaced_count: int = strawberry.field(description="Drafts recomputed because their vouchers changed.")
    unchanged_count: int = strawberry.field(description="Drafts with nothing new, and approved or paid statements.")
    removed_count: int = strawberry.field(description="Drafts removed: their partner has nothing left that month.")
    statements: list[PartnerStatementNode] = strawberry.field(description="The month's statements.")


@strawberry.type(name="PointsFund", description="The tenant's points fund: the money behind redemptions, in fen.")
class PointsFund:
    balance_fen: Fen = strawberry.field(description="What is in the fund now (never below zero).")


@strawberry.input(name="PartnerInput", description="A partner's details (createPartner; updatePartner ignores code "
                  "and kind).")
class PartnerInput:
    code: str | None = strawberry.field(default=None, description="Unique within the tenant: a-z, 0-9 and _.")
    name: str | None = strawberry.field(default=None, description="Its name.")
    kind: PartnerType | None = strawberry.field(default=None, description="merchant or canteen.")  # type: ignore[valid-type]
    community_id: strawberry.ID | None = strawberry.field(default=None, description="The community it serves.")
    contact_name: str | None = strawberry.field(default=None, description="Who to contact.")
    contact_phone: str | None = strawberry.field(default=None, description="Their phone number.")
    is_active: bool | None = strawberry.field(default=None, description="updatePartner: pause or resume it.")


def _status(value: VoucherState | None) -> str | None:  # type: ignore[valid-type]
    return None if value is None else value.value


@strawberry.type
class VoucherQuery:
    @strawberry.field(description="The points catalogue: what can be redeemed, for how many points, and what is left.")
    async def points_catalogue(self, info: Info) -> list[PointsCatalogueItem]:
        items = await catalogue_service.catalogue(access=await info.context.access())
        return [PointsCatalogueItem.of(i) for i in items]

    @strawberry.field(description="The caller's own vouchers, newest first.")
    async def my_vouchers(
        self, info: Info, status: VoucherState | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[VoucherNode]:
        caller = await info.context.access()

        async def fetch(window: Window) -> Page[Voucher]:
            return await voucher_service.my_vouchers(access=caller, window=window, status=_status(status))

        return await connection(info, fetch, VoucherNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Vouchers the caller reads (a partner's staff: its partner's), newest first.")
    async def vouchers(
        self, info: Info, partner_id: strawberry.ID | None = None,
        status: VoucherState | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[VoucherNode]:
        caller = await info.context.access()
        pid = opt_id(partner_id, "partnerId", "Partner")

        async def fetch(window: Window) -> Page[Voucher]:
            return await voucher_service.list_vouchers(access=caller, window=window, partner_id=pid,
                                                       status=_status(status))

        return await connection(info, fetch, VoucherNode.of, first=first, after=after, last=last, before=before)

    @strawberry.field(description="Partners (merchants, canteens) the caller reads, by code.")
    async def partners(self, info: Info, kind: PartnerType | None = None) -> list[PartnerNode]:  # type: ignore[valid-type]
        rows = await partner_service.list_partners(
            access=await info.context.access(), kind=None if kind is None else kind.value
        )
        return [PartnerNode.of(r) for r in rows]

    @strawberry.field(description="Partner statements the caller reads (a partner's staff: its own), newest month "
                      "first, then by partner (a keyset connection).")
    async def partner_statements(
        self, info: Info, month: str | None = None, partner_id: strawberry.ID | None = None,
        status: PartnerStatementState | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[PartnerStatementNode]:
        caller = await info.context.access()
        pid = opt_id(partner_id, "partnerId", "Partner")

        async def fetch(window: Window) -> Page[PartnerStatement]:
            return await statement_service.list_statements(
                access=caller, window=window, month=month, partner_id=pid,
                status=None if status is None else status.value,
            )

        return await connection(info, fetch, PartnerStatementNode.of, first=first, after=after, last=last,
                                before=before)


@strawberry.type
class VoucherMutation:
    @strawberry.mutation(description="Spend your points on a catalogue item and get its voucher (a one-time code).")
    async def redeem_points(
        self, info: Info, redemption: str, household_id: strawberry.ID | None = None,
        partner_id: strawberry.ID | None = None, idempotency_key: str | None = None,
    ) -> VoucherNode:
        v = await voucher_service.redeem(
            access=await info.context.access(), actor=info.context.actor, redemption=redemption,
            household_id=opt_id(household_id, "householdId"), partner_id=opt_id(partner_id, "partnerId", "Partner"),
            idempotency_key=idempotency_key,
        )
        return VoucherNode.of(v)

    @strawberry.mutation(description="Use a voucher once, by its code (a second use is refused).")
    async def verify_voucher(self, info: Info, code: str) -> VoucherNode:
        v = await voucher_service.verify(access=await info.context.access(), actor=info.context.actor, code=code)
        return VoucherNode.of(v)

    @strawberry.mutation(description="Cancel an unused voucher: its points come back with their original expiry.")
    async def cancel_voucher(self, info: Info, id: strawberry.ID) -> VoucherNode:
        v = await voucher_service.cancel(
            access=await info.context.access(), actor=info.context.actor, voucher_id=to_id(id, "id", "Voucher")
        )
        return VoucherNode.of(v)

    @strawberry.mutation(description="Put money (fen) into the points fund that pays for redemptions.")
    async def fund_points(self, info: Info, amount_fen: Fen, idempotency_key: str | None = None) -> PointsFund:
        balance = await voucher_service.fund(
            access=await info.context.access(), actor=info.context.actor, amount_fen=amount_fen,
            idempotency_key=idempotency_key,
        )
        return PointsFund(balance_fen=Fen(balance))

    @strawberry.mutation(description="Register a partner (merchant or canteen) that honours vouchers.")
    async def create_partner(
        self, info: Info, input: PartnerInput, idempotency_key: str | None = None
    ) -> PartnerNode:
        row = await partner_service.create_partner(
            access=await info.context.access(), actor=info.context.actor, code=input.code or "",
            name=input.name or "", kind=input.kind.value if input.kind else "",
            community_id=opt_id(input.community_id, "communityId"), contact_name=input.contact_name or "",
            contact_phone=input.contact_phone or "", idempotency_key=idempotency_key,
        )
        return PartnerNode.of(row)

    @strawberry.mutation(description="Change a partner's name, community, contact or whether it is active.")
    async def update_partner(self, info: Info, id: strawberry.ID, input: PartnerInput) -> PartnerNode:
        extra = {}
        if input.community_id is not None:
            extra["community_id"] = opt_id(input.community_id, "communityId")
        row = await partner_service.update_partner(
            access=await info.context.access(), actor=info.context.actor, partner_id=to_id(id, "id", "Partner"),
            name=input.name, contact_name=input.contact_name, contact_phone=input.contact_phone,
            is_active=input.is_active, **extra,
        )
        return PartnerNode.of(row)

    @strawberry.mutation(description="Compute (or recompute) a month's partner statements as drafts.")
    async def compute_partner_statements(self, info: Info, month: str) -> PartnerStatementRun:
        access = await info.context.access()
        result = await statement_service.compute(access=access, month=month, actor=info.context.actor)
        rows = await statement_service.all_statements(access=access, month=month)
        return PartnerStatementRun(
            month=month, created_count=len(result.created), replaced_count=len(result.replaced),
            unchanged_count=len(result.unchanged), removed_count=result.removed,
            statements=[PartnerStatementNode.of(r) for r in rows],
        )

    @strawberry.mutation(description="Approve a draft partner statement: it is frozen.")
    async def approve_partner_statement(self, info: Info, id: strawberry.ID) -> PartnerStatementNode:
        row = await statement_service.approve(
            access=await info.context.access(), statement_id=to_id(id, "id", "PartnerStatement"),
            actor=info.context.actor,
        )
        return PartnerStatementNode.of(row)

    @strawberry.mutation(description="Record the payment of an approved partner statement with the bank's reference.")
    async def pay_partner_statement(self, info: Info, id: strawberry.ID, reference: str) -> PartnerStatementNode:
        row = await statement_service.pay(
            access=await info.context.access(), statement_id=to_id(id, "id", "PartnerStatement"),
            reference=reference, actor=info.context.actor,
        )
        return PartnerStatementNode.of(row)
