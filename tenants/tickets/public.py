"""A ticket's public record (Open311 GeoReport v2's service request): its item, open or closed, a status note and
its times, never who reported it, where they live or how to reach them. What they wrote is published only where the
tenant's configuration says so (``open311.publish_descriptions``), with phone, ID-card and e-mail numbers masked."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from tenants.config.service import effective_config
from tenants.paging import Window, newest_first
from tenants.scope import scoped_transaction
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access
from tenants.tickets.access import readable
from tenants.tickets.models import OPEN_STATES, Ticket, TicketState, UnitKind

# What a state means to the public, in Chinese first (DOMAIN.md: text shown to people).
STATUS_NOTES = {
    TicketState.REPORTED: "已受理，待审核派单 / received, waiting for review",
    TicketState.DISPATCHED: "已派单，待承办单位接单 / dispatched to the responsible unit",
    TicketState.TRANSFERRED: "已转派，待承办单位接单 / transferred to another unit",
    TicketState.ACCEPTED: "承办单位办理中 / in progress",
    TicketState.REOPENED: "群众不满意，重新办理 / reopened after an unsatisfied rating",
    TicketState.RESOLVED: "已办结，待评价 / resolved, waiting for the resident's rating",
    TicketState.RATED: "已评价 / rated",
    TicketState.CLOSED: "已办结 / closed",
    TicketState.REJECTED: "不予受理 / rejected",
}
AGENCY = {
    UnitKind.COMMUNITY: "社区 community",
    UnitKind.STREET: "街道 street",
    UnitKind.PROPERTY_COMPANY: "物业企业 property company",
    UnitKind.COUNTY_DEPARTMENT: "县直部门 county department",
    UnitKind.HOUSING_DEPT: "住建部门 housing department",
}
OPEN, CLOSED = "open", "closed"

# Personal data a resident may type into a description, masked before it is published. Matching runs on a copy
# folded character by character (full-width digits, letters, ＠ and － as an input method types them become ASCII),
# so the published text keeps its own punctuation. A number is a run of digits with single separators between
# them (space, hyphens and dashes, dots): 7 or more digits are personal unless the run is a date.
_SEP = " \t\u00a0-\u2010\u2011\u2012\u2013\u2014\u2015\u2212.\u00b7\u30fb/"
_NUMBER = re.compile(rf"(?<!\d)\d(?:[{re.escape(_SEP)}]?\d)*(?:[{re.escape(_SEP)}]?[Xx](?![A-Za-z]))?")
_PREFIX = re.compile(r"(?:\+|\(\s?0?\d{2,3}\s?\)\s?)$")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ID_CARD, PHONE, NUMBER, EMAIL = "[证件号已隐去]", "[电话已隐去]", "[号码已隐去]", "[邮箱已隐去]"


def _folded(text: str) -> str:
    """``text`` with each character folded (NFKC) where that gives one character: the same length, positions kept."""
    out = []
    for ch in text:
        f = unicodedata.normalize("NFKC", ch)
        out.append(f if len(f) == 1 else ch)
    return "".join(out)


def _kind(run: str) -> str | None:
    """Which marker a run of digits (with separators) gets; None: not personal (short, or a date)."""
    digits = re.sub(r"[^\dXx]", "", run)
    if _DATE.fullmatch(run.strip()) or len(re.sub(r"\D", "", digits)) < 7:
        return None
    if (len(digits) == 18 and digits[:17].isdigit()) or (len(digits) == 15 and digits.isdigit()):
        return ID_CARD
    if re.fullmatch(r"(?:86)?1[3-9]\d{9}|0\d{9,11}|\d{7,8}", digits):
        return PHONE
    return NUMBER


def masked(text: str) -> str:
    """``text`` with phone numbers, ID-card numbers, other long numbers and e-mail addresses replaced by a marker.
    Names and addresses in free text cannot be told apart reliably: publishing is the tenant's decision."""
    folded = _folded(text)
    spans: list[tuple[int, int, str]] = [(m.start(), m.end(), EMAIL) for m in _EMAIL.finditer(folded)]
    for m in _NUMBER.finditer(folded):
        start, run = m.start(), m.group()
        date = _DATE.match(run)  # a date leading a run ("2026-12-01 13800138000") stays; the rest is looked at
        if date and run[date.end():date.end() + 1] in _SEP:
            start, run = start + date.end() + 1, run[date.end() + 1:]
        kind = _kind(run) if run else None
        if kind and not any(a <= start < b for a, b, _ in spans):
            prefix = _PREFIX.search(folded, 0, start)  # "+86 ...", "(0313)1234567": the prefix goes too
            spans.append((prefix.start() if prefix else start, start + len(run), kind))
    for a, b, marker in sorted(spans, reverse=True):
        text = text[:a] + marker + text[b:]
    return text.strip()


@dataclass(frozen=True)
class PublicTicket:
    id: int
    status: str  # open | closed
    status_notes: str
    item_code: str
    item_title: str
    agency: str | None  # the kind of unit holding it, never a person
    requested_at: datetime  # in the tenant's time zone
    updated_at: datetime
    expected_at: datetime | None  # the current step's deadline while open
    description: str | None = None  # masked, and only where the tenant publishes descriptions

    @classmethod
    def of(cls, t: Ticket, zone: object, *, with_description: bool = False) -> PublicTicket:
        is_open = t.state in OPEN_STATES
        return cls(
            id=t.id,
            status=OPEN if is_open else CLOSED,
            status_notes=STATUS_NOTES[TicketState(t.state)],
            item_code=t.item_code,
            item_title=str(t.rules.get("item", {}).get("title", t.item_code)),
            agency=AGENCY.get(UnitKind(t.assignee_kind)) if t.assignee_kind else None,
            requested_at=t.opened_at.astimezone(zone),  # type: ignore[arg-type]
            updated_at=t.updated_at.astimezone(zone),  # type: ignore[arg-type]
            expected_at=t.due_at.astimezone(zone) if is_open and t.due_at else None,  # type: ignore[arg-type]
            description=masked(t.description) if with_description else None,
        )


async def list_public(
    *,
    caller: Access,
    ids: list[int] | None = None,
    item_codes: list[str] | None = None,
    statuses: set[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    window: Window,
) -> list[PublicTicket]:
    """A window of the caller's readable tickets as public records, newest first (keyset on opened_at, id)."""
    async with scoped_transaction():
        qs = readable(caller)
        if ids is not None:
            qs = qs.filter(id__in=ids)
        if item_codes:
            qs = qs.filter(item_code__in=item_codes)
        if statuses == {OPEN}:
            qs = qs.filter(state__in=list(OPEN_STATES))
        elif statuses == {CLOSED}:
            qs = qs.exclude(state__in=list(OPEN_STATES))
        if start is not None:
            qs = qs.filter(opened_at__gte=start)
        if end is not None:
            qs = qs.filter(opened_at__lte=end)
        rows = (await newest_first(qs, window, time_field="opened_at", countable=False)).rows
        zone = await current_zone()
        publish = (await effective_config()).document.open311.publish_descriptions
        return [PublicTicket.of(t, zone, with_description=publish) for t in rows]
