"""Benchmark: import 10,000 households (plus streets, compounds, companies, contracts) into a fresh tenant.

Run: .venv/bin/python bench/import_territory.py [households]
Uses the embedded PostgreSQL under .civicgrid/bench (or DATABASE_URL/DATABASE_OWNER_URL if set) and prints
the wall time of a dry run, the real import, and a re-import of the same file (which must change nothing).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._runner import run  # noqa: E402


def make_csv(households: int) -> bytes:
    lines = ["street_code,street_name,community_code,community_name,grid_code,compound_code,compound_name,"
             "building_code,household_code,company_credit_code,company_name,contract_starts_on,contract_ends_on,"
             "annual_fee_yuan"]
    per_building, per_compound = 20, 10  # 200 households per compound
    for h in range(households):
        b = h // per_building
        k = b // per_compound
        g, c, s = k // 5, k // 20, k // 60
        company = k % 40
        lines.append(
            f"S{s},街道{s},C{c},社区{c},G{g},K{k},小区{k},B{b},{h % per_building + 101},"
            f"9113{company:04d},物业{company},2026-01-01,2026-12-31,{100000 + k}.00"
        )
    return ("\n".join(lines) + "\n").encode()


async def main(households: int) -> None:
    from tortoise import Tortoise

    from tenants.db import tortoise_config
    from tenants.scope import tenant_context
    from tenants.tenancy.service import create_tenant, get_tenant_by_slug
    from tenants.territory.access import SYSTEM
    from tenants.territory.importer import import_territory

    await Tortoise.init(config=tortoise_config(os.environ["DATABASE_URL"], pool_size=4))
    slug = f"bench-{int(time.time())}"
    await create_tenant(slug=slug, name="基准测试")
    tenant = await get_tenant_by_slug(slug)
    data = make_csv(households)
    print(f"file: {households} households, {len(data) / 1e6:.1f} MB CSV")
    with tenant_context(tenant.id):
        for label, dry in (("dry run", True), ("import", False), ("re-import", False)):
            t = time.perf_counter()
            report = await import_territory(access=SYSTEM, data=data, fmt="csv", actor="bench", dry_run=dry)
            took = time.perf_counter() - t
            assert not report.errors, report.errors[:3]
            print(f"{label:10s} {took:6.2f} s  created={report.created} updated={report.updated}")
    await Tortoise.close_connections()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    run(main(n), home_name="bench")
