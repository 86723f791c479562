"""The daily bond check: open the top-ups owed by bonds below their required amount, remind a company of a top-up
it owes, and flag the top-up late once its day has passed.

Once-only is decided by PostgreSQL: each step is one conditional UPDATE (``reminded_at IS NULL`` /
``late_at IS NULL``), so of two runs racing on the same top-up exactly one sets the column and tells people.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from tenants import clock, inbox
from tenants.bonds.messages import day_zh, yuan
from tenants.bonds.reads import required_fen
from tenants.config.service import effective_config
from tenants.inbox.holders import holders_by_target
from tenants.ledger import accounts
from tenants.ledger.service import balances
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyContract
from tenants.territory.people import PostKind

_RETURNING = "RETURNING id, contract_id, company_id, due_on"

# A reminder from ``lead`` days before the due day up to the due day itself; after it the late flag speaks.
REMIND_SQL = f"""
UPDATE bond_top_up SET reminded_at = $2::timestamptz
WHERE tenant_id = $1::bigint AND settled_at IS NULL AND reminded_at IS NULL
  AND due_on >= $3::date AND due_on <= $4::date
{_RETURNING}
"""

LATE_SQL = f"""
UPDATE bond_top_up SET late_at = $2::timestamptz
WHERE tenant_id = $1::bigint AND settled_at IS NULL AND late_at IS NULL AND due_on < $3::date
{_RETURNING}
"""


# Contracts in force whose bond holds less than required (never paid in, the ratio or fee raised, a partial
# refund) and owe no top-up yet: one is opened, due ``top_up_deadline_days`` on. Required: ratio x fee, rounded up.
OPEN_SQL = f"""
INSERT INTO bond_top_up (tenant_id, contract_id, company_id, required_fen, shortfall_fen, opened_at, due_on)
SELECT c.tenant_id, c.id, c.company_id, r.required, r.required - COALESCE(b.balance_fen, 0), $2::timestamptz,
       $5::date
FROM property_contract c
CROSS JOIN LATERAL (SELECT (c.annual_fee_fen * $3::bigint + 99) / 100 AS required) r
LEFT JOIN ledger_balance b ON b.tenant_id = c.tenant_id AND b.account = 'bond:' || c.id
WHERE c.tenant_id = $1::bigint AND c.starts_on <= $4::date AND c.ends_on >= $4::date
  AND COALESCE(b.balance_fen, 0) < r.required
  AND NOT EXISTS (SELECT 1 FROM bond_top_up t
                  WHERE t.tenant_id = c.tenant_id AND t.contract_id = c.id AND t.settled_at IS NULL)
ON CONFLICT DO NOTHING
{_RETURNING}
"""


# What the company (and, when late, the street's officers and the tenant's administrators) is told: title, text.
_TOLD = {
    "bond.top_up_owed": ("履约保证金待缴存", "{name}物业服务合同的履约保证金尚差 {short}，请于{due}前缴存补足。"),
    "bond.top_up_due": (
        "履约保证金补缴提醒",
        "{name}物业服务合同的履约保证金尚需补足 {short}，补缴期限为{due}，请按期缴存。",
    ),
    "bond.top_up_late": (
        "履约保证金逾期未补足",
        "{name}物业服务合同的履约保证金应于{due}前补足，至今仍差 {short}，已标记逾期。",
    ),
}


async def daily(*, now: datetime | None = None) -> dict[str, Any]:
    """Remind each open top-up once when tenant-local today is within ``reminders.bond_top_up_lead_days`` of its
    due day, and flag it late once after that day (telling the company, the street's officers and the tenant's
    administrators). Does nothing while ``bonds.enabled`` is off. Safe to run any number of times."""
    at = now or clock.now()
    async with scoped_transaction() as conn:
        today = await clock.today(at)
        doc = (await effective_config(today)).document
        if not doc.bonds.enabled:
            return {"enabled": False, "reminded": 0, "late": 0}
        lead = int(doc.reminders.bond_top_up_lead_days)
        tid = current_tenant_id()
        due = today + timedelta(days=int(doc.bonds.top_up_deadline_days))
        opened = await conn.execute_query_dict(OPEN_SQL, [tid, at, int(doc.bonds.ratio_percent), today, due])
        late = await conn.execute_query_dict(LATE_SQL, [tid, at, today])
        reminded = await conn.execute_query_dict(REMIND_SQL, [tid, at, today, today + timedelta(days=lead)])
        await _tell(late, reminded, opened, ratio=int(doc.bonds.ratio_percent), today=today, at=at)
        return {"enabled": True, "opened": len(opened), "reminded": len(reminded), "late": len(late)}


async def _tell(
    late: list[dict], reminded: list[dict], opened: list[dict], *, ratio: int, today: date, at: datetime
) -> None:
    rows = late + reminded + opened
    if not rows:
        return
    contracts = {c.id: c for c in await PropertyContract.filter(id__in=sorted({r["contract_id"] for r in rows}))}
    compounds = {k.id: k for k in await Compound.filter(id__in=sorted({c.compound_id for c in contracts.values()}))}
    held = await balances([accounts.bond(i) for i in contracts])
    companies = {r["company_id"] for r in rows}
    company_people = await holders_by_target(PostKind.PROPERTY_COMPANY, "company", companies, today)
    streets = {compounds[contracts[r["contract_id"]].compound_id].street_id for r in late}
    officers = await holders_by_target(PostKind.STREET_OFFICER, "street", streets, today) if late else {}
    admins = (await holders_by_target(PostKind.TENANT_ADMIN, None, None, today)).get(0, []) if late else []

    def told(kind: str, r: dict, also: list[str]) -> inbox.Message:
        c = contracts[r["contract_id"]]
        short = max(0, required_fen(c.annual_fee_fen, ratio) - held[accounts.bond(c.id)])
        title, text = _TOLD[kind]
        name, due = compounds[c.compound_id].name, day_zh(r["due_on"])
        to = company_people.get(r["company_id"], []) + also
        return inbox.Message(to, kind, title, text.format(name=name, short=yuan(short), due=due), None)

    messages = [told("bond.top_up_owed", r, []) for r in opened]
    messages += [told("bond.top_up_due", r, []) for r in reminded]
    for r in late:
        street = compounds[contracts[r["contract_id"]].compound_id].street_id
        messages.append(told("bond.top_up_late", r, officers.get(street, []) + admins))
    await inbox.send_all(messages, at=at)
