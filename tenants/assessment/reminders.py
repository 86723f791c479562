"""Reminders to assessor bodies that have not scored: once before the deadline and once when late."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from tenants import clock, inbox
from tenants.assessment.models import AssessmentRound, RoundStatus
from tenants.assessment.rounds import missing_bodies, period_config
from tenants.config.service import effective_config
from tenants.scope import scoped_transaction
from tenants.territory.models import Compound
from tenants.territory.people import Person, Post, PostKind, active_on

# The posts behind the roles a body's configuration names (see Body.roles), and what each post targets.
ROLE_POSTS = {
    "street_officer": (PostKind.STREET_OFFICER, "street"),
    "community_worker": (PostKind.COMMUNITY_WORKER, "community"),
    "grid_worker": (PostKind.GRID_WORKER, "grid"),
    "owners_committee": (PostKind.OWNERS_COMMITTEE, "compound"),
    "housing_dept": (PostKind.HOUSING_DEPT, None),
}
LATE_FOR = timedelta(days=7)  # late reminders stop a week after the deadline


async def _holders(body: str, roles: Sequence[str], compounds: list[Compound], at: datetime) -> dict[str, set[int]]:
    """user id -> the compounds (of ``compounds``) they score for ``body``: body posts and assessor posts."""
    day = await clock.today(at)
    active = active_on(day)
    out: dict[str, set[int]] = defaultdict(set)
    by_person: dict[int, set[int]] = defaultdict(set)
    for role in roles:
        post_kind, target = ROLE_POSTS[role]
        for p in await Post.filter(active, kind=post_kind):
            for c in compounds:
                if (
                    target is None
                    or (target == "compound" and p.target_id == c.id)
                    or (target != "compound" and getattr(c, f"{target}_id") == p.target_id)
                ):
                    by_person[p.person_id].add(c.id)
    for p in await Post.filter(active, kind=PostKind.ASSESSOR, body_code=body):
        for c in compounds:
            if p.target_kind in ("street", "community", "grid") and getattr(c, f"{p.target_kind}_id") == p.target_id:
                by_person[p.person_id].add(c.id)
            elif p.target_kind == "compound" and p.target_id == c.id:
                by_person[p.person_id].add(c.id)
    users = dict(await Person.filter(id__in=list(by_person)).values_list("id", "user_id"))
    for person_id, ids in by_person.items():
        out[users[person_id]] |= ids
    return out


async def remind_missing(*, now: datetime) -> dict[str, int]:
    """For each open round in its reminder window: one message per person and kind (due / late), listing the
    compounds they still have to score. Repeated runs send nothing new."""
    async with scoped_transaction():
        sent = {"due": 0, "late": 0}
        lead = timedelta(hours=(await effective_config()).document.reminders.assessment_deadline_lead_hours)
        rounds = await AssessmentRound.filter(
            status=RoundStatus.OPEN, deadline__gt=now - LATE_FOR, deadline__lte=now + lead
        )
        for rnd in rounds:
            kind = "late" if now >= rnd.deadline else "due"
            missing = {c: bodies for c, bodies in (await missing_bodies(rnd.period_key)).items() if bodies}
            doc, _ = await period_config(rnd.period_key)
            if not missing:
                continue
            compounds = {c.id: c for c in await Compound.filter(id__in=list(missing))}
            todo: dict[str, set[int]] = defaultdict(set)
            for body in {b for bodies in missing.values() for b in bodies}:
                wanted = [compounds[c] for c, bodies in missing.items() if body in bodies]
                roles = list(doc.assessment.bodies[body].roles) if body in doc.assessment.bodies else []
                for user, ids in (await _holders(body, roles, wanted, now)).items():
                    todo[user] |= ids
            title = f"{rnd.period_key} 物业服务考核{'评分已逾期' if kind == 'late' else '即将截止'}"
            already = await inbox.told(kind=f"assessment.{kind}", title=title)
            messages = [
                inbox.Message(
                    to=[user],
                    kind=f"assessment.{kind}",
                    title=title,
                    ticket_id=None,
                    text=(
                        f"评分已于 {rnd.deadline.isoformat()} 截止，以下小区未评分，"
                        "将按配置（权重重新分配或计零分）处理："
                        if kind == "late"
                        else f"请在 {rnd.deadline.isoformat()} 前完成以下小区的评分："
                    )
                    + "、".join(compounds[c].name for c in sorted(ids)),
                )
                for user, ids in sorted(todo.items())
                if user not in already
            ]
            await inbox.send_all(messages, at=now)
            sent[kind] += len(messages)
        return sent
