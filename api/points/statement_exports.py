"""A month's partner statements 商户结算单 for the finance office as CSV or XLSX (GET, bearer token).

``/exports/partner-statements/2026-03.csv`` (or ``.xlsx``): one row per verified voucher, a total row per
statement and a grand total; then one row per partner with its payment reference. Amounts in fen and in yuan
(exact). By default approved and paid statements (``?status=all`` adds drafts; ``draft``, ``approved`` or ``paid``
picks one); ``?partner=<code>`` one partner (a partner code, else 400; a partner the caller does not read, 404).
Every statement is read, in keyset batches.

Who downloads it: the administration (``exports.download``) every partner's; a partner's staff its own partner's
only (``partner_statements.read``: the statements it reads, another partner's code is 404); anyone else (a
property company, ...) nothing (403).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request

from api.exports import file_export, status_filter
from api.sheets import Yuan, add_sheet, csv_bytes, new_book, xlsx_bytes
from tenants import periods
from tenants.errors import InvalidInput, Problem
from tenants.points import statements
from tenants.points.partners import CODE as PARTNER_CODE
from tenants.points.voucher_models import PartnerStatementStatus
from tenants.settings import Settings
from tenants.tenancy.service import current_zone
from tenants.territory.access import Access

LINE_HEADER = [
    "结算单 statement", "月份 month", "状态 status", "商户编码 partner code", "商户 partner", "类型 kind",
    "兑换码 voucher", "兑换项目 item", "核销时间 used at", "金额（分）amount (fen)", "金额（元）amount (CNY)",
]
PARTNER_HEADER = [
    "结算单 statement", "商户编码 partner code", "商户 partner", "状态 status", "兑换券数 vouchers",
    "支付凭证 payment reference", "金额（分）amount (fen)", "金额（元）amount (CNY)",
]
STATUS_TEXT = {"draft": "草稿 draft", "approved": "已审批 approved", "paid": "已支付 paid"}
DEFAULT = [PartnerStatementStatus.APPROVED.value, PartnerStatementStatus.PAID.value]


def _partner_code(raw: str | None) -> str | None:
    """``?partner=``: a partner code (it goes into the file's name) or nothing; anything else is a 400."""
    if raw is None:
        return None
    if not PARTNER_CODE.fullmatch(raw):
        raise InvalidInput.of([Problem("partner", "format", "商户编码须为小写字母开头的 a-z、0-9、_（至多 64 个字符）",
                                       "partner is a partner code: a-z first, then a-z, 0-9 or _ (64 at most)")])
    return raw


async def _tables(caller: Access, month: str, statuses: list[str], partner: str | None) -> tuple[list, list]:
    # Every statement the caller reads (keyset batches, no page limit); one partner's by its code (404 if unknown).
    one = await statements.partner_by_code(caller, partner) if partner is not None else None
    rows = await statements.all_statements(access=caller, month=month, statuses=statuses,
                                           partner_id=one.id if one else None)
    partners = await statements.partners_by_ids(caller, sorted({s.partner_id for s in rows}))
    lines: list[Any] = []
    for i in range(0, len(rows), statements.BATCH):
        lines += await statements.readable_lines_of(caller, [s.id for s in rows[i:i + statements.BATCH]])
    zone = await current_zone()
    by_statement: dict[int, list[Any]] = {s.id: [] for s in rows}
    for line in lines:
        by_statement[line.statement_id].append(line)
    out: list[list[Any]] = []
    per_partner: list[list[Any]] = []
    for s in sorted(rows, key=lambda r: (partners[r.partner_id].code if r.partner_id in partners else "", r.id)):
        p = partners.get(s.partner_id)
        code, name, kind = (p.code, p.name, p.kind.value) if p else (str(s.partner_id), "", "")
        status = STATUS_TEXT[s.status.value]
        for line in by_statement[s.id]:
            used: datetime = line.used_at.astimezone(zone).replace(tzinfo=None, microsecond=0)
            out.append([s.id, s.month, status, code, name, kind, line.voucher_code, line.title, used,
                        line.amount_fen, Yuan.of(line.amount_fen)])
        out.append([s.id, s.month, status, code, name, "合计 total", "", "", "", s.total_fen, Yuan.of(s.total_fen)])
        per_partner.append([s.id, code, name, status, s.voucher_count, s.payment_reference or "", s.total_fen,
                            Yuan.of(s.total_fen)])
    grand = sum(s.total_fen for s in rows)
    out.append(["总计 grand total", month, "", "", "", "", "", "", "", grand, Yuan.of(grand)])
    return out, per_partner


async def _file(request: Request, caller: Access, month: str, fmt: str) -> tuple[bytes, str]:
    periods.month_bounds(month, "period")
    statuses = status_filter(request.query_params.get("status"), list(STATUS_TEXT), DEFAULT)
    partner = _partner_code(request.query_params.get("partner"))
    rows, per_partner = await _tables(caller, month, statuses, partner)
    meta = [f"月份 month {month}", "状态 status " + ",".join(statuses)]
    if fmt == "csv":
        body = csv_bytes([[meta, LINE_HEADER, *rows], [PARTNER_HEADER, *per_partner]])
    else:
        book = new_book()
        add_sheet(book, "兑换明细", LINE_HEADER, rows, above=meta)
        add_sheet(book, "商户汇总", PARTNER_HEADER, per_partner)
        body = xlsx_bytes(book)
    return body, f"partner-statements-{month}{'-' + partner if partner else ''}.{fmt}"


def partner_statements_export(settings: Settings):  # type: ignore[no-untyped-def]
    """The administration's (``exports.download``) and a partner's staff's (``partner_statements.read``: its own
    partner's statements, as it reads them) download of a month."""
    return file_export(settings, _file, permissions=("exports.download", "partner_statements.read"))
