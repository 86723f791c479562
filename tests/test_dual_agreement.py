"""A work unit's agreement period 协议期限: refused when already over on registration; a registration whose
agreement ended (before the tenant's today) is not current for joining and reading activities, the coverage's unit
count and the lists' claimant check; the hourly dual_activities run marks it ENDED once; another tenant untouched."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tenants import clock
from tenants.dual import activity_scheduled, coverage, list_access, signups, units
from tenants.dual.activities import readable_one
from tenants.dual.activity_access import NotAMember
from tenants.dual.models import RegistrationStatus, UnitRegistration
from tenants.errors import InvalidInput, NotFound
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import Access
from tests.fixtures.callers import ADMIN
from tests.fixtures.dual_activities import activity, member

pytestmark = pytest.mark.on_day(date(2026, 12, 1))
START = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)


def contact(unit_id: int) -> Access:
    return Access(roles=frozenset({Role.WORK_UNIT_CONTACT}), user_id="wu-contact",
                  by_role={Role.WORK_UNIT_CONTACT: {"work_unit": frozenset({unit_id})}})


async def test_agreement_over_is_refused_and_ends_the_registration(activity_world):
    w, other = activity_world["sanbai"], activity_world["linshu"]
    tid, c1, unit = w["tenant"].id, w["ids"]["C1"], w["ids"]["WU1"]
    a = await activity(tid, c1, starts_at=START)
    async with tenant_transaction(tid):
        today = await clock.today()
        with pytest.raises(InvalidInput) as e:
            await units.register_work_unit(access=ADMIN, actor="admin", work_unit_id=unit, community_id=w["ids"]["C2"],
                                           resources=[], agreement_from=date(2020, 1, 1),
                                           agreement_until=today - timedelta(days=1))
        assert [(p.field, p.reason) for p in e.value.problems] == [("agreementUntil", "past")]
        # the last day of the agreement is today: still current
        await UnitRegistration.filter(work_unit_id=unit, community_id=c1).update(agreement_until=today)
        assert (await coverage.coverage(access=ADMIN, community_id=c1)).total.units == 1
        assert await list_access.unit_registrations(contact(unit)).count() == 1
        await readable_one(member("m-wu"), a.id)
        # it ended yesterday (the tenant's day)
        yesterday = today - timedelta(days=1)
        await UnitRegistration.filter(work_unit_id=unit, community_id=c1).update(agreement_until=yesterday)
        assert (await coverage.coverage(access=ADMIN, community_id=c1)).total.units == 0
        assert await list_access.unit_registrations(contact(unit)).count() == 0
        with pytest.raises(NotFound):
            await readable_one(member("m-wu"), a.id)
        with pytest.raises(NotFound):  # the activity is not theirs to read any more
            await signups.join(access=member("m-wu"), actor="m-wu", activity_id=a.id)
        with pytest.raises(NotAMember):  # staff cannot put them on it either
            await signups.assign(access=ADMIN, actor="admin", activity_id=a.id, person_id=w["person"]["m-wu"])
    async with tenant_transaction(other["tenant"].id):  # the second tenant's registration, also over
        await UnitRegistration.filter(work_unit_id=other["ids"]["WU1"]).update(agreement_until=date(2026, 1, 31))
    with tenant_context(tid):
        first = await activity_scheduled.hourly()
        second = await activity_scheduled.hourly()
    assert (first["units_ended"], second["units_ended"]) == (1, 0)
    async with tenant_transaction(tid):
        row = await UnitRegistration.get(work_unit_id=unit, community_id=c1)
    assert (row.status, row.reason, row.decided_by) == (RegistrationStatus.ENDED, "agreement ended", "system")
    async with tenant_transaction(other["tenant"].id):
        assert await UnitRegistration.filter(status=RegistrationStatus.APPROVED).count() == 1
