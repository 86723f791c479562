"""The 双滦-sized 双报到 dataset (seed 004: 62 units, 1,820 members, 1,188 online and offline building heads): made
set-based in one tenant, its figures are the rows in the tables, and another tenant sees none of them."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tenants.demo.dual_dataset import MINUTES, seed_shuangluan_sized
from tenants.dual import year_end
from tenants.dual.models import (
    Activity,
    ActivityStatus,
    Attendance,
    MemberPost,
    MemberPostKind,
    MemberRegistration,
    RegistrationStatus,
    Signup,
    UnitRegistration,
)
from tenants.roles import Role
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.service import create_tenant
from tenants.territory.models import Building, Community, Street
from tenants.territory.parties import WorkUnit
from tenants.territory.people import Person, Post, PostKind
from tests.fixtures.callers import ADMIN, bearer

pytestmark = pytest.mark.on_day(date(2026, 12, 1))
BEIJING = ZoneInfo("Asia/Shanghai")


async def test_the_shuangluan_sized_dataset_has_the_reports_counts(app, settings, gql):
    tenant = await create_tenant(slug="shuangluan", name="承德市双滦区", preset="shuangluan")
    other = await create_tenant(slug="linshu", name="临沭县", preset="linshu")
    with tenant_context(tenant.id):
        made = await seed_shuangluan_sized()
    assert (made.units, made.members, made.building_heads, made.communities) == (62, 1_820, 1_188, 28)
    assert (made.online_building_heads, made.offline_building_heads, made.year) == (594, 594, 2025)

    async with tenant_transaction(tenant.id):
        assert await WorkUnit.all().count() == 62
        assert await UnitRegistration.filter(status=RegistrationStatus.APPROVED).count() == made.unit_registrations
        assert await Post.filter(kind=PostKind.WORK_UNIT_CONTACT, target_kind="work_unit").count() == 62
        assert await Person.filter(is_party_member=True).count() == 1_820
        registrations = MemberRegistration.filter(status=RegistrationStatus.APPROVED)
        assert await registrations.count() == 1_820
        assert len(set(await registrations.values_list("work_unit_id", flat=True))) == 62
        heads = MemberPost.filter(ends_on=None, kind__in=[MemberPostKind.ONLINE_BUILDING_HEAD,
                                                          MemberPostKind.OFFLINE_BUILDING_HEAD])
        assert await heads.count() == 1_188
        assert len(set(await heads.values_list("person_id", flat=True))) == 1_188
        assert len(set(await heads.values_list("building_id", flat=True))) == made.buildings_with_head == 1_188
        assert await MemberPost.filter(kind=MemberPostKind.ONLINE_BUILDING_HEAD).count() == 594
        # Every head's building is in the community they are registered at.
        building_of = dict(await Building.all().values_list("id", "community_id"))  # type: ignore[arg-type]
        for post in await heads.all():
            assert building_of[post.building_id] == post.community_id
        assert (await Street.all().count(), await Community.all().count()) == (made.streets, 28) == (3, 28)
        assert await Building.all().count() == made.buildings == 28 * 54  # 324 buildings without a head

        assert await Activity.filter(status=ActivityStatus.CLOSED).count() == made.activities == 28 * 12
        signups = Signup.all()
        assert await signups.count() == made.signups == 1_820 * 6
        assert await Signup.filter(attendance=Attendance.PRESENT).count() == made.present
        assert await Signup.filter(attendance=Attendance.ABSENT).count() == made.absent == 182 * 2 + 182
        minutes = await Signup.filter(attendance=Attendance.PRESENT).values_list("minutes", flat=True)
        assert sum(minutes) == made.minutes == made.present * MINUTES
        outside = await Signup.filter(attendance=Attendance.PRESENT, outside_working_hours=True).count()
        assert made.outside_minutes == outside * MINUTES and 0 < outside < made.present
        # Every activity falls in the tenant's year 2025; 19:00 is outside working hours, 10:00 on a working day not.
        for activity in await Activity.all():
            local = activity.starts_at.astimezone(BEIJING)
            assert local.year == 2025 and local.hour in (10, 19)
            assert activity.outside_working_hours == (local.hour == 19 or local.isoweekday() > 5)
            assert activity.ends_at - activity.starts_at == timedelta(minutes=MINUTES)
        # A member's sign-ups are in date order with their absences last (g mod 10 = 9: two in a row).
        low = await Person.get(user_id="sl-m-9")
        record = await Signup.filter(person_id=low.id).order_by("starts_at", "id").values_list("attendance", flat=True)
        assert record == ["present"] * 4 + ["absent"] * 2
        # Below the minimum of 5: the 182 members with 4 present.
        per_person: dict[int, int] = {}
        for person_id in await Signup.filter(attendance=Attendance.PRESENT).values_list("person_id", flat=True):
            per_person[person_id] = per_person.get(person_id, 0) + 1
        below = sum(1 for n in per_person.values() if n < 5) + (1_820 - len(per_person))
        assert below == made.members_below_minimum == 182 and made.min_participations == 5
    async with tenant_transaction(other.id):  # another tenant sees none of it
        assert await MemberRegistration.all().count() == 0 and await Signup.all().count() == 0
        assert await WorkUnit.all().count() == 0

    # The year-end roll-up on these fresh tables, never analysed (the planner knows nothing of their sizes; its
    # time there, 13 ms, is README's figure, not asserted here).
    async with tenant_transaction(tenant.id):
        rolled = await year_end.unit_rows(access=ADMIN, year=made.year)
    assert len(rolled.rows) == 62

    # The reports the county reads give the 双滦 report's figures: the coverage report and the year-end roll-up.
    admin = bearer(settings, tenant, Role.TENANT_ADMIN)
    body = await gql(COVERAGE, admin)
    assert "errors" not in body, body
    total = body["data"]["dualCoverage"]["total"]
    assert total == {"buildings": 1_512, "withAnyHead": 1_188, "withOnlineHead": 594, "withOfflineHead": 594,
                     "withoutHead": 324, "members": 1_820, "units": made.unit_registrations}
    assert sum(s["figures"]["members"] for s in body["data"]["dualCoverage"]["streets"]) == 1_820
    units = []
    after = None
    while True:
        body = await gql(UNIT_YEAR, admin, {"year": made.year, "after": after})
        assert "errors" not in body, body
        page = body["data"]["dualUnitYearEnd"]
        units += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(units) == 62
    assert sum(u["members"] for u in units) == 1_820
    assert sum(u["posts"] for u in units) == 1_188  # building heads only: the dataset has no volunteer posts
    assert sum(u["participations"] for u in units) == made.present
    assert sum(u["belowMinimum"] for u in units) == 182
    body = await gql(MEMBER_YEAR, admin, {"year": made.year})
    assert body["data"]["dualYearEnd"]["totalCount"] in (None, 1_820), body
    below = await gql(MEMBER_YEAR, admin, {"year": made.year, "below": True})
    assert all(e["node"]["belowMinimum"] for e in below["data"]["dualYearEnd"]["edges"])
    body = await gql(COVERAGE, bearer(settings, other, Role.TENANT_ADMIN))  # another tenant: nothing
    assert body["data"]["dualCoverage"]["total"]["members"] == 0


COVERAGE = """{ dualCoverage { total { buildings withAnyHead withOnlineHead withOfflineHead withoutHead members units }
  streets { figures { members } } } }"""
UNIT_YEAR = """query($year: Int!, $after: String) { dualUnitYearEnd(year: $year, first: 50, after: $after) {
  edges { node { members posts participations belowMinimum } } pageInfo { hasNextPage endCursor } } }"""
MEMBER_YEAR = """query($year: Int!, $below: Boolean) { dualYearEnd(year: $year, first: 20, belowMinimumOnly: $below) {
  totalCount edges { node { belowMinimum participations } } } }"""


async def test_the_benchmark_shape_is_checked_before_anything_is_made(app):
    tenant = await create_tenant(slug="shuangluan", name="承德市双滦区", preset="shuangluan")
    with tenant_context(tenant.id):
        with pytest.raises(ValueError):
            await seed_shuangluan_sized(communities=10, activities=50, activities_per_member=6)  # 5 a community
        with pytest.raises(ValueError):
            await seed_shuangluan_sized(members=10, building_heads=11)
        small = await seed_shuangluan_sized(units=3, members=40, building_heads=12, communities=4,
                                            activities_per_member=2, activities=8, year=2026, prefix="t")
    assert (small.signups, small.members_below_minimum) == (80, 40)  # two sign-ups: all below 5
    async with tenant_transaction(tenant.id):
        assert await Signup.all().count() == 80 and await MemberPost.all().count() == 12
        first = await Activity.all().order_by("starts_at").first()
        assert first is not None and first.starts_at == datetime(2026, 1, 1, 19, tzinfo=BEIJING)
