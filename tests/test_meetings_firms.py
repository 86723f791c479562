"""Which joint meetings and decisions a property company reads: at compound level (XX市) only its compounds'
meetings, at community level (临沭) the meetings of the communities where it serves a compound; of the decisions
only those it owns, never another firm's or a unit's of a meeting it attended. Another tenant reads none."""

from __future__ import annotations

from datetime import date

import pytest

from tenants.errors import DomainError
from tenants.meetings import decisions, meetings
from tenants.meetings.models import Decision, Meeting
from tenants.paging import Window
from tenants.scope import tenant_transaction

pytestmark = pytest.mark.on_day(date(2026, 12, 1))


async def _seen(w, slug: str, firm: str) -> tuple[set[int], set[int]]:
    """(meetings, decisions) firm ``firm`` of tenant ``slug`` lists."""
    async with tenant_transaction(w.tenants[slug].id):
        caller = await w.firm(slug, firm)
        ms = await meetings.list_meetings(access=caller, window=Window(50))
        ds = await decisions.list_decisions(access=caller, window=Window(50))
    return {m.id for m in ms.rows}, {d.row.id for d in ds.rows}


async def test_at_compound_level_a_firm_reads_only_its_compounds_meetings_and_its_decisions(meeting_firms_world):
    w = meeting_firms_world
    ids = w.ids["sanbai"]
    # P1 serves K1; P2 serves K4 (K1's community C1) and K3. K1's meeting decided for P1, P2 and U1.
    assert await _seen(w, "sanbai", "P1") == ({ids["m_K1"]}, {ids["d_P1"]})
    assert await _seen(w, "sanbai", "P2") == ({ids["m_K4"], ids["m_K3"]}, {ids["d_P2"]})
    async with tenant_transaction(w.tenants["sanbai"].id):
        p1 = await w.firm("sanbai", "P1")
        # Nor by id: a neighbour's meeting (same community) is not its attendance or agenda to read.
        assert await meetings.attendance_of(access=p1, meeting_ids=[ids["m_K4"]]) == {}
        assert await decisions.decisions_by_id(access=p1, ids=[ids["d_P2"], ids["d_U1"]]) == {}
        with pytest.raises(DomainError) as got:
            await decisions.timeline(access=p1, decision_id=ids["d_U1"])
    assert got.value.code == "NOT_FOUND"


async def test_at_community_level_a_firm_reads_its_communities_meetings_but_only_its_own_decisions(
    meeting_firms_world,
):
    w = meeting_firms_world
    ids = w.ids["linshu"]
    # P8 and P9 serve K8 and K9 in C1: both are parties to C1's meeting, which decided for P8, P9 and U1.
    assert await _seen(w, "linshu", "P9") == ({ids["m_C1"]}, {ids["d_P9"]})
    assert await _seen(w, "linshu", "P8") == ({ids["m_C1"]}, {ids["d_P8"]})
    assert await _seen(w, "linshu", "P2") == ({ids["m_C3"]}, set())  # C3's meeting, no decision of its own
    async with tenant_transaction(w.tenants["linshu"].id):
        p9 = await w.firm("linshu", "P9")
        assert set(await decisions.decisions_by_id(access=p9, ids=[ids["d_P8"], ids["d_U1"], ids["d_P9"]])) == {
            ids["d_P9"]}
        with pytest.raises(DomainError) as got:  # completing another firm's decision: it is not there to read
            await decisions.complete(access=p9, actor="P9", decision_id=ids["d_P8"], evidence="已整改")
        assert got.value.code == "NOT_FOUND"
        assert (await Decision.get(id=ids["d_P8"])).status == "open"
    # Another tenant's rows are not there: 临沭's P1 (C1) reads none of XX市's.
    assert await _seen(w, "linshu", "P1") == ({ids["m_C1"]}, set())
    theirs = w.ids["sanbai"]
    async with tenant_transaction(w.tenants["linshu"].id):
        assert await Meeting.filter(id__in=[theirs["m_K1"], theirs["m_K4"], theirs["m_K3"]]).count() == 0
        assert await Decision.filter(id__in=[theirs["d_P1"], theirs["d_P2"], theirs["d_U1"]]).count() == 0
