"""What a published red/black list sets in motion (issue 19): an owed interview 约谈 for each interviewed firm and a
commendation 表彰挂牌 for each commended one, in the publication's transaction.

Both are set-based statements over the snapshot's company ratings, so they follow the list rule exactly
(``ranking.red_black_places``: ties never split across lists, unscored firms never commended) and carry its reason
(``breakdown.lists.red_black.reason``). A revision published later reconciles the period with its lists: an owed
interview whose firm it no longer names is withdrawn (kept, neither reminded nor overdue; a held one stays), a
commendation whose firm it no longer names is revoked (kept, no longer read), the others take its rank, score and
snapshot; a firm named again gets its row back (one red_black interview per period and firm, one commendation per
period and firm: unique keys, 0037). The owed interview is due ``interview_within_days`` after the publication day
(tenant-local). A firm already interviewed by hand for the period (held) owes none: that interview satisfies the
list.
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
from tenants.paging import BIGINT, Order, Page, Window, page, where
from tenants.periods import bounds
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

# The snapshot's lists, read once (arrays of ids: the statements below need no join with the ratings).
LISTED_SQL = """
SELECT COALESCE(array_agg(company_id) FILTER (WHERE mark = 'interviewed'), '{}') AS interviewed,
       COALESCE(array_agg(company_id) FILTER (WHERE mark = 'commended'), '{}') AS commended
FROM company_rating WHERE tenant_id = $1::bigint AND snapshot_id = $2::bigint
"""

# Owed interviews of the period that the revised black list no longer names are withdrawn (kept for the record);
# held ones stay as they are.
WITHDRAW_SQL = """
UPDATE interview SET status = 'withdrawn', withdrawn_at = $4::timestamptz
WHERE tenant_id = $1::bigint AND period_key = $2 AND source = 'red_black' AND status = 'owed'
  AND subject_kind = 'firm' AND NOT subject_id = ANY($3::bigint[])
RETURNING id
"""

# Every firm the black list names owes an interview. One still owed takes the new snapshot and reason (its due day
# and reminders stay); one a former revision withdrew is owed again, due from this publication and reminded anew;
# a held one stays held (the unique key: one red_black row per period and firm).
OWE_SQL = """
INSERT INTO interview (tenant_id, company_id, subject_kind, subject_id, status, source, snapshot_id, period_key,
                       reason, due_on, attendees, outcome, follow_up, follow_up_evidence, recorded_by, recorded_at)
SELECT r.tenant_id, r.company_id, 'firm', r.company_id, 'owed', 'red_black', r.snapshot_id, $2,
       'black_list:' || COALESCE(r.breakdown->'lists'->'red_black'->>'reason', 'bottom'), $3::date, '[]'::jsonb,
       '', '', '', 'system', $4::timestamptz
FROM company_rating r
WHERE r.tenant_id = $1::bigint AND r.snapshot_id = $5::bigint AND r.company_id = ANY($6::bigint[])
ON CONFLICT (tenant_id, period_key, subject_kind, subject_id) WHERE source = 'red_black' DO UPDATE
SET snapshot_id = EXCLUDED.snapshot_id, reason = EXCLUDED.reason, status = 'owed',
    due_on = CASE WHEN interview.status = 'withdrawn' THEN EXCLUDED.due_on ELSE interview.due_on END,
    reminded_at = CASE WHEN interview.status = 'withdrawn' THEN NULL ELSE interview.reminded_at END,
    overdue_at = CASE WHEN interview.status = 'withdrawn' THEN NULL ELSE interview.overdue_at END,
    withdrawn_at = NULL
WHERE interview.status IN ('owed', 'withdrawn')
RETURNING id
"""

# The firms among those the black list names that were already interviewed by hand for the period (held): that
# interview satisfies the list, which owes them none.
HELD_SQL = """
SELECT COALESCE(array_agg(DISTINCT subject_id), '{}') AS held
FROM interview WHERE tenant_id = $1::bigint AND period_key = $2 AND subject_kind = 'firm' AND status = 'held'
  AND source = 'hand' AND subject_id = ANY($3::bigint[])
"""

# Commendations of the period whose firm the revised red list no longer names are revoked (kept, not read).
REVOKE_SQL = """
UPDATE commendation SET revoked_at = $4::timestamptz
WHERE tenant_id = $1::bigint AND period_key = $2 AND revoked_at IS NULL AND NOT company_id = ANY($3::bigint[])
RETURNING id
"""

# Every firm the red list names is commended with this snapshot's rank and score (a revoked one again).
COMMEND_SQL = """
INSERT INTO commendation (tenant_id, company_id, period_key, snapshot_id, rank, score, created_at)
SELECT r.tenant_id, r.company_id, $2, r.snapshot_id, r.rank, r.score, $3::timestamptz
FROM company_rating r
WHERE r.tenant_id = $1::bigint AND r.snapshot_id = $4::bigint AND r.company_id = ANY($5::bigint[])
ON CONFLICT (tenant_id, period_key, company_id) DO UPDATE
SET snapshot_id = EXCLUDED.snapshot_id, rank = EXCLUDED.rank, score = EXCLUDED.score, revoked_at = NULL
RETURNING id
"""


async def follow_publication(conn: BaseDBAsyncClient, snapshot: RatingSnapshot, at: datetime) -> dict[str, int]:
    """Reconcile the period's owed interviews and commendations with a just-published snapshot (the caller's
    transaction, under the period's lock): owe and commend whom its lists name, withdraw and revoke the rest."""
    doc, _ = await period_config(snapshot.period_key)
    rb = doc.assessment.red_black_list
    due = clock.local_day(at, await current_zone()) + timedelta(days=rb.interview_within_days)
    tenant, period = current_tenant_id(), snapshot.period_key
    listed = (await conn.execute_query_dict(LISTED_SQL, [tenant, snapshot.id]))[0]
    interviewed, commended = list(listed["interviewed"]), list(listed["commended"])
    withdrawn = await conn.execute_query_dict(WITHDRAW_SQL, [tenant, period, interviewed, at])
    held = set((await conn.execute_query_dict(HELD_SQL, [tenant, period, interviewed]))[0]["held"])
    owing = [c for c in interviewed if c not in held]
    owed = await conn.execute_query_dict(OWE_SQL, [tenant, period, due, at, snapshot.id, owing])
    revoked = await conn.execute_query_dict(REVOKE_SQL, [tenant, period, commended, at])
    kept = await conn.execute_query_dict(COMMEND_SQL, [tenant, period, at, snapshot.id, commended])
    return {"owed": len(owed), "withdrawn": len(withdrawn), "commended": len(kept), "revoked": len(revoked)}


# Newest period first, best rank first within it; id breaks nothing but makes the key unique.
ORDER = Order(("-period_key", "rank", "id"), (str, int, int))
EVERY = Window(limit=BIGINT)  # a caller without a page (a job, the CLI) reads them all


async def commendations(
    *, access: Access, period_key: str | None, company_id: int | None, window: Window = EVERY
) -> Page[Commendation]:
    """A keyset window of the current commendations the caller reads (all within the tenant: the red list is
    public), newest period first, best rank first."""
    require(access, "assessment.read_commendations")
    if period_key is not None:
        bounds(period_key, "period")
    qs = where(readable_commendations(access), period_key=period_key, company_id=company_id)
    return await page(qs, ORDER, window)


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
