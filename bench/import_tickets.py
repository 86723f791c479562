"""Benchmark: import 10,000 historical tickets (a county's months of 12345-hotline records) into a fresh tenant.

Run: .venv/bin/python bench/import_tickets.py [tickets]
Uses the embedded PostgreSQL under .civicgrid/bench (or DATABASE_URL/DATABASE_OWNER_URL if set). The tenant gets
the 张家口 preset and a territory of 50 compounds (via the territory import) served by 10 companies; the tickets
spread over January to October 2026 across five items, a third still open, a tenth escalated. Prints the wall time
of a dry run, the import, and a re-import of the same file (which must change nothing).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402

COMPOUNDS = 50
ITEMS = ("corridor_clutter", "elevator_fault", "garbage_removal", "parking_disorder", "street_light")


def territory_csv() -> bytes:
    lines = ["street_code,community_code,grid_code,compound_code,company_credit_code,company_name,"
             "contract_starts_on,contract_ends_on,annual_fee_yuan"]
    for k in range(COMPOUNDS):
        lines.append(f"S{k // 25},C{k // 5},G{k},K{k},9113{k % 10:04d},物业{k % 10},2026-01-01,2026-12-31,100000")
    return ("\n".join(lines) + "\n").encode()


def tickets_csv(n: int) -> bytes:
    lines = ["external_ref,item_code,street_code,community_code,grid_code,compound_code,opened_at,dispatched_at,"
             "resolved_at,rated_at,rating,escalations"]
    for i in range(n):
        k = i % COMPOUNDS
        month, day, hour = 1 + i % 10, 1 + i % 28, 8 + i % 10
        opened = f"2026-{month:02d}-{day:02d} {hour:02d}:00"
        dispatched = f"2026-{month:02d}-{day:02d} {hour:02d}:40"
        resolved = f"2026-{month:02d}-{day:02d} {hour + 5:02d}:00" if i % 3 else ""
        rating = str(1 + i % 5) if resolved and i % 2 else ""
        lines.append(f"HL-{i:06d},{ITEMS[i % len(ITEMS)]},S{k // 25},C{k // 5},G{k},K{k},{opened},{dispatched},"
                     f"{resolved},,{rating},{1 if i % 10 == 0 else ''}")
    return ("\n".join(lines) + "\n").encode()


async def main(n: int) -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config
    from tenants.scope import tenant_context
    from tenants.tenancy.service import create_tenant, get_tenant_by_slug
    from tenants.territory.access import SYSTEM
    from tenants.territory.importer import import_territory
    from tenants.tickets.importer import import_tickets

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    slug = f"bench-{int(time.time())}"
    await create_tenant(slug=slug, name="基准测试", preset="zhangjiakou")
    tenant = await get_tenant_by_slug(slug)
    data = tickets_csv(n)
    print(f"file: {n} tickets, {len(data) / 1e6:.1f} MB CSV")
    with tenant_context(tenant.id):
        await import_territory(access=SYSTEM, data=territory_csv(), fmt="csv", actor="bench")
        for label, dry in (("dry run", True), ("import", False), ("re-import", False)):
            t = time.perf_counter()
            phases: list[str] = []

            def phase(name: str, _done: int, _total: int, t: float = t, phases: list[str] = phases) -> None:
                phases.append(f"{name} {time.perf_counter() - t:.2f}")

            report = await import_tickets(
                access=SYSTEM, data=data, fmt="csv", actor="bench", dry_run=dry, progress=phase
            )
            took = time.perf_counter() - t
            assert not report.errors, report.errors[:3]
            print(f"{label:10s} {took:6.2f} s  created={report.created} unchanged={report.unchanged}")
            print(f"           (cumulative: {'; '.join(phases)})")
    await Tortoise.close_connections()


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    run(main(count), home_name="bench")
