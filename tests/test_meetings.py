"""Joint meetings 联席会议: recording a meeting (configured parties, agenda tickets escalated "社区点题、部门答题"),
decisions reminded once, overdue and escalated once per rung, done or cancelled on their timeline; compliance
flags on the next period's first day (Asia/Shanghai) told once; rubric inputs; issues settled; who reads what,
hostile input, and another tenant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest

from tenants.errors import DomainError
from tenants.inbox.models import Notification
from tenants.meetings import compliance, decisions, meetings, scheduled
from tenants.meetings.meetings import Agenda, Attendance
from tenants.meetings.models import ComplianceFlag, Decision, DecisionEvent, Meeting
from tenants.paging import Window
from tenants.scope import tenant_transaction
from tenants.territory.models import Community
from tenants.territory.parties import PropertyContract
from tenants.tickets.models import Escalation, Ticket
from tests.fixtures.meetings import FOUR, MEETING_AT, attendance

pytestmark = pytest.mark.on_day(date(2026, 12, 1))

DEC1_0030 = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 00:30 on 1 December in Asia/Shanghai
NOV30_2330 = datetime(2026, 11, 30, 15, 30, tzinfo=UTC)  # 23:30 on 30 November in Asia/Shanghai


async def _record(w, who: str = "cw1", community: str = "C1", **kw) -> Meeting:
    async with tenant_transaction(w.t.id):
        return await meetings.record_meeting(
            access=w.caller(who), actor=who, target_kind=kw.pop("target_kind", "community"),
            target_id=w.ids[community], held_on=kw.pop("held_on", date(2026, 11, 10)),
            convenor=kw.pop("convenor", "社区党委书记"), attendance=kw.pop("attendance", attendance()),
            agenda=kw.pop("agenda", [Agenda(text="电梯维修")]), now=kw.pop("now", MEETING_AT), **kw,
        )


async def _error(coro) -> DomainError:
    with pytest.raises(DomainError) as got:
        await coro
    return got.value


def _reasons(err: DomainError) -> set[tuple[str, str]]:
    return {(p.field, p.reason) for p in err.problems}  # type: ignore[attr-defined]


async def _decide(w, meeting: Meeting, due_on: date, who: str = "cw1", owner: tuple[str, str] = ("company", "P1")):
    async with tenant_transaction(w.t.id):
        return await decisions.add_decision(
            access=w.caller(who), actor=who, meeting_id=meeting.id, owner_kind=owner[0], owner_id=w.ids[owner[1]],
            due_on=due_on, description="修复3号楼漏水屋面", now=MEETING_AT,
        )


async def _run(w, at: datetime) -> dict:
    async with tenant_transaction(w.t.id):
        return await scheduled.hourly(now=at)


async def _inbox(w, kind: str) -> list[str]:
    async with tenant_transaction(w.t.id):
        return list(await Notification.filter(kind=kind).order_by("id").values_list("recipient", flat=True))


async def _events(w, decision_id: int) -> list[tuple[str, str]]:
    async with tenant_transaction(w.t.id):
        return [(e.action, e.note) for e in await DecisionEvent.filter(decision_id=decision_id).order_by("id")]


async def test_a_meeting_is_recorded_and_its_agenda_escalates_tickets(meeting_world):
    w = meeting_world
    m = await _record(w, agenda=[Agenda(text="楼道堆物"), Agenda(ticket_ids=[w.ids["T1"]], escalate=True),
                                 Agenda(text="停车", ticket_ids=[w.ids["T2"]])],
                      photo_links=["https://img.example.cn/m1.jpg"], minutes="议定三项")
    async with tenant_transaction(w.t.id):
        got = await meetings.attendance_of(access=w.caller("cw1"), meeting_ids=[m.id])
        assert sorted(a.party for a in got[m.id]) == sorted(attendance_parties := [a.party for a in attendance()])
        assert len(attendance_parties) == 4
        agenda = (await meetings.agenda_of(access=w.caller("cw1"), meeting_ids=[m.id]))[m.id]
        assert [a.ticket_ids for a in agenda] == [[], [w.ids["T1"]], [w.ids["T2"]]]
        escalations = await Escalation.filter(ticket_id__in=[w.ids["T1"], w.ids["T2"]]).values_list(
            "ticket_id", "reason")
        assert escalations == [(w.ids["T1"], "joint meeting")]  # only the item that escalates
        assert m.community_id == w.ids["C1"] and m.street_id == w.ids["S1"]


async def test_parties_must_be_the_configured_ones_and_hostile_input_is_refused(meeting_world):
    w = meeting_world
    err = await _error(_record(w, attendance=[Attendance("street_party_committee", ["张三"]),
                                              Attendance("residents_committee", ["李四", "王\u202e五"]),
                                              Attendance("residents_committee", ["赵六"])]))
    assert err.code == "INVALID_INPUT"
    assert {("attendance.0.party", "party"), ("attendance.1.names.1", "bidi"),
            ("attendance.2.party", "duplicate")} <= _reasons(err)
    err = await _error(_record(w, convenor="", minutes="a\x00b", held_on=date(2026, 12, 25),
                               photo_links=["http://x.cn/a.jpg", "https://ok.cn/a b"],
                               agenda=[Agenda(), Agenda(ticket_ids=[9_999_999]), Agenda(text="x", escalate=True)]))
    assert {("convenor", "required"), ("minutes", "nul"), ("heldOn", "date"), ("photoLinks.0", "link"),
            ("photoLinks.1", "link"), ("agenda.0.text", "required"), ("agenda.1.ticketIds", "ticket"),
            ("agenda.2.escalate", "no_tickets")} <= _reasons(err)
    err = await _error(_record(w, target_kind="compound", community="K1"))
    assert _reasons(err) == {("targetKind", "level")}
    # Outside one's area: another community reads as not found; a street officer of another street likewise.
    assert (await _error(_record(w, who="cw1", community="C2"))).code == "NOT_FOUND"
    assert (await _error(_record(w, who="so2", community="C1"))).code == "NOT_FOUND"
    assert (await _error(_record(w, who="pc1", community="C1"))).code == "FORBIDDEN"
    async with tenant_transaction(w.t.id):
        assert await Meeting.all().count() == 0


async def test_a_joint_meeting_needs_every_configured_party_and_an_agenda(meeting_world):
    """张家口 configures four parties: a meeting without the owners' committee and the firm, or without an agenda, is
    not a joint meeting and is not recorded (so it cannot make its place compliant)."""
    w = meeting_world
    err = await _error(_record(w, attendance=attendance(FOUR[:2]), agenda=[]))
    assert _reasons(err) == {("attendance", "missing_party"), ("agenda", "required")}
    assert err.details == {"missingParties": ["OWNERS_COMMITTEE", "PROPERTY_COMPANY"]}
    missing = next(p for p in err.problems if p.reason == "missing_party")  # type: ignore[attr-defined]
    assert missing.message_en.endswith("missing: OWNERS_COMMITTEE, PROPERTY_COMPANY")
    assert "业委会（OWNERS_COMMITTEE）、物业企业（PROPERTY_COMPANY）" in missing.message_zh
    # A party listed without a name did not attend.
    err = await _error(_record(w, attendance=[*attendance(FOUR[:3]), Attendance("property_company", [])]))
    assert _reasons(err) == {("attendance.3.names", "count"), ("attendance", "missing_party")}
    assert err.details == {"missingParties": ["PROPERTY_COMPANY"]}
    # A party not configured: the message names the configured ones as clients spell them.
    err = await _error(_record(w, attendance=[*attendance(), Attendance("street_party_committee", ["张三"])]))
    assert _reasons(err) == {("attendance.4.party", "party")} and not err.details
    assert "COMMUNITY_PARTY_ORG, RESIDENTS_COMMITTEE, OWNERS_COMMITTEE, PROPERTY_COMPANY" in err.message_en
    assert "居委会（RESIDENTS_COMMITTEE）" in err.message_zh and "residents_committee" not in err.message
    async with tenant_transaction(w.t.id):
        assert await Meeting.all().count() == 0


async def test_links_with_bidi_controls_or_lone_surrogates_are_refused(meeting_world):
    """A right-to-left override makes ``…/a\u202egpj.exe`` display as ``…/aexe.jpg``; a lone surrogate cannot be
    stored. Each is refused at its link, nothing recorded."""
    w = meeting_world
    err = await _error(_record(w, photo_links=["https://img.example.cn/a\u202egpj.exe", "https://img.example.cn/\ud800.jpg",
                                               "https://img.example.cn/\u2066x.jpg", "https://img.example.cn/ok.jpg"]))
    assert _reasons(err) == {("photoLinks.0", "bidi"), ("photoLinks.1", "surrogate"), ("photoLinks.2", "bidi")}
    m = await _record(w)
    d = await _decide(w, m, date(2026, 12, 20))
    err = await _error(_act(w, decisions.complete, "pc1", decision_id=d.id, evidence="已修复",
                            evidence_links=["https://img.example.cn/\u200f.jpg", "https://img.example.cn/\udfff",
                                            "https://img.example.cn/a\x00.jpg"]))
    assert _reasons(err) == {("evidenceLinks.0", "bidi"), ("evidenceLinks.1", "surrogate"), ("evidenceLinks.2", "nul")}
    async with tenant_transaction(w.t.id):
        assert await Meeting.all().count() == 1 and (await Decision.get(id=d.id)).status == "open"


async def test_a_decision_due_in_7_days_is_reminded_once_overdue_and_escalated_once(meeting_world):
    w = meeting_world
    m = await _record(w)
    today = date(2026, 12, 2)  # the suite's day in Asia/Shanghai
    d = await _decide(w, m, today + timedelta(days=7))
    runs = [await _run(w, DEC1_0030 + timedelta(days=n, hours=h)) for n in range(0, 12) for h in (0, 1)]
    assert sum(r["reminded"] for r in runs) == 1 and sum(r["overdue"] for r in runs) == 1
    # 3 days before (config default), told to P1's staff once.
    assert await _inbox(w, scheduled.REMINDER_KIND) == ["pc1"]
    events = await _events(w, d.id)
    assert [a for a, _ in events] == ["added", "reminded", "overdue", "escalated", "escalated", "escalated"]
    assert [n for a, n in events if a == "escalated"] == ["community", "street", "tenant"]  # once per rung
    assert await _inbox(w, scheduled.ESCALATED_KIND) == ["cw1", "so1", "ta1"]
    async with tenant_transaction(w.t.id):
        row = await Decision.get(id=d.id)
        assert row.escalation_level == 3 and row.reminded_at is not None and row.overdue_at is not None
        read = await decisions.list_decisions(access=w.caller("cw1"), window=Window(10))
        assert [(r.row.id, r.overdue) for r in read.rows] == [(d.id, False)]  # the suite's today is before it


async def test_first_rung_once_when_run_twice_and_done_with_evidence_by_the_firm(meeting_world):
    w = meeting_world
    m = await _record(w)
    d = await _decide(w, m, date(2026, 11, 20))
    first = [await _run(w, DEC1_0030) for _ in range(2)]
    assert [r["escalated"] for r in first] == [1, 0] and [r["overdue"] for r in first] == [1, 0]
    err = await _error(_act(w, decisions.complete, "us1", decision_id=d.id, evidence="已修复"))
    assert err.code == "NOT_FOUND"  # U1 neither owns it nor reads C1's meetings
    err = await _error(_act(w, decisions.complete, "pc1", decision_id=d.id, evidence=""))
    assert _reasons(err) == {("evidence", "required")}
    done = await _act(w, decisions.complete, "pc1", decision_id=d.id, evidence="已更换防水层",
                      evidence_links=["https://img.example.cn/done.jpg"])
    assert done.row.status == "done" and not done.overdue
    err = await _error(_act(w, decisions.cancel, "cw1", decision_id=d.id, reason="重复"))
    assert err.code == "ILLEGAL_TRANSITION"
    assert [a for a, _ in await _events(w, d.id)] == ["added", "overdue", "escalated", "done"]
    # A cancelled decision is neither reminded nor escalated.
    d2 = await _decide(w, m, date(2026, 11, 25))
    assert (await _error(_act(w, decisions.cancel, "pc1", decision_id=d2.id, reason="x"))).code == "FORBIDDEN"
    await _act(w, decisions.cancel, "cw1", decision_id=d2.id, reason="并入其他事项")
    assert (await _run(w, DEC1_0030 + timedelta(hours=2)))["escalated"] == 0


async def _act(w, fn, who: str, **kw):
    async with tenant_transaction(w.t.id):
        return await fn(access=w.caller(who), actor=who, **kw)


async def test_decision_input_is_checked(meeting_world):
    w = meeting_world
    m = await _record(w)
    err = await _error(_act(w, decisions.add_decision, "cw1", meeting_id=m.id, owner_kind="person",
                            owner_id=1, due_on=date(2026, 11, 1), description="\u2066x"))
    assert {("ownerKind", "owner_kind"), ("dueOn", "date"), ("description", "bidi")} <= _reasons(err)
    err = await _error(_act(w, decisions.add_decision, "cw1", meeting_id=m.id, owner_kind="unit",
                            owner_id=2**62, due_on=date(2026, 12, 20), description="x"))
    assert _reasons(err) == {("ownerId", "owner")}
    err = await _error(_act(w, decisions.add_decision, "cw2", meeting_id=m.id, owner_kind="unit",
                            owner_id=w.ids["U1"], due_on=date(2026, 12, 20), description="x"))
    assert err.code == "NOT_FOUND"


async def test_no_meeting_in_november_is_flagged_on_1_december_once(meeting_world):
    w = meeting_world
    await _record(w)  # C1 met on 10 November; C2 and C3 did not
    before = await _run(w, NOV30_2330)
    assert before["flagged"] == 0  # still 30 November in Asia/Shanghai (October: the places did not exist yet)
    runs = [await _run(w, DEC1_0030), await _run(w, DEC1_0030 + timedelta(hours=1))]
    assert [r["flagged"] for r in runs] == [2, 0] and [r["told"] for r in runs] == [2, 0]
    async with tenant_transaction(w.t.id):
        flags = await ComplianceFlag.all().order_by("target_id").values_list("target_id", "period_key", "flagged_on")
    assert flags == [(w.ids["C2"], "2026-11", date(2026, 12, 1)), (w.ids["C3"], "2026-11", date(2026, 12, 1))]
    assert await _inbox(w, compliance.FLAG_KIND) == ["cw2"]  # C3 has no worker: nobody to tell
    async with tenant_transaction(w.other.id):
        assert await ComplianceFlag.all().count() == 0  # the other tenant's job did not run


async def test_a_meeting_recorded_late_resolves_its_flag_and_flags_page_by_keyset(meeting_world):
    w = meeting_world
    await _record(w)  # C1 met in November; C2 and C3 are flagged on 1 December
    assert (await _run(w, DEC1_0030))["flagged"] == 2
    # C2's November meeting is recorded on 1 December: its flag is resolved, as the rubric now counts it met.
    late = await _record(w, who="so1", community="C2", held_on=date(2026, 11, 28), now=DEC1_0030 + timedelta(hours=2))
    async with tenant_transaction(w.t.id):
        first = await compliance.list_flags(access=w.caller("admin"), window=Window(1), period_key="2026-11")
        rest = await compliance.list_flags(access=w.caller("admin"), window=Window(5, after=first.keys[-1]))
        standing = await compliance.list_flags(access=w.caller("admin"), window=Window(5), resolved=False)
        nov = await compliance.rubric_inputs("2026-11", [w.ids["K2"]])
        theirs = await compliance.list_flags(access=w.caller("cw2"), window=Window(5))
    flags = [*first.rows, *rest.rows]
    assert [(f.target_id, f.resolved_by_meeting_id) for f in flags] == [(w.ids["C2"], late.id), (w.ids["C3"], None)]
    assert flags[0].resolved_at == DEC1_0030 + timedelta(hours=2) and flags[1].resolved_at is None
    assert [f.target_id for f in standing.rows] == [w.ids["C3"]] and nov[(w.ids["K2"], "meeting_compliance")] == 1
    assert [f.target_id for f in theirs.rows] == [w.ids["C2"]]


async def test_rubric_inputs_per_compound(meeting_world):
    """By hand. The places exist from the eve of 1 November: October is not judged. C1 (K1, P1's contract) met on
    10 November; C2 (K2, no contract) and C3 (K3, P2's contract) never met and have no series. Decisions of C1's
    meeting due in December: P1's on 9th (done on 2nd: on time) and 20th (open); U1's and P2's do not count for
    K1, whose firm is P1."""
    w = meeting_world
    m = await _record(w)
    on_time = await _decide(w, m, date(2026, 12, 9))
    await _decide(w, m, date(2026, 12, 20))
    await _decide(w, m, date(2026, 12, 10), owner=("unit", "U1"))
    await _decide(w, m, date(2026, 12, 11), owner=("company", "P2"))
    await _act(w, decisions.complete, "pc1", decision_id=on_time.id, evidence="完成")
    k1, k2, k3 = w.ids["K1"], w.ids["K2"], w.ids["K3"]
    async with tenant_transaction(w.t.id):
        nov = await compliance.rubric_inputs("2026-11", [k1, k2, k3])
        dec = await compliance.rubric_inputs("2026-12", [k1, k2])
        q4 = await compliance.rubric_inputs("2026Q4", [k1, k2])
        oct_ = await compliance.rubric_inputs("2026-10", [k1])
    # November: K1 met (1/1) and owed nothing (met: nothing left undone); K2, K3 missed their judged month (0, as
    # their flags say, series or not) and, not having met, show no follow-through.
    assert (nov[(k1, "meeting_compliance")], nov[(k1, "decisions_on_time")]) == (1, 1)
    assert (nov[(k2, "meeting_compliance")], nov[(k2, "decisions_on_time")]) == (0, None)
    assert (nov[(k3, "meeting_compliance")], nov[(k3, "decisions_on_time")]) == (0, None)
    # December: no meeting; P1's decisions 1 of 2 on time (U1's and P2's aside).
    assert (dec[(k1, "meeting_compliance")], dec[(k1, "decisions_on_time")]) == (0, Fraction(1, 2))
    assert (dec[(k2, "meeting_compliance")], dec[(k2, "decisions_on_time")]) == (0, None)
    # The quarter under the monthly cadence: October not judged, November met, December missed.
    assert (q4[(k1, "meeting_compliance")], q4[(k1, "decisions_on_time")]) == (Fraction(1, 2), Fraction(1, 2))
    assert q4[(k2, "meeting_compliance")] == 0
    assert oct_[(k1, "meeting_compliance")] is None and oct_[(k1, "decisions_on_time")] is None  # nothing judged
    async with tenant_transaction(w.t.id):
        # The firm's follow-through: with P2 holding K1's contract, P2's open decision is what counts.
        await PropertyContract.filter(compound_id=k1).update(company_id=w.ids["P2"])
        dec = await compliance.rubric_inputs("2026-12", [k1])
        assert dec[(k1, "decisions_on_time")] == 0
        # A place made during November is judged from December on: November is no data.
        await Community.filter(id=w.ids["C3"]).update(created_at=MEETING_AT)
        nov = await compliance.rubric_inputs("2026-11", [k3])
        assert nov[(k3, "meeting_compliance")] is None and nov[(k3, "decisions_on_time")] is None
    # A decision cannot be added already past its due day (the suite's today is 2 December, Beijing).
    err = await _error(_act(w, decisions.add_decision, "cw1", meeting_id=m.id, owner_kind="company",
                            owner_id=w.ids["P1"], due_on=date(2026, 12, 1), description="补录"))
    assert _reasons(err) == {("dueOn", "date")}


def test_meeting_windows_of_a_rating_period():
    assert compliance.meeting_windows("2026Q4", "monthly") == [
        (date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 11, 1), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31))]
    assert compliance.meeting_windows("2026-11", "quarterly") == [(date(2026, 10, 1), date(2026, 11, 30))]
    assert compliance.meeting_windows("2026-02", "monthly") == [(date(2026, 2, 1), date(2026, 2, 28))]


async def test_issues_settled_per_community_and_street(meeting_world):
    """By hand. C1 met on 10 November listing T1 and T2; C2 (same street S1) met on 20 November listing them too.
    T2 closed on 15 November (after C1's meeting, before C2's), T1 on 1 December; a decision of C1's meeting
    done on 2 December."""
    w = meeting_world
    m = await _record(w, agenda=[Agenda(ticket_ids=[w.ids["T1"], w.ids["T2"]])])
    await _record(w, who="so1", community="C2", held_on=date(2026, 11, 20), now=DEC1_0030,
                  agenda=[Agenda(ticket_ids=[w.ids["T1"]]), Agenda(ticket_ids=[w.ids["T1"], w.ids["T2"]])])
    d = await _decide(w, m, date(2026, 12, 9))
    await _act(w, decisions.complete, "pc1", decision_id=d.id, evidence="完成")
    async with tenant_transaction(w.t.id):
        await Ticket.filter(id=w.ids["T1"]).update(state="closed", closed_at=DEC1_0030 + timedelta(hours=3))
        await Ticket.filter(id=w.ids["T2"]).update(state="closed", closed_at=datetime(2026, 11, 15, 2, tzinfo=UTC))

        async def settled(who: str, period: str, level: str = "community") -> list[tuple[int, int, int]]:
            got = await compliance.issues_settled(access=w.caller(who), period_key=period, level=level)
            return [(s.node_id, s.decisions_done, s.tickets_closed) for s in got]

        c1, c2, s1 = w.ids["C1"], w.ids["C2"], w.ids["S1"]
        # December: C1 its decision and T1; C2 T1; the street T1 once (listed by both communities) and the decision.
        assert await settled("admin", "2026-12") == [(c1, 1, 1), (c2, 0, 1)]
        assert await settled("so1", "2026-12", "street") == [(s1, 1, 1)]
        # November: T2 closed after C1's meeting (counts for C1 and the street), before C2's (not C2's).
        assert await settled("admin", "2026-11") == [(c1, 0, 1)]
        assert await settled("admin", "2026-11", "street") == [(s1, 0, 1)]
        assert await settled("cw2", "2026-12") == [(c2, 0, 1)] and await settled("cw2", "2026-11") == []
        assert await settled("so2", "2026-12", "street") == []
        err = await _error(compliance.issues_settled(access=w.caller("pc1"), period_key="2026-12"))
        bad = await _error(compliance.issues_settled(access=w.caller("admin"), period_key="2026-13", level="x"))
        totals = [s.total for s in await compliance.issues_settled(access=w.caller("admin"), period_key="2026-12")]
    assert totals == [2, 1] and err.code == "FORBIDDEN" and bad.code == "INVALID_INPUT"


async def test_who_reads_meetings_and_another_tenant_reads_nothing(meeting_world):
    w = meeting_world
    m1 = await _record(w)
    m2 = await _record(w, who="so1", community="C2")
    d = await _decide(w, m2, date(2026, 12, 20), who="so1", owner=("unit", "U1"))

    async def seen(who: str) -> tuple[list[int], list[int]]:
        async with tenant_transaction(w.t.id):
            ms = await meetings.list_meetings(access=w.caller(who), window=Window(10))
            ds = await decisions.list_decisions(access=w.caller(who), window=Window(10))
            return sorted(r.id for r in ms.rows), [r.row.id for r in ds.rows]

    assert await seen("admin") == (sorted([m1.id, m2.id]), [d.id])
    assert await seen("so1") == (sorted([m1.id, m2.id]), [d.id])
    assert await seen("cw1") == ([m1.id], [])
    assert await seen("pc1") == ([m1.id], [])  # a party to C1's meetings (it serves K1), not to C2's
    assert await seen("us1") == ([], [d.id])  # U1 owns the decision
    assert await seen("res1") == ([], [])
    assert w.ids["other_meeting"] not in (await seen("admin"))[0]
    async with tenant_transaction(w.other.id):
        assert await Meeting.all().values_list("id", flat=True) == [w.ids["other_meeting"]]
        assert await Decision.all().count() == 0
    async with tenant_transaction(w.t.id):
        err = await _error(decisions.timeline(access=w.caller("cw1"), decision_id=d.id))
        assert [e.action for e in await decisions.timeline(access=w.caller("us1"), decision_id=d.id)] == ["added"]
    assert err.code == "NOT_FOUND"


async def test_a_meeting_escalates_each_ticket_once_and_refuses_duplicates_and_closed_tickets(meeting_world):
    w = meeting_world
    t1, t2 = w.ids["T1"], w.ids["T2"]
    # A ticket listed twice within one item is refused (`duplicate`), nothing saved.
    err = await _error(_record(w, agenda=[Agenda(ticket_ids=[t1, t1, t1], escalate=True)]))
    assert _reasons(err) == {("agenda.0.ticketIds", "duplicate")}
    # Listed under two escalating items and one that does not escalate: escalated once for the meeting.
    await _record(w, agenda=[Agenda(ticket_ids=[t1], escalate=True), Agenda(ticket_ids=[t1, t2], escalate=True),
                             Agenda(ticket_ids=[t1])])
    async with tenant_transaction(w.t.id):
        got = await Escalation.filter(ticket_id__in=[t1, t2]).order_by("ticket_id").values_list("ticket_id", "to_level")
        assert got == [(t1, 1), (t2, 1)]
        await Ticket.filter(id=t2).update(state="closed", closed_at=MEETING_AT)
    # A closed ticket cannot be escalated: refused before anything is saved; listing it without escalating is fine.
    err = await _error(_record(w, agenda=[Agenda(ticket_ids=[t1]), Agenda(ticket_ids=[t1, t2], escalate=True)]))
    assert _reasons(err) == {("agenda.1.ticketIds", "closed")}
    await _record(w, agenda=[Agenda(ticket_ids=[t2])])
    async with tenant_transaction(w.t.id):
        assert await Meeting.all().count() == 2 and await Escalation.filter(ticket_id__in=[t1, t2]).count() == 2
