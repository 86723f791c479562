"""Micro-wishes 微心愿: a resident posts a small wish (or staff post it for them), a registered unit (its contact)
or member claims it, fulfils it with evidence, and the resident confirms it (staff may confirm for them, without a
rating). Like a small ticket: a wish not claimed in ``wish_claim_days`` is escalated to its community (still
claimable), a claimed one is due ``wish_due_days`` after the claim day and turns overdue after it
(``tenants.dual.wish_scheduled``). Every step is on the wish's timeline (``WishEvent``, append-only).

    posted --claim--> claimed --fulfil--> fulfilled --confirm--> confirmed
    posted --(job)--> escalated --claim--> claimed --(job)--> overdue --fulfil--> fulfilled
    posted | escalated | claimed | overdue --cancel--> cancelled
    fulfilled --reopen--> claimed  (the resident or staff dispute the fulfilment; the claimant is told)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.expressions import Q, Subquery

from tenants import clock
from tenants.audit import service as audit
from tenants.dual.config import dual_config
from tenants.dual.list_access import (
    CLAIMABLE,
    Claimant,
    behind,
    claimants_of,
    in_area,
    masked,
    own_claim,
    own_persons,
    readable_wishes,
    sees_names,
)
from tenants.dual.list_models import Wish, WishEvent, WishStatus
from tenants.dual.lists import claimant_at, evidence_problems
from tenants.dual.text import text_problems
from tenants.dual.wish_scheduled import CLAIMANT_KIND, SYSTEM_ACTOR, claimant_users
from tenants.errors import Forbidden, InvalidInput, NotFound, Noun, Problem
from tenants.idempotency import idempotent
from tenants.inbox.service import send
from tenants.paging import Page, Window, newest_first
from tenants.permissions import refusal, require
from tenants.scope import savepoint
from tenants.territory.access import Access, readable_persons
from tenants.territory.models import Household
from tenants.territory.people import Person
from tenants.workflow import Transition, transition

S = WishStatus
WISH = Noun(
    "微心愿", "wish",
    {"posted": "待认领", "escalated": "已上报社区", "claimed": "已认领", "overdue": "已逾期", "fulfilled": "已完成",
     "confirmed": "已确认", "cancelled": "已取消"},
    {"claim": "认领", "fulfil": "完成", "confirm": "确认", "cancel": "取消", "reopen": "退回重办"},
    field="id", state_key="status",
)


@dataclass(frozen=True)
class WishView:
    """A wish as the caller reads it: the row and the resident's name (masked for claimants)."""

    wish: Wish
    resident_name: str


async def event(wish: Wish, action: str, actor: str, at: datetime, note: str = "") -> None:
    await WishEvent.create(wish_id=wish.id, action=action, actor=actor, note=note[:500], at=at)


@idempotent("postWish", Wish)
async def post_wish(
    *, access: Access, actor: str, title: str, description: str, person_id: int | None = None,
    now: datetime | None = None,
) -> Wish:
    """Post a wish for oneself (a resident: their household's community) or, staff, for a resident of their area."""
    require(access, "dual.wish.post")
    at = now or clock.now()
    today = await clock.today(at)
    await dual_config(today)
    if problems := text_problems("title", title, "标题", required=True, limit=100) + text_problems(
            "description", description, "描述", required=True, limit=1000):
        raise InvalidInput.of(problems)
    if person_id is None:
        person = await own_persons(access).first()
        if person is None:
            raise Forbidden("您在本地区没有人员档案，不能发布微心愿", "you have no person record here to post a wish")
    else:
        person = await readable_persons(access).filter(id=person_id, deactivated_at=None).first()
        if person is None:  # every person the caller does not read alike: no oracle
            raise NotFound("居民不存在", "no such resident", field="personId")
    household = await Household.get_or_none(id=person.household_id) if person.household_id else None
    if household is None:
        raise InvalidInput.of([Problem("personId", "no_household", "该居民没有登记住户，无法确定社区",
                                       "the resident has no household: no community to post at")])
    own = person.user_id == access.user_id
    if not own and not in_area(access, household.community_id, household.street_id):
        raise refusal("dual.wish.post", field="personId", outside=True)
    wish = await Wish.create(
        community_id=household.community_id, street_id=household.street_id, person_id=person.id,
        title=title.strip(), description=description.strip(), posted_on=today, created_by=actor, created_at=at,
    )
    await event(wish, "posted", actor, at, "" if own else "代发布 / posted by staff")
    await audit.record(actor=actor, action="wish.post", target_type="dual_wish", target_id=wish.id,
                       details={"communityId": wish.community_id, "forResident": not own})
    return wish


async def _claim(row: Wish, *, actor: str, at: datetime, claimant: Claimant, due_days: int) -> Wish:
    day = await clock.today(at)
    row.status, row.claimant, row.claimed_by, row.claimed_at = S.CLAIMED, claimant.key, actor, at
    row.claimant_person_id, row.claimant_unit_id = claimant.person_id, claimant.work_unit_id
    row.due_on = day + timedelta(days=due_days)
    await row.save(update_fields=["status", "claimant", "claimant_person_id", "claimant_unit_id", "claimed_by",
                                  "claimed_at", "due_on"])
    await event(row, "claimed", actor, at, claimant.key)
    return row


async def _fulfil(row: Wish, *, actor: str, at: datetime, evidence: list[str], note: str) -> Wish:
    row.status, row.evidence, row.note, row.fulfilled_at = S.FULFILLED, evidence, note, at
    await row.save(update_fields=["status", "evidence", "note", "fulfilled_at"])
    await event(row, "fulfilled", actor, at)
    return row


async def _confirm(row: Wish, *, actor: str, at: datetime, rating: int | None, by_staff: bool) -> Wish:
    row.status, row.rating, row.confirmed_by, row.confirmed_at = S.CONFIRMED, rating, actor, at
    await row.save(update_fields=["status", "rating", "confirmed_by", "confirmed_at"])
    await event(row, "confirmed", actor, at, "工作人员代确认 / confirmed by staff" if by_staff else "")
    return row


async def _cancel(row: Wish, *, actor: str, at: datetime, reason: str) -> Wish:
    row.status, row.cancelled_at = S.CANCELLED, at
    await row.save(update_fields=["status", "cancelled_at"])
    await event(row, "cancelled", actor, at, reason)
    return row


async def _reopen(row: Wish, *, actor: str, at: datetime, reason: str) -> Wish:
    row.status, row.fulfilled_at = S.CLAIMED, None
    await row.save(update_fields=["status", "fulfilled_at"])
    await event(row, "reopened", actor, at, reason)
    return row


async def _tell_claimant(row: Wish, at: datetime, title: str, text: str) -> None:
    """Tell the users behind the wish's claimant (a member, a unit's current contacts), if it has one."""
    if row.claimant is None:
        return
    to = await claimant_users([{"id": row.id, "claimant_unit_id": row.claimant_unit_id,
                                "claimant_person_id": row.claimant_person_id}], await clock.today(at))
    await send(to=to[row.id], kind=CLAIMANT_KIND, title=title, text=text, at=at)


STEPS: dict[str, Transition[Wish]] = {
    "claim": Transition("claim", CLAIMABLE, "dual.wish.claim", _claim),
    "fulfil": Transition("fulfil", (S.CLAIMED, S.OVERDUE), "dual.wish.claim", _fulfil),
    "confirm": Transition("confirm", (S.FULFILLED,), "dual.wish.confirm", _confirm),
    "cancel": Transition("cancel", (S.POSTED, S.ESCALATED, S.CLAIMED, S.OVERDUE), "dual.wish.confirm", _cancel),
    "reopen": Transition("reopen", (S.FULFILLED,), "dual.wish.confirm", _reopen),
}


async def _locked(access: Access, wish_id: int) -> Wish:
    wish = await readable_wishes(access).filter(id=wish_id).select_for_update().first()
    if wish is None:
        raise NotFound("微心愿不存在", "no such wish", field="id")
    return wish


async def _is_resident(access: Access, wish: Wish) -> bool:
    return await own_persons(access).filter(id=wish.person_id).exists()


async def claim_wish(*, access: Access, actor: str, wish_id: int, work_unit_id: int | None = None,
                     now: datetime | None = None) -> Wish:
    """Claim a posted or escalated wish as a registered member, or for a registered unit one is the contact of."""
    require(access, "dual.wish.claim")
    at = now or clock.now()
    async with savepoint():
        config = await dual_config(await clock.today(at))
        wish = await _locked(access, wish_id)

        async def allow(permission: str, row: Wish) -> None:
            require(access, permission)

        if wish.status not in CLAIMABLE:
            return await transition(STEPS["claim"], WISH, wish, state=wish.status, allow=allow)  # type: ignore[no-any-return]
        if await _is_resident(access, wish):  # whatever the claimant: as a member or through a unit
            raise Forbidden("不能认领自己的微心愿", "you cannot claim your own wish", field="id",
                            details={"reason": "own_wish"})
        who = await claimant_at(access, wish.community_id, work_unit_id, field="id")
        row = await transition(STEPS["claim"], WISH, wish, state=wish.status, allow=allow, actor=actor, at=at,
                               claimant=who, due_days=config.wish_due_days)
        await audit.record(actor=actor, action="wish.claim", target_type="dual_wish", target_id=row.id,
                           details={"claimant": who.key})
        return row  # type: ignore[no-any-return]


async def fulfil_wish(*, access: Access, actor: str, wish_id: int, evidence: list[str], note: str = "",
                      now: datetime | None = None) -> Wish:
    """The claimant reports the wish fulfilled, with evidence links and a note."""
    require(access, "dual.wish.claim")
    if problems := evidence_problems(evidence) + text_problems("note", note, "说明", required=False, limit=2000):
        raise InvalidInput.of(problems)
    at = now or clock.now()
    async with savepoint():
        wish = await _locked(access, wish_id)
        mine = await claimants_of(access)

        async def allow(permission: str, row: Wish) -> None:
            require(access, permission)
            if row.claimant not in mine:
                raise refusal(permission, field="id", outside=True)

        row = await transition(STEPS["fulfil"], WISH, wish, state=wish.status, allow=allow, actor=actor, at=at,
                               evidence=evidence, note=note.strip())
        await audit.record(actor=actor, action="wish.fulfil", target_type="dual_wish", target_id=row.id,
                           details={"evidence": len(evidence)})
        return row  # type: ignore[no-any-return]


async def _resident_or_staff(access: Access, wish: Wish, permission: str) -> bool:
    """True for the wish's resident, False for staff of its area; refused otherwise."""
    require(access, permission)
    if await _is_resident(access, wish):
        return True
    if in_area(access, wish.community_id, wish.street_id):
        return False
    raise refusal(permission, field="id", outside=True)


async def confirm_wish(*, access: Access, actor: str, wish_id: int, rating: int | None = None,
                       now: datetime | None = None) -> Wish:
    """The resident confirms a fulfilled wish (a rating 1..5 if they like); staff of its area may confirm it for
    them (without a rating: the rating is the resident's)."""
    require(access, "dual.wish.confirm")
    if rating is not None and not 1 <= rating <= 5:
        raise InvalidInput.of([Problem("rating", "range", "评分须在 1 到 5 之间", "rating is 1 to 5")])
    at = now or clock.now()
    async with savepoint():
        wish = await _locked(access, wish_id)
        if wish.claimant is not None and wish.claimant in await behind(access):
            raise own_claim("确认", "confirm")
        by_staff = not await _resident_or_staff(access, wish, "dual.wish.confirm")
        if by_staff and rating is not None:
            raise InvalidInput.of([Problem("rating", "resident_only", "评分只能由居民本人给出",
                                           "only the resident rates a wish")])

        async def allow(permission: str, row: Wish) -> None:
            require(access, permission)

        row = await transition(STEPS["confirm"], WISH, wish, state=wish.status, allow=allow, actor=actor, at=at,
                               rating=rating, by_staff=by_staff)
        await audit.record(actor=actor, action="wish.confirm", target_type="dual_wish", target_id=row.id,
                           details={"rating": rating, "byStaff": by_staff})
        return row  # type: ignore[no-any-return]


async def cancel_wish(*, access: Access, actor: str, wish_id: int, reason: str = "",
                      now: datetime | None = None) -> Wish:
    """The resident (or staff of its area) withdraws a wish before it is fulfilled."""
    require(access, "dual.wish.confirm")
    if problems := text_problems("reason", reason, "原因", required=False, limit=500):
        raise InvalidInput.of(problems)
    at = now or clock.now()
    async with savepoint():
        wish = await _locked(access, wish_id)

        async def allow(permission: str, row: Wish) -> None:
            await _resident_or_staff(access, row, permission)

        row = await transition(STEPS["cancel"], WISH, wish, state=wish.status, allow=allow, actor=actor, at=at,
                               reason=reason.strip())
        await _tell_claimant(row, at, "微心愿已取消",  # the reason is the resident's: not in the message
                             f"您认领的微心愿 #{row.id} {row.title} 已取消，无需再办。"
                             f" The micro-wish #{row.id} you claimed was cancelled.")
        await audit.record(actor=actor, action="wish.cancel", target_type="dual_wish", target_id=row.id)
        return row  # type: ignore[no-any-return]


async def reopen_wish(*, access: Access, actor: str, wish_id: int, reason: str,
                      now: datetime | None = None) -> Wish:
    """The resident (or staff of its area) disputes a fulfilment: the wish is claimed again, the reason on its
    timeline, and the claimant told."""
    require(access, "dual.wish.confirm")
    if problems := text_problems("reason", reason, "原因", required=True, limit=500):
        raise InvalidInput.of(problems)
    at = now or clock.now()
    async with savepoint():
        wish = await _locked(access, wish_id)

        async def allow(permission: str, row: Wish) -> None:
            await _resident_or_staff(access, row, permission)

        row = await transition(STEPS["reopen"], WISH, wish, state=wish.status, allow=allow, actor=actor, at=at,
                               reason=reason.strip())
        await _tell_claimant(row, at, "微心愿被退回重办",
                             f"您认领的微心愿 #{row.id} {row.title} 未获确认，请继续办理：{reason.strip()}"
                             f" The micro-wish #{row.id} you claimed was reopened: {reason.strip()}")
        await audit.record(actor=actor, action="wish.reopen", target_type="dual_wish", target_id=row.id)
        return row  # type: ignore[no-any-return]


async def views(access: Access, wishes: list[Wish]) -> list[WishView]:
    """The wishes with the resident's name as the caller may read it (one query for the names)."""
    ids = sorted({w.person_id for w in wishes})
    names: dict[int, str] = dict(await Person.filter(id__in=ids or [0]).values_list("id", "name"))  # type: ignore[arg-type]
    own = set(await own_persons(access).values_list("id", flat=True)) if access.user_id else set()
    whole = sees_names(access, wishes, own)  # type: ignore[arg-type]
    return [WishView(w, names.get(w.person_id, "") if whole[w.id] else masked(names.get(w.person_id, "")))
            for w in wishes]


async def list_wishes(*, access: Access, window: Window, community_id: int | None = None, status: str | None = None,
                      mine: bool = False) -> Page[WishView]:
    """The wishes the caller reads, newest first (``mine``: posted for the caller, or claimed by them or their
    units)."""
    qs = readable_wishes(access)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if status is not None:
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(Q(person_id__in=Subquery(own_persons(access).values("id")))
                       | Q(claimant__in=sorted(await claimants_of(access)) or ["-"]))
    page = await newest_first(qs, window, time_field="created_at")
    return page.with_rows(await views(access, page.rows))


async def get_wishes(access: Access, ids: list[int]) -> dict[int, WishView]:
    rows = await readable_wishes(access).filter(id__in=ids or [0])
    return {v.wish.id: v for v in await views(access, list(rows))}


@dataclass(frozen=True)
class Step:
    """A step on a wish's timeline as the caller reads it (``actor`` named by role for those who read no names)."""

    action: str
    actor: str
    note: str
    at: datetime


CLAIMANT_ACTIONS = frozenset({"claimed", "fulfilled"})
PRIVATE_NOTES = frozenset({"cancelled"})  # the resident's reason: read by the resident and staff only


async def timeline(*, access: Access, wish_id: int) -> list[Step]:
    """A wish's steps, oldest first (NOT_FOUND for a wish the caller does not read). The resident and staff of the
    area read who acted (user ids); a claimant reads roles only: ``resident``, ``claimant``, ``staff`` or
    ``system``, never the resident's user id."""
    wish = await readable_wishes(access).filter(id=wish_id).first()
    if wish is None:
        raise NotFound("微心愿不存在", "no such wish", field="id")
    rows = await WishEvent.filter(wish_id=wish_id).order_by("at", "id")
    own = set(await own_persons(access).values_list("id", flat=True)) if access.user_id else set()
    if sees_names(access, [wish], own)[wish.id]:  # type: ignore[arg-type]
        return [Step(r.action, r.actor, r.note, r.at) for r in rows]
    resident = await Person.get_or_none(id=wish.person_id)
    return [Step(r.action, _role(r, resident.user_id if resident else None),
                 "" if r.action in PRIVATE_NOTES else r.note, r.at) for r in rows]


def _role(row: WishEvent, resident_user: str | None) -> str:
    if row.actor == SYSTEM_ACTOR:
        return SYSTEM_ACTOR
    if resident_user and row.actor == resident_user:
        return "resident"
    return "claimant" if row.action in CLAIMANT_ACTIONS else "staff"
