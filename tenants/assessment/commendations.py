"""What a published red/black list sets in motion (issue 19): an owed interview 约谈 for each interviewed firm and a
commendation 表彰挂牌 for each commended one, in the publication's transaction.

Both are set-based ``INSERT ... SELECT`` from the snapshot's company ratings, so they follow the list rule exactly
(``ranking.red_black_places``: ties never split across lists, unscored firms never commended) and carry its reason
(``breakdown.lists.red_black.reason``). Idempotent: one owed interview per period and firm from the lists, one
commendation per period and firm (partial unique keys, 0037); a revised list published again adds only the firms
it newly lists. The owed interview is due ``interview_within_days`` after the publication day (tenant-local).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from tenants import clock
from tenants.assessment.access import readable_commendations
from tenants.assessment.models import Commendation, RatingSnapshot
from tenants.assessment.rounds import period_config
from tenants.audit import service as audit
from tenants.errors import InvalidInput, NotFound, Problem
from tenants.periods import bounds
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

OWE_SQL = """
INSERT INTO interview (tenant_id, company_id, subject_kind, subject_id, status, source, snapshot_id, period_key,
                       reason, due_on, attendees, outcome, follow_up, recorded_by, recorded_at)
SELECT r.tenant_id, r.company_id, 'firm', r.company_id, 'owed', 'red_black', r.snapshot_id, $2,
       'black_list:' || COALESCE(r.breakdown->'lists'->'red_black'->>'reason', 'bottom'), $3::date, '[]'::jsonb,
       '', '', 'system', $4::timestamptz
FROM company_rating r
WHERE r.tenant_id = $1::bigint AND r.snapshot_id = $5::bigint AND r.mark = 'interviewed'
ON CONFLICT (tenant_id, period_key, subject_kind, subject_id) WHERE source = 'red_black' DO NOTHING
RETURNING id
"""

COMMEND_SQL = """
INSERT INTO commendation (tenant_id, company_id, period_key, snapshot_id, rank, score, created_at)
SELECT r.tenant_id, r.company_id, $2, r.snapshot_id, r.rank, r.score, $3::timestamptz
FROM company_rating r
WHERE r.tenant_id = $1::bigint AND r.snapshot_id = $4::bigint AND r.mark = 'commended'
ON CONFLICT (tenant_id, period_key, company_id) DO NOTHING
RETURNING id
"""


async def follow_publication(conn: BaseDBAsyncClient, snapshot: RatingSnapshot, at: datetime) -> dict[str, int]:
    """Owe the interviews and record the commendations of a just-published snapshot (the caller's transaction)."""
    doc, _ = await period_config(snapshot.period_key)
    rb = doc.assessment.red_black_list
    due = clock.local_day(at, await current_zone()) + timedelta(days=rb.interview_within_days)
    tenant = current_tenant_id()
    owed = await conn.execute_query_dict(OWE_SQL, [tenant, snapshot.period_key, due, at, snapshot.id])
    commended = await conn.execute_query_dict(COMMEND_SQL, [tenant, snapshot.period_key, at, snapshot.id])
    return {"owed": len(owed), "commended": len(commended)}


async def commendations(*, access: Access, period_key: str | None, company_id: int | None) -> list[Commendation]:
    """The commendations the caller reads (all within the tenant: the red list is public), best rank first."""
    require(access, "assessment.read_commendations")
    qs = readable_commendations(access)
    if period_key is not None:
        bounds(period_key, "period")
        qs = qs.filter(period_key=period_key)
    if company_id is not None:
        qs = qs.filter(company_id=company_id)
    return await qs.order_by("-period_key", "rank", "id")


async def set_plaque_day(*, access: Access, actor: str, commendation_id: int, plaque_on: date) -> Commendation:
    """Record the day the plaque 挂牌 was (or will be) hung."""
    require(access, "assessment.commend")
    async with savepoint():
        row = await readable_commendations(access).filter(id=commendation_id).select_for_update().first()
        if row is None:
            raise NotFound(f"表彰 {commendation_id} 不存在", f"commendation {commendation_id} does not exist",
                           field="commendationId")
        if plaque_on.year < 2000 or plaque_on.year > 2100:
            raise InvalidInput.of([Problem("plaqueOn", "range", "挂牌日期超出范围", "plaqueOn out of range")])
        row.plaque_on = plaque_on
        await row.save(update_fields=["plaque_on"])
        await audit.record(
            actor=actor,
            action="commendation.plaque",
            target_type="commendation",
            target_id=row.id,
            details={"plaqueOn": plaque_on.isoformat()},
        )
        return row
