"""Bulk import of territory, companies and contracts: all or nothing, every bad row reported, idempotent."""

from __future__ import annotations

import base64
import io

import pytest
from openpyxl import Workbook

from tenants.scope import tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.territory.access import SYSTEM
from tenants.territory.importer import import_territory
from tenants.territory.models import Building, Compound, Household, Street
from tenants.territory.parties import PropertyCompany, PropertyContract
from tests.conftest import codes
from tests.fixtures.territory import IMPORT_GOOD, IMPORT_HEADER


async def _counts(tenant_id: int) -> tuple[int, ...]:
    async with tenant_transaction(tenant_id):
        return tuple([await m.all().count() for m in (Street, Compound, Building, Household, PropertyCompany,
                                                       PropertyContract)])


async def test_import_creates_everything_once(three_tenants):
    a = three_tenants[0]
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=IMPORT_GOOD.encode(), fmt="csv", actor="admin")
    assert report.applied and report.errors == [] and report.rows == 4
    assert report.created == {"street": 2, "community": 2, "grid": 2, "compound": 2, "building": 2,
                              "household": 3, "company": 1, "contract": 1}
    assert await _counts(a.id) == (2, 2, 2, 3, 1, 1)
    async with tenant_transaction(a.id):
        k01 = await Compound.get(code="K01")
        assert (k01.name, k01.address) == ("财苑小区", "财苑路1号")
        contract = await PropertyContract.get(compound_id=k01.id)
        assert contract.annual_fee_fen == 12_000_050  # 120,000.50 yuan, exactly
        h = await Household.get(code="201")
        assert (h.street_id, h.compound_id) == ((await Street.get(code="XH01")).id, k01.id)
    with tenant_context(a.id):
        again = await import_territory(access=SYSTEM, data=IMPORT_GOOD.encode(), fmt="csv", actor="admin")
    assert again.applied and again.created == {} and again.updated == {}
    assert again.unchanged["household"] == 3 and again.unchanged["contract"] == 1
    assert await _counts(a.id) == (2, 2, 2, 3, 1, 1)
    renamed = IMPORT_GOOD.replace("东辰御园", "东辰御园二期")
    with tenant_context(a.id):
        third = await import_territory(access=SYSTEM, data=renamed.encode(), fmt="csv", actor="admin")
    assert third.updated == {"compound": 1}


async def test_dry_run_reports_without_writing(three_tenants):
    a = three_tenants[0]
    with tenant_context(a.id):
        report = await import_territory(
            access=SYSTEM, data=IMPORT_GOOD.encode(), fmt="csv", actor="admin", dry_run=True
        )
    assert not report.applied and report.created["household"] == 3
    assert await _counts(a.id) == (0, 0, 0, 0, 0, 0)


async def test_bad_rows_import_nothing_and_each_is_reported(three_tenants):
    a = three_tenants[0]
    bad = IMPORT_GOOD + (
        "XH01,宣化街道,C01,宣赤路北社区,G01,一网格,K01,别的名字,,1,103,,,,,\n"  # row 6: inconsistent name
        "XH01,宣化街道,C01,,G01,,K01,,,,104,,,,,\n"  # row 7: household without building
        "XH01,宣化街道,C01,,G01,,K 9,,,,,,,,,\n"  # row 8: bad code
        "XH01,宣化街道,C01,,G01,,K03,,,,,9113B,新物业,2026-13-01,2026-12-31,abc\n"  # row 9: bad date + amount
    )
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=bad.encode(), fmt="csv", actor="admin")
    assert not report.applied
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (6, "compound_name", "inconsistent"),
        (7, "building_code", "required"),
        (8, "compound_code", "format"),
        (9, "contract_starts_on", "bad_date"),
        (9, "annual_fee_yuan", "bad_amount"),
    ]
    assert all(e.message_zh and e.message_en for e in report.errors)
    assert await _counts(a.id) == (0, 0, 0, 0, 0, 0)


async def test_conflicts_with_the_database_import_nothing(three_tenants):
    a = three_tenants[0]
    with tenant_context(a.id):
        assert (await import_territory(access=SYSTEM, data=IMPORT_GOOD.encode(), fmt="csv", actor="admin")).applied
    overlapping = IMPORT_HEADER + (
        "XH02,大北街道,C02,,G02,,K02,东辰御园,,9,901,,,,,\n"
        "XH01,宣化街道,C01,,G01,,K01,,,1,101,9113C,另一物业,2026-06-01,2027-05-31,1000\n"
    )
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=overlapping.encode(), fmt="csv", actor="admin")
    assert [(e.row, e.reason) for e in report.errors] == [(3, "overlap")]
    assert not report.applied
    assert await _counts(a.id) == (2, 2, 2, 3, 1, 1)  # building 9 / household 901 were not written either


def _xlsx(rows: list[list[str]]) -> str:
    book = Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    buf = io.BytesIO()
    book.save(buf)
    return base64.b64encode(buf.getvalue()).decode()


async def test_graphql_import_of_an_xlsx_with_chinese_headers(three_tenants, gql, token):
    a, b, _ = three_tenants
    content = _xlsx([
        ["街道编码", "街道名称", "社区编码", "社区名称", "网格编码", "小区编码", "小区名称", "楼栋号", "房号"],
        ["LS01", "临沭街道", "C1", "城北社区", "G1", "HF", "华丰现代城", "3", "301"],
        ["LS01", "临沭街道", "C1", "城北社区", "G1", "HF", "华丰现代城", "3", "302"],
    ])
    mutation = """mutation($c: String!, $d: Boolean!) { importTerritory(input: {format: XLSX, content: $c, dryRun: $d})
      { applied dryRun rows created { kind count } errors { row column reason } } }"""
    dry = await gql(mutation, token(a.slug), {"c": content, "d": True})
    assert dry["data"]["importTerritory"]["applied"] is False
    assert await _counts(a.id) == (0, 0, 0, 0, 0, 0)
    done = await gql(mutation, token(a.slug), {"c": content, "d": False})
    report = done["data"]["importTerritory"]
    assert report["applied"] and report["rows"] == 2 and report["errors"] == []
    assert {c["kind"]: c["count"] for c in report["created"]}["household"] == 2
    assert await _counts(a.id) == (1, 1, 1, 2, 0, 0)
    assert await _counts(b.id) == (0, 0, 0, 0, 0, 0)  # nothing leaked into another tenant
    street = token(a.slug, Role.STREET_OFFICER, scope=("street:1",))
    assert codes(await gql(mutation, street, {"c": content, "d": True})) == ["FORBIDDEN"]
    unknown = await gql(mutation, token(a.slug), {"c": _xlsx([["街道编码", "颜色"], ["X", "红"]]), "d": True})
    assert codes(unknown) == ["INVALID_INPUT"]
    assert unknown["errors"][0]["extensions"]["problems"][0]["reason"] == "unknown_column"


async def test_skip_bad_rows_imports_the_good_ones_and_reports_the_rest(three_tenants):
    a = three_tenants[0]
    mixed = IMPORT_GOOD + "XH01,宣化街道,C01,,G01,,K 9,,,,,,,,,\n"  # row 6 is bad
    with tenant_context(a.id):
        report = await import_territory(
            access=SYSTEM, data=mixed.encode(), fmt="csv", actor="admin", skip_bad_rows=True
        )
    assert report.applied and report.skipped_rows == 1
    assert [(e.row, e.column) for e in report.errors] == [(6, "compound_code")]
    assert await _counts(a.id) == (2, 2, 2, 3, 1, 1)


async def test_skip_bad_rows_follows_dependencies_and_database_conflicts(three_tenants):
    a = three_tenants[0]
    with tenant_context(a.id):
        assert (await import_territory(access=SYSTEM, data=IMPORT_GOOD.encode(), fmt="csv", actor="admin")).applied
    rows = IMPORT_HEADER + (
        "XH03,新街道,C9,,G9,,K9,,,1,101,9113D,新物业,2026-13-01,2026-12-31,100\n"  # row 2: bad date
        "XH03,新街道,C9,,G9,,K8,,,1,101,9113D,,2026-01-01,2026-12-31,100\n"  # row 3: company only named on row 2
        "XH01,宣化街道,C01,,G01,,K01,,,7,701,9113E,又一物业,2026-05-01,2026-06-30,100\n"  # row 4: overlaps on file
        "XH03,新街道,C9,,G9,,K7,,,1,101,,,,,\n"  # row 5: fine
    )
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=rows.encode(), fmt="csv", actor="admin", skip_bad_rows=True)
    assert report.applied and report.skipped_rows == 3
    assert [(e.row, e.reason) for e in report.errors] == [(2, "bad_date"), (3, "required"), (4, "overlap")]
    async with tenant_transaction(a.id):
        assert await Compound.filter(code__in=["K7", "K8", "K9"]).values_list("code", flat=True) == ["K7"]
        assert not await Building.filter(code="7").exists()  # row 4's building went with its row
        assert not await PropertyCompany.filter(credit_code__in=["9113D", "9113E"]).exists()


async def test_out_of_range_values_are_row_errors(three_tenants):
    a = three_tenants[0]
    rows = IMPORT_HEADER + (
        "XH01,宣化街道,C01,,G01,,K01,,,1,101,9113A,安居物业,2026-01-01,2026-12-31,Infinity\n"
        f"XH01,{'长' * 201},C01,,G01,,K02,,,,,,,,,\n"
        "XH01,宣化街道,C01,,G01,,K03,,,,,9113F,大物业,2026-01-01,2026-12-31,100000000000000\n"
    )
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=rows.encode(), fmt="csv", actor="admin")
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (2, "annual_fee_yuan", "bad_amount"), (3, "street_name", "too_long"), (4, "annual_fee_yuan", "bad_amount")]


def _xlsx_bytes(rows: list[list]) -> bytes:
    return base64.b64decode(_xlsx(rows))


CN_HEADER = ["街道编码", "街道名称", "社区编码", "网格编码", "小区编码", "小区名称", "统一社会信用代码", "物业企业",
             "合同开始日期", "合同结束日期", "年度应收物业费(元)"]


async def test_an_excel_sheet_with_a_title_row_and_excel_dates_imports(three_tenants):
    """A sheet as a street office makes it: a title row above the header, a real date cell, 2026/1/1 as text."""
    from datetime import datetime

    a = three_tenants[0]
    data = _xlsx_bytes([
        ["宣化区住户导入表（2026年）"],  # row 1: a title, merged across the sheet in real files
        CN_HEADER,
        ["XH01", "宣化街道", "C01", "G01", "K01", "财苑小区", "9113A", "安居物业", datetime(2026, 1, 1),
         "2026/12/31", 120000.5],
        ["XH01", "宣化街道", "C01", "G01", "K02", "东辰御园", "9113A", "安居物业", "2026/1/1", "2026年12月31日",
         60000],
    ])
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=data, fmt="xlsx", actor="admin")
    assert report.errors == [] and report.applied and report.rows == 2
    async with tenant_transaction(a.id):
        contracts = await PropertyContract.all().order_by("annual_fee_fen")
        assert [(str(c.starts_on), str(c.ends_on), c.annual_fee_fen) for c in contracts] == [
            ("2026-01-01", "2026-12-31", 6_000_000),  # 60,000 yuan
            ("2026-01-01", "2026-12-31", 12_000_050),  # 120,000.50 yuan
        ]


async def test_problems_name_the_columns_as_the_file_does(three_tenants):
    a = three_tenants[0]
    data = _xlsx_bytes([
        CN_HEADER,
        ["XH01", "宣化街道", "C01", "G01", "K01", "财苑小区", "9113A", "安居物业", "2026/13/1", "2026-12-31", "abc"],
    ])
    with tenant_context(a.id):
        report = await import_territory(access=SYSTEM, data=data, fmt="xlsx", actor="admin")
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (2, "合同开始日期", "bad_date"),
        (2, "年度应收物业费(元)", "bad_amount"),
    ]
    assert "2026/1/1" in report.errors[0].message_zh


async def test_an_old_xls_file_is_refused_with_what_to_do(three_tenants):
    from tenants.errors import InvalidInput

    a = three_tenants[0]
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504  # how every Excel 97-2003 file begins
    for fmt in ("xls", "xlsx"):  # also when it was renamed to .xlsx
        with tenant_context(a.id), pytest.raises(InvalidInput) as refused:
            await import_territory(access=SYSTEM, data=ole, fmt=fmt, actor="admin")
        problem = refused.value.problems[0]
        assert (problem.field, problem.reason) == ("file", "xls_unsupported")
        assert ".xlsx" in problem.message_zh
    renamed = _xlsx_bytes([CN_HEADER[:1], ["XH01"]])  # a real .xlsx saved under the old name imports
    with tenant_context(a.id):
        assert (await import_territory(access=SYSTEM, data=renamed, fmt="xls", actor="admin")).applied


def _claims_a_huge_sheet(rows: int) -> bytes:
    """A valid XLSX of a few kilobytes whose sheet declares 16,384 columns by ``rows`` rows, with one cell far down."""
    import re
    import zipfile

    from openpyxl import Workbook

    book = Workbook()
    book.active["A1"] = "street_code"
    plain = io.BytesIO()
    book.save(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(plain.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                text = re.sub(r'<dimension ref="[^"]*" ?/>', f'<dimension ref="A1:XFD{rows}"/>', data.decode())
                far = f'<row r="{rows}"><c r="A{rows}" t="inlineStr"><is><t>x</t></is></c></row>'
                data = text.replace("</sheetData>", far + "</sheetData>").encode()
            dst.writestr(item, data)
    return out.getvalue()


async def test_an_xlsx_claiming_billions_of_cells_is_read_as_the_cells_it_has_or_refused(three_tenants, gql, token):
    """Before: openpyxl padded every row to the declared 16,384 columns, 6,000 rows took 7.7 s on the event loop
    and a million rows ran out of memory. Now only real cells within 64 columns are read."""
    from tenants.territory.sheet import MAX_COLUMNS, MAX_ROWS, _xlsx_table

    # What is read: the rows it has, each at most MAX_COLUMNS wide (before: 6,000 rows of 16,384 cells).
    table = _xlsx_table(_claims_a_huge_sheet(6000), keep_time=False)
    assert max(len(r) for r in table) <= MAX_COLUMNS and sum(1 for r in table if any(r)) == 2
    mutation = """mutation($c: String!) { importTerritory(input: {format: XLSX, content: $c, dryRun: true})
      { rows errors { row column reason } } }"""
    body = await gql(mutation, token("linshu"), {"c": base64.b64encode(_claims_a_huge_sheet(6000)).decode()})
    assert "errors" not in body, body
    assert body["data"]["importTerritory"]["rows"] == 1  # the one filled row far down
    # More rows than an import may have: refused as a whole, in one line.
    huge = await gql(mutation, token("linshu"), {"c": base64.b64encode(_claims_a_huge_sheet(MAX_ROWS + 5)).decode()})
    assert [(p["field"], p["reason"]) for p in huge["errors"][0]["extensions"]["problems"]] == [("file", "too_large")]
