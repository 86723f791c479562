"""The nightly points run (tenant-local ``schedule.nightly_points_hour``): expire the lots whose day has come,
then tell each person whose points expire within ``points.expiry_warning_days`` once (one inbox message per
person, however many lots; each lot marked ``warned_on``). Safe to run twice or concurrently: the expiry takes
each lot once (``ledger.expire_due``) and the warning claims its lots by an UPDATE before it sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tortoise import connections

from tenants import clock
from tenants.config.service import effective_config
from tenants.inbox.service import Message, send_all
from tenants.points import ledger
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy.service import current_zone

WARNING_KIND = "points_expiring"


async def warn(today: Any, days: int, *, at: datetime) -> int:
    """One message to each person with live lots expiring within ``days`` not warned yet; returns how many."""
    rows = await connections.get("default").execute_query_dict(
        """
        WITH claimed AS (
            UPDATE points_lot SET warned_on = $2
            WHERE tenant_id = $1 AND remaining > 0 AND warned_on IS NULL AND expires_on > $2 AND expires_on <= $3
            RETURNING person_id, remaining, expires_on
        )
        SELECT p.user_id, SUM(c.remaining)::bigint AS points, MIN(c.expires_on) AS first_day
        FROM claimed c JOIN person p ON p.tenant_id = $1 AND p.id = c.person_id
        GROUP BY p.user_id ORDER BY p.user_id
        """,
        [current_tenant_id(), today, today + timedelta(days=days)],
    )
    messages = [
        Message(
            to=[r["user_id"]],
            kind=WARNING_KIND,
            title="积分即将到期",
            text=f"您有 {r['points']} 积分将于 {r['first_day'].isoformat()} 起陆续到期，请及时兑换。"
            f" {r['points']} of your points expire from {r['first_day'].isoformat()}.",
        )
        for r in rows
    ]
    await send_all(messages, at=at)
    return len(messages)


async def nightly(*, now: datetime | None = None) -> dict[str, Any]:
    """From the configured hour on (tenant-local), expire what is due today and send the warnings."""
    at = now or clock.now()
    async with scoped_transaction():
        zone = await current_zone()
        local = at.astimezone(zone)
        document = (await effective_config(local.date())).document
        if not document.points.enabled:
            return {"enabled": False}
        if local.hour < document.schedule.nightly_points_hour:
            return {"due": False}
        expired = await ledger.expire_due(local.date(), now=at)
        warned = await warn(local.date(), document.points.expiry_warning_days, at=at)
        return {"day": local.date().isoformat(), "expired_lots": expired, "warned": warned}
