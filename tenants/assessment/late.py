"""Late entry 补录 of paper score sheets: a county that starts mid-year enters a past round's sheets.

A tenant admin enters, after the round's deadline and with a reason, the sheets the bodies filled in on paper;
the round is opened if it does not exist yet. Each sheet is a first submission marked ``late_entry`` (shown on its
line of the breakdown), audited with the reason; a sheet already submitted is corrected as usual
(``correctScores``). A period whose ratings are published is refused whole: nothing here rewrites it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tenants import clock, periods
from tenants.assessment.errors import PeriodPublished
from tenants.assessment.models import AssessmentRound, RatingSnapshot, ScoreSubmission, SnapshotStatus
from tenants.assessment.ratings import lock_period
from tenants.assessment.rounds import check_sheet, open_round, period_config, storable
from tenants.audit import service as audit
from tenants.errors import InvalidInput, Problem
from tenants.permissions import require
from tenants.scope import savepoint
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.parties import PropertyContract

MAX_SHEETS = 5000


@dataclass(frozen=True)
class PaperSheet:
    """One body's paper sheet for one compound."""

    compound_id: int
    body_code: str
    scores: dict[str, int]
    notes: dict[str, str] = field(default_factory=dict)


async def enter_late(
    *,
    access: Access,
    actor: str,
    period_key: str,
    sheets: list[PaperSheet],
    reason: str,
    now: datetime | None = None,
) -> list[ScoreSubmission]:
    """Enter a past round's paper sheets after its deadline: all or nothing, every problem listed at once."""
    require(access, "assessment.enter_late")
    at = now or clock.now()
    start, end = periods.bounds(period_key)
    problems: list[Problem] = []
    if not reason.strip():
        problems.append(Problem("reason", "required", "补录须说明理由", "a late entry needs a reason"))
    elif len(reason) > 500:
        problems.append(Problem("reason", "too_long", "理由不超过 500 字", "reason must be at most 500 characters"))
    elif not storable(reason):
        problems.append(Problem("reason", "format", "理由含有无法保存的字符", "reason holds characters not allowed"))
    if not sheets or len(sheets) > MAX_SHEETS:
        problems.append(
            Problem("sheets", "count", f"请补录 1 到 {MAX_SHEETS} 张评分表", f"enter 1..{MAX_SHEETS} sheets")
        )
    async with savepoint() as conn:
        await lock_period(conn, period_key)  # a publish waits for the sheets, or they see it published
        if await RatingSnapshot.exists(period_key=period_key, status=SnapshotStatus.PUBLISHED):
            raise PeriodPublished(period_key)
        doc, _ = await period_config(period_key)
        zone = await current_zone()
        cadence = doc.assessment.cadence
        rnd = await AssessmentRound.get_or_none(period_key=period_key)
        deadline = (
            rnd.deadline
            if rnd is not None
            else periods.local_midnight(end + timedelta(days=1 + doc.assessment.submission_window_days), zone)
        )
        if ("Q" in period_key) != (cadence == "quarterly"):
            problems.append(
                Problem("period", "cadence", f"本地考核周期为 {cadence}", f"this tenant assesses {cadence}")
            )
        elif at <= deadline:
            problems.append(
                Problem(
                    "period",
                    "not_late",
                    f"{period_key} 的评分截止时间 {deadline.astimezone(zone):%Y-%m-%d %H:%M} 未到，请直接提交评分",
                    f"the deadline of {period_key} ({deadline.isoformat()}) has not passed: submit the scores",
                )
            )
        ids = sorted({s.compound_id for s in sheets if 0 < s.compound_id < 2**63})  # others: no such compound
        served = set(
            await PropertyContract.filter(compound_id__in=ids, starts_on__lte=end, ends_on__gte=start)
            .distinct()
            .values_list("compound_id", flat=True)
        )
        done: set[tuple[int, str]] = set()
        if rnd is not None:
            done = {
                (c, b)
                for c, b in await ScoreSubmission.filter(round_id=rnd.id, compound_id__in=ids).values_list(
                    "compound_id", "body_code"
                )
            }
        seen: set[tuple[int, str]] = set()
        for i, sheet in enumerate(sheets):
            at_sheet = f"sheets.{i}"
            for p in check_sheet(doc, sheet.body_code, sheet.scores, sheet.notes):
                problems.append(Problem(f"{at_sheet}.{p.field}", p.reason, p.message_zh, p.message_en))
            pair = (sheet.compound_id, sheet.body_code)
            if pair in seen:
                problems.append(
                    Problem(at_sheet, "duplicate", "同一小区同一主体的评分表重复", "a compound's body sheet twice")
                )
            seen.add(pair)
            if sheet.compound_id not in served:
                problems.append(
                    Problem(
                        f"{at_sheet}.compoundId",
                        "no_contract",
                        "该小区本期没有物业服务合同",
                        "the compound has no property contract in this period",
                    )
                )
            elif pair in done:
                problems.append(
                    Problem(
                        at_sheet,
                        "already_submitted",
                        "该主体已有此小区的评分，如需修改请提交更正并说明理由",
                        "this body has already scored this compound: submit a correction with a reason",
                    )
                )
        if problems:
            raise InvalidInput.of(problems)
        if rnd is None:
            rnd = await open_round(access=access, actor=actor, period_key=period_key, now=at)
        await ScoreSubmission.bulk_create(
            [
                ScoreSubmission(
                    round_id=rnd.id,
                    compound_id=s.compound_id,
                    body_code=s.body_code,
                    revision=1,
                    scores=s.scores,
                    notes=s.notes,
                    reason=reason.strip(),
                    submitted_by=actor,
                    submitted_at=at,
                    late_entry=True,
                )
                for s in sheets
            ]
        )
        rows = await ScoreSubmission.filter(
            round_id=rnd.id, compound_id__in=ids, late_entry=True, revision=1, submitted_at=at
        ).order_by("compound_id", "body_code")
        await audit.record(
            actor=actor,
            action="assessment.late_entry",
            target_type="assessment_round",
            target_id=rnd.id,
            details={
                "period": period_key,
                "reason": reason.strip(),
                "deadline": rnd.deadline.isoformat(),
                "sheets": [{"id": r.id, "compoundId": r.compound_id, "body": r.body_code} for r in rows],
            },
        )
        return rows
