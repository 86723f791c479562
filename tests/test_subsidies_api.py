"""以奖代补 through GraphQL and the finance exports: run, approve and pay; pools; who reads which statements.

下花园区 settles quarterly: 6,000,000 fen a community a year, 1,500,000 fen a quarter, split in equal slots over the
compounds of the community's statement; a compound earns the share of its slot that its rating's band gives
(张家口's bands: >= 90 100%, >= 80 90%, >= 70 70%, >= 60 50%). With no tickets the objective part (20%) is 100, and
only the party organisation scores here, so a compound's rating is 20 + 0.8 x its party points (of 100):

    C1 (street S1): K1 (P1) 100 points -> 100.00, 100% of 750,000 = 750,000; K4 (P2) 75 -> 80.00, 90% = 675,000
    C2 (street S1): K2 (P1) 50 points -> 60.00, 50% of 1,500,000 = 750,000
    C3 (street S2): K3 (P2) 70 points -> 76.00, 70% of 1,500,000 = 1,050,000
"""

from __future__ import annotations

import csv
import io
import logging

from openpyxl import load_workbook

from tenants.assessment import ratings
from tenants.scope import tenant_transaction
from tenants.territory.access import SYSTEM
from tests.conftest import codes
from tests.fixtures.ids import db_id
from tests.fixtures.money import APPROVE, ONE, RUN, STATEMENT, settle
from tests.fixtures.money import NOW_Q3 as RATED
from tests.fixtures.money import SETTLEMENT_PERIOD as PERIOD

TOTALS = {"C1": 1_425_000, "C2": 750_000, "C3": 1_050_000}

LIST = (
    "query($p: String, $c: ID, $s: SettlementStatus, $first: Int, $after: String) { settlementStatements(period: $p,"
    " communityId: $c, status: $s, first: $first, after: $after) { edges { cursor node { " + STATEMENT + " } }"
    " pageInfo { hasNextPage endCursor } } }"
)
PAY = "mutation($id: ID!, $r: String!) { paySettlement(id: $id, reference: $r) { id status paymentReference paidAt } }"
POOLS = """query($y: Int!, $c: ID) { subsidyPools(year: $y, communityId: $c) { communityId community { name } year
  yearlyPoolFen drawnFen paidFen remainingFen } }"""


def _edges(body: dict) -> list[dict]:
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["settlementStatements"]["edges"]]


def _pools(body: dict, w) -> dict[str, tuple[int, int, int, int]]:
    assert "errors" not in body, body
    key = {str(w["ids"][c]): c for c in ("C1", "C2", "C3")}
    return {
        key[p["communityId"]]: (p["yearlyPoolFen"], p["drawnFen"], p["paidFen"], p["remainingFen"])
        for p in body["data"]["subsidyPools"]
    }


async def test_a_quarter_is_settled_approved_and_paid_with_exact_fen(rated_district, gql):
    w, ids = rated_district, rated_district["ids"]
    before = _pools(await gql(POOLS, w["admin"], {"y": 2026}), w)
    assert before == {c: (6_000_000, 0, 0, 6_000_000) for c in ("C1", "C2", "C3")}

    run = (await gql(RUN, w["admin"], {"p": PERIOD}))["data"]["runSettlement"]
    assert (run["createdCount"], run["replacedCount"], run["unchangedCount"], run["approvedCount"]) == (3, 0, 0, 0)
    assert [(s["communityId"], s["status"], s["totalFen"]) for s in run["statements"]] == [
        (str(ids[c]), "DRAFT", TOTALS[c]) for c in ("C1", "C2", "C3")
    ]
    sid = {c: s["id"] for c, s in zip(("C1", "C2", "C3"), run["statements"], strict=True)}
    c1 = (await gql(ONE, w["admin"], {"id": sid["C1"]}))["data"]["settlementStatement"]
    assert (c1["periodKey"], c1["poolFen"], c1["totalFen"], c1["community"]) == (
        PERIOD,
        1_500_000,
        1_425_000,
        {"name": "C1名"},
    )
    assert c1["rule"]["rounding"] == "largest_remainder" and c1["basis"] == {PERIOD: 1}
    typed = c1["settlementRule"]  # the typed rule says what the deprecated JSON says
    assert (typed["cadence"], typed["yearlyPoolFen"], typed["rounding"]) == (
        c1["rule"]["cadence"], c1["rule"]["yearly_pool_fen"], "largest_remainder"
    )
    assert (typed["settlementCadence"], typed["ratingCadence"]) == (
        c1["rule"]["cadence"].upper(), c1["rule"]["assessment_cadence"].upper()
    )
    assert [(b["minScore"], b["sharePercent"]) for b in typed["bands"]] == [
        (b["min_score"], b["share_percent"]) for b in c1["rule"]["bands"]
    ]
    assert c1["basisRevisions"] == [{"periodKey": PERIOD, "revision": 1}]
    assert [
        (
            x["position"],
            x["kind"],
            x["forPeriod"],
            x["compound"]["code"],
            x["companyName"],
            x["score"],
            x["bandMinScore"],
            x["sharePercent"],
            x["amountFen"],
        )
        for x in c1["lines"]
    ] == [
        (1, "RATING", PERIOD, "K1", "P1", "100.00", "90.00", 100, 750_000),
        (2, "RATING", PERIOD, "K4", "P2", "80.00", "80.00", 90, 675_000),
    ]
    assert c1["lines"][1]["detail"]["quota_fen"] == "675000/1" and "90%" in c1["lines"][1]["rule"]
    assert c1["payees"] == [
        {
            "companyId": str(ids["P1"]),
            "companyName": "P1",
            "creditCode": "91130700MA0001",
            "lineCount": 1,
            "amountFen": 750_000,
        },
        {
            "companyId": str(ids["P2"]),
            "companyName": "P2",
            "creditCode": "91130700MA0002",
            "lineCount": 1,
            "amountFen": 675_000,
        },
    ]
    again = (await gql(RUN, w["admin"], {"p": PERIOD}))["data"]["runSettlement"]
    assert (again["createdCount"], again["replacedCount"], again["unchangedCount"]) == (0, 0, 3)

    approved = (await gql(APPROVE, w["admin"], {"id": sid["C1"]}))["data"]["approveSettlement"]
    assert (approved["status"], approved["totalFen"]) == ("APPROVED", 1_425_000)
    twice = await gql(APPROVE, w["admin"], {"id": sid["C1"]})
    assert codes(twice) == ["CONFLICT"] and twice["errors"][0]["extensions"]["field"] == "id"
    assert _pools(await gql(POOLS, w["admin"], {"y": 2026, "c": str(ids["C1"])}), w) == {
        "C1": (6_000_000, 1_425_000, 0, 4_575_000)
    }
    assert codes(await gql(PAY, w["admin"], {"id": sid["C2"], "r": "BANK-1"})) == ["CONFLICT"]  # a draft
    blank = await gql(PAY, w["admin"], {"id": sid["C1"], "r": "  "})
    assert blank["errors"][0]["extensions"]["problems"][0]["field"] == "reference"
    paid = (await gql(PAY, w["admin"], {"id": sid["C1"], "r": "下花园财 2026-118"}))["data"]["paySettlement"]
    assert (paid["status"], paid["paymentReference"]) == ("PAID", "下花园财 2026-118") and paid["paidAt"]
    after = _pools(await gql(POOLS, w["admin"], {"y": 2026}), w)
    assert after == {
        "C1": (6_000_000, 1_425_000, 1_425_000, 4_575_000),
        "C2": (6_000_000, 0, 0, 6_000_000),
        "C3": (6_000_000, 0, 0, 6_000_000),
    }

    # Revised ratings make the remaining drafts stale; a re-run recomputes them and leaves the paid one alone.
    async with tenant_transaction(w["t"].id):
        await ratings.compute(access=SYSTEM, period_key=PERIOD, revise_reason="复核", now=RATED)
        await ratings.publish(access=SYSTEM, period_key=PERIOD, actor="admin", now=RATED)
    stale = await gql(APPROVE, w["admin"], {"id": sid["C2"]})
    assert codes(stale) == ["STATEMENT_STALE"] and stale["errors"][0]["extensions"]["field"] == "id"
    rerun = (await gql(RUN, w["admin"], {"p": PERIOD}))["data"]["runSettlement"]
    assert (rerun["createdCount"], rerun["replacedCount"], rerun["unchangedCount"]) == (0, 2, 1)
    assert (await gql(APPROVE, w["admin"], {"id": sid["C2"]}))["data"]["approveSettlement"]["status"] == "APPROVED"
    assert _pools(await gql(POOLS, w["admin"], {"y": 2026, "c": str(ids["C2"])}), w)["C2"][1] == 750_000

    # The service's typed errors, with their fields.
    missing = await gql(RUN, w["admin"], {"p": "2026Q2"})
    assert codes(missing) == ["RATINGS_NOT_PUBLISHED"] and missing["errors"][0]["extensions"]["field"] == "period"
    yearly = await gql(RUN, w["admin"], {"p": "2026"})
    assert (
        codes(yearly) == ["INVALID_INPUT"] and yearly["errors"][0]["extensions"]["problems"][0]["reason"] == "cadence"
    )
    assert codes(await gql(RUN, w["city_admin"], {"p": "2026"})) == ["NOT_ENABLED"]
    assert codes(await gql(POOLS, w["admin"], {"y": 99})) == ["INVALID_INPUT"]


async def test_each_role_reads_only_its_statements_and_lines(rated_district, gql, caplog):
    w, ids = rated_district, rated_district["ids"]
    sid = await settle(gql, w)
    community = {str(ids[c]): c for c in ("C1", "C2", "C3")}

    def seen(body):
        return sorted(community[s["communityId"]] for s in _edges(body))

    for role in ("admin", "housing_dept"):
        assert seen(await gql(LIST, w[role], {"p": PERIOD})) == ["C1", "C2", "C3"]
    assert seen(await gql(LIST, w["street_officer_s1"], {})) == ["C1", "C2"]
    assert seen(await gql(LIST, w["community_worker_c2"], {})) == ["C2"]
    assert codes(await gql(ONE, w["street_officer_s1"], {"id": sid["C3"]})) == ["NOT_FOUND"]
    assert codes(await gql(ONE, w["community_worker_c2"], {"id": sid["C1"]})) == ["NOT_FOUND"]
    s1_c1 = (await gql(ONE, w["street_officer_s1"], {"id": sid["C1"]}))["data"]["settlementStatement"]
    assert s1_c1["totalFen"] == 1_425_000 and len(s1_c1["lines"]) == 2

    # A property company: the decided statements that pay it, only its own lines and subtotal, not the total.
    assert seen(await gql(LIST, w["company_p1"], {})) == []  # drafts may still change
    for c in ("C1", "C2"):
        assert "errors" not in await gql(APPROVE, w["admin"], {"id": sid[c]})
    p1 = _edges(await gql(LIST, w["company_p1"], {}))
    assert sorted(community[s["communityId"]] for s in p1) == ["C1", "C2"]
    p1_c1 = next(s for s in p1 if s["id"] == sid["C1"])
    assert p1_c1["totalFen"] is None
    assert [(x["compound"]["code"], x["amountFen"]) for x in p1_c1["lines"]] == [("K1", 750_000)]
    assert [(p["companyName"], p["amountFen"]) for p in p1_c1["payees"]] == [("P1", 750_000)]
    p2_c1 = (await gql(ONE, w["company_p2"], {"id": sid["C1"]}))["data"]["settlementStatement"]
    assert [(x["compound"]["code"], x["amountFen"]) for x in p2_c1["lines"]] == [("K4", 675_000)]
    assert seen(await gql(LIST, w["company_p2"], {})) == ["C1"]  # C3 pays P2 too, but is still a draft
    assert codes(await gql(ONE, w["company_p1"], {"id": sid["C3"]})) == ["NOT_FOUND"]
    assert codes(await gql(POOLS, w["company_p1"], {"y": 2026})) == ["FORBIDDEN"]

    assert sorted(_pools(await gql(POOLS, w["street_officer_s1"], {"y": 2026}), w)) == ["C1", "C2"]
    assert codes(await gql(POOLS, w["street_officer_s1"], {"y": 2026, "c": str(ids["C3"])})) == ["NOT_FOUND"]
    for query, variables in ((LIST, {}), (ONE, {"id": sid["C1"]}), (POOLS, {"y": 2026})):
        assert codes(await gql(query, w["resident"], variables)) == ["FORBIDDEN"]
    for role in ("housing_dept", "street_officer_s1", "community_worker_c2", "company_p1"):
        assert codes(await gql(RUN, w[role], {"p": PERIOD})) == ["FORBIDDEN"]
        assert codes(await gql(APPROVE, w[role], {"id": sid["C1"]})) == ["FORBIDDEN"]
        assert codes(await gql(PAY, w[role], {"id": sid["C1"], "r": "X"})) == ["FORBIDDEN"]

    # Filters and keyset pages (newest period first, then by id); the lines of a page come in one query.
    assert seen(await gql(LIST, w["admin"], {"s": "DRAFT"})) == ["C3"]
    assert seen(await gql(LIST, w["admin"], {"c": str(ids["C1"]), "s": "APPROVED"})) == ["C1"]
    assert seen(await gql(LIST, w["admin"], {"s": "PAID"})) == []
    assert codes(await gql(LIST, w["admin"], {"p": "Q3-2026"})) == ["INVALID_INPUT"]
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    first = (await gql(LIST, w["admin"], {"first": 2}))["data"]["settlementStatements"]
    line_queries = [r for r in caplog.records if "settlement_line" in r.getMessage()]
    assert len(line_queries) == 1
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await gql(LIST, w["admin"], {"first": 2, "after": first["pageInfo"]["endCursor"]}))["data"]
    pages = [e["node"]["id"] for e in first["edges"]] + [e["node"]["id"] for e in rest["settlementStatements"]["edges"]]
    assert (
        pages == [sid["C1"], sid["C2"], sid["C3"]] and rest["settlementStatements"]["pageInfo"]["hasNextPage"] is False
    )


def _csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


async def test_finance_exports_add_up_exactly(rated_district, gql, client):
    w = rated_district
    sid = await settle(gql, w)
    for c in ("C1", "C3"):
        assert "errors" not in await gql(APPROVE, w["admin"], {"id": sid[c]})
    assert "errors" not in await gql(PAY, w["admin"], {"id": sid["C1"], "r": "BANK-118"})
    row_id = {c: str(db_id(g)) for c, g in sid.items()}  # exports name statements by their database id

    def auth(token):
        return {"Authorization": f"Bearer {token}"}

    resp = await client.get(f"/exports/settlements/{PERIOD}.csv", headers=auth(w["admin"]))
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert 'filename="settlements-2026Q3.csv"' in resp.headers["content-disposition"]
    rows = _csv_rows(resp.content)
    assert rows[0][0] == "结算期间 period 2026Q3" and rows[1][0] == "结算单 statement"
    blank = rows.index([])
    lines = rows[2:blank]
    paid, approved, rating = "已支付 paid", "已审批 approved", "评级 rating"
    assert [(r[0], r[1], r[2], r[3], r[5], r[7], r[9], r[10], r[11], r[13], r[14]) for r in lines] == [
        (row_id["C1"], "C1名", paid, "P1", "K1", rating, "100.00", "90.00", "100", "750000", "7500.00"),
        (row_id["C1"], "C1名", paid, "P2", "K4", rating, "80.00", "80.00", "90", "675000", "6750.00"),
        (row_id["C1"], "C1名", paid, "合计 total", "", "", "", "", "", "1425000", "14250.00"),
        (row_id["C3"], "C3名", approved, "P2", "K3", rating, "76.00", "70.00", "70", "1050000", "10500.00"),
        (row_id["C3"], "C3名", approved, "合计 total", "", "", "", "", "", "1050000", "10500.00"),
        ("总计 grand total", "", "", "", "", "", "", "", "", "2475000", "24750.00"),
    ]
    assert lines[0][4] == "91130700MA0001" and lines[0][12].startswith("≥90")
    for statement in (row_id["C1"], row_id["C3"]):
        own = [r for r in lines if r[0] == statement]
        assert sum(int(r[13]) for r in own[:-1]) == int(own[-1][13])
    payees = rows[blank + 2 :]
    assert [(r[0], r[3], r[5], r[6], r[7]) for r in payees] == [
        (row_id["C1"], "P1", "BANK-118", "750000", "7500.00"),
        (row_id["C1"], "P2", "BANK-118", "675000", "6750.00"),
        (row_id["C3"], "P2", "", "1050000", "10500.00"),
    ]

    every = await client.get(f"/exports/settlements/{PERIOD}.csv?status=all", headers=auth(w["admin"]))
    assert 'filename="settlements-2026Q3-all.csv"' in every.headers["content-disposition"]
    every_rows = _csv_rows(every.content)
    assert every_rows[every_rows.index([]) - 1][13:15] == ["3225000", "32250.00"]  # the draft C2 (750,000) too

    xlsx = await client.get(f"/exports/settlements/{PERIOD}.xlsx", headers=auth(w["housing_dept"]))
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["结算明细", "收款汇总"]
    sheet = [[c.value for c in row] for row in book["结算明细"].iter_rows(min_row=3)]
    detail = [r for r in sheet if r[3] not in ("合计 total", "") and r[0] != "总计 grand total"]
    totals = [r for r in sheet if r[3] == "合计 total"]
    assert sum(r[13] for r in detail) == sum(r[13] for r in totals) == sheet[-1][13] == 2_475_000
    assert [r[14] for r in totals] == [14250, 10500] and sheet[-1][14] == 24750  # yuan, as numbers
    paid_out = [[c.value for c in row] for row in book["收款汇总"].iter_rows(min_row=2)]
    assert sum(r[6] for r in paid_out) == 2_475_000

    url = f"/exports/settlements/{PERIOD}.csv"
    assert (await client.get(url, headers=auth(w["street_officer_s1"]))).status_code == 403
    assert (await client.get(url)).status_code == 401
    assert (await client.get(url, headers=auth(w["other_admin"]))).status_code == 404
    assert (await client.get(f"/exports/settlements/{PERIOD}.pdf", headers=auth(w["admin"]))).status_code == 400
    assert (await client.get(f"{url}?status=late", headers=auth(w["admin"]))).status_code == 400
    assert (await client.get("/exports/settlements/2026Q2.csv", headers=auth(w["admin"]))).status_code == 404
    assert (await client.get("/exports/settlements/Q2.csv", headers=auth(w["admin"]))).status_code == 400


async def test_another_tenant_sees_nothing_and_cannot_act(rated_district, gql):
    w = rated_district
    sid = await settle(gql, w)
    other = w["other_admin"]
    assert _edges(await gql(LIST, other, {})) == []
    assert (await gql(POOLS, other, {"y": 2026}))["data"]["subsidyPools"] == []
    assert codes(await gql(ONE, other, {"id": sid["C1"]})) == ["NOT_FOUND"]
    assert codes(await gql(APPROVE, other, {"id": sid["C1"]})) == ["NOT_FOUND"]
    assert codes(await gql(PAY, other, {"id": sid["C1"], "r": "X"})) == ["NOT_FOUND"]
    assert codes(await gql(RUN, other, {"p": PERIOD})) == ["NOT_ENABLED"]  # 临沭 runs no 以奖代补
    still = (await gql(ONE, w["admin"], {"id": sid["C1"]}))["data"]["settlementStatement"]
    assert (still["status"], still["approvedBy"]) == ("DRAFT", None)


async def test_a_period_outside_the_calendar_is_refused_with_its_field(rated_district, gql, client):
    w = rated_district
    for period in ("0000Q1", "0000", "3000Q4"):
        body = await gql(
            "mutation($p: String!) { runSettlement(period: $p) { createdCount } }", w["admin"], {"p": period}
        )
        problem = body["errors"][0]["extensions"]["problems"][0]
        assert (problem["field"], problem["reason"]) == ("period", "out_of_range"), body
        listed = await gql(
            "query($p: String) { settlementStatements(period: $p) { edges { node { id } } } }",
            w["admin"],
            {"p": period},
        )
        assert codes(listed) == ["INVALID_INPUT"]
    resp = await client.get("/exports/settlements/0000Q1.csv", headers={"Authorization": f"Bearer {w['admin']}"})
    assert resp.status_code == 400 and resp.json()["errors"][0]["extensions"]["problems"][0]["reason"] == "out_of_range"
