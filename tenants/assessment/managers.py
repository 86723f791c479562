"""Property managers' ratings 物业经理评级, derived from their compounds' scores like their firms'.

A compound's manager on a day is the manager named on the compound's contract that day (``ContractManager``). A
manager's score for a period is the mean of the scores of the compounds they managed in it, each weighted by the
days they managed it within the period (a manager replaced mid-month counts for the days they served) and, under
``company_combination = "fee_receivable"``, also by the contract's yearly fee (all fees 0: by days alone), as the
firm's score weighs its compounds. Exact hundredths, half up. Nothing is stored: ratings are read from the
published compound ratings and the history, so a late correction of the history shows at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from tortoise import connections

from tenants import periods
from tenants.assessment.ratings import snapshot_for
from tenants.config.service import effective_config
from tenants.paging import Page, Window, checked
from tenants.permissions import require
from tenants.scope import current_tenant_id
from tenants.territory.access import Access, readable_managers
from tenants.territory.parties import PropertyManager

# The rows a period's managers are rated from, each by primary or leading key with an array of ids (the plans
# hold on a freshly loaded tenant without statistics; a join of the three let the planner scan every contract
# manager once per compound: 1.1 s for 1,500 managers, now a few ms). Days and weights are summed in Python.
# A compound is scored in a snapshot when a body submitted a sheet for it (a part of its breakdown ``submitted``),
# as the ratings run decides a firm's ``unscored``.
SUBMITTED = "jsonb_path_exists(breakdown, '$.*[*] ? (@.submitted == true)')"
RATED = f"""
SELECT snapshot_id, compound_id, company_id, score, {SUBMITTED} AS scored FROM compound_rating
WHERE tenant_id = $1 AND snapshot_id = ANY($2::bigint[])
"""
CONTRACTS = """
SELECT id, compound_id, company_id, starts_on, ends_on, annual_fee_fen FROM property_contract
WHERE tenant_id = $1 AND compound_id = ANY($2::bigint[]) AND starts_on <= $4 AND ends_on >= $3
"""
NAMED = """
SELECT contract_id, manager_id, starts_on, ends_on FROM contract_manager
WHERE tenant_id = $1 AND contract_id = ANY($2::bigint[]) AND starts_on <= $4 AND (ends_on IS NULL OR ends_on >= $3)
"""
BLACK = """
SELECT snapshot_id, company_id FROM company_rating
WHERE tenant_id = $1 AND snapshot_id = ANY($2::bigint[]) AND mark = 'interviewed'
"""

HUNDREDTH = Decimal("0.01")


@dataclass(frozen=True)
class ManagerRating:
    manager_id: int
    company_id: int
    name: str
    score: Decimal
    compounds: int
    days: int
    rank: int
    scored: bool = True  # a body submitted a sheet for a compound they managed in the period


async def period_scores(snapshots: list[tuple[int, date, date]], *, fee_weighted: bool) -> list[dict]:
    """One row per (snapshot, manager) of the given (snapshot id, first day, last day) triples: ``score`` (the
    days-weighted, and fee-weighted, mean of the compounds' scores, hundredths half up), ``compounds``, ``days``
    (manager-compound days), ``black`` (a firm whose compound they managed was on the black list), ``scored`` (a
    compound they managed in it was scored by a body)."""
    if not snapshots:
        return []
    db, tenant = connections.get("default"), current_tenant_id()
    ids = [s[0] for s in snapshots]
    first, last = min(s[1] for s in snapshots), max(s[2] for s in snapshots)
    rated = await db.execute_query_dict(RATED, [tenant, ids])
    contracts = await db.execute_query_dict(
        CONTRACTS, [tenant, sorted({r["compound_id"] for r in rated}), first, last]
    )
    named = await db.execute_query_dict(NAMED, [tenant, [c["id"] for c in contracts], first, last])
    black = {(r["snapshot_id"], r["company_id"]) for r in await db.execute_query_dict(BLACK, [tenant, ids])}
    bounds = {s[0]: (s[1], s[2]) for s in snapshots}
    # By compound alone: a compound that changed firm within the period is rated under its period-end firm, yet
    # each manager named on any of its contracts in the period keeps the days they managed it.
    by_compound: dict[int, list[dict]] = defaultdict(list)
    for c in contracts:
        by_compound[c["compound_id"]].append(c)
    by_contract: dict[int, list[dict]] = defaultdict(list)
    for n in named:
        by_contract[n["contract_id"]].append(n)
    # (snapshot, manager) -> (compound score, days managed in the period, yearly fee, compound, firm black-listed,
    # compound scored)
    parts: dict[tuple[int, int], list[tuple[Decimal, int, int, int, bool, bool]]] = defaultdict(list)
    for r in rated:
        start, end = bounds[r["snapshot_id"]]
        for c in by_compound.get(r["compound_id"], ()):
            for n in by_contract.get(c["id"], ()):
                since = max(n["starts_on"], c["starts_on"], start)
                until = min(n["ends_on"] or c["ends_on"], c["ends_on"], end)
                if since <= until:
                    days = (until - since).days + 1
                    listed = (r["snapshot_id"], c["company_id"]) in black  # that contract's firm
                    parts[(r["snapshot_id"], n["manager_id"])].append(
                        (Decimal(r["score"]), days, c["annual_fee_fen"], r["compound_id"], listed, r["scored"])
                    )
    rows = []
    for (snapshot_id, manager_id), ps in parts.items():
        by_fee = fee_weighted and any(p[2] for p in ps)
        weights = [p[1] * (p[2] if by_fee else 1) for p in ps]
        score = sum((s * w for (s, *_), w in zip(ps, weights, strict=True)), Decimal(0)) / sum(weights)
        rows.append({
            "snapshot_id": snapshot_id, "manager_id": manager_id,
            "score": score.quantize(HUNDREDTH, rounding=ROUND_HALF_UP),
            "compounds": len({p[3] for p in ps}), "days": sum(p[1] for p in ps), "black": any(p[4] for p in ps),
            "scored": any(p[5] for p in ps),
        })
    return rows


async def _fee_weighted(day: date) -> bool:
    return (await effective_config(day)).document.assessment.company_combination == "fee_receivable"


async def manager_ratings(
    *, access: Access, period_key: str, window: Window | None = None
) -> Page[ManagerRating]:
    """A window (by rank) of ``rated_managers``."""
    return by_rank(await rated_managers(access=access, period_key=period_key), window)


async def rated_managers(*, access: Access, period_key: str) -> list[ManagerRating]:
    """The managers' ratings of a period's shown snapshot, best first (ties: by id), for the managers the caller
    reads (``parties.read_managers``, ``readable_managers``), each with their rank among all. The whole tenant's
    managers are rated to rank them: GraphQL memoises this per request and period (``api/territory/loaders.py``)."""
    require(access, "parties.read_managers")
    snap = await snapshot_for(access, period_key)
    start, end = periods.bounds(period_key)
    rows = await period_scores([(snap.id, start, end)], fee_weighted=await _fee_weighted(end))
    rows.sort(key=lambda r: (-r["score"], r["manager_id"]))
    readable = {m.id: m for m in await readable_managers(access).filter(id__in=[r["manager_id"] for r in rows])}
    return [
        ManagerRating(r["manager_id"], readable[r["manager_id"]].company_id, readable[r["manager_id"]].name,
                      r["score"], r["compounds"], r["days"], i, r["scored"])
        for i, r in enumerate(rows, start=1)
        if r["manager_id"] in readable
    ]


def by_rank(rows: list[ManagerRating], window: Window | None) -> Page[ManagerRating]:
    """A keyset window (by rank) of ratings computed in full (ranks need every row; the list is the tenant's
    managers, thousands at most)."""

    async def count() -> int:
        return len(rows)

    if window is None:
        return Page(rows, [(r.rank,) for r in rows], count)
    after, before = checked(window.after, (int,), "after"), checked(window.before, (int,), "before")
    got = [r for r in rows if (after is None or r.rank > after[0]) and (before is None or r.rank < before[0])]
    got = got[-window.limit:] if window.backward else got[:window.limit]
    return Page(got, [(r.rank,) for r in got], count)


async def yearly_rows(year: int) -> list[dict]:
    """Each manager's year over the latest published revision of each period: ``id`` (the manager), their firm,
    ``total`` and ``periods`` of the periods in which they were scored (the average is total / periods, exact),
    ``black``: in how many periods a firm whose compound they managed was on the black list."""
    snaps = await _latest_published(year)
    rows = await period_scores(snaps, fee_weighted=await _fee_weighted(date(year, 12, 31)))
    by_manager: dict[int, list[dict]] = {}
    for r in rows:
        by_manager.setdefault(r["manager_id"], []).append(r)
    firms = dict(await PropertyManager.filter(id__in=list(by_manager)).values_list("id", "company_id"))
    out = [
        {
            "id": m,
            "company_id": firms.get(m, 0),
            "total": sum((r["score"] for r in rs if r["scored"]), Decimal(0)),
            "periods": sum(1 for r in rs if r["scored"]),
            "black": sum(1 for r in rs if r["black"]),
        }
        for m, rs in by_manager.items()
    ]
    return out


async def _latest_published(year: int) -> list[tuple[int, date, date]]:
    rows = await connections.get("default").execute_query_dict(
        "SELECT DISTINCT ON (period_key) id, period_key FROM rating_snapshot"
        " WHERE tenant_id = $1 AND status = 'published' AND period_key LIKE $2 ORDER BY period_key, revision DESC",
        [current_tenant_id(), f"{year}%"],
    )
    return [(r["id"], *periods.bounds(r["period_key"])) for r in rows]
