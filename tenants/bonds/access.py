"""Who reads and who moves a performance bond, from the caller's data scope.

Tenant administrators and the housing department read every bond; a street officer the bonds of their street's
compounds (the street holds them); a community worker those of their community's compounds (read only); a
property company only the bonds of its own contracts. Everyone else reads nothing. Deposits, drawdowns and
refunds are the street's (a street officer of the compound's street) or a tenant administrator's
(``bonds.move`` in ``tenants.permissions``).
"""

from __future__ import annotations

from typing import Any

from tenants.permissions import require
from tenants.territory.access import Access
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyContract


def require_reader(access: Access) -> None:
    require(access, "bonds.read")


def _streets(access: Access) -> frozenset[int]:
    return access.staff_nodes.get("street", frozenset())


def _communities(access: Access) -> frozenset[int]:
    return access.staff_nodes.get("community", frozenset())


def may_read(access: Access, contract: PropertyContract, compound: Compound) -> bool:
    return (
        access.reads_whole_tenant
        or contract.company_id in access.companies
        or compound.street_id in _streets(access)
        or compound.community_id in _communities(access)
    )


def visible_sql(access: Access, params: list[Any], contract: str = "c", compound: str = "k") -> str:
    """A SQL condition on a contract row and its compound row for the bonds in scope (appends its parameters)."""
    if access.reads_whole_tenant:
        return "TRUE"
    params += [sorted(access.companies), sorted(_streets(access)), sorted(_communities(access))]
    n = len(params)
    return (
        f"({contract}.company_id = ANY(${n - 2}::bigint[]) OR {compound}.street_id = ANY(${n - 1}::bigint[])"
        f" OR {compound}.community_id = ANY(${n}::bigint[]))"
    )
