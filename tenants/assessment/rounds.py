"""Assessment rounds, body submissions (locked once made; corrections are audited revisions) and findings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tenants import clock, periods
from tenants.assessment.models import AssessmentRound, RoundStatus, ScoreSubmission, SupervisorFinding
from tenants.audit import service as audit
from tenants.config.document import ConfigDocument
from tenants.config.service import effective_config
from tenants.errors import Conflict, IllegalTransition, InvalidInput, NotFound, Noun, Problem
from tenants.files import service as files
from tenants.files.models import Purpose
from tenants.idempotency import idempotent
from tenants.permissions import allows, require
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.models import Tenant
from tenants.tenancy.roles import Role
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access, get_in_scope
from tenants.territory.parties import PropertyContract
from tenants.territory.people import Person, Post, PostKind, active_on

# A supervisor's finding is open until its fix is confirmed, once (code CONFLICT, as it shipped).
MAX_FINDING_PHOTOS = 9
FINDING = Noun("问题", "finding", {"resolved": "已整改"}, {"resolve": "确认整改"}, field="id", code="CONFLICT")


def _now(now: datetime | None) -> datetime:
    return now or clock.now()


async def period_config(period_key: str) -> tuple[ConfigDocument, int | None]:
    """The configuration in force on the period's last day, and this tenant's version number then."""
    _, end = periods.bounds(period_key)
    eff = await effective_config(end)
    me = (await Tenant.get(id=current_tenant_id())).slug
    return eff.document, eff.versions.get(me)


async def period_versions(period_key: str) -> dict[str, int | None]:
    """The version in force on the period's last day of every tenant in the chain (the city's and the district's)."""
    _, end = periods.bounds(period_key)
    return (await effective_config(end)).versions


async def open_round(*, access: Access, actor: str, period_key: str, now: datetime | None = None) -> AssessmentRound:
    """Open a period's round (a tenant admin, or the scheduled job); the deadline follows the configuration."""
    require(access, "assessment.open_round")
    at = _now(now)
    async with savepoint():
        doc, version = await period_config(period_key)
        cadence = doc.assessment.cadence
        if ("Q" in period_key) != (cadence == "quarterly"):
            raise InvalidInput.of(
                [Problem("period", "cadence", f"本地考核周期为 {cadence}", f"this tenant assesses {cadence}")]
            )
        start, end = periods.bounds(period_key)
        deadline = periods.local_midnight(
            end + timedelta(days=1 + doc.assessment.submission_window_days), await current_zone()
        )
        existing = await AssessmentRound.get_or_none(period_key=period_key)
        if existing is not None:
            return existing
        try:
            async with in_transaction():  # a savepoint: a concurrent opener's row makes only this insert fail
                rnd = await AssessmentRound.create(
                    period_key=period_key,
                    starts_on=start,
                    ends_on=end,
                    deadline=deadline,
                    config_version=version,
                    opened_by=actor,
                    opened_at=at,
                )
        except IntegrityError:  # opened meanwhile by another run
            return await AssessmentRound.get(period_key=period_key)
        await audit.record(
            actor=actor,
            action="assessment.open",
            target_type="assessment_round",
            target_id=rnd.id,
            details={"period": period_key, "deadline": deadline.isoformat()},
        )
        return rnd


@dataclass(frozen=True)
class BodyGrant:
    body: str
    level: str | None  # None: the whole tenant
    node_id: int | None


async def grants(access: Access, doc: ConfigDocument) -> list[BodyGrant]:
    """Which bodies the caller scores for, and where: the roles the configuration names for each body (within the
    area granted through that very role), and assessor posts naming the body."""
    if access.whole_tenant:
        return [BodyGrant(code, None, None) for code in doc.assessment.bodies]
    out: list[BodyGrant] = []
    for code, body in doc.assessment.bodies.items():
        for role_name in body.roles:
            role = Role(role_name)
            if role not in access.roles:
                continue
            if role == Role.HOUSING_DEPT:
                out.append(BodyGrant(code, None, None))
                continue
            for level, ids in access.by_role.get(role, {}).items():
                out += [BodyGrant(code, level, i) for i in sorted(ids)]
    if Role.ASSESSOR in access.roles and access.user_id:
        person = await Person.get_or_none(user_id=access.user_id)
        if person is not None:
            today = await clock.today()
            posts = await Post.filter(active_on(today), person_id=person.id, kind=PostKind.ASSESSOR)
            out += [BodyGrant(p.body_code or "", p.target_kind, p.target_id) for p in posts]
    return out


@dataclass(frozen=True)
class Sheet:
    """What ``assessment.score`` is checked on: a body's sheet for a compound, with the caller's grants."""

    body: str
    compound: Any  # a Compound, or None when there is none
    grants: list[BodyGrant]


async def sheet(access: Access, doc: ConfigDocument, body: str, compound_id: int) -> Sheet:
    from tenants.territory.models import Compound

    compound = await Compound.get_or_none(id=compound_id)
    return Sheet(body, compound, await grants(access, doc) if compound is not None else [])


async def scored_bodies(access: Access, doc: ConfigDocument, compound_id: int) -> set[str]:
    """The bodies the caller scores for on this compound (``assessment.score`` for each body it is granted)."""
    granted = await sheet(access, doc, "", compound_id)
    return {g.body for g in granted.grants
            if allows(access, "assessment.score", Sheet(g.body, granted.compound, granted.grants))}


async def may_score(access: Access, doc: ConfigDocument, body: str, compound_id: int) -> bool:
    return allows(access, "assessment.score", await sheet(access, doc, body, compound_id))


def storable(text: str) -> bool:
    """Whether PostgreSQL can store the text: no NUL byte, no lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def check_sheet(doc: ConfigDocument, body: str, scores: dict[str, int], notes: dict[str, str]) -> list[Problem]:
    items = {i.code: i for i in doc.assessment.rubric if i.body == body and i.source == "body"}
    # Lines the rating run scores from records (joint meetings, issue 19): never on a body's sheet.
    from_records = {i.code: i for i in doc.assessment.rubric if i.body == body and i.source != "body"}
    problems: list[Problem] = []
    if body not in doc.assessment.bodies:
        return [
            Problem(
                "bodyCode",
                "unknown_body",
                f"考核主体 {body} 不在本期配置中",
                f"{body} is not an assessor body of this period's configuration",
            )
        ]
    for code in scores:
        if code in from_records:
            line = from_records[code]
            problems.append(
                Problem(
                    f"scores.{code}",
                    "from_records",
                    f"{line.title} 由评分任务按会议记录计分（{line.source}），考核主体不填写",
                    f"{code} is scored by the rating run from meeting records ({line.source}), not by a body",
                )
            )
        elif code not in items:
            problems.append(
                Problem(
                    f"scores.{code}",
                    "unknown_item",
                    f"{code} 不是本主体的评分项",
                    f"{code} is not a rubric item of {body}",
                )
            )
    for code, item in items.items():
        if code not in scores:
            problems.append(
                Problem(
                    f"scores.{code}", "required", f"缺少评分项 {item.title}", f"{code} ({item.title}) must be scored"
                )
            )
        elif not isinstance(scores[code], int) or not 0 <= scores[code] <= item.max_points:
            problems.append(
                Problem(
                    f"scores.{code}",
                    "out_of_range",
                    f"{item.title} 须在 0 到 {item.max_points} 分之间",
                    f"{code} must be 0..{item.max_points}",
                )
            )
    for code, note in notes.items():
        if code not in items or len(note) > 500 or not storable(note):
            problems.append(
                Problem(
                    f"notes.{code}",
                    "invalid",
                    "备注须对应评分项且不超过 500 字",
                    "a note belongs to a rubric item and is at most 500 characters",
                )
            )
    return problems


@idempotent(lambda **kw: "correctScores" if kw.get("correction") else "submitScores", ScoreSubmission)
async def submit(
    *,
    access: Access,
    actor: str,
    period_key: str,
    compound_id: int,
    body_code: str,
    scores: dict[str, int],
    notes: dict[str, str] | None = None,
    reason: str = "",
    correction: bool = False,
    now: datetime | None = None,
) -> ScoreSubmission:
    """A body's scoring sheet for a compound. The first is final; a correction (with a reason) is a new revision."""
    at = _now(now)
    notes = notes or {}
    async with savepoint():
        rnd = await AssessmentRound.get_or_none(period_key=period_key)
        if rnd is None:
            raise NotFound(f"{period_key} 的考核尚未开始", f"no assessment round for {period_key}", field="period")
        doc, _ = await period_config(period_key)
        require(access, "assessment.score", await sheet(access, doc, body_code, compound_id))
        problems = check_sheet(doc, body_code, scores, notes)
        if correction and not reason.strip():
            problems.append(Problem("reason", "required", "更正须说明理由", "a correction needs a reason"))
        if len(reason) > 500:
            problems.append(Problem("reason", "too_long", "理由不超过 500 字", "reason must be at most 500 characters"))
        elif not storable(reason):
            problems.append(
                Problem("reason", "format", "理由含有无法保存的字符", "reason holds characters not allowed")
            )
        if problems:
            raise InvalidInput.of(problems)
        served = await PropertyContract.filter(
            compound_id=compound_id, starts_on__lte=rnd.ends_on, ends_on__gte=rnd.starts_on
        ).exists()
        if not served:
            raise InvalidInput.of(
                [
                    Problem(
                        "compoundId",
                        "no_contract",
                        "该小区本期没有物业服务合同",
                        "the compound has no property contract in this period",
                    )
                ]
            )
        latest = (
            await ScoreSubmission.filter(round_id=rnd.id, compound_id=compound_id, body_code=body_code)
            .order_by("-revision")
            .first()
        )
        if latest is not None and not correction:
            raise Conflict(
                "本主体已提交该小区的评分，如需修改请提交更正并说明理由",
                "this body has already scored this compound; submit a correction with a reason",
                field="bodyCode",
            )
        if latest is None and correction:
            raise InvalidInput.of(
                [Problem("correction", "nothing_to_correct", "尚无可更正的评分", "there is no submission to correct")]
            )
        if latest is None and (rnd.status == RoundStatus.CLOSED or at > rnd.deadline):
            raise InvalidInput.of([Problem("period", "closed", "评分已截止", "the submission deadline has passed")])
        revision = (latest.revision + 1) if latest else 1
        try:
            sub = await ScoreSubmission.create(
                round_id=rnd.id,
                compound_id=compound_id,
                body_code=body_code,
                revision=revision,
                scores=scores,
                notes=notes,
                reason=reason.strip(),
                submitted_by=actor,
                submitted_at=at,
                late_entry=latest.late_entry if latest else False,  # a correction keeps the sheet's origin
            )
        except IntegrityError as exc:
            raise Conflict("评分刚被他人提交", "scores were submitted meanwhile", field="bodyCode") from exc
        await audit.record(
            actor=actor,
            action="assessment.correct" if correction else "assessment.submit",
            target_type="score_submission",
            target_id=sub.id,
            details={
                "period": period_key,
                "compoundId": compound_id,
                "body": body_code,
                "revision": revision,
                "reason": reason.strip(),
                "scores": scores,
                "before": latest.scores if latest else None,
                "late": at > rnd.deadline,
            },
        )
        return sub


async def latest_submissions(round_id: int) -> list[ScoreSubmission]:
    """The revision that counts, per compound and body (one DISTINCT ON query)."""
    from tortoise import connections

    rows = await connections.get("default").execute_query_dict(
        "SELECT DISTINCT ON (compound_id, body_code) id FROM score_submission"
        " WHERE tenant_id = $1 AND round_id = $2 ORDER BY compound_id, body_code, revision DESC",
        [current_tenant_id(), round_id],
    )
    return await ScoreSubmission.filter(id__in=[r["id"] for r in rows]).order_by("compound_id", "body_code")


async def missing_scores(*, access: Access, period_key: str) -> dict[int, list[str]]:
    """``missing_bodies`` for a caller who reads drafts."""
    require(access, "assessment.read_drafts")
    return await missing_bodies(period_key)


async def missing_bodies(period_key: str) -> dict[int, list[str]]:
    """Per compound under contract in the period, the bodies that have not submitted yet."""
    periods.bounds(period_key)
    rnd = await AssessmentRound.get_or_none(period_key=period_key)
    if rnd is None:
        raise NotFound(
            f"{period_key} 的考核轮次尚未开启", f"no assessment round is open for {period_key}", field="period"
        )
    doc, _ = await period_config(period_key)
    compounds = (
        await PropertyContract.filter(starts_on__lte=rnd.ends_on, ends_on__gte=rnd.starts_on)
        .distinct()
        .values_list("compound_id", flat=True)
    )
    done = {(s.compound_id, s.body_code) for s in await latest_submissions(rnd.id)}
    return {c: [b for b in doc.assessment.bodies if (c, b) not in done] for c in sorted(set(compounds))}  # type: ignore[misc]


@idempotent("recordFinding", SupervisorFinding)
async def record_finding(
    *, access: Access, actor: str, compound_id: int, description: str, photo_url: str = "",
    photo_file_ids: list[int] | None = None, now: datetime | None = None
) -> SupervisorFinding:
    """小区监督员 records a finding; the configured hours give the firm its chance to resolve it. Photos are
    uploaded files (``photo_file_ids``) or, deprecated, one link (``photo_url``)."""
    at = _now(now)
    require(access, "assessment.record_finding")
    problems = []
    if not description.strip() or len(description) > 2000:
        problems.append(
            Problem("description", "format", "请描述问题（不超过 2000 字）", "describe it in 1..2000 chars")
        )
    if photo_url and (not photo_url.startswith(("https://", "http://")) or len(photo_url) > 500):
        problems.append(Problem("photoUrl", "format", "照片须为 http(s) 链接", "photoUrl must be an http(s) URL"))
    if len(photo_file_ids or []) > MAX_FINDING_PHOTOS:
        problems.append(Problem("photoFileIds", "too_many", f"照片最多 {MAX_FINDING_PHOTOS} 张",
                                f"at most {MAX_FINDING_PHOTOS} photos"))
    if problems:
        raise InvalidInput.of(problems)
    async with savepoint():
        await get_in_scope("compound", compound_id, access)
        uploads = await files.attachable(access, photo_file_ids or [], purpose=Purpose.FINDING, field="photoFileIds")
        rules = (await effective_config()).document.assessment.supervisor_findings
        finding = await SupervisorFinding.create(
            compound_id=compound_id,
            description=description.strip(),
            photo_url=photo_url,
            found_at=at,
            recorded_by=actor,
            resolve_by=at + timedelta(hours=rules.resolved_within_hours),
        )
        await files.attach(uploads, kind="finding", owner_id=finding.id, now=at)
        await audit.record(
            actor=actor,
            action="finding.record",
            target_type="supervisor_finding",
            target_id=finding.id,
            details={"compoundId": compound_id},
        )
        return finding


async def resolve_finding(
    *, access: Access, actor: str, finding_id: int, now: datetime | None = None
) -> SupervisorFinding:
    at = _now(now)
    async with savepoint():
        finding = await SupervisorFinding.filter(id=finding_id).select_for_update().first()
        if finding is None:
            raise NotFound(f"问题 {finding_id} 不存在", f"finding {finding_id} does not exist", field="id")
        await get_in_scope("compound", finding.compound_id, access)
        # The firm being rated does not certify its own fix: the supervisor (or the administration) confirms it.
        require(access, "assessment.resolve_finding")
        if finding.resolved_at is not None:
            raise IllegalTransition(FINDING, "resolve", "resolved")
        finding.resolved_at = at
        await finding.save()
        await audit.record(
            actor=actor,
            action="finding.resolve",
            target_type="supervisor_finding",
            target_id=finding.id,
            details={"inTime": at <= finding.resolve_by},
        )
        return finding
