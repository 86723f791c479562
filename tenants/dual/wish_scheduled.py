"""The hourly micro-wish run (``dual_wishes``): wishes unclaimed ``wish_claim_days`` after posting are escalated to
their community (its workers told once, or its street's officers when it has none, or the tenant's admins; still
claimable), claimed wishes past their due day turn overdue, and each claimant (a member, a unit's current contacts)
is reminded once ``wish_reminder_days`` before the due day. Days are the tenant's. Safe to run twice or
concurrently: every step claims its rows by a conditional UPDATE before it writes the timeline or sends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from tenants import clock
from tenants.config.service import effective_config
from tenants.dual.list_models import WishEvent
from tenants.inbox.holders import holders_by_target, tenant_admins
from tenants.inbox.service import Message, send_all
from tenants.scope import scoped_transaction, tenant_rows
from tenants.tenancy.service import current_zone
from tenants.territory.people import Person, PostKind

ESCALATED_KIND = "wish_escalated"
REMINDER_KIND = "wish_due_soon"
CLAIMANT_KIND = "wish_claimant"  # the claimant told of a reopened or cancelled wish
SYSTEM_ACTOR = "system"


async def _timeline(rows: list[dict[str, Any]], action: str, at: datetime) -> None:
    await WishEvent.bulk_create([WishEvent(wish_id=r["id"], action=action, actor=SYSTEM_ACTOR, at=at) for r in rows])


async def claimant_users(rows: list[dict[str, Any]], today: date) -> dict[int, list[str]]:
    """Per wish (``id``, ``claimant_unit_id``, ``claimant_person_id``): the users behind its claimant today, a unit's
    current contacts (not whoever claimed for it once) or the member's own user; two queries at most."""
    units = await holders_by_target(PostKind.WORK_UNIT_CONTACT, "work_unit",
                                    {r["claimant_unit_id"] for r in rows if r["claimant_unit_id"]}, today)
    person_ids = sorted({r["claimant_person_id"] for r in rows if r["claimant_person_id"]})
    users: dict[int, str | None] = dict(
        await Person.filter(id__in=person_ids).values_list("id", "user_id")) if person_ids else {}  # type: ignore[arg-type]
    out: dict[int, list[str]] = {}
    for r in rows:
        if r["claimant_unit_id"]:
            out[r["id"]] = units.get(r["claimant_unit_id"], [])
        else:
            user = users.get(r["claimant_person_id"])
            out[r["id"]] = [user] if user else []
    return out


async def escalate(today: date, claim_days: int, *, at: datetime) -> int:
    """Escalate every wish posted ``claim_days`` or more days ago and still unclaimed; one message per community
    to its workers, naming its newly escalated wishes."""
    rows = await tenant_rows(
        "UPDATE dual_wish SET status = 'escalated', escalated_at = $2"
        " WHERE tenant_id = $1 AND status = 'posted' AND escalated_at IS NULL AND posted_on <= $3"
        " RETURNING id, community_id, street_id, title",
        [at, today - timedelta(days=claim_days)],
    )
    if not rows:
        return 0
    await _timeline(rows, "escalated", at)
    by_community: dict[int, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        by_community.setdefault(r["community_id"], []).append(r)
    workers = await holders_by_target(PostKind.COMMUNITY_WORKER, "community", by_community, today)
    streets = {c: wishes[0]["street_id"] for c, wishes in by_community.items()}
    officers = await holders_by_target(PostKind.STREET_OFFICER, "street",
                                       {streets[c] for c in by_community if not workers.get(c)}, today)
    admins = await tenant_admins(at) if any(
        not workers.get(c) and not officers.get(streets[c]) for c in by_community) else []
    messages = [
        Message(
            # no community worker: the street's officers; none either: the tenant's admins
            to=workers.get(community) or officers.get(streets[community]) or admins, kind=ESCALATED_KIND,
            title="微心愿无人认领",
            text=f"{len(wishes)} 个微心愿发布 {claim_days} 天仍无人认领，请协调认领："
            + "；".join(f"#{w['id']} {w['title']}" for w in wishes)
            + f" / {len(wishes)} micro-wish(es) unclaimed after {claim_days} days.",
        )
        for community, wishes in by_community.items()
    ]
    await send_all(messages, at=at)
    return len(rows)


async def mark_overdue(today: date, *, at: datetime) -> int:
    """Claimed wishes whose due day has passed turn overdue (still fulfillable)."""
    rows = await tenant_rows(
        "UPDATE dual_wish SET status = 'overdue' WHERE tenant_id = $1 AND status = 'claimed' AND due_on < $2"
        " RETURNING id",
        [today],
    )
    await _timeline(rows, "overdue", at)
    return len(rows)


async def remind(today: date, reminder_days: int, *, at: datetime) -> int:
    """Remind each claimant once of a claimed wish due within ``reminder_days`` (today included): a member, or a
    unit's current contacts."""
    rows = await tenant_rows(
        "UPDATE dual_wish SET reminded_at = $2"
        " WHERE tenant_id = $1 AND status = 'claimed' AND reminded_at IS NULL AND due_on >= $3 AND due_on <= $4"
        " RETURNING id, title, claimant_unit_id, claimant_person_id, due_on",
        [at, today, today + timedelta(days=reminder_days)],
    )
    if not rows:
        return 0
    await _timeline(rows, "reminded", at)
    to = await claimant_users(rows, today)
    await send_all([
        Message(to=to[r["id"]], kind=REMINDER_KIND, title="微心愿即将到期",
                text=f"您认领的微心愿 #{r['id']} {r['title']} 须于 {r['due_on'].isoformat()} 前完成。"
                f" The micro-wish #{r['id']} you claimed is due on {r['due_on'].isoformat()}.")
        for r in sorted(rows, key=lambda r: r["id"])
    ], at=at)
    return len(rows)


async def hourly(*, now: datetime | None = None) -> dict[str, Any]:
    """Escalate, mark overdue, then remind (an overdue wish is not reminded), for the tenant in scope."""
    at = now or clock.now()
    async with scoped_transaction():
        zone = await current_zone()
        today = clock.local_day(at, zone)
        dual = (await effective_config(today)).document.party.dual_registration
        if not dual.enabled:
            return {"enabled": False}
        escalated = await escalate(today, dual.wish_claim_days, at=at)
        overdue = await mark_overdue(today, at=at)
        reminded = await remind(today, dual.wish_reminder_days, at=at)
        return {"day": today.isoformat(), "escalated": escalated, "overdue": overdue, "reminded": reminded}
