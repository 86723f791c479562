"""Micro-wishes 微心愿: post -> claim -> fulfil -> confirm through GraphQL with the timeline and the resident's name
masked for claimants; the hourly job escalates an unclaimed wish once, reminds the claimant once, marks overdue;
who may see and act on what, hostile input, and another tenant."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tenants import clock
from tenants.config.service import change_config
from tenants.dual import wish_scheduled, wishes
from tenants.dual.list_models import Wish, WishEvent, WishStatus
from tenants.errors import DomainError
from tenants.inbox.models import Notification
from tenants.scope import tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.people import Person, Post, PostKind
from tests.fixtures.callers import ADMIN, bearer
from tests.fixtures.territory import staff

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

FIELDS = "id databaseId status residentName title claimant dueOn rating evidence"


def _tokens(w, settings):
    return {
        "res1": bearer(settings, w.t, Role.RESIDENT, f"household:{w.ids['H1']}", user_id="res1"),
        "pm1": bearer(settings, w.t, Role.PARTY_MEMBER, user_id="pm1"),
        "pm9": bearer(settings, w.t, Role.PARTY_MEMBER, user_id="pm9"),
        "wu1": bearer(settings, w.t, Role.WORK_UNIT_CONTACT, f"work_unit:{w.ids['W1']}", user_id="wu1"),
        "cw1": bearer(settings, w.t, Role.COMMUNITY_WORKER, f"community:{w.ids['C1']}", user_id="cw1"),
        "other": bearer(settings, w.other, Role.TENANT_ADMIN, user_id="admin"),
    }


def _code(body: dict) -> str:
    assert body.get("errors"), body
    return body["errors"][0]["extensions"]["code"]


async def _post(w, who: str = "res1", **kw) -> Wish:
    async with tenant_transaction(w.t.id):
        return await wishes.post_wish(access=w.caller(who), actor=who, title=kw.pop("title", "换灯泡"),
                                      description=kw.pop("description", "楼道灯坏了，行动不便"), **kw)


async def _act(w, fn, who: str, **kw):
    async with tenant_transaction(w.t.id):
        return await fn(access=w.caller(who), actor=who, **kw)


async def _run(w, days: int) -> dict:
    async with tenant_transaction(w.t.id):
        return await wish_scheduled.hourly(now=clock.now() + timedelta(days=days))


async def _inbox(w, kind: str) -> list[tuple[str, str]]:
    async with tenant_transaction(w.t.id):
        return [(n.recipient, n.body) for n in await Notification.filter(kind=kind).order_by("id")]


async def test_post_claim_fulfil_confirm_through_graphql_with_timeline_and_masked_name(list_world, gql, settings):
    w = list_world
    tk = _tokens(w, settings)
    posted = await gql(f'mutation {{ postWish(input: {{title: "买药", description: "腿脚不便，请帮忙买降压药"}}) '
                       f'{{ {FIELDS} }} }}', tk["res1"])
    wish = posted["data"]["postWish"]
    assert (wish["status"], wish["residentName"], wish["claimant"]) == ("POSTED", "张居民1", None)
    # A member registered at C1 sees it (name masked); a member of C3 does not; the other tenant sees nothing.
    seen = await gql(f"{{ wishes(status: POSTED) {{ nodes {{ {FIELDS} }} }} }}", tk["pm1"])
    assert [(n["id"], n["residentName"]) for n in seen["data"]["wishes"]["nodes"]] == [(wish["id"], "张*")]
    assert (await gql("{ wishes { nodes { id } } }", tk["pm9"]))["data"]["wishes"]["nodes"] == []
    assert [n["id"] for n in (await gql("{ wishes { nodes { id } } }", tk["other"]))["data"]["wishes"]["nodes"]] \
        != [wish["id"]]
    assert (await gql(f'{{ node(id: "{wish["id"]}") {{ id }} }}', tk["other"]))["data"]["node"] is None

    claimed = await gql(f'mutation {{ claimWish(id: "{wish["id"]}", workUnitId: "{w.ids["W1"]}") {{ {FIELDS} }} }}',
                        tk["wu1"])
    got = claimed["data"]["claimWish"]
    today = await _today(w)
    assert (got["status"], got["claimant"], got["dueOn"], got["residentName"]) == (
        "CLAIMED", f"work_unit:{w.ids['W1']}", (today + timedelta(days=30)).isoformat(), "张*")
    # Someone else cannot fulfil it; the claimant does, with https evidence.
    fulfil = 'mutation { fulfilWish(id: "%s", evidence: ["https://img.example.cn/a.jpg"], note: "已送达") { %s } }'
    assert _code(await gql(fulfil % (wish["id"], FIELDS), tk["pm1"])) in ("FORBIDDEN", "NOT_FOUND")
    done = await gql(fulfil % (wish["id"], FIELDS), tk["wu1"])
    assert done["data"]["fulfilWish"]["status"] == "FULFILLED"
    confirmed = await gql(f'mutation {{ confirmWish(id: "{wish["id"]}", rating: 5) {{ {FIELDS} }} }}', tk["res1"])
    assert (confirmed["data"]["confirmWish"]["status"], confirmed["data"]["confirmWish"]["rating"]) == ("CONFIRMED", 5)
    # A confirmed wish is no longer the members' to see (not claimable, not theirs); its resident and staff see it.
    assert (await gql("{ wishes { nodes { id } } }", tk["pm1"]))["data"]["wishes"]["nodes"] == []
    staff = await gql(f"{{ wishes(status: CONFIRMED) {{ nodes {{ {FIELDS} }} }} }}", tk["cw1"])
    assert [n["residentName"] for n in staff["data"]["wishes"]["nodes"]] == ["张居民1"]
    timeline = await gql(f'{{ wishTimeline(id: "{wish["id"]}") {{ action actor }} }}', tk["res1"])
    assert [(e["action"], e["actor"]) for e in timeline["data"]["wishTimeline"]] == [
        ("posted", "res1"), ("claimed", "wu1"), ("fulfilled", "wu1"), ("confirmed", "res1")]
    assert _code(await gql(f'{{ wishTimeline(id: "{wish["id"]}") {{ action }} }}', tk["pm9"])) == "NOT_FOUND"
    # The claimant reads who acted by role, never the resident's user id.
    theirs = await gql(f'{{ wishTimeline(id: "{wish["id"]}") {{ action actor }} }}', tk["wu1"])
    assert [(e["action"], e["actor"]) for e in theirs["data"]["wishTimeline"]] == [
        ("posted", "resident"), ("claimed", "claimant"), ("fulfilled", "claimant"), ("confirmed", "resident")]


async def _today(w) -> date:
    async with tenant_transaction(w.t.id):
        return await clock.today()


async def test_unclaimed_wish_escalates_once_after_the_claim_days_and_stays_claimable(list_world):
    w = list_world
    wish = await _post(w)
    assert (await _run(w, 6))["escalated"] == 0  # 7 claim days (default): not yet
    assert (await _run(w, 7))["escalated"] == 1
    assert (await _run(w, 7))["escalated"] == 0  # a second run (or a concurrent one) tells nobody twice
    assert (await _run(w, 8))["escalated"] == 0
    told = await _inbox(w, wish_scheduled.ESCALATED_KIND)
    assert [r for r, _ in told] == ["cw1"] and f"#{wish.id}" in told[0][1]  # C1's worker only, once
    async with tenant_transaction(w.t.id):
        assert (await Wish.get(id=wish.id)).status == WishStatus.ESCALATED
        assert await WishEvent.filter(wish_id=wish.id, action="escalated").count() == 1
    claimed = await _act(w, wishes.claim_wish, "pm1", wish_id=wish.id)
    assert claimed.status == WishStatus.CLAIMED and claimed.claimant == f"person:{w.ids['pm1']}"
    async with tenant_transaction(w.t.id):  # the claimant reads roles; staff read user ids
        steps = await wishes.timeline(access=w.caller("pm1"), wish_id=wish.id)
        assert [(s.action, s.actor) for s in steps] == [
            ("posted", "resident"), ("claimed", "claimant"), ("escalated", "system")]  # the job ran "a week on"
        steps = await wishes.timeline(access=w.caller("cw1"), wish_id=wish.id)
        assert [s.actor for s in steps] == ["res1", "pm1", "system"]


async def test_claimant_is_reminded_once_before_the_due_day_then_the_wish_turns_overdue(list_world):
    w = list_world
    wish = await _post(w)
    claimed = await _act(w, wishes.claim_wish, "pm1", wish_id=wish.id)
    assert claimed.due_on == await _today(w) + timedelta(days=30)
    assert (await _run(w, 26))["reminded"] == 0  # due in 4 days; reminded 3 days before
    assert (await _run(w, 27))["reminded"] == 1
    assert (await _run(w, 28))["reminded"] == 0
    assert [r for r, _ in await _inbox(w, wish_scheduled.REMINDER_KIND)] == ["pm1"]
    assert (await _run(w, 30))["overdue"] == 0  # the due day itself is not overdue
    assert (await _run(w, 31))["overdue"] == 1
    assert (await _run(w, 31))["overdue"] == 0
    done = await _act(w, wishes.fulfil_wish, "pm1", wish_id=wish.id, evidence=["http://pic.example.cn/1"])
    assert done.status == WishStatus.FULFILLED  # an overdue wish is still fulfilled
    # Staff of the area confirm for the resident, without a rating (the rating is the resident's).
    with pytest.raises(DomainError) as rated:
        await _act(w, wishes.confirm_wish, "cw1", wish_id=wish.id, rating=4)
    assert rated.value.code == "INVALID_INPUT"
    with pytest.raises(DomainError) as outside:
        await _act(w, wishes.confirm_wish, "cw3", wish_id=wish.id)
    assert outside.value.code == "NOT_FOUND"
    assert (await _act(w, wishes.confirm_wish, "cw1", wish_id=wish.id)).status == WishStatus.CONFIRMED


async def test_hostile_and_out_of_place_requests_get_typed_errors(list_world, gql, settings):
    w = list_world
    tk = _tokens(w, settings)

    async def code(fn, who, **kw) -> str:
        with pytest.raises(DomainError) as err:
            await _act(w, fn, who, **kw)
        return err.value.code

    assert await code(wishes.post_wish, "res1", title="x" * 101, description="d") == "INVALID_INPUT"
    assert await code(wishes.post_wish, "res1", title="灯", description="a\x00b") == "INVALID_INPUT"
    assert await code(wishes.post_wish, "pm1", title="灯", description="d") == "FORBIDDEN"  # no resident role
    # Staff post for a resident of their area only; another tenant's person is nobody here.
    # Staff post for a resident they read only: any other person is NOT_FOUND, as one who does not exist (no oracle).
    for who, person in (("cw3", w.ids["res1"]), ("res1", w.ids["res2"]), ("cw3", 10**12)):
        assert await code(wishes.post_wish, who, title="灯", description="d", person_id=person) == "NOT_FOUND"
    for text, reason in (("a\x1bb", "control"), ("a\ud800", "surrogate")):
        with pytest.raises(DomainError) as bad:
            await _act(w, wishes.post_wish, "res1", title="灯", description=text)
        assert [p.reason for p in bad.value.problems] == [reason]
    assert await code(wishes.post_wish, "cw1", title="灯", description="d",
                      person_id=w.ids["other_person"]) == "NOT_FOUND"
    own = await _act(w, wishes.post_wish, "cw1", title="陪同就医", description="周三上午", person_id=w.ids["pm2"])
    assert own.person_id == w.ids["pm2"] and own.community_id == w.ids["C1"]
    assert await code(wishes.claim_wish, "pm2", wish_id=own.id) == "FORBIDDEN"  # one's own wish
    assert await code(wishes.claim_wish, "pm_pending", wish_id=own.id) == "NOT_FOUND"  # pending: sees nothing yet
    assert await code(wishes.claim_wish, "wu1", wish_id=own.id, work_unit_id=w.ids["W1"] + 999) == "NOT_REGISTERED"
    assert await code(wishes.claim_wish, "pm9", wish_id=own.id) == "NOT_FOUND"  # C3's member does not see it
    assert await code(wishes.claim_wish, "pm1", wish_id=w.ids["other_wish"]) == "NOT_FOUND"
    await _act(w, wishes.claim_wish, "pm1", wish_id=own.id)
    assert await code(wishes.claim_wish, "pm3", wish_id=own.id) == "NOT_FOUND"  # claimed: no longer open to pm3
    for links in ([], ["javascript:alert(1)"], ["ftp://x.cn/a"], ["https://a.cn/" + "x" * 600],
                  ["https://a.cn/ok"] * 11, ["https://a b.cn"]):
        assert await code(wishes.fulfil_wish, "pm1", wish_id=own.id, evidence=links) == "INVALID_INPUT", links
    body = await gql('mutation { claimWish(id: "V2lzaDox99") { id } }', tk["pm1"])
    assert _code(body) == "INVALID_INPUT"
    body = await gql(f'mutation {{ confirmWish(id: "{own.id}", rating: 9) {{ id }} }}', tk["res1"])
    assert _code(body) == "INVALID_INPUT"
    # The resident cancels before fulfilment; then nothing more happens to it.
    cancelled = await _act(w, wishes.cancel_wish, "pm2", wish_id=own.id, reason="已自行解决")
    assert cancelled.status == WishStatus.CANCELLED
    assert await code(wishes.fulfil_wish, "pm1", wish_id=own.id, evidence=["https://a.cn/1"]) == "ILLEGAL_TRANSITION"


async def test_another_tenant_sees_and_touches_nothing(list_world, gql, settings):
    w = list_world
    wish = await _post(w)
    tk = _tokens(w, settings)
    other_admin = tk["other"]
    body = await gql("{ wishes { nodes { databaseId title } } }", other_admin)
    assert [n["databaseId"] for n in body["data"]["wishes"]["nodes"]] == [str(w.ids["other_wish"])]
    assert _code(await gql(f'mutation {{ cancelWish(id: "{wish.id}") {{ id }} }}', other_admin)) == "NOT_FOUND"
    async with tenant_transaction(w.other.id):
        assert await Wish.filter(id=wish.id).count() == 0


async def test_a_tenant_with_dual_registration_off_gets_not_enabled_and_the_job_does_nothing(list_world):
    w = list_world
    wish = await _post(w)
    async with tenant_transaction(w.t.id):
        await change_config(access=ADMIN, actor="admin", comment="双报到 off",
                            set_values={"party": {"dual_registration": {"enabled": False}}})
    with pytest.raises(DomainError) as off:
        await _post(w)
    assert (off.value.code, off.value.details) == ("NOT_ENABLED", {"feature": "party.dual_registration"})
    assert await _run(w, 8) == {"enabled": False}
    async with tenant_transaction(w.t.id):
        assert (await Wish.get(id=wish.id)).status == WishStatus.POSTED  # what was recorded stays, untouched


async def _as(w, fn, access, **kw):
    async with tenant_transaction(w.t.id):
        return await fn(access=access, actor=access.user_id, **kw)


async def _refused(w, fn, access, **kw) -> tuple[str, str | None]:
    with pytest.raises(DomainError) as err:
        await _as(w, fn, access, **kw)
    return err.value.code, err.value.details.get("reason")


async def test_no_one_claims_or_confirms_their_own_wish_whatever_the_claimant(list_world):
    w = list_world
    wish = await _post(w)  # res1's
    res1_contact = w.both("res1", "wu1")  # res1 is also W1's contact
    assert await _refused(w, wishes.claim_wish, res1_contact, wish_id=wish.id, work_unit_id=w.ids["W1"]) == (
        "FORBIDDEN", "own_wish")
    await _act(w, wishes.claim_wish, "wu1", wish_id=wish.id, work_unit_id=w.ids["W1"])
    await _act(w, wishes.fulfil_wish, "wu1", wish_id=wish.id, evidence=["https://img.example.cn/a.jpg"])
    # Neither the resident behind the claiming unit nor C1's worker who is W1's contact confirms (or rates) it.
    assert await _refused(w, wishes.confirm_wish, res1_contact, wish_id=wish.id, rating=5) == (
        "FORBIDDEN", "own_claim")
    assert await _refused(w, wishes.confirm_wish, w.both("cw1", "wu1"), wish_id=wish.id) == ("FORBIDDEN", "own_claim")
    assert (await _act(w, wishes.confirm_wish, "cw1", wish_id=wish.id)).status == WishStatus.CONFIRMED


async def test_the_resident_reopens_a_disputed_fulfilment_and_the_claimant_is_told_of_it_and_of_a_cancel(
        list_world, gql, settings):
    w = list_world
    wish = await _post(w)
    await _act(w, wishes.claim_wish, "wu1", wish_id=wish.id, work_unit_id=w.ids["W1"])
    await _act(w, wishes.fulfil_wish, "wu1", wish_id=wish.id, evidence=["https://img.example.cn/a.jpg"])
    tk = _tokens(w, settings)
    reopen = 'mutation { reopenWish(id: "%s", reason: "%s") { status } }'
    assert _code(await gql(reopen % (wish.id, "还没送到"), tk["wu1"])) == "FORBIDDEN"  # not the claimant's to do
    assert _code(await gql(reopen % (wish.id, " "), tk["res1"])) == "INVALID_INPUT"
    assert (await gql(reopen % (wish.id, "还没送到"), tk["res1"]))["data"]["reopenWish"] == {"status": "CLAIMED"}
    async with tenant_transaction(w.t.id):
        steps = await wishes.timeline(access=w.caller("res1"), wish_id=wish.id)
    assert (steps[-1].action, steps[-1].actor, steps[-1].note) == ("reopened", "res1", "还没送到")
    told = await _inbox(w, wish_scheduled.CLAIMANT_KIND)
    assert [r for r, _ in told] == ["wu1"] and "还没送到" in told[0][1]
    assert (await _act(w, wishes.fulfil_wish, "wu1", wish_id=wish.id, evidence=["https://a.cn/2"])).status \
        == WishStatus.FULFILLED
    # A claimed wish cancelled: its claimant is told (without the resident's reason).
    other = await _post(w, title="修水龙头")
    await _act(w, wishes.claim_wish, "pm1", wish_id=other.id)
    await _act(w, wishes.cancel_wish, "res1", wish_id=other.id, reason="家人已修好")
    told = await _inbox(w, wish_scheduled.CLAIMANT_KIND)
    assert [r for r, _ in told] == ["wu1", "pm1"] and "家人已修好" not in told[1][1]


async def test_escalation_falls_back_to_the_streets_officers_then_the_tenants_admins(list_world):
    w = list_world
    today = await _today(w)
    async with tenant_transaction(w.t.id):
        await staff("adm", PostKind.TENANT_ADMIN, None, None)  # type: ignore[arg-type]
        c2 = {"community_id": w.ids["C2"], "street_id": w.ids["S1"], "person_id": w.ids["res1"], "title": "c2",
              "description": "C2 has no community worker", "created_by": "seed", "created_at": clock.now()}
        first = await Wish.create(posted_on=today, **c2)
    assert (await _run(w, 7))["escalated"] == 1
    async with tenant_transaction(w.t.id):
        await staff("so1", PostKind.STREET_OFFICER, "street", w.ids["S1"])
        second = await Wish.create(posted_on=today + timedelta(days=1), **c2)
    assert (await _run(w, 8))["escalated"] == 1
    told = await _inbox(w, wish_scheduled.ESCALATED_KIND)
    assert [(r, f"#{first.id}" in b, f"#{second.id}" in b) for r, b in told] == [
        ("adm", True, False), ("so1", False, True)]


async def test_the_due_soon_reminder_of_a_unit_claim_goes_to_the_units_current_contacts(list_world):
    w = list_world
    wish = await _post(w)
    await _act(w, wishes.claim_wish, "wu1", wish_id=wish.id, work_unit_id=w.ids["W1"])
    async with tenant_transaction(w.t.id):  # wu1 hands W1 over to wu2
        wu1 = await Person.get(user_id="wu1")
        await Post.filter(person_id=wu1.id, kind=PostKind.WORK_UNIT_CONTACT).update(ends_on=date(2026, 11, 30))
        await staff("wu2", PostKind.WORK_UNIT_CONTACT, "work_unit", w.ids["W1"])
    assert (await _run(w, 27))["reminded"] == 1
    assert [r for r, _ in await _inbox(w, wish_scheduled.REMINDER_KIND)] == ["wu2"]


async def test_a_claimant_reads_neither_the_cancel_reason_nor_more_than_one_star_of_the_name(list_world):
    w = list_world
    wish = await _post(w)
    await _act(w, wishes.claim_wish, "pm1", wish_id=wish.id)
    await _act(w, wishes.cancel_wish, "res1", wish_id=wish.id, reason="家里人帮忙了")
    async with tenant_transaction(w.t.id):
        theirs = await wishes.timeline(access=w.caller("pm1"), wish_id=wish.id)
        staffs = await wishes.timeline(access=w.caller("cw1"), wish_id=wish.id)
        seen = await wishes.get_wishes(w.caller("pm1"), [wish.id])
    assert (theirs[-1].action, theirs[-1].note) == ("cancelled", "")
    assert (staffs[-1].action, staffs[-1].note) == ("cancelled", "家里人帮忙了")
    assert seen[wish.id].resident_name == "张*"  # 张居民1: one star whatever the length
