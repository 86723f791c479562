"""A month's grid-worker pay statements for payroll as CSV or XLSX (GET /exports/pay/{month}.{fmt}, bearer token).

One row per worker's current statement: worker, grid, score, band, base part, points part, total in fen (whole
number) and yuan (exact), status, approver and approval time (tenant-local), payroll reference; then a total row.
By default only approved and paid statements (``?status=all`` adds drafts; ``draft``, ``approved`` or ``paid``
picks one). Exporting changes nothing: ``markPayStatementsPaid`` records the hand-over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request

from api.exports import file_export, status_filter
from api.sheets import Yuan, add_sheet, csv_bytes, new_book, number, xlsx_bytes
from tenants.points import grid_reads
from tenants.settings import Settings
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

HEADER = [
    "工资单 statement",
    "修订 revision",
    "网格员 grid worker",
    "用户标识 user id",
    "网格 grid",
    "网格评分 grid score",
    "档位 band (≥)",
    "比例 percent",
    "基数（分）base (fen)",
    "绩效部分（分）base part (fen)",
    "本月积分 points",
    "积分部分（分）points part (fen)",
    "合计（分）total (fen)",
    "合计（元）total (CNY)",
    "状态 status",
    "审批人 approved by",
    "审批时间 approved at",
    "发放批次 payroll reference",
]
STATUS_TEXT = {"draft": "草稿 draft", "approved": "已审批 approved", "paid": "已发放 paid"}
DEFAULT = ["approved", "paid"]


def _local(at: datetime | None, zone: Any) -> Any:
    return "" if at is None else at.astimezone(zone).replace(tzinfo=None, microsecond=0)


async def rows_of(caller: Access, month: str, statuses: list[str]) -> list[list[Any]]:
    sheet = await grid_reads.month_sheet(caller, month, statuses)
    zone = await current_zone()
    rows: list[list[Any]] = []
    for s in sheet.statements:
        person, grid = sheet.people.get(s.person_id), sheet.grids.get(s.grid_id)
        rows.append(
            [
                s.id, s.revision, person.name if person else s.person_id, person.user_id if person else "",
                grid.name if grid else s.grid_id, number(s.grid_score), s.band_min_score, s.band_percent, s.base_fen,
                s.base_part_fen, s.points_earned, s.points_part_fen, s.total_fen, Yuan.of(s.total_fen),
                STATUS_TEXT[s.status.value], s.approved_by or "", _local(s.approved_at, zone),
                s.payment_reference or "",
            ]
        )
    total = sum(s.total_fen for s in sheet.statements)
    rows.append(["合计 total", *[""] * 11, total, Yuan.of(total), "", "", "", ""])
    return rows


async def _pay_file(request: Request, caller: Access, month: str, fmt: str) -> tuple[bytes, str]:
    statuses = status_filter(request.query_params.get("status"), list(STATUS_TEXT), DEFAULT)
    rows = await rows_of(caller, month, statuses)
    meta = [f"月份 month {month}", "状态 status " + ",".join(statuses), f"工资单 statements {len(rows) - 1}"]
    if fmt == "csv":
        body = csv_bytes([[meta, HEADER, *rows]])
    else:
        book = new_book()
        add_sheet(book, "绩效工资", HEADER, rows, above=meta)
        body = xlsx_bytes(book)
    suffix = "" if statuses == DEFAULT else "-" + request.query_params["status"]
    return body, f"pay-{month}{suffix}.{fmt}"


def pay_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _pay_file)
