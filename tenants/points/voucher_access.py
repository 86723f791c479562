"""Which vouchers, partners and partner statements a caller reads (``readable``: a ``QuerySet``, see
territory.access).

The administration (tenant admins, the housing department) reads everything. A person reads the vouchers they
hold; a partner's staff (``partner_staff`` post) its partner's vouchers and statements and the partner itself; a
property company the fee reductions of the households it serves; street and community staff read the partners.

A voucher's code is the voucher: whoever has it can have it verified. Only its holder and a tenant admin read the
code of an issued voucher; anyone else who reads the voucher (its partner's staff, the company) sees it masked
(``********PBPG``, the last four) until it is used, cancelled or expired (``shown_code``).
"""

from __future__ import annotations

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from tenants.permissions import require
from tenants.points.voucher_models import PartnerStatement, PartnerStatementLine, Voucher, VoucherStatus
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tenants.territory.parties import Partner
from tenants.territory.people import Person


def partners_of(caller: Access) -> list[int]:
    """The partners the caller works for through a ``partner_staff`` post."""
    if Role.PARTNER_STAFF not in caller.roles:
        return []
    return sorted(caller.by_role.get(Role.PARTNER_STAFF, {}).get("partner", frozenset()))


def own_person(caller: Access) -> QuerySet[Person]:
    return Person.filter(user_id=caller.user_id or "", deactivated_at=None)


def readable_vouchers(caller: Access) -> QuerySet[Voucher]:
    """Vouchers the caller reads (``vouchers.read``, checked first)."""
    require(caller, "vouchers.read")
    if caller.reads_whole_tenant:
        return Voucher.all()
    q = Q(person_id__in=Subquery(own_person(caller).values("id")))
    if partners := partners_of(caller):
        q |= Q(partner_id__in=partners)
    if Role.PROPERTY_COMPANY in caller.roles and caller.companies:
        q |= Q(Q(kind="fee_reduction"), Q(company_id__in=sorted(caller.companies)))
    return Voucher.filter(q)


def masked(code: str) -> str:
    """What a reader other than the holder sees of a live code: its last four characters."""
    return "*" * (len(code) - 4) + code[-4:]


def shown_code(caller: Access, v: Voucher, own_person_ids: frozenset[int] | set[int]) -> str:
    """``v.code`` as the caller reads it: whole for the holder (``own_person_ids``: the caller's person records)
    and a tenant admin, or once the voucher can no longer be used; masked otherwise."""
    if v.status != VoucherStatus.ISSUED or Role.TENANT_ADMIN in caller.roles or v.person_id in own_person_ids:
        return v.code
    return masked(v.code)


def readable_partners(caller: Access) -> QuerySet[Partner]:
    require(caller, "partner.read")
    if caller.roles & {Role.TENANT_ADMIN, Role.HOUSING_DEPT, Role.STREET_OFFICER, Role.COMMUNITY_WORKER}:
        return Partner.all()
    return Partner.filter(id__in=partners_of(caller) or [0])


def readable_statements(caller: Access) -> QuerySet[PartnerStatement]:
    require(caller, "partner_statements.read")
    if caller.reads_whole_tenant:
        return PartnerStatement.all()
    return PartnerStatement.filter(partner_id__in=partners_of(caller) or [0])


def readable_lines(caller: Access) -> QuerySet[PartnerStatementLine]:
    return PartnerStatementLine.filter(statement_id__in=Subquery(readable_statements(caller).values("id")))
