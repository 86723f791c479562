"""People and posts; the roles and scope a person's token carries come from their active posts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial

from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.audit import service as audit
from tenants.errors import Conflict, InvalidInput, NotFound, Problem
from tenants.idempotency import idempotent
from tenants.paging import Page, Window, by_id
from tenants.permissions import require
from tenants.scope import current_tenant_id, on_commit, scoped_transaction
from tenants.tenancy.roles import Role, ScopeEntry
from tenants.territory.access import Access, get_in_scope, get_writable, readable_persons
from tenants.territory.models import LEVEL_NAMES, Grid
from tenants.territory.parties import Partner, PropertyCompany, Unit, WorkUnit
from tenants.territory.people import POST_TARGET, Person, Post, PostKind, active_on, not_over_on

ROLE_OF_POST: dict[PostKind, Role] = {
    PostKind.TENANT_ADMIN: Role.TENANT_ADMIN,
    PostKind.STREET_OFFICER: Role.STREET_OFFICER,
    PostKind.COMMUNITY_WORKER: Role.COMMUNITY_WORKER,
    PostKind.GRID_WORKER: Role.GRID_WORKER,
    PostKind.BUILDING_HEAD: Role.BUILDING_HEAD,
    PostKind.STEWARD: Role.STEWARD,
    PostKind.SUPERVISOR: Role.SUPERVISOR,
    PostKind.OWNERS_COMMITTEE: Role.OWNERS_COMMITTEE,
    PostKind.PROPERTY_COMPANY: Role.PROPERTY_COMPANY,
    PostKind.HOUSING_DEPT: Role.HOUSING_DEPT,
    PostKind.UNIT_STAFF: Role.UNIT_STAFF,
    PostKind.ASSESSOR: Role.ASSESSOR,
    PostKind.UNIT_HEAD: Role.UNIT_HEAD,
    PostKind.VOLUNTEER: Role.VOLUNTEER,
    PostKind.PARTNER_STAFF: Role.PARTNER_STAFF,
    PostKind.WORK_UNIT_CONTACT: Role.WORK_UNIT_CONTACT,
}


# Told the tenant whenever a person or a post changes here (tenants/territory/grants.py forgets what it read).
on_change: list[Callable[[int, str], None]] = []


def _changed(user_id: str) -> None:
    """Tell the listeners (the grants cache) that ``user_id``'s records changed, now and again at commit: a request
    that read the rows in between, still the old ones, must not keep them for a whole window."""
    tenant = current_tenant_id()
    for listener in on_change:
        listener(tenant, user_id)
        on_commit(partial(listener, tenant, user_id))


@dataclass(frozen=True)
class Claims:
    user_id: str
    roles: tuple[Role, ...]
    scope: tuple[str, ...]


@idempotent("createPerson", Person)
async def create_person(
    *,
    access: Access,
    actor: str,
    user_id: str,
    name: str,
    phone: str = "",
    household_id: int | None = None,
    is_party_member: bool = False,
) -> Person:
    require(access, "people.register")
    problems = []
    if not user_id.strip() or len(user_id) > 128:
        problems.append(Problem("userId", "format", "用户标识须为 1-128 个字符", "userId must be 1-128 characters"))
    if not name.strip() or len(name) > 100:
        problems.append(Problem("name", "format", "姓名须为 1-100 个字符", "name must be 1-100 characters"))
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        if household_id is not None:
            await get_writable("household", household_id, access)
        if await Person.exists(user_id=user_id.strip()):
            raise Conflict(f"用户 {user_id} 已登记", f"user {user_id} is already registered", field="userId")
        try:
            person = await Person.create(
                user_id=user_id.strip(),
                name=name.strip(),
                phone=phone,
                household_id=household_id,
                is_party_member=is_party_member,
            )
        except IntegrityError as exc:
            raise Conflict(f"用户 {user_id} 已登记", f"user {user_id} is already registered", field="userId") from exc
        _changed(person.user_id)  # a resident's or party member's token is bound from now on
        await audit.record(
            actor=actor,
            action="person.create",
            target_type="person",
            target_id=person.id,
            details={"userId": person.user_id, "householdId": household_id},
        )
        return person


@idempotent("assignPost", Post)
async def assign_post(
    *,
    access: Access,
    actor: str,
    person_id: int,
    kind: PostKind,
    target_kind: str | None,
    target_id: int | None,
    body_code: str | None = None,
    starts_on: date | None = None,
    allow_second_grid_worker: bool = False,
) -> Post:
    """Give a person a post. Grid workers are one per grid unless ``allow_second_grid_worker``."""
    require(access, "people.assign_post")
    expected = POST_TARGET[kind]
    problems = []
    if expected is not None and target_kind != expected:
        problems.append(
            Problem("targetKind", "mismatch", f"该岗位须指定 {expected}", f"a {kind.value} post targets a {expected}")
        )
    if kind == PostKind.ASSESSOR:
        if target_kind not in LEVEL_NAMES:
            problems.append(
                Problem("targetKind", "mismatch", "评议账号须指定辖区", "an assessor post targets a territory node")
            )
        if not body_code:
            problems.append(
                Problem("bodyCode", "required", "评议账号须指定考核主体", "an assessor post needs bodyCode")
            )
    if expected is None and kind == PostKind.TENANT_ADMIN and target_kind is not None:
        problems.append(Problem("targetKind", "mismatch", "管理员岗位不指定辖区", "a tenant_admin post has no target"))
    if target_kind is not None and target_id is None:
        problems.append(Problem("targetId", "required", "须指定对象", "targetId is required"))
    if problems:
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        holder = await Person.get_or_none(id=person_id)
        if holder is None:
            raise NotFound(f"人员 {person_id} 不存在", f"person {person_id} does not exist", field="personId")
        if kind == PostKind.ASSESSOR:
            await _check_body(body_code or "")
        if target_kind in LEVEL_NAMES:
            assert target_id is not None
            await get_in_scope(target_kind, target_id, access)
        elif target_kind == "company" and not await PropertyCompany.exists(id=target_id):
            raise NotFound(f"物业企业 {target_id} 不存在", f"company {target_id} does not exist", field="targetId")
        elif target_kind == "partner" and not await Partner.exists(id=target_id):
            raise NotFound(f"合作商户 {target_id} 不存在", f"partner {target_id} does not exist", field="targetId")
        elif target_kind == "work_unit" and not await WorkUnit.exists(id=target_id):
            raise NotFound(f"报到单位 {target_id} 不存在", f"work unit {target_id} does not exist", field="targetId")
        elif target_kind == "unit":
            unit = await Unit.get_or_none(id=target_id)
            if unit is None:
                raise NotFound(f"单位 {target_id} 不存在", f"unit {target_id} does not exist", field="targetId")
            # The housing department reads the whole tenant; other departments only what is theirs.
            if (kind == PostKind.HOUSING_DEPT) != (unit.kind.value == "housing_dept"):
                raise InvalidInput.of(
                    [
                        Problem(
                            "kind",
                            "unit_kind",
                            "住建部门岗位须对应住建部门单位，其他单位用 unit_staff",
                            "housing_dept posts go with a housing_dept unit; other units take unit_staff posts",
                        )
                    ]
                )
        if kind == PostKind.GRID_WORKER and not allow_second_grid_worker:
            # Lock the grid so two assignments at once cannot both find it free.
            await Grid.filter(id=target_id).select_for_update().first()
            held = await Post.filter(
                not_over_on(max(starts_on or date.min, await clock.today())), kind=kind, target_kind="grid",
                target_id=target_id,
            ).exists()
            if held:
                raise Conflict(
                    "该网格已有网格员（一网一员）",
                    "this grid already has a grid worker (one per grid)",
                    field="targetId",
                )
        post = await Post.create(
            person_id=person_id,
            kind=kind,
            target_kind=target_kind,
            target_id=target_id,
            body_code=body_code,
            starts_on=starts_on or await clock.today(),
        )
        _changed(holder.user_id)
        await audit.record(
            actor=actor,
            action="post.assign",
            target_type="post",
            target_id=post.id,
            details={"personId": person_id, "kind": kind.value, "target": f"{target_kind}:{target_id}"},
        )
        return post


async def _check_body(body_code: str) -> None:
    """An assessor account speaks for one of the assessor bodies of the configuration in force."""
    from tenants.config.service import effective_config

    assessment = (await effective_config()).document.assessment
    known = set(assessment.bodies)
    if body_code not in known:
        names = ", ".join(sorted(known))
        raise InvalidInput.of(
            [
                Problem(
                    "bodyCode",
                    "unknown_body",
                    f"考核主体 {body_code} 不在配置中（{names}）",
                    f"assessor body {body_code!r} is not in the configuration ({names})",
                )
            ]
        )


async def end_post(*, access: Access, actor: str, post_id: int, ends_on: date | None = None) -> Post:
    require(access, "people.assign_post")
    async with scoped_transaction():
        post = await Post.get_or_none(id=post_id)
        if post is None:
            raise NotFound(f"岗位 {post_id} 不存在", f"post {post_id} does not exist", field="postId")
        today = await clock.today()
        if post.ended_at is not None or (post.ends_on is not None and post.ends_on < today):
            raise Conflict(f"岗位 {post_id} 已于 {post.ends_on} 结束", f"post {post_id} ended on {post.ends_on}",
                           field="postId")
        if ends_on is not None and ends_on < post.starts_on:
            raise InvalidInput.of([Problem("endsOn", "before_start", f"结束日期早于岗位开始日期 {post.starts_on}",
                                           f"endsOn is before the post starts ({post.starts_on})")])
        # A post that has not started yet, ended today, never starts: its last day is the eve of its first.
        post.ends_on = ends_on or (today if post.starts_on <= today else post.starts_on - timedelta(days=1))
        # Ended today (or dated back): it stops granting now, not at the tenant's midnight.
        post.ended_at = clock.now() if post.ends_on <= today else None
        await post.save()
        # its holder's next request is refused what the post granted
        _changed((await Person.get(id=post.person_id)).user_id)
        await audit.record(
            actor=actor, action="post.end", target_type="post", target_id=post.id, details={"endsOn": str(post.ends_on)}
        )
        return post


async def set_person_active(*, access: Access, actor: str, person_id: int, active: bool) -> Person:
    """Deactivate a person (they leave, they move away): every post they hold or were to hold ends now, and their
    records grant nothing from their next request on (in every API process within the grants window). Reactivating
    restores the resident's and party member's roles; posts are assigned anew. It ends posts, so it takes what
    ending a post takes (``people.assign_post``), not only registering people."""
    require(access, "people.assign_post")
    async with scoped_transaction():
        person = await readable_persons(access).get_or_none(id=person_id)
        if person is None:
            raise NotFound(f"人员 {person_id} 不存在", f"person {person_id} does not exist", field="id")
        ended = 0
        if not active and person.deactivated_at is None:
            now, today = clock.now(), await clock.today()
            person.deactivated_at = now
            ending = await Post.filter(not_over_on(today), person_id=person.id)
            for post in ending:  # a person's few posts; one not started yet never starts (the eve of its first day)
                post.ends_on = today if post.starts_on <= today else post.starts_on - timedelta(days=1)
                post.ended_at = now
                await post.save(update_fields=["ends_on", "ended_at"])
            ended = len(ending)
        elif active:
            person.deactivated_at = None
        await person.save()
        _changed(person.user_id)
        await audit.record(
            actor=actor, action="person.activate" if active else "person.deactivate", target_type="person",
            target_id=person.id, details={"postsEnded": ended},
        )
        return person


async def claims_of_user(user_id: str) -> Claims | None:
    """The claims of the person with this user id (None: no such person in this tenant)."""
    person = await Person.get_or_none(user_id=user_id)
    return None if person is None else await claims_for(person)


async def claims_for(person: Person, *, on: date | None = None) -> Claims:
    """The roles and scope a token for ``person`` carries, from their posts active ``on`` the day (none at all
    while the person is deactivated)."""
    if person.deactivated_at is not None:
        return Claims(user_id=person.user_id, roles=(), scope=())
    day = on or await clock.today()
    posts = await Post.filter(active_on(day), person_id=person.id).order_by("id")
    roles: set[Role] = set()
    scope: list[str] = []
    for post in posts:
        role = ROLE_OF_POST[post.kind]
        roles.add(role)
        if post.target_kind and post.target_id is not None:
            entry = str(ScopeEntry(post.target_kind, post.target_id, role))
            if entry not in scope:
                scope.append(entry)
    if person.household_id is not None:
        roles.add(Role.RESIDENT)
        scope.append(str(ScopeEntry("household", person.household_id, Role.RESIDENT)))
    if person.is_party_member:
        roles.add(Role.PARTY_MEMBER)
    return Claims(user_id=person.user_id, roles=tuple(sorted(roles)), scope=tuple(scope))


async def posts_of(person_ids: list[int]) -> list[Post]:
    return await Post.filter(person_id__in=person_ids).order_by("id")


async def list_persons(*, access: Access, window: Window, user_id: str | None = None) -> Page[Person]:
    """A window of personal data by id, as ``readable_persons`` allows; not counted (every resident is a row)."""
    qs = readable_persons(access)
    if user_id is not None:
        qs = qs.filter(user_id=user_id)
    return await by_id(qs, window, countable=False)
