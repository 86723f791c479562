"""Data scopes: what a caller may read and write, from their roles and territory scope.

A street officer works inside their street, a community worker inside their community, a grid worker inside
their grid, a property company on the compounds it has contracts for, an owners' committee or supervisor on
their compound, a resident in their own household; tenant administrators (and, for reading, the housing
department) see the whole tenant. Scope entries are ``KIND:ID`` with the history-safe ids of the territory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from tortoise.expressions import Q

from tenants.errors import Forbidden, NotFound
from tenants.tenancy.roles import Role
from tenants.territory.models import LEVEL_NAMES, MODEL_BY_LEVEL, Area, ancestor_levels

READ_ALL_ROLES = frozenset({Role.TENANT_ADMIN, Role.HOUSING_DEPT})
# Roles whose scope lets them change the territory below their node.
TERRITORY_WRITERS = frozenset({Role.STREET_OFFICER, Role.COMMUNITY_WORKER, Role.GRID_WORKER})


@dataclass
class Access:
    roles: frozenset[Role]
    # Territory nodes the caller is scoped to, by level (their whole subtree is in scope).
    nodes: dict[str, frozenset[int]] = field(default_factory=dict)
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
        return bool(self.roles & READ_ALL_ROLES)

    def area_filter(self, level: str, *, for_write: bool = False) -> Q | None:
        """A filter on ``level`` rows for what is in scope; None means the whole tenant."""
        if self.whole_tenant or (not for_write and self.reads_whole_tenant):
            return None
        nodes = self.nodes if not for_write else self._writable_nodes()
        q = Q(id__in=[0])  # matches nothing; OR-ed with every grant below
        for anc in ancestor_levels(level):
            if nodes.get(anc):
                q |= Q(**{f"{anc}_id__in": sorted(nodes[anc])})  # type: ignore[arg-type]
        if nodes.get(level) and not for_write:  # one's own node is read-only; below it is one's to change
            q |= Q(id__in=sorted(nodes[level]))
        if not for_write:
            if self.company_compounds and LEVEL_NAMES.index(level) >= LEVEL_NAMES.index("compound"):
                key = "id__in" if level == "compound" else "compound_id__in"
                q |= Q(**{key: sorted(self.company_compounds)})  # type: ignore[arg-type]
            if self.ancestors.get(level):
                q |= Q(id__in=sorted(self.ancestors[level]))
        return q

    def _writable_nodes(self) -> dict[str, frozenset[int]]:
        writable = {"street", "community", "grid"} if self.roles & TERRITORY_WRITERS else set()
        return {k: v for k, v in self.nodes.items() if k in writable}

    def compound_filter(self, *, for_write: bool = False) -> Q | None:
        """For rows attached to a compound (contracts, committees): the compounds in scope."""
        return self.area_filter("compound", for_write=for_write)

    def require_write(self, *roles: Role) -> None:
        if not self.roles & set(roles):
            names = ", ".join(sorted(r.value for r in roles))
            raise Forbidden(f"需要以下角色之一：{names}", f"requires one of the roles: {names}")


def parse_scope_ids(scope: tuple[str, ...] | list[str]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for entry in scope:
        kind, _, raw = entry.partition(":")
        if raw.isdigit():
            out.setdefault(kind, set()).add(int(raw))
    return out


async def resolve(roles: frozenset[Role], scope: tuple[str, ...] | list[str]) -> Access:
    """Build the caller's access for the tenant in scope (a few indexed queries, once per request)."""
    from tenants.territory.parties import PropertyContract

    ids = parse_scope_ids(scope)
    nodes = {lvl: frozenset(ids.get(lvl, ())) for lvl in LEVEL_NAMES if ids.get(lvl)}
    access = Access(
        roles=roles, nodes=nodes, companies=frozenset(ids.get("company", ())), units=frozenset(ids.get("unit", ()))
    )
    if access.companies and Role.PROPERTY_COMPANY in roles:
        today = date.today()
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


async def get_in_scope(level: str, area_id: int, access: Access, *, for_write: bool = False) -> Area:
    """One node, if it exists in this tenant and in the caller's scope; otherwise NOT_FOUND (no existence leak)."""
    model = MODEL_BY_LEVEL[level]
    qs = model.filter(id=area_id)
    q = access.area_filter(level, for_write=for_write)
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
