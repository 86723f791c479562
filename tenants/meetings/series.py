"""The tenant's joint-meeting configuration in force, the error when it is off, the shared input checks of the
meetings services (free text without bidi controls, links), and a place's series (made on its first meeting)."""

from __future__ import annotations

import re
from datetime import date, datetime

from tenants.config.document import JointMeeting
from tenants.config.service import effective_config
from tenants.errors import NotEnabled, NotFound, Problem, unstorable
from tenants.errors import text_problems as _text_problems
from tenants.meetings.models import MeetingSeries, TargetKind
from tenants.territory.access import Access, readable
from tenants.territory.models import Area

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
LINK = re.compile(r"https://[^\s\x00-\x1f\x7f]{1,490}")  # fullmatch: an https link, no spaces or controls
MAX_LINKS = 9


class MeetingsNotEnabled(NotEnabled):
    feature = "party.joint_meeting"
    feature_zh = "联席会议"
    feature_en = "joint meetings (联席会议)"


async def meeting_config(on: date | None = None, *, field: str | None = None) -> JointMeeting:
    """``[party.joint_meeting]`` in force on ``on`` (today by default); ``MeetingsNotEnabled`` when it is off."""
    jm = (await effective_config(on)).document.party.joint_meeting
    if not jm.enabled:
        raise MeetingsNotEnabled(field=field)
    return jm


def text_problems(field: str, value: str, label_zh: str, *, required: bool, limit: int) -> list[Problem]:
    """``errors.text_problems``, plus reason ``bidi`` for a bidi control character."""
    out = _text_problems(field, value, label_zh, required=required, limit=limit)
    if BIDI.search(value):
        out.append(Problem(field, "bidi", f"{label_zh}含有改变文字方向的控制字符",
                           f"{field} contains a bidirectional control character"))
    return out


def link_problems(field: str, links: list[str]) -> list[Problem]:
    """At most ``MAX_LINKS`` (``too_many``) https links without spaces or control characters (``link``), bidi
    control characters (``bidi``: a link that displays as another), NUL or lone surrogates (``nul``,
    ``surrogate``: PostgreSQL cannot store them); one problem a link, at ``field.N``."""
    if len(links) > MAX_LINKS:
        return [Problem(field, "too_many", f"链接最多 {MAX_LINKS} 个", f"at most {MAX_LINKS} links")]
    out: list[Problem] = []
    for i, link in enumerate(links):
        f = f"{field}.{i}"
        if (bad := unstorable(link)) is not None:
            out.append(Problem(f, bad, "链接含有无法保存的字符（NUL 或孤立代理项）",
                               f"{f} contains a character that cannot be stored (NUL or a lone surrogate)"))
        elif BIDI.search(link):
            out.append(Problem(f, "bidi", "链接含有改变文字方向的控制字符",
                               f"{f} contains a bidirectional control character"))
        elif not LINK.fullmatch(link):
            out.append(Problem(f, "link", "链接须为 https 地址，不含空格",
                               f"{field}[{i}] is an https link without spaces"))
    return out


async def target(access: Access, kind: str, target_id: int, *, field: str = "targetId") -> Area:
    """The community or compound the caller reads (NOT_FOUND otherwise)."""
    node = await readable(access, kind).filter(id=target_id).first()
    if node is None:
        raise NotFound(f"{'社区' if kind == 'community' else '小区'} {target_id} 不存在",
                       f"{kind} {target_id} does not exist", field=field)
    return node


def places(node: Area, kind: str) -> tuple[int, int]:
    """(community id, street id) of a community or compound."""
    community_id = node.id if kind == TargetKind.COMMUNITY else node.community_id  # type: ignore[attr-defined]
    return community_id, node.street_id  # type: ignore[attr-defined]


async def series_of(kind: str, node: Area, cadence: str, at: datetime) -> MeetingSeries:
    """The place's series, made on its first meeting (a unique key: two first meetings at once make one)."""
    community_id, street_id = places(node, kind)
    series, _ = await MeetingSeries.get_or_create(
        target_kind=kind, target_id=node.id,
        defaults={"community_id": community_id, "street_id": street_id, "cadence": cadence, "created_at": at},
    )
    return series
