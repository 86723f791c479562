"""The rating job near its aggregate (issue 15): the inputs' one statement gives today's figures, the faster scorer
matches the reference byte for byte, COPY writes under row-level security, a failed run leaves nothing half done."""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenants import periods
from tenants.assessment import ratings
from tenants.assessment import rounds as assessment_rounds
from tenants.assessment.inputs import compound_inputs
from tenants.assessment.models import AssessmentRound, CompanyRating, CompoundRating, RatingSnapshot, ScoreSubmission
from tenants.assessment.scoring import CompoundInputs, Scorer, combine_company, score_compound
from tenants.config.assessment import Assessment
from tenants.config.merge import effective
from tenants.presets import preset_chain
from tenants.scope import current_tenant_id, tenant_context, tenant_transaction
from tenants.tenancy.roles import Role
from tenants.tenancy.service import current_zone
from tenants.territory.access import SYSTEM, resolve
from tenants.tickets import intake, workflow
from tenants.tickets.importer import import_tickets
from tenants.tickets.kpis import Dimension, ticket_kpis
from tests.fixtures import scoring_reference as reference
from tests.fixtures.assessment import RATING_PERIOD

D = Decimal


@contextmanager
def monkeypatched(owner, name, value):
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


XIAHUAYUAN = effective([(p.name, p.overrides) for p in preset_chain("xiahuayuan")])[0].assessment


# The scorer against the reference ----------------------------------------------------------------------------


def same(a, b) -> bool:
    """Equal values printed alike: Decimals with their exponent, breakdowns as the JSON the database stores."""
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def split(total: int, n: int) -> st.SearchStrategy[list[int]]:
    cuts = st.lists(st.integers(0, total), min_size=n - 1, max_size=n - 1).map(sorted)
    return cuts.map(lambda c: [b - a for a, b in zip([0, *c], [*c, total], strict=True)])


@st.composite
def assessments(draw: st.DrawFn) -> Assessment:
    n = draw(st.integers(1, 4))
    mode = draw(st.sampled_from(["weighted", "three_hundred_percent"]))
    weights = draw(split(100, n))
    codes = [f"body_{i}" for i in range(n)]
    rubric = []
    for i, code in enumerate(codes):
        for j in range(draw(st.integers(1, 4))):
            item = {"code": f"item_{i}_{j}", "title": "细则", "max_points": draw(st.integers(1, 97)), "body": code}
            # 三个百分百: a dimension may draw items from another body's sheet than its owner's
            dim = draw(st.integers(0, n - 1)) if draw(st.integers(0, 4)) == 0 else i
            rubric.append(item | ({"dimension": f"dim_{dim}"} if mode != "weighted" else {}))
    body_share = draw(st.integers(0, 100))
    full = draw(st.integers(0, 40))
    per_finding = draw(st.integers(1, 100))
    raw = XIAHUAYUAN.model_dump() | {
        "mode": mode,
        "bodies": {c: {"title": c, "roles": [], "weight": w} for c, w in zip(codes, weights, strict=True)},
        "dimensions": []
        if mode == "weighted"
        else [
            {"code": f"dim_{i}", "title": "维度", "owner": c, "weight": w}
            for i, (c, w) in enumerate(zip(codes, weights, strict=True))
        ],
        "rubric": rubric,
        "missing_body": draw(st.sampled_from(["redistribute", "zero"])),
        "final_score": {"body_share": body_share, "objective_share": 100 - body_share},
        "objective": {
            "weights": dict(
                zip(
                    ["closure_rate", "satisfaction_rate", "on_time_rate", "monthly_ticket_volume"],
                    draw(split(100, 4)),
                    strict=True,
                )
            ),
            "volume_full_marks_at": full,
            "volume_zero_marks_at": draw(st.integers(full + 1, full + 60)),
        },
        "supervisor_findings": {
            "enabled": draw(st.booleans()),
            "points_per_finding": per_finding,
            "max_points_per_period": draw(st.integers(0, 100)),
            "resolved_within_hours": 24,
            "resolved_points_per_finding": draw(st.integers(0, per_finding)),
        },
    }
    return Assessment.model_validate(raw)


@st.composite
def compound_inputs_of(draw: st.DrawFn, a: Assessment, key: int) -> CompoundInputs:
    subs: dict[str, dict[str, int]] = {}
    for code in a.bodies:
        if draw(st.integers(0, 3)):
            items = [i for i in a.rubric if i.body == code]
            sheet = {i.code: draw(st.integers(-5, i.max_points + 5)) for i in items if draw(st.integers(0, 9))}
            subs[code] = sheet | ({"not_on_the_rubric": 7} if draw(st.integers(0, 9)) == 0 else {})
    rate = st.none() | st.integers(-10, 10_010)
    # As the job makes it (tickets received / months: 1/3 is a Decimal of 28 digits), or any Decimal.
    volume = st.builds(lambda n, m: D(n) / m, st.integers(0, 300), st.sampled_from([1, 3])) | st.decimals(
        0, 120, places=3
    )
    return CompoundInputs(
        compound_id=key,
        submissions=subs,
        closure_rate_bp=draw(rate),
        satisfaction_rate_bp=draw(rate),
        on_time_rate_bp=draw(rate),
        tickets_per_month=draw(st.none() | volume),
        findings=draw(st.lists(st.booleans(), max_size=12)),
        late_bodies=frozenset(draw(st.lists(st.sampled_from(sorted(a.bodies)), max_size=2))),
    )


@settings(max_examples=600, deadline=None)
@given(st.data())
def test_the_scorer_gives_the_reference_scores_and_breakdowns_byte_for_byte(data):
    a = data.draw(assessments())
    scorer = Scorer(a)
    for key in range(1, 4):
        inputs = data.draw(compound_inputs_of(a, key))
        mine, ref = scorer(inputs), reference.score_compound(a, inputs)
        assert same(mine.breakdown, ref.breakdown)
        for f in ("compound_id", "score", "body_part", "objective_part", "deductions", "scored"):
            assert str(getattr(mine, f)) == str(getattr(ref, f)), f
        assert score_compound(a, inputs) == mine


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.integers(0, 10_000), min_size=1, max_size=8),
    fees=st.lists(st.integers(0, 10**9), min_size=8, max_size=8),
    mode=st.sampled_from(["fee_receivable", "equal"]),
)
def test_company_scores_give_the_reference_figures(scores, fees, mode):
    parts = [(ratings.CompoundScore(k, D(s).scaleb(-2), D(0), None, D(0), {}), fees[k]) for k, s in enumerate(scores)]
    mine, ref = combine_company(XIAHUAYUAN, parts, mode=mode), reference.combine_company(XIAHUAYUAN, parts, mode=mode)
    assert str(mine[0]) == str(ref[0]) and same(mine[1], ref[1])


# The inputs' one statement against today's path ----------------------------------------------------------------


async def todays_inputs(period_key: str) -> list[tuple]:
    """The inputs as the job gathered them before issue 15: the KPI query's compound dimension, the counting
    sheets, the findings and the contracts, each on its own."""
    from tortoise import connections

    from tenants.assessment.models import SupervisorFinding

    start, end = periods.bounds(period_key)
    zone = await current_zone()
    contracts = await connections.get("default").execute_query_dict(
        "SELECT DISTINCT ON (compound_id) compound_id, company_id, annual_fee_fen FROM property_contract"
        " WHERE tenant_id = $1 AND starts_on <= $3 AND ends_on >= $2"
        " ORDER BY compound_id, (ends_on >= $3) DESC, starts_on DESC",
        [current_tenant_id(), start, end],
    )
    rnd = await AssessmentRound.get_or_none(period_key=period_key)
    sheets: dict[int, dict] = defaultdict(dict)
    late: dict[int, set] = defaultdict(set)
    if rnd is not None:
        for sub in await assessment_rounds.latest_submissions(rnd.id):
            sheets[sub.compound_id][sub.body_code] = {k: int(v) for k, v in sub.scores.items()}
            if sub.late_entry:
                late[sub.compound_id].add(sub.body_code)
    kpis = {
        k.id: k
        for k in await ticket_kpis(
            access=SYSTEM, start=start, end=end + timedelta(days=1), dimension=Dimension.COMPOUND
        )
    }
    found: dict[int, list[bool]] = defaultdict(list)
    for f in await SupervisorFinding.filter(
        found_at__gte=periods.local_midnight(start, zone),
        found_at__lt=periods.local_midnight(end + timedelta(days=1), zone),
    ):
        found[f.compound_id].append(f.resolved_at is not None and f.resolved_at <= f.resolve_by)
    out = []
    for c in sorted(contracts, key=lambda c: c["compound_id"]):
        k = kpis.get(c["compound_id"])
        inputs = CompoundInputs(
            compound_id=c["compound_id"],
            submissions=sheets.get(c["compound_id"], {}),
            closure_rate_bp=k.closure_rate_bp if k else None,
            satisfaction_rate_bp=k.satisfaction_rate_bp if k else None,
            on_time_rate_bp=k.on_time_rate_bp if k else None,
            tickets_per_month=D(k.received if k else 0) / periods.months(period_key),
            findings=sorted(found.get(c["compound_id"], [])),
            late_bodies=frozenset(late.get(c["compound_id"], ())),
        )
        out.append((inputs, c["company_id"], c["annual_fee_fen"]))
    return out


Q4 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 on 2 November in Beijing
HISTORY = (
    "external_ref,item_code,street_code,community_code,grid_code,compound_code,opened_at,dispatched_at,"
    "resolved_at,rated_at,rating,escalations\n"
    "HQ-1,corridor_clutter,S1,C1,G1,K1,2026-10-01 00:00,2026-10-01 01:00,2026-10-01 05:00,2026-10-01 06:00,5,\n"
    "HQ-2,corridor_clutter,S1,C1,G1,K1,2026-10-05 08:00,2026-10-05 09:00,2026-10-07 09:00,,2,1\n"
    "HQ-3,corridor_clutter,S1,C1,G1,K1,2026-10-10 08:00,2026-10-10 08:30,2026-10-10 12:00,,,\n"
    "HQ-4,corridor_clutter,S1,C1,G1,K1,2026-09-30 23:59,2026-10-01 09:00,,,,2\n"
    "HQ-5,corridor_clutter,S2,C3,G3,K3,2026-10-25 08:00,,,,,\n"
)


async def edge_world(d: dict) -> None:
    """K1: imported history (one at the quarter's first local minute, one a minute before it), a ticket closed
    satisfied, one rejected, one reopened by a low rating then resolved and rated again, one still open, a
    corrected sheet, findings in time, late and unresolved. K2: no contract. K3: one never-dispatched ticket and
    a late paper sheet. Tenant ``other`` gets tickets and findings of its own that must not count."""
    ids = d["ids"]
    with tenant_context(d["t"].id):
        await import_tickets(access=SYSTEM, data=HISTORY.encode(), fmt="csv", actor="admin", now=Q4)
    async with tenant_transaction(d["t"].id):
        from tenants.territory.people import Person

        await Person.create(user_id="res-1", name="居民", household_id=ids["H1"])
        resident = await resolve(frozenset({Role.RESIDENT}), [f"household:{ids['H1']}"], "res-1")
        admin = await resolve(frozenset({Role.TENANT_ADMIN}), [], "admin")

        async def report(at: datetime) -> int:
            t = await intake.report(
                access=resident, actor="res-1", item_code="corridor_clutter", description="堆物",
                compound_id=ids["K1"], now=at,
            )  # fmt: skip
            return t.id

        closed, rejected, reopened, _open = [await report(Q4 + timedelta(minutes=i)) for i in range(4)]
        await workflow.reject(access=admin, actor="admin", ticket_id=rejected, reason="重复", now=Q4)
        for t in (closed, reopened, _open):
            await workflow.dispatch(access=admin, actor="admin", ticket_id=t, now=Q4)
            await workflow.accept(access=admin, actor="admin", ticket_id=t, now=Q4)
        for t, late in ((closed, 2), (reopened, 30)):
            at = Q4 + timedelta(hours=late)
            await workflow.resolve(access=admin, actor="admin", ticket_id=t, note="已办", now=at)
        await workflow.rate(access=resident, actor="res-1", ticket_id=closed, rating=5, now=Q4 + timedelta(hours=40))
        await workflow.rate(access=resident, actor="res-1", ticket_id=reopened, rating=2, now=Q4 + timedelta(hours=40))
        await workflow.resolve(
            access=admin, actor="admin", ticket_id=reopened, note="再办", now=Q4 + timedelta(hours=41)
        )
        await workflow.rate(access=resident, actor="res-1", ticket_id=reopened, rating=4, now=Q4 + timedelta(hours=42))
        supervisor = await resolve(frozenset({Role.SUPERVISOR}), [f"compound:{ids['K1']}/supervisor"], "sup-1")
        for _ in range(3):
            await assessment_rounds.record_finding(
                access=supervisor, actor="sup-1", compound_id=ids["K1"], description="消防通道堵塞", now=Q4
            )
        await assessment_rounds.open_round(access=SYSTEM, actor="admin", period_key=RATING_PERIOD, now=Q4)
        rnd = await AssessmentRound.get(period_key=RATING_PERIOD)
        rubric = d["rubric"]

        async def sheet(compound: str, body: str, revision: int, points: int, late: bool = False) -> None:
            scores = {i.code: min(points, i.max_points) for i in rubric if i.body == body}
            await ScoreSubmission.create(
                round_id=rnd.id, compound_id=ids[compound], body_code=body, revision=revision, scores=scores,
                submitted_by="admin", submitted_at=Q4, late_entry=late,
            )  # fmt: skip

        await sheet("K1", "party_org", 1, 10)
        await sheet("K1", "party_org", 2, 20)
        await sheet("K1", "owners_committee", 1, 99)
        await sheet("K3", "housing_dept", 1, 7, late=True)
    from tenants.assessment.models import SupervisorFinding

    async with tenant_transaction(d["t"].id):
        found = await SupervisorFinding.filter(compound_id=ids["K1"]).order_by("id")
        await SupervisorFinding.filter(id=found[0].id).update(resolved_at=found[0].found_at + timedelta(hours=1))
        await SupervisorFinding.filter(id=found[1].id).update(resolved_at=found[1].resolve_by + timedelta(hours=1))
    with tenant_context(d["other"].id):
        from tests.fixtures.territory import build

        await build(d["other"].id)
        await import_tickets(access=SYSTEM, data=HISTORY.encode(), fmt="csv", actor="admin", now=Q4)


async def test_the_one_statement_gives_the_figures_of_todays_path(district):
    d = district
    await edge_world(d)
    async with tenant_transaction(d["t"].id):
        mine = [(c.inputs, c.company_id, c.fee_fen) for c in await compound_inputs(RATING_PERIOD)]
        today = await todays_inputs(RATING_PERIOD)
    assert [(i.compound_id, i.tickets_per_month) for i, _, _ in mine] == [
        (d["ids"]["K1"], D(7) / 3),  # 3 imported in the quarter (HQ-4 is a minute early) + 4 reported
        (d["ids"]["K3"], D(1) / 3),
    ]
    assert mine == today
    k1 = mine[0][0]
    # Closed: HQ-1, HQ-2, the satisfied one and the re-rated one, of 7 - 1 rejected = 4/6. Rated (latest rating)
    # HQ-1, HQ-2, those two: 4, satisfied all but HQ-2 = 3/4. Resolved now: HQ-1, HQ-2, HQ-3, the closed one and
    # the re-resolved one (its latest resolution in time; the late first one no longer counts) = 5, on time all
    # but HQ-2 (48 h of 24) = 4/5.
    assert (k1.closure_rate_bp, k1.satisfaction_rate_bp, k1.on_time_rate_bp) == (6667, 7500, 8000)
    assert k1.submissions["party_org"] == {i.code: min(20, i.max_points) for i in d["rubric"] if i.body == "party_org"}
    assert sorted(k1.findings) == [False, False, True] and mine[1][0].late_bodies == {"housing_dept"}
    async with tenant_transaction(d["other"].id):  # the other tenant: its own compounds, none of these figures
        theirs = [(c.inputs, c.company_id, c.fee_fen) for c in await compound_inputs(RATING_PERIOD)]
        assert theirs == await todays_inputs(RATING_PERIOD)
    assert {i.compound_id for i, _, _ in theirs}.isdisjoint(d["ids"][k] for k in ("K1", "K2", "K3"))
    assert all(not i.submissions and not i.findings for i, _, _ in theirs)


async def test_stored_ratings_are_the_reference_scores_byte_for_byte(district):
    d = district
    await edge_world(d)
    async with tenant_transaction(d["t"].id) as conn:
        snap = await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD, now=Q4)
        doc, _ = await assessment_rounds.period_config(RATING_PERIOD)
        versions = await assessment_rounds.period_versions(RATING_PERIOD)
        expected = {}
        for inputs, _, _ in await todays_inputs(RATING_PERIOD):
            ref = reference.score_compound(doc.assessment, inputs)
            text = json.dumps({**ref.breakdown, "config_versions": versions})
            stored = await conn.execute_query_dict("SELECT $1::jsonb::text AS b", [text])
            parts = (ref.score, ref.body_part, ref.objective_part, ref.deductions)
            expected[inputs.compound_id] = (*parts, stored[0]["b"])
        rows = await conn.execute_query_dict(
            "SELECT compound_id, score, body_part, objective_part, deductions, breakdown::text AS b"
            " FROM compound_rating WHERE snapshot_id = $1",
            [snap.id],
        )
        assert {r["compound_id"]: (r["score"], r["body_part"], r["objective_part"], r["deductions"], r["b"])
                for r in rows} == expected  # fmt: skip
        companies = await CompanyRating.filter(snapshot_id=snap.id).order_by("rank")
        assert [c.company_id for c in companies] and all(c.breakdown["config_versions"] == versions for c in companies)
    async with tenant_transaction(d["other"].id):
        assert await CompoundRating.all().count() == 0 and await RatingSnapshot.all().count() == 0


# COPY under row-level security, and a run that fails half way ----------------------------------------------------


async def test_copy_from_is_refused_on_a_tenant_table_so_rows_go_through_a_staging_table(district, settings):
    from tenants.db import connect

    d = district
    conn = await connect(settings.database_url)
    try:
        async with conn.transaction():
            await conn.execute("SELECT civicgrid_enter_tenant($1)", d["t"].id)
            with pytest.raises(asyncpg.FeatureNotSupportedError, match="row-level security"):
                await conn.copy_records_to_table("interview", records=[], columns=["tenant_id"])
    finally:
        await conn.close()
    # Through the staging table the tenant policy still checks every row: rows stamped for another tenant are
    # refused by the INSERT that moves them.
    async with tenant_transaction(d["t"].id):
        await assessment_rounds.open_round(access=SYSTEM, actor="admin", period_key=RATING_PERIOD, now=Q4)
        snap = await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD, now=Q4)
        doc, _ = await assessment_rounds.period_config(RATING_PERIOD)
        rows = await compound_inputs(RATING_PERIOD)
    with pytest.raises(Exception, match="row-level security"):
        async with tenant_transaction(d["t"].id) as conn2:
            await CompoundRating.filter(snapshot_id=snap.id).delete()
            with monkeypatched(ratings, "current_tenant_id", lambda: d["other"].id):
                await ratings.write_ratings(conn2, snap.id, doc.assessment, rows, {}, RATING_PERIOD)


async def test_a_run_that_fails_half_way_leaves_the_last_snapshot_whole(district, monkeypatch):
    d = district
    await edge_world(d)
    real = ratings.company_rows

    def fail_on_companies(*args, **kwargs):  # after the compound rows are in
        raise RuntimeError("the worker died")

    monkeypatch.setattr(ratings, "company_rows", fail_on_companies)
    with pytest.raises(RuntimeError):
        async with tenant_transaction(d["t"].id):
            await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD, now=Q4)
    async with tenant_transaction(d["t"].id):
        assert await RatingSnapshot.all().count() == 0 and await CompoundRating.all().count() == 0
    monkeypatch.setattr(ratings, "company_rows", real)
    async with tenant_transaction(d["t"].id):
        first = await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD, now=Q4)
        before = [(r.compound_id, r.score, r.breakdown) for r in await CompoundRating.all().order_by("compound_id")]
    monkeypatch.setattr(ratings, "company_rows", fail_on_companies)
    with pytest.raises(RuntimeError):
        async with tenant_transaction(d["t"].id):
            await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD, now=Q4 + timedelta(days=1))
    monkeypatch.setattr(ratings, "company_rows", real)
    async with tenant_transaction(d["t"].id):
        assert [(r.compound_id, r.score, r.breakdown) for r in await CompoundRating.all().order_by("compound_id")] == (
            before
        )
        assert await CompanyRating.filter(snapshot_id=first.id).count() == 2
        again = await ratings.compute(access=SYSTEM, period_key=RATING_PERIOD, now=Q4 + timedelta(days=1))
        assert again.id == first.id and await RatingSnapshot.all().count() == 1
        assert await CompoundRating.filter(snapshot_id=first.id).count() == len(before) == 2
