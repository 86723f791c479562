"""Read an import spreadsheet (CSV or XLSX) into rows of named columns; headers in English or Chinese.

The territory import's columns are the default; another import passes its own ``aliases`` and ``required``.
The header is the first row (of the first ten) that names a required column, so a title row above it is skipped.
Problems name a column as the file does (合同开始日期, not contract_starts_on): ``Sheet.label``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from tenants.errors import InvalidInput, Problem

LEVEL_COLUMNS = ("street", "community", "grid", "compound", "building", "household")
# Canonical column -> accepted headers (case-insensitive).
ALIASES: dict[str, tuple[str, ...]] = {
    "street_code": ("street_code", "街道编码"),
    "street_name": ("street_name", "街道名称", "街道"),
    "community_code": ("community_code", "社区编码"),
    "community_name": ("community_name", "社区名称", "社区"),
    "grid_code": ("grid_code", "网格编码"),
    "grid_name": ("grid_name", "网格名称", "网格"),
    "compound_code": ("compound_code", "小区编码"),
    "compound_name": ("compound_name", "小区名称", "小区"),
    "compound_address": ("compound_address", "小区地址", "地址"),
    "building_code": ("building_code", "楼栋编码", "楼栋号"),
    "building_name": ("building_name", "楼栋名称", "楼栋"),
    "household_code": ("household_code", "户编码", "房号"),
    "household_name": ("household_name", "户名称", "住户"),
    "company_credit_code": ("company_credit_code", "物业企业信用代码", "统一社会信用代码"),
    "company_name": ("company_name", "物业企业名称", "物业企业"),
    "contract_starts_on": ("contract_starts_on", "合同开始日期"),
    "contract_ends_on": ("contract_ends_on", "合同结束日期"),
    "annual_fee_fen": ("annual_fee_fen", "年度应收物业费(分)"),
    "annual_fee_yuan": ("annual_fee_yuan", "年度应收物业费(元)", "年度应收物业费"),
}
REQUIRED = ("street_code",)
_LOOKUP = {alias.lower(): col for col, aliases in ALIASES.items() for alias in aliases}
MAX_ROWS = 200_000  # rows of one import (the territory of a large county, a year of hotline tickets)
MAX_COLUMNS = 64  # more than any import has; cells beyond it are not read
MAX_INFLATED_BYTES = 256 * 2**20  # what an XLSX may inflate to
HEADER_SEARCH_ROWS = 10  # a title row or two above the header is common in spreadsheets made by hand
XLSX_MAGIC = b"PK\x03\x04"  # a zip container
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an OLE2 file: Excel 97-2003 .xls


@dataclass(frozen=True)
class Sheet:
    columns: dict[str, int]  # canonical column -> position
    rows: list[tuple[int, list[str]]]  # (spreadsheet row number, cells)
    headers: dict[str, str] = field(default_factory=dict)  # canonical column -> the header as the file wrote it
    aliases: dict[str, tuple[str, ...]] = field(default_factory=lambda: ALIASES)

    def label(self, column: str) -> str:
        """The column as the file names it (a column it lacks: in Chinese when its headers are Chinese)."""
        if column in self.headers:
            return self.headers[column]
        chinese = any(not h.isascii() for h in self.headers.values())
        names = self.aliases.get(column, ())
        return names[1] if chinese and len(names) > 1 else column

    def get(self, cells: list[str], column: str) -> str:
        pos = self.columns.get(column)
        if pos is None or pos >= len(cells):
            return ""
        return cells[pos].strip()


def _bad_file(reason: str, zh: str, en: str) -> InvalidInput:
    return InvalidInput.of([Problem("file", reason, zh, en)])


def _old_excel() -> InvalidInput:
    return _bad_file(
        "xls_unsupported",
        "不支持旧版 Excel（.xls）文件：请在 Excel 中另存为 .xlsx 或 CSV（UTF-8）后再导入",
        "old Excel (.xls) files are not supported: save the sheet as .xlsx or CSV (UTF-8) and import that",
    )


def read_sheet(
    data: bytes,
    fmt: str,
    *,
    aliases: dict[str, tuple[str, ...]] | None = None,
    required: tuple[str, ...] = REQUIRED,
    keep_time: bool = False,
) -> Sheet:
    """``keep_time``: an XLSX date-time cell reads as ``YYYY-MM-DD HH:MM:SS`` instead of its date."""
    lookup = _LOOKUP if aliases is None else {a.lower(): col for col, names in aliases.items() for a in names}
    if data.startswith(XLS_MAGIC):
        raise _old_excel()
    if fmt == "xls" and data.startswith(XLSX_MAGIC):
        fmt = "xlsx"  # an .xlsx saved under the old extension
    if fmt == "xls":
        raise _old_excel()
    if fmt == "csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = data.decode("gb18030")  # spreadsheets saved by Chinese Excel
            except UnicodeDecodeError as exc:
                raise _bad_file(
                    "encoding", "文件不是 UTF-8 或 GB18030 编码", "the file is not UTF-8 or GB18030"
                ) from exc
        try:  # newline="": the csv module reads the file's own line ends (a lone \r included)
            table = _bounded(r[:MAX_COLUMNS] for r in csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise _bad_file("unreadable", f"无法读取 CSV 文件：{exc}", f"the CSV file cannot be read: {exc}") from exc
    elif fmt == "xlsx":
        table = _xlsx_table(data, keep_time)
    else:
        raise _bad_file("format", "文件格式须为 csv 或 xlsx", "format must be csv or xlsx")
    if not any(any(str(c).strip() for c in r) for r in table):
        raise _bad_file("empty", "文件为空", "the file is empty")
    start = _header_row(table, lookup, required)
    columns: dict[str, int] = {}
    headers: dict[str, str] = {}
    unknown = []
    for pos, header in enumerate(table[start]):
        key = lookup.get(str(header).strip().lower())
        if key is None:
            if str(header).strip():
                unknown.append(str(header).strip())
        elif key not in columns:
            columns[key] = pos
            headers[key] = str(header).strip()
    problems = [
        Problem(f"column:{h}", "unknown_column", f"无法识别的列 {h}", f"unknown column {h}") for h in unknown
    ] + [
        Problem(f"column:{c}", "missing_column", f"缺少必需的列 {c}", f"required column {c} is missing")
        for c in required
        if c not in columns
    ]
    if problems:
        raise InvalidInput.of(problems)
    rows = [(i + 1, cells) for i, cells in enumerate(table) if i > start and any(str(c).strip() for c in cells)]
    return Sheet(columns=columns, rows=rows, headers=headers, aliases=aliases or ALIASES)


def _xlsx_table(data: bytes, keep_time: bool) -> list[list[str]]:
    """The first sheet's cells, within ``MAX_ROWS`` x ``MAX_COLUMNS``: a few kilobytes of XLSX can declare a
    sheet of 17 billion cells, or inflate to gigabytes, so neither the declared size nor the zip is trusted."""
    import zipfile

    from openpyxl import load_workbook

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise _bad_file("unreadable", "无法读取 XLSX 文件", "the XLSX file cannot be read") from exc
    if inflated > MAX_INFLATED_BYTES:
        mb = MAX_INFLATED_BYTES // 2**20
        raise _too_big(f"解压后超过 {mb} MB", f"inflates past {mb} MB")
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # the cells it has, not the size it claims
        rows = sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        table = _bounded(["" if v is None else _cell(v, keep_time) for v in row] for row in rows)
        book.close()
    except InvalidInput:
        raise
    except Exception as exc:
        raise _bad_file("unreadable", "无法读取 XLSX 文件", "the XLSX file cannot be read") from exc
    return table


def _bounded(rows: Iterable[list[str]]) -> list[list[str]]:
    table: list[list[str]] = []
    for row in rows:
        if len(table) > MAX_ROWS:
            raise _too_big(f"超过 {MAX_ROWS} 行", f"has more than {MAX_ROWS} rows")
        table.append(row)
    return table


def _too_big(zh: str, en: str) -> InvalidInput:
    return _bad_file("too_large", f"文件{zh}，请分批导入", f"the file {en}: import it in parts")


def _header_row(table: list[list], lookup: dict[str, str], required: tuple[str, ...]) -> int:
    """The first row naming a required column among the first rows; else the first non-blank row."""
    filled = [i for i, r in enumerate(table) if any(str(c).strip() for c in r)]
    for i in filled[:HEADER_SEARCH_ROWS]:
        if any(lookup.get(str(c).strip().lower()) in required for c in table[i]):
            return i
    return filled[0]


def _cell(value: object, keep_time: bool = False) -> str:
    if isinstance(value, datetime) and keep_time:  # a date-time cell: its wall time
        return value.isoformat(sep=" ")
    if isinstance(value, date):  # a date cell reads as a naive datetime (a calendar day, no instant): keep the day
        return date(value.year, value.month, value.day).isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
