"""In-service party members 在职党员 registering at their residence community: self-registration (a party member's
token) or entry by staff; the community (or its street) approves or rejects. A move is a new registration that
replaces the approved one: it waits, pending, beside it; once approved the old one is ``moved`` (its last day the day
before) and its open posts end. History stays; concurrent double submissions: one wins, the other is CONFLICT."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Subquery

from tenants import clock
from tenants.audit import service as audit
from tenants.dual.access import in_area, own_person, readable_member_registrations, readable_work_units
from tenants.dual.config import dual_config
from tenants.dual.models import MemberPost, MemberRegistration, RegistrationStatus
from tenants.dual.text import text_problems
from tenants.dual.units import NEWEST, REGISTRATION, community_of, reason_text, refuse
from tenants.errors import Conflict, Forbidden, IllegalTransition, NotFound, Problem
from tenants.idempotency import idempotent
from tenants.paging import Page, Window, page, where
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.tenancy.roles import Role
from tenants.territory.access import Access, readable_persons
from tenants.territory.models import Building, Household
from tenants.territory.people import Person

S = RegistrationStatus
SKILL = re.compile(r"[a-z][a-z0-9_]{0,63}")  # the configuration's skill codes (fullmatch)
MAX_SKILLS = 20
STAFF = frozenset({Role.TENANT_ADMIN, Role.STREET_OFFICER, Role.COMMUNITY_WORKER})


@dataclass
class Details:
    """What a member registration names besides the person and the community."""

    party_org: str
    work_unit_id: int | None = None
    work_unit_name: str = ""
    building_id: int | None = None
    skills: list[str] = field(default_factory=list)


async def _person(access: Access, person_id: int | None) -> tuple[Person, bool]:
    """(the person registered, whether they register themselves). Staff name only people they read (living in their
    area; a tenant admin anyone): a person without a household is registered by themselves or a tenant admin. A
    person the caller does not read is NOT_FOUND before any other check (no oracle); a member without
    ``person_id`` registers themselves."""
    if person_id is None:
        if Role.PARTY_MEMBER not in access.roles:
            raise Forbidden("只有在职党员本人可以自行报到，工作人员须指定人员",
                            "name the person (personId): only a party member registers themselves", field="personId")
        me = await own_person(access).first()
        if me is None:
            raise NotFound("找不到您的人员信息", "you have no person record in this tenant", field="personId")
        return me, True
    if not access.roles & STAFF:
        raise Forbidden("只有工作人员可以为他人报到", "only staff register someone else", field="personId")
    person = await readable_persons(access).filter(id=person_id, deactivated_at=None).first()
    if person is None:
        raise NotFound(f"人员 {person_id} 不存在", f"person {person_id} does not exist", field="personId")
    return person, False


def _may_move_off(access: Access, own: bool, current: MemberRegistration | None) -> None:
    """A move replaces an approved registration: staff may do it only for one at a community of their area (the
    member themselves and a tenant admin anywhere), or staff of the new community would end another's record."""
    if current is None or own or in_area(access, current.community_id, current.street_id):
        return
    raise Forbidden("该党员已在其他辖区的社区报到，须由本人或租户管理员办理迁移",
                    "the member is registered at a community outside your area: only they or a tenant admin move it",
                    field="personId")


async def _checked(access: Access, person: Person, own: bool, community_id: int, d: Details) -> dict:
    """The registration's columns, every input checked (INVALID_INPUT lists all problems; NOT_FOUND, FORBIDDEN)."""
    problems: list[Problem] = []
    if not person.is_party_member:
        problems.append(Problem("personId", "not_party_member", "该人员不是党员", "the person is not a party member"))
    problems += text_problems("partyOrg", d.party_org, "所在党组织", required=True, limit=200)
    if (d.work_unit_id is None) == (not d.work_unit_name.strip()):
        problems.append(Problem("workUnitId", "one_of", "请填写工作单位（workUnitId 或 workUnitName 二选一）",
                                "give the work unit: workUnitId or workUnitName, one of them"))
    problems += text_problems("workUnitName", d.work_unit_name, "工作单位", required=False, limit=200)
    if len(d.skills) > MAX_SKILLS:
        problems.append(Problem("skills", "too_many", f"特长最多 {MAX_SKILLS} 项", f"at most {MAX_SKILLS} skills"))
    for i, code in enumerate(d.skills[:MAX_SKILLS]):
        if not SKILL.fullmatch(code):
            problems.append(Problem(f"skills.{i}", "format", "特长编码须为小写字母开头的字母、数字或 _",
                                    "a skill is a code of a-z, 0-9 and _, starting with a letter"))
    refuse(problems)
    community = await community_of(community_id)
    street_id: int = community.street_id  # type: ignore[attr-defined]
    home = None
    if person.household_id is not None:
        home = await Household.filter(id=person.household_id).values("community_id", "building_id")
    if home and home[0]["community_id"] != community.id:
        raise Conflict("须在居住地社区报到", "a member registers at the community they live in",
                       field="communityId", details={"residenceCommunityId": home[0]["community_id"]})
    if not own and not in_area(access, community.id, street_id):
        raise Forbidden("只能为本辖区的社区登记报到", "this community is outside your area", field="communityId")
    building_id = d.building_id if d.building_id is not None else (home[0]["building_id"] if home else None)
    if building_id is not None and not await Building.exists(id=building_id, community_id=community.id):
        raise NotFound(f"楼栋 {building_id} 不在该社区", f"building {building_id} is not in this community",
                       field="buildingId")
    work_unit_name = d.work_unit_name.strip()
    if d.work_unit_id is not None:
        unit = await readable_work_units(access).filter(id=d.work_unit_id).first()
        if unit is None:
            raise NotFound(f"报到单位 {d.work_unit_id} 不存在", f"work unit {d.work_unit_id} does not exist",
                           field="workUnitId")
        if not unit.is_active:
            raise Conflict("该单位已停用", "this work unit is inactive", field="workUnitId")
        work_unit_name = unit.name
    return {
        "person_id": person.id, "community_id": community.id, "street_id": street_id,
        "work_unit_id": d.work_unit_id, "work_unit_name": work_unit_name, "party_org": d.party_org.strip(),
        "building_id": building_id, "skills": list(dict.fromkeys(d.skills)), "self_registered": own,
    }


@idempotent("registerPartyMember", MemberRegistration)
async def register_member(
    *, access: Access, actor: str, community_id: int, details: Details, person_id: int | None = None,
) -> MemberRegistration:
    """A pending registration; while the person has an approved one it is a move that replaces it."""
    require(access, "dual.member.register")
    await dual_config()
    person, own = await _person(access, person_id)
    columns = await _checked(access, person, own, community_id, details)
    current = await MemberRegistration.filter(person_id=person.id, status=S.APPROVED).first()
    _may_move_off(access, own, current)
    try:
        async with savepoint():
            reg = await MemberRegistration.create(
                **columns, replaces_id=current.id if current else None, created_by=actor, created_at=clock.now()
            )
            await audit.record(actor=actor, action="dual.member_registration.register",
                               target_type="dual_member_registration", target_id=reg.id,
                               details={"personId": person.id, "communityId": community_id,
                                        "replacesId": reg.replaces_id})
            return reg
    except IntegrityError:
        raise Conflict("该党员已有待审核的报到", "this member already has a registration waiting for a decision",
                       field="personId" if person_id is not None else None) from None


async def move_registration(
    *, access: Access, actor: str, registration_id: int, community_id: int, building_id: int | None = None,
    idempotency_key: str | None = None,
) -> MemberRegistration:
    """Move an approved registration to another community: a new pending registration with the same work unit,
    party organisation and skills (``register_member`` with them)."""
    require(access, "dual.member.register")
    old = await readable_member_registrations(access).filter(id=registration_id).first()
    if old is None:
        raise NotFound("报到记录不存在", "no such registration", field="id")
    if old.status != S.APPROVED:
        raise IllegalTransition(REGISTRATION, "move", old.status.value)
    me = await own_person(access).values_list("id", flat=True)
    details = Details(party_org=old.party_org, work_unit_id=old.work_unit_id,
                      work_unit_name="" if old.work_unit_id else old.work_unit_name, building_id=building_id,
                      skills=list(old.skills))
    return await register_member(  # type: ignore[no-any-return, call-arg]
        access=access, actor=actor, community_id=community_id, details=details, idempotency_key=idempotency_key,
        person_id=None if old.person_id in me and Role.PARTY_MEMBER in access.roles else old.person_id,
    )


async def decide(
    *, access: Access, actor: str, registration_id: int, action: str, reason: str = ""
) -> MemberRegistration:
    """``approve`` or ``reject`` (a reason) a pending registration; ``end`` (a reason) an approved one (its posts
    end too). Approving a move makes the replaced registration ``moved`` with the day before as its last."""
    require(access, "dual.registration.approve")
    await dual_config()
    problems: list[Problem] = []
    why = reason_text(reason, problems) if action in ("reject", "end") else ""
    refuse(problems)
    sources = {"approve": {S.PENDING}, "reject": {S.PENDING}, "end": {S.APPROVED}}[action]
    today, now = await clock.today(), clock.now()
    async with savepoint():
        reg = await readable_member_registrations(access).filter(id=registration_id).select_for_update().first()
        if reg is None:
            raise NotFound("报到记录不存在", "no such registration", field="id")
        require(access, "dual.registration.approve", [("community", reg.community_id), ("street", reg.street_id)],
                field="id")
        if reg.status not in sources:
            raise IllegalTransition(REGISTRATION, action, reg.status.value)
        if action == "approve" and reg.replaces_id is not None:
            old = await MemberRegistration.filter(id=reg.replaces_id).select_for_update().first()
            if old is not None and old.status == S.APPROVED:
                await _close(old, S.MOVED, today - timedelta(days=1), actor, now, "")
        if action == "end":
            await _close(reg, S.ENDED, today, actor, now, why)
        else:
            reg.status = S.APPROVED if action == "approve" else S.REJECTED
            reg.starts_on = today if action == "approve" else None
            reg.reason, reg.decided_by, reg.decided_at = why, actor, now
            await reg.save(update_fields=["status", "starts_on", "reason", "decided_by", "decided_at"])
        await audit.record(actor=actor, action=f"dual.member_registration.{action}",
                           target_type="dual_member_registration", target_id=reg.id,
                           details={"reason": why} if why else {"replacesId": reg.replaces_id})
        return reg


async def _close(
    reg: MemberRegistration, status: RegistrationStatus, last_day: date, actor: str, now: datetime, why: str
) -> None:
    """End an approved registration on ``last_day`` (not before its first) and the posts held under it."""
    last_day = max(last_day, reg.starts_on or last_day)
    reg.status, reg.ends_on = status, last_day
    if status == S.ENDED:
        reg.reason, reg.decided_by, reg.decided_at = why, actor, now
    await reg.save(update_fields=["status", "ends_on", "reason", "decided_by", "decided_at"])
    held = MemberPost.filter(registration_id=reg.id, ends_on=None)
    ended = await held.filter(starts_on__lte=last_day).update(ends_on=last_day)
    ended += await held.filter(starts_on__gt=last_day).update(ends_on=F("starts_on"))  # taken today: ends today
    if ended:
        await audit.record(actor=actor, action="dual.member_post.end_with_registration",
                           target_type="dual_member_registration", target_id=reg.id, details={"posts": ended})


async def list_member_registrations(
    *, access: Access, window: Window, status: str | None = None, community_id: int | None = None,
    work_unit_id: int | None = None, person_id: int | None = None,
) -> Page[MemberRegistration]:
    """Member registrations the caller reads, newest first."""
    qs = where(readable_member_registrations(access), status=status, community_id=community_id,
               work_unit_id=work_unit_id, person_id=person_id)
    return await page(qs, NEWEST, window)


async def my_registrations(*, access: Access) -> list[MemberRegistration]:
    """The caller's own registrations, newest first (the current one and the history)."""
    require(access, "dual.read")
    me = own_person(access).values("id")
    return await MemberRegistration.filter(person_id__in=Subquery(me)).order_by("-created_at", "-id")


async def member_names(*, access: Access, person_ids: list[int]) -> dict[int, str]:
    """The names of the members among ``person_ids`` whose registrations the caller reads (a unit's contact its
    members', staff those registered in their area), by person id."""
    regs = readable_member_registrations(access).filter(person_id__in=person_ids).values("person_id")
    rows = await Person.filter(id__in=Subquery(regs)).values_list("id", "name")
    return {int(pid): str(name) for pid, name in rows}
