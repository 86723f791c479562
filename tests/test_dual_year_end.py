"""双报到 year-end figures: a small 临沭 year checked by hand (members and work units), the minimum of 5 (4 is below),
23:30 on 31 December in Beijing counting for that year, who reads which rows, the job that sends each unit's contact
its roll-up once, and the CSV/XLSX files."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta

import pytest

from tenants.dual import rules, rules_scheduled, year_end
from tenants.dual.models import (
    Activity,
    ActivityStatus,
    MemberPost,
    MemberPostKind,
    MemberRegistration,
    RegistrationStatus,
)
from tenants.dual.rule_models import YearEndRun
from tenants.inbox.models import Notification
from tenants.scope import tenant_context, tenant_transaction
from tenants.territory.parties import WorkUnit, WorkUnitKind
from tenants.territory.people import Person, Post, PostKind
from tests.fixtures.callers import ADMIN
from tests.fixtures.dual_rules import activity, attend

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

NEW_YEAR_EVE = datetime(2025, 12, 31, 15, 30, tzinfo=UTC)  # 23:30 on 31 December 2025 in Beijing
NEW_YEAR = datetime(2025, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January 2026 in Beijing: the next year
MEMBERS = """
query($year: Int!, $below: Boolean, $first: Int, $after: String, $unit: ID) {
  dualYearEnd(year: $year, belowMinimumOnly: $below, first: $first, after: $after, workUnitId: $unit) {
    nodes { name participations minutes outsideMinutes absences talks notices belowMinimum workUnitId }
    pageInfo { hasNextPage endCursor }
  }
}
"""
UNITS = """
query($year: Int!) { dualUnitYearEnd(year: $year) { nodes { code members posts participations belowMinimum } } }
"""
MINE = "query($year: Int!) { myDualYear(year: $year) { name participations belowMinimum } }"


async def _year(w) -> None:
    """2025 in 临沭 (weekly Saturday 09:00-11:00 Beijing activities in C1 from 1 March unless said):
    pm-1: present 4 times, then at 23:30 on 31 December (outside working hours, 120 minutes): 5, not below.
    pm-2: present 4 times, absent twice in a row (one talk), and present at 00:30 on 1 January 2026: 4, below.
    pm-3 (U2): nothing: 0, below. pm-4 (C3): present once for 90 minutes; present at a cancelled one (not counted).
    Posts: pm-1 an offline building head since March 2025; pm-2 a volunteer post ended in 2024 (not held in 2025).
    """
    ids, person = w["ids"], w["person"]
    pm1, pm2, pm3, pm4 = (person[f"pm-{i}"] for i in range(1, 5))
    start = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
    async with tenant_transaction(w["tenant"].id):
        for i in range(6):
            a = await activity(ids, start + timedelta(days=7 * i))
            if i < 4:
                await attend(a, pm1, "present")
            await attend(a, pm2, "present" if i < 4 else "absent")
        eve = await activity(ids, NEW_YEAR_EVE, outside=True)
        await attend(eve, pm1, "present")
        after = await activity(ids, NEW_YEAR, outside=True)
        await attend(after, pm2, "present")
        c3 = await activity(ids, start, community="C3", minutes=90)
        await attend(c3, pm4, "present")
        called_off = await activity(ids, start + timedelta(days=1), community="C3", status=ActivityStatus.CANCELLED)
        await attend(called_off, pm4, "present")
        for a in await Activity.filter(status=ActivityStatus.CLOSED).order_by("starts_at", "id"):
            await rules.apply_absence_rules(a.id)
        for person_id, kind, starts, ends in (
            (pm1, MemberPostKind.OFFLINE_BUILDING_HEAD, date(2025, 3, 1), None),
            (pm2, MemberPostKind.VOLUNTEER, date(2024, 3, 1), date(2024, 12, 31)),
        ):
            await MemberPost.create(registration_id=0, person_id=person_id, community_id=ids["C1"],
                                    street_id=ids["S1"], kind=kind, building_id=ids["B1"], starts_on=starts,
                                    ends_on=ends, created_by="seed", created_at=NEW_YEAR)
    assert pm3  # registered, took part in nothing


async def test_a_small_year_by_hand_members_and_units(dual_rules_world, gql):
    w = dual_rules_world["linshu"]
    await _year(w)
    rows = (await gql(MEMBERS, w["admin"], {"year": 2025}))["data"]["dualYearEnd"]["nodes"]
    by_name = {r["name"]: r for r in rows}
    assert [r["name"] for r in rows] == ["党员pm-1", "党员pm-2", "党员pm-3", "党员pm-4"]
    assert by_name["党员pm-1"] == {"name": "党员pm-1", "participations": 5, "minutes": 600, "outsideMinutes": 120,
                                  "absences": 0, "talks": 0, "notices": 0, "belowMinimum": False,
                                  "workUnitId": str(w["ids"]["U1"])}
    two = by_name["党员pm-2"]
    assert (two["participations"], two["minutes"], two["absences"], two["talks"], two["belowMinimum"]) == (
        4, 480, 2, 1, True)
    assert (by_name["党员pm-3"]["participations"], by_name["党员pm-3"]["belowMinimum"]) == (0, True)
    four = by_name["党员pm-4"]
    assert (four["participations"], four["minutes"], four["belowMinimum"]) == (1, 90, True)
    # 2026 holds pm-2's 00:30 on 1 January only.
    next_year = (await gql(MEMBERS, w["admin"], {"year": 2026}))["data"]["dualYearEnd"]["nodes"]
    assert [(r["name"], r["participations"]) for r in next_year if r["participations"]] == [("党员pm-2", 1)]
    units = (await gql(UNITS, w["admin"], {"year": 2025}))["data"]["dualUnitYearEnd"]["nodes"]
    assert units == [
        {"code": "U1", "members": 3, "posts": 1, "participations": 10, "belowMinimum": 2},
        {"code": "U2", "members": 1, "posts": 0, "participations": 0, "belowMinimum": 1},
    ]
    below = (await gql(MEMBERS, w["admin"], {"year": 2025, "below": True}))["data"]["dualYearEnd"]["nodes"]
    assert [r["name"] for r in below] == ["党员pm-2", "党员pm-3", "党员pm-4"]
    page = (await gql(MEMBERS, w["admin"], {"year": 2025, "first": 3}))["data"]["dualYearEnd"]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await gql(MEMBERS, w["admin"], {"year": 2025, "first": 3, "after": page["pageInfo"]["endCursor"]})
    assert [r["name"] for r in rest["data"]["dualYearEnd"]["nodes"]] == ["党员pm-4"]


async def test_each_caller_reads_their_own_rows_and_another_tenant_none(dual_rules_world, gql):
    w = dual_rules_world["linshu"]
    await _year(w)

    async def names(token, **extra):
        body = await gql(MEMBERS, token, {"year": 2025, **extra})
        return [r["name"] for r in body["data"]["dualYearEnd"]["nodes"]]

    assert await names(w["uc1"]) == ["党员pm-1", "党员pm-2", "党员pm-4"]
    assert await names(w["uc2"]) == ["党员pm-3"]
    assert await names(w["uc2"], unit=str(w["ids"]["U1"])) == []
    assert await names(w["community_worker"]) == ["党员pm-1", "党员pm-2"]
    assert await names(w["street_officer_s2"]) == ["党员pm-4"]
    assert await names(w["member_2"]) == ["党员pm-2"]
    mine = (await gql(MINE, w["member_2"], {"year": 2025}))["data"]["myDualYear"]
    assert mine == {"name": "党员pm-2", "participations": 4, "belowMinimum": True}
    assert (await gql(MINE, w["member_1"], {"year": 2024}))["data"]["myDualYear"] is None
    units = (await gql(UNITS, w["uc1"], {"year": 2025}))["data"]["dualUnitYearEnd"]["nodes"]
    assert [u["code"] for u in units] == ["U1"] and units[0]["members"] == 3
    refused = await gql(MEMBERS, w["resident"], {"year": 2025})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = await gql(MEMBERS, w["admin"], {"year": 12025})
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_INPUT"
    other = dual_rules_world["sanbai"]
    theirs = (await gql(MEMBERS, other["admin"], {"year": 2025}))["data"]["dualYearEnd"]["nodes"]
    assert [(r["name"], r["participations"]) for r in theirs] == [("党员pm-9", 0)]


async def test_the_year_end_job_sends_each_units_contact_its_roll_up_once(dual_rules_world):
    w = dual_rules_world["linshu"]
    await _year(w)
    with tenant_context(w["tenant"].id):
        first = await rules_scheduled.year_end_reports()
        second = await rules_scheduled.year_end_reports()
        early = await rules_scheduled.year_end_reports(now=datetime(2026, 1, 4, 18, 59, tzinfo=UTC))  # 02:59 5 Jan
    assert (first["year"], first["sent"], second["sent"]) == (2025, 2, 0)
    assert early == {"year": 2025, "due": False}
    async with tenant_transaction(w["tenant"].id):
        sent = await Notification.filter(kind=rules_scheduled.YEAR_END_KIND).order_by("recipient")
        assert [n.recipient for n in sent] == ["uc-1", "uc-2"]
        assert "报到党员 3 人，担任岗位 1 个，参加社区活动 10 人次，未达到年度最低次数 2 人" in sent[0].body
        assert await YearEndRun.filter(year=2025).count() == 2


async def test_a_unit_without_members_in_the_year_gets_no_report_for_it(dual_rules_world):
    """A unit created since (its contact appointed in November) is not sent the year before's empty report, then or
    later: it is recorded with no recipients."""
    w = dual_rules_world["linshu"]
    await _year(w)
    with tenant_context(w["tenant"].id):
        assert (await rules_scheduled.year_end_reports())["sent"] == 2
    async with tenant_transaction(w["tenant"].id):
        unit = await WorkUnit.create(kind=WorkUnitKind.ORGAN, code="new", name="新单位")
        contact = await Person.create(user_id="uc-new", name="新联络人")
        await Post.create(person_id=contact.id, kind=PostKind.WORK_UNIT_CONTACT, target_kind="work_unit",
                          target_id=unit.id, starts_on=date(2026, 11, 20))
    late = datetime(2026, 11, 29, 19, 0, tzinfo=UTC)  # 03:00 on 30 November in Beijing
    with tenant_context(w["tenant"].id):
        assert await rules_scheduled.year_end_reports(now=late) == {"year": 2025, "sent": 0, "without_members": 1}
        assert (await rules_scheduled.year_end_reports(now=late + timedelta(hours=1)))["sent"] == 0
    async with tenant_transaction(w["tenant"].id):
        assert not await Notification.filter(recipient="uc-new").exists()
        assert (await YearEndRun.get(year=2025, work_unit_id=unit.id)).recipients == 0


async def test_a_run_after_a_crash_sends_only_the_units_not_recorded(dual_rules_world):
    """A unit whose run row committed was sent (row and messages share a transaction): only the other is sent."""
    w = dual_rules_world["linshu"]
    async with tenant_transaction(w["tenant"].id):
        await YearEndRun.create(year=2025, work_unit_id=w["ids"]["U1"], recipients=1, sent_at=NEW_YEAR)
    with tenant_context(w["tenant"].id):
        assert (await rules_scheduled.year_end_reports())["sent"] == 1
    async with tenant_transaction(w["tenant"].id):
        sent = await Notification.filter(kind=rules_scheduled.YEAR_END_KIND).values_list("recipient", flat=True)
        assert sent == ["uc-2"]


async def test_the_files_hold_the_rows_the_caller_reads(dual_rules_world, client):
    w = dual_rules_world["linshu"]
    await _year(w)

    async def get(path, token):
        return await client.get(path, headers={"Authorization": f"Bearer {token}"})

    got = await get("/exports/dual/members/2025.csv", w["admin"])
    assert got.status_code == 200
    rows = list(csv.reader(got.content.decode("utf-8-sig").splitlines()))
    assert rows[0] == ["年度 year 2025", "行数 rows 4"]
    assert [(r[1], r[5], r[6], r[7], r[11]) for r in rows[2:6]] == [
        ("党员pm-1", "5", "600", "120", ""), ("党员pm-2", "4", "480", "0", "是 yes"),
        ("党员pm-3", "0", "0", "0", "是 yes"), ("党员pm-4", "1", "90", "0", "是 yes")]
    assert rows[6][0] == "合计 total" and rows[6][5] == "10" and rows[6][11] == "3"
    theirs = list(csv.reader((await get("/exports/dual/units/2025.csv", w["uc2"])).content.decode("utf-8-sig")
                             .splitlines()))
    assert theirs[2] == [str(w["ids"]["U2"]), "U2", "U2单位", "1", "0", "0", "1"] and len(theirs) == 4
    xlsx = await get("/exports/dual/units/2025.xlsx", w["uc1"])
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    assert (await get("/exports/dual/members/2025.csv", w["member_1"])).status_code == 403
    assert (await get("/exports/dual/members/20x5.csv", w["admin"])).status_code == 400


async def test_the_services_read_the_same_rows(dual_rules_world):
    w = dual_rules_world["linshu"]
    await _year(w)
    async with tenant_transaction(w["tenant"].id):
        rows = await year_end.export_members(access=ADMIN, year=2025)
        assert [r.participations for r in rows] == [5, 4, 0, 1]


async def test_a_member_who_moved_counts_for_the_latest_unit_whoever_asks(dual_rules_world, gql, client):
    """The reviewer's case: pm-1 at U1 until 30 June 2025, then at U2, present 6 times in 2025. Their year is U2's
    for the administration, U2's contact and U1's contact alike: U1's figures are the same for U1's contact and the
    admin, in the roll-up, the member rows, the file and the year-end message."""
    w = dual_rules_world["linshu"]
    ids, pm1 = w["ids"], w["person"]["pm-1"]
    async with tenant_transaction(w["tenant"].id):
        old = await MemberRegistration.get(person_id=pm1)
        old.status, old.ends_on = RegistrationStatus.MOVED, date(2025, 6, 30)
        await old.save(update_fields=["status", "ends_on"])
        await MemberRegistration.create(
            person_id=pm1, community_id=ids["C1"], street_id=ids["S1"], work_unit_id=ids["U2"], party_org="党支部",
            status=RegistrationStatus.APPROVED, starts_on=date(2025, 7, 1), replaces_id=old.id, created_by="seed",
            created_at=datetime(2025, 7, 1, tzinfo=UTC))
        for month in (3, 4, 5, 8, 9, 10):
            await attend(await activity(ids, datetime(2025, month, 1, 1, 0, tzinfo=UTC)), pm1, "present")

    async def units(token) -> dict[str, dict]:
        rows = (await gql(UNITS, token, {"year": 2025}))["data"]["dualUnitYearEnd"]["nodes"]
        return {r["code"]: r for r in rows}

    by_admin = await units(w["admin"])
    assert by_admin["U1"] == {"code": "U1", "members": 2, "posts": 0, "participations": 0, "belowMinimum": 2}
    assert by_admin["U2"] == {"code": "U2", "members": 2, "posts": 0, "participations": 6, "belowMinimum": 1}
    assert await units(w["uc1"]) == {"U1": by_admin["U1"]}
    assert (await units(w["uc2"]))["U2"] == by_admin["U2"]

    async def names(token, **extra) -> list[tuple[str, int, str]]:
        body = await gql(MEMBERS, token, {"year": 2025, **extra})
        return [(r["name"], r["participations"], r["workUnitId"]) for r in body["data"]["dualYearEnd"]["nodes"]]

    moved = ("党员pm-1", 6, str(ids["U2"]))
    assert moved in await names(w["admin"])
    assert await names(w["admin"], unit=str(ids["U1"])) == await names(w["uc1"]) == [
        ("党员pm-2", 0, str(ids["U1"])), ("党员pm-4", 0, str(ids["U1"]))]
    assert moved in await names(w["uc2"]) and moved in await names(w["admin"], unit=str(ids["U2"]))
    got = await client.get("/exports/dual/units/2025.csv", headers={"Authorization": f"Bearer {w['uc1']}"})
    rows = list(csv.reader(got.content.decode("utf-8-sig").splitlines()))
    assert rows[2] == [str(ids["U1"]), "U1", "U1单位", "2", "0", "0", "2"]
    with tenant_context(w["tenant"].id):
        await rules_scheduled.year_end_reports()
    async with tenant_transaction(w["tenant"].id):
        sent = {n.recipient: n.body for n in await Notification.filter(kind=rules_scheduled.YEAR_END_KIND)}
        assert "报到党员 2 人，担任岗位 0 个，参加社区活动 0 人次，未达到年度最低次数 2 人" in sent["uc-1"]
        assert "报到党员 2 人，担任岗位 0 个，参加社区活动 6 人次，未达到年度最低次数 1 人" in sent["uc-2"]
