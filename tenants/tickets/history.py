"""Historical tickets in a spreadsheet: the columns, the checks of each row, and the clocks they had.

A county that starts mid-year brings its months of paper and 12345-hotline tickets. Each row is one ticket as it
stands in that system: where, what, who, which unit, and when it was opened, dispatched, resolved and rated.
This module checks rows without the database; ``tenants/tickets/importer.py`` resolves and writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tenants.territory.importer import ImportReport
from tenants.territory.models import LEVEL_NAMES
from tenants.territory.sheet import ALIASES as TERRITORY_ALIASES
from tenants.territory.sheet import Sheet
from tenants.tickets.models import Channel, TicketState, UnitKind
from tenants.tickets.rules import TicketRules

MAX_ESCALATIONS = 50
MAX_DESCRIPTION = 2000
# Canonical column -> accepted headers (case-insensitive). Places are the territory import's codes.
ALIASES: dict[str, tuple[str, ...]] = {
    "external_ref": ("external_ref", "ticket_no", "工单编号", "工单号"),
    "item_code": ("item_code", "事项编码"),
    "description": ("description", "诉求内容", "问题描述"),
    **{f"{level}_code": TERRITORY_ALIASES[f"{level}_code"] for level in LEVEL_NAMES},
    "address": ("address", "地址", "详细地址"),
    "reporter": ("reporter", "反映人", "诉求人"),
    "contact": ("contact", "联系电话", "联系方式"),
    "channel": ("channel", "渠道", "来源渠道"),
    "opened_at": ("opened_at", "受理时间", "登记时间"),
    "dispatched_at": ("dispatched_at", "派单时间"),
    "resolved_at": ("resolved_at", "办结时间"),
    "rated_at": ("rated_at", "评价时间"),
    "unit_kind": ("unit_kind", "承办单位类型"),
    "unit": ("unit", "承办单位"),
    "rating": ("rating", "满意度评分", "评分"),
    "escalations": ("escalations", "提级督办次数", "督办次数"),
}
REQUIRED = ("external_ref", "item_code", "street_code", "community_code", "opened_at")
CHANNELS: dict[str, Channel] = {
    **{c.value: c for c in Channel},
    "12345": Channel.HOTLINE,
    "热线": Channel.HOTLINE,
    "12345热线": Channel.HOTLINE,
    "小程序": Channel.APP,
    "网格员": Channel.GRID_WORKER,
    "邻里大管家": Channel.STEWARD,
    "管家": Channel.STEWARD,
    "来访": Channel.VISIT,
    "走访": Channel.VISIT,
}
UNIT_KINDS: dict[str, UnitKind] = {
    **{k.value: k for k in UnitKind},
    "社区": UnitKind.COMMUNITY,
    "物业企业": UnitKind.PROPERTY_COMPANY,
    "物业": UnitKind.PROPERTY_COMPANY,
    "街道": UnitKind.STREET,
    "县直部门": UnitKind.COUNTY_DEPARTMENT,
    "住建部门": UnitKind.HOUSING_DEPT,
}
_ZH = {
    "opened_at": "受理时间",
    "dispatched_at": "派单时间",
    "resolved_at": "办结时间",
    "rated_at": "评价时间",
}


@dataclass
class HistoryRow:
    """One checked row; ``ids``, ``rules`` and the unit are filled in against the database."""

    row: int
    ref: str
    item_code: str
    description: str
    path: tuple[str, ...]  # territory codes, street first
    address: str
    reporter: str
    contact: str
    channel: Channel
    opened: datetime
    dispatched: datetime | None
    resolved: datetime | None
    rated: datetime | None
    unit_kind: UnitKind | None
    unit: str
    rating: int | None
    escalations: int


def parse_time(raw: str, zone: ZoneInfo) -> datetime | None:
    """``YYYY-MM-DD HH:MM[:SS]`` (``/`` or ``T`` also), tenant-local unless it carries an offset; in UTC."""
    text = raw.strip().replace("/", "-")
    if len(text) < 16 or text[10] not in " T":
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    if not 1900 <= at.year <= 2999:
        return None
    return (at if at.tzinfo is not None else at.replace(tzinfo=zone)).astimezone(UTC)


def check_rows(sheet: Sheet, zone: ZoneInfo, now: datetime, report: ImportReport) -> list[HistoryRow]:
    """Every row's own problems (format, order of times, duplicates in the file); the good rows."""
    good: list[HistoryRow] = []
    first_row: dict[str, int] = {}
    for row, cells in sheet.rows:
        report.rows += 1
        before = len(report.errors)
        checked = _check_row(sheet, cells, row, zone, now, report)
        if checked is not None and checked.ref in first_row:
            report.error(
                row,
                "external_ref",
                "duplicate",
                f"工单编号 {checked.ref} 与第 {first_row[checked.ref]} 行重复",
                f"ticket number {checked.ref!r} repeats row {first_row[checked.ref]}",
            )
        elif checked is not None:
            first_row[checked.ref] = row
        if checked is not None and len(report.errors) == before:
            good.append(checked)
    return good


def _check_row(
    sheet: Sheet, cells: list[str], row: int, zone: ZoneInfo, now: datetime, report: ImportReport
) -> HistoryRow | None:
    def get(column: str) -> str:
        return sheet.get(cells, column)

    ok = True

    def bad(column: str, reason: str, zh: str, en: str) -> None:
        nonlocal ok
        ok = False
        report.error(row, column, reason, zh, en)

    for column in sheet.columns:
        if "\x00" in get(column):
            bad(column, "bad_text", "含有不可见的空字符", "contains a NUL character")
    ref, item_code = get("external_ref"), get("item_code")
    for column, value, limit in (("external_ref", ref, 64), ("item_code", item_code, 64)):
        if not value:
            bad(column, "required", f"缺少 {column}", f"{column} is required")
        elif len(value) > limit:
            bad(column, "too_long", f"不能超过 {limit} 字", f"{column} must be at most {limit} characters")
    path: list[str] = []
    for level in LEVEL_NAMES:
        code = get(f"{level}_code")
        if not code:
            break
        if len(code) > 64:
            bad(f"{level}_code", "too_long", "编码不能超过 64 字", "a code must be at most 64 characters")
        path.append(code)
    if len(path) < 2:
        bad("community_code", "required", "须填写街道和社区编码", "street_code and community_code are required")
    for level in LEVEL_NAMES[len(path) + 1 :]:
        if get(f"{level}_code"):
            missing = LEVEL_NAMES[len(path)]
            bad(f"{missing}_code", "required", f"缺少上级 {missing} 编码", f"{level}_code is given without {missing}")
            break
    texts = {"description": MAX_DESCRIPTION, "address": 300, "reporter": 128, "contact": 64, "unit": 64}
    for column, limit in texts.items():
        if len(get(column)) > limit:
            bad(column, "too_long", f"不能超过 {limit} 字", f"{column} must be at most {limit} characters")
    channel = CHANNELS.get(get("channel").lower() or "hotline")
    if channel is None:
        bad("channel", "unknown", f"无法识别的渠道 {get('channel')}", f"unknown channel {get('channel')!r}")
    unit_kind = UNIT_KINDS.get(get("unit_kind").lower()) if get("unit_kind") else None
    if get("unit_kind") and unit_kind is None:
        bad("unit_kind", "unknown", "无法识别的承办单位类型", f"unknown unit kind {get('unit_kind')!r}")
    times: dict[str, datetime | None] = {}
    for column in ("opened_at", "dispatched_at", "resolved_at", "rated_at"):
        raw = get(column)
        times[column] = parse_time(raw, zone) if raw else None
        if raw and times[column] is None:
            bad(
                column,
                "bad_time",
                f"{_ZH[column]}格式须为 YYYY-MM-DD HH:MM，实为 {raw!r}",
                f"{column} must be YYYY-MM-DD HH:MM, got {raw!r}",
            )
        elif times[column] is not None and times[column] > now:  # type: ignore[operator]
            bad(column, "in_future", f"{_ZH[column]}晚于当前时间", f"{column} is in the future")
    if not get("opened_at"):
        bad("opened_at", "required", "缺少受理时间", "opened_at is required")
    rating = _whole(get("rating"), "rating", 0, 100, bad)
    escalations = _whole(get("escalations"), "escalations", 0, MAX_ESCALATIONS, bad) or 0
    if not ok:
        return None
    opened, dispatched, resolved, rated = (times[c] for c in ("opened_at", "dispatched_at", "resolved_at", "rated_at"))
    assert opened is not None
    previous = ("opened_at", opened)
    for column, at in (("dispatched_at", dispatched), ("resolved_at", resolved), ("rated_at", rated)):
        if at is None:
            continue
        if at < previous[1]:
            bad(
                column,
                "out_of_order",
                f"{_ZH[column]}早于{_ZH[previous[0]]}",
                f"{column} is before {previous[0]}",
            )
        previous = (column, at)
    if (rating is not None or rated is not None) and resolved is None:
        bad("resolved_at", "required", "有评价的工单须有办结时间", "a rated ticket needs its resolved_at")
    if rated is not None and rating is None:
        bad("rating", "required", "有评价时间时须填写评分", "rated_at is given without a rating")
    if not ok:
        return None
    return HistoryRow(
        row=row,
        ref=ref,
        item_code=item_code,
        description=get("description"),
        path=tuple(path),
        address=get("address"),
        reporter=get("reporter") or f"import:{ref}",
        contact=get("contact"),
        channel=channel or Channel.HOTLINE,
        opened=opened,
        # A unit or a resolution without a dispatch time: the ticket went to its unit when it was opened.
        dispatched=dispatched or (opened if resolved is not None or get("unit") or unit_kind else None),
        resolved=resolved,
        rated=rated,
        unit_kind=unit_kind,
        unit=get("unit"),
        rating=rating,
        escalations=escalations,
    )


def _whole(raw: str, column: str, low: int, high: int, bad: Any) -> int | None:
    if not raw:
        return None
    if not re.fullmatch(r"[0-9]{1,4}", raw) or not low <= int(raw) <= high:  # ASCII digits (not "²" or "５")
        bad(column, "bad_number", f"须为 {low} 到 {high} 的整数", f"{column} must be a whole number {low}..{high}")
        return None
    return int(raw)


@dataclass(frozen=True)
class Clocks:
    """What the ticket's clocks were (and are): state, deadlines, on-time flag, escalation times."""

    state: TicketState
    due_at: datetime | None
    sla_due_at: datetime | None
    resolved_on_time: bool | None
    satisfied: bool | None
    closed_at: datetime | None
    escalations: list[tuple[int, int, datetime]]  # (from level, to level, at)
    escalation_level: int
    step_seq: int


def clocks(r: HistoryRow, rules: TicketRules, now: datetime) -> Clocks:
    """Replay the ticket's rules over its recorded times.

    Escalations (only a count in most hotline exports) are dated as the automatic ones would have been: the first
    at the missed deadline (resolution SLA, or review before dispatch), each next one a rung's hours later, never
    after the ticket was resolved (or now). An open ticket whose deadline has passed starts its current step's
    clock again now: it is reminded and escalated from here on, never for deadlines already behind it; its
    resolution SLA stays the recorded one, so it counts as late when it is resolved.
    """
    ladder = rules["ladder"]
    top = len(ladder) - 1
    sla_due = r.dispatched + timedelta(hours=rules["item"]["sla_hours"]) if r.dispatched else None
    deadline = sla_due or r.opened + timedelta(hours=rules["review_hours"])
    end = r.resolved or now
    level, escalations = 0, []
    for _ in range(r.escalations):
        at = max(r.opened, min(deadline, end))
        to = min(level + 1, top)
        escalations.append((level, to, at))
        level = to
        deadline = at + timedelta(hours=ladder[to]["hours"])
    step_seq = 1 + (r.dispatched is not None) + r.escalations
    scale = rules["scale"]
    satisfied = None if r.rating is None else r.rating >= scale["satisfied_from"]
    on_time = None if r.resolved is None else sla_due is None or r.resolved <= sla_due
    if r.resolved is not None:
        rated = r.rating is not None or not rules["steps"]["rate"]
        closed_at = (r.rated or r.resolved) if rated else None
        state = TicketState.CLOSED if rated else TicketState.RESOLVED
        return Clocks(state, None, sla_due, on_time, satisfied, closed_at, escalations, level, step_seq)
    state = TicketState.ACCEPTED if r.dispatched else TicketState.REPORTED
    if deadline < now:
        hours = ladder[level]["hours"] if r.escalations else (
            rules["item"]["sla_hours"] if r.dispatched else rules["review_hours"]
        )
        deadline = now + timedelta(hours=hours)
    return Clocks(state, deadline, sla_due, None, None, None, escalations, level, step_seq)
