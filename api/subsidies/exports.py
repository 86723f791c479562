"""A period's 以奖代补 statements for the finance office as CSV or XLSX (GET, bearer token).

One row per line, a total row per statement and a grand total; then the payees: what each statement pays each
company. Amounts in fen (a whole number) and in yuan (exact: "15000.00" in CSV, a number formatted ``#,##0.00`` in
XLSX); every row names the statement's approver and approval time (tenant-local). By default only approved and
paid statements (``?status=all`` adds drafts; ``draft``, ``approved`` or ``paid`` picks one).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from starlette.requests import Request

from api.exports import file_export
from api.sheets import Yuan, add_sheet, csv_bytes, new_book, number, xlsx_bytes
from tenants.errors import InvalidInput, Problem
from tenants.settings import Settings
from tenants.subsidies import reads
from tenants.subsidies.models import StatementStatus
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

LINE_HEADER = [
    "结算单 statement",
    "社区 community",
    "状态 status",
    "收款企业 payee",
    "统一社会信用代码 credit code",
    "小区编码 compound code",
    "小区 compound",
    "类型 kind",
    "所属期间 for period",
    "得分 score",
    "档位 band (≥)",
    "比例 share %",
    "规则 rule",
    "金额（分）amount (fen)",
    "金额（元）amount (CNY)",
    "审批人 approved by",
    "审批时间 approved at",
]
PAYEE_HEADER = [
    "结算单 statement",
    "社区 community",
    "状态 status",
    "收款企业 payee",
    "统一社会信用代码 credit code",
    "支付凭证 payment reference",
    "金额（分）amount (fen)",
    "金额（元）amount (CNY)",
]
STATUS_TEXT = {"draft": "草稿 draft", "approved": "已审批 approved", "paid": "已支付 paid"}
KIND_TEXT = {"rating": "评级 rating", "adjustment": "补差 adjustment"}
DEFAULT_STATUSES = [StatementStatus.APPROVED.value, StatementStatus.PAID.value]


def yuan(fen: int) -> str:
    """Fen as an exact yuan string with two decimals: 1500000 -> "15000.00", -5 -> "-0.05"."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _statuses(raw: str | None) -> list[str]:
    if not raw:
        return DEFAULT_STATUSES
    if raw == "all":
        return [s.value for s in StatementStatus]
    if raw in STATUS_TEXT:
        return [raw]
    raise InvalidInput.of(
        [
            Problem(
                "status", "unknown", "状态须为 draft、approved、paid 或 all", "status is draft, approved, paid or all"
            )
        ]
    )


def _text(value: Any) -> Any:
    return "" if value is None else str(value)


async def _tables(caller: Access, period: str, statuses: list[str]) -> tuple[list[list[Any]], list[list[Any]]]:
    """(line rows with a total row per statement and a grand total, payee rows)."""
    sheet = await reads.period_sheet(caller, period, statuses)
    statements, lines, communities = sheet.statements, sheet.lines, sheet.communities
    compounds, firms = sheet.compounds, sheet.companies
    zone = await current_zone()
    rows: list[list[Any]] = []
    payees: list[list[Any]] = []
    for s in statements:
        community = _text(communities[s.community_id].name if s.community_id in communities else s.community_id)
        status = STATUS_TEXT[s.status.value]
        approval: list[Any] = [_text(s.approved_by), _local(s.approved_at, zone)]
        per_company: dict[int, int] = defaultdict(int)
        for line in lines[s.id]:
            firm, place = firms.get(line.company_id), compounds.get(line.compound_id)
            per_company[line.company_id] += line.amount_fen
            rows.append(
                [
                    s.id,
                    community,
                    status,
                    _text(firm.name if firm else line.company_id),
                    _text(firm.credit_code if firm else ""),
                    _text(place.code if place else line.compound_id),
                    _text(place.name if place else ""),
                    KIND_TEXT[line.kind.value],
                    line.for_period,
                    number(line.score),
                    number(line.band_min_score),
                    number(line.share_percent),
                    _text(line.rule),
                    line.amount_fen,
                    Yuan.of(line.amount_fen),
                    *approval,
                ]
            )
        pool = f"本期奖补池 pool {yuan(s.pool_fen)}"
        rows.append(
            [
                s.id,
                community,
                status,
                "合计 total",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                pool,
                s.total_fen,
                Yuan.of(s.total_fen),
                *approval,
            ]
        )
        for company_id, fen in sorted(per_company.items()):
            firm = firms.get(company_id)
            payees.append(
                [
                    s.id,
                    community,
                    status,
                    _text(firm.name if firm else company_id),
                    _text(firm.credit_code if firm else ""),
                    _text(s.payment_reference),
                    fen,
                    Yuan.of(fen),
                ]
            )
    grand = sum(s.total_fen for s in statements)
    rows.append(["总计 grand total", *[""] * 12, grand, Yuan.of(grand), "", ""])
    return rows, payees


def _meta(period: str, statuses: list[str], count: int) -> list[str]:
    return [
        f"结算期间 period {period}",
        "状态 status " + ",".join(statuses),
        f"结算单 statements {count}",
    ]


def _local(at: datetime | None, zone: Any) -> Any:
    """An instant as the tenant's wall-clock time (naive: what the finance office reads), blank if unset."""
    return "" if at is None else at.astimezone(zone).replace(tzinfo=None, microsecond=0)


def _csv(meta: list[str], rows: list[list[Any]], payees: list[list[Any]]) -> bytes:
    return csv_bytes([[meta, LINE_HEADER, *rows], [PAYEE_HEADER, *payees]])


def _xlsx(meta: list[str], rows: list[list[Any]], payees: list[list[Any]]) -> bytes:
    book = new_book()
    add_sheet(book, "结算明细", LINE_HEADER, rows, above=meta)
    add_sheet(book, "收款汇总", PAYEE_HEADER, payees)
    return xlsx_bytes(book)


async def _settlements_file(request: Request, caller: Access, period: str, fmt: str) -> tuple[bytes, str]:
    statuses = _statuses(request.query_params.get("status"))
    rows, payees = await _tables(caller, period, statuses)
    meta = _meta(period, statuses, len({r[0] for r in rows[:-1]}))
    body = _csv(meta, rows, payees) if fmt == "csv" else _xlsx(meta, rows, payees)
    suffix = "" if statuses == DEFAULT_STATUSES else "-" + request.query_params["status"]
    return body, f"settlements-{period}{suffix}.{fmt}"


def settlements_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _settlements_file)
