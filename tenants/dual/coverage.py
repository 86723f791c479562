"""The building-head coverage report 楼长覆盖: per community and per street, the buildings with an online 线上 and an
offline 线下 member head, with any and without any, the members and units registered (approved) and the posts held.

One statement, set-based (GROUP BY over the scope's communities; every table read through an index leading with
tenant_id), the streets summed from its rows; ``buildings_without_head`` a keyset list. Scope: the administration
the whole tenant, staff their area (``dual.coverage.read``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from dataclasses import field as dataclass_field

from tortoise import connections
from tortoise.expressions import Subquery

from tenants import clock
from tenants.dual.access import in_area
from tenants.dual.config import dual_config
from tenants.dual.models import MemberPost
from tenants.dual.posts import HEADS
from tenants.dual.units import community_of
from tenants.errors import Forbidden, NotFound
from tenants.paging import Page, Window, by_id
from tenants.permissions import require
from tenants.scope import current_tenant_id
from tenants.territory.access import Access
from tenants.territory.models import Building

# Every part is MATERIALIZED: computed once, whatever the planner believes of the tables' sizes (freshly loaded
# tables without statistics made it re-run the per-building aggregate for every building: 23 s for 双滦's 1,512
# buildings). A head counts for their post's community (a post's building is in it: tenants/dual/posts.py),
# on active buildings only.
SQL = """
WITH c AS MATERIALIZED (
    SELECT id, street_id, name FROM community
    WHERE tenant_id = $1 AND is_active
      AND ($2 OR id = ANY($3::bigint[]) OR street_id = ANY($4::bigint[]))
      AND ($5::bigint IS NULL OR street_id = $5) AND ($6::bigint IS NULL OR id = $6)
), ids AS MATERIALIZED (
    SELECT array_agg(id) AS a FROM c
), bc AS MATERIALIZED (
    SELECT community_id, count(*) AS buildings FROM building
    WHERE tenant_id = $1 AND community_id = ANY((SELECT a FROM ids)::bigint[]) AND is_active GROUP BY community_id
), inactive AS MATERIALIZED (
    SELECT coalesce(array_agg(id), '{}') AS a FROM building
    WHERE tenant_id = $1 AND community_id = ANY((SELECT a FROM ids)::bigint[]) AND NOT is_active
), heads AS MATERIALIZED (
    SELECT community_id, building_id, bool_or(kind = 'online_building_head') AS online,
           bool_or(kind = 'offline_building_head') AS offline
    FROM dual_member_post
    WHERE tenant_id = $1 AND community_id = ANY((SELECT a FROM ids)::bigint[]) AND ends_on IS NULL
      AND kind IN ('online_building_head', 'offline_building_head')
      AND NOT building_id = ANY((SELECT a FROM inactive)::bigint[])
    GROUP BY community_id, building_id
), hc AS MATERIALIZED (
    SELECT community_id, count(*) FILTER (WHERE online) AS online, count(*) FILTER (WHERE offline) AS offline,
           count(*) AS any_head
    FROM heads GROUP BY community_id
), m AS MATERIALIZED (
    SELECT community_id, count(*) AS n FROM dual_member_registration
    WHERE tenant_id = $1 AND community_id = ANY((SELECT a FROM ids)::bigint[]) AND status = 'approved'
    GROUP BY community_id
), u AS MATERIALIZED (
    SELECT community_id, count(*) AS n FROM dual_unit_registration
    WHERE tenant_id = $1 AND community_id = ANY((SELECT a FROM ids)::bigint[]) AND status = 'approved'
      AND (agreement_until IS NULL OR agreement_until >= $7)
    GROUP BY community_id
), p AS MATERIALIZED (
    SELECT community_id, count(*) AS n FROM dual_member_post
    WHERE tenant_id = $1 AND community_id = ANY((SELECT a FROM ids)::bigint[]) AND ends_on IS NULL GROUP BY community_id
)
SELECT c.id AS community_id, c.street_id, c.name AS community_name, s.name AS street_name,
       coalesce(bc.buildings, 0) AS buildings,
       coalesce(hc.online, 0) AS with_online_head, coalesce(hc.offline, 0) AS with_offline_head,
       coalesce(hc.any_head, 0) AS with_any_head, coalesce(m.n, 0) AS members, coalesce(u.n, 0) AS units,
       coalesce(p.n, 0) AS posts_held
FROM c LEFT JOIN bc ON bc.community_id = c.id LEFT JOIN hc ON hc.community_id = c.id
       LEFT JOIN m ON m.community_id = c.id LEFT JOIN u ON u.community_id = c.id LEFT JOIN p ON p.community_id = c.id
       LEFT JOIN street s ON s.tenant_id = $1 AND s.id = c.street_id
ORDER BY c.street_id, c.id
"""


@dataclass
class Coverage:
    """One community's (or a street's, or the total's) figures."""

    buildings: int = 0
    with_online_head: int = 0
    with_offline_head: int = 0
    with_any_head: int = 0
    members: int = 0  # approved member registrations
    units: int = 0  # approved unit registrations whose agreement has not ended
    posts_held: int = 0  # member posts held now (building heads and volunteers)

    @property
    def without_head(self) -> int:
        return self.buildings - self.with_any_head

    def add(self, other: Coverage) -> None:
        for f in fields(Coverage):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class Report:
    communities: list[tuple[int, int, Coverage]]  # (community id, street id, figures), by street then community
    streets: list[tuple[int, Coverage]]  # (street id, figures summed over its communities in scope)
    total: Coverage
    names: dict[tuple[str, int], str] = dataclass_field(default_factory=dict)  # ("community" | "street", id) -> name


async def coverage(*, access: Access, street_id: int | None = None, community_id: int | None = None) -> Report:
    """The report over the caller's area, narrowed to a street or a community (NOT_FOUND outside the area)."""
    require(access, "dual.coverage.read")
    await dual_config()
    whole = access.reads_whole_tenant
    params = [
        current_tenant_id(), whole, sorted(access.staff_nodes.get("community", ())),
        sorted(access.staff_nodes.get("street", ())), street_id, community_id, await clock.today(),
    ]
    _, records = await connections.get("default").execute_query(SQL, params)
    if not records and (street_id is not None or community_id is not None):
        field = "communityId" if community_id is not None else "streetId"
        raise NotFound("不在您的辖区内或不存在", "not found in your area", field=field)
    communities: list[tuple[int, int, Coverage]] = []
    streets: dict[int, Coverage] = {}
    total = Coverage()
    names: dict[tuple[str, int], str] = {}
    for r in records:
        names[("community", r["community_id"])] = r["community_name"]
        names[("street", r["street_id"])] = r["street_name"] or ""
        figures = Coverage(*(int(r[f.name]) for f in fields(Coverage)))
        communities.append((r["community_id"], r["street_id"], figures))
        streets.setdefault(r["street_id"], Coverage()).add(figures)
        total.add(figures)
    return Report(communities, list(streets.items()), total, names)


async def buildings_without_head(*, access: Access, community_id: int, window: Window) -> Page[Building]:
    """The community's (active) buildings with no member building head, online or offline, by id."""
    require(access, "dual.coverage.read")
    await dual_config()
    community = await community_of(community_id)
    if not access.reads_whole_tenant and not in_area(access, community.id, community.street_id):  # type: ignore[attr-defined]
        raise Forbidden("该社区不在您的辖区内", "this community is outside your area", field="communityId")
    held = MemberPost.filter(community_id=community_id, ends_on=None, kind__in=list(HEADS)).values("building_id")
    qs = Building.filter(community_id=community_id, is_active=True).exclude(id__in=Subquery(held))
    return await by_id(qs, window)
