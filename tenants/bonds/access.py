"""Who reads and who moves a performance bond, from the caller's data scope.

Which bonds a caller reads is ``readable`` (a ``QuerySet`` of contracts, see territory.access). Tenant
administrators and the housing department read every bond; a street officer the bonds of their street's
compounds (the street holds them); a community worker those of their community's compounds (read only); a
property company only the bonds of its own contracts. Everyone else reads nothing. Deposits, drawdowns and
refunds are the street's (a street officer of the compound's street) or a tenant administrator's
(``bonds.move`` in ``tenants.permissions``).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.bonds.models import BondTopUp, BondTransaction
from tenants.permissions import require
from tenants.records import granted
from tenants.territory.access import Access
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyContract


def require_reader(access: Access) -> None:
    require(access, "bonds.read")


def _streets(access: Access) -> frozenset[int]:
    return access.staff_nodes.get("street", frozenset())


def _communities(access: Access) -> frozenset[int]:
    return access.staff_nodes.get("community", frozenset())


def readable(caller: Access) -> QuerySet[PropertyContract]:
    """The contracts whose bonds the caller reads (after ``require_reader``)."""
    if caller.reads_whole_tenant:
        return PropertyContract.all()
    held = Q(street_id__in=sorted(_streets(caller)) or [0]) | Q(community_id__in=sorted(_communities(caller)) or [0])
    compounds = Subquery(Compound.filter(held).values("id"))
    return PropertyContract.filter(Q(company_id__in=sorted(caller.companies) or [0]) | Q(compound_id__in=compounds))


def readable_top_ups(caller: Access) -> QuerySet[BondTopUp]:
    """Top-up demands of the bonds the caller reads."""
    return granted(caller, "bonds.read", BondTopUp.filter(contract_id__in=Subquery(readable(caller).values("id"))))


def readable_transactions(caller: Access) -> QuerySet[BondTransaction]:
    """Deposits, drawdowns and refunds of the bonds the caller reads."""
    rows = BondTransaction.filter(contract_id__in=Subquery(readable(caller).values("id")))
    return granted(caller, "bonds.read", rows)
