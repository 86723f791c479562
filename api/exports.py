"""File exports for the county office: a period's ratings as CSV or XLSX (GET, bearer token)."""

from __future__ import annotations

import csv
import io
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import authenticate
from tenants.assessment.models import CompanyRating, CompoundRating
from tenants.assessment.ratings import snapshot_for
from tenants.errors import DomainError, Forbidden, InvalidInput, Problem
from tenants.scope import tenant_transaction
from tenants.settings import Settings
from tenants.tenancy.roles import Role
from tenants.territory.models import Compound
from tenants.territory.parties import PropertyCompany

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


def _error(exc: DomainError, status: int) -> JSONResponse:
    return JSONResponse({"errors": [{"message": exc.message, "extensions": exc.extensions()}]}, status_code=status)


async def _tables(period: str, revision: int | None) -> tuple[dict, list[list[Any]], list[list[Any]]]:
    snap = await snapshot_for(period, drafts=True, revision=revision)
    companies = await CompanyRating.filter(snapshot_id=snap.id).order_by("rank")
    compounds = await CompoundRating.filter(snapshot_id=snap.id).order_by("rank")
    firms = {c.id: c for c in await PropertyCompany.filter(id__in=[r.company_id for r in companies])}
    places = {c.id: c for c in await Compound.filter(id__in=[r.compound_id for r in compounds])}
    meta = {"period": snap.period_key, "revision": snap.revision, "status": snap.status.value}
    company_rows = [
        [
            r.rank,
            firms[r.company_id].name,
            firms[r.company_id].credit_code,
            str(r.score),
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
            str(r.score),
            str(r.body_part),
            "" if r.objective_part is None else str(r.objective_part),
            str(r.deductions),
        ]
        for r in compounds
    ]
    return meta, company_rows, compound_rows


def _csv(meta: dict, companies: list[list[Any]], compounds: list[list[Any]]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow([f"期间 period {meta['period']}", f"版本 revision {meta['revision']}", meta["status"]])
    w.writerow(COMPANY_HEADER)
    w.writerows(companies)
    w.writerow([])
    w.writerow(COMPOUND_HEADER)
    w.writerows(compounds)
    return out.getvalue().encode("utf-8-sig")  # with a BOM, so Excel opens the Chinese text correctly


def _xlsx(meta: dict, companies: list[list[Any]], compounds: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    first = book.active
    first.title = "企业排名"
    first.append([f"期间 {meta['period']}", f"版本 {meta['revision']}", meta["status"]])
    first.append(COMPANY_HEADER)
    for row in companies:
        first.append(row)
    second = book.create_sheet("小区明细")
    second.append(COMPOUND_HEADER)
    for row in compounds:
        second.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def ratings_export(settings: Settings):  # type: ignore[no-untyped-def]
    async def endpoint(request: Request) -> Response:
        from tenants.errors import Unauthenticated

        try:
            principal = await authenticate(settings, request)
        except Unauthenticated as exc:
            return _error(exc, 401)
        if principal.tenant_id is None or not principal.has_any(Role.TENANT_ADMIN, Role.HOUSING_DEPT):
            return _error(Forbidden("需要租户管理员或住建部门角色", "requires tenant_admin or housing_dept"), 403)
        period, fmt = request.path_params["period"], request.path_params["fmt"]
        try:
            if fmt not in ("csv", "xlsx"):
                raise InvalidInput.of([Problem("format", "unknown", "格式须为 csv 或 xlsx", "format is csv or xlsx")])
            revision = request.query_params.get("revision")
            async with tenant_transaction(principal.tenant_id):
                meta, companies, compounds = await _tables(period, int(revision) if revision else None)
        except DomainError as exc:
            return _error(exc, 404 if exc.code == "NOT_FOUND" else 400)
        except ValueError:
            return _error(InvalidInput.of([Problem("revision", "format", "版本须为整数", "revision is a number")]), 400)
        body = _csv(meta, companies, compounds) if fmt == "csv" else _xlsx(meta, companies, compounds)
        media = (
            "text/csv; charset=utf-8"
            if fmt == "csv"
            else ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        )
        name = f"ratings-{meta['period']}-r{meta['revision']}.{fmt}"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    return endpoint
