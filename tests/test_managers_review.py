"""Property managers after review (issue 19 part D fixes): a compound that changes firm mid-period, the history
guard of published periods, corrections and ends, who reads managers and phones, ties and unscored at the
elimination cut, the exact yearly average, paging, id kinds, the phone's length."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tenants.assessment.managers import period_scores
from tenants.assessment.models import CompanyRating, CompoundRating, ListMark, RatingSnapshot
from tenants.scope import tenant_transaction
from tenants.territory import managers
from tenants.territory.parties import PropertyContract
from tenants.territory.parties_service import create_contract
from tests.fixtures.callers import ADMIN

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

Q3 = (date(2026, 7, 1), date(2026, 9, 30))


async def test_a_compound_that_changes_firm_mid_period_keeps_every_managers_days(manager_world):
    w = manager_world
    h = w.ids["hist"]
    async with tenant_transaction(w.hist.id):
        # K2 passes from P1 to P2 on 1 September; P2 names C. The quarter's K2 row names the period-end firm, P2.
        await PropertyContract.filter(id=h["contract_K2"]).update(ends_on=date(2026, 8, 31))
        new = await create_contract(access=ADMIN, actor="seed", company_id=h["P2"], compound_id=h["K2"],
                                    starts_on=date(2026, 9, 1), ends_on=date(2028, 12, 31),
                                    annual_fee_fen=120_000_00)
        c = await managers.create_manager(access=ADMIN, actor="seed", company_id=h["P2"], name="经理C")
        await managers.assign_contract_manager(access=ADMIN, actor="seed", contract_id=new.id, manager_id=c.id,
                                               starts_on=date(2026, 9, 1), reason="")
        snap = await RatingSnapshot.create(period_key="2026Q3", revision=2, computed_at=datetime(2026, 10, 9,
                                                                                                tzinfo=UTC))
        for compound, firm, score in (("K1", "P1", "90.00"), ("K2", "P2", "60.00")):
            await CompoundRating.create(snapshot_id=snap.id, compound_id=h[compound], company_id=h[firm],
                                        score=Decimal(score), body_part=0, deductions=0, rank=1, breakdown={})
        await CompanyRating.create(snapshot_id=snap.id, company_id=h["P1"], score=Decimal("75"), rank=2,
                                   mark=ListMark.INTERVIEWED, breakdown={})
        rows = await period_scores([(snap.id, *Q3)], fee_weighted=False)
    got = {r["manager_id"]: (r["score"], r["days"], r["black"]) for r in rows}
    # A keeps July on K2 (82.44 as before), B August, C September; the black list is the contract's own firm's.
    assert got == {h["A"]: (Decimal("82.44"), 123, True), h["B"]: (Decimal("60.00"), 31, True),
                   c.id: (Decimal("60.00"), 30, False)}
