"""Work units 报到单位 (机关、企事业单位) and their registrations at communities: the resources they offer 资源清单 and
the agreement period. A tenant admin or street officer keeps the units; staff of the community's area or the unit's
own contact register it; the community (or its street) approves or rejects it, and ends it."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.audit import service as audit
from tenants.dual.access import readable_unit_registrations, readable_work_units
from tenants.dual.config import dual_config
from tenants.dual.models import RegistrationStatus, UnitRegistration
from tenants.dual.text import phone_problems, text_problems
from tenants.errors import Conflict, IllegalTransition, InvalidInput, NotFound, Noun, Problem
from tenants.idempotency import idempotent
from tenants.paging import Order, Page, Window, page, where
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.territory.access import Access
from tenants.territory.models import Community
from tenants.territory.parties import WorkUnit, WorkUnitKind

S = RegistrationStatus
CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch: 1-64, a letter or digit first
MAX_RESOURCES, RESOURCE_CHARS = 50, 200
_UNSET: Any = object()
AGREEMENT_ENDED = "agreement ended"

STATUS_ZH = {"pending": "待审核", "approved": "已报到", "rejected": "已驳回", "moved": "已迁出", "ended": "已结束"}
ACTION_ZH = {"approve": "批准", "reject": "驳回", "end": "结束"}
# A registration refuses a step in the wrong status with IllegalTransition(REGISTRATION, ...) (field "status").
REGISTRATION = Noun("报到", "registration", STATUS_ZH, ACTION_ZH, field="status", state_key="status")
BY_CODE = Order(("code",), (str,))
NEWEST = Order(("-created_at", "-id"), (datetime, int))


def refuse(problems: list[Problem]) -> None:
    if problems:
        raise InvalidInput.of(problems)


def reason_text(reason: str, problems: list[Problem], *, field: str = "reason") -> str:
    """A required reason (rejecting, ending): 1-500 characters."""
    problems += text_problems(field, reason, "理由", required=True, limit=500)
    return reason.strip()


async def community_of(community_id: int, *, field: str = "communityId") -> Community:
    """A community of the tenant (NOT_FOUND otherwise: another tenant's id reads as none)."""
    row = await Community.filter(id=community_id).first()
    if row is None:
        raise NotFound(f"社区 {community_id} 不存在", f"community {community_id} does not exist", field=field)
    return row  # type: ignore[return-value]


def resource_texts(resources: list[str], problems: list[Problem]) -> list[str]:
    """0..50 texts of 1..200 characters each, stripped."""
    if len(resources) > MAX_RESOURCES:
        problems.append(Problem("resources", "too_many", f"资源清单最多 {MAX_RESOURCES} 项",
                                f"resources takes at most {MAX_RESOURCES} texts"))
        return []
    out = []
    for i, text in enumerate(resources):
        problems += text_problems(f"resources.{i}", text, "资源", required=True, limit=RESOURCE_CHARS)
        out.append(text.strip())
    return out


def _kind(kind: str) -> WorkUnitKind:
    try:
        return WorkUnitKind(kind)
    except ValueError:
        raise InvalidInput.of([Problem("kind", "unknown", "单位类型须为 organ、institution 或 enterprise",
                                       "kind is organ, institution or enterprise")]) from None


def _unit_problems(name: str | None, party_org: str, contact_name: str, contact_phone: str) -> list[Problem]:
    problems: list[Problem] = []
    if name is not None:
        problems += text_problems("name", name, "单位名称", required=True, limit=200)
    problems += text_problems("partyOrg", party_org, "党组织", required=False, limit=200)
    problems += text_problems("contactName", contact_name, "联系人", required=False, limit=100)
    problems += text_problems("contactPhone", contact_phone, "联系电话", required=False, limit=32) or phone_problems(
        "contactPhone", contact_phone)
    return problems


@idempotent("createWorkUnit", WorkUnit)
async def create_work_unit(
    *, access: Access, actor: str, kind: str, code: str, name: str, party_org: str = "", contact_name: str = "",
    contact_phone: str = "",
) -> WorkUnit:
    """A work unit of the tenant; its code is unique (CONFLICT otherwise)."""
    require(access, "dual.unit.manage")
    await dual_config()
    code = code.strip()
    problems = [] if CODE.fullmatch(code) else [
        Problem("code", "format", "编码须为 1-64 位字母、数字、_ . -，以字母或数字开头",
                "code is 1-64 of letters, digits, _ . and -, starting with a letter or digit")
    ]
    unit_kind = _kind(kind)
    problems += _unit_problems(name, party_org, contact_name, contact_phone)
    refuse(problems)
    try:
        async with savepoint():
            unit = await WorkUnit.create(kind=unit_kind, code=code, name=name.strip(), party_org=party_org.strip(),
                                         contact_name=contact_name.strip(), contact_phone=contact_phone.strip())
            await audit.record(actor=actor, action="dual.work_unit.create", target_type="work_unit",
                               target_id=unit.id, details={"code": code, "kind": unit_kind.value})
            return unit
    except IntegrityError:
        raise Conflict(f"单位编码 {code} 已存在", f"a work unit with code {code} exists", field="code") from None


async def update_work_unit(
    *, access: Access, actor: str, work_unit_id: int, name: str | None = None, party_org: str | None = None,
    contact_name: str | None = None, contact_phone: str | None = None, is_active: bool | None = None,
) -> WorkUnit:
    """Change what is given; code and kind never change."""
    require(access, "dual.unit.manage")
    await dual_config()
    refuse(_unit_problems(name, party_org or "", contact_name or "", contact_phone or ""))
    async with savepoint():
        unit = await WorkUnit.filter(id=work_unit_id).select_for_update().first()
        if unit is None:
            raise NotFound(f"报到单位 {work_unit_id} 不存在", f"work unit {work_unit_id} does not exist", field="id")
        given = {"name": name, "party_org": party_org, "contact_name": contact_name, "contact_phone": contact_phone}
        changed: dict[str, Any] = {k: v.strip() for k, v in given.items() if v is not None}
        if is_active is not None:
            changed["is_active"] = is_active
        if changed:
            unit.update_from_dict(changed)
            await unit.save(update_fields=[*changed, "updated_at"])
            await audit.record(actor=actor, action="dual.work_unit.update", target_type="work_unit",
                               target_id=unit.id, details={k: v for k, v in changed.items() if k != "contact_phone"})
        return unit


async def list_work_units(*, access: Access, window: Window, active: bool | None = None,
                          kind: str | None = None) -> Page[WorkUnit]:
    """Work units by code."""
    qs = readable_work_units(access)
    if active is not None:
        qs = qs.filter(is_active=active)
    if kind is not None:
        qs = qs.filter(kind=_kind(kind))
    return await page(qs, BY_CODE, window)


@idempotent("registerWorkUnit", UnitRegistration)
async def register_work_unit(
    *, access: Access, actor: str, work_unit_id: int, community_id: int, resources: list[str],
    agreement_from: date, agreement_until: date | None = None,
) -> UnitRegistration:
    """A unit registers at a community (pending until the community decides); one current per unit and community."""
    require(access, "dual.unit.register")
    await dual_config()
    problems: list[Problem] = []
    texts = resource_texts(resources, problems)
    if agreement_until is not None and agreement_until < agreement_from:
        problems.append(Problem("agreementUntil", "before_start", "协议截止日不能早于起始日",
                                "agreementUntil must not be before agreementFrom"))
    elif agreement_until is not None and agreement_until < await clock.today():
        problems.append(Problem("agreementUntil", "past", "协议已到期，不能报到", "agreementUntil is in the past"))
    refuse(problems)
    community = await community_of(community_id)
    unit = await readable_work_units(access).filter(id=work_unit_id).first()
    if unit is None:
        raise NotFound(f"报到单位 {work_unit_id} 不存在", f"work unit {work_unit_id} does not exist",
                       field="workUnitId")
    if not unit.is_active:
        raise Conflict("该单位已停用", "this work unit is inactive", field="workUnitId")
    node = _Node(community.id, community.street_id, unit.id)  # type: ignore[attr-defined]
    require(access, "dual.unit.register", node, field="communityId")
    try:
        async with savepoint():
            reg = await UnitRegistration.create(
                work_unit_id=unit.id, community_id=community.id, street_id=node.street_id, resources=texts,
                agreement_from=agreement_from, agreement_until=agreement_until, created_by=actor,
                created_at=clock.now(),
            )
            await audit.record(actor=actor, action="dual.unit_registration.register",
                               target_type="dual_unit_registration", target_id=reg.id,
                               details={"workUnitId": unit.id, "communityId": community.id})
            return reg
    except IntegrityError:
        raise Conflict("该单位已在此社区报到（或待审核）",
                       "the unit is already registered (or pending) at this community", field="communityId") from None


class _Node:
    """What ``dual.unit.register``'s node rule reads."""

    def __init__(self, community_id: int, street_id: int, work_unit_id: int | None) -> None:
        self.community_id, self.street_id, self.work_unit_id = community_id, street_id, work_unit_id


async def decide_unit_registration(
    *, access: Access, actor: str, registration_id: int, action: str, reason: str = ""
) -> UnitRegistration:
    """``approve`` (pending), ``reject`` (pending, a reason) or ``end`` (approved, a reason)."""
    require(access, "dual.registration.approve")
    await dual_config()
    problems: list[Problem] = []
    why = reason_text(reason, problems) if action in ("reject", "end") else ""
    refuse(problems)
    sources = {"approve": {S.PENDING}, "reject": {S.PENDING}, "end": {S.APPROVED}}[action]
    async with savepoint():
        reg = await readable_unit_registrations(access).filter(id=registration_id).select_for_update().first()
        if reg is None:
            raise NotFound("报到记录不存在", "no such registration", field="id")
        require(access, "dual.registration.approve", [("community", reg.community_id), ("street", reg.street_id)],
                field="id")
        if reg.status not in sources:
            raise IllegalTransition(REGISTRATION, action, reg.status.value)
        reg.status = {"approve": S.APPROVED, "reject": S.REJECTED, "end": S.ENDED}[action]
        reg.reason, reg.decided_by, reg.decided_at = why, actor, clock.now()
        await reg.save(update_fields=["status", "reason", "decided_by", "decided_at"])
        await audit.record(actor=actor, action=f"dual.unit_registration.{action}",
                           target_type="dual_unit_registration", target_id=reg.id,
                           details={"reason": why} if why else {})
        return reg


async def end_expired(*, now: datetime) -> list[int]:
    """Mark every approved unit registration whose agreement ended before the tenant's day ENDED (reason "agreement
    ended"), in one statement (the hourly dual_activities job); safe to run twice. Returns the ids ended now."""
    rows = await connections.get("default").execute_query_dict(
        "UPDATE dual_unit_registration SET status = 'ended', reason = $3, decided_by = 'system', decided_at = $4"
        " WHERE tenant_id = $1 AND status = 'approved' AND agreement_until < $2 RETURNING id",
        [current_tenant_id(), await clock.today(now), AGREEMENT_ENDED, now],
    )
    ended = sorted(int(r["id"]) for r in rows)
    if ended:
        await audit.record(actor="system", action="dual.unit_registration.end", target_type="dual_unit_registration",
                           target_id=ended[0], details={"reason": AGREEMENT_ENDED, "ids": ended})
    return ended


async def list_unit_registrations(
    *, access: Access, window: Window, status: str | None = None, community_id: int | None = None,
    work_unit_id: int | None = None,
) -> Page[UnitRegistration]:
    """Unit registrations the caller reads, newest first."""
    qs = where(readable_unit_registrations(access), status=status, community_id=community_id,
               work_unit_id=work_unit_id)
    return await page(qs, NEWEST, window)


async def work_units_by_ids(*, access: Access, ids: list[int]) -> dict[int, WorkUnit]:
    """The work units among ``ids``, by id."""
    return {u.id: u for u in await readable_work_units(access).filter(id__in=ids)}
