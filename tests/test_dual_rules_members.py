"""The absence rule per member: activities closed out of order, two closes at once, a correction after the close
(the talk withdrawn, reopened when the absence is restored, a talk held stays) and a cancelled activity joining two
absences. 临沭: a talk after 2 absences in a row, a notice after 3."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from tenants.audit.models import AuditEntry
from tenants.dual import activities, checkin, rules
from tenants.dual.models import Activity, ActivityStatus, Signup
from tenants.dual.rule_models import AbsenceCase, CaseKind, TalkStatus
from tenants.scope import tenant_transaction
from tests.fixtures.callers import ADMIN
from tests.fixtures.dual_rules import activity, attend

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

START = datetime(2026, 10, 3, 1, 0, tzinfo=UTC)  # a Saturday, 09:00 in Beijing
WEEK = timedelta(days=7)


async def _cases() -> list[tuple[str, int, int, str]]:
    rows = await AbsenceCase.all().order_by("id")
    return [(r.kind.value, r.signup_id, r.absences, r.status.value) for r in rows]


async def _signup(a: Activity, person_id: int) -> int:
    return (await Signup.get(activity_id=a.id, person_id=person_id)).id


async def test_a_present_on_an_activity_not_yet_closed_breaks_the_streak(dual_rules_world):
    """Absent, present, absent by start, the middle one still open (checked in) when the third closes: no talk. And
    a middle one not yet known (no attendance, open) holds the rule back until it closes."""
    w = dual_rules_world["linshu"]
    pm1, pm2 = w["person"]["pm-1"], w["person"]["pm-2"]
    async with tenant_transaction(w["tenant"].id):
        first = await activity(w["ids"], START)
        middle = await activity(w["ids"], START + WEEK, status=ActivityStatus.OPEN)
        last = await activity(w["ids"], START + 2 * WEEK)
        for a, one, two in ((first, "absent", "absent"), (middle, "present", None), (last, "absent", "absent")):
            await attend(a, pm1, one)
            await attend(a, pm2, two)
        await rules.apply_absence_rules(first.id)
        await rules.apply_absence_rules(last.id)
        assert await _cases() == []  # pm-1: a present between; pm-2: the middle one is not known yet
        await Signup.filter(activity_id=middle.id, person_id=pm2).update(attendance="absent")
        await Activity.filter(id=middle.id).update(status=ActivityStatus.CLOSED)
        await rules.apply_absence_rules(middle.id)
        # pm-2's three in a row, ruled when the middle one closed: the talk at the second, the notice at the third.
        assert await _cases() == [("talk", await _signup(middle, pm2), 2, "open"),
                                  ("notice", await _signup(last, pm2), 3, "done")]
        assert (await rules.apply_absence_rules(middle.id))["talks"] == 0  # a re-run opens nothing


async def test_the_hourly_close_rules_in_order_of_start_not_of_id(dual_rules_world):
    """Three activities made latest first (ids against start order), all ended more than a day ago: the job closes
    them (nobody checked in: absent), and the member's two-in-a-row is the second by start."""
    w = dual_rules_world["linshu"]
    pm1 = w["person"]["pm-1"]
    async with tenant_transaction(w["tenant"].id):
        made = [await activity(w["ids"], START + i * WEEK, status=ActivityStatus.OPEN) for i in (2, 1, 0)]
        for a in made:
            await attend(a, pm1, None)
        assert await activities.close_due(now=START + 4 * WEEK, after=timedelta(hours=24)) == 3
        assert await _cases() == [("talk", await _signup(made[1], pm1), 2, "open"),
                                  ("notice", await _signup(made[0], pm1), 3, "done")]
        assert await Activity.filter(rules_run_at=None).count() == 0


async def test_two_closes_at_once_both_see_each_others_absences(dual_rules_world, reset):
    """Each close marks its absentees, then both rule before either commits (unless one waits for the other's
    lock): the member's lock makes the second rule after the first's commit, so the two absences in a row open
    their talk. Without it neither saw the other's absence."""
    w = dual_rules_world["linshu"]
    pm1, tid = w["person"]["pm-1"], w["tenant"].id
    async with tenant_transaction(tid):
        made = [await activity(w["ids"], START + i * WEEK, status=ActivityStatus.OPEN) for i in range(2)]
        for a in made:
            await attend(a, pm1, None)
    marked = asyncio.Barrier(2)
    ruled = [asyncio.Event(), asyncio.Event()]

    async def waiting_for_a_lock() -> bool:
        return bool(await reset.conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
                                              " AND NOT granted"))

    async def close(i: int) -> None:
        async with tenant_transaction(tid):
            await Activity.filter(id=made[i].id).update(status=ActivityStatus.CLOSED)
            await Signup.filter(activity_id=made[i].id).update(attendance="absent")
            await marked.wait()  # both closes have marked, neither has committed
            await rules.apply_absence_rules(made[i].id)
            ruled[i].set()
            while not ruled[1 - i].is_set() and not await waiting_for_a_lock():  # noqa: ASYNC110 (polls the db)
                await asyncio.sleep(0.005)  # commit once the other close has ruled too, or waits for this one

    await asyncio.wait_for(asyncio.gather(close(0), close(1)), 10)
    async with tenant_transaction(tid):
        assert await _cases() == [("talk", await _signup(made[1], pm1), 2, "open")]


async def test_a_correction_after_the_close_withdraws_the_open_talk_and_restoring_it_reopens(dual_rules_world):
    w = dual_rules_world["linshu"]
    pm1, pm2 = w["person"]["pm-1"], w["person"]["pm-2"]
    async with tenant_transaction(w["tenant"].id):
        made = [await activity(w["ids"], START + i * WEEK) for i in range(3)]
        for a in made:
            await attend(a, pm1, "absent")
            await attend(a, pm2, "absent")
        for a in made:
            await rules.apply_absence_rules(a.id)
        talk1, talk2 = await AbsenceCase.filter(kind=CaseKind.TALK).order_by("person_id")
        await talks_done(talk2)  # pm-2's talk was held
        second1, second2 = await _signup(made[1], pm1), await _signup(made[1], pm2)

        async def mark(signup_id: int, attendance: str) -> None:
            await checkin.mark(access=ADMIN, actor="admin", signup_id=signup_id, attendance=attendance,
                               reason="签到表漏记 / missed on the sheet")

        await mark(second1, "present")  # pm-1: absent, present, absent: neither the talk nor the notice holds
        await mark(second2, "present")
        cases = {(c.person_id, c.kind): c.status for c in await AbsenceCase.all()}
        assert cases == {(pm1, CaseKind.TALK): TalkStatus.WITHDRAWN, (pm1, CaseKind.NOTICE): TalkStatus.WITHDRAWN,
                         (pm2, CaseKind.TALK): TalkStatus.DONE, (pm2, CaseKind.NOTICE): TalkStatus.WITHDRAWN}
        withdrawn = await AuditEntry.filter(action="dual.absence_case.withdraw").order_by("id")
        assert [(e.target_type, e.target_id) for e in withdrawn][:2] == [
            ("dual_talk", str(talk1.id)), ("dual_notice", str((await AbsenceCase.get(person_id=pm1,
                                                                                  kind=CaseKind.NOTICE)).id))]
        corrected = await AuditEntry.filter(action="dual.activity.mark", target_id=str(second1)).first()
        assert corrected is not None and corrected.details["rules"] == {"talks": 0, "notices": 0, "withdrawn": 2}
        await mark(second1, "absent")  # restored: the same talk and notice again, open as new
        again = await AbsenceCase.get(id=talk1.id)
        assert (again.status, again.closed_at) == (TalkStatus.OPEN, None)
        assert await AbsenceCase.filter(person_id=pm1).count() == 2


async def talks_done(talk: AbsenceCase) -> None:
    talk.status, talk.outcome, talk.held_on = TalkStatus.DONE, "已谈话", date(2026, 12, 1)
    await talk.save(update_fields=["status", "outcome", "held_on"])


async def test_cancelling_an_activity_between_two_absences_joins_them(dual_rules_world):
    w = dual_rules_world["linshu"]
    pm1 = w["person"]["pm-1"]
    async with tenant_transaction(w["tenant"].id):
        first = await activity(w["ids"], START)
        middle = await activity(w["ids"], START + WEEK, status=ActivityStatus.OPEN)
        last = await activity(w["ids"], START + 2 * WEEK)
        for a, mark in ((first, "absent"), (middle, None), (last, "absent")):
            await attend(a, pm1, mark)
        await rules.apply_absence_rules(last.id)
        assert await _cases() == []  # the middle one is not known yet
        await activities.cancel(access=ADMIN, actor="admin", activity_id=middle.id, reason="暴雨 / rainstorm")
        assert await _cases() == [("talk", await _signup(last, pm1), 2, "open")]


async def _thresholds(tid: int, talk: int, notice: int) -> None:
    from tenants.config.service import change_config
    from tenants.territory.access import SYSTEM

    async with tenant_transaction(tid):
        await change_config(access=SYSTEM, actor="test", comment=f"talk {talk}, notice {notice}", set_values={
            "party": {"dual_registration": {"consecutive_absences_flag": talk, "notice_after_absences": notice}}})


async def test_a_threshold_change_applies_to_streaks_completed_after_it_not_to_history(dual_rules_world):
    """2025 under talk-at-3: pm-1 missed 3 in a row (a talk at the third), pm-2 2 then came. Lowered to 2 and 3, a
    2026 close where both were present opens nothing: a run opens cases only from the sign-ups it touched on."""
    w = dual_rules_world["linshu"]
    tid, pm1, pm2 = w["tenant"].id, w["person"]["pm-1"], w["person"]["pm-2"]
    old = datetime(2025, 10, 4, 1, 0, tzinfo=UTC)
    await _thresholds(tid, 3, 4)
    async with tenant_transaction(tid):
        made = [await activity(w["ids"], old + i * WEEK) for i in range(3)]
        for a, two in zip(made, ("absent", "absent", "present"), strict=True):
            await attend(a, pm1, "absent")
            await attend(a, pm2, two)
        for a in made:
            await rules.apply_absence_rules(a.id)
        third = await _signup(made[2], pm1)
        assert await _cases() == [("talk", third, 3, "open")]
    await _thresholds(tid, 2, 3)
    async with tenant_transaction(tid):
        late = await activity(w["ids"], datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
        await attend(late, pm1, "present")
        await attend(late, pm2, "present")
        assert await rules.apply_absence_rules(late.id) == {"activity": late.id, "talks": 0, "notices": 0,
                                                             "withdrawn": 0}
        assert await _cases() == [("talk", third, 3, "open")]


async def test_a_streak_keeps_one_talk_when_a_correction_moves_its_count(dual_rules_world):
    """Three absences: a talk at the second (held), a notice at the third. The first corrected to present: the
    streak is now the last two; its talk was held already, so no second talk opens at the third (the notice, no
    longer reached, is withdrawn)."""
    w = dual_rules_world["linshu"]
    tid, pm1 = w["tenant"].id, w["person"]["pm-1"]
    await _thresholds(tid, 2, 3)
    async with tenant_transaction(tid):
        made = [await activity(w["ids"], START + i * WEEK) for i in range(3)]
        for a in made:
            await attend(a, pm1, "absent")
            await rules.apply_absence_rules(a.id)
        second, third = await _signup(made[1], pm1), await _signup(made[2], pm1)
        assert await _cases() == [("talk", second, 2, "open"), ("notice", third, 3, "done")]
        await talks_done(await AbsenceCase.get(kind=CaseKind.TALK))
        await checkin.mark(access=ADMIN, actor="admin", signup_id=await _signup(made[0], pm1), attendance="present",
                           reason="补录")
        assert await _cases() == [("talk", second, 2, "done"), ("notice", third, 3, "withdrawn")]


async def test_an_absent_marked_on_an_open_activity_is_not_yet_resolved(dual_rules_world):
    """pm-2 absent on a1 (closed), marked absent on a2 while a2 is still open: no talk yet (a correction while open
    may still make it present); present on a2 before it closes: no talk ever. A present on an open activity still
    ends a streak."""
    w = dual_rules_world["linshu"]
    pm2, ids = w["person"]["pm-2"], w["ids"]
    async with tenant_transaction(w["tenant"].id):
        a1 = await activity(ids, START)
        a2 = await activity(ids, START + WEEK, status=ActivityStatus.OPEN)
        await attend(a1, pm2, "absent")
        s2 = await attend(a2, pm2, None)
        await checkin.mark(access=ADMIN, actor="admin", signup_id=s2.id, attendance="absent")
        await rules.apply_absence_rules(a1.id)
        assert await _cases() == []
        await checkin.mark(access=ADMIN, actor="admin", signup_id=s2.id, attendance="present")
        row = await Activity.get(id=a2.id)
        await activities._close(row, actor="admin", at=row.ends_at + timedelta(hours=1))
        assert await _cases() == []


async def test_a_case_reopened_after_a_move_is_the_new_communitys(dual_rules_world):
    """A talk withdrawn by a correction, the member moved to C2, the absence restored: the reopened talk is C2's
    (its registration, community, street and unit refreshed)."""
    from tenants.dual.models import MemberRegistration, RegistrationStatus

    w = dual_rules_world["linshu"]
    pm1, ids = w["person"]["pm-1"], w["ids"]
    async with tenant_transaction(w["tenant"].id):
        a1, a2 = await activity(ids, START), await activity(ids, START + WEEK)
        s1 = await attend(a1, pm1, "absent")
        await attend(a2, pm1, "absent")
        await rules.apply_absence_rules(a2.id)
        await checkin.mark(access=ADMIN, actor="admin", signup_id=s1.id, attendance="present", reason="补录")
        old = await MemberRegistration.get(person_id=pm1, status=RegistrationStatus.APPROVED)
        await MemberRegistration.filter(id=old.id).update(status=RegistrationStatus.MOVED, ends_on=date(2026, 11, 1))
        new = await MemberRegistration.create(
            person_id=pm1, community_id=ids["C2"], street_id=ids["S1"], work_unit_id=ids["U2"], party_org="党支部",
            status=RegistrationStatus.APPROVED, replaces_id=old.id, starts_on=date(2026, 11, 2), created_by="t",
            created_at=datetime(2026, 11, 2, tzinfo=UTC))
        await checkin.mark(access=ADMIN, actor="admin", signup_id=s1.id, attendance="absent", reason="更正")
        talk = await AbsenceCase.get(kind=CaseKind.TALK, person_id=pm1)
        assert (talk.status, talk.registration_id, talk.community_id, talk.street_id, talk.work_unit_id) == (
            TalkStatus.OPEN, new.id, ids["C2"], ids["S1"], ids["U2"])


async def test_a_correction_racing_a_talks_outcome_leaves_the_held_talk_alone(dual_rules_world, reset):
    """Review 3, finding 1: the outcome is being recorded (the talk's row locked, not committed) when a correction
    makes the streak fall short. The rule's snapshot sees the talk open; its withdrawal waits for the row, and on
    the recheck after the commit the talk is held: it stays held, nothing is withdrawn or audited."""
    from tenants.dual import talks

    w = dual_rules_world["linshu"]
    pm1, tid = w["person"]["pm-1"], w["tenant"].id
    async with tenant_transaction(tid):
        made = [await activity(w["ids"], START + i * WEEK) for i in range(2)]
        for a in made:
            await attend(a, pm1, "absent")
        await rules.apply_absence_rules(made[1].id)
        talk = await AbsenceCase.get(kind=CaseKind.TALK)
        first = await _signup(made[0], pm1)
    held, corrected = asyncio.Event(), asyncio.Event()

    async def waiting() -> bool:
        return bool(await reset.conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"))

    async def hold() -> None:
        async with tenant_transaction(tid):
            await talks.record_outcome(access=ADMIN, actor="cw", talk_id=talk.id, outcome="已谈话",
                                       held_on=talk.opened_on)
            held.set()
            while not corrected.is_set() and not await waiting():  # noqa: ASYNC110 (polls the db)
                await asyncio.sleep(0.005)  # commit once the correction waits for the talk's row

    async def correct() -> dict:
        await held.wait()
        async with tenant_transaction(tid):
            await checkin.mark(access=ADMIN, actor="admin", signup_id=first, attendance="present", reason="补录")
            corrected.set()
            entry = await AuditEntry.filter(action="dual.activity.mark", target_id=str(first)).first()
            assert entry is not None
            return entry.details["rules"]  # type: ignore[no-any-return]

    _, ruled = await asyncio.wait_for(asyncio.gather(hold(), correct()), 10)
    assert ruled == {"talks": 0, "notices": 0, "withdrawn": 0}
    async with tenant_transaction(tid):
        again = await AbsenceCase.get(id=talk.id)
        assert (again.status, again.outcome) == (TalkStatus.DONE, "已谈话")
        assert not await AuditEntry.filter(action="dual.absence_case.withdraw").exists()


async def _marks(w: dict, person: int, marks: list[str], start: datetime = START) -> list[int]:
    """Closed activities a week apart with ``person``'s marks, each ruled as it closes; their sign-ups."""
    made = [await activity(w["ids"], start + i * WEEK) for i in range(len(marks))]
    for a, m in zip(made, marks, strict=True):
        await attend(a, person, m)
        await rules.apply_absence_rules(a.id)
    return [await _signup(a, person) for a in made]


async def _correct(signup_id: int, attendance: str) -> None:
    await checkin.mark(access=ADMIN, actor="admin", signup_id=signup_id, attendance=attendance, reason="更正")


async def test_a_threshold_lowered_then_an_unrelated_old_correction_to_present_opens_nothing(dual_rules_world):
    """Review 3, finding 2: under talk-at-3, absent, present, absent, absent, present (no talk). Lowered to 2, the
    first sign-up corrected to present: a present lies in no streak's span, so the old two-in-a-row stays unruled."""
    w = dual_rules_world["linshu"]
    tid, pm1 = w["tenant"].id, w["person"]["pm-1"]
    await _thresholds(tid, 3, 4)
    async with tenant_transaction(tid):
        made = await _marks(w, pm1, ["absent", "present", "absent", "absent", "present"])
        assert await _cases() == []
    await _thresholds(tid, 2, 3)
    async with tenant_transaction(tid):
        await _correct(made[0], "present")
        assert await _cases() == []
        await _correct(made[2], "present")  # and back: the streak holds one absence now, then two again
        await _correct(made[2], "absent")  # it touches that streak: under the threshold of now, a talk
        assert await _cases() == [("talk", made[3], 2, "open")]


async def test_a_long_streak_after_a_lowered_threshold_and_corrections_keeps_one_live_talk(dual_rules_world):
    """Review 3, finding 3: five absences under talk-at-3 (the talk at the third). Lowered to 2; the second corrected
    to present leaves three after it, so the talk (its stored count 3) holds; restored, the streak is one again and
    already has its talk: still one live talk, never a second at the second absence."""
    w = dual_rules_world["linshu"]
    tid, pm1 = w["tenant"].id, w["person"]["pm-1"]
    await _thresholds(tid, 3, 10)
    async with tenant_transaction(tid):
        made = await _marks(w, pm1, ["absent"] * 5)
        assert await _cases() == [("talk", made[2], 3, "open")]
    await _thresholds(tid, 2, 10)
    async with tenant_transaction(tid):
        await _correct(made[1], "present")
        assert await _cases() == [("talk", made[2], 3, "open")]
        await _correct(made[1], "absent")
        assert await _cases() == [("talk", made[2], 3, "open")]
        await _correct(made[3], "present")  # now the streak before it is 3 long: still the talk's
        assert await _cases() == [("talk", made[2], 3, "open")]
        await _correct(made[0], "present")  # 2 absences left before the present: short of 3, withdrawn
        assert await _cases() == [("talk", made[2], 3, "withdrawn")]


@pytest.mark.parametrize("held", [False, True])
async def test_two_talks_merged_into_one_streak_keep_one_live_the_held_one_first(dual_rules_world, held):
    """Review 3, finding 4: absent, absent, present, absent, absent: a talk at the second and one at the fifth. The
    present corrected to absent makes one streak of five: one live talk stays (the held one if either was held,
    else the earliest), the other open one is withdrawn (audited); the notice opens at the third."""
    w = dual_rules_world["linshu"]
    tid, pm1 = w["tenant"].id, w["person"]["pm-1"]
    await _thresholds(tid, 2, 3)
    async with tenant_transaction(tid):
        made = await _marks(w, pm1, ["absent", "absent", "present", "absent", "absent"])
        assert await _cases() == [("talk", made[1], 2, "open"), ("talk", made[4], 2, "open")]
        if held:
            await talks_done(await AbsenceCase.get(kind=CaseKind.TALK, signup_id=made[4]))
        await _correct(made[2], "absent")
        kept, gone = (made[4], made[1]) if held else (made[1], made[4])
        cases = await _cases()
        assert sorted(cases) == sorted([("talk", kept, 2, "done" if held else "open"), ("talk", gone, 2, "withdrawn"),
                                        ("notice", made[2], 3, "done")])
        withdrawn = await AbsenceCase.get(signup_id=gone)
        assert await AuditEntry.filter(action="dual.absence_case.withdraw", target_id=str(withdrawn.id)).count() == 1


async def test_withdrawals_are_audited_in_the_rules_statement_whatever_the_number_of_members(dual_rules_world):
    """Review 3, finding 5: the withdrawn cases' audit rows are written by the rule's own statement, so a run sends
    as many statements for three members' withdrawals as for one."""
    from tests.fixtures.statements import orm_statements

    w = dual_rules_world["linshu"]
    members = [w["person"][u] for u in ("pm-1", "pm-2", "pm-3", "pm-4")]
    async with tenant_transaction(w["tenant"].id):
        made = [await activity(w["ids"], START + i * WEEK) for i in range(2)]
        for a in made:
            for p in members:
                await attend(a, p, "absent")
        await rules.apply_absence_rules(made[1].id)
        assert await AbsenceCase.filter(kind=CaseKind.TALK, status=TalkStatus.OPEN).count() == 4
        await Signup.filter(activity_id=made[0].id).update(attendance="present")
        firsts = {s.person_id: s.id for s in await Signup.filter(activity_id=made[0].id)}
        counts = []
        for group in (members[:1], members[1:]):
            with orm_statements() as sent:
                ruled = await rules.apply_member_rules([(p, firsts[p]) for p in group])
            assert ruled.withdrawn == len(group)
            counts.append(len(sent))
        assert counts[0] == counts[1]
        entries = await AuditEntry.filter(action="dual.absence_case.withdraw").order_by("target_id")
        talks = await AbsenceCase.filter(kind=CaseKind.TALK).order_by("id")
        assert [(e.target_type, e.target_id, e.details) for e in entries] == [
            ("dual_talk", str(t.id), {"person_id": t.person_id, "absences": 2}) for t in talks]
        assert all(t.status == TalkStatus.WITHDRAWN for t in talks)
