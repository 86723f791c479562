"""Which brand projects a caller reads (``readable``: a ``QuerySet``, see territory.access); who takes each step
is ``brand.*`` in ``tenants.permissions``."""

from __future__ import annotations

from tortoise.queryset import QuerySet

from tenants.brand.models import BrandProject
from tenants.permissions import require
from tenants.territory.access import Access


def readable(caller: Access) -> QuerySet[BrandProject]:
    """The projects the caller reads (``brand.read``, checked first): every project for the tenant administration,
    otherwise those of the communities the caller works for."""
    require(caller, "brand.read")
    q = caller.staff_communities_filter()
    return BrandProject.all() if q is None else BrandProject.filter(q)
