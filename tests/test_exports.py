"""The ratings and settlement files as a finance office opens them: numbers as numbers, Chinese values, a bold
frozen header, and negative numbers left alone (the formula guard is for text only)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import load_workbook

from tests.fixtures.assessment import RATING_PERIOD, sheet, submit_scores
from tests.fixtures.ids import db_id
from tests.fixtures.money import APPROVE, ONE, SETTLEMENT_PERIOD, settle

FINDINGS_ON = """mutation { changeConfig(input: {set: {assessment: {supervisor_findings: {enabled: true,
  points_per_finding: 2, max_points_per_period: 10, resolved_within_hours: 24, resolved_points_per_finding: 1}}},
  comment: "小区监督员扣分"}) { versionNo } }"""


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def _check_header(ws, row: int) -> None:
    """The header row is bold and frozen (everything above and including it stays on screen)."""
    assert all(c.font.b for c in ws[row] if c.value is not None)
    assert ws.freeze_panes == f"A{row + 1}"
    assert ws.column_dimensions["B"].width > 8  # sized, not Excel's default 8.43


async def test_a_deduction_is_a_negative_number_in_csv_and_xlsx(district, gql, client):
    from tenants.assessment import rounds
    from tenants.scope import tenant_transaction
    from tenants.tenancy.roles import Role
    from tenants.territory.access import resolve

    d, ids = district, district["ids"]
    assert "errors" not in await gql(FINDINGS_ON, d["admin"])
    await gql('mutation { openAssessmentRound(period: "2026Q4") { status } }', d["admin"])
    in_q4 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
    async with tenant_transaction(d["t"].id):
        supervisor = await resolve(frozenset({Role.SUPERVISOR}), [f"compound:{ids['K1']}/supervisor"], "sup-1")
        for what in ("消防通道堵塞", "楼道堆物"):
            await rounds.record_finding(
                access=supervisor, actor="sup-1", compound_id=ids["K1"], description=what, now=in_q4
            )
    await submit_scores(gql, d["street_officer_s1"], d, "K1", "party_org", sheet(d["rubric"], "party_org"))
    await gql('mutation { computeRatings(period: "2026Q4") { status } }', d["admin"])
    await gql('mutation { publishRatings(period: "2026Q4") { status } }', d["admin"])
    # K1: the party organisation's full marks stand for the missing bodies (body part 100); no tickets, so the
    # objective part is the volume score 100: 80% x 100 + 20% x 100 = 100, minus 2 unresolved findings x 2 = 96.00.

    rows = _rows((await client.get(f"/exports/ratings/{RATING_PERIOD}.csv", headers=auth(d["admin"]))).content)
    assert rows[0][2] == "已发布"
    assert rows[2][1:4] == ["P1", "91130700MA0001", "96.00"]
    assert ["K1", "扣分 deductions", "监督发现 2 条", "", "4.00", "-4.00"] in rows
    assert not any(cell.startswith("'-") for row in rows for cell in row)  # the old guard made this '-4.00
    assert ["K1", "客观 objective", "结案率", "0.00", "", "0.00"] in rows  # no tickets: the weight goes to volume

    xlsx = await client.get(f"/exports/ratings/{RATING_PERIOD}.xlsx", headers=auth(d["housing_dept"]))
    book = load_workbook(io.BytesIO(xlsx.content))
    companies, compounds, lines = book["企业排名"], book["小区明细"], book["评分明细"]
    assert companies["C1"].value == "已发布"
    _check_header(companies, 2)
    _check_header(compounds, 1)
    _check_header(lines, 1)
    score = companies["D3"]
    assert (companies["B3"].value, score.value, score.data_type, score.number_format) == ("P1", 96, "n", "0.00")
    deduction = next(r for r in lines.iter_rows(min_row=2) if r[1].value == "扣分 deductions")
    assert [(c.value, c.data_type, c.number_format) for c in deduction[4:6]] == [
        (4, "n", "0.00"),
        (-4, "n", "0.00"),
    ]
    assert "结案率" in [r[2].value for r in lines.iter_rows(min_row=2)]
    assert compounds["E2"].value == 96 and compounds["E2"].number_format == "0.00"


async def test_a_settlement_file_names_its_approver_and_time_in_numbers_excel_can_add(rated_district, gql, client):
    w = rated_district
    sid = await settle(gql, w)
    assert "errors" not in await gql(APPROVE, w["admin"], {"id": sid["C1"]})
    approved = (await gql(ONE, w["admin"], {"id": sid["C1"]}))["data"]["settlementStatement"]
    at = datetime.fromisoformat(approved["approvedAt"])
    local = at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")  # 下花园区's time, UTC+8
    assert local != at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")

    rows = _rows((await client.get(f"/exports/settlements/{SETTLEMENT_PERIOD}.csv", headers=auth(w["admin"]))).content)
    assert rows[1][15:] == ["审批人 approved by", "审批时间 approved at"]
    c1 = [r for r in rows[2 : rows.index([])] if r[0] == str(db_id(sid["C1"]))]  # the file keeps database ids
    # C1: K1 750,000 + K4 675,000 = 1,425,000 fen = 14,250.00 yuan, every row signed by its approver.
    assert [(r[3], r[13], r[14], r[15], r[16]) for r in c1] == [
        ("P1", "750000", "7500.00", approved["approvedBy"], local),
        ("P2", "675000", "6750.00", approved["approvedBy"], local),
        ("合计 total", "1425000", "14250.00", approved["approvedBy"], local),
    ]

    xlsx = await client.get(f"/exports/settlements/{SETTLEMENT_PERIOD}.xlsx", headers=auth(w["admin"]))
    book = load_workbook(io.BytesIO(xlsx.content))
    lines, payees = book["结算明细"], book["收款汇总"]
    _check_header(lines, 2)
    _check_header(payees, 1)
    first = lines[3]
    assert first[2].value == "已审批 approved"
    assert (first[9].value, first[9].data_type, first[9].number_format) == (100, "n", "0.00")  # score
    assert (first[13].value, first[13].data_type) == (750000, "n")  # fen
    assert (first[14].value, first[14].data_type, first[14].number_format) == (7500, "n", "#,##0.00")  # yuan
    assert first[15].value == approved["approvedBy"]
    assert first[16].is_date and first[16].value.strftime("%Y-%m-%d %H:%M") == local
    grand = [c.value for c in lines[lines.max_row]]
    assert grand[0] == "总计 grand total" and grand[13:15] == [1_425_000, 14_250]
    assert payees["H2"].value == 7500 and payees["H2"].number_format == "#,##0.00"
