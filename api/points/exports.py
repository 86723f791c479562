"""A person's or a grid's points history as CSV or XLSX (GET, bearer token): one row per entry, newest first,
read in keyset batches of ``BATCH`` through the same services as ``pointsHistory`` (who may read whose points is
theirs: a resident only their own file, staff the people in their area; a grid's file needs ``points.export``).
Another tenant's person or grid is NOT_FOUND.

- ``/exports/points/person/{id}.{csv|xlsx}``
- ``/exports/points/grid/{id}.{csv|xlsx}``
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request

from api.exports import file_export
from api.ids import to_id
from api.sheets import add_sheet, csv_bytes, new_book, text, xlsx_bytes
from tenants.paging import Page, Window
from tenants.points import reads
from tenants.points.models import PointsEntry
from tenants.settings import Settings
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

BATCH = 1000
HEADER = [
    "记录 entry",
    "人员 person",
    "姓名 name",
    "日期 day",
    "类型 kind",
    "积分 points",
    "规则 rule",
    "兑换项目 redemption",
    "来源 source",
    "来源编号 source id",
    "理由 reason",
    "记录人 author",
    "记录时间 recorded at",
    "撤销 reverses",
]
KIND_TEXT = {
    "award": "奖励 award",
    "capped": "封顶 capped",
    "reversal": "撤销 reversal",
    "redeem": "兑换 redeem",
    "return": "退回 return",
    "expiry": "到期 expiry",
}
Fetch = Callable[[Access, int, Window], Awaitable[Page[PointsEntry]]]


async def _rows(caller: Access, fetch: Fetch, node_id: int) -> list[list[Any]]:
    zone = await current_zone()
    entries: list[PointsEntry] = []
    after = None
    while True:
        got = await fetch(caller, node_id, Window(limit=BATCH, after=after))
        entries += got.rows
        if len(got.rows) < BATCH:
            break
        after = got.keys[-1]
    people = await reads.names(caller, sorted({e.person_id for e in entries}))
    return [
        [
            e.id,
            e.person_id,
            text(people.get(e.person_id, ("", ""))[0]),
            e.occurred_on.isoformat(),
            KIND_TEXT.get(str(e.kind.value), str(e.kind.value)),
            e.amount,
            e.rule_code or "",
            e.redemption_code or "",
            e.source_kind,
            "" if e.source_id is None else e.source_id,
            text(e.reason),
            text(e.author),
            e.created_at.astimezone(zone).replace(tzinfo=None, microsecond=0),
            "" if e.reverses_id is None else e.reverses_id,
        ]
        for e in entries
    ]


async def _person(caller: Access, person_id: int, window: Window) -> Page[PointsEntry]:
    return await reads.history(caller, person_id, window)


def _build(what: str, fetch: Fetch):  # type: ignore[no-untyped-def]
    async def build(request: Request, caller: Access, key: str, fmt: str) -> tuple[bytes, str]:
        node_id = to_id(key, "id", "Person" if what == "person" else "Grid")
        rows = await _rows(caller, fetch, node_id)
        meta = [f"{'人员' if what == 'person' else '网格'} {what} {node_id}", f"记录 entries {len(rows)}"]
        if fmt == "csv":
            body = csv_bytes([[meta, HEADER, *rows]])
        else:
            book = new_book()
            add_sheet(book, "积分明细", HEADER, rows, above=meta)
            body = xlsx_bytes(book)
        return body, f"points-{what}-{node_id}.{fmt}"

    return build


def person_points_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _build("person", _person), permissions=("points.read",), param="id")


def grid_points_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _build("grid", reads.grid_history), permissions=("points.export",), param="id")
