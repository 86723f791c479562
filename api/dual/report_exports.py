"""双报到 year-end reports as CSV or XLSX for the annual review 年终考核 (GET, bearer token, ``dual.report.export``):
the rows of the members and of the work units the caller reads (a work unit's contact: its own unit), through the
same services as ``dualYearEnd`` and ``dualUnitYearEnd``.

- ``/exports/dual/members/{year}.{csv|xlsx}``: one row per member, then a total row
- ``/exports/dual/units/{year}.{csv|xlsx}``: one row per work unit, then a total row
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request

from api.exports import file_export
from api.sheets import add_sheet, csv_bytes, new_book, text, xlsx_bytes
from tenants.dual import year_end
from tenants.errors import InvalidInput, Problem
from tenants.settings import Settings
from tenants.territory.access import Access

YEAR = re.compile(r"[0-9]{4}")
MEMBER_HEADER = [
    "人员 person",
    "姓名 name",
    "社区 community",
    "报到单位 work unit",
    "单位名称 unit name",
    "参加次数 participations",
    "服务时长（分钟）minutes",
    "8小时以外（分钟）outside working hours",
    "缺勤 absences",
    "谈话 talks",
    "通报 notices",
    "未达最低次数 below minimum",
]
UNIT_HEADER = [
    "单位 work unit",
    "编码 code",
    "名称 name",
    "报到党员 members",
    "担任岗位 posts",
    "参加次数 participations",
    "未达最低次数 below minimum",
]


def _year(key: str) -> int:
    if not YEAR.fullmatch(key):
        raise InvalidInput.of([Problem("year", "format", "年份须为 4 位数字，如 2026",
                                       "the year is 4 digits, e.g. 2026")])
    return int(key)


def _member_rows(rows: list[year_end.MemberYear]) -> list[list[Any]]:
    out: list[list[Any]] = [
        [r.person_id, text(r.name), r.community_id, "" if r.work_unit_id is None else r.work_unit_id,
         text(r.work_unit_name), r.participations, r.minutes, r.outside_minutes, r.absences, r.talks, r.notices,
         "是 yes" if r.below_minimum else ""]
        for r in rows
    ]
    out.append(["合计 total", len(rows), "", "", "", *(sum(getattr(r, f) for r in rows) for f in (
        "participations", "minutes", "outside_minutes", "absences", "talks", "notices")),
        sum(r.below_minimum for r in rows)])
    return out


def _unit_rows(rows: list[year_end.UnitYear]) -> list[list[Any]]:
    out: list[list[Any]] = [
        [u.work_unit_id, text(u.code), text(u.name), u.members, u.posts, u.participations, u.below_minimum]
        for u in rows
    ]
    out.append(["合计 total", "", "", *(sum(getattr(u, f) for u in rows) for f in (
        "members", "posts", "participations", "below_minimum"))])
    return out


def _file(what: str, header: list[str], sheet: str, rows: list[list[Any]], year: int, fmt: str) -> tuple[bytes, str]:
    meta = [f"年度 year {year}", f"行数 rows {len(rows) - 1}"]
    if fmt == "csv":
        body = csv_bytes([[meta, header, *rows]])
    else:
        book = new_book()
        add_sheet(book, sheet, header, rows, above=meta)
        body = xlsx_bytes(book)
    return body, f"dual-{what}-{year}.{fmt}"


async def _members(request: Request, caller: Access, key: str, fmt: str) -> tuple[bytes, str]:
    year = _year(key)
    rows = await year_end.export_members(access=caller, year=year)
    return _file("members", MEMBER_HEADER, "党员年度", _member_rows(rows), year, fmt)


async def _units(request: Request, caller: Access, key: str, fmt: str) -> tuple[bytes, str]:
    year = _year(key)
    rows = await year_end.export_units(access=caller, year=year)
    return _file("units", UNIT_HEADER, "单位年度", _unit_rows(rows), year, fmt)


def dual_members_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _members, permissions=("dual.report.export",))


def dual_units_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _units, permissions=("dual.report.export",))
