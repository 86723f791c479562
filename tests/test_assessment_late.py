"""Late paper score sheets 补录: a county that starts mid-year enters a past round's sheets after its deadline."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path

from tenants import clock, periods
from tenants.audit.models import AuditEntry
from tenants.scope import tenant_transaction
from tests.conftest import codes
from tests.fixtures.assessment import sheet
from tests.fixtures.cli import run_cli

ENTER = """mutation($in: EnterLateScoresInput!) { enterLateScores(input: $in) { compoundId bodyCode revision reason
  lateEntry submittedBy } }"""
SUBMIT = """mutation($in: SubmitScoresInput!) { submitScores(input: $in) { revision } }"""
CORRECT = """mutation($in: SubmitScoresInput!) { correctScores(input: $in) { revision lateEntry reason } }"""
REASON = "2026年11月启用系统，补录纸质评分表"


async def _past_quarter(d) -> str:
    """Two quarters before the tenant-local today: ended, and its deadline (10 days on) long past, at any hour."""
    async with tenant_transaction(d["t"].id):
        today = await clock.today()
    return periods.previous_key(periods.bounds(periods.previous_key(today, "quarterly"))[0], "quarterly")


def _sheet_in(d, compound: str, body: str, scores: dict[str, int]) -> dict:
    return {"compoundId": str(d["ids"][compound]), "bodyCode": body, "scores": scores}


async def test_a_tenant_admin_enters_a_past_rounds_paper_sheets(district, gql):
    d = district
    past = await _past_quarter(d)
    full = {b: sheet(d["rubric"], b) for b in ("party_org", "owners_committee", "housing_dept")}
    half = sheet(d["rubric"], "party_org", Fraction(1, 2))
    sheets = [
        _sheet_in(d, "K1", "party_org", full["party_org"]),
        _sheet_in(d, "K1", "owners_committee", full["owners_committee"]),
        _sheet_in(d, "K1", "housing_dept", full["housing_dept"]),
        _sheet_in(d, "K3", "party_org", half),
    ]
    # Today: the round does not exist and bodies cannot score it; a street officer cannot enter paper sheets.
    assert codes(await gql(SUBMIT, d["street_officer_s1"], {"in": {"period": past, **sheets[0]}})) == ["NOT_FOUND"]
    assert codes(await gql(ENTER, d["street_officer_s1"],
                           {"in": {"period": past, "reason": REASON, "sheets": sheets}})) == ["FORBIDDEN"]
    # Every problem at once, nothing saved: no reason, a point out of range, a compound without a contract (K2),
    # the same sheet twice.
    item = next(iter(full["housing_dept"]))
    wrong = [
        _sheet_in(d, "K1", "housing_dept", {**full["housing_dept"], item: 999}),
        _sheet_in(d, "K2", "housing_dept", full["housing_dept"]),
        sheets[3],
        sheets[3],
    ]
    bad = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": " ", "sheets": wrong}})
    assert [(p["field"], p["reason"]) for p in bad["errors"][0]["extensions"]["problems"]] == [
        ("reason", "required"),
        (f"sheets.0.scores.{item}", "out_of_range"),
        ("sheets.1.compoundId", "no_contract"),
        ("sheets.3", "duplicate"),
    ]
    round_q = "query($p: String!) { assessmentRound(period: $p) { periodKey status } }"
    assert (await gql(round_q, d["admin"], {"p": past}))["data"]["assessmentRound"] is None

    entered = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": REASON, "sheets": sheets}})
    assert "errors" not in entered, entered
    rows = entered["data"]["enterLateScores"]
    assert {(r["bodyCode"], r["revision"], r["reason"], r["lateEntry"]) for r in rows} == {
        ("party_org", 1, REASON, True),
        ("owners_committee", 1, REASON, True),
        ("housing_dept", 1, REASON, True),
    }
    assert len(rows) == 4
    # The round was opened for the past period; bodies still cannot submit in it (its deadline passed).
    assert (await gql(round_q, d["admin"], {"p": past}))["data"]["assessmentRound"] == {
        "periodKey": past,
        "status": "open",
    }
    late_owner = await gql(SUBMIT, d["owners_committee_k1"], {"in": {"period": past, **sheets[1]}})
    assert codes(late_owner) == ["CONFLICT"]  # already entered
    closed = await gql(
        SUBMIT, d["housing_dept"], {"in": {"period": past, **_sheet_in(d, "K3", "housing_dept", full["housing_dept"])}}
    )
    assert closed["errors"][0]["extensions"]["problems"][0]["reason"] == "closed"
    again = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": REASON, "sheets": sheets[3:]}})
    assert [p["reason"] for p in again["errors"][0]["extensions"]["problems"]] == ["already_submitted"]
    async with tenant_transaction(d["t"].id):
        entry = await AuditEntry.get(action="assessment.late_entry")
    assert entry.details["reason"] == REASON and len(entry.details["sheets"]) == 4

    # Rating works as usual. No tickets: the ticket volume of 0 scores 100 and carries the objective 20%.
    # K1: every body full marks: 80% x 100 + 20% x 100 = 100.00. K3: the party organisation alone, half marks.
    party_max = sum(i.max_points for i in d["rubric"] if i.body == "party_org")
    k3 = (Decimal(sum(half.values()) * 100) / party_max * Decimal("0.8") + 20).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert "errors" not in await gql(
        "mutation($p: String!) { computeRatings(period: $p) { status } }", d["admin"], {"p": past}
    )
    ranked = await gql(
        """query($p: String!) { compoundRankings(period: $p) { edges { node { compound { code } score breakdown } } }
        companyRankings(period: $p) { edges { node { companyId mark } } } }""",
        d["admin"],
        {"p": past},
    )
    nodes = {e["node"]["compound"]["code"]: e["node"] for e in ranked["data"]["compoundRankings"]["edges"]}
    assert (Decimal(nodes["K1"]["score"]), Decimal(nodes["K3"]["score"])) == (Decimal("100.00"), k3)
    k3_bodies = {b["code"]: (b["submitted"], b["late_entry"]) for b in nodes["K3"]["breakdown"]["bodies"]}
    assert k3_bodies == {
        "party_org": (True, True),
        "owners_committee": (False, False),
        "housing_dept": (False, False),
    }
    assert "late_entry" in nodes["K3"]["breakdown"]["notes"]
    # Both firms scored, 100.00 and below: 张家口's top and bottom 10% of 2 commend P1 and interview P2.
    assert [e["node"]["mark"] for e in ranked["data"]["companyRankings"]["edges"]] == ["COMMENDED", "INTERVIEWED"]

    # A correction of a late sheet is a revision as usual, and stays marked as entered late.
    corrected = await gql(
        CORRECT, d["admin"], {"in": {"period": past, **sheets[3], "scores": full["party_org"], "reason": "核对原件"}}
    )
    assert corrected["data"]["correctScores"] == {"revision": 2, "lateEntry": True, "reason": "核对原件"}

    # Settlement of the past quarter works as usual once published: 下花园区 pays 60,000 CNY a year per community,
    # 15,000 CNY (1,500,000 fen) a quarter; C1's one rated compound K1 scores 100.00, band >= 90: 100 %.
    await gql("mutation($p: String!) { computeRatings(period: $p) { status } }", d["admin"], {"p": past})
    await gql("mutation($p: String!) { publishRatings(period: $p) { status } }", d["admin"], {"p": past})
    run = await gql(
        "mutation($p: String!) { runSettlement(period: $p) { statements { communityId totalFen } } }",
        d["admin"],
        {"p": past},
    )
    assert "errors" not in run, run
    totals = {s["communityId"]: s["totalFen"] for s in run["data"]["runSettlement"]["statements"]}
    assert totals[str(d["ids"]["C1"])] == 1_500_000

    # Published: nothing more is entered into that period.
    refused = await gql(
        ENTER,
        d["admin"],
        {
            "in": {
                "period": past,
                "reason": REASON,
                "sheets": [_sheet_in(d, "K3", "housing_dept", full["housing_dept"])],
            }
        },
    )
    assert codes(refused) == ["PERIOD_PUBLISHED"]
    assert refused["errors"][0]["extensions"]["field"] == "period"


async def test_late_entry_is_only_for_ended_periods_past_their_deadline(district, gql):
    d = district
    async with tenant_transaction(d["t"].id):
        today = await clock.today()
    current = periods.key_for(today, "quarterly")
    one = [_sheet_in(d, "K1", "party_org", sheet(d["rubric"], "party_org"))]
    early = await gql(ENTER, d["admin"], {"in": {"period": current, "reason": REASON, "sheets": one}})
    assert [(p["field"], p["reason"]) for p in early["errors"][0]["extensions"]["problems"]] == [("period", "not_late")]
    monthly = await gql(ENTER, d["admin"], {"in": {"period": "2026-02", "reason": REASON, "sheets": one}})
    assert [p["reason"] for p in monthly["errors"][0]["extensions"]["problems"]] == ["cadence"]
    # A tenant admin can also open a past round by hand first (three quarters back here), then enter its sheets.
    older = periods.previous_key(periods.bounds(await _past_quarter(d))[0], "quarterly")
    opened = await gql(
        "mutation($p: String!) { openAssessmentRound(period: $p) { periodKey } }", d["admin"], {"p": older}
    )
    assert opened["data"]["openAssessmentRound"] == {"periodKey": older}
    ok = await gql(ENTER, d["admin"], {"in": {"period": older, "reason": REASON, "sheets": one}})
    assert [r["lateEntry"] for r in ok["data"]["enterLateScores"]] == [True]


async def test_paper_sheets_given_as_typed_items(district, gql):
    d = district
    past = await _past_quarter(d)
    full = sheet(d["rubric"], "party_org")
    items = [{"itemCode": c, "points": p} for c, p in full.items()]
    typed = {"compoundId": str(d["ids"]["K1"]), "bodyCode": "party_org", "items": items}
    mixed = {**_sheet_in(d, "K3", "party_org", full), "items": items}
    bad = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": REASON, "sheets": [typed, mixed]}})
    assert [(p["field"], p["reason"]) for p in bad["errors"][0]["extensions"]["problems"]] == [
        ("sheets.1.scores", "exclusive")
    ]
    wrong = [dict(i) for i in items]
    wrong[2]["points"] = 999
    one = [{**typed, "items": wrong}]
    out = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": REASON, "sheets": one}})
    assert [(p["field"], p["reason"]) for p in out["errors"][0]["extensions"]["problems"]] == [
        ("sheets.0.items.2.points", "out_of_range")
    ]
    sheets = [typed, _sheet_in(d, "K3", "party_org", full)]
    ok = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": REASON, "sheets": sheets}})
    assert "errors" not in ok, ok
    read = (
        "query($p: String!, $c: ID!) { scoreSubmissions(period: $p, compoundId: $c) "
        " { scores items { itemCode points } } }"
    )
    by_code = sorted(items, key=lambda i: i["itemCode"])
    for key in ("K1", "K3"):  # stored alike, whichever way the sheet came (jsonb keeps its own key order)
        subs = (await gql(read, d["admin"], {"p": past, "c": str(d["ids"][key])}))["data"]["scoreSubmissions"]
        assert [(s["scores"], sorted(s["items"], key=lambda i: i["itemCode"])) for s in subs] == [(full, by_code)]


async def test_another_tenant_cannot_enter_sheets_for_these_compounds(district, gql):
    d = district
    past = await _past_quarter(d)
    one = [_sheet_in(d, "K1", "party_org", sheet(d["rubric"], "party_org"))]
    # 临沭's administrator: K1 is not theirs (row-level security hides it), and 临沭's rubric has no party_org.
    other = await gql(ENTER, d["other_admin"], {"in": {"period": past, "reason": REASON, "sheets": one}})
    reasons = {(p["field"], p["reason"]) for p in other["errors"][0]["extensions"]["problems"]}
    assert ("sheets.0.compoundId", "no_contract") in reasons
    async with tenant_transaction(d["other"].id):
        assert await AuditEntry.filter(action="assessment.late_entry").count() == 0
    round_q = "query($p: String!) { assessmentRound(period: $p) { periodKey } }"
    assert (await gql(round_q, d["admin"], {"p": past}))["data"]["assessmentRound"] is None


async def test_the_cli_enters_paper_sheets_from_a_csv(district, gql, tmp_path: Path):
    d = district
    past = await _past_quarter(d)
    party = sheet(d["rubric"], "party_org")
    lines = ["compound_id,body_code,item_code,points,note"]
    lines += [f"{d['ids']['K1']},party_org,{code},{points},纸质表" for code, points in party.items()]
    good = tmp_path / "sheets.csv"
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = run_cli("assessment", "enter-scores", str(good), "--tenant", "xiahuayuan", "--period", past,
                  "--reason", REASON)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 sheets entered late" in out.stdout
    subs = await gql(
        "query($p: String!, $c: ID!) { scoreSubmissions(period: $p, compoundId: $c) { bodyCode lateEntry reason } }",
        d["admin"],
        {"p": past, "c": str(d["ids"]["K1"])},
    )
    assert subs["data"]["scoreSubmissions"] == [{"bodyCode": "party_org", "lateEntry": True, "reason": REASON}]
    # The same file again: already entered, nothing written, the problem printed.
    twice = run_cli(
        "assessment", "enter-scores", str(good), "--tenant", "xiahuayuan", "--period", past, "--reason", REASON
    )
    assert twice.returncode == 1 and "already scored" in twice.stdout
    # A compound id beyond bigint is a compound without a contract, not a traceback.
    huge = tmp_path / "huge.csv"
    huge.write_text("\n".join([lines[0], *(line.replace(str(d["ids"]["K1"]), str(2**64), 1) for line in lines[1:])]))
    out = run_cli("assessment", "enter-scores", str(huge), "--tenant", "xiahuayuan", "--period", past,
                  "--reason", REASON)
    assert out.returncode == 1 and "Traceback" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert "no property contract" in out.stdout + out.stderr


async def test_hostile_late_entries_are_client_errors(district, gql):
    d = district
    past = await _past_quarter(d)
    party = sheet(d["rubric"], "party_org")
    item = next(iter(party))
    hostile = {**_sheet_in(d, "K1", "party_org", party), "notes": {item: "a\x00b"}}
    out = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": "x\x00", "sheets": [hostile]}})
    assert codes(out) == ["INVALID_INPUT"], out
    assert {(p["field"], p["reason"]) for p in out["errors"][0]["extensions"]["problems"]} == {
        ("reason", "nul"),  # refused at the edge (api/guard.py), before the domain sees it
        (f"sheets.0.notes.{item}", "nul"),
    }
    huge = await gql(ENTER, d["admin"], {"in": {"period": "99999Q1", "reason": REASON, "sheets": [hostile]}})
    assert codes(huge) == ["INVALID_INPUT"]
    many = await gql(ENTER, d["admin"], {"in": {"period": past, "reason": REASON, "sheets": []}})
    assert [p["reason"] for p in many["errors"][0]["extensions"]["problems"]] == ["count"]
