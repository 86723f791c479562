"""Which 以奖代补 statements and lines a caller reads (``readable``: a ``QuerySet``, see territory.access).

Tenant administrators and the housing department read every statement; a street officer the statements of the
communities in its street(s), a community worker those of its community; a property company only the lines it is
paid by, on the approved and paid statements that have such lines (a draft may still change), with its own
subtotal and not the statement's total.
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.permissions import require
from tenants.subsidies.models import SettlementLine, SettlementStatement, StatementStatus
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.models import Community

# A company sees a statement once it is decided: a draft may still change with the ratings.
DECIDED = [StatementStatus.APPROVED.value, StatementStatus.PAID.value]


def _companies(caller: Access) -> list[int]:
    return sorted(caller.companies) if Role.PROPERTY_COMPANY in caller.roles else []


def _whole_statements(caller: Access) -> Q | None:
    """Statements the caller reads in full (every line, the total); None: all of them."""
    return caller.staff_communities_filter()


def readable(caller: Access) -> QuerySet[SettlementStatement]:
    """The statements the caller reads (``subsidies.read_statements``, checked first), in full or (a property
    company) through its own lines."""
    require(caller, "subsidies.read_statements")
    whole = _whole_statements(caller)
    if whole is None:
        return SettlementStatement.all()
    q = whole
    if companies := _companies(caller):
        paid_to = SettlementLine.filter(company_id__in=companies).values("statement_id")
        q |= Q(Q(id__in=Subquery(paid_to)), Q(status__in=DECIDED))
    return SettlementStatement.filter(q)


def readable_lines(caller: Access) -> QuerySet[SettlementLine]:
    """The lines the caller reads: every line of a statement read in full, else only its own on a decided one."""
    require(caller, "subsidies.read_statements")
    whole = _whole_statements(caller)
    if whole is None:
        return SettlementLine.all()
    q = Q(statement_id__in=Subquery(SettlementStatement.filter(whole).values("id")))
    if companies := _companies(caller):
        decided = SettlementStatement.filter(status__in=DECIDED).values("id")
        q |= Q(Q(company_id__in=companies), Q(statement_id__in=Subquery(decided)))
    return SettlementLine.filter(q)


def readable_communities(caller: Access) -> QuerySet[Community]:
    """The communities whose pools the caller reads (``subsidies.read_pools``, checked first)."""
    require(caller, "subsidies.read_pools")
    whole = caller.staff_communities_filter("id")
    return Community.all() if whole is None else Community.filter(whole)


async def read_in_full(caller: Access, statement_ids: list[int]) -> set[int]:
    """Of ``statement_ids``, those the caller reads in full (every line and the total)."""
    whole = _whole_statements(caller)
    if whole is None:
        return set(statement_ids)
    return set(await SettlementStatement.filter(whole, id__in=statement_ids).values_list("id", flat=True))  # type: ignore[arg-type]
