"""The hourly joint-meeting run (``meetings_hourly``), for the tenant in scope: decisions' reminders (once,
``decision_reminder_days`` before the due day, to the owner's staff), overdue marks, escalations up the ladder
(community -> street -> tenant administration, one rung per ``decision_escalation_days`` overdue, each once), and
the compliance flags of the period just ended (tenants/meetings/compliance.py). Days are the tenant's. Safe to run
twice or concurrently: every step claims its rows by a conditional UPDATE (or a unique insert) before it writes the
timeline or sends."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from tenants import clock, periods
from tenants.config.service import effective_config
from tenants.inbox.holders import holders_by_target, tenant_admins, unit_staff
from tenants.inbox.service import Message, send_all
from tenants.meetings import compliance
from tenants.meetings.models import DecisionEvent
from tenants.scope import scoped_transaction, tenant_rows
from tenants.tenancy.service import current_zone
from tenants.territory.parties import Unit, UnitKind
from tenants.territory.people import PostKind

REMINDER_KIND = "meeting_decision_due"
ESCALATED_KIND = "meeting_decision_escalated"
SYSTEM_ACTOR = "system"
RUNGS = ("community", "street", "tenant")  # escalation_level 1, 2, 3
RUNGS_ZH = ("社区", "街道", "区县")


async def _timeline(rows: list[dict[str, Any]], action: str, at: datetime, note: str = "") -> None:
    await DecisionEvent.bulk_create([
        DecisionEvent(decision_id=r["id"], action=action, actor=SYSTEM_ACTOR, at=at, note=note) for r in rows
    ])


async def _owner_staff(rows: list[dict[str, Any]], at: datetime) -> dict[int, list[str]]:
    """The staff of each decision's owner, by decision id."""
    unit_ids = sorted({r["owner_id"] for r in rows if r["owner_kind"] == "unit"})
    kinds = dict(await Unit.filter(id__in=unit_ids).values_list("id", "kind")) if unit_ids else {}  # type: ignore[arg-type]
    out: dict[int, list[str]] = {}
    for r in rows:
        if r["owner_kind"] == "company":
            kind = "property_company"
        else:
            kind = "housing_dept" if kinds.get(r["owner_id"]) == UnitKind.HOUSING_DEPT else "county_department"
        out[r["id"]] = await unit_staff(kind, r["owner_id"], at)
    return out


async def remind(today: date, reminder_days: int, *, at: datetime) -> int:
    """Remind each open decision's owner once, ``reminder_days`` before its due day (or later, until it is due)."""
    rows = await tenant_rows(
        "UPDATE meeting_decision SET reminded_at = $2"
        " WHERE tenant_id = $1 AND status = 'open' AND reminded_at IS NULL AND due_on >= $3 AND due_on <= $4"
        " RETURNING id, owner_kind, owner_id, description, due_on",
        [at, today, today + timedelta(days=reminder_days)],
    )
    if not rows:
        return 0
    await _timeline(rows, "reminded", at)
    staff = await _owner_staff(rows, at)
    await send_all([
        Message(to=staff[r["id"]], kind=REMINDER_KIND, title="联席会议决定事项即将到期",
                text=f"联席会议决定事项 #{r['id']}「{r['description'][:60]}」须于 {r['due_on'].isoformat()} 前办结。"
                f" Joint-meeting decision #{r['id']} is due on {r['due_on'].isoformat()}.")
        for r in sorted(rows, key=lambda r: r["id"])
    ], at=at)
    return len(rows)


async def mark_overdue(today: date, *, at: datetime) -> int:
    """Open decisions past their due day are overdue (once, on the timeline; still completable)."""
    rows = await tenant_rows(
        "UPDATE meeting_decision SET overdue_at = $2"
        " WHERE tenant_id = $1 AND status = 'open' AND overdue_at IS NULL AND due_on < $3 RETURNING id",
        [at, today],
    )
    await _timeline(rows, "overdue", at)
    return len(rows)


async def escalate(today: date, escalation_days: int, *, at: datetime, day_began: datetime) -> int:
    """Climb one rung for each open decision overdue by ``escalation_days`` per rung (0 counts as 1 after the
    first), at most one rung a tenant day (``day_began``: today's local midnight) and each rung once; the rung's
    people are told."""
    step = max(escalation_days, 1)
    rows = await tenant_rows(
        "UPDATE meeting_decision SET escalation_level = escalation_level + 1, escalated_at = $2"
        " WHERE tenant_id = $1 AND status = 'open' AND escalation_level < 3 AND due_on < $3"
        " AND due_on + $4::int + escalation_level * $5::int <= $3 AND (escalated_at IS NULL OR escalated_at < $6)"
        " RETURNING id, escalation_level, community_id, street_id, description, due_on",
        [at, today, escalation_days, step, day_began],
    )
    if not rows:
        return 0
    for level in (1, 2, 3):
        mine = [r for r in rows if r["escalation_level"] == level]
        if mine:
            await _timeline(mine, "escalated", at, RUNGS[level - 1])
    to: dict[int, list[str]] = {}
    communities = await holders_by_target(PostKind.COMMUNITY_WORKER, "community",
                                          [r["community_id"] for r in rows if r["escalation_level"] == 1], today)
    streets = await holders_by_target(PostKind.STREET_OFFICER, "street",
                                      [r["street_id"] for r in rows if r["escalation_level"] == 2], today)
    admins = await tenant_admins(at) if any(r["escalation_level"] == 3 for r in rows) else []
    for r in rows:
        level = r["escalation_level"]
        to[r["id"]] = (communities.get(r["community_id"], []) if level == 1
                       else streets.get(r["street_id"], []) if level == 2 else admins)
    await send_all([
        Message(to=to[r["id"]], kind=ESCALATED_KIND, title="联席会议决定事项逾期提级督办",
                text=f"联席会议决定事项 #{r['id']}「{r['description'][:60]}」已于 {r['due_on'].isoformat()} 到期"
                f"未办结，提级至{RUNGS_ZH[r['escalation_level'] - 1]}督办。 Joint-meeting decision #{r['id']} is"
                f" overdue and escalated to the {RUNGS[r['escalation_level'] - 1]}.")
        for r in sorted(rows, key=lambda r: r["id"])
    ], at=at)
    return len(rows)


async def hourly(*, now: datetime | None = None) -> dict[str, Any]:
    """Remind, mark overdue, escalate; flag and tell the places without a meeting in the period just ended."""
    at = now or clock.now()
    async with scoped_transaction():
        zone = await current_zone()
        today = clock.local_day(at, zone)
        jm = (await effective_config(today)).document.party.joint_meeting
        if not jm.enabled:
            return {"enabled": False}
        reminded = await remind(today, jm.decision_reminder_days, at=at)
        overdue = await mark_overdue(today, at=at)
        escalated = await escalate(today, jm.decision_escalation_days, at=at,
                                   day_began=periods.local_midnight(today, zone))
        flagged = await compliance.flag_missing(today, jm, at=at)
        told = await compliance.notify_flagged(today, at=at)
        return {"day": today.isoformat(), "reminded": reminded, "overdue": overdue, "escalated": escalated,
                "flagged": flagged, "told": told}
