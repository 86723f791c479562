"""The reminder tick with a frozen, shifted clock: due-soon reminders and automatic escalation once per step
(however often and however many ticks run), the ladder's next clock, the efficiency office's list, and the inbox.

GraphQL here runs through the inbox schema of tests/fixtures/tickets.py (the notification classes with the
production extensions).
"""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from tenants.inbox.models import Notification
from tenants.jobruns import service as jobruns
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.models import Tenant
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant
from tenants.territory import parties_service as parties
from tenants.territory.parties import UnitKind as PartyUnitKind
from tenants.territory.people import PostKind
from tenants.tickets import partners, workflow
from tenants.tickets.models import Escalation, PartnerTask, ReminderSent, Ticket, TicketEvent, TicketState
from tenants.tickets.scheduled import tick
from tests.fixtures.callers import ADMIN
from tests.fixtures.territory import build, staff
from tests.fixtures.tickets import HOUR, MIN, T0, inbox, inbox_gql, principal, report, ticks


def total(results: list[dict], key: str) -> int:
    return sum(r[key] for r in results)


async def test_a_ticket_not_dispatched_in_3_hours_is_escalated_exactly_once(staffed_zjk):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    with tenant_context(t.id):
        ticket = await report(ids, "parking_disorder", T0)
        assert ticket.due_at == T0 + 3 * HOUR
        assert total(await ticks(T0 + 3 * HOUR - MIN), "escalated") == 0  # not yet overdue
        # Overdue: two workers tick at the same moment, then the job runs again and again.
        first = await ticks(T0 + 3 * HOUR + MIN, n=2)
        assert total(first, "escalated") == 1 and total(first, "handed_over") == 0  # 张家口 hands nobody over
        for k in range(3):
            assert total(await ticks(T0 + 3 * HOUR + (2 + k) * MIN, n=2), "escalated") == 0
    async with tenant_transaction(t.id):
        ticket = await Ticket.get(id=ticket.id)
        assert await Escalation.filter(ticket_id=ticket.id).count() == 1
        assert await TicketEvent.filter(ticket_id=ticket.id, action="escalate").count() == 1
        assert await ReminderSent.filter(ticket_id=ticket.id, kind="overdue").count() == 1
        esc = await Escalation.get(ticket_id=ticket.id)
    assert (esc.from_level, esc.to_level, esc.automatic, esc.period) == (0, 1, True, "2026-12")
    assert ticket.state == TicketState.REPORTED and ticket.escalation_level == 1 and ticket.step_seq == 2
    # The next rung's clock: the street has 48 hours from the escalation.
    escalated_at = T0 + 3 * HOUR + MIN
    assert ticket.due_at == escalated_at + 48 * HOUR
    # The reviewing community and, at street level, the street hear of it.
    assert ("ticket.escalated", ticket.id) in await inbox(t, "cw-1")
    assert ("ticket.escalated", ticket.id) in await inbox(t, "so-1")
    assert await inbox(t, "cw-2") == []


async def test_four_workers_at_once_escalate_each_of_many_tickets_once(staffed_zjk):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    with tenant_context(t.id):
        made = [await report(ids, "noise", T0 + k * MIN) for k in range(30)]
        results = await ticks(T0 + 4 * HOUR, n=4)
        assert total(results, "escalated") == 30 and total(results, "errors") == 0
        assert total(await ticks(T0 + 4 * HOUR + MIN, n=4), "escalated") == 0
    async with tenant_transaction(t.id):
        per_ticket = await Ticket.filter(id__in=[m.id for m in made]).values_list("escalations", flat=True)
        assert await Escalation.all().count() == 30
    assert list(per_ticket) == [1] * 30


async def test_the_tick_runs_as_a_job_run_body_once_per_minute(staffed_zjk):
    """As the worker runs it: inside jobruns.execute's one transaction (the tick's own blocks join it)."""
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    at = T0 + 3 * HOUR + MIN
    with tenant_context(t.id):
        ticket = await report(ids, "parking_disorder", T0)
        outcomes = await asyncio.gather(
            *(jobruns.execute(kind="ticket_reminders", period_key="2026-12-02T12:01", body=lambda: tick(now=at))
              for _ in range(2))
        )
    assert sorted(o.reason for o in outcomes) in (["already_done", "executed"], ["executed", "in_progress"])
    [run] = [o.run for o in outcomes if o.executed]
    assert run is not None and run.counts["escalated"] == 1
    async with tenant_transaction(t.id):
        assert (await Ticket.get(id=ticket.id)).escalations == 1


async def test_after_an_escalation_the_next_rungs_clock_applies(staffed_zjk):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    with tenant_context(t.id):
        ticket = await report(ids, "parking_disorder", T0)
        first = T0 + 3 * HOUR + MIN
        assert total(await ticks(first), "escalated") == 1
        assert total(await ticks(first + 47 * HOUR), "escalated") == 0  # the street's 48 hours are not up
        assert total(await ticks(first + 48 * HOUR + MIN, n=2), "escalated") == 1
        assert total(await ticks(first + 48 * HOUR + 2 * MIN), "escalated") == 0
    async with tenant_transaction(t.id):
        ticket = await Ticket.get(id=ticket.id)
        levels = await Escalation.filter(ticket_id=ticket.id).order_by("id").values_list("to_level", flat=True)
    assert levels == [1, 2] and ticket.escalations == 2 and ticket.step_seq == 3
    assert ticket.due_at == first + 48 * HOUR + MIN + 72 * HOUR  # the county department's 72 hours


async def test_the_due_soon_reminder_is_sent_once_per_step(staffed_zjk):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    with tenant_context(t.id):
        ticket = await report(ids, "parking_disorder", T0)
        assert total(await ticks(T0 + 2 * HOUR), "due_soon") == 0  # 60 minutes left; the lead is 30
        assert total(await ticks(T0 + 2 * HOUR + 31 * MIN, n=2), "due_soon") == 1
        assert total(await ticks(T0 + 2 * HOUR + 40 * MIN, n=2), "due_soon") == 0
        assert await inbox(t, "cw-1") == [("ticket.due_soon", ticket.id)]  # the reviewers, while it is reported
        # Dispatched: a new step, with the community's 48-hour clock and its own reminder.
        dispatched_at = T0 + 2 * HOUR + 50 * MIN
        await workflow.dispatch(access=ADMIN, actor="admin", ticket_id=ticket.id, now=dispatched_at)
        assert total(await ticks(T0 + 3 * HOUR + MIN), "escalated") == 0  # the review clock no longer runs
        assert total(await ticks(dispatched_at + 48 * HOUR - 10 * MIN, n=2), "due_soon") == 1
        assert total(await ticks(dispatched_at + 48 * HOUR - 5 * MIN), "due_soon") == 0
    kinds = [k for k, _ in await inbox(t, "cw-1")]
    assert kinds == ["ticket.due_soon", "ticket.assigned", "ticket.due_soon"]
    async with tenant_transaction(t.id):
        body = (await Notification.filter(recipient="cw-1").order_by("-id").first()).body  # type: ignore[union-attr]
    assert f"工单 {ticket.id}“乱停乱放”" in body and "12月04日 11:50" in body  # the deadline in Beijing time


@pytest.fixture
async def linshu(app) -> dict:
    """临沭: three escalations of a unit in a month hand it to the efficiency office."""
    t = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    other = await create_tenant(slug="zhangjiakou", name="张家口市", preset="zhangjiakou")
    ids = await build(t.id)
    with tenant_context(t.id):
        office = await parties.create_unit(
            access=ADMIN, actor="seed", kind=PartyUnitKind.EFFICIENCY_OFFICE, code="XWZFXNB", name="县委作风效能办"
        )
        await staff("office-1", PostKind.UNIT_STAFF, "unit", office.id)
    return {"tenant": t, "ids": ids, "office": office.id, "other": other}


OFFICE_LIST = """query($period: String) { efficiencyOfficeList(period: $period) { unitKind unitId unitName period
  escalationsAtHandOver escalationsInPeriod openTickets overdueTickets } }"""


async def test_the_third_escalation_of_a_unit_in_a_month_puts_it_on_the_office_list(linshu):
    t, ids = linshu["tenant"], linshu["ids"]
    admin = principal(t, "admin")
    office = principal(t, "office-1", Role.UNIT_STAFF, scope=(f"unit:{linshu['office']}/unit_staff",))
    with tenant_context(t.id):
        # Three tickets for company P1 (it serves K1), dispatched an hour apart, each with a 24-hour clock.
        for k in range(3):
            ticket = await report(ids, "cleaning_lapse", T0 + k * HOUR)
            ticket = await workflow.dispatch(access=ADMIN, actor="admin", ticket_id=ticket.id, now=T0 + k * HOUR)
            assert (ticket.assignee_kind, ticket.assignee_id) == ("property_company", ids["P1"])
            # The community helps (the matrix's partner) and accepts at once, so only P1 is behind.
            async with tenant_transaction(t.id):
                tasks = await PartnerTask.filter(ticket_id=ticket.id)
            for task in tasks:
                await partners.accept(access=ADMIN, actor="cw-1", task_id=task.id, now=T0 + k * HOUR)
        one = await ticks(T0 + 24 * HOUR + MIN)
        assert total(one, "escalated") == 1 and total(one, "handed_over") == 0
    two = await ticks_in(t, T0 + 25 * HOUR + MIN, n=2)
    assert total(two, "escalated") == 1 and total(two, "handed_over") == 0
    body = await inbox_gql(admin, OFFICE_LIST, {"period": "2026-12"})
    assert body == {"data": {"efficiencyOfficeList": []}, "errors": []}  # two escalations: not yet
    three = await ticks_in(t, T0 + 26 * HOUR + MIN, n=2)
    assert total(three, "escalated") == 1 and total(three, "handed_over") == 1
    assert total(await ticks_in(t, T0 + 26 * HOUR + 2 * MIN), "handed_over") == 0  # once per unit and month
    expected = {
        "unitKind": "PROPERTY_COMPANY", "unitId": str(ids["P1"]), "unitName": "P1", "period": "2026-12",
        "escalationsAtHandOver": 3, "escalationsInPeriod": 3, "openTickets": 3, "overdueTickets": 0,
    }
    for who in (admin, office):
        body = await inbox_gql(who, OFFICE_LIST, {"period": "2026-12"})
        assert body["data"]["efficiencyOfficeList"] == [expected], body
    assert (await inbox_gql(admin, OFFICE_LIST, {"period": "2026-11"}))["data"]["efficiencyOfficeList"] == []
    assert (await inbox_gql(admin, OFFICE_LIST))["data"]["efficiencyOfficeList"] == [expected]
    bad = await inbox_gql(admin, OFFICE_LIST, {"period": "December"})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    resident = principal(t, "res-1", Role.RESIDENT, scope=(f"household:{ids['H1']}",))
    assert (await inbox_gql(resident, OFFICE_LIST))["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = linshu["other"]
    assert (await inbox_gql(principal(other, "admin"), OFFICE_LIST))["data"]["efficiencyOfficeList"] == []
    assert ("efficiency.handed_over", None) in await inbox(t, "office-1")


async def ticks_in(tenant: Tenant, at: datetime, n: int = 1) -> list[dict]:
    with tenant_context(tenant.id):
        return await ticks(at, n)


INBOX = """query($unread: Boolean!, $first: Int, $after: String) {
  notifications(unreadOnly: $unread, first: $first, after: $after) {
    edges { node { id kind title body ticketId isRead } } pageInfo { hasNextPage endCursor } }
  unreadNotificationCount }"""
MARK = "mutation($ids: [ID!], $all: Boolean!) { markNotificationsRead(ids: $ids, all: $all) }"


async def test_the_inbox_lists_counts_and_marks_read_only_the_callers_messages(staffed_zjk):
    t, ids = staffed_zjk["tenant"], staffed_zjk["ids"]
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    with tenant_context(t.id):
        ticket = await report(ids, "parking_disorder", T0)
        await ticks(T0 + 2 * HOUR + 45 * MIN)  # due soon
        await ticks(T0 + 3 * HOUR + MIN)  # escalated
    cw1 = principal(t, "cw-1", Role.COMMUNITY_WORKER, scope=(f"community:{ids['C1']}",))
    body = await inbox_gql(cw1, INBOX, {"unread": False})
    assert not body["errors"], body
    nodes = [e["node"] for e in body["data"]["notifications"]["edges"]]
    assert [(n["kind"], n["ticketId"], n["isRead"]) for n in nodes] == [
        ("ticket.escalated", str(ticket.id), False),  # newest first
        ("ticket.due_soon", str(ticket.id), False),
    ]
    assert nodes[0]["title"] == "工单已提级督办" and "提级至街道督办" in nodes[0]["body"]
    assert body["data"]["unreadNotificationCount"] == 2
    page = await inbox_gql(cw1, INBOX, {"unread": False, "first": 1})
    after = page["data"]["notifications"]["pageInfo"]["endCursor"]
    rest = await inbox_gql(cw1, INBOX, {"unread": False, "first": 1, "after": after})
    assert [e["node"]["kind"] for e in rest["data"]["notifications"]["edges"]] == ["ticket.due_soon"]
    # Someone else's message cannot be marked through my account; my own can.
    cw2 = principal(t, "cw-2", Role.COMMUNITY_WORKER, scope=(f"community:{ids['C2']}",))
    assert (await inbox_gql(cw2, MARK, {"ids": [nodes[0]["id"]], "all": False}))["data"]["markNotificationsRead"] == 0
    assert (await inbox_gql(cw1, MARK, {"ids": [nodes[0]["id"]], "all": False}))["data"]["markNotificationsRead"] == 1
    body = await inbox_gql(cw1, INBOX, {"unread": True})
    assert [e["node"]["kind"] for e in body["data"]["notifications"]["edges"]] == ["ticket.due_soon"]
    assert body["data"]["unreadNotificationCount"] == 1
    assert (await inbox_gql(cw1, MARK, {"ids": None, "all": True}))["data"]["markNotificationsRead"] == 1
    assert (await inbox_gql(cw1, INBOX, {"unread": False}))["data"]["unreadNotificationCount"] == 0
    both = await inbox_gql(cw1, MARK, {"ids": [nodes[0]["id"]], "all": True})
    assert both["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    # Another person, and the same user id in another tenant, see nothing.
    for who in (cw2, principal(other, "cw-1", Role.COMMUNITY_WORKER)):
        body = await inbox_gql(who, INBOX, {"unread": False})
        assert body["data"] == {"notifications": {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}},
                                "unreadNotificationCount": 0}
