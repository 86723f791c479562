"""Import historical tickets (CSV or XLSX) for the tenant in scope: checked whole, written set-based.

All or nothing unless ``skip_bad_rows``: the report names every bad row, column and reason. A row whose ticket
number (``external_ref``) is already on file is left as it is, so importing the same file again changes nothing.
Rows opened in a period whose ratings are published are refused: a published period never moves. Every lookup is
one query for the whole file (places per level, units, contracts, configuration versions, published periods),
and the writes are one INSERT .. SELECT FROM unnest(...) each for tickets, timeline events and escalations.
Nothing is sent: no inbox message, webhook or reminder is made for the past (see ``history.clocks``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from tenants import clock
from tenants.audit import service as audit
from tenants.config.merge import effective
from tenants.config.service import version_on, versions_of
from tenants.locks import advisory_lock
from tenants.periods import bounds
from tenants.permissions import Caller, require
from tenants.scope import current_tenant_id, savepoint
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import current_zone
from tenants.territory.importer import ImportReport
from tenants.territory.models import LEVEL_NAMES
from tenants.territory.sheet import read_sheet
from tenants.tickets import matrix
from tenants.tickets.history import ALIASES, REQUIRED, Clocks, HistoryRow, check_rows, clocks
from tenants.tickets.models import UnitKind
from tenants.tickets.rules import TicketRules, period_of, snapshot

Progress = Callable[[str, int, int], None]
_PARENT = dict(zip(LEVEL_NAMES[1:], LEVEL_NAMES, strict=False))


@dataclass
class _Ready:
    row: HistoryRow
    rules: TicketRules
    version: int | None
    place: dict[str, int]
    unit: tuple[UnitKind, int] | None
    clocks: Clocks


@dataclass
class _Lookups:
    """Everything the rows refer to, read once for the whole file."""

    zone: ZoneInfo
    existing: set[str] = field(default_factory=set)
    places: dict[tuple[str, ...], int] = field(default_factory=dict)  # code path -> node id
    published: list[tuple[str, datetime, datetime]] = field(default_factory=list)  # key, [start, end) in UTC
    companies: dict[str, int] = field(default_factory=dict)  # credit code -> id
    units: dict[str, tuple[UnitKind, int]] = field(default_factory=dict)  # unit code -> (kind, id)
    # departments by type: the ones the matrix names by code and the first two active ones, (id, code, active)
    departments: dict[UnitKind, list[tuple[int, str, bool]]] = field(default_factory=dict)
    contracts: dict[int, list[tuple[Any, Any, int]]] = field(default_factory=dict)  # compound -> (from, to, co)
    # row -> (ticket rules in force on its opening day, own config version, the day when its item was unknown)
    rules: dict[int, tuple[TicketRules, int | None, str]] = field(default_factory=dict)


async def import_tickets(
    *,
    access: Caller,
    data: bytes,
    fmt: str,
    actor: str,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
    now: datetime | None = None,
) -> ImportReport:
    """Check the file and (unless ``dry_run``, or a bad row without ``skip_bad_rows``) write its new tickets."""
    require(access, "tickets.import")
    at = now or clock.now()
    tick = progress or (lambda *_: None)
    zone = await current_zone()
    sheet = await asyncio.to_thread(  # a large file must not stall the event loop
        partial(read_sheet, data, fmt, aliases=ALIASES, required=REQUIRED, keep_time=True)
    )
    report = ImportReport(dry_run=dry_run)
    rows = check_rows(sheet, zone, at, report)
    tick("checked rows", 1, 3)
    async with savepoint() as conn:
        tenant_id = current_tenant_id()
        look = _Lookups(zone)
        look.existing = await _existing(conn, tenant_id, [r.ref for r in rows])
        new = [r for r in rows if r.ref not in look.existing]
        await _load(conn, tenant_id, new, look, at)
        ready = [x for r in new if (x := _resolve(r, look, at, report)) is not None]
        tick("checked against the database", 2, 3)
        report.errors.sort(key=lambda e: e.row)
        bad = {e.row for e in report.errors}
        report.skipped_rows = len(bad) if skip_bad_rows else 0
        if len(look.existing):
            report.count(report.unchanged, "ticket", len(look.existing))
        if bad and not skip_bad_rows:
            return report
        report.count(report.created, "ticket", len(ready))
        report.count(report.created, "escalation", sum(len(x.clocks.escalations) for x in ready))
        report.created = {k: v for k, v in report.created.items() if v}
        if dry_run:
            return report
        if ready:
            await _write(conn, tenant_id, ready, actor, at, zone, report)
            await audit.record(
                actor=actor,
                action="tickets.import",
                target_type="tenant",
                target_id=tenant_id,
                details={"rows": report.rows, "created": report.created, "skippedRows": report.skipped_rows},
            )
        tick("written", 3, 3)
    report.applied = True
    return report


async def _existing(conn: Any, tenant_id: int, refs: list[str]) -> set[str]:
    rows = await conn.execute_query_dict(
        "SELECT external_ref FROM ticket WHERE tenant_id = $1 AND external_ref = ANY($2::text[])", [tenant_id, refs]
    )
    return {r["external_ref"] for r in rows}


async def _load(conn: Any, tenant_id: int, rows: list[HistoryRow], look: _Lookups, now: datetime) -> None:
    # Places, level by level: (parent id, code) pairs joined against that level's table (a street's parent is 0).
    for depth, level in enumerate(LEVEL_NAMES):
        paths = sorted({r.path[: depth + 1] for r in rows if len(r.path) > depth})
        paths = [p for p in paths if depth == 0 or p[:-1] in look.places]
        if not paths:
            break
        parent = f"n.{_PARENT[level]}_id" if depth else "0::bigint"
        found = await conn.execute_query_dict(
            f"SELECT n.id, {parent} AS parent, n.code FROM unnest($2::bigint[], $3::text[]) AS u(parent, code)"
            f" JOIN {level} n ON n.tenant_id = $1 AND n.code = u.code AND {parent} = u.parent",
            [tenant_id, [look.places[p[:-1]] if depth else 0 for p in paths], [p[-1] for p in paths]],
        )
        ids = {(r["parent"], r["code"]): r["id"] for r in found}
        for p in paths:
            node = ids.get((look.places[p[:-1]] if depth else 0, p[-1]))
            if node is not None:
                look.places[p] = node
    # Ratings already published: their periods, as UTC instants in the tenant's time zone. The rating run's own
    # lock on each month and quarter the rows fall in keeps a publish from slipping in before this commits.
    # A row changes the periods it was opened, escalated and resolved in; escalations fall between its opening
    # and its resolution (or now), so every month from the file's first opening to its last end is locked.
    first = min((clock.local_day(r.opened, look.zone) for r in rows), default=None)
    last = max((clock.local_day(r.resolved or now, look.zone) for r in rows), default=None)
    days = []
    month = first.replace(day=1) if first and last else None
    while month is not None and last is not None and month <= last:
        days.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    periods = sorted({f"{d:%Y-%m}" for d in days} | {f"{d.year}Q{(d.month - 1) // 3 + 1}" for d in days})
    for key in periods:
        await advisory_lock("ratings", key, conn=conn)  # the rating run's lock (assessment.ratings.lock_period)
    for r in await conn.execute_query_dict(
        "SELECT DISTINCT period_key FROM rating_snapshot WHERE tenant_id = $1 AND status = 'published'", [tenant_id]
    ):
        first, last = bounds(r["period_key"])
        start = datetime.combine(first, time.min, look.zone)
        end = datetime.combine(last, time.min, look.zone)
        look.published.append((r["period_key"], start, end + timedelta(days=1)))
    await _load_rules(rows, look)
    named = sorted({r.unit for r in rows if r.unit})
    for r in await conn.execute_query_dict(
        "SELECT id, credit_code FROM property_company WHERE tenant_id = $1 AND credit_code = ANY($2::text[])",
        [tenant_id, named],
    ):
        look.companies[r["credit_code"]] = r["id"]
    # Units named on rows, units the matrix names by code (as dispatch resolves them: matrix.department), and the
    # first two active ones of each type (the default when the matrix names no code; two tell it is ambiguous).
    by_matrix = sorted({c for rules, _, _ in look.rules.values() if rules and (c := rules["item"].get("unit_code"))})
    for r in await conn.execute_query_dict(
        "SELECT id, code, kind, is_active FROM unit"
        " WHERE tenant_id = $1 AND kind IN ('housing_dept', 'county_department') AND code = ANY($2::text[])"
        " UNION SELECT id, code, kind, is_active FROM (SELECT id, code, kind, is_active,"
        "  row_number() OVER (PARTITION BY kind ORDER BY id) AS n FROM unit WHERE tenant_id = $1 AND is_active"
        "  AND kind IN ('housing_dept', 'county_department')) a WHERE n <= 2"
        " ORDER BY id",
        [tenant_id, sorted(set(named) | set(by_matrix))],
    ):
        kind = UnitKind(r["kind"])
        if r["code"] in named:
            look.units[r["code"]] = (kind, r["id"])
        look.departments.setdefault(kind, []).append((r["id"], r["code"], r["is_active"]))
    compounds = sorted({look.places[r.path[:4]] for r in rows if r.path[:4] in look.places and len(r.path) >= 4})
    for r in await conn.execute_query_dict(
        "SELECT compound_id, company_id, starts_on, ends_on FROM property_contract"
        " WHERE tenant_id = $1 AND compound_id = ANY($2::bigint[])",
        [tenant_id, compounds],
    ):
        look.contracts.setdefault(r["compound_id"], []).append((r["starts_on"], r["ends_on"], r["company_id"]))


async def _load_rules(rows: list[HistoryRow], look: _Lookups) -> None:
    """The ticket rules in force on each row's opening day: one read of the chain's versions, one merge per
    distinct combination of versions (as ``effective_config`` would give for that day)."""
    me = await Tenant.get(id=current_tenant_id())
    chain = [await Tenant.get(id=me.parent_id), me] if me.parent_id else [me]
    versions = {t.id: await versions_of(t.id) for t in chain}  # withdrawn versions never applied
    docs: dict[tuple, Any] = {}
    snapshots: dict[tuple, tuple[TicketRules, int | None, str]] = {}
    for r in rows:
        day = clock.local_day(r.opened, look.zone)
        in_force = [version_on(versions[t.id], day) for t in chain]
        key = tuple(v.version_no if v else None for v in in_force)
        if key not in docs:
            docs[key] = effective([(t.slug, v.overrides if v else {}) for t, v in zip(chain, in_force, strict=True)])[0]
        if (r.item_code, key) not in snapshots:
            rules, problems = snapshot(docs[key], r.item_code)
            snapshots[(r.item_code, key)] = (rules, key[-1], str(day) if problems else "")
        look.rules[r.row] = snapshots[(r.item_code, key)]


def _resolve(r: HistoryRow, look: _Lookups, now: datetime, report: ImportReport) -> _Ready | None:
    """The row against the database: its place, rules, period, unit; None (and errors reported) when bad."""
    errors = len(report.errors)
    place: dict[str, int] = {}
    for depth, level in enumerate(LEVEL_NAMES[: len(r.path)]):  # every level found, or one unknown_place error
        node = look.places.get(r.path[: depth + 1])
        if node is None:
            report.error(
                r.row,
                f"{level}_code",
                "unknown_place",
                f"编码 {'/'.join(r.path[: depth + 1])} 的{level}不存在",
                f"no {level} with the codes {'/'.join(r.path[: depth + 1])}",
            )
            break
        place[f"{level}_id"] = node
    rules, version, unknown_day = look.rules[r.row]
    if unknown_day:
        report.error(
            r.row,
            "item_code",
            "unknown",
            f"事项 {r.item_code} 不在 {unknown_day} 施行的诉求目录中",
            f"item {r.item_code!r} is not in the ticket taxonomy in force on {unknown_day}",
        )
    timed = clocks(r, rules, now) if rules else None
    # Opening, each escalation and the resolution count in their periods' KPIs: none may fall in a published one.
    moments = [("opened_at", "受理时间", "opened", r.opened)]
    moments += [("escalations", f"第 {i} 次提级督办", f"escalation {i} falls", at)
                for i, (_f, _t, at) in enumerate(timed.escalations if timed else [], start=1)]
    moments += [("resolved_at", "办结时间", "resolved", r.resolved)] if r.resolved is not None else []
    # Each published period once per row, at the first column that falls in it (an opening in March names March).
    named: set[str] = set()
    for column, what_zh, what_en, at in moments:
        key = next((key for key, start, end in look.published if start <= at < end), None)
        if key is not None and key not in named and column not in {e.column for e in report.errors[errors:]}:
            named.add(key)
            report.error(
                r.row,
                column,
                "period_published",
                f"{what_zh}在已公布评级的 {key} 期间内，不能补录",
                f"{what_en} in {key}, whose ratings are published; a published period cannot change",
            )
    if rules and r.rating is not None and not rules["scale"]["lowest"] <= r.rating <= rules["scale"]["highest"]:
        scale = rules["scale"]
        report.error(
            r.row,
            "rating",
            "out_of_range",
            f"评分须在 {scale['lowest']} 到 {scale['highest']} 之间",
            f"rating must be {scale['lowest']}..{scale['highest']}",
        )
    found = len(place) == len(r.path)  # an unknown place is its row's error; its unit cannot be routed
    unit = _unit(r, rules, place, look, report) if rules and r.dispatched is not None and found else None
    if len(report.errors) > errors:
        return None
    return _Ready(r, rules, version, place, unit, timed)  # type: ignore[arg-type]


def _unit(
    r: HistoryRow, rules: TicketRules, place: dict[str, int], look: _Lookups, report: ImportReport
) -> tuple[UnitKind, int] | None:
    """The unit named on the row, or else the responsibility matrix's unit on the day of dispatch."""
    kind = r.unit_kind
    if r.unit:
        if kind in (None, UnitKind.PROPERTY_COMPANY) and r.unit in look.companies:
            return UnitKind.PROPERTY_COMPANY, look.companies[r.unit]
        if r.unit in look.units and kind in (None, look.units[r.unit][0]):
            return look.units[r.unit]
        report.error(
            r.row, "unit", "unknown_unit", f"承办单位 {r.unit} 不存在", f"no unit with the code {r.unit!r} of that kind"
        )
        return None
    kind = kind or UnitKind(rules["item"]["unit"])
    if kind == UnitKind.PROPERTY_COMPANY:
        day = clock.local_day(r.dispatched, look.zone)  # type: ignore[arg-type]
        served = look.contracts.get(place.get("compound_id", 0), [])
        company = next((c for s, e, c in served if s <= day <= e), None)
        if company is not None:
            return kind, company
        if r.unit_kind is None:  # no company served it that day: the community acted (as dispatch does)
            kind = UnitKind.COMMUNITY
    if kind == UnitKind.COMMUNITY:
        return kind, place["community_id"]
    if kind == UnitKind.STREET:
        return kind, place["street_id"]
    route = matrix.department(kind, rules["item"].get("unit_code"), look.departments.get(kind, []))
    if route.unit_id is not None:
        return kind, route.unit_id
    if route.reason:  # the matrix's reason (unknown, inactive or ambiguous unit)
        problem = route.problem()
        report.error(r.row, "unit", problem.reason, problem.message_zh + "（承办单位列）",
                     problem.message_en + " in the unit column")
        return None
    report.error(
        r.row,
        "unit",
        "no_unit",
        "找不到承办单位，请在承办单位列填写",
        f"no {kind.value} unit is on file for this ticket; name it in the unit column",
    )
    return None


async def _write(
    conn: Any, tenant_id: int, ready: list[_Ready], actor: str, now: datetime, zone: ZoneInfo, report: ImportReport
) -> None:
    # Rows share a few rule snapshots (one per item and configuration): each is sent, and parsed, once.
    shared = {id(x.rules): x.rules for x in ready}
    rules_at = {key: i + 1 for i, key in enumerate(shared)}
    rules_text = [json.dumps(r, ensure_ascii=False) for r in shared.values()]

    def col(get: Callable[[_Ready], Any]) -> list[Any]:
        return [get(x) for x in ready]

    levels = [f"{lvl}_id" for lvl in LEVEL_NAMES]
    arrays: list[tuple[str, str, list[Any]]] = [
        ("external_ref", "text", col(lambda x: x.row.ref)),
        ("category_code", "text", col(lambda x: x.rules["category"]["code"])),
        ("item_code", "text", col(lambda x: x.row.item_code)),
        ("description", "text", col(lambda x: x.row.description or x.rules["item"]["title"])),
        ("contact", "text", col(lambda x: x.row.contact)),
        ("channel", "text", col(lambda x: x.row.channel.value)),
        *((c, "bigint", col(lambda x, c=c: x.place.get(c))) for c in levels),  # type: ignore[misc]
        ("address", "text", col(lambda x: x.row.address)),
        ("reporter_user_id", "text", col(lambda x: x.row.reporter)),
        ("state", "text", col(lambda x: x.clocks.state.value)),
        ("assignee_kind", "text", col(lambda x: x.unit[0].value if x.unit else None)),
        ("assignee_id", "bigint", col(lambda x: x.unit[1] if x.unit else None)),
        ("step_seq", "int", col(lambda x: x.clocks.step_seq)),
        ("due_at", "timestamptz", col(lambda x: x.clocks.due_at)),
        ("sla_due_at", "timestamptz", col(lambda x: x.clocks.sla_due_at)),
        ("escalation_level", "int", col(lambda x: x.clocks.escalation_level)),
        ("escalations", "int", col(lambda x: x.row.escalations)),
        ("rating", "int", col(lambda x: x.row.rating)),
        ("satisfied", "boolean", col(lambda x: x.clocks.satisfied)),
        ("resolved_on_time", "boolean", col(lambda x: x.clocks.resolved_on_time)),
        ("rules_at", "int", col(lambda x: rules_at[id(x.rules)])),
        ("config_version", "int", col(lambda x: x.version)),
        ("opened_at", "timestamptz", col(lambda x: x.row.opened)),
        ("dispatched_at", "timestamptz", col(lambda x: x.row.dispatched)),
        ("resolved_at", "timestamptz", col(lambda x: x.row.resolved)),
        ("closed_at", "timestamptz", col(lambda x: x.clocks.closed_at)),
    ]
    names = [a[0] for a in arrays]
    args = ", ".join(f"${i + 4}::{t}[]" for i, (_, t, _v) in enumerate(arrays))
    target = [n for n in names if n != "rules_at"]
    select = ["u." + n for n in target]
    inserted = await conn.execute_query_dict(
        f"INSERT INTO ticket (tenant_id, entered_by, photos, reopened, updated_at, rules, {', '.join(target)})"
        f" SELECT $1, $2, '[]'::jsonb, 0, now(), r.rules, {', '.join(select)}"
        f" FROM unnest({args}) AS u({', '.join(names)})"
        " JOIN (SELECT n, t::jsonb AS rules FROM unnest($3::text[]) WITH ORDINALITY AS x(t, n)) r ON r.n = u.rules_at"
        " ON CONFLICT (tenant_id, external_ref) WHERE external_ref IS NOT NULL DO NOTHING"
        " RETURNING id, external_ref",
        [tenant_id, actor, rules_text, *(a[2] for a in arrays)],
    )
    ids = {r["external_ref"]: r["id"] for r in inserted}
    if len(ids) < len(ready):  # imported meanwhile by a concurrent run of the same file
        report.count(report.unchanged, "ticket", len(ready) - len(ids))
        report.created["ticket"] = len(ids)
    written = [x for x in ready if x.row.ref in ids]
    events: list[tuple[int, datetime, str, str | None, str | None, str, dict]] = []
    escalations: list[tuple[int, int, int, str | None, int | None, str, datetime]] = []
    for x in written:
        tid, r, c = ids[x.row.ref], x.row, x.clocks
        events.append((tid, r.opened, "report", None, "reported", (r.description or "")[:200],
                       {"channel": r.channel.value, "imported": r.ref}))
        if r.dispatched is not None and x.unit is not None:
            events.append((tid, r.dispatched, "dispatch", "reported", "accepted", "",
                           {"unit": x.unit[0].value, "unitId": x.unit[1], "imported": r.ref}))
        for from_level, to_level, at in c.escalations:
            # The unit answerable for the delay: the assignee once dispatched, the reviewing community before.
            holder = x.unit if x.unit and r.dispatched and at >= r.dispatched else None
            kind, unit_id = holder or (UnitKind.COMMUNITY, x.place["community_id"])
            escalations.append((tid, from_level, to_level, kind.value, unit_id, period_of(at, zone), at))
            held = "accepted" if r.dispatched and at >= r.dispatched else "reported"
            events.append((tid, at, "escalate", held, held, "导入的历史提级督办",
                           {"from": x.rules["ladder"][from_level]["level"],
                            "to": x.rules["ladder"][to_level]["level"], "imported": r.ref}))
        if r.resolved is not None:
            events.append((tid, r.resolved, "resolve", "accepted", "resolved", "",
                           {"onTime": c.resolved_on_time, "imported": r.ref}))
        if r.rating is not None:
            events.append((tid, c.closed_at or r.resolved, "rate", "resolved", "rated", "",  # type: ignore[arg-type]
                           {"rating": r.rating, "imported": r.ref}))
        if c.closed_at is not None:
            events.append((tid, c.closed_at, "close", "rated" if r.rating is not None else "resolved", "closed",
                           "", {"imported": r.ref}))
    await conn.execute_query(
        "INSERT INTO ticket_event (tenant_id, ticket_id, at, actor, action, from_state, to_state, note,"
        " attachments, details) SELECT $1, u.t, u.at, $2, u.a, u.f, u.s, u.n, '[]'::jsonb, u.d::jsonb"
        " FROM unnest($3::bigint[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])"
        " AS u(t, at, a, f, s, n, d)",
        [tenant_id, actor, *([e[i] for e in events] for i in range(5)), [e[5] for e in events],
         [json.dumps(e[6], ensure_ascii=False) for e in events]],
    )
    if escalations:
        await conn.execute_query(
            "INSERT INTO escalation (tenant_id, ticket_id, from_level, to_level, unit_kind, unit_id, automatic,"
            " reason, period, at) SELECT $1, u.t, u.f, u.o, u.k, u.i, false, '导入的历史提级督办', u.p, u.at"
            " FROM unnest($2::bigint[], $3::int[], $4::int[], $5::text[], $6::bigint[], $7::text[],"
            " $8::timestamptz[]) AS u(t, f, o, k, i, p, at)",
            [tenant_id, *([e[i] for e in escalations] for i in range(7))],
        )
