"""Data scopes: what a caller may read and write, from their roles and territory scope.

A street officer works inside their street, a community worker inside their community, a grid worker inside
their grid, a property company on the compounds it has contracts for, an owners' committee or supervisor on
their compound, a resident in their own household; tenant administrators (and, for reading, the housing
department) see the whole tenant. Scope entries are ``KIND:ID`` with the history-safe ids of the territory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.expressions import Q

from tenants import clock
from tenants.errors import Forbidden, NotFound
from tenants.permissions import ADMINISTRATION
from tenants.tenancy.roles import Role, parse_scope_entry
from tenants.territory.models import LEVEL_NAMES, MODEL_BY_LEVEL, Area, ancestor_levels

# The posts whose node is theirs to change (below it) and whose residents they may list.
WRITER_OF_LEVEL = {"street": Role.STREET_OFFICER, "community": Role.COMMUNITY_WORKER, "grid": Role.GRID_WORKER}
TERRITORY_WRITERS = frozenset(WRITER_OF_LEVEL.values())


@dataclass
class Access:
    roles: frozenset[Role]
    # Territory nodes the caller is scoped to, by level (their whole subtree is in scope).
    nodes: dict[str, frozenset[int]] = field(default_factory=dict)
    # The subset granted by a writer post (street officer's street, community worker's community, grid worker's grid).
    staff_nodes: dict[str, frozenset[int]] = field(default_factory=dict)
    # Nodes by the role that grants them (an entry without /ROLE counts for every role the token holds).
    by_role: dict[Role, dict[str, frozenset[int]]] = field(default_factory=dict)
    user_id: str | None = None
    companies: frozenset[int] = frozenset()
    units: frozenset[int] = frozenset()
    # Compounds reached through a company's contracts (filled by ``resolve``).
    company_compounds: frozenset[int] = frozenset()
    # Ancestors of the scoped nodes: readable (their names), not writable.
    ancestors: dict[str, frozenset[int]] = field(default_factory=dict)

    @property
    def whole_tenant(self) -> bool:
        return Role.TENANT_ADMIN in self.roles

    @property
    def reads_whole_tenant(self) -> bool:
        return bool(self.roles & ADMINISTRATION)

    def area_filter(self, level: str, *, for_write: bool = False, include_own: bool = False) -> Q | None:
        """A filter on ``level`` rows for what is in scope; None means the whole tenant.

        For writing, only what lies below a writer post's node; ``include_own`` adds that node itself (as the
        parent of something new, or the destination of a move), never for renaming it.
        """
        if self.whole_tenant or (not for_write and self.reads_whole_tenant):
            return None
        nodes = self.nodes if not for_write else self.staff_nodes
        q = Q(id__in=[0])  # matches nothing; OR-ed with every grant below
        for anc in ancestor_levels(level):
            if nodes.get(anc):
                q |= Q(**{f"{anc}_id__in": sorted(nodes[anc])})  # type: ignore[arg-type]
        if nodes.get(level) and (not for_write or include_own):
            q |= Q(id__in=sorted(nodes[level]))
        if not for_write:
            if self.company_compounds and LEVEL_NAMES.index(level) >= LEVEL_NAMES.index("compound"):
                key = "id__in" if level == "compound" else "compound_id__in"
                q |= Q(**{key: sorted(self.company_compounds)})  # type: ignore[arg-type]
            if self.ancestors.get(level):
                q |= Q(id__in=sorted(self.ancestors[level]))
        return q

    def staff_filter(self, level: str) -> Q | None:
        """What territory staff look after (their writer posts' subtrees), for personal data such as residents."""
        if self.whole_tenant:
            return None
        q = Q(id__in=[0])
        for anc in (*ancestor_levels(level), level):
            if self.staff_nodes.get(anc):
                key = "id__in" if anc == level else f"{anc}_id__in"
                q |= Q(**{key: sorted(self.staff_nodes[anc])})  # type: ignore[arg-type]
        return q

    def compound_filter(self, *, for_write: bool = False) -> Q | None:
        """For rows attached to a compound (contracts, committees): the compounds in scope."""
        return self.area_filter("compound", for_write=for_write)


SYSTEM = Access(roles=frozenset({Role.TENANT_ADMIN}))
"""The caller of jobs and the CLI: the tenant's administration (services check it like any other caller)."""


def _grants(
    roles: frozenset[Role], scope: tuple[str, ...] | list[str], by_role: dict[Role, dict[str, set[int]]] | None = None
) -> tuple[dict[str, set[int]], dict[str, set[int]]]:
    """(every node by kind, the nodes granted by writer posts). An entry without ``/ROLE`` (a hand-minted
    development token) counts as granted by the writer role of its level when the token holds that role."""
    read: dict[str, set[int]] = {}
    staff: dict[str, set[int]] = {}
    for raw in scope:
        try:
            entry = parse_scope_entry(raw)
        except ValueError:
            continue
        if entry.via is not None and entry.via not in roles:
            continue  # a grant through a role the token does not carry grants nothing
        read.setdefault(entry.kind, set()).add(entry.id)
        if by_role is not None:
            for role in [entry.via] if entry.via else sorted(roles):
                by_role.setdefault(role, {}).setdefault(entry.kind, set()).add(entry.id)
        writer = WRITER_OF_LEVEL.get(entry.kind)
        if writer is not None and writer in roles and entry.via in (None, writer):
            staff.setdefault(entry.kind, set()).add(entry.id)
    return read, staff


async def resolve(roles: frozenset[Role], scope: tuple[str, ...] | list[str], user_id: str | None = None) -> Access:
    """Build the caller's access for the tenant in scope (a few indexed queries, once per request)."""
    from tenants.territory.parties import PropertyContract

    by_role: dict[Role, dict[str, set[int]]] = {}
    ids, staff = _grants(roles, scope, by_role)
    nodes = {lvl: frozenset(ids.get(lvl, ())) for lvl in LEVEL_NAMES if ids.get(lvl)}
    access = Access(
        roles=roles,
        nodes=nodes,
        staff_nodes={lvl: frozenset(v) for lvl, v in staff.items()},
        by_role={r: {k: frozenset(v) for k, v in kinds.items()} for r, kinds in by_role.items()},
        user_id=user_id,
        companies=frozenset(ids.get("company", ())) if Role.PROPERTY_COMPANY in roles else frozenset(),
        units=frozenset(ids.get("unit", ())) if roles & {Role.UNIT_STAFF, Role.HOUSING_DEPT} else frozenset(),
    )
    if access.companies and Role.PROPERTY_COMPANY in roles:
        today = await clock.today()
        served = await PropertyContract.filter(
            company_id__in=sorted(access.companies), starts_on__lte=today, ends_on__gte=today
        ).values_list("compound_id", flat=True)
        access.company_compounds = frozenset(served)  # type: ignore[arg-type]
    # The ancestors of every scoped node are readable, so a community worker sees their street's name.
    ancestors: dict[str, set[int]] = {}
    reach = dict(nodes)
    if access.company_compounds:
        reach["compound"] = reach.get("compound", frozenset()) | access.company_compounds
    for level, node_ids in reach.items():
        anc_levels = ancestor_levels(level)
        if not anc_levels:
            continue
        rows = await MODEL_BY_LEVEL[level].filter(id__in=sorted(node_ids)).values(*(f"{a}_id" for a in anc_levels))
        for row in rows:
            for a in anc_levels:
                ancestors.setdefault(a, set()).add(row[f"{a}_id"])
    access.ancestors = {k: frozenset(v) for k, v in ancestors.items()}
    return access


async def staff_communities(access: Access) -> frozenset[int] | None:
    """The communities a caller works for through writer posts: a community worker's community, every community
    of a street officer's street. None when the caller reads the whole tenant."""
    if access.reads_whole_tenant:
        return None
    ids = set(access.staff_nodes.get("community", frozenset()))
    streets = access.staff_nodes.get("street", frozenset())
    if streets:
        community = MODEL_BY_LEVEL["community"]
        ids |= set(await community.filter(street_id__in=sorted(streets)).values_list("id", flat=True))  # type: ignore[arg-type]
    return frozenset(ids)


async def get_in_scope(
    level: str, area_id: int, access: Access, *, for_write: bool = False, include_own: bool = False
) -> Area:
    """One node, if it exists in this tenant and in the caller's scope; otherwise NOT_FOUND (no existence leak)."""
    model = MODEL_BY_LEVEL[level]
    qs = model.filter(id=area_id)
    q = access.area_filter(level, for_write=for_write, include_own=include_own)
    if q is not None:
        qs = qs.filter(q)
    node = await qs.first()
    if node is None:
        if for_write and await _readable(level, area_id, access):
            raise Forbidden(
                f"无权修改该{_ZH[level]}", f"this {level} is outside what you may change", field=f"{level}Id"
            )
        raise NotFound(f"{_ZH[level]} {area_id} 不存在", f"{level} {area_id} does not exist", field=f"{level}Id")
    return node


async def _readable(level: str, area_id: int, access: Access) -> bool:
    qs = MODEL_BY_LEVEL[level].filter(id=area_id)
    q = access.area_filter(level)
    return await (qs.filter(q) if q is not None else qs).exists()


_ZH = {
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "compound": "小区",
    "building": "楼栋",
    "household": "住户",
}
