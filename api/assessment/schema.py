from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.scalars import JSON

from api.assessment.breakdowns import CompanyScoreBreakdown, CompoundScoreBreakdown, SheetItem, sheet_items
from api.assessment.inputs import ScoreItemInput, item_paths, sheet_of
from api.assessment.missing import MissingScoreSheets, missing_sheets
from api.compiled import compiled
from api.context import Info
from api.files.types import FileType, attached_files
from api.ids import opt_id, parse_global_id, to_id, to_ids
from api.pagination import After, Before, Connection, First, Last, connection, node_fields, page_size
from api.rows import FromRow, Node, from_row
from api.territory.types import CompoundType, PropertyCompanyType, _load, load_company
from tenants import clock
from tenants.assessment import access as assessment_access
from tenants.assessment import commendations as commends
from tenants.assessment import interviews as talks
from tenants.assessment import late, ratings, reads, reports, rounds
from tenants.assessment.models import InterviewSource as _Source
from tenants.assessment.models import InterviewStatus as _Status
from tenants.assessment.models import InterviewSubject as _Subject
from tenants.assessment.models import ListMark as _Mark
from tenants.assessment.models import (
    RatingSnapshot,
    ScoreSubmission,
)
from tenants.assessment.models import RoundStatus as _RoundStatus
from tenants.assessment.models import SnapshotStatus as _SnapshotStatus

# Interviews and commendations are of a month or a quarter (a year is refused).
INTERVIEW_PERIOD = "The period: 2026-10 (month) or 2026Q4 (quarter), in the tenant's time zone."
ListMark = strawberry.enum(Enum("ListMark", {m.name: m.value for m in _Mark}), name="ListMark")
AssessmentRoundState = strawberry.enum(
    Enum("AssessmentRoundState", {m.name: m.value for m in _RoundStatus}),
    name="AssessmentRoundState",
    description="Whether an assessment round takes score sheets.",
)
InterviewSubjectKind = strawberry.enum(
    Enum("InterviewSubjectKind", {m.name: m.value for m in _Subject}),
    name="InterviewSubjectKind",
    description="Who a 约谈 concerns: a firm, a property manager, a unit, a street, a community or a person.",
)
InterviewState = strawberry.enum(
    Enum("InterviewState", {m.name: m.value for m in _Status}),
    name="InterviewState",
    description="An interview is owed (to be held by its due day) until it is held.",
)
InterviewOrigin = strawberry.enum(
    Enum("InterviewOrigin", {m.name: m.value for m in _Source}),
    name="InterviewOrigin",
    description="What made the interview: the black list, the efficiency office, or a hand-recorded one.",
)
RatingSnapshotState = strawberry.enum(
    Enum("RatingSnapshotState", {m.name: m.value for m in _SnapshotStatus}),
    name="RatingSnapshotState",
    description="A rating snapshot is a draft until published; then it never changes.",
)


@strawberry.type(name="AssessmentRound")
class RoundType(FromRow):
    period_key: str
    starts_on: date
    ends_on: date
    deadline: datetime
    status: str = strawberry.field(deprecation_reason="Use state (the AssessmentRoundState enum).")
    config_version: int | None

    @strawberry.field(description="Open (takes score sheets) or closed.")
    def state(self) -> AssessmentRoundState:  # type: ignore[valid-type]
        return AssessmentRoundState(self.status)


@strawberry.type(name="ScoreSubmission")
class SubmissionType(Node):
    readable = staticmethod(assessment_access.readable_submissions)

    @classmethod
    async def fetch(cls, caller: Any, ids: list[int]) -> dict[int, Any]:
        return await reads.submissions_by_id(caller, ids)  # only the bodies the caller scores for, as the list
    compound_id: strawberry.ID
    body_code: str
    revision: int
    scores: JSON = strawberry.field(description="Points by item code.", deprecation_reason="Use items (typed).")
    notes: JSON = strawberry.field(description="Notes by item code.", deprecation_reason="Use items (typed).")
    reason: str
    submitted_by: str
    submitted_at: datetime
    late_entry: bool = strawberry.field(description="Entered late from a paper sheet by a tenant administrator.")

    @strawberry.field(description="The sheet's items: points and note per rubric item.")
    def items(self) -> list[SheetItem]:
        return sheet_items(self.scores, self.notes)


@strawberry.type(name="SupervisorFinding")
class FindingType(Node):
    readable = staticmethod(assessment_access.readable_findings)
    compound_id: strawberry.ID
    description: str
    photo_url: str = strawberry.field(deprecation_reason="A link to a photo elsewhere; uploaded photos are in photos.")
    found_at: datetime
    resolve_by: datetime
    resolved_at: datetime | None

    @strawberry.field(description="Photos uploaded with the finding (uploadFile), with signed links and thumbnails.")
    async def photos(self, info: Info) -> list[FileType]:
        return await attached_files(info, "finding", int(self.id))


@strawberry.type(name="RatingSnapshot")
class SnapshotType(FromRow):
    period_key: str
    revision: int
    status: str = strawberry.field(deprecation_reason="Use state (the RatingSnapshotState enum).")
    reason: str
    config_version: int | None
    computed_at: datetime
    published_at: datetime | None

    @strawberry.field(description="Draft (administrators only) or published (frozen).")
    def state(self) -> RatingSnapshotState:  # type: ignore[valid-type]
        return RatingSnapshotState(self.status)


@strawberry.type(name="CompanyRating")
class CompanyRatingType(FromRow):
    company_id: strawberry.ID
    score: Decimal
    rank: int
    star: bool = strawberry.field(description="服务之星 of the period.")
    mark: ListMark  # type: ignore[valid-type]
    breakdown: JSON = strawberry.field(deprecation_reason="Use scoreBreakdown (typed).")
    company_pk: strawberry.Private[int]

    @strawberry.field(description="How the score was combined from the company's compounds.")
    def score_breakdown(self) -> CompanyScoreBreakdown:
        return CompanyScoreBreakdown.of(self.breakdown)

    links: strawberry.Private[dict[str, Any]]  # read with the page, by name

    @strawberry.field(description="The rated 物业企业 (null for a caller who does not read it, e.g. a resident).")
    def company(self, info: Info) -> PropertyCompanyType | None:
        if "company" in self.links:  # read with the page
            row = self.links["company"]
            return None if row is None else PropertyCompanyType.of(row)  # type: ignore[no-any-return]
        return load_company(info, self.company_pk)  # type: ignore[return-value]

    @classmethod
    def of(cls, row: Any) -> CompanyRatingType:
        return from_row(cls, row, links={})

    @classmethod
    def with_links(cls, row: tuple[Any, dict[str, Any]]) -> CompanyRatingType:
        return from_row(cls, row[0], links=row[1])


@strawberry.type(name="CompoundRating")
class CompoundRatingType(FromRow):
    compound_id: strawberry.ID
    company_id: strawberry.ID
    score: Decimal
    body_part: Decimal
    objective_part: Decimal | None
    deductions: Decimal
    rank: int
    breakdown: JSON = strawberry.field(
        description="Each body, item, input and deduction with weight and contribution.",
        deprecation_reason="Use scoreBreakdown (typed).",
    )
    compound_pk: strawberry.Private[int]

    @strawberry.field(description="How the score was computed: parts, objective inputs, deductions.")
    def score_breakdown(self) -> CompoundScoreBreakdown:
        return CompoundScoreBreakdown.of(self.breakdown)

    links: strawberry.Private[dict[str, Any]]  # read with the page, by name

    @strawberry.field
    def compound(self, info: Info) -> CompoundType | None:
        if "compound" in self.links:  # read with the page
            row = self.links["compound"]
            return None if row is None else CompoundType.of(row)  # type: ignore[no-any-return]
        return _load(info, "compound", self.compound_pk)  # type: ignore[no-any-return]

    @classmethod
    def of(cls, row: Any) -> CompoundRatingType:
        return from_row(cls, row, links={})

    @classmethod
    def with_links(cls, row: tuple[Any, dict[str, Any]]) -> CompoundRatingType:
        return from_row(cls, row[0], links=row[1])


@strawberry.type
class TrendPoint:
    period_key: str
    revision: int
    score: Decimal
    rank: int
    of: int
    mark: str = strawberry.field(deprecation_reason="Use listMark (the ListMark enum).")

    @strawberry.field(description="Commended, interviewed or neither (红黑榜) in that period.")
    def list_mark(self) -> ListMark:  # type: ignore[valid-type]
        return ListMark(self.mark)


@strawberry.type(name="Interview")
class InterviewType(Node):
    readable = staticmethod(assessment_access.readable_interviews)
    company_id: strawberry.ID | None
    subject_kind: InterviewSubjectKind  # type: ignore[valid-type]
    subject_id: strawberry.ID
    status: InterviewState = strawberry.field(name="state", description="Owed, held, or withdrawn.")  # type: ignore[valid-type]
    source: InterviewOrigin  # type: ignore[valid-type]
    period_key: str
    reason: str
    due_on: date | None
    held_on: date | None
    attendees: list[str]
    outcome: str
    follow_up: str
    follow_up_due: date | None
    follow_up_done_on: date | None
    follow_up_evidence: str
    recorded_by: str

    @strawberry.field(
        description="Owed and past its due day, or held with its follow-up past its due day and not done "
        "(tenant-local today). A withdrawn interview is never overdue."
    )
    async def overdue(self) -> bool:
        return talks.overdue_on(
            self.status.value, self.due_on, self.follow_up_due, self.follow_up_done_on, await clock.today()  # type: ignore[attr-defined]
        )


@strawberry.type(name="Commendation")
class CommendationType(Node):
    readable = staticmethod(assessment_access.readable_commendations)
    company_id: strawberry.ID
    period_key: str
    rank: int
    score: Decimal
    plaque_on: date | None


@strawberry.type
class EliminationCandidate:
    company_id: strawberry.ID
    average_score: Decimal
    periods: int
    black_list_times: int
    reasons: list[str]
    manager_id: strawberry.ID | None = strawberry.field(
        default=None, description="When the year's rule ranks managers (target manager): the property manager "
        "物业经理; companyId is then their firm. Null when firms are ranked.")


@strawberry.type
class RedBlackList:
    snapshot: SnapshotType
    commended: list[CompanyRatingType]
    interviewed: list[CompanyRatingType]
    held_off: list[CompanyRatingType] = strawberry.field(
        description="Firms the list rules kept off both lists: tied at a boundary, or without a score sheet "
        "(breakdown.lists.red_black.reason says which)."
    )


@strawberry.input
class SubmitScoresInput:
    period: str
    compound_id: strawberry.ID
    body_code: str
    items: list[ScoreItemInput] | None = strawberry.field(
        default=None, description="The sheet's rubric items with points and notes (or the deprecated scores)."
    )
    scores: JSON | None = strawberry.field(
        default=None, description="Rubric item code -> points.", deprecation_reason="Use items (typed)."
    )
    notes: JSON | None = strawberry.field(
        default=None, description="Rubric item code -> note.", deprecation_reason="Use items (typed)."
    )
    reason: str = strawberry.field(default="", description="Required for a correction.")
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


@strawberry.input
class PaperSheetInput:
    compound_id: strawberry.ID
    body_code: str
    items: list[ScoreItemInput] | None = strawberry.field(
        default=None, description="The sheet's rubric items with points and notes (or the deprecated scores)."
    )
    scores: JSON | None = strawberry.field(
        default=None, description="Rubric item code -> points.", deprecation_reason="Use items (typed)."
    )
    notes: JSON | None = strawberry.field(
        default=None, description="Rubric item code -> note.", deprecation_reason="Use items (typed)."
    )


@strawberry.input
class EnterLateScoresInput:
    period: str
    reason: str = strawberry.field(description="Why the sheets come late (e.g. the county adopted civicgrid).")
    sheets: list[PaperSheetInput]


@strawberry.input
class RecordInterviewInput:
    company_id: strawberry.ID | None = strawberry.field(
        default=None, description="The firm interviewed (or subjectKind FIRM + subjectId)."
    )
    subject_kind: InterviewSubjectKind | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Who is interviewed (default FIRM, with companyId)."
    )
    subject_id: strawberry.ID | None = strawberry.field(default=None, description="The id of who is interviewed.")
    reason: str = strawberry.field(default="", description="Why the interview is held (事由).")
    period: str
    held_on: date
    attendees: list[str]
    outcome: str
    follow_up: str = ""
    follow_up_due: date | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
    )


# The Node type of each kind of interview subject: a subjectId is decoded as the type its subjectKind names.
SUBJECT_NODE = {
    _Subject.FIRM.value: "PropertyCompany",
    _Subject.MANAGER.value: "PropertyManager",
    _Subject.UNIT.value: "Unit",
    _Subject.STREET.value: "Street",
    _Subject.COMMUNITY.value: "Community",
    _Subject.PERSON.value: "Person",
}
_KIND_OF_NODE = {node: kind for kind, node in SUBJECT_NODE.items()}


def _subject(kind: str | None, subject_id: strawberry.ID | None) -> tuple[str | None, int | None]:
    """(subject kind, database id) of a subjectId: of the type ``kind`` names (another type is INVALID_INPUT
    ``wrong_kind``); without a kind, a global id names its own (database ids then match every kind)."""
    if subject_id is None:
        return kind, None
    sid = to_id(subject_id, "subjectId", SUBJECT_NODE[kind] if kind else tuple(SUBJECT_NODE.values()))
    if kind is None and (ref := parse_global_id(str(subject_id))) is not None:
        kind = _KIND_OF_NODE[ref[0]]
    return kind, sid


async def _snapshot(info: Info, period: str, revision: int | None) -> RatingSnapshot:
    return await ratings.snapshot_for(await info.context.access(), period, revision=revision)


@strawberry.type
class AssessmentQuery:
    @strawberry.field(description="A period's assessment round.")
    async def assessment_round(self, info: Info, period: str) -> RoundType | None:
        r = await reads.round_of(period)
        return RoundType.of(r) if r else None

    @strawberry.field(
        description="Bodies that have not scored yet, per compound (tenant administrators).",
        deprecation_reason="Use missingScoreSheets (typed).",
    )
    async def missing_scores(self, info: Info, period: str) -> JSON:
        missing = await rounds.missing_scores(access=await info.context.access(), period_key=period)
        return {str(k): v for k, v in missing.items() if v}

    @strawberry.field(description="Compounds whose score sheets are not all in, with the bodies still missing.")
    async def missing_score_sheets(self, info: Info, period: str) -> list[MissingScoreSheets]:
        return missing_sheets(await rounds.missing_scores(access=await info.context.access(), period_key=period))

    @strawberry.field(
        description="Submissions for a compound in a period, every revision: all bodies for tenant "
        "administrators and the housing department, otherwise only the bodies you score for."
    )
    async def score_submissions(self, info: Info, period: str, compound_id: strawberry.ID) -> list[SubmissionType]:
        rows = await reads.submissions(await info.context.access(), period, to_id(compound_id, "compoundId"))
        return [SubmissionType.of(s) for s in rows]

    @strawberry.field(description="Supervisors' findings on a compound.")
    async def findings(self, info: Info, compound_id: strawberry.ID) -> list[FindingType]:
        rows = await reads.findings(await info.context.access(), to_id(compound_id, "compoundId"))
        return [FindingType.of(f) for f in rows]

    @strawberry.field(description="A period's rating snapshots (revisions); drafts for administrators only.")
    async def rating_snapshots(self, info: Info, period: str) -> list[SnapshotType]:
        return [SnapshotType.of(s) for s in await reads.snapshots(await info.context.access(), period)]

    @strawberry.field(description="Companies by rank for a period (the published ratings, public in the tenant).")
    async def company_rankings(
        self,
        info: Info,
        period: str,
        revision: int | None = None,
        mark: ListMark | None = None,  # type: ignore[valid-type]
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[CompanyRatingType]:
        snap = await _snapshot(info, period, revision)
        wanted = _Mark(mark.value) if mark else None
        selected = node_fields(info)
        if selected:  # the page with the company, if selected, in one statement
            caller = await info.context.access()
            return await compiled(info, await connection(
                info,
                lambda w: reads.company_rankings_with(
                    caller, snap, window=w, mark=wanted, company="company" in selected
                ),
                CompanyRatingType.with_links, first=first, after=after, last=last, before=before,
            ))
        return await connection(
            info, lambda w: reports.company_rankings(snap, window=w, mark=wanted), CompanyRatingType.of,
            first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="Compounds by rank for a period, each with its breakdown.")
    async def compound_rankings(
        self,
        info: Info,
        period: str,
        revision: int | None = None,
        company_id: strawberry.ID | None = None,
        first: First = None, after: After = None, last: Last = None, before: Before = None,
    ) -> Connection[CompoundRatingType]:
        snap = await _snapshot(info, period, revision)
        cid = opt_id(company_id, "companyId")
        selected = node_fields(info)
        if selected:  # the page with the compound, if selected, in one statement
            caller = await info.context.access()
            return await compiled(info, await connection(
                info,
                lambda w: reads.compound_rankings_with(
                    caller, snap, window=w, company_id=cid, compound="compound" in selected
                ),
                CompoundRatingType.with_links, first=first, after=after, last=last, before=before,
            ))
        return await connection(
            info, lambda w: reports.compound_rankings(snap, window=w, company_id=cid), CompoundRatingType.of,
            first=first, after=after, last=last, before=before
        )

    @strawberry.field(description="A company's published ratings over the periods, oldest first.")
    async def company_trend(self, info: Info, company_id: strawberry.ID) -> list[TrendPoint]:
        points = await reports.company_trend(to_id(company_id, "companyId"))
        return [
            TrendPoint(period_key=p.period_key, revision=p.revision, score=p.score, rank=p.rank, of=p.of, mark=p.mark)
            for p in points
        ]

    @strawberry.field(description="红黑榜 of a period: commended and to be interviewed.")
    async def red_black_list(self, info: Info, period: str, revision: int | None = None) -> RedBlackList:
        snap = await _snapshot(info, period, revision)
        rows = await reports.listed(snap)
        return RedBlackList(
            snapshot=SnapshotType.of(snap),
            commended=[CompanyRatingType.of(r) for r in rows if r.mark == _Mark.COMMENDED],
            interviewed=[CompanyRatingType.of(r) for r in rows if r.mark == _Mark.INTERVIEWED],
            held_off=[CompanyRatingType.of(r) for r in await reports.held_off(snap)],
        )

    @strawberry.field(
        description="约谈 records, owed and held (withdrawn ones when asked for by state), newest first: owed ones "
        "(not held yet) latest due first, then held ones latest first."
    )
    async def interviews(
        self,
        info: Info,
        company_id: strawberry.ID | None = None,
        period: Annotated[str | None, strawberry.argument(description=INTERVIEW_PERIOD)] = None,
        subject_kind: Annotated[
            InterviewSubjectKind | None, strawberry.argument(description="Only interviews of this kind of subject.")  # type: ignore[valid-type]
        ] = None,
        subject_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this subject's.")] = None,
        state: Annotated[
            InterviewState | None,  # type: ignore[valid-type]
            strawberry.argument(description="Only interviews in this state (withdrawn ones only when asked for)."),
        ] = None,
        first: Annotated[
            int | None, strawberry.argument(description="At most this many (capped like a page); default all.")
        ] = None,
        after: Annotated[
            strawberry.ID | None,
            strawberry.argument(description="Only those after this interview (the last of the previous page)."),
        ] = None,
    ) -> list[InterviewType]:
        kind, sid = _subject(None if subject_kind is None else subject_kind.value, subject_id)
        found = await talks.interviews(
            access=await info.context.access(),
            company_id=opt_id(company_id, "companyId"),
            period_key=period,
            subject_kind=kind,
            subject_id=sid,
            status=None if state is None else state.value,
            first=None if first is None else page_size(first),
            after=opt_id(after, "after", "Interview"),
        )
        return [InterviewType.of(i) for i in found]

    @strawberry.field(description="表彰挂牌: the firms commended on published red lists (current ones), newest period "
                      "first, best rank first.")
    async def commendations(
        self,
        info: Info,
        period: Annotated[str | None, strawberry.argument(description=INTERVIEW_PERIOD)] = None,
        company_id: Annotated[strawberry.ID | None, strawberry.argument(description="Only this firm's.")] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[CommendationType]:
        caller, cid = await info.context.access(), opt_id(company_id, "companyId")
        return await connection(
            info, lambda w: commends.commendations(access=caller, period_key=period, company_id=cid, window=w),
            CommendationType.of, first=first, after=after, last=None, before=None,
        )

    @strawberry.field(description="末位淘汰 candidates of a year.")
    async def elimination_candidates(self, info: Info, year: int) -> list[EliminationCandidate]:
        found = await reports.elimination_candidates(access=await info.context.access(), year=year)
        return [
            EliminationCandidate(
                company_id=strawberry.ID(str(c.company_id)),
                average_score=c.average_score,
                periods=c.periods,
                black_list_times=c.black_list_times,
                reasons=c.reasons,
                manager_id=None if c.manager_id is None else strawberry.ID(str(c.manager_id)),
            )
            for c in found
        ]


async def _submit(info: Info, input: SubmitScoresInput, **correction: Any) -> ScoreSubmission:
    """One score sheet, as typed items or the deprecated JSON; errors name the input's own item paths."""
    compound_id = to_id(input.compound_id, "compoundId")
    sheet = sheet_of(input.scores, input.notes, input.items)
    with item_paths({"": sheet}):
        return await rounds.submit(
            **await info.context.acting(),
            period_key=input.period,
            compound_id=compound_id,
            body_code=input.body_code,
            scores=sheet.scores,
            notes=sheet.notes,
            idempotency_key=input.idempotency_key,
            **correction,
        )


@strawberry.type
class AssessmentMutation:
    @strawberry.mutation(description="Open a period's assessment round (the job opens it on schedule too).")
    async def open_assessment_round(self, info: Info, period: str) -> RoundType:
        return RoundType.of(
            await rounds.open_round(**await info.context.acting(), period_key=period)
        )

    @strawberry.mutation(description="A body's scoring sheet for a compound: final once submitted.")
    async def submit_scores(self, info: Info, input: SubmitScoresInput) -> SubmissionType:
        sub = await _submit(info, input)
        return SubmissionType.of(sub)

    @strawberry.mutation(description="Correct a submitted sheet: a new, audited revision with a reason.")
    async def correct_scores(self, info: Info, input: SubmitScoresInput) -> SubmissionType:
        sub = await _submit(info, input, reason=input.reason, correction=True)
        return SubmissionType.of(sub)

    @strawberry.mutation(
        description="补录: a tenant administrator enters a past round's paper sheets after its deadline, with a "
        "reason (opening the round if needed); refused once the period's ratings are published."
    )
    async def enter_late_scores(self, info: Info, input: EnterLateScoresInput) -> list[SubmissionType]:
        given = {
            f"sheets.{i}.": sheet_of(s.scores, s.notes, s.items, f"sheets.{i}.") for i, s in enumerate(input.sheets)
        }
        sheets = [
            late.PaperSheet(
                compound_id=to_id(s.compound_id, f"sheets.{i}.compoundId"),
                body_code=s.body_code,
                scores=given[f"sheets.{i}."].scores,
                notes=given[f"sheets.{i}."].notes,
            )
            for i, s in enumerate(input.sheets)
        ]
        with item_paths(given):
            rows = await late.enter_late(
                **await info.context.acting(),
                period_key=input.period,
                sheets=sheets,
                reason=input.reason,
            )
        return [SubmissionType.of(s) for s in rows]

    @strawberry.mutation(description="小区监督员 records a finding against a compound.")
    async def record_finding(
        self,
        info: Info,
        compound_id: strawberry.ID,
        description: str,
        photo_url: Annotated[str, strawberry.argument(
            deprecation_reason="A link to a photo elsewhere; upload photos (uploadFile) and use photoFileIds."
        )] = "",
        idempotency_key: Annotated[str | None, strawberry.argument(
            description="A key of the client's (e.g. a UUID): a retry with it returns the same row."
        )] = None,
        photo_file_ids: Annotated[list[strawberry.ID] | None, strawberry.argument(
            description="Photos uploaded with uploadFile(purpose: FINDING) by you (at most 9)."
        )] = None,
    ) -> FindingType:
        compound = to_id(compound_id, "compoundId")
        photo_files = to_ids(photo_file_ids or [], "photoFileIds")
        f = await rounds.record_finding(
            **await info.context.acting(), compound_id=compound, description=description,
            photo_url=photo_url, photo_file_ids=photo_files,
            idempotency_key=idempotency_key,
        )
        return FindingType.of(f)

    @strawberry.mutation(description="The firm resolved a finding.")
    async def resolve_finding(self, info: Info, id: strawberry.ID) -> FindingType:
        f = await rounds.resolve_finding(
            **await info.context.acting(),
            finding_id=to_id(id, "id", "SupervisorFinding"),
        )
        return FindingType.of(f)

    @strawberry.mutation(
        description="Compute the period's draft ratings now; with a reason after publication, a new revision."
    )
    async def compute_ratings(self, info: Info, period: str, reason: str | None = None) -> SnapshotType:
        snap = await ratings.compute(
            access=await info.context.access(), period_key=period, actor=info.context.actor, revise_reason=reason
        )
        return SnapshotType.of(snap)

    @strawberry.mutation(description="Publish the period's draft: from then on it never changes.")
    async def publish_ratings(self, info: Info, period: str) -> SnapshotType:
        return SnapshotType.of(
            await ratings.publish(access=await info.context.access(), period_key=period, actor=info.context.actor)
        )

    @strawberry.mutation(
        description="Mark a held interview's follow-up 整改 done, with evidence: it is then neither reminded nor "
        "overdue. Whoever may record the interview (a street officer: with a firm of their street)."
    )
    async def complete_interview_follow_up(
        self,
        info: Info,
        interview_id: Annotated[strawberry.ID, strawberry.argument(description="The held interview.")],
        evidence: Annotated[str, strawberry.argument(description="What was done (整改情况), up to 2000 characters.")],
        done_on: Annotated[
            date | None, strawberry.argument(description="The day it was done (tenant-local; default today).")
        ] = None,
    ) -> InterviewType:
        i = await talks.complete_follow_up(
            **await info.context.acting(), interview_id=to_id(interview_id, "interviewId"), evidence=evidence,
            done_on=done_on,
        )
        return InterviewType.of(i)

    @strawberry.mutation(description="Record the day a commendation's plaque is hung (表彰挂牌).")
    async def set_plaque_day(
        self,
        info: Info,
        commendation_id: Annotated[strawberry.ID, strawberry.argument(description="The commendation.")],
        plaque_on: Annotated[date, strawberry.argument(description="The plaque day (tenant-local).")],
    ) -> CommendationType:
        c = await commends.set_plaque_day(
            **await info.context.acting(), commendation_id=to_id(commendation_id, "commendationId"), plaque_on=plaque_on
        )
        return CommendationType.of(c)

    @strawberry.mutation(
        description="Record a 约谈 with a firm, a manager, a unit, a street, a community or a person; it closes the "
        "interview owed to that subject for the period, if any."
    )
    async def record_interview(self, info: Info, input: RecordInterviewInput) -> InterviewType:
        kind, sid = _subject("firm" if input.subject_kind is None else input.subject_kind.value, input.subject_id)
        i = await talks.record_interview(
            **await info.context.acting(),
            company_id=opt_id(input.company_id, "companyId"),
            subject_kind=kind,
            subject_id=sid,
            reason=input.reason,
            period_key=input.period,
            held_on=input.held_on,
            attendees=input.attendees,
            outcome=input.outcome,
            follow_up=input.follow_up,
            follow_up_due=input.follow_up_due,
            idempotency_key=input.idempotency_key,
        )
        return InterviewType.of(i)
