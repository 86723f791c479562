"""The backstop of one building head per building and kind: a head written without the building's lock (a bulk
load, a future code path) makes a concurrent claim fail on migration 0031's unique index, answered with the same
CONFLICT the lock path gives, never a 5xx."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from tortoise.exceptions import IntegrityError

from tenants.dual import posts, registrations
from tenants.dual.models import MemberPost, MemberPostKind
from tenants.errors import Conflict
from tenants.scope import tenant_transaction

pytestmark = pytest.mark.on_day(date(2026, 12, 1))


async def test_a_second_head_hits_the_index_and_reads_as_the_lock_paths_conflict(dual_world):
    w, ids = dual_world, dual_world.ids
    async with tenant_transaction(w.t.id):
        regs = {}
        for who in ("pm-1", "pm-3"):
            reg = await registrations.register_member(
                access=w.caller(who), actor=who, community_id=ids["C1"],
                details=registrations.Details(party_org="党支部", work_unit_id=ids["U1"]))
            regs[who] = await registrations.decide(access=w.caller("admin"), actor="admin",
                                                   registration_id=reg.id, action="approve")
    row = dict(person_id=ids["pm-3"], community_id=ids["C1"], street_id=regs["pm-3"].street_id,
               kind=MemberPostKind.ONLINE_BUILDING_HEAD, building_id=ids["B1"], role="", starts_on=date(2026, 12, 1),
               created_by="load", registration_id=regs["pm-3"].id)
    written, done = asyncio.Event(), asyncio.Event()

    async def unlocked_writer() -> None:  # holds its uncommitted head until the claim waits on the index
        async with tenant_transaction(w.t.id):
            await MemberPost.create(**row, created_at=regs["pm-3"].created_at)
            written.set()
            await asyncio.sleep(0.3)
        done.set()

    async def claim() -> str:
        await written.wait()
        try:
            async with tenant_transaction(w.t.id):
                await posts.claim(access=w.caller("pm-1"), actor="pm-1", kind="online_building_head",
                                  building_id=ids["B1"])
        except Conflict as e:
            return f"{e.code} {e.field} {e.message_en}"
        return "claimed"

    _, got = await asyncio.gather(unlocked_writer(), claim())
    assert done.is_set()
    assert got == "CONFLICT buildingId the building already has an online building head"
    async with tenant_transaction(w.t.id):  # the index itself
        with pytest.raises(IntegrityError):
            await MemberPost.create(**{**row, "person_id": ids["pm-1"], "registration_id": regs["pm-1"].id},
                                    created_at=regs["pm-1"].created_at)
