"""The scheduled side of the absence rules and the year-end reports (both hourly, per tenant, safe to run twice).

- ``absence_rules``: the rule for the people of every closed activity whose rules have not run (up to ``BATCH``,
  oldest first; one run of ``rules.apply_member_rules`` for all of them), in the run's transaction, which also sets
  each one's ``rules_run_at`` (a crash loses nothing: the activities stay
  pending); the rows are taken ``FOR UPDATE SKIP LOCKED``, so two runs at once share the work, and the cases are
  unique per trigger sign-up, so nothing opens twice. Then the reminders of talks coming due.
- ``year_end``: from ``year_end_report`` (month, day, hour; tenant time) on, each work unit with a contact gets one
  inbox message with its roll-up of the year before: a ``dual_year_end_run`` row per unit and year, inserted
  ``ON CONFLICT DO NOTHING`` in the transaction that sends, so a second run (or a run after a crash) sends only
  what was not sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise import connections

from tenants import clock
from tenants.config.service import effective_config
from tenants.dual import rules, talks, year_end
from tenants.inbox.holders import holders_by_target
from tenants.inbox.service import Message, send_all
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import SYSTEM
from tenants.territory.people import PostKind

BATCH = 500  # activities one run takes at most (the next hour takes the rest)
YEAR_END_KIND = "dual_year_end"


async def _enabled(at: datetime) -> Any:
    local = at.astimezone(await current_zone())
    dual = (await effective_config(local.date())).document.party.dual_registration
    return local, dual if dual.enabled else None


async def absence_rules(*, now: datetime | None = None) -> dict[str, Any]:
    """Run the absence rule for the closed activities not yet ruled on, then remind of talks coming due."""
    at = now or clock.now()
    async with scoped_transaction():
        local, dual = await _enabled(at)
        if dual is None:
            return {"enabled": False}
        pending = await rules.pending_activities(BATCH)
        ruled = await rules.rule_activities(pending, now=at) if pending else rules.Ruled()
        reminded = await talks.remind_due(today=local.date(), days=dual.talk_reminder_days, at=at)
        return {"activities": len(pending), "talks": ruled.talks, "notices": ruled.notices,
                "withdrawn": ruled.withdrawn, "reminded": reminded}


def _text(year: int, u: year_end.UnitYear) -> str:
    return (
        f"{u.name} {year} 年度双报到情况：报到党员 {u.members} 人，担任岗位 {u.posts} 个，"
        f"参加社区活动 {u.participations} 人次，未达到年度最低次数 {u.below_minimum} 人。"
        f" {year}: {u.members} members registered, {u.posts} posts held, {u.participations} participations,"
        f" {u.below_minimum} below the minimum."
    )


async def year_end_reports(*, now: datetime | None = None) -> dict[str, Any]:
    """On and after the configured day and hour, send each work unit's contacts the roll-up of the year before,
    once per unit and year."""
    at = now or clock.now()
    async with scoped_transaction():
        local, dual = await _enabled(at)
        if dual is None:
            return {"enabled": False}
        run = dual.year_end_report
        year = local.year - 1
        if local < datetime(local.year, run.month, run.day, run.hour, tzinfo=local.tzinfo):
            return {"year": year, "due": False}
        contacts = await holders_by_target(PostKind.WORK_UNIT_CONTACT, "work_unit", None, local.date())
        _, done = await connections.get("default").execute_query(
            "SELECT work_unit_id FROM dual_year_end_run WHERE tenant_id = $1 AND year = $2",
            [current_tenant_id(), year],
        )
        waiting = sorted(set(contacts) - {r["work_unit_id"] for r in done} - {0})
        if not waiting:
            return {"year": year, "sent": 0}
        units = {u.work_unit_id: u for u in (await year_end.unit_rows(access=SYSTEM, year=year)).rows}
        waiting = [u for u in waiting if u in units]
        # A unit none of whose members was registered in that year (created since, or 双报到 switched on since) has
        # no report for it: recorded with no recipients, so no later run sends it one either.
        took_part = {u for u in waiting if units[u].members > 0}
        claimed = await connections.get("default").execute_query_dict(
            "INSERT INTO dual_year_end_run (tenant_id, year, work_unit_id, recipients, sent_at)"
            " SELECT $1, $2, t.u, t.n, $5 FROM unnest($3::bigint[], $4::int[]) AS t (u, n)"
            " ON CONFLICT (tenant_id, year, work_unit_id) DO NOTHING RETURNING work_unit_id",
            [current_tenant_id(), year, waiting,
             [len(set(contacts[u])) if u in took_part else 0 for u in waiting], at],
        )
        sent = [r["work_unit_id"] for r in claimed if r["work_unit_id"] in took_part]
        await send_all(
            [
                Message(to=contacts[u], kind=YEAR_END_KIND, title=f"{year} 年度双报到报表", text=_text(year, units[u]))
                for u in sent
            ],
            at=at,
        )
        return {"year": year, "sent": len(sent), "without_members": len(claimed) - len(sent)}
