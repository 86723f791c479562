"""File exports for the county office: a period's ratings as CSV or XLSX (GET, bearer token)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import authenticate, caller_of
from api.errors import capped
from api.guard import CAPS, string_problems
from api.sheets import add_sheet, csv_bytes, new_book, number, xlsx_bytes
from tenants import periods
from tenants.assessment import reports
from tenants.assessment.ratings import snapshot_for
from tenants.errors import DomainError, InvalidInput, Problem
from tenants.permissions import allows, refusal
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tenants.territory.access import Access

COMPANY_HEADER = [
    "排名 rank",
    "物业企业 company",
    "统一社会信用代码 credit code",
    "得分 score",
    "红黑榜 list",
    "服务之星 star",
]
COMPOUND_HEADER = [
    "排名 rank",
    "小区编码 code",
    "小区 compound",
    "物业企业 company",
    "得分 score",
    "主体评分 body part",
    "客观指标 objective part",
    "扣分 deductions",
]


def status_filter(raw: str | None, known: list[str], default: list[str]) -> list[str]:
    """``?status=`` of a statements export: one of ``known``, ``all``, or (absent) ``default``; else a 400."""
    if not raw:
        return default
    if raw == "all":
        return list(known)
    if raw in known:
        return [raw]
    raise InvalidInput.of([Problem("status", "unknown", f"状态须为 {'、'.join(known)} 或 all",
                                   f"status is {', '.join(known)} or all")])


def _error(exc: DomainError, status: int) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": exc.message, "extensions": capped(exc.extensions())}]}, status_code=status
    )


BREAKDOWN_HEADER = ["小区编码 code", "类别 kind", "项目 line", "权重 weight", "得分 value", "贡献 contribution"]


INPUT_TEXT = {  # objective inputs of a rating, as the county office names them
    "closure_rate": "结案率",
    "satisfaction_rate": "满意率",
    "on_time_rate": "按时办结率",
    "monthly_ticket_volume": "月均工单量",
}
STATUS_TEXT = {"draft": "草稿", "published": "已发布"}


def _lines(code: str, breakdown: dict) -> list[list[Any]]:
    """A compound's breakdown as rows: each body (or dimension) and item, objective input, deduction, adjustment."""
    rows: list[list[Any]] = []
    for part in breakdown.get("bodies") or breakdown.get("dimensions") or []:
        rows.append(
            [
                code,
                "主体 body",
                part.get("title") or part.get("code"),
                number(part.get("effective_weight")),
                number(part.get("score")),
                number(part.get("contribution")),
            ]
        )
        for item in part.get("items", []):
            rows.append(
                [
                    code,
                    "细则 item",
                    item.get("title") or item.get("code"),
                    number(item.get("max_points")),
                    number(item.get("points")),
                    "",
                ]
            )
    for line in breakdown.get("objective") or []:
        rows.append(
            [
                code,
                "客观 objective",
                INPUT_TEXT.get(line.get("input"), line.get("input")),
                number(line.get("effective_weight")),
                number(line.get("value")),
                number(line.get("contribution")),
            ]
        )
    deductions = breakdown.get("deductions") or {}
    if deductions:
        rows.append(
            [
                code,
                "扣分 deductions",
                f"监督发现 {deductions.get('findings', 0)} 条",
                "",
                number(deductions.get("points")),
                number(deductions.get("contribution")),
            ]
        )
    for adj in breakdown.get("adjustments") or []:
        reason = {"rounding": "舍入 rounding", "clamp": "限幅 clamp"}.get(adj.get("reason"), adj.get("reason"))
        rows.append([code, "调整 adjustment", reason, "", "", number(adj.get("contribution"))])
    rows.append([code, "合计 score", "", "", "", number(breakdown.get("score"))])
    return rows


async def _tables(
    caller: Access, period: str, revision: int | None, draft: bool
) -> tuple[dict, list[list[Any]], list[list[Any]]]:
    snap = await snapshot_for(caller, period, drafts=draft or revision is not None, revision=revision)
    sheet = await reports.snapshot_sheet(snap)
    companies, compounds, firms, places = sheet.companies, sheet.compounds, sheet.firms, sheet.places
    meta = {
        "period": snap.period_key,
        "revision": snap.revision,
        "status": STATUS_TEXT.get(snap.status.value, snap.status.value),
        "versions": (compounds[0].breakdown.get("config_versions") if compounds else None) or {},
        "breakdown": [row for r in compounds for row in _lines(places[r.compound_id].code, r.breakdown)],
    }
    company_rows = [
        [
            r.rank,
            firms[r.company_id].name,
            firms[r.company_id].credit_code,
            number(r.score),
            {"commended": "红榜", "interviewed": "黑榜（约谈）"}.get(r.mark.value, ""),
            "是" if r.star else "",
        ]
        for r in companies
    ]
    compound_rows = [
        [
            r.rank,
            places[r.compound_id].code,
            places[r.compound_id].name,
            firms[r.company_id].name,
            number(r.score),
            number(r.body_part),
            number(r.objective_part),
            number(r.deductions),
        ]
        for r in compounds
    ]
    return meta, company_rows, compound_rows


def _title(meta: dict) -> list[str]:
    versions = " ".join(f"{k}:v{v}" for k, v in meta["versions"].items())
    return [f"期间 period {meta['period']}", f"版本 revision {meta['revision']}", meta["status"], versions]


def _csv(meta: dict, companies: list[list[Any]], compounds: list[list[Any]]) -> bytes:
    return csv_bytes(
        [
            [_title(meta), COMPANY_HEADER, *companies],
            [COMPOUND_HEADER, *compounds],
            [BREAKDOWN_HEADER, *meta["breakdown"]],
        ]
    )


def _xlsx(meta: dict, companies: list[list[Any]], compounds: list[list[Any]]) -> bytes:
    book = new_book()
    add_sheet(book, "企业排名", COMPANY_HEADER, companies, above=_title(meta))
    add_sheet(book, "小区明细", COMPOUND_HEADER, compounds)
    add_sheet(book, "评分明细", BREAKDOWN_HEADER, meta["breakdown"])
    return xlsx_bytes(book)


REVISION = re.compile(r"[0-9]{1,9}")  # ASCII digits only ("²".isdigit() is true) and within an int column
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Builds a file inside the caller's tenant transaction: (request, caller, period, fmt) -> (body, file name).
Build = Callable[[Request, Access, str, str], Awaitable[tuple[bytes, str]]]


def file_export(  # type: ignore[no-untyped-def]
    settings: Settings, build: Build, permissions: tuple[str, ...] = ("exports.download",), param: str = "period"
):
    """A GET endpoint: bearer token, a key (``param``: a period, an id) and csv|xlsx in the path; typed errors as
    JSON (401, 403, 400, 404). For the county office (``exports.download``: tenant admins and the housing
    department) unless ``permissions`` names others (any of them lets a caller in; the build reads only what that
    caller may)."""

    async def endpoint(request: Request) -> Response:
        from tenants.errors import Unauthenticated

        try:
            principal = await authenticate(settings, request)
        except Unauthenticated as exc:
            return _error(exc, 401)
        if principal.tenant_id is None or not any(allows(principal, name) for name in permissions):
            return _error(refusal(permissions[0]), 403)
        period, fmt = request.path_params[param], request.path_params["fmt"]
        try:
            problems = string_problems(param, period, CAPS[param]) if param in CAPS else []
            if fmt not in ("csv", "xlsx"):
                problems.append(Problem("format", "unknown", "格式须为 csv 或 xlsx", "format is csv or xlsx"))
            if problems:
                raise InvalidInput.of(problems)
            async with tenant_transaction(principal.tenant_id):
                body, name = await build(request, await caller_of(principal), period, fmt)
        except DomainError as exc:
            return _error(exc, {"NOT_FOUND": 404, "FORBIDDEN": 403}.get(exc.code, 400))
        media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return endpoint


async def _ratings_file(request: Request, caller: Access, period: str, fmt: str) -> tuple[bytes, str]:
    periods.bounds(period)
    raw = request.query_params.get("revision")
    if raw is not None and not REVISION.fullmatch(raw):
        zh, en = "版本须为 1 到 9 位整数", "revision is a number of 1-9 digits"
        raise InvalidInput.of([Problem("revision", "format", zh, en)])
    draft = request.query_params.get("draft") in ("1", "true")  # default: the published ratings
    meta, companies, compounds = await _tables(caller, period, int(raw) if raw else None, draft)
    body = _csv(meta, companies, compounds) if fmt == "csv" else _xlsx(meta, companies, compounds)
    return body, f"ratings-{meta['period']}-r{meta['revision']}.{fmt}"


def ratings_export(settings: Settings):  # type: ignore[no-untyped-def]
    return file_export(settings, _ratings_file)
