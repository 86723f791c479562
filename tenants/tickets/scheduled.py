"""The per-tenant reminder tick: due-soon reminders, automatic escalation of overdue tickets, and the hand-over of
often-escalated units to the efficiency-supervision office 作风效能办.

Every query that looks for due tickets is a range on the partial index ``ticket_open_due (tenant_id, due_at)``
(open states only). Once-only is decided by PostgreSQL: a (ticket, step, kind) row in ``reminder_sent`` is
inserted by exactly one tick, and only the tick that inserted it sends the reminder or escalates the ticket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenants import clock, inbox
from tenants.config.service import effective_config
from tenants.errors import Forbidden, InvalidInput, Problem
from tenants.inbox.holders import office_staff
from tenants.scope import current_tenant_id, savepoint, scoped_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.models import Community, Street
from tenants.territory.parties import PropertyCompany, Unit
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.tickets import messages, partners, workflow
from tenants.tickets.models import OPEN_STATES, EfficiencyCase, Escalation, ReminderSent, Ticket, UnitKind
from tenants.tickets.rules import LEAD_DEFAULT_MINUTES, LEAD_MINUTES, OFFICE_AFTER, OFFICE_WINDOW

log = logging.getLogger(__name__)

DUE_SOON = "due_soon"
OVERDUE = "overdue"
# Work per tick is bounded; a backlog (after an outage) drains oldest first over the next ticks.
BATCH = 1000
# Escalations this recent are checked for a hand-over; counts span the whole period or run.
HANDOVER_LOOKBACK = timedelta(days=1)
AUTO_REASON = "办理超时，系统自动提级督办"

# The literal state list lets the planner match the partial index ticket_open_due (its WHERE clause).
_OPEN = "t.state IN (" + ", ".join(f"'{s.value}'" for s in OPEN_STATES) + ")"
# Not yet recorded: OFFSET 0 keeps this a per-row probe of the ledger's unique key; pulled up into an anti-join,
# the planner may hash the tenant's whole (ever-growing) ledger instead.
_NOT_CLAIMED = """NOT EXISTS (SELECT 1 FROM reminder_sent r WHERE r.tenant_id = t.tenant_id
                  AND r.ticket_id = t.id AND r.step_seq = t.step_seq AND r.kind = '{kind}' OFFSET 0)"""


def _claim_sql(kind: str, due: str) -> str:
    """Claims, once per ticket step, a batch of open tickets whose due time meets ``due``, oldest due first: the
    ``reminder_sent`` row of ``kind`` is the claim, so a concurrent tick claims each ticket step at most once."""
    return f"""
INSERT INTO reminder_sent (tenant_id, ticket_id, step_seq, kind, at)
SELECT t.tenant_id, t.id, t.step_seq, '{kind}', $2::timestamptz
FROM ticket t
WHERE t.tenant_id = $1::bigint AND {_OPEN}
  AND {due}
  AND {_NOT_CLAIMED.format(kind=kind)}
ORDER BY t.due_at, t.id
LIMIT {BATCH}
ON CONFLICT DO NOTHING
RETURNING ticket_id, step_seq
"""


# Due by $3 and within the ticket's own lead time (its rules' lead minutes, else $4).
DUE_SOON_SQL = _claim_sql(
    DUE_SOON,
    f"""t.due_at >= $2::timestamptz AND t.due_at <= $3::timestamptz
  AND t.due_at <= $2::timestamptz + make_interval(mins => COALESCE((t.rules->>'{LEAD_MINUTES}')::int, $4::int))""",
)
OVERDUE_SQL = _claim_sql(OVERDUE, "t.due_at < $2::timestamptz")

# Units escalated lately, with the hand-over threshold and window of the ticket rules in force for their latest
# escalation of the period, and their count: in the tenant-local month (``calendar_month``: once per unit and month,
# run_no 0), or in a row (``consecutive``: since the unit's latest on-time resolution or hand-over, across months;
# only the unit's latest period takes it, so a run spanning two months yields one case). A run in a row is keyed by
# its number (1 + the unit's cases before it): each run of N is handed over exactly once, however many runs a month
# holds, and the next run counts from that hand-over. The unique key decides between concurrent ticks.
HANDOVER_SQL = f"""
WITH recent AS (
    SELECT DISTINCT unit_kind, unit_id, period FROM escalation x
    WHERE tenant_id = $1::bigint AND at >= $2::timestamptz AND unit_id IS NOT NULL AND unit_kind IS NOT NULL
), ruled AS (
    SELECT r.unit_kind, r.unit_id, r.period, l.office_after, l.office_window,
           NOT EXISTS (SELECT 1 FROM escalation later WHERE later.tenant_id = $1::bigint
                       AND later.unit_kind = r.unit_kind AND later.unit_id = r.unit_id
                       AND later.period > r.period) AS is_latest
    FROM recent r CROSS JOIN LATERAL (
        SELECT COALESCE((t.rules->>'{OFFICE_AFTER}')::int, 0) AS office_after,
               COALESCE(t.rules->>'{OFFICE_WINDOW}', 'calendar_month') AS office_window
        FROM escalation e JOIN ticket t ON t.tenant_id = e.tenant_id AND t.id = e.ticket_id
        WHERE e.tenant_id = $1::bigint AND e.unit_kind = r.unit_kind AND e.unit_id = r.unit_id
          AND e.period = r.period
        ORDER BY e.at DESC, e.id DESC LIMIT 1) l
), since AS (
    SELECT g.*, GREATEST(
        (SELECT max(t.resolved_at) FROM ticket t WHERE t.tenant_id = $1::bigint AND t.resolved_on_time
           AND t.assignee_kind = g.unit_kind AND t.assignee_id = g.unit_id),
        (SELECT max(c.handed_at) FROM efficiency_case c WHERE c.tenant_id = $1::bigint
           AND c.unit_kind = g.unit_kind AND c.unit_id = g.unit_id)) AS run_from,
        CASE WHEN g.office_window = 'consecutive' THEN 1 + (SELECT count(*) FROM efficiency_case c
            WHERE c.tenant_id = $1::bigint AND c.unit_kind = g.unit_kind AND c.unit_id = g.unit_id) ELSE 0 END
          AS run_no
    FROM ruled g WHERE g.office_after > 0 AND (
        (g.office_window = 'calendar_month' AND NOT EXISTS (SELECT 1 FROM efficiency_case c
            WHERE c.tenant_id = $1::bigint AND c.unit_kind = g.unit_kind AND c.unit_id = g.unit_id
              AND c.period = g.period AND c.run_no = 0))
        OR (g.office_window = 'consecutive' AND g.is_latest))
), counted AS (
    SELECT s.unit_kind, s.unit_id, s.period, s.run_no, s.office_after,
           (SELECT count(*) FROM escalation e
            WHERE e.tenant_id = $1::bigint AND e.unit_kind = s.unit_kind AND e.unit_id = s.unit_id
              AND CASE WHEN s.office_window = 'consecutive' THEN e.at > COALESCE(s.run_from, '-infinity')
                       ELSE e.period = s.period END) AS n
    FROM since s
)
INSERT INTO efficiency_case (tenant_id, unit_kind, unit_id, period, run_no, escalations, handed_at)
SELECT $1::bigint, unit_kind, unit_id, period, run_no, n, $3::timestamptz FROM counted
WHERE n >= office_after
ON CONFLICT DO NOTHING
RETURNING id
"""


async def _lead_bound(now: datetime, zone: ZoneInfo) -> int:
    """The lead of the configuration in force today bounds the index range; a ticket's own snapshot narrows it.
    (A ticket opened under a longer lead is reminded at today's lead: later, but still before its deadline.)"""
    doc = (await effective_config(clock.local_day(now, zone))).document
    return int(doc.reminders.ticket_deadline_lead_minutes)


async def _claim(conn: Any, sql: str, params: list[Any]) -> list[tuple[int, int]]:
    rows = await conn.execute_query_dict(sql, params)
    return sorted((r["ticket_id"], r["step_seq"]) for r in rows)


async def remind_due_soon(*, now: datetime, zone: ZoneInfo) -> int:
    """到期提醒: once per ticket and step, for open tickets whose deadline is within their lead and not past."""
    lead = await _lead_bound(now, zone)
    async with scoped_transaction() as conn:
        claimed = await _claim(
            conn, DUE_SOON_SQL, [current_tenant_id(), now, now + timedelta(minutes=lead), LEAD_DEFAULT_MINUTES]
        )
        if not claimed:
            return 0
        tickets = await Ticket.filter(id__in=[tid for tid, _ in claimed]).order_by("id")
        await inbox.send_all(await messages.due_soon_messages(tickets, at=now, zone=zone), at=now)
    return len(claimed)


async def escalate_overdue(*, now: datetime, zone: ZoneInfo) -> dict[str, int]:
    """提级督办 of overdue open tickets, once per ticket and step: the tick that records the step escalates it."""
    counts = {"escalated": 0, "skipped": 0, "errors": 0}
    async with scoped_transaction() as conn:
        claimed = await _claim(conn, OVERDUE_SQL, [current_tenant_id(), now])
        for ticket_id, step in claimed:
            try:
                async with savepoint():
                    ticket = await Ticket.filter(id=ticket_id).select_for_update().first()
                    # Someone may have moved it on since the claim read it (dispatched, resolved, escalated).
                    if (
                        ticket is None
                        or ticket.state not in OPEN_STATES
                        or ticket.step_seq != step
                        or ticket.due_at is None
                        or ticket.due_at >= now
                    ):
                        counts["skipped"] += 1
                        continue
                    await workflow.escalate_locked(
                        ticket, actor="system", automatic=True, reason=AUTO_REASON, at=now, zone=zone
                    )
                    counts["escalated"] += 1
            except Exception:
                # One broken ticket must not stop the others. Its claim is released, so the next tick retries it
                # (the savepoint already undid the half-done escalation).
                log.exception("automatic escalation of ticket %s failed", ticket_id)
                await ReminderSent.filter(ticket_id=ticket_id, step_seq=step, kind="overdue").delete()
                counts["errors"] += 1
    return counts


async def hand_over_units(*, now: datetime) -> int:
    """Units that reached the configured number of escalations (in a row, or in a month) go to the efficiency
    office."""
    async with scoped_transaction() as conn:
        rows = await conn.execute_query_dict(HANDOVER_SQL, [current_tenant_id(), now - HANDOVER_LOOKBACK, now])
        if not rows:
            return 0
        cases = await EfficiencyCase.filter(id__in=[r["id"] for r in rows]).order_by("id")
        staff = await office_staff(now)
        names = await unit_names([(c.unit_kind, c.unit_id) for c in cases])
        told = [messages.office_message(c, names.get((c.unit_kind, c.unit_id), ""), staff) for c in cases]
        await inbox.send_all(told, at=now)
    return len(cases)


async def tick(*, now: datetime) -> dict[str, int]:
    """One reminder tick for the tenant in scope; safe to run any number of times, by any number of workers."""
    zone = await current_zone()
    due_soon = await remind_due_soon(now=now, zone=zone)
    overdue = await escalate_overdue(now=now, zone=zone)
    partner_escalated = await partners.escalate_overdue(now=now, zone=zone)
    handed = await hand_over_units(now=now)
    return {"due_soon": due_soon, **overdue, "partner_escalated": partner_escalated, "handed_over": handed}


_UNIT_MODELS: dict[UnitKind, Any] = {
    UnitKind.COMMUNITY: Community,
    UnitKind.STREET: Street,
    UnitKind.PROPERTY_COMPANY: PropertyCompany,
    UnitKind.HOUSING_DEPT: Unit,
    UnitKind.COUNTY_DEPARTMENT: Unit,
}


async def unit_names(units: list[tuple[UnitKind, int]]) -> dict[tuple[UnitKind, int], str]:
    """Display names of ticket units, one query per kind."""
    names: dict[tuple[UnitKind, int], str] = {}
    by_kind: dict[UnitKind, set[int]] = {}
    for kind, unit_id in units:
        by_kind.setdefault(kind, set()).add(unit_id)
    for kind, ids in by_kind.items():
        for row in await _UNIT_MODELS[kind].filter(id__in=sorted(ids)).values("id", "name"):
            names[(kind, row["id"])] = row["name"]
    return names


# --- The efficiency office's list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OfficeRecord:
    """A unit on the efficiency office's list, with its record for the period."""

    case: EfficiencyCase
    unit_name: str
    escalations_in_period: int
    open_tickets: int
    overdue_tickets: int


async def reads_office_list(access: Access) -> bool:
    """Tenant administrators, and holders of a unit scope on an efficiency office."""
    if Role.TENANT_ADMIN in access.roles:
        return True
    if not access.units:
        return False
    return await Unit.filter(id__in=sorted(access.units), kind=PartyUnitKind.EFFICIENCY_OFFICE).exists()


def check_period(period: str) -> str:
    try:
        datetime.strptime(period, "%Y-%m")
    except ValueError:
        raise InvalidInput.of(
            [Problem("period", "format", "期间须为 YYYY-MM 格式", "period must be YYYY-MM")]
        ) from None
    return period


async def office_list(*, access: Access, period: str | None, now: datetime) -> list[OfficeRecord]:
    """Units handed to the efficiency office (in ``period``, or in all periods), newest first, with their record
    (tenant administrators and the office's own staff: ``reads_office_list``)."""
    if not await reads_office_list(access):
        raise Forbidden("只有管理员和作风效能办可以查看", "only administrators and the efficiency office read this")
    qs = EfficiencyCase.all()
    if period is not None:
        qs = qs.filter(period=check_period(period))
    cases = await qs.order_by("-period", "-handed_at", "-id").limit(500)
    names = await unit_names([(c.unit_kind, c.unit_id) for c in cases])
    records = []
    for c in cases:
        assigned = Ticket.filter(assignee_kind=c.unit_kind, assignee_id=c.unit_id, state__in=list(OPEN_STATES))
        records.append(
            OfficeRecord(
                case=c,
                unit_name=names.get((c.unit_kind, c.unit_id), ""),
                escalations_in_period=await Escalation.filter(
                    unit_kind=c.unit_kind, unit_id=c.unit_id, period=c.period
                ).count(),
                open_tickets=await assigned.count(),
                overdue_tickets=await assigned.filter(due_at__lt=now).count(),
            )
        )
    return records
