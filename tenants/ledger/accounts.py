"""Account names of the ledger, ``kind:ref[:year]``. Accounts whose kind is in ``NON_NEGATIVE`` hold money and can
never go below zero (a database CHECK); the others are counterparts (funds, payables, payments, repairs).

Signs: a journal moves money from the accounts it debits (negative amounts) to those it credits (positive), and
sums to zero. A yearly subsidy pool is funded from the tenant's subsidy fund of that year (the fund goes
negative by what has been committed); approving a statement moves its amounts from the pool to each payee's
payable; paying moves them from the payable to the payee's paid account.
"""

from __future__ import annotations

# Accounts holding money: a drawdown larger than the balance is refused by the database.
NON_NEGATIVE = ("bond", "subsidy_pool", "brand_cap", "points_fund", "points_reserved")


def subsidy_fund(year: int) -> str:
    return f"subsidy_fund:{year}"


def subsidy_pool(community_id: int, year: int) -> str:
    return f"subsidy_pool:{community_id}:{year}"


def subsidy_payable(company_id: int) -> str:
    return f"subsidy_payable:{company_id}"


def subsidy_paid(company_id: int) -> str:
    return f"subsidy_paid:{company_id}"


def brand_fund(year: int) -> str:
    return f"brand_fund:{year}"


def brand_cap(year: int) -> str:
    return f"brand_cap:{year}"


def brand_payable(community_id: int) -> str:
    return f"brand_payable:{community_id}"


def brand_paid(community_id: int) -> str:
    return f"brand_paid:{community_id}"


def bond(contract_id: int) -> str:
    """The bond the street holds for a property contract."""
    return f"bond:{contract_id}"


def bond_depositor(company_id: int) -> str:
    """The company's side of its bonds: deposits taken (negative), refunds returned."""
    return f"bond_depositor:{company_id}"


def bond_repairs(contract_id: int) -> str:
    """What the street spent from a contract's bond on emergency repairs."""
    return f"bond_repairs:{contract_id}"


def kind_of(account: str) -> str:
    return account.split(":", 1)[0]


# Points 积分 (issue 17): the money behind redemptions. ``points_fund`` is funded by ``fundPoints`` from the year's
# source; a money voucher reserves its value at issue, then goes to the household's fee credit with its company or
# to the partner's payable when verified, or back to the fund when cancelled or expired; a paid partner statement
# moves the payable to paid.
def points_fund() -> str:
    return "points_fund"


def points_fund_source(year: int) -> str:
    return f"points_fund_source:{year}"


def points_reserved(voucher_id: int) -> str:
    return f"points_reserved:{voucher_id}"


def fee_credit(household_id: int, company_id: int) -> str:
    """A household's property-fee credit with its company (a fee reduction paid from points)."""
    return f"fee_credit:{household_id}:{company_id}"


def partner_payable(partner_id: int) -> str:
    return f"partner_payable:{partner_id}"


def partner_paid(partner_id: int) -> str:
    return f"partner_paid:{partner_id}"
