"""Interviews 约谈 with a firm, a property manager, a unit, a street or community handed to the efficiency office,
or a person; owed or held, scoped to who holds them: the administration anywhere, a street officer the firms of
its street.

An interview is owed by a published black list (``commendations.follow_publication``) or by a unit handed to the
efficiency office (``owe_for_efficiency_cases``, the hourly job), due by a day: reminded once
``interview_reminder_days`` before, then overdue (told once). Recording an interview with a subject that has one
owed for the period closes it (the owed row becomes the held one). A follow-up's due day is reminded once, the day
before, and shown overdue after it until it is marked done (``complete_follow_up``, with evidence).

A firm of a street is a firm with a contract in force on a compound of that street on some day of the period the
interview is about (a contract that ended on 31 December still makes its firm answerable for that quarter).
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from tortoise.expressions import Q, Subquery

from tenants import clock
from tenants.assessment.access import readable_interviews
from tenants.assessment.models import Interview, InterviewSource, InterviewStatus, InterviewSubject
from tenants.audit import service as audit
from tenants.config.service import effective_config
from tenants.errors import Forbidden, IllegalTransition, InvalidInput, NotFound, Noun, Problem, unstorable
from tenants.idempotency import idempotent
from tenants.inbox import service as inbox
from tenants.inbox.holders import tenant_admins
from tenants.paging import where
from tenants.periods import bounds, period_problems
from tenants.permissions import require
from tenants.scope import current_tenant_id, savepoint, scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.models import Community, Compound, Street
from tenants.territory.parties import PropertyCompany, PropertyContract, PropertyManager, Unit
from tenants.territory.people import Person

# Bidi controls (U+202A-202E, U+2066-2069, U+200E/U+200F/U+061C) make a name display as something it is not.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
FIRST_HELD = date(2000, 1, 1)  # no interview recorded here was held before this day (a typo of a year, not a record)
_LABELS = {"outcome": "约谈结果", "followUp": "整改要求", "reason": "约谈事由", "evidence": "整改情况"}
INTERVIEW = Noun(
    "约谈", "interview",
    {"owed": "待约谈", "withdrawn": "已撤回", "no_follow_up": "无整改要求", "follow_up_done": "整改已完成"},
    {"complete_follow_up": "登记整改完成"}, field="interviewId", state_key="status", article="an",
)


async def _street_contracts(access: Access) -> list[tuple[int, date, date]] | None:
    """(company, starts_on, ends_on) of every contract on a compound of the caller's streets (street officer
    posts); None when the caller reads the whole tenant."""
    if access.reads_whole_tenant:
        return None
    streets = sorted(access.staff_nodes.get("street", frozenset()))
    if not streets:
        return []
    compounds = Subquery(Compound.filter(street_id__in=streets).values("id"))
    rows = await PropertyContract.filter(compound_id__in=compounds).values_list("company_id", "starts_on", "ends_on")
    return [(int(c), s, e) for c, s, e in rows]  # type: ignore[misc]


def _serves(contracts: list[tuple[int, date, date]], company_id: int, period: tuple[date, date]) -> bool:
    return any(c == company_id and s <= period[1] and e >= period[0] for c, s, e in contracts)


def _text(field: str, value: str, limit: int) -> list[Problem]:
    problems = []
    if (bad := unstorable(value)) is not None:
        problems.append(Problem(field, bad, f"{_LABELS[field]}含有无法保存的字符", f"{field} cannot be stored"))
    if BIDI.search(value):
        problems.append(Problem(field, "bidi", f"{_LABELS[field]}含有改变文字方向的控制字符",
                                f"{field} contains a bidirectional control character"))
    if len(value) > limit:
        problems.append(Problem(field, "too_long", f"{_LABELS[field]}不能超过 {limit} 字",
                                f"{field}: at most {limit} characters"))
    return problems


async def _subject_exists(kind: InterviewSubject, subject_id: int) -> bool:
    if kind == InterviewSubject.FIRM:
        return await PropertyCompany.exists(id=subject_id)
    if kind == InterviewSubject.UNIT:
        return await Unit.exists(id=subject_id)
    if kind == InterviewSubject.STREET:
        return await Street.exists(id=subject_id)
    if kind == InterviewSubject.COMMUNITY:
        return await Community.exists(id=subject_id)
    if kind == InterviewSubject.PERSON:
        return await Person.exists(id=subject_id)
    return await PropertyManager.exists(id=subject_id)


def _day_problems(period_key: str, held_on: date, today: date, *, valid_period: bool) -> list[Problem]:
    """An interview is recorded once held (by today, tenant-local), about a period that has begun, and not before
    that period's first day (it answers for that period; never before ``FIRST_HELD``)."""
    problems = []
    start = bounds(period_key, "period")[0] if valid_period else FIRST_HELD
    if start > today:
        problems.append(Problem("period", "future", f"{period_key} 尚未开始", f"{period_key} has not begun"))
    if held_on > today:
        problems.append(Problem("heldOn", "future", "约谈日期晚于今天", "heldOn is after today"))
    elif held_on < max(start, FIRST_HELD):
        first = max(start, FIRST_HELD).isoformat()
        problems.append(Problem("heldOn", "before_period", f"约谈日期早于 {first}（所涉期间的第一天）",
                                f"heldOn is before {first}, the first day of the period it is about"))
    return problems


@idempotent("recordInterview", Interview)
async def record_interview(
    *,
    access: Access,
    actor: str,
    period_key: str,
    held_on: date,
    attendees: list[str],
    outcome: str,
    company_id: int | None = None,
    subject_kind: InterviewSubject | str = InterviewSubject.FIRM,
    subject_id: int | None = None,
    reason: str = "",
    follow_up: str = "",
    follow_up_due: date | None = None,
) -> Interview:
    """Record a 约谈: the administration with anyone, a street officer with a firm of their street. A firm is named
    by ``company_id`` or ``subject_kind="firm"`` + ``subject_id``. An interview owed to the subject for the period
    is closed by it (that row is filled in and returned)."""
    require(access, "assessment.record_interview")
    bad_period = period_problems(period_key, "period")
    problems = list(bad_period)
    try:
        kind = InterviewSubject(subject_kind)
    except ValueError:
        kind = InterviewSubject.FIRM
        problems.append(Problem("subjectKind", "unknown", "约谈对象类型无效", "unknown subjectKind"))
    target = subject_id if subject_id is not None else company_id
    if target is None:
        problems.append(Problem("subjectId", "required", "请指定约谈对象", "subjectId is required"))
    elif None not in (company_id, subject_id) and (kind, company_id) != (InterviewSubject.FIRM, subject_id):
        problems.append(Problem("companyId", "conflict", "约谈对象不一致", "companyId and subjectId disagree"))
    if not outcome.strip() or len(outcome) > 2000:
        problems.append(Problem("outcome", "format", "请填写约谈结果（不超过 2000 字）", "outcome: 1..2000 characters"))
    else:
        problems += _text("outcome", outcome, 2000)
    problems += _text("followUp", follow_up, 2000) + _text("reason", reason, 500)
    if (
        not attendees
        or any(not a.strip() or len(a) > 100 or BIDI.search(a) for a in attendees)
        or len(attendees) > 50
    ):
        problems.append(Problem("attendees", "format", "请列出参会人员", "list 1..50 attendees"))
    if follow_up_due is not None and follow_up_due < held_on:
        problems.append(Problem("followUpDue", "before", "整改期限早于约谈日期", "followUpDue is before heldOn"))
    problems += _day_problems(period_key, held_on, await clock.today(), valid_period=not bad_period)
    if problems:
        raise InvalidInput.of(problems)
    assert target is not None
    period = bounds(period_key, "period")
    field = "companyId" if subject_id is None else "subjectId"
    async with savepoint():
        if not await _subject_exists(kind, target):
            raise NotFound(
                f"约谈对象 {kind.value} {target} 不存在", f"{kind.value} {target} does not exist", field=field
            )
        contracts = await _street_contracts(access)
        if contracts is not None and (kind != InterviewSubject.FIRM or not _serves(contracts, target, period)):
            raise Forbidden(
                f"{kind.value} {target} 在 {period_key} 不属于您街道的小区物业",
                f"{kind.value} {target} is not a firm serving a compound of your street in {period_key}",
                field=field,
            )
        owed = (
            await Interview.filter(subject_kind=kind, subject_id=target, period_key=period_key,
                                   status=InterviewStatus.OWED)
            .order_by("due_on", "id")
            .select_for_update()
            .first()
        )
        values: dict[str, Any] = {
            "held_on": held_on,
            "attendees": [a.strip() for a in attendees],
            "outcome": outcome.strip(),
            "follow_up": follow_up.strip(),
            "follow_up_due": follow_up_due,
            "recorded_by": actor,
            "recorded_at": clock.now(),
            "status": InterviewStatus.HELD,
        }
        if owed is not None:
            if reason.strip():
                values["reason"] = reason.strip()
            owed.update_from_dict(values)
            await owed.save()
            interview = owed
        else:
            interview = await Interview.create(
                company_id=target if kind == InterviewSubject.FIRM else None,
                subject_kind=kind,
                subject_id=target,
                period_key=period_key,
                reason=reason.strip(),
                source=InterviewSource.HAND,
                **values,
            )
        await audit.record(
            actor=actor,
            action="interview.record",
            target_type="interview",
            target_id=interview.id,
            details={"subject": kind.value, "subjectId": target, "period": period_key, "closedOwed": owed is not None},
        )
        return interview


async def interviews(
    *,
    access: Access,
    company_id: int | None,
    period_key: str | None,
    subject_kind: InterviewSubject | str | None = None,
    subject_id: int | None = None,
    status: InterviewStatus | str | None = None,
    first: int | None = None,
    after: int | None = None,
) -> list[Interview]:
    """The interviews the caller reads: all for the administration, a firm its own, a unit its own, a street its
    firms' and its own; withdrawn ones only when asked for by ``status``. Newest held first (owed ones, not held
    yet, before them, latest due first). ``first``: at most that many; ``after``: those after that interview (the
    last of the previous page) in this order."""
    require(access, "assessment.read_interviews")
    if period_key is not None:
        bounds(period_key, "period")  # a malformed period is refused, not matched against nothing
    qs = readable_interviews(access)
    if company_id is not None:
        qs = qs.filter(subject_kind=InterviewSubject.FIRM, subject_id=company_id)
    qs = where(
        qs,
        subject_kind=None if subject_kind is None else InterviewSubject(subject_kind),
        subject_id=subject_id,
        period_key=period_key,
    )
    qs = (
        qs.exclude(status=InterviewStatus.WITHDRAWN)
        if status is None
        else qs.filter(status=InterviewStatus(status))
    )
    if after is not None:
        last = await readable_interviews(access).filter(id=after).first()
        if last is None:
            raise InvalidInput.of([Problem("after", "bad_cursor", "分页位置无效", "after: not an interview you read")])
        qs = qs.filter(_after(last))
    qs = qs.order_by("-held_on", "-due_on", "-id")
    return await (qs if first is None else qs.limit(first))


def _after(last: Interview) -> Q:
    """The interviews after ``last`` in the list's order: held_on, then due_on, descending with nulls first (as
    PostgreSQL orders them), then id descending."""

    def later(column: str, value: Any) -> Q:
        given: dict[str, Any] = {f"{column}__isnull": False} if value is None else {f"{column}__lt": value}
        return Q(**given)

    def same(column: str, value: Any) -> Q:
        given: dict[str, Any] = {f"{column}__isnull": True} if value is None else {column: value}
        return Q(**given)

    return later("held_on", last.held_on) | (
        same("held_on", last.held_on)
        & (later("due_on", last.due_on) | (same("due_on", last.due_on) & Q(id__lt=last.id)))
    )


def overdue(interview: Interview, today: date) -> bool:
    """An owed interview past its due day, or a held one whose follow-up is past its due day and not done."""
    return overdue_on(interview.status.value, interview.due_on, interview.follow_up_due, interview.follow_up_done_on,
                      today)


def overdue_on(status: str, due_on: date | None, follow_up_due: date | None, done_on: date | None, today: date) -> bool:
    """``overdue`` from an interview's status (its value) and days; a withdrawn interview is never overdue."""
    if status == InterviewStatus.OWED.value:
        return due_on is not None and due_on < today
    if status == InterviewStatus.HELD.value:
        return follow_up_due is not None and follow_up_due < today and done_on is None
    return False


async def complete_follow_up(
    *, access: Access, actor: str, interview_id: int, evidence: str, done_on: date | None = None
) -> Interview:
    """Mark a held interview's follow-up 整改 done, with evidence (what was done), on ``done_on`` (default: today,
    tenant-local): whoever may record the interview (the administration, a street officer for a firm of its
    street). It is then neither reminded nor overdue."""
    require(access, "assessment.record_interview")
    today = await clock.today()
    problems = _text("evidence", evidence, 2000)
    if not evidence.strip():
        problems.insert(0, Problem("evidence", "required", "请填写整改情况", "evidence is required"))
    if done_on is not None and done_on > today:
        problems.append(Problem("doneOn", "future", "整改完成日期晚于今天", "doneOn is after today"))
    if problems:
        raise InvalidInput.of(problems)
    async with savepoint():
        row = await readable_interviews(access).filter(id=interview_id).select_for_update().first()
        if row is None:
            raise NotFound(
                f"约谈 {interview_id} 不存在", f"interview {interview_id} does not exist", field="interviewId"
            )
        contracts = await _street_contracts(access)
        if contracts is not None and (
            row.subject_kind != InterviewSubject.FIRM
            or not _serves(contracts, row.subject_id, bounds(row.period_key, "period"))
        ):
            raise Forbidden(
                f"约谈 {interview_id} 的对象不是您街道的小区物业",
                f"interview {interview_id} is not with a firm serving a compound of your street",
                field="interviewId",
            )
        if row.status != InterviewStatus.HELD:
            raise IllegalTransition(INTERVIEW, "complete_follow_up", row.status.value)
        if not row.follow_up and row.follow_up_due is None:
            raise IllegalTransition(INTERVIEW, "complete_follow_up", "no_follow_up")
        if row.follow_up_done_on is not None:
            raise IllegalTransition(INTERVIEW, "complete_follow_up", "follow_up_done")
        day = done_on or today
        if row.held_on is not None and day < row.held_on:
            raise InvalidInput.of([Problem("doneOn", "before", "整改完成日期早于约谈日期", "doneOn is before heldOn")])
        row.follow_up_done_on, row.follow_up_evidence = day, evidence.strip()
        await row.save(update_fields=["follow_up_done_on", "follow_up_evidence"])
        await audit.record(
            actor=actor,
            action="interview.follow_up_done",
            target_type="interview",
            target_id=row.id,
            details={"doneOn": day.isoformat()},
        )
        return row


# --- The hourly job: owed interviews of efficiency-office cases, reminders, overdue ---------------------------------

# A unit handed to the efficiency office owes an interview: the case's unit kind names the subject (a firm, a
# street, a community, or a unit: housing department or county department). Idempotent per case (0037).
OWE_CASES_SQL = """
INSERT INTO interview (tenant_id, company_id, subject_kind, subject_id, status, source, source_id, period_key,
                       reason, due_on, attendees, outcome, follow_up, follow_up_evidence, recorded_by, recorded_at)
SELECT c.tenant_id, CASE WHEN c.unit_kind = 'property_company' THEN c.unit_id END,
       CASE c.unit_kind WHEN 'property_company' THEN 'firm' WHEN 'street' THEN 'street'
                        WHEN 'community' THEN 'community' ELSE 'unit' END,
       c.unit_id, 'owed', 'efficiency', c.id, c.period,
       'efficiency_office:' || c.escalations || ' escalations', $2::date, '[]'::jsonb, '', '', '', 'system',
       $3::timestamptz
FROM efficiency_case c
WHERE c.tenant_id = $1::bigint AND c.handed_at >= $4::timestamptz
ON CONFLICT (tenant_id, source_id, subject_kind, subject_id) WHERE source = 'efficiency' DO NOTHING
RETURNING id
"""
EFFICIENCY_LOOKBACK = timedelta(days=62)


async def owe_for_efficiency_cases(*, now: datetime, today: date, within_days: int) -> int:
    """Owe an interview for each unit handed to the efficiency office lately (within ``EFFICIENCY_LOOKBACK``)."""
    conn = Interview._meta.db
    rows = await conn.execute_query_dict(
        OWE_CASES_SQL, [current_tenant_id(), today + timedelta(days=within_days), now, now - EFFICIENCY_LOOKBACK]
    )
    return len(rows)


async def _claim(filters: Q, column: str, now: datetime) -> list[Interview]:
    """Stamp ``column`` on the rows that match and return them: each is told once (a concurrent tick skips the
    rows another holds)."""
    rows = await Interview.filter(filters).filter(**{f"{column}__isnull": True}).select_for_update(skip_locked=True)
    if rows:
        await Interview.filter(id__in=[r.id for r in rows]).update(**{column: now})
    return sorted(rows, key=lambda r: r.id)


def _subject(i: Interview) -> str:
    return f"{i.subject_kind.value} {i.subject_id}"


async def remind(*, now: datetime | None = None) -> dict[str, int]:
    """Owe the efficiency office's cases their interviews, remind owed interviews once ``interview_reminder_days``
    before their due day and follow-ups the day before theirs, and tell once when an owed interview is overdue.
    The tenant administrators are told. Safe to run any number of times."""
    at = now or clock.now()
    async with scoped_transaction():
        today = clock.local_day(at, await current_zone())
        rb = (await effective_config(today)).document.assessment.red_black_list
        owed = await owe_for_efficiency_cases(now=at, today=today, within_days=rb.interview_within_days)
        open_owed = Q(status=InterviewStatus.OWED)
        soon = await _claim(
            open_owed & Q(due_on__lte=today + timedelta(days=rb.interview_reminder_days), due_on__gte=today),
            "reminded_at", at,
        )
        late = await _claim(open_owed & Q(due_on__lt=today), "overdue_at", at)
        follow = await _claim(
            Q(status=InterviewStatus.HELD, follow_up_due__lte=today + timedelta(days=1), follow_up_due__gte=today,
              follow_up_done_on__isnull=True),
            "follow_up_reminded_at", at,
        )
        if soon or late or follow:
            admins = await tenant_admins(at)
            messages = [
                inbox.Message(admins, "interview.due_soon", f"约谈将到期：{_subject(i)}（{i.due_on}）",
                              f"{i.period_key} 应约谈 {_subject(i)}，期限 {i.due_on}。", None)
                for i in soon
            ] + [
                inbox.Message(admins, "interview.overdue", f"约谈已逾期：{_subject(i)}（{i.due_on}）",
                              f"{i.period_key} 应约谈 {_subject(i)}，已超过期限 {i.due_on}。", None)
                for i in late
            ] + [
                inbox.Message(admins, "interview.follow_up_due", f"约谈整改将到期：{_subject(i)}（{i.follow_up_due}）",
                              f"{i.held_on} 约谈 {_subject(i)} 的整改要求于 {i.follow_up_due} 到期。", None)
                for i in follow
            ]
            await inbox.send_all(messages, at=at)
        return {"owed_by_efficiency": owed, "reminded": len(soon), "overdue": len(late), "follow_up": len(follow)}

