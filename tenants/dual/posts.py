"""Posts members take at their community 亮身份、作贡献: online 线上楼长 or offline 线下楼长 building head of a
building, or a volunteer role. A member claims one for themselves (under their approved registration), staff assign
one; the holder or staff end it. A building has at most one online and one offline member head at a time: enforced
under a lock on the building row (every claim and assignment of a building-head post takes it)."""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Subquery

from tenants import clock
from tenants.audit import service as audit
from tenants.dual.access import in_area, own_person, readable_member_posts, readable_member_registrations
from tenants.dual.config import dual_config
from tenants.dual.models import MemberPost, MemberPostKind, MemberRegistration, RegistrationStatus
from tenants.dual.text import text_problems
from tenants.dual.units import reason_text, refuse
from tenants.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from tenants.paging import Page, Window, newest_first
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.models import Building

K = MemberPostKind
HEADS = (K.ONLINE_BUILDING_HEAD, K.OFFLINE_BUILDING_HEAD)
KIND_ZH = {K.ONLINE_BUILDING_HEAD: "线上楼长", K.OFFLINE_BUILDING_HEAD: "线下楼长", K.VOLUNTEER: "志愿岗位"}


def _kind(kind: str) -> MemberPostKind:
    try:
        return MemberPostKind(kind)
    except ValueError:
        raise InvalidInput.of([Problem("kind", "unknown", "岗位类型无效", "unknown post kind")]) from None


def _checked(kind: str, building_id: int | None, role: str) -> MemberPostKind:
    """The post's kind, its building and role checked against it (INVALID_INPUT lists every problem)."""
    post_kind = _kind(kind)
    problems: list[Problem] = []
    if post_kind in HEADS:
        if building_id is None:
            problems.append(Problem("buildingId", "required", "楼长岗位须指定楼栋", "a building-head post names the "
                                    "building"))
        if role.strip():
            problems.append(
                Problem("role", "not_allowed", "楼长岗位不填志愿角色", "a building-head post takes no role")
            )
    else:
        if building_id is not None:
            problems.append(Problem("buildingId", "not_allowed", "志愿岗位不指定楼栋", "a volunteer post names no "
                                    "building"))
        problems += text_problems("role", role, "志愿角色", required=True, limit=100)
    refuse(problems)
    return post_kind


BUILDING_HEAD_INDEX = "dual_member_post_building_head"


def _head_taken(kind: MemberPostKind) -> Conflict:
    what = kind.value.replace("_", " ")
    return Conflict(f"该楼栋已有{KIND_ZH[kind]}", f"the building already has an {what}", field="buildingId")


async def _take(reg: MemberRegistration, kind: str, building_id: int | None, role: str, actor: str) -> MemberPost:
    """A post held from today under an approved registration (locked by the caller)."""
    post_kind = _checked(kind, building_id, role)
    if reg.status != RegistrationStatus.APPROVED:
        raise Conflict("报到通过审核后才能认领岗位", "the registration must be approved to hold a post",
                       field="registrationId", details={"status": reg.status.value})
    if building_id is not None:
        # The building row is the lock every claim of its head posts queues on (one online, one offline head).
        building = await Building.filter(id=building_id, community_id=reg.community_id).select_for_update().first()
        if building is None:
            raise NotFound(f"楼栋 {building_id} 不在报到社区", f"building {building_id} is not in the registration's "
                           "community", field="buildingId")
        if await MemberPost.exists(building_id=building_id, kind=post_kind, ends_on=None):
            raise _head_taken(post_kind)
    try:
        async with savepoint():
            post = await MemberPost.create(
                registration_id=reg.id, person_id=reg.person_id, community_id=reg.community_id,
                street_id=reg.street_id, kind=post_kind, building_id=building_id, role=role.strip(),
                starts_on=await clock.today(), created_by=actor, created_at=clock.now(),
            )
    except IntegrityError as exc:
        if BUILDING_HEAD_INDEX in str(exc):  # the backstop of the building's lock (migration 0031)
            raise _head_taken(post_kind) from None
        raise Conflict("您已担任该岗位", "the member already holds this post", field="kind") from None
    await audit.record(actor=actor, action="dual.member_post.take", target_type="dual_member_post", target_id=post.id,
                       details={"kind": post_kind.value, "buildingId": building_id, "role": post.role})
    return post


async def claim(*, access: Access, actor: str, kind: str, building_id: int | None = None,
                role: str = "") -> MemberPost:
    """A registered (approved) member takes a post at their community for themselves."""
    require(access, "dual.post.manage")
    await dual_config()
    if Role.PARTY_MEMBER not in access.roles:
        raise Forbidden("只有在职党员本人可以认领岗位", "only a party member claims a post for themselves",
                        field="kind")
    _checked(kind, building_id, role)
    async with savepoint():
        reg = await MemberRegistration.filter(
            person_id__in=Subquery(own_person(access).values("id")), status=RegistrationStatus.APPROVED
        ).select_for_update().first()
        if reg is None:
            raise Conflict("您尚未完成报到", "you have no approved registration", field="kind")
        return await _take(reg, kind, building_id, role, actor)


async def assign(*, access: Access, actor: str, registration_id: int, kind: str, building_id: int | None = None,
                 role: str = "") -> MemberPost:
    """Staff of the registration's community (or street) give a registered member a post."""
    require(access, "dual.post.manage")
    await dual_config()
    if not access.roles & {Role.TENANT_ADMIN, Role.STREET_OFFICER, Role.COMMUNITY_WORKER}:
        raise Forbidden("只有工作人员可以指派岗位", "only staff assign posts", field="registrationId")
    _checked(kind, building_id, role)
    async with savepoint():
        reg = await readable_member_registrations(access).filter(id=registration_id).select_for_update().first()
        if reg is None:
            raise NotFound("报到记录不存在", "no such registration", field="registrationId")
        if not in_area(access, reg.community_id, reg.street_id):
            raise Forbidden("只能为本辖区的党员指派岗位", "this member is registered outside your area",
                            field="registrationId")
        return await _take(reg, kind, building_id, role, actor)


async def end(*, access: Access, actor: str, post_id: int, reason: str) -> MemberPost:
    """The holder or staff of the post's community end it today (its last day)."""
    require(access, "dual.post.manage")
    await dual_config()
    problems: list[Problem] = []
    why = reason_text(reason, problems)
    refuse(problems)
    async with savepoint():
        post = await readable_member_posts(access).filter(id=post_id).select_for_update().first()
        if post is None:
            raise NotFound("岗位不存在", "no such post", field="id")
        mine = post.person_id in await own_person(access).values_list("id", flat=True)
        if not (mine and Role.PARTY_MEMBER in access.roles) and not in_area(access, post.community_id, post.street_id):
            raise Forbidden("只能结束本人或本辖区的岗位", "only the holder or the community's staff end this post",
                            field="id")
        if post.ends_on is not None:
            raise Conflict("该岗位已结束", "this post has ended", field="id", details={"endsOn": str(post.ends_on)})
        post.ends_on = max(await clock.today(), post.starts_on)
        await post.save(update_fields=["ends_on"])
        await audit.record(actor=actor, action="dual.member_post.end", target_type="dual_member_post",
                           target_id=post.id, details={"reason": why})
        return post


async def list_posts(*, access: Access, window: Window, held: bool | None = None, kind: str | None = None,
                     community_id: int | None = None, person_id: int | None = None) -> Page[MemberPost]:
    """Member posts the caller reads, newest first."""
    qs = readable_member_posts(access)
    if held is not None:
        qs = qs.filter(ends_on__isnull=held)
    if kind is not None:
        qs = qs.filter(kind=_kind(kind))
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    return await newest_first(qs, window, time_field="created_at")
