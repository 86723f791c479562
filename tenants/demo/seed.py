"""Demo tenants from the source cities (see shared/DOMAIN.md): each with its preset configuration and some
territory (streets down to households, companies and contracts) imported from ``tenants/presets/demo/``.
Seeding is idempotent: a second start changes nothing."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from importlib import resources
from typing import Any

from tenants import clock
from tenants.assessment.manager_history import assign_contract_manager
from tenants.bonds import service as bonds
from tenants.bonds.models import BondTransaction
from tenants.bonds.reads import required_fen
from tenants.config.service import effective_config
from tenants.dual.models import (
    Activity,
    MemberPost,
    MemberPostKind,
    MemberRegistration,
    RegistrationStatus,
    UnitRegistration,
)
from tenants.meetings import decisions as meeting_decisions
from tenants.meetings import meetings
from tenants.meetings.models import Meeting
from tenants.points import earning, partners, vouchers
from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.models import Tenant
from tenants.tenancy.roles import Role
from tenants.tenancy.service import create_tenant, current_zone, get_tenant_by_slug
from tenants.territory.access import Access, resolve
from tenants.territory.importer import import_territory
from tenants.territory.managers import create_manager
from tenants.territory.models import Community, Compound, Household, Street
from tenants.territory.parties import (
    Partner,
    PropertyCompany,
    PropertyContract,
    PropertyManager,
    Unit,
    UnitKind,
    WorkUnit,
    WorkUnitKind,
)
from tenants.territory.parties_service import create_unit
from tenants.territory.people import Person, Post, PostKind
from tenants.territory.people_service import Claims, assign_post, claims_for, create_person
from tenants.tickets import intake, workflow
from tenants.tickets.models import Ticket

# slug, name, parent slug, preset
DEMO_TENANTS: list[tuple[str, str, str | None, str]] = [
    ("zhangjiakou", "张家口市", None, "zhangjiakou"),
    ("xuanhua", "宣化区", "zhangjiakou", "xuanhua"),
    ("xiahuayuan", "下花园区", "zhangjiakou", "xiahuayuan"),
    ("linshu", "临沭县", None, "linshu"),
    ("shuangluan", "承德市双滦区", None, "shuangluan"),
    ("sanbai", "XX市（三个百分百）", None, "sanbai"),
]
ADMIN = Access(roles=frozenset({Role.TENANT_ADMIN}))


@dataclass(frozen=True)
class DemoUser:
    tenant: str
    label: str
    claims: Claims


async def seed_demo() -> list[DemoUser]:
    """Create the demo tenants, their territory and a few people; return the demo users to print tokens for."""
    users: list[DemoUser] = []
    for slug, name, parent, preset in DEMO_TENANTS:
        tenant = await get_tenant_by_slug(slug)
        if tenant is None:
            tenant = await create_tenant(slug=slug, name=name, parent_slug=parent, preset=preset, actor="demo")
        data = (resources.files("tenants.presets") / "demo" / f"{slug}.csv").read_bytes()
        with tenant_context(tenant.id):
            report = await import_territory(access=ADMIN, data=data, fmt="csv", actor="demo")
            if report.errors:
                raise RuntimeError(f"demo territory of {slug} is invalid: {report.errors[:3]}")
            labels = await _people(tenant)
            await _units(tenant)
            await _tickets(tenant)
            await _bonds(tenant)
            labels += await _points(tenant)
            labels += await _dual(tenant)
            await _managers(tenant)
            await _meetings(tenant)
            users += await _claims(tenant, labels)
    return users


async def _claims(tenant: Tenant, labels: list[tuple[str, str]]) -> list[DemoUser]:
    """The demo users' claims once everything is seeded (the resident is also a volunteer where points are on)."""
    async with tenant_transaction(tenant.id):
        return [DemoUser(tenant.slug, label, await claims_for(await Person.get(user_id=uid))) for label, uid in labels]


# The county departments the presets' responsibility matrices name by code (由谁干), and the offices every county has.
DEMO_UNITS = {
    "城管": ("county_department", "综合行政执法局（城管）"),
    "水务": ("county_department", "水务局"),
    "住建": ("housing_dept", "住房和城乡建设局"),
    "效能办": ("efficiency_office", "作风效能办"),
}


async def _units(tenant: Tenant) -> None:
    """The units a ticket of the tenant's taxonomy can go to, once: those its matrix names, and the offices."""
    async with tenant_transaction(tenant.id):
        wanted = dict(DEMO_UNITS)
        for category in await _taxonomy():
            for item in category.items:
                for unit, code in [(item.unit, item.unit_code), *((p.unit, p.unit_code) for p in item.partners)]:
                    if code:
                        wanted.setdefault(code, (unit, f"{code}部门"))
        on_file = set(await Unit.all().values_list("code", flat=True))
        for code, (kind, name) in wanted.items():
            if code not in on_file:
                await create_unit(access=ADMIN, actor="demo", kind=UnitKind(kind), code=code, name=name)


async def _bonds(tenant: Tenant) -> None:
    """Where bonds are on (临沭), each contract's firm has paid in its required bond, once."""
    async with tenant_transaction(tenant.id):
        doc = (await effective_config()).document
        if not doc.bonds.enabled or await BondTransaction.exists():
            return
        for contract in await PropertyContract.all().order_by("id"):
            amount = required_fen(contract.annual_fee_fen, doc.bonds.ratio_percent)
            if amount > 0:
                await bonds.deposit(
                    access=ADMIN,
                    actor="demo",
                    contract_id=contract.id,
                    amount_fen=amount,
                    reference=f"DEMO-{contract.id}",
                    idempotency_key=f"demo-{contract.id}",
                )


async def _tickets(tenant: Tenant) -> None:
    """A few grievances from the demo resident, once: one waiting for dispatch, one dispatched."""
    async with tenant_transaction(tenant.id):
        if await Ticket.exists():
            return
        resident = await Person.get(user_id=f"{tenant.slug}-resident")
        household = await Household.get(id=resident.household_id)
        access = await resolve(frozenset({Role.RESIDENT}), [f"household:{household.id}/resident"], resident.user_id)
        items = [i.code for c in (await _taxonomy()) for i in c.items][:2]
        for n, item in enumerate(items):
            ticket = await intake.report(
                access=access,
                actor=resident.user_id,
                item_code=item,
                description="演示工单：楼道灯不亮，晚上出行不便" if n == 0 else "演示工单：请尽快处理",
                compound_id=household.compound_id,
            )
            if n == 1 and ticket.state.value == "reported":
                await workflow.dispatch(access=ADMIN, actor="demo", ticket_id=ticket.id)


async def _taxonomy() -> list:
    return (await effective_config()).document.tickets.taxonomy


async def _people(tenant: Tenant) -> list[tuple[str, str]]:
    """A street officer, a property company's staff member and a resident, with their posts."""
    async with tenant_transaction(tenant.id):
        street = await Street.all().order_by("id").first()
        company = await PropertyCompany.all().order_by("id").first()
        household = await Household.all().order_by("id").first()
        assert street and company and household
        wanted = [
            ("street", f"{tenant.slug}-street", "街道干部", None, PostKind.STREET_OFFICER, "street", street.id),
            ("company", f"{tenant.slug}-company", "物业员工", None, PostKind.PROPERTY_COMPANY, "company", company.id),
            ("resident", f"{tenant.slug}-resident", "居民", household.id, None, None, None),
        ]
        out = []
        for label, user_id, name, household_id, kind, target_kind, target_id in wanted:
            person = await Person.get_or_none(user_id=user_id)
            if person is None:
                person = await create_person(
                    access=ADMIN, actor="demo", user_id=user_id, name=name, household_id=household_id
                )
                if kind is not None:
                    await assign_post(
                        access=ADMIN,
                        actor="demo",
                        person_id=person.id,
                        kind=kind,
                        target_kind=target_kind,
                        target_id=target_id,
                    )
            out.append((label, user_id))
        return out


# Where points are on: the partners that take vouchers, the fund that pays them, and the demo resident's points.
DEMO_PARTNERS = (("demo_canteen", "长者食堂（演示）", "canteen"), ("demo_shop", "爱心超市（演示）", "merchant"))
DEMO_FUND_FEN = 1_000_000  # 10,000 yuan in the points fund


async def _points(tenant: Tenant) -> list[tuple[str, str]]:
    """Where points are on, once: a canteen and a shop that take vouchers, a canteen staff member (who verifies
    them), a funded points fund, and the demo resident as a volunteer with a week of volunteering points (awarded
    by hand over the last days, within the rule's caps) to redeem."""
    async with tenant_transaction(tenant.id):
        points = (await effective_config()).document.points
        if not points.enabled:
            return []
        if not await Partner.exists(code=DEMO_PARTNERS[0][0]):
            resident = await Person.get(user_id=f"{tenant.slug}-resident")
            household = await Household.get(id=resident.household_id)
            for code, name, kind in DEMO_PARTNERS:
                await partners.create_partner(
                    access=ADMIN, actor="demo", code=code, name=name, kind=kind, community_id=household.community_id
                )
            await vouchers.fund(access=ADMIN, actor="demo", amount_fen=DEMO_FUND_FEN, idempotency_key="demo-fund")
            await _volunteer_points(points, resident, household)
        staff = await Person.get_or_none(user_id=f"{tenant.slug}-merchant")
        if staff is None:
            canteen = await Partner.get(code=DEMO_PARTNERS[0][0])
            staff = await create_person(access=ADMIN, actor="demo", user_id=f"{tenant.slug}-merchant", name="食堂员工")
            await assign_post(
                access=ADMIN, actor="demo", person_id=staff.id, kind=PostKind.PARTNER_STAFF, target_kind="partner",
                target_id=canteen.id,
            )
        return [("merchant", staff.user_id)]


async def _volunteer_points(points, resident: Person, household: Household) -> None:  # type: ignore[no-untyped-def]
    rule = next((r for r in points.earning_rules if r.on == "manual" and "volunteer" in r.earners), None)
    if rule is None:
        return
    today = await clock.today()
    if not await Post.exists(person_id=resident.id, kind=PostKind.VOLUNTEER):
        await assign_post(
            access=ADMIN, actor="demo", person_id=resident.id, kind=PostKind.VOLUNTEER, target_kind="community",
            target_id=household.community_id, starts_on=today - timedelta(days=30),
        )
    per_day = rule.daily_cap // rule.points
    for back in range(1, 7):
        for n in range(per_day):
            await earning.award_manually(
                access=ADMIN, actor="demo", person_id=resident.id, rule_code=rule.code, reason="社区志愿服务（演示）",
                occurred_on=today - timedelta(days=back), idempotency_key=f"demo-volunteer-{back}-{n}",
            )


# 双报到 where it is on: a community worker of the demo resident's community (talks and the emergency's first group
# reach them), a work unit registered there with its contact (who reads its members' figures), two in-service party
# members living there and registered (approved), the first an online building head of their building, and an open
# activity tomorrow at 19:00 tenant time (outside working hours).
# Rows are made through the models (the 双报到 services are built alongside this seed).
DEMO_WORK_UNIT = ("demo_unit", "区文明办（演示）", "区文明办党支部")


async def _dual(tenant: Tenant) -> list[tuple[str, str]]:
    """Once, where 双报到 is on; the party member and the unit's contact are demo users."""
    async with tenant_transaction(tenant.id):
        dual = (await effective_config()).document.party.dual_registration
        if not dual.enabled:
            return []
        users = [("member", f"{tenant.slug}-member"), ("unit_contact", f"{tenant.slug}-unit-contact"),
                 ("community_worker", f"{tenant.slug}-community-worker")]
        resident = await Person.get(user_id=f"{tenant.slug}-resident")
        household = await Household.get(id=resident.household_id)
        community = await Community.get(id=household.community_id)
        if not await Person.exists(user_id=users[2][1]):  # before the once-check: demos seeded earlier get one too
            worker = await create_person(access=ADMIN, actor="demo", user_id=users[2][1], name="社区工作者")
            await assign_post(access=ADMIN, actor="demo", person_id=worker.id, kind=PostKind.COMMUNITY_WORKER,
                              target_kind="community", target_id=community.id)
        if await WorkUnit.exists(code=DEMO_WORK_UNIT[0]):
            return users
        at, today = clock.now(), await clock.today()
        place = {"community_id": community.id, "street_id": community.street_id}
        decided: dict[str, Any] = {"status": RegistrationStatus.APPROVED, "created_by": "demo", "created_at": at,
                                   "decided_by": "demo", "decided_at": at}
        code, name, party_org = DEMO_WORK_UNIT
        unit = await WorkUnit.create(kind=WorkUnitKind.ORGAN, code=code, name=name, party_org=party_org,
                                     contact_name="报到单位联络人")
        contact = await create_person(access=ADMIN, actor="demo", user_id=users[1][1], name="报到单位联络人")
        await assign_post(access=ADMIN, actor="demo", person_id=contact.id, kind=PostKind.WORK_UNIT_CONTACT,
                          target_kind="work_unit", target_id=unit.id)
        await UnitRegistration.create(work_unit_id=unit.id, resources=["志愿服务", "文明宣传"], agreement_from=today,
                                      **place, **decided)
        members = ((users[0][1], "在职党员"), (f"{tenant.slug}-member-2", "在职党员二"))
        for n, (user_id, person_name) in enumerate(members):
            person = await create_person(access=ADMIN, actor="demo", user_id=user_id, name=person_name,
                                         household_id=household.id, is_party_member=True)
            registration = await MemberRegistration.create(
                person_id=person.id, work_unit_id=unit.id, party_org=party_org, building_id=household.building_id,
                skills=["medical"] if n else [], starts_on=today, self_registered=n == 0, **place, **decided)
            if n == 0:
                await MemberPost.create(registration_id=registration.id, person_id=person.id,
                                        kind=MemberPostKind.ONLINE_BUILDING_HEAD, building_id=household.building_id,
                                        starts_on=today, created_by="demo", created_at=at, **place)
        starts = datetime.combine(today + timedelta(days=1), time(19), tzinfo=await current_zone())
        ends = starts + timedelta(hours=2)
        hours = dual.working_hours
        inside = (starts.isoweekday() in hours.weekdays and starts.strftime("%H:%M") >= hours.start
                  and ends.strftime("%H:%M") <= hours.end and ends.date() == starts.date())
        await Activity.create(
            title="楼道清洁志愿服务（演示）", kind="volunteer_service", place=f"{community.name}党群服务中心",
            starts_at=starts, ends_at=ends, capacity=20, posts_needed=[{"role": "楼道清洁", "count": 4}],
            outside_working_hours=not inside, checkin_key=secrets.token_hex(16), created_by="demo", created_at=at,
            **place,
        )
        return users


# Property managers 物业经理: one per firm on file, named on each of its contracts from the contract's first day.
async def _managers(tenant: Tenant) -> None:
    """Once: a manager for every firm with a contract, named on its contracts (no rating is published yet)."""
    async with tenant_transaction(tenant.id):
        if await PropertyManager.exists():
            return
        contracts = await PropertyContract.all().order_by("id")
        named: dict[int, int] = {}
        for contract in contracts:
            if contract.company_id not in named:
                firm = await PropertyCompany.get(id=contract.company_id)
                manager = await create_manager(access=ADMIN, actor="demo", company_id=firm.id,
                                               name=f"{firm.name[:20]}项目经理")
                named[firm.id] = manager.id
            await assign_contract_manager(access=ADMIN, actor="demo", contract_id=contract.id,
                                          manager_id=named[contract.company_id], starts_on=contract.starts_on,
                                          reason="")


# Joint meetings 联席会议 where they are on: the demo resident's community (or its first compound, at compound
# level) met on the 10th of last month, with every configured party, an agenda item and a decision owned by the
# compound's firm, due in 7 days (reminded by ``meetings_hourly``).
async def _meetings(tenant: Tenant) -> None:
    async with tenant_transaction(tenant.id):
        jm = (await effective_config()).document.party.joint_meeting
        if not jm.enabled or await Meeting.exists():
            return
        resident = await Person.get(user_id=f"{tenant.slug}-resident")
        household = await Household.get(id=resident.household_id)
        compound = await Compound.get(id=household.compound_id)
        contract = await PropertyContract.filter(compound_id=compound.id).order_by("-starts_on").first()
        today = await clock.today()
        held_on = (today.replace(day=1) - timedelta(days=1)).replace(day=10)
        names = {"community_party_org": "社区党委书记", "residents_committee": "居委会主任",
                 "owners_committee": "业委会主任", "property_company": "物业项目经理"}
        target = household.community_id if jm.level == "community" else compound.id
        meeting = await meetings.record_meeting(
            access=ADMIN, actor="demo", target_kind=jm.level, target_id=target, held_on=held_on,
            convenor="社区党委书记",
            attendance=[meetings.Attendance(party=p, names=[names.get(p, "代表")]) for p in jm.parties],
            agenda=[meetings.Agenda(text="小区环境整治与公共设施维修")], minutes="议定：一周内完成楼道杂物清理。",
        )
        if contract is not None:
            await meeting_decisions.add_decision(
                access=ADMIN, actor="demo", meeting_id=meeting.id, owner_kind="company", owner_id=contract.company_id,
                due_on=today + timedelta(days=7), description="清理楼道杂物，修复单元门禁",
            )
