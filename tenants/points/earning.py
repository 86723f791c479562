"""Earning points 积分: who earns under a rule, awards with their daily and monthly caps, and reversals.

``award`` is the one way points are earned (events through ``hooks``, staff through ``award_manually``): once per
(rule, person, source) while that award stands (after a reversal the source earns again, once: the rule's points less
what its earlier awards still hold, so a partly spent award reversed in part is not credited twice; nothing due is a
``capped`` 0 with the reason), capped per person
per tenant-local day and calendar month (awards less reversals, by the day each counts for), the caps checked and the
award written while holding the (person, rule) advisory lock, so two concurrent awards cannot both fit. An award over
a cap is recorded as ``capped`` (0 points) with the reason. ``reverse`` undoes an award by a new entry, once; what
the person has already spent cannot be taken back, so a reversal takes what the balance allows (the award's own lot
first) and says so in its reason; ``reverse_people`` undoes many people's awards of one source set-based.
"""

from __future__ import annotations

import hashlib
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import urlsplit

from tortoise import connections

from tenants import clock, periods
from tenants.config.document import EarningRule
from tenants.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem, text_problems
from tenants.idempotency import key_problems
from tenants.locks import advisory_lock
from tenants.permissions import require
from tenants.points import ledger
from tenants.points.config import points_config
from tenants.points.ledger import Source
from tenants.points.models import EntryKind, PointsEntry, PointsLot
from tenants.scope import current_tenant_id, scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.territory.models import MODEL_BY_LEVEL, ancestor_levels
from tenants.territory.people import Person, Post, PostKind, active_on

# Earner kinds that come from a post held on the day.
POST_EARNERS = {
    "building_head": PostKind.BUILDING_HEAD,
    "unit_head": PostKind.UNIT_HEAD,
    "volunteer": PostKind.VOLUNTEER,
    "steward": PostKind.STEWARD,
    "grid_worker": PostKind.GRID_WORKER,
}
MAX_EVIDENCE = 9
MAX_LINK = 500
MAX_REASON = 500
BACKDATE_DAYS = 31  # a manual award counts for today or one of the 31 days before


@dataclass(frozen=True)
class Award:
    """What ``award`` did: the entry (an award, or capped with 0 points) and whether it was made now."""

    entry: PointsEntry
    made: bool

    @property
    def capped(self) -> bool:
        return self.entry.kind == EntryKind.CAPPED


def rule_named(points, code: str, *, field: str = "rule") -> EarningRule:  # type: ignore[no-untyped-def]
    for rule in points.earning_rules:
        if rule.code == code:
            return rule  # type: ignore[no-any-return]
    raise InvalidInput.of([Problem(field, "unknown", f"没有积分规则 {code}", f"no earning rule {code!r}")])


async def earner_kinds(person: Person, day: date) -> set[str]:
    """What ``person`` earns as on ``day``: resident (has a household), party_member, and the kinds of the posts
    they hold that day. A deactivated person earns nothing."""
    if person.deactivated_at is not None:
        return set()
    kinds = set()
    if person.household_id is not None:
        kinds.add("resident")
    if person.is_party_member:
        kinds.add("party_member")
    held = await Post.filter(active_on(day), person_id=person.id, kind__in=list(POST_EARNERS.values())).values_list(
        "kind", flat=True
    )
    by_post = {v.value: k for k, v in POST_EARNERS.items()}
    kinds.update(by_post[str(getattr(k, "value", k))] for k in held)
    return kinds


def award_key(rule: str, person_id: int, source: Source) -> str:
    return f"award:{rule}:{person_id}:{source.kind}:{source.id if source.id is not None else source.ref}"


@dataclass(frozen=True)
class _Taken:
    key: str  # the award's key of this generation
    generation: int  # how many of the source's awards were reversed so far
    done: bool  # awarded already under ``key``
    day: int  # the rule's points the person keeps for the day (awards less reversals)
    month: int  # ... and for its month
    kept: int  # what the source's awards of the rule still hold for the person (awards less reversals)


async def _taken(key: str, person_id: int, rule: str, source: Source, day: date) -> _Taken:
    """The award's generation and key, whether it was awarded already, the points of ``rule`` the person keeps for
    ``day`` and for its month, and what the source's awards still hold, in one statement. A generation is the count
    of the (rule, person, source) awards reversed so far: after a reversal (an attendance withdrawn) the source may
    earn again, once, under ``{key}:{generation}``."""
    first, last = periods.bounds(periods.key_for(day, "monthly"))
    rows = await connections.get("default").execute_query_dict(
        "WITH s AS (SELECT count(*) FILTER (WHERE kind = 'reversal') AS n, COALESCE(SUM(amount), 0)::bigint AS kept"
        " FROM points_entry WHERE tenant_id = $1 AND person_id = $2 AND rule_code = $3"
        " AND kind IN ('award', 'reversal')"
        " AND source_kind = $8 AND source_id IS NOT DISTINCT FROM $9::bigint AND source_ref = $10),"
        " g AS (SELECT n, kept, CASE WHEN n = 0 THEN $6 ELSE $6 || ':' || n END AS key FROM s)"
        " SELECT (SELECT key FROM g) AS key, (SELECT n FROM g) AS n, (SELECT kept FROM g) AS kept,"
        " EXISTS (SELECT 1 FROM points_entry WHERE tenant_id = $1 AND idempotency_key = (SELECT key FROM g)) AS done,"
        " COALESCE(SUM(amount) FILTER (WHERE occurred_on = $4), 0)::bigint AS day,"
        " COALESCE(SUM(amount), 0)::bigint AS month"
        " FROM points_entry WHERE tenant_id = $1 AND person_id = $2 AND rule_code = $3"
        " AND occurred_on BETWEEN $5 AND $7 AND kind IN ('award', 'reversal')",
        [current_tenant_id(), person_id, rule, day, first, key, last, source.kind, source.id, source.ref[:128]],
    )
    r = rows[0]
    return _Taken(str(r["key"]), int(r["n"]), bool(r["done"]), int(r["day"]), int(r["month"]), int(r["kept"]))


async def award(
    *,
    rule_code: str,
    person: Person,
    source: Source,
    occurred_on: date,
    author: str,
    reason: str = "",
    evidence: Sequence[str] = (),
    now: datetime | None = None,
) -> Award | None:
    """Award ``rule_code`` to ``person`` for ``source`` (once per rule, person and source), counted on
    ``occurred_on``: None when the person is not one of the rule's earners that day."""
    async with scoped_transaction():
        points = await points_config()
        rule = rule_named(points, rule_code)
        key = award_key(rule.code, person.id, source)
        if not set(rule.earners) & await earner_kinds(person, occurred_on):
            return None
        # Every award of this key takes this lock: under it the key is looked up once and inserted without a retry.
        await advisory_lock("points_award", person.id, rule.code)
        taken = await _taken(key, person.id, rule.code, source, occurred_on)
        key = taken.key
        if taken.done:  # a retried request or job, or a twin that held the lock before us
            return Award(await PointsEntry.get(idempotency_key=key), False)
        text = reason.strip()
        # A re-award (after a reversal) credits only what the source's awards no longer hold: a reversal of a partly
        # spent award took back only part of it, and the part spent is not earned twice.
        due = rule.points if taken.generation == 0 else max(0, rule.points - taken.kept)
        over = None
        if due == 0:
            over = ("此次参与的积分已计入，无需重复奖励",
                    f"the {rule.points} points of this source are still held: nothing more is due")
        elif taken.day + due > rule.daily_cap:
            over = (f"已达每日上限 {rule.daily_cap} 分", f"daily cap of {rule.daily_cap} points reached")
        elif taken.month + due > rule.monthly_cap:
            over = (f"已达每月上限 {rule.monthly_cap} 分", f"monthly cap of {rule.monthly_cap} points reached")
        common = dict(
            person_id=person.id, key=key, occurred_on=occurred_on, source=source, author=author,
            rule_code=rule.code, evidence=evidence, now=now, fresh=True,
        )
        if over is not None:
            note = f"{over[0]} / {over[1]}" + (f"：{text}" if text else "")
            entry, made = await ledger.record(kind=EntryKind.CAPPED, amount=0, reason=note, **common)  # type: ignore[arg-type]
        else:
            if due < rule.points:
                text = (text or rule.title) + (f"（此前奖励仍保留 {rule.points - due} 分，补足 {due} 分 / "
                                               f"{rule.points - due} still held from before, {due} credited）")
            entry, made = await ledger.credit(
                amount=due, expires_on=ledger.expiry_day(occurred_on, points.expiry_months),
                reason=text or rule.title, **common,  # type: ignore[arg-type]
            )
        return Award(entry, made)


async def reverse(entry: PointsEntry, *, reason: str, author: str, now: datetime | None = None) -> PointsEntry | None:
    """Undo an award by a reversal entry (once per award): its points, or what the person's balance still holds
    when they spent some (the reason says how much was kept). None when there is nothing left to take back."""
    if entry.kind != EntryKind.AWARD:
        raise Conflict("只能撤销积分奖励（封顶记录没有积分可撤销）",
                       "only an award can be reversed (a capped entry holds no points)", field="entryId",
                       details={"kind": entry.kind.value})
    async with scoped_transaction():
        key = f"reverse:{entry.id}"
        if (done := await PointsEntry.get_or_none(reverses_id=entry.id)) is not None:
            return done
        held, _ = await ledger.settle(entry.person_id, now=now)
        if (done := await PointsEntry.get_or_none(reverses_id=entry.id)) is not None:
            return done
        lot = await PointsLot.filter(entry_id=entry.id).first()
        expired = await ledger.expired_of(lot) if lot is not None else 0  # gone already: not taken twice
        amount = min(entry.amount - expired, held)
        if amount <= 0:
            return None
        text = reason.strip()
        if amount < entry.amount:
            text += (f"（已使用或到期 {entry.amount - amount} 分，仅撤回 {amount} 分 / "
                     f"{entry.amount - amount} already spent or expired, {amount} reversed）")
        reversal, _ = await ledger.spend(
            person_id=entry.person_id, amount=amount, key=key, occurred_on=entry.occurred_on,
            source=Source(entry.source_kind, entry.source_id, entry.source_ref), author=author,
            kind=EntryKind.REVERSAL, rule_code=entry.rule_code, reason=text, reverses_id=entry.id,
            first_lot=(lot.origin_lot_id or lot.id) if lot is not None else None, field="entryId", now=now,
        )
        return reversal


async def reverse_source(source_kind: str, source_id: int, *, reason: str, author: str,
                         now: datetime | None = None) -> list[PointsEntry]:
    """Reverse every award a source made (a ticket rejected, an attendance withdrawn)."""
    made = []
    for entry in await PointsEntry.filter(kind=EntryKind.AWARD, source_kind=source_kind, source_id=source_id):
        done = await reverse(entry, reason=reason, author=author, now=now)
        if done is not None:
            made.append(done)
    return made


async def reverse_people(source_kind: str, source_id: int, person_ids: Sequence[int], *, reason: str, author: str,
                         now: datetime | None = None) -> int:
    """Reverse every live award of ``person_ids`` for a source (an activity called off) in a few statements whatever
    their number: an award whose own lot is whole and not due to expire is reversed from that lot, set-based; any
    other (partly spent or expired) goes through ``reverse``. Balances are locked in person order after the shared
    expiry lock, as ``ledger.settle`` takes them. Returns how many awards were reversed."""
    if not person_ids:
        return 0
    async with scoped_transaction():
        conn, tid = connections.get("default"), current_tenant_id()
        today = await clock.today(now)
        await ledger.share_expiry_lock()
        await conn.execute_query(
            "SELECT person_id FROM points_balance WHERE tenant_id = $1 AND person_id = ANY($2::bigint[])"
            " ORDER BY person_id FOR UPDATE", [tid, sorted(set(person_ids))])
        rows = await conn.execute_query_dict(
            "SELECT e.id, l.id AS lot_id, e.amount, l.remaining, l.expires_on FROM points_entry e"
            " JOIN points_lot l ON l.tenant_id = e.tenant_id AND l.entry_id = e.id"
            " WHERE e.tenant_id = $1 AND e.kind = 'award' AND e.source_kind = $2 AND e.source_id = $3"
            " AND e.person_id = ANY($4::bigint[])"
            " AND NOT EXISTS (SELECT 1 FROM points_entry r WHERE r.tenant_id = $1 AND r.reverses_id = e.id)"
            " ORDER BY e.person_id, e.id FOR UPDATE OF l",
            [tid, source_kind, source_id, list(person_ids)],
        )
        whole = [r for r in rows if r["remaining"] == r["amount"] and (r["expires_on"] is None
                                                                          or r["expires_on"] > today)]
        done = 0
        if whole:
            made = await conn.execute_query_dict(
                "INSERT INTO points_entry (tenant_id, person_id, kind, amount, rule_code, source_kind, source_id,"
                " source_ref, reason, evidence, author, occurred_on, created_at, idempotency_key, reverses_id)"
                " SELECT $1, e.person_id, 'reversal', -e.amount, e.rule_code, e.source_kind, e.source_id,"
                " e.source_ref, $3, '[]', $4, e.occurred_on, $5, 'reverse:' || e.id, e.id"
                " FROM points_entry e WHERE e.tenant_id = $1 AND e.id = ANY($2::bigint[]) RETURNING id, reverses_id",
                [tid, [r["id"] for r in whole], reason.strip()[:500], author, now or clock.now()],
            )
            lot_of = {r["id"]: (r["lot_id"], r["amount"]) for r in whole}
            uses = [(m["id"], *lot_of[m["reverses_id"]]) for m in made]
            await conn.execute_query(
                "UPDATE points_lot SET remaining = 0 WHERE tenant_id = $1 AND id = ANY($2::bigint[])",
                [tid, [u[1] for u in uses]])
            await conn.execute_query(
                "INSERT INTO points_lot_use (tenant_id, entry_id, lot_id, amount)"
                " SELECT $1, u.e, u.l, u.a FROM unnest($2::bigint[], $3::bigint[], $4::int[]) AS u(e, l, a)",
                [tid, [u[0] for u in uses], [u[1] for u in uses], [u[2] for u in uses]])
            done = len(made)
        rest = [r["id"] for r in rows if r not in whole]
        for entry in await PointsEntry.filter(id__in=rest) if rest else []:
            if await reverse(entry, reason=reason, author=author, now=now) is not None:
                done += 1
        return done


# Staff: manual awards for duty rules and reversals, in their area.


def _link_problems(evidence: Sequence[str]) -> list[Problem]:
    problems = []
    if len(evidence) > MAX_EVIDENCE:
        problems.append(Problem("evidence", "too_many", f"证明材料最多 {MAX_EVIDENCE} 个",
                                f"at most {MAX_EVIDENCE} evidence links"))
    for i, link in enumerate(evidence[:MAX_EVIDENCE]):
        parts = urlsplit(link) if len(link) <= MAX_LINK and link.isprintable() else None  # no controls, no bidi
        if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc
                or any(c.isspace() or unicodedata.category(c) == "Cf" for c in link)):
            problems.append(Problem(f"evidence.{i}", "bad_link", f"证明材料须为不超过 {MAX_LINK} 字符的 http(s) 链接",
                                    f"evidence must be http(s) links of at most {MAX_LINK} characters"))
    return problems


async def _places(person: Person, day: date) -> list[tuple[str, int]]:
    """The territory nodes a person belongs to: their household and the targets of their earning posts, each with
    its ancestors."""
    nodes: list[tuple[str, int]] = []
    if person.household_id is not None:
        nodes.append(("household", person.household_id))
    posts = await Post.filter(active_on(day), person_id=person.id, kind__in=list(POST_EARNERS.values())).values_list(
        "target_kind", "target_id"
    )
    nodes += [(str(k), int(i)) for k, i in posts if k in MODEL_BY_LEVEL and i is not None]  # type: ignore[misc]
    places = list(nodes)
    for level, node_id in nodes:
        above = ancestor_levels(level)
        if above:
            row = await MODEL_BY_LEVEL[level].filter(id=node_id).values(*(f"{a}_id" for a in above))
            if row:
                places += [(a, int(row[0][f"{a}_id"])) for a in above]
    return places


async def in_area(caller: Access, person: Person, day: date) -> bool:
    """Whether the person lives or holds an earning post inside the caller's writer posts (tenant admin: anywhere)."""
    if caller.whole_tenant:
        return True
    return any(caller.holds_post(level, node_id) for level, node_id in await _places(person, day))


async def person_for(caller: Access, person_id: int, *, field: str = "personId") -> Person:
    person = await Person.get_or_none(id=person_id)
    if person is None:
        raise NotFound(f"人员 {person_id} 不存在", f"person {person_id} does not exist", field=field)
    return person


async def award_manually(
    *,
    access: Access,
    actor: str,
    person_id: int,
    rule_code: str,
    reason: str,
    evidence: Sequence[str] = (),
    occurred_on: date | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Award:
    """A staff member awards a duty rule (``on = "manual"``) to someone in their area, with a reason and evidence
    links; nobody awards themselves. Over a cap it is recorded as capped; a retry with the key awards once."""
    require(access, "points.award")
    at = now or clock.now()
    async with scoped_transaction():
        points = await points_config()
        today = clock.local_day(at, await current_zone())
        day = occurred_on or today
        problems = text_problems("reason", reason, "理由", required=True, limit=MAX_REASON)
        problems += _link_problems(evidence) + key_problems(idempotency_key)
        if day > today:
            problems.append(Problem("occurredOn", "future", "不能为将来的日期记分", "occurredOn is in the future"))
        elif day < today - timedelta(days=BACKDATE_DAYS):
            problems.append(Problem("occurredOn", "too_old", f"最多补记 {BACKDATE_DAYS} 天前的积分",
                                    f"occurredOn is at most {BACKDATE_DAYS} days back"))
        try:
            rule = rule_named(points, rule_code)
            if rule.on != "manual":
                problems.append(Problem("rule", "automatic", "该规则由系统自动记分，不能手工奖励",
                                        "this rule is awarded by its event, not by hand"))
        except InvalidInput as exc:
            problems += exc.problems
        if problems:
            raise InvalidInput.of(problems)
        person = await person_for(access, person_id)
        if access.user_id is not None and person.user_id == access.user_id:
            raise Forbidden("不能给自己奖励积分", "nobody awards points to themselves", field="personId")
        if not await in_area(access, person, today):
            raise Forbidden("该人员不在您的辖区内", "this person is outside your area", field="personId")
        # the actor's key, hashed: any actor and key fit the entry's key, and a key names one award of one actor
        ref = (hashlib.sha256(f"{actor}\x00{idempotency_key.strip()}".encode()).hexdigest()[:40]
               if idempotency_key else uuid.uuid4().hex)
        done = await award(
            rule_code=rule.code, person=person, source=Source("manual", None, ref), occurred_on=day, author=actor,
            reason=reason, evidence=list(evidence), now=at,
        )
        if done is None:
            earners = ", ".join(rule.earners)
            raise InvalidInput.of([Problem("personId", "not_earner", "该人员不属于此规则的积分对象",
                                           f"this person is not one of the rule's earners ({earners})")])
        return done


async def reverse_manually(
    *, access: Access, actor: str, entry_id: int, reason: str, now: datetime | None = None
) -> PointsEntry:
    """Staff reverse an award of someone in their area (never their own), with a reason."""
    require(access, "points.reverse")
    if problems := text_problems("reason", reason, "理由", required=True, limit=MAX_REASON):
        raise InvalidInput.of(problems)
    async with scoped_transaction():
        entry = await PointsEntry.get_or_none(id=entry_id)
        person = await Person.get_or_none(id=entry.person_id) if entry is not None else None
        today = await clock.today(now)
        if entry is None or person is None or not await in_area(access, person, today):
            raise NotFound(f"积分记录 {entry_id} 不存在", f"points entry {entry_id} does not exist", field="entryId")
        if access.user_id is not None and person.user_id == access.user_id:
            raise Forbidden("不能撤销自己的积分", "nobody reverses their own points", field="entryId")
        done = await reverse(entry, reason=reason, author=actor, now=now)
        if done is None:
            raise Conflict("积分已全部使用，无可撤销", "the points were all spent: nothing left to reverse",
                           field="entryId", details={"balance": 0})
        return done
