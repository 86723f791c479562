"""Meeting compliance: the flags of places (communities or compounds, as ``party.joint_meeting.level`` says) that
held no meeting in a period, raised on the next period's first day (tenant time zone) with their community's
workers told once; the objective rubric inputs the assessment reads (``rubric_inputs``); and the figure of issues
settled (decisions done + agenda tickets closed) per community and street.

The statements compute each aggregate once (MATERIALIZED CTEs, arrays of ids rather than semi-joins), so they
stay cheap on tables without statistics (a freshly loaded tenant)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from tenants import periods
from tenants.config.document import JointMeeting
from tenants.config.service import effective_config
from tenants.errors import InvalidInput, Problem
from tenants.inbox.holders import holders_by_target
from tenants.inbox.service import Message, send_all
from tenants.meetings.access import readable_flags
from tenants.meetings.models import ComplianceFlag
from tenants.paging import Order, Page, Window, page, where
from tenants.permissions import require
from tenants.scope import tenant_rows
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.models import Community
from tenants.territory.people import PostKind

FLAG_KIND = "meeting_missing"
SOURCES = ("meeting_compliance", "decisions_on_time")


FLAG_SQL = """
WITH held AS MATERIALIZED (
    SELECT coalesce(array_agg(DISTINCT target_id), '{{}}') AS ids FROM meeting
    WHERE tenant_id = $1 AND target_kind = $2 AND held_on BETWEEN $3 AND $4
)
INSERT INTO meeting_compliance_flag
    (tenant_id, target_kind, target_id, community_id, street_id, period_key, flagged_on, flagged_at)
SELECT t.tenant_id, $2, t.id, {community}, t.street_id, $5, $6, $7
FROM {table} t, held
WHERE t.tenant_id = $1 AND t.is_active AND t.created_at < $8 AND NOT (t.id = ANY(held.ids))
ON CONFLICT (tenant_id, target_kind, target_id, period_key) DO NOTHING
RETURNING id
"""


async def flag_missing(today: date, jm: JointMeeting, *, at: datetime) -> int:
    """Flag every place of the configured level without a meeting in the last complete period (once per place
    and period: a unique key). Places made after the period began are not judged on it."""
    key = periods.previous_key(today, jm.cadence)
    start, end = periods.bounds(key)
    began = periods.local_midnight(start, await current_zone())
    community = "t.id" if jm.level == "community" else "t.community_id"
    rows = await tenant_rows(FLAG_SQL.format(table=jm.level, community=community),
                       [jm.level, start, end, key, today, at, began])
    return len(rows)


async def notify_flagged(today: date, *, at: datetime) -> int:
    """Tell each flagged place's community workers once (claimed by a conditional UPDATE, then sent)."""
    rows = await tenant_rows(
        "UPDATE meeting_compliance_flag SET notified_at = $2"
        " WHERE tenant_id = $1 AND notified_at IS NULL AND resolved_at IS NULL"
        " RETURNING id, target_kind, target_id, community_id, period_key", [at])
    if not rows:
        return 0
    by_community: dict[int, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: r["id"]):
        by_community.setdefault(r["community_id"], []).append(r)
    workers = await holders_by_target(PostKind.COMMUNITY_WORKER, "community", by_community, today)
    names = dict(await Community.filter(id__in=sorted(by_community)).values_list("id", "name"))  # type: ignore[arg-type]
    messages = []
    for community, flags in by_community.items():
        what = "、".join(f"{'社区' if f['target_kind'] == 'community' else '小区'}#{f['target_id']}" for f in flags)
        period = flags[0]["period_key"]
        messages.append(Message(
            to=workers.get(community, []), kind=FLAG_KIND, title="联席会议未按期召开",
            text=f"{names.get(community, community)} {period} 未召开联席会议：{what}，请尽快组织。"
            f" No joint meeting was held in {period}: {len(flags)} place(s).",
        ))
    await send_all(messages, at=at)
    return len(rows)


FLAGS = Order(("-period_key", "id"), (str, int))


async def list_flags(*, access: Access, window: Window, period_key: str | None = None,
                     resolved: bool | None = None) -> Page[ComplianceFlag]:
    """Compliance flags the caller reads (their area), newest period first, then as flagged (a keyset window);
    ``resolved``: only those a meeting recorded later resolved (True) or only those still standing (False)."""
    require(access, "meetings.read")
    if period_key is not None and (problems := periods.period_problems(period_key, "periodKey")):
        raise InvalidInput.of(problems)
    qs = where(readable_flags(access), period_key=period_key)
    if resolved is not None:
        qs = qs.filter(resolved_at__isnull=not resolved)
    return await page(qs, FLAGS, window)


# $1 tenant, $2 level, $3 compound ids, $4 the first window's first day, $5 the period's last day, $6/$7 the
# windows' first and last days, $8 the period's first day, $9 each window's first local midnight (UTC instants).
# A compound's community and a decision's meeting are read by primary key, one row each, and the parts are joined
# through one-row maps (jsonb by place, compound, place:firm), never a join of two sets: on a tenant without
# statistics, and in the generic plan a prepared statement gets after five runs, the planner believes each set one
# row and loops over one per row of the other (bench/meetings.py: 0.4 s, then 1.4 s for 3,000 compounds).
RUBRIC_SQL = """
WITH places AS MATERIALIZED (
    SELECT c.id AS compound_id,
           CASE WHEN $2 = 'community' THEN c.community_id ELSE c.id END AS place_id,
           CASE WHEN $2 = 'community'
                THEN (SELECT p.created_at FROM community p WHERE p.id = c.community_id)
                ELSE c.created_at END AS since
    FROM compound c
    WHERE c.tenant_id = $1 AND c.id = ANY($3::bigint[])
),
windows AS MATERIALIZED (
    SELECT w.n, w.first_day, w.last_day, w.began
    FROM unnest($6::date[], $7::date[], $9::timestamptz[]) WITH ORDINALITY AS w(first_day, last_day, began, n)
),
held AS MATERIALIZED (
    SELECT DISTINCT m.target_id AS place_id, w.n
    FROM meeting m JOIN windows w ON m.held_on BETWEEN w.first_day AND w.last_day
    WHERE m.tenant_id = $1 AND m.target_kind = $2 AND m.held_on BETWEEN $4 AND $5
      AND m.target_id = ANY(ARRAY(SELECT DISTINCT place_id FROM places))
),
met AS MATERIALIZED (
    SELECT coalesce(jsonb_object_agg(place_id::text, ns), '{}') AS m
    FROM (SELECT place_id, jsonb_agg(n) AS ns FROM held GROUP BY place_id) x
),
firm AS MATERIALIZED (
    SELECT DISTINCT ON (compound_id) compound_id, company_id
    FROM property_contract
    WHERE tenant_id = $1 AND compound_id = ANY($3::bigint[]) AND starts_on <= $5 AND ends_on >= $8
    ORDER BY compound_id, (ends_on >= $5) DESC, starts_on DESC
),
decided AS MATERIALIZED (
    SELECT (SELECT CASE WHEN m.target_kind = $2 THEN m.target_id END FROM meeting m WHERE m.id = d.meeting_id)
               AS place_id,
           d.owner_id AS company_id, d.status = 'done' AND d.done_on <= d.due_on AS on_time
    FROM meeting_decision d
    WHERE d.tenant_id = $1 AND d.owner_kind = 'company' AND d.status <> 'cancelled'
      AND d.due_on BETWEEN $8 AND $5 AND d.owner_id = ANY(ARRAY(SELECT DISTINCT company_id FROM firm))
),
due AS MATERIALIZED (
    SELECT coalesce(jsonb_object_agg(place_id || ':' || company_id, jsonb_build_array(due, on_time)), '{}') AS m
    FROM (SELECT place_id, company_id, count(*) AS due, count(*) FILTER (WHERE on_time) AS on_time
          FROM decided WHERE place_id IS NOT NULL GROUP BY 1, 2) x
),
firms AS MATERIALIZED (
    SELECT coalesce(jsonb_object_agg(compound_id::text, company_id), '{}') AS m FROM firm
),
rows AS MATERIALIZED (
    SELECT p.compound_id,
           (SELECT count(*) FROM windows w WHERE p.since < w.began) AS judged,
           (SELECT count(*) FROM windows w WHERE p.since < w.began
              AND coalesce(met.m -> p.place_id::text, '[]') @> to_jsonb(w.n)) AS met,
           due.m -> (p.place_id || ':' || (firms.m ->> p.compound_id::text)) AS due
    FROM places p, met, firms, due
)
SELECT compound_id, judged, met, (due ->> 0)::bigint AS due, (due ->> 1)::bigint AS on_time FROM rows
"""


def meeting_windows(period_key: str, cadence: str) -> list[tuple[date, date]]:
    """The meeting periods (of ``cadence``) a rating period is judged on: each one that overlaps it, clipped to
    its end. A quarter rated under a monthly cadence is three months; a month rated under a quarterly cadence is
    its quarter as far as the month's end (a meeting later in the quarter counts for the months after)."""
    start, end = periods.bounds(period_key)
    out: list[tuple[date, date]] = []
    day = start
    while day <= end:
        first, last = periods.bounds(periods.key_for(day, cadence))
        out.append((first, min(last, end)))
        day = last + timedelta(days=1)
    return out


async def rubric_inputs(period_key: str, compound_ids: list[int]) -> dict[tuple[int, str], Fraction | None]:
    """Objective rubric inputs per compound for ``period_key`` (a month or quarter, tenant days), by source; the
    compound's place is its community or itself, as ``party.joint_meeting.level`` says. One statement.

    - ``meeting_compliance``: met windows / judged windows. The windows are ``meeting_windows(period_key,
      cadence)``; a window is judged only when the place existed before it began (created before the local
      midnight of its first day: the rule of the flags, ``FLAG_SQL``); a judged window without a meeting of the
      place is missed, whether or not the place has a series (0, as its flag says). None when no window is judged.
    - ``decisions_on_time``: the firm's follow-through. Only decisions owned by the company (``owner_kind``
      company) that held the compound's contract (in force at the period's end, else the last one that started
      within it: the rule of ``tenants/assessment/inputs.py``), of meetings of its place, due in the period and not
      cancelled: done by their due day / due. None due: 1 when the place met in a judged window (nothing was left
      undone), else None (a place that did not meet has no follow-through to show).

    With joint meetings off (or an unknown compound) both are None: no data."""
    start, end = periods.bounds(period_key)
    jm = (await effective_config(end)).document.party.joint_meeting
    out: dict[tuple[int, str], Fraction | None] = {(c, s): None for c in compound_ids for s in SOURCES}
    if not jm.enabled or not compound_ids:
        return out
    windows = meeting_windows(period_key, jm.cadence)
    zone = await current_zone()
    args = [jm.level, sorted(set(compound_ids)), windows[0][0], end, [w[0] for w in windows],
            [w[1] for w in windows], start, [periods.local_midnight(w[0], zone) for w in windows]]
    for r in await tenant_rows(RUBRIC_SQL, args):
        judged, met, due = r["judged"], r["met"], r["due"] or 0
        out[(r["compound_id"], "meeting_compliance")] = Fraction(met, judged) if judged else None
        out[(r["compound_id"], "decisions_on_time")] = (
            Fraction(r["on_time"], due) if due else Fraction(1) if met else None)
    return out


# $1 tenant, $2/$3 the period as UTC instants [from, to), $4/$5 its first and last day, $6 level (community or
# street), $7 the caller's communities (NULL: the whole tenant), $8 the tenant's time zone. The listed tickets are
# read by an array of their ids (bench/meetings.py: a join scanned the period's closed tickets once per listed
# ticket on a tenant without statistics, 1.5 s).
SETTLED_SQL = """
WITH listed AS MATERIALIZED (
    SELECT CASE WHEN $6 = 'street' THEN m.street_id ELSE m.community_id END AS node_id,
           (jsonb_array_elements_text(a.ticket_ids))::bigint AS ticket_id, m.held_on
    FROM meeting_agenda_item a JOIN meeting m ON m.tenant_id = a.tenant_id AND m.id = a.meeting_id
    WHERE a.tenant_id = $1 AND jsonb_array_length(a.ticket_ids) > 0
      AND ($7::bigint[] IS NULL OR m.community_id = ANY($7::bigint[]))
),
first_listed AS MATERIALIZED (
    SELECT node_id, ticket_id, min(held_on) AS first_on FROM listed GROUP BY 1, 2
),
tickets AS MATERIALIZED (
    SELECT id, closed_at FROM ticket
    WHERE tenant_id = $1 AND id = ANY(ARRAY(SELECT DISTINCT ticket_id FROM first_listed))
      AND closed_at >= $2 AND closed_at < $3
),
closed AS MATERIALIZED (
    SELECT f.node_id, count(*) AS n
    FROM first_listed f JOIN tickets t ON t.id = f.ticket_id
    WHERE t.closed_at >= (f.first_on::timestamp AT TIME ZONE $8)
    GROUP BY 1
),
done AS MATERIALIZED (
    SELECT CASE WHEN $6 = 'street' THEN street_id ELSE community_id END AS node_id, count(*) AS n
    FROM meeting_decision
    WHERE tenant_id = $1 AND status = 'done' AND done_on BETWEEN $4 AND $5
      AND ($7::bigint[] IS NULL OR community_id = ANY($7::bigint[]))
    GROUP BY 1
)
SELECT coalesce(d.node_id, c.node_id) AS node_id, coalesce(d.n, 0) AS decisions_done,
       coalesce(c.n, 0) AS tickets_closed
FROM done d FULL OUTER JOIN closed c ON c.node_id = d.node_id
ORDER BY 1
"""


@dataclass(frozen=True)
class Settled:
    """Issues settled by joint meetings in a period 联席会议解决问题数, for one community or street."""

    level: str  # community | street
    node_id: int
    decisions_done: int
    tickets_closed: int

    @property
    def total(self) -> int:
        return self.decisions_done + self.tickets_closed


async def issues_settled(*, access: Access, period_key: str, level: str = "community") -> list[Settled]:
    """Decisions done (on a day in the period) plus agenda tickets closed (in the period, and on or after the day
    of the first meeting of the community or street that listed them), per community or street of the caller's
    area, by id; a ticket counts once per community or street however many meetings listed it; places with none
    are left out. One statement (after reading the caller's communities)."""
    require(access, "meetings.figures.read")
    problems = periods.period_problems(period_key, "periodKey")
    if level not in ("community", "street"):
        problems.append(Problem("level", "level", "层级须为社区或街道", "level is community or street"))
    if problems:
        raise InvalidInput.of(problems)
    start, end = periods.bounds(period_key, "periodKey")
    zone = await current_zone()
    q = access.staff_communities_filter("id")
    allowed = None if q is None else sorted(await Community.filter(q).values_list("id", flat=True))
    rows = await tenant_rows(SETTLED_SQL, [periods.local_midnight(start, zone),
                                     periods.local_midnight(end + timedelta(days=1), zone), start, end, level,
                                     allowed, zone.key])
    return [Settled(level, r["node_id"], r["decisions_done"], r["tickets_closed"]) for r in rows]
