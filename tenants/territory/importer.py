"""Bulk import of a tenant's territory, property companies and contracts from a spreadsheet.

One row per household (trailing levels may be blank to create only the upper ones). The import is all or
nothing: any bad row and nothing is written, and the report names every bad row, column and reason. Nodes are
matched by code under their parent, so importing the same file again changes nothing. Writes are set-based:
one INSERT .. SELECT FROM unnest(...) and one UPDATE per level, however many rows.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from tenants.audit import service as audit
from tenants.permissions import Caller, require
from tenants.scope import current_tenant_id, savepoint
from tenants.territory.models import LEVEL_NAMES, MODEL_BY_LEVEL, ancestor_levels, parent_level
from tenants.territory.service import CODE_RE
from tenants.territory.sheet import Sheet, read_sheet

Progress = Callable[[str, int, int], None]
MAX_FEE_FEN = 10**13  # 100 billion yuan: far above any property contract, far below int64
Path = tuple[str, ...]
_ZH = {"street": "街道", "community": "社区", "grid": "网格", "compound": "小区", "building": "楼栋", "household": "户"}


@dataclass(frozen=True)
class RowError:
    row: int
    column: str
    reason: str
    message_zh: str
    message_en: str


@dataclass
class ImportReport:
    dry_run: bool
    rows: int = 0
    applied: bool = False
    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    unchanged: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    skipped_rows: int = 0

    def error(self, row: int, column: str, reason: str, zh: str, en: str) -> None:
        self.errors.append(RowError(row, column, reason, zh, en))

    def count(self, bucket: dict[str, int], key: str, n: int = 1) -> None:
        bucket[key] = bucket.get(key, 0) + n


@dataclass
class _Node:
    path: Path
    name: str | None
    row: int
    address: str | None = None


@dataclass
class _Contract:
    compound: Path
    credit_code: str
    starts_on: date
    ends_on: date
    fee_fen: int
    row: int


@dataclass
class _Plan:
    nodes: dict[str, dict[Path, _Node]] = field(default_factory=lambda: {lvl: {} for lvl in LEVEL_NAMES})
    companies: dict[str, tuple[str, int]] = field(default_factory=dict)  # credit code -> (name, row)
    contracts: dict[tuple[Path, date], _Contract] = field(default_factory=dict)


class _Abort(Exception):
    """Roll the transaction back (dry run, or bad rows found against the database)."""


def _fee_fen(sheet: Sheet, cells: list[str], row: int, report: ImportReport) -> int | None:
    raw_fen, raw_yuan = sheet.get(cells, "annual_fee_fen"), sheet.get(cells, "annual_fee_yuan")
    try:
        if raw_fen:
            if not re.fullmatch(r"\d{1,14}", raw_fen) or int(raw_fen) > MAX_FEE_FEN:
                raise ValueError
            return int(raw_fen)
        if raw_yuan:
            yuan = Decimal(raw_yuan.replace(",", ""))
            if not yuan.is_finite():
                raise ValueError
            fen = yuan * 100
            if yuan < 0 or fen != fen.to_integral_value() or fen > MAX_FEE_FEN:
                raise ValueError
            return int(fen)
    except (ValueError, InvalidOperation):
        col = "annual_fee_fen" if raw_fen else "annual_fee_yuan"
        report.error(
            row,
            col,
            "bad_amount",
            "金额须为非负数，元最多两位小数",
            "amount must be non-negative, with at most two decimals in yuan",
        )
        return None
    report.error(row, "annual_fee_yuan", "required", "有合同时须填写年度应收物业费", "a contract needs its annual fee")
    return None


# 2026-01-01, 2026/1/1 (Excel's display), 2026.1.1, 2026年1月1日; a midnight time (a date cell saved as text) is
# ignored.
DATE_RE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0?0:00(?::00)?)?")


def _date(sheet: Sheet, cells: list[str], column: str, row: int, report: ImportReport) -> date | None:
    raw = sheet.get(cells, column)
    match = DATE_RE.fullmatch(raw)
    try:
        if match is None:
            raise ValueError
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        report.error(
            row,
            column,
            "bad_date",
            f"日期须为 2026-01-01 或 2026/1/1 这样的日期，实为 {raw!r}",
            f"date must be like 2026-01-01 or 2026/1/1, got {raw!r}",
        )
        return None


def plan_rows(sheet: Sheet, report: ImportReport) -> _Plan:
    """Check every row (without the database) and collect the distinct nodes, companies and contracts."""
    plan = _Plan()
    for row, cells in sheet.rows:
        report.rows += 1
        path: list[str] = []
        gap: str | None = None
        for level in LEVEL_NAMES:
            code = sheet.get(cells, f"{level}_code")
            name = sheet.get(cells, f"{level}_name") or None
            if not code:
                gap = gap or level
                if name:
                    report.error(
                        row,
                        f"{level}_code",
                        "required",
                        f"填写了{_ZH[level]}名称但缺少编码",
                        f"{level}_name is given without {level}_code",
                    )
                continue
            if gap is not None:
                report.error(
                    row,
                    f"{gap}_code",
                    "required",
                    f"填写了{_ZH[level]}但缺少上级{_ZH[gap]}",
                    f"{level} is given without its {gap}",
                )
                break
            if not CODE_RE.match(code):
                report.error(
                    row,
                    f"{level}_code",
                    "format",
                    f"编码 {code} 格式不正确",
                    f"code {code!r} must be 1-64 letters, digits, dots, underscores or hyphens",
                )
                break
            if name and len(name) > 200:
                report.error(
                    row, f"{level}_name", "too_long", "名称不能超过 200 字", "name must be at most 200 characters"
                )
                break
            path.append(code)
            key = tuple(path)
            address = sheet.get(cells, "compound_address") or None if level == "compound" else None
            if address and len(address) > 300:
                report.error(
                    row, "compound_address", "too_long", "地址不能超过 300 字", "address must be at most 300 characters"
                )
                break
            seen = plan.nodes[level].get(key)
            if seen is None:
                plan.nodes[level][key] = _Node(key, name, row, address)
            elif name and seen.name and name != seen.name:
                report.error(
                    row,
                    f"{level}_name",
                    "inconsistent",
                    f"同一{_ZH[level]}在第 {seen.row} 行名为 {seen.name}",
                    f"the same {level} is named {seen.name!r} on row {seen.row}",
                )
            elif name and not seen.name:
                seen.name = name
        _plan_contract(sheet, cells, row, tuple(path[:4]) if len(path) >= 4 else None, plan, report)
    return plan


def _plan_contract(
    sheet: Sheet, cells: list[str], row: int, compound: Path | None, plan: _Plan, report: ImportReport
) -> None:
    credit = sheet.get(cells, "company_credit_code")
    if not credit:
        return
    company_name = sheet.get(cells, "company_name")
    if len(credit) > 32 or len(company_name) > 200:
        column = "company_credit_code" if len(credit) > 32 else "company_name"
        report.error(
            row,
            column,
            "too_long",
            "统一社会信用代码不超过 32 位、企业名称不超过 200 字",
            "credit code must be at most 32 and company name at most 200 characters",
        )
        return
    known = plan.companies.get(credit)
    if known is None:
        if not company_name:
            report.error(row, "company_name", "required", "缺少物业企业名称", "company_name is required")
            return
        plan.companies[credit] = (company_name, row)
    elif company_name and company_name != known[0]:
        report.error(
            row,
            "company_name",
            "inconsistent",
            f"同一企业在第 {known[1]} 行名为 {known[0]}",
            f"the same company is named {known[0]!r} on row {known[1]}",
        )
    if compound is None:
        report.error(row, "compound_code", "required", "物业合同须对应小区", "a contract needs a compound")
        return
    starts = _date(sheet, cells, "contract_starts_on", row, report)
    ends = _date(sheet, cells, "contract_ends_on", row, report)
    fee = _fee_fen(sheet, cells, row, report)
    if starts is None or ends is None or fee is None:
        return
    if ends < starts:
        report.error(
            row, "contract_ends_on", "before_start", "合同结束日期早于开始日期", "the contract ends before it starts"
        )
        return
    contract = _Contract(compound, credit, starts, ends, fee, row)
    seen = plan.contracts.get((compound, starts))
    if seen is None:
        plan.contracts[(compound, starts)] = contract
    elif (seen.credit_code, seen.ends_on, seen.fee_fen) != (credit, ends, fee):
        report.error(
            row,
            "contract_starts_on",
            "inconsistent",
            f"与第 {seen.row} 行的同一合同不一致",
            f"differs from the same contract on row {seen.row}",
        )


async def import_territory(
    *,
    access: Caller,
    data: bytes,
    fmt: str,
    actor: str,
    dry_run: bool = False,
    skip_bad_rows: bool = False,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate and (unless ``dry_run`` or any row is bad) write the file for the tenant in scope.

    With ``skip_bad_rows`` the rows with problems are left out and the rest is written; the report still
    lists every problem.
    """
    require(access, "territory.import")
    sheet = await asyncio.to_thread(read_sheet, data, fmt)  # a large file must not stall the event loop
    report = await _import(sheet, actor, dry_run, skip_bad_rows, progress)
    report.errors = [replace(e, column=sheet.label(e.column)) for e in report.errors]  # as the file names them
    return report


async def _import(
    sheet: Sheet, actor: str, dry_run: bool, skip_bad_rows: bool, progress: Progress | None
) -> ImportReport:
    tick = progress or (lambda *_: None)
    found: list[RowError] = []  # every problem of every pass, in the order found
    bad: set[int] = set()
    while True:
        report = ImportReport(dry_run=dry_run)
        plan = plan_rows(Sheet(sheet.columns, [r for r in sheet.rows if r[0] not in bad], sheet.headers), report)
        tick("checked rows", len(sheet.rows), len(sheet.rows))
        if not report.errors:
            try:
                return await _write(
                    plan, report, found, bad, actor=actor, skip_bad_rows=skip_bad_rows, rows=len(sheet.rows), tick=tick
                )
            except _Retry:
                continue
        found += report.errors
        if not skip_bad_rows:
            return _final(report, found, bad, len(sheet.rows))
        # Leaving a bad row out can only surface problems in other rows that depended on it; repeat until none.
        bad |= {e.row for e in report.errors}


class _Retry(Exception):
    """Rows failed against the database; with skip_bad_rows they are left out and the import is tried again."""


def _final(report: ImportReport, found: list[RowError], bad: set[int], rows: int) -> ImportReport:
    report.errors = sorted(dict.fromkeys(found), key=lambda e: e.row)
    report.rows = rows
    report.skipped_rows = len(bad)
    return report


async def _write(
    plan: _Plan,
    report: ImportReport,
    found: list[RowError],
    bad: set[int],
    *,
    actor: str,
    skip_bad_rows: bool,
    rows: int,
    tick: Progress,
) -> ImportReport:
    try:
        async with savepoint() as conn:
            writer = _Writer(conn, current_tenant_id(), report)
            for i, level in enumerate(LEVEL_NAMES):
                await writer.level(level, plan.nodes[level])
                tick(f"{level}", i + 1, len(LEVEL_NAMES) + 1)
            await writer.companies_and_contracts(plan)
            tick("contracts", len(LEVEL_NAMES) + 1, len(LEVEL_NAMES) + 1)
            if report.errors:  # found against the database: roll this pass back
                found += report.errors
                if skip_bad_rows:
                    bad |= {e.row for e in report.errors}
                    raise _Retry
                raise _Abort
            if report.dry_run:
                raise _Abort
            await audit.record(
                actor=actor,
                action="territory.import",
                target_type="tenant",
                target_id=current_tenant_id(),
                details={"rows": rows, "created": report.created, "updated": report.updated, "skippedRows": len(bad)},
            )
    except _Abort:
        return _final(report, found, bad, rows)
    report.applied = True
    return _final(report, found, bad, rows)


class _Writer:
    def __init__(self, conn: Any, tenant_id: int, report: ImportReport) -> None:
        self.conn, self.tenant_id, self.report = conn, tenant_id, report
        # path -> (id, {ancestor}_id columns) for every node of the file, existing or new
        self.known: dict[str, dict[Path, tuple[int, dict[str, int]]]] = {}

    async def level(self, level: str, nodes: dict[Path, _Node]) -> None:
        table = MODEL_BY_LEVEL[level]._meta.db_table
        plevel = parent_level(level)
        ancestors = ancestor_levels(level)
        parent_ids: dict[Path, int] = {}
        if plevel:
            parent_ids = {p: self.known[plevel][p[:-1]][0] for p in nodes}
        cols = ", ".join(f"{a}_id" for a in ancestors)
        where = f"{plevel}_id = ANY($2::bigint[])" if plevel else "code = ANY($2::text[])"
        keys = sorted(set(parent_ids.values())) if plevel else sorted(p[0] for p in nodes)
        extra = ", address" if level == "compound" else ""
        rows = await self.conn.execute_query_dict(
            f"SELECT id, code, name{extra}{', ' + cols if cols else ''} FROM {table} WHERE tenant_id = $1 AND {where}",
            [self.tenant_id, keys],
        )
        existing = {((r[f"{plevel}_id"] if plevel else None), r["code"]): r for r in rows}
        known: dict[Path, tuple[int, dict[str, int]]] = {}
        inserts: list[tuple[Path, _Node, dict[str, int]]] = []
        updates: list[tuple[int, str, str | None]] = []
        for path, node in nodes.items():
            anc: dict[str, int] = {}
            if plevel:
                pid, panc = self.known[plevel][path[:-1]]
                anc = {**panc, f"{plevel}_id": pid}
            row = existing.get((anc.get(f"{plevel}_id") if plevel else None, path[-1]))
            if row is None:
                inserts.append((path, node, anc))
                continue
            known[path] = (row["id"], anc)
            name = node.name or row["name"]
            address = (node.address or row.get("address")) if level == "compound" else None
            if name != row["name"] or (level == "compound" and address != row.get("address")):
                updates.append((row["id"], name, address))
            else:
                self.report.count(self.report.unchanged, level)
        if inserts:
            params: list[Any] = [
                self.tenant_id,
                [p[-1] for p, _, _ in inserts],
                [n.name or p[-1] for p, n, _ in inserts],
            ]
            select = ["$1::bigint", "u.code", "u.name"]
            names = ["tenant_id", "code", "name"]
            for a in ancestors:
                params.append([anc[f"{a}_id"] for _, _, anc in inserts])
                names.append(f"{a}_id")
                select.append(f"u.{a}_id")
            if level == "compound":
                params.append([n.address or "" for _, n, _ in inserts])
                names.append("address")
                select.append("u.address")
            unnest_cols = ["code", "name", *(f"{a}_id" for a in ancestors)] + (
                ["address"] if level == "compound" else []
            )
            types = ["text[]", "text[]", *("bigint[]" for _ in ancestors)] + (["text[]"] if level == "compound" else [])
            args = ", ".join(f"${i + 2}::{t}" for i, t in enumerate(types))
            created = await self.conn.execute_query_dict(
                f"INSERT INTO {table} ({', '.join(names)}, is_active, created_at, updated_at)"
                f" SELECT {', '.join(select)}, true, now(), now()"
                f" FROM unnest({args}) AS u({', '.join(unnest_cols)})"
                f" RETURNING id, code{', ' + cols if cols else ''}",
                params,
            )
            by_key = {((r[f"{plevel}_id"] if plevel else None), r["code"]): r["id"] for r in created}
            for path, _, anc in inserts:
                known[path] = (by_key[(anc.get(f"{plevel}_id") if plevel else None, path[-1])], anc)
            self.report.count(self.report.created, level, len(inserts))
        if updates:
            await self.conn.execute_query(
                f"UPDATE {table} AS t SET name = u.name, updated_at = now()"
                + (", address = COALESCE(u.address, t.address)" if level == "compound" else "")
                + " FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(id, name, address)"
                " WHERE t.tenant_id = $1 AND t.id = u.id",
                [self.tenant_id, [u[0] for u in updates], [u[1] for u in updates], [u[2] for u in updates]],
            )
            self.report.count(self.report.updated, level, len(updates))
        self.known[level] = known

    async def companies_and_contracts(self, plan: _Plan) -> None:
        if not plan.companies:
            return
        codes = sorted(plan.companies)
        rows = await self.conn.execute_query_dict(
            "SELECT id, credit_code, name FROM property_company WHERE tenant_id = $1 AND credit_code = ANY($2::text[])",
            [self.tenant_id, codes],
        )
        company_ids = {r["credit_code"]: r["id"] for r in rows}
        missing = [c for c in codes if c not in company_ids]
        renamed = [
            (company_ids[r["credit_code"]], plan.companies[r["credit_code"]][0])
            for r in rows
            if plan.companies[r["credit_code"]][0] != r["name"]
        ]
        if missing:
            created = await self.conn.execute_query_dict(
                "INSERT INTO property_company (tenant_id, credit_code, name, contact_name, contact_phone, is_active,"
                " created_at, updated_at) SELECT $1, u.c, u.n, '', '', true, now(), now()"
                " FROM unnest($2::text[], $3::text[]) AS u(c, n) RETURNING id, credit_code",
                [self.tenant_id, missing, [plan.companies[c][0] for c in missing]],
            )
            company_ids.update({r["credit_code"]: r["id"] for r in created})
            self.report.count(self.report.created, "company", len(missing))
        if renamed:
            await self.conn.execute_query(
                "UPDATE property_company AS t SET name = u.n, updated_at = now()"
                " FROM unnest($2::bigint[], $3::text[]) AS u(id, n) WHERE t.tenant_id = $1 AND t.id = u.id",
                [self.tenant_id, [r[0] for r in renamed], [r[1] for r in renamed]],
            )
            self.report.count(self.report.updated, "company", len(renamed))
        self.report.count(self.report.unchanged, "company", len(rows) - len(renamed))
        await self._contracts(plan, company_ids)

    async def _contracts(self, plan: _Plan, company_ids: dict[str, int]) -> None:
        compounds = self.known["compound"]
        compound_ids = sorted({compounds[c.compound][0] for c in plan.contracts.values()})
        # Serialise with concurrent contract changes on these compounds, so the overlap check below holds.
        await self.conn.execute_query(
            "SELECT id FROM compound WHERE tenant_id = $1 AND id = ANY($2::bigint[]) ORDER BY id FOR UPDATE",
            [self.tenant_id, compound_ids],
        )
        rows = await self.conn.execute_query_dict(
            "SELECT id, company_id, compound_id, starts_on, ends_on, annual_fee_fen FROM property_contract"
            " WHERE tenant_id = $1 AND compound_id = ANY($2::bigint[])",
            [self.tenant_id, compound_ids],
        )
        on_file: dict[int, list[dict]] = {}
        for r in rows:
            on_file.setdefault(r["compound_id"], []).append(r)
        new: list[tuple[int, int, _Contract]] = []
        for contract in plan.contracts.values():
            compound_id, company_id = compounds[contract.compound][0], company_ids[contract.credit_code]
            same = next((r for r in on_file.get(compound_id, []) if r["starts_on"] == contract.starts_on), None)
            if same is not None:
                if (same["company_id"], same["ends_on"], same["annual_fee_fen"]) == (
                    company_id,
                    contract.ends_on,
                    contract.fee_fen,
                ):
                    self.report.count(self.report.unchanged, "contract")
                else:
                    self.report.error(
                        contract.row,
                        "contract_starts_on",
                        "differs_from_file",
                        "与已登记的同一合同不一致，请通过接口修改",
                        "differs from the contract on file for this compound and start date; change it through the API",
                    )
                continue
            pending = [{"starts_on": c.starts_on, "ends_on": c.ends_on} for cid, _co, c in new if cid == compound_id]
            clash = next(
                (
                    r
                    for r in on_file.get(compound_id, []) + pending
                    if r["starts_on"] <= contract.ends_on and r["ends_on"] >= contract.starts_on
                ),
                None,
            )
            if clash is not None:
                self.report.error(
                    contract.row,
                    "contract_starts_on",
                    "overlap",
                    f"与 {clash['starts_on']} 至 {clash['ends_on']} 的合同重叠",
                    f"overlaps the contract from {clash['starts_on']} to {clash['ends_on']}",
                )
                continue
            new.append((compound_id, company_id, contract))
        if new:
            await self.conn.execute_query(
                "INSERT INTO property_contract (tenant_id, company_id, compound_id, starts_on, ends_on,"
                " annual_fee_fen, reference, created_at, updated_at)"
                " SELECT $1, u.co, u.cp, u.s, u.e, u.f, '', now(), now()"
                " FROM unnest($2::bigint[], $3::bigint[], $4::date[], $5::date[], $6::bigint[]) AS u(co, cp, s, e, f)",
                [
                    self.tenant_id,
                    [n[1] for n in new],
                    [n[0] for n in new],
                    [n[2].starts_on for n in new],
                    [n[2].ends_on for n in new],
                    [n[2].fee_fen for n in new],
                ],
            )
            self.report.count(self.report.created, "contract", len(new))
