"""Needs 需求清单 and projects 项目清单: a community's staff publish them, registered units (their contact) and
members claim them, a claim is followed to done with evidence, and staff close the item.

Claiming locks the item row (``SELECT ... FOR UPDATE``) and counts its claims on it, so ``slots`` hold however many
claim at once; one live claim per claimant and item is a partial unique index. A claim moves through
``CLAIM_STEPS``: claimed -> submitted (the claimant, with https evidence) -> accepted, or returned (staff, with a
reason) -> submitted again; the claimant withdraws it (claimed or returned), staff cancel it (before accepted):
both free its slot (the item row locked first, as a claim takes it) and let the claimant claim again.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from tenants import clock
from tenants.audit import service as audit
from tenants.dual.config import dual_config
from tenants.dual.list_access import (
    Claimant,
    behind,
    claimants_of,
    member_registrations,
    own_claim,
    person_claimant,
    readable_claims,
    readable_items,
    unit_claimant,
    unit_registrations,
)
from tenants.dual.list_models import RELEASED, ClaimStatus, DualClaim, DualItem, ItemKind, ItemStatus
from tenants.dual.text import text_problems
from tenants.errors import Conflict, Forbidden, IllegalTransition, InvalidInput, NotFound, Noun, Problem
from tenants.idempotency import idempotent
from tenants.paging import Page, Window, newest_first
from tenants.permissions import refusal, require
from tenants.scope import savepoint
from tenants.territory.access import Access
from tenants.territory.models import Community
from tenants.workflow import Transition, transition

MAX_SLOTS = 10_000
MAX_LINKS = 10
# A link someone can open: http(s), a host of dot-separated labels (``img.example.cn``), a port up to 65535, a path
# without spaces, control characters or ``"<>``.
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
LINK = re.compile(rf"https?://{LABEL}(?:\.{LABEL})+(?::(?P<port>\d{{1,5}}))?(?:/[^\s\x00-\x1f\x7f\"<>]*)?")

ITEM = Noun("清单", "list item", {"open": "开放认领", "closed": "已关闭"}, {"claim": "认领", "close": "关闭"},
            field="id", state_key="status")
CLAIM = Noun(
    "认领", "claim",
    {"claimed": "已认领", "submitted": "待验收", "returned": "已退回", "accepted": "已验收", "withdrawn": "已撤回",
     "cancelled": "已取消"},
    {"complete": "提交完成", "accept": "验收", "return": "退回", "withdraw": "撤回", "cancel": "取消"},
    field="id", state_key="status",
)


class AlreadyClaimed(Conflict):
    code = "ALREADY_CLAIMED"


class SlotsFull(Conflict):
    code = "SLOTS_FULL"


class NotRegistered(Forbidden):
    """The caller is not registered (approved) at the community, as a member or through the unit named."""

    code = "NOT_REGISTERED"


def evidence_problems(links: list[str], *, field: str = "evidence") -> list[Problem]:
    """Evidence is 1 to 10 http(s) links of at most 500 characters each."""
    if not links:
        return [Problem(field, "required", "请提供至少一个证明链接", "give at least one evidence link")]
    if len(links) > MAX_LINKS:
        return [Problem(field, "too_many", f"证明链接最多 {MAX_LINKS} 个", f"at most {MAX_LINKS} evidence links")]
    for i, link in enumerate(links):
        at = f"{field}.{i}"
        if problems := text_problems(at, link, "证明链接", required=True, limit=500):  # surrogate, control, bidi
            return problems
        match = LINK.fullmatch(link)
        if match is None or int(match["port"] or 1) > 65535:
            return [Problem(at, "not_a_link", "证明须为 http(s) 链接", "evidence must be http(s) links")]
    return []


async def claimant_at(access: Access, community_id: int, work_unit_id: int | None, *, field: str) -> Claimant:
    """Whom the caller claims as at a community: a unit they are the contact of (``work_unit_id``) registered
    there, or themselves as a member registered there (approved); NOT_REGISTERED otherwise."""
    if work_unit_id is not None:
        reg = await unit_registrations(access).filter(work_unit_id=work_unit_id, community_id=community_id).first()
        if reg is None:
            raise NotRegistered("该单位未在本社区报到，或您不是其联络人",
                                "that unit is not registered at this community, or you are not its contact",
                                field="workUnitId")
        return Claimant(unit_claimant(work_unit_id), work_unit_id=work_unit_id)
    member = await member_registrations(access).filter(community_id=community_id).first()
    if member is None:
        raise NotRegistered("您未在本社区报到（或尚未批准），不能认领",
                            "you are not registered (approved) at this community", field=field)
    return Claimant(person_claimant(member.person_id), person_id=member.person_id)


def _places(row: Any) -> list[tuple[str, int]]:
    return [("community", row.community_id), ("street", row.street_id)]


@idempotent("publishDualItem", DualItem)
async def publish_item(
    *, access: Access, actor: str, community_id: int, kind: str, title: str, description: str,
    slots: int | None = None, due_on: date | None = None, now: datetime | None = None,
) -> DualItem:
    """Publish a need or project of a community (its staff, or its street's)."""
    require(access, "dual.list.manage")
    at = now or clock.now()
    today = await clock.today(at)
    await dual_config(today)
    problems = text_problems("title", title, "标题", required=True, limit=200) + text_problems(
        "description", description, "描述", required=True, limit=4000)
    if kind not in {k.value for k in ItemKind}:
        problems.append(Problem("kind", "unknown", "清单类型须为需求或项目", "kind is need or project"))
    if slots is not None and not 1 <= slots <= MAX_SLOTS:
        problems.append(Problem("slots", "range", f"名额须在 1 到 {MAX_SLOTS} 之间", f"slots is 1 to {MAX_SLOTS}"))
    if due_on is not None and due_on < today:
        problems.append(Problem("dueOn", "past", "截止日期不能早于今天", "dueOn cannot be before today"))
    if problems:
        raise InvalidInput.of(problems)
    community = await Community.get_or_none(id=community_id)
    if community is None:
        raise NotFound("社区不存在", "no such community", field="communityId")
    require(access, "dual.list.manage", [("community", community.id), ("street", community.street_id)],
            field="communityId")
    item = await DualItem.create(
        community_id=community.id, street_id=community.street_id, kind=ItemKind(kind), title=title.strip(),
        description=description.strip(), slots=slots, due_on=due_on, created_by=actor, created_at=at,
    )
    await audit.record(actor=actor, action="dual_item.publish", target_type="dual_item", target_id=item.id,
                       details={"kind": kind, "communityId": community.id, "slots": slots})
    return item


async def _locked_item(access: Access, item_id: int) -> DualItem:
    item = await readable_items(access).filter(id=item_id).select_for_update().first()
    if item is None:
        raise NotFound("清单不存在", "no such list item", field="id")
    return item


async def close_item(*, access: Access, actor: str, item_id: int, now: datetime | None = None) -> DualItem:
    """Close an item: no more claims; the claims made go on to done."""
    at = now or clock.now()
    async with savepoint():
        item = await _locked_item(access, item_id)

        async def allow(permission: str, row: DualItem) -> None:
            require(access, permission, _places(row), field="id")

        async def close(row: DualItem) -> DualItem:
            row.status, row.closed_by, row.closed_at = ItemStatus.CLOSED, actor, at
            await row.save(update_fields=["status", "closed_by", "closed_at"])
            await audit.record(actor=actor, action="dual_item.close", target_type="dual_item", target_id=row.id)
            return row

        step: Transition[DualItem] = Transition("close", (ItemStatus.OPEN,), "dual.list.manage", close)
        return await transition(step, ITEM, item, state=item.status, allow=allow)  # type: ignore[no-any-return]


@idempotent("claimDualItem", DualClaim)
async def claim_item(
    *, access: Access, actor: str, item_id: int, work_unit_id: int | None = None, now: datetime | None = None
) -> DualClaim:
    """Claim an open item as a registered member, or for a registered unit one is the contact of. The item row is
    locked first: its slots are counted under the lock."""
    require(access, "dual.list.claim")
    at = now or clock.now()
    async with savepoint():
        await dual_config(await clock.today(at))
        item = await _locked_item(access, item_id)
        if item.status != ItemStatus.OPEN:
            raise IllegalTransition(ITEM, "claim", item.status.value)
        if item.due_on is not None and await clock.today(at) > item.due_on:
            raise Conflict("该清单已过截止日期，不能认领", "this item is past its due day: no more claims", field="id",
                           details={"reason": "past_due", "dueOn": item.due_on.isoformat()})
        who = await claimant_at(access, item.community_id, work_unit_id, field="id")
        if await DualClaim.exists(item_id=item.id, claimant=who.key, status__not_in=list(RELEASED)):
            raise AlreadyClaimed("已认领过该清单", "already claimed by you", field="id")
        if item.slots is not None and item.claimed_count >= item.slots:
            raise SlotsFull("名额已满", "every slot of this item is taken", field="id",
                            details={"slots": item.slots})
        try:
            async with savepoint():
                claim = await DualClaim.create(
                    item_id=item.id, community_id=item.community_id, street_id=item.street_id, claimant=who.key,
                    person_id=who.person_id, work_unit_id=who.work_unit_id, claimed_by=actor, created_at=at,
                )
        except IntegrityError:
            raise AlreadyClaimed("已认领过该清单", "already claimed by you", field="id") from None
        item.claimed_count += 1
        await item.save(update_fields=["claimed_count"])
        await audit.record(actor=actor, action="dual_claim.claim", target_type="dual_claim", target_id=claim.id,
                           details={"itemId": item.id, "claimant": who.key})
        return claim


async def _complete(row: DualClaim, *, evidence: list[str], note: str, at: datetime) -> DualClaim:
    row.status, row.evidence, row.note, row.submitted_at = ClaimStatus.SUBMITTED, evidence, note, at
    await row.save(update_fields=["status", "evidence", "note", "submitted_at"])
    return row


async def _accept(row: DualClaim, *, actor: str, at: datetime) -> DualClaim:
    row.status, row.decided_by, row.decided_at = ClaimStatus.ACCEPTED, actor, at
    await row.save(update_fields=["status", "decided_by", "decided_at"])
    return row


async def _return(row: DualClaim, *, actor: str, at: datetime, reason: str) -> DualClaim:
    row.status, row.reason, row.decided_by, row.decided_at = ClaimStatus.RETURNED, reason, actor, at
    await row.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    return row


async def _release(row: DualClaim, *, actor: str, at: datetime, reason: str, to: ClaimStatus) -> DualClaim:
    row.status, row.reason, row.decided_by, row.decided_at = to, reason, actor, at
    await row.save(update_fields=["status", "reason", "decided_by", "decided_at"])
    return row


async def _withdraw(row: DualClaim, *, actor: str, at: datetime, reason: str) -> DualClaim:
    return await _release(row, actor=actor, at=at, reason=reason, to=ClaimStatus.WITHDRAWN)


async def _cancel(row: DualClaim, *, actor: str, at: datetime, reason: str) -> DualClaim:
    return await _release(row, actor=actor, at=at, reason=reason, to=ClaimStatus.CANCELLED)


OWN = {"accept": ("验收", "accept"), "return": ("退回", "return")}  # staff steps the claimant may not take
RELEASING = frozenset({"withdraw", "cancel"})  # steps that free the claim's slot

CLAIM_STEPS: dict[str, Transition[DualClaim]] = {
    "complete": Transition("complete", (ClaimStatus.CLAIMED, ClaimStatus.RETURNED), "dual.list.claim", _complete),
    "accept": Transition("accept", (ClaimStatus.SUBMITTED,), "dual.list.manage", _accept),
    "return": Transition("return", (ClaimStatus.SUBMITTED,), "dual.list.manage", _return),
    "withdraw": Transition("withdraw", (ClaimStatus.CLAIMED, ClaimStatus.RETURNED), "dual.list.claim", _withdraw),
    "cancel": Transition("cancel", (ClaimStatus.CLAIMED, ClaimStatus.SUBMITTED, ClaimStatus.RETURNED),
                         "dual.list.manage", _cancel),
}


async def _step(access: Access, actor: str, claim_id: int, action: str, **effect: Any) -> DualClaim:
    at = effect.pop("now", None) or clock.now()
    async with savepoint():
        item = None
        if action in RELEASING:  # the item row first, as claim_item takes it: its count drops under the same lock
            seen = await readable_claims(access).filter(id=claim_id).first()
            if seen is None:
                raise NotFound("认领不存在", "no such claim", field="id")
            item = await DualItem.filter(id=seen.item_id).select_for_update().first()
        claim = await readable_claims(access).filter(id=claim_id).select_for_update().first()
        if claim is None:
            raise NotFound("认领不存在", "no such claim", field="id")
        mine = await claimants_of(access)

        async def allow(permission: str, row: DualClaim) -> None:
            if permission == "dual.list.claim":
                require(access, permission)
                if row.claimant not in mine:
                    raise refusal(permission, field="id", outside=True)
            else:
                require(access, permission, _places(row), field="id")
                if action in OWN and row.claimant in await behind(access):
                    raise own_claim(*OWN[action])

        extra = {"at": at} if action == "complete" else {"at": at, "actor": actor}
        row = await transition(CLAIM_STEPS[action], CLAIM, claim, state=claim.status, allow=allow,
                               **extra, **effect)
        if item is not None:
            item.claimed_count -= 1
            await item.save(update_fields=["claimed_count"])
        details = {"evidence": len(row.evidence)} if action == "complete" else (
            {"itemId": row.item_id, "reason": row.reason} if action in RELEASING else None)
        await audit.record(actor=actor, action=f"dual_claim.{action}", target_type="dual_claim", target_id=row.id,
                           details=details)
        return row  # type: ignore[no-any-return]


async def complete_claim(*, access: Access, actor: str, claim_id: int, evidence: list[str], note: str = "",
                         now: datetime | None = None) -> DualClaim:
    """The claimant reports the claim done, with evidence links and a note."""
    require(access, "dual.list.claim")
    problems = evidence_problems(evidence) + text_problems("note", note, "说明", required=False, limit=2000)
    if problems:
        raise InvalidInput.of(problems)
    return await _step(access, actor, claim_id, "complete", evidence=evidence, note=note.strip(), now=now)


async def accept_claim(*, access: Access, actor: str, claim_id: int, now: datetime | None = None) -> DualClaim:
    """Staff accept a submitted claim: done."""
    return await _step(access, actor, claim_id, "accept", now=now)


async def return_claim(*, access: Access, actor: str, claim_id: int, reason: str,
                       now: datetime | None = None) -> DualClaim:
    """Staff send a submitted claim back with a reason: the claimant submits again."""
    require(access, "dual.list.manage")
    if problems := text_problems("reason", reason, "原因", required=True, limit=500):
        raise InvalidInput.of(problems)
    return await _step(access, actor, claim_id, "return", reason=reason.strip(), now=now)


async def withdraw_claim(*, access: Access, actor: str, claim_id: int, reason: str = "",
                         now: datetime | None = None) -> DualClaim:
    """The claimant gives up a claim (claimed or returned): its slot is free and they may claim the item again."""
    require(access, "dual.list.claim")
    if problems := text_problems("reason", reason, "原因", required=False, limit=500):
        raise InvalidInput.of(problems)
    return await _step(access, actor, claim_id, "withdraw", reason=reason.strip(), now=now)


async def cancel_claim(*, access: Access, actor: str, claim_id: int, reason: str,
                       now: datetime | None = None) -> DualClaim:
    """Staff cancel a claim not yet accepted (a hoarded slot, a claimant gone), with the reason: its slot is free."""
    require(access, "dual.list.manage")
    if problems := text_problems("reason", reason, "原因", required=True, limit=500):
        raise InvalidInput.of(problems)
    return await _step(access, actor, claim_id, "cancel", reason=reason.strip(), now=now)


async def list_items(*, access: Access, window: Window, community_id: int | None = None, kind: str | None = None,
                     status: str | None = None) -> Page[DualItem]:
    """The items the caller reads, newest first."""
    qs = readable_items(access)
    if community_id is not None:
        qs = qs.filter(community_id=community_id)
    if kind is not None:
        qs = qs.filter(kind=kind)
    if status is not None:
        qs = qs.filter(status=status)
    return await newest_first(qs, window, time_field="created_at")


async def list_claims(*, access: Access, window: Window, item_id: int | None = None,
                      mine: bool = False) -> Page[DualClaim]:
    """The claims the caller reads (``mine``: those made as the caller or their units), newest first."""
    qs = readable_claims(access)
    if item_id is not None:
        qs = qs.filter(item_id=item_id)
    if mine:
        qs = qs.filter(claimant__in=sorted(await claimants_of(access)) or ["-"])
    return await newest_first(qs, window, time_field="created_at")
