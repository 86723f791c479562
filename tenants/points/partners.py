"""Partners 爱心商户 / 长者食堂: the merchants and canteens that honour points vouchers. A tenant admin creates and
changes them; their staff are people holding a ``partner_staff`` post on the partner (``assignPost``)."""

from __future__ import annotations

import re

from tortoise.exceptions import IntegrityError

from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, NotFound, Problem, text_problems
from tenants.idempotency import idempotent
from tenants.permissions import require
from tenants.points.voucher_access import readable_partners
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.models import Community
from tenants.territory.parties import Partner, PartnerKind

CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}\Z")  # as the configuration's codes (a redemption names it)
_UNSET = object()


def _kind(kind: str) -> PartnerKind:
    try:
        return PartnerKind(kind)
    except ValueError:
        raise InvalidInput.of(
            [Problem("kind", "unknown", "商户类型须为 merchant 或 canteen", "kind is merchant or canteen")]
        ) from None


async def _problems(name: str | None, contact_name: str, contact_phone: str, community_id: object) -> list[Problem]:
    problems: list[Problem] = []
    if name is not None:
        problems += text_problems("name", name, "名称", required=True, limit=200)
    problems += text_problems("contactName", contact_name, "联系人", required=False, limit=100)
    problems += text_problems("contactPhone", contact_phone, "联系电话", required=False, limit=32)
    if isinstance(community_id, int) and not await Community.exists(id=community_id):
        problems.append(Problem("communityId", "not_found", "社区不存在", "no such community"))
    return problems


@idempotent("createPartner", Partner)
async def create_partner(
    *,
    access: Access,
    actor: str,
    code: str,
    name: str,
    kind: str,
    community_id: int | None = None,
    contact_name: str = "",
    contact_phone: str = "",
) -> Partner:
    require(access, "partner.manage")
    code = code.strip()
    problems = [] if CODE.match(code) else [
        Problem("code", "format", "编码须为以小写字母开头的 1-64 位小写字母、数字或 _",
                "code is 1-64 of a-z, 0-9 and _, starting with a letter")
    ]
    partner_kind = _kind(kind)
    problems += await _problems(name, contact_name, contact_phone, community_id)
    if problems:
        raise InvalidInput.of(problems)
    try:
        async with savepoint():
            partner = await Partner.create(
                code=code, name=name.strip(), kind=partner_kind, community_id=community_id,
                contact_name=contact_name.strip(), contact_phone=contact_phone.strip(),
            )
            await audit.record(actor=actor, action="partner.create", target_type="partner", target_id=partner.id,
                               details={"code": code, "kind": partner_kind.value})
            return partner
    except IntegrityError:
        raise Conflict(f"商户编码 {code} 已存在", f"a partner with code {code} exists", field="code") from None


async def update_partner(
    *,
    access: Access,
    actor: str,
    partner_id: int,
    name: str | None = None,
    community_id: object = _UNSET,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    is_active: bool | None = None,
) -> Partner:
    """Change what is given (``community_id=None`` clears the community); code and kind never change."""
    require(access, "partner.manage")
    async with savepoint():
        partner = await Partner.filter(id=partner_id).select_for_update().first()
        if partner is None:
            raise NotFound("商户不存在", "no such partner", field="id")
        problems = await _problems(
            name, contact_name or "", contact_phone or "", community_id if community_id is not _UNSET else None
        )
        if problems:
            raise InvalidInput.of(problems)
        changed: dict[str, object] = {}
        if name is not None:
            changed["name"] = name.strip()
        if community_id is not _UNSET:
            changed["community_id"] = community_id
        if contact_name is not None:
            changed["contact_name"] = contact_name.strip()
        if contact_phone is not None:
            changed["contact_phone"] = contact_phone.strip()
        if is_active is not None:
            changed["is_active"] = is_active
        if changed:
            partner.update_from_dict(changed)
            await partner.save(update_fields=[*changed, "updated_at"])
            await audit.record(actor=actor, action="partner.update", target_type="partner", target_id=partner.id,
                               details={k: v for k, v in changed.items() if k != "contact_phone"})
        return partner


async def list_partners(*, access: Access, kind: str | None = None) -> list[Partner]:
    qs = readable_partners(access)
    if kind is not None:
        qs = qs.filter(kind=_kind(kind))
    return await qs.order_by("code")
