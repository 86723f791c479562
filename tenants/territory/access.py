"""Data scopes: what a caller may read and write, from their roles and territory scope.

Which rows a caller reads has one shape in every domain: ``readable(caller)`` in ``tenants/<domain>/access.py``
returns a tortoise ``QuerySet`` of the rows the caller may read (built without awaiting anything: scope that needs
another table is a subquery), and every list and get of that resource starts from it
(``await readable(caller).filter(id=...).first()``). Territory nodes: ``readable(caller, level)`` below. The
caller is the ``Access`` resolved once per request (or a job's system caller).

A street officer works inside their street, a community worker inside their community, a grid worker inside
their grid, a property company on the compounds it has contracts for, an owners' committee or supervisor on
their compound, a resident in their own household; tenant administrators (and, for reading, the housing
department) see the whole tenant. Scope entries are ``KIND:ID`` with the history-safe ids of the territory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants import clock
from tenants.errors import Forbidden, NotFound
from tenants.permissions import ADMINISTRATION, has_role
from tenants.tenancy.roles import Role, parse_scope_entry
from tenants.territory.models import LEVEL_NAMES, MODEL_BY_LEVEL, Area, Compound, Household, ancestor_levels
from tenants.territory.parties import (
    ContractManager,
    OwnersCommittee,
    PropertyCompany,
    PropertyContract,
    PropertyManager,
    Unit,
)
from tenants.territory.people import Person, Post

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
    # Each scoped node's ancestors as read by ``resolve``: (level, id) -> {ancestor level: id}.
    lineage: dict[tuple[str, int], dict[str, int]] = field(default_factory=dict)

    def known_ancestors(self, level: str, node_id: int) -> dict[str, int] | None:
        """The ancestors of a node this caller reads because it is, or lies above, one of their scoped nodes, as
        ``resolve`` read them (no query); None for any other node."""
        if (level, node_id) in self.lineage:
            return self.lineage[(level, node_id)]
        above = ancestor_levels(level)
        for line in self.lineage.values():
            if line.get(level) == node_id:
                return {a: line[a] for a in above if a in line}
        return None

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

    def holds_post(self, level: str, node_id: int | None) -> bool:
        """Holds a writer post on this very node (street officer of the street, community worker of the
        community, grid worker of the grid)."""
        return node_id is not None and node_id in self.staff_nodes.get(level, frozenset())

    def staff_communities_filter(self, field: str = "community_id") -> Q | None:
        """Rows whose ``field`` is a community the caller works for through a writer post: a community worker's
        community, every community of a street officer's street (a subquery). None: the whole tenant."""
        if self.reads_whole_tenant:
            return None
        community = MODEL_BY_LEVEL["community"]
        q = Q(**{f"{field}__in": sorted(self.staff_nodes.get("community", frozenset())) or [0]})  # type: ignore[arg-type]
        if streets := self.staff_nodes.get("street"):
            ids = community.filter(street_id__in=sorted(streets)).values("id")
            q |= Q(**{f"{field}__in": Subquery(ids)})  # type: ignore[arg-type]
        return q


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
        rows = await MODEL_BY_LEVEL[level].filter(id__in=sorted(node_ids)).values(
            "id", *(f"{a}_id" for a in anc_levels)
        )
        for row in rows:
            access.lineage[(level, row["id"])] = {a: row[f"{a}_id"] for a in anc_levels}
            for a in anc_levels:
                ancestors.setdefault(a, set()).add(row[f"{a}_id"])
    access.ancestors = {k: frozenset(v) for k, v in ancestors.items()}
    return access


def readable(caller: Access, level: str) -> QuerySet[Area]:
    """The nodes of ``level`` the caller reads (their scope, its ancestors, a company's compounds)."""
    model = MODEL_BY_LEVEL[level]
    q = caller.area_filter(level)
    return model.filter(q) if q is not None else model.all()  # type: ignore[no-any-return]


def readable_compounds(caller: Access) -> QuerySet[Compound]:
    return readable(caller, "compound")  # type: ignore[return-value]


def readable_persons(caller: Access) -> QuerySet[Person]:
    """Personal data: tenant admins see everyone, territory staff (street, community, grid) the people living in
    what they look after, anyone else only themselves."""
    if caller.whole_tenant:
        return Person.all()
    if caller.staff_nodes:
        q = caller.staff_filter("household")
        assert q is not None  # only a tenant admin's is None
        return Person.filter(household_id__in=Subquery(Household.filter(q).values("id")))
    return Person.filter(user_id=caller.user_id or "")


def readable_posts(caller: Access) -> QuerySet[Post]:
    """Posts of the people the caller reads."""
    if caller.whole_tenant:
        return Post.all()
    return Post.filter(person_id__in=Subquery(readable_persons(caller).values("id")))


def readable_companies(caller: Access) -> QuerySet[PropertyCompany]:
    """Staff-side callers read every company; a property company only itself; residents none."""
    if Role.PROPERTY_COMPANY in caller.roles and not caller.reads_whole_tenant:
        return PropertyCompany.filter(id__in=sorted(caller.companies))
    if caller.roles & {Role.RESIDENT, Role.PARTY_MEMBER} and not caller.roles - {Role.RESIDENT, Role.PARTY_MEMBER}:
        return PropertyCompany.filter(id__in=[])
    return PropertyCompany.all()


def readable_contracts(caller: Access) -> QuerySet[PropertyContract]:
    """A property company its own contracts; everyone else the contracts of the compounds they read."""
    if Role.PROPERTY_COMPANY in caller.roles and not caller.reads_whole_tenant:
        return PropertyContract.filter(company_id__in=sorted(caller.companies))
    q = caller.compound_filter()
    if q is None:
        return PropertyContract.all()
    return PropertyContract.filter(compound_id__in=Subquery(Compound.filter(q).values("id")))


def readable_managers(caller: Access) -> QuerySet[PropertyManager]:
    """Property managers (``parties.read_managers``): the administration all; territory staff those of the firms
    with a contract on a compound of their area; a firm its own; anyone else none."""
    if caller.reads_whole_tenant:
        return PropertyManager.all()
    if not has_role(caller, "parties.read_managers"):
        return PropertyManager.filter(id__in=[])
    q = Q(company_id__in=sorted(caller.companies))
    if caller.roles & STAFF_READERS_OF_MANAGERS:
        area = caller.compound_filter()
        assert area is not None  # None is the whole tenant's, returned above
        serving = PropertyContract.filter(compound_id__in=Subquery(Compound.filter(area).values("id")))
        q |= Q(company_id__in=Subquery(serving.values("company_id")))
    return PropertyManager.filter(q)


STAFF_READERS_OF_MANAGERS = frozenset({Role.STREET_OFFICER, Role.COMMUNITY_WORKER, Role.GRID_WORKER})


def readable_contract_managers(caller: Access) -> QuerySet[ContractManager]:
    """Who managed a contract when (``parties.read_managers``: reasons such as 不胜任 are HR matters): the rows of
    the contracts the caller reads; none for anyone without the permission."""
    if not has_role(caller, "parties.read_managers"):
        return ContractManager.filter(id__in=[])
    return ContractManager.filter(contract_id__in=Subquery(readable_contracts(caller).values("id")))


def readable_committees(caller: Access) -> QuerySet[OwnersCommittee]:
    """Owners' committees of the compounds the caller reads."""
    q = caller.compound_filter()
    if q is None:
        return OwnersCommittee.all()
    return OwnersCommittee.filter(compound_id__in=Subquery(Compound.filter(q).values("id")))


def readable_units(caller: Access) -> QuerySet[Unit]:
    """Departments and offices are public within the tenant."""
    return Unit.all()


async def get_in_scope(
    level: str,
    area_id: int,
    access: Access,
    *,
    for_write: bool = False,
    include_own: bool = False,
    field: str | None = None,
) -> Area:
    """One node, if it exists in this tenant and in the caller's scope; otherwise NOT_FOUND (no existence leak).

    ``field``: the input's own name for the id (``parentId``); the level's name (``gridId``), which errors named
    before, stays in ``details.legacyField`` (deprecated)."""
    named = {"field": field, "details": {"legacyField": f"{level}Id"}} if field else {"field": f"{level}Id"}
    if for_write:
        model = MODEL_BY_LEVEL[level]
        q = access.area_filter(level, for_write=True, include_own=include_own)
        qs = model.filter(q) if q is not None else model.all()
    else:
        qs = readable(access, level)
    node = await qs.filter(id=area_id).first()
    if node is None:
        if for_write and await readable(access, level).filter(id=area_id).exists():
            raise Forbidden(f"无权修改该{_ZH[level]}", f"this {level} is outside what you may change", **named)
        raise NotFound(f"{_ZH[level]} {area_id} 不存在", f"{level} {area_id} does not exist", **named)
    return node


async def get_writable(
    level: str, area_id: int, access: Access, *, include_own: bool = False, field: str | None = None
) -> Area:
    """A node the caller may change or attach to: any node of the tenant for its administrators, otherwise one
    below the caller's writer posts (``include_own``: or that node itself), as ``get_in_scope(for_write=True)``."""
    if access.whole_tenant:
        return await get_in_scope(level, area_id, access, field=field)
    return await get_in_scope(level, area_id, access, for_write=True, include_own=include_own, field=field)


_ZH = {
    "street": "街道",
    "community": "社区",
    "grid": "网格",
    "compound": "小区",
    "building": "楼栋",
    "household": "住户",
}
