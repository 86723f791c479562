"""The tenancy's scheduled work: the daily data-volume record (job kind ``data_volume``)."""

from __future__ import annotations

from tenants.scope import scoped_transaction
from tenants.tenancy.service import tenant_models


async def data_volume() -> dict[str, int]:
    """Rows the tenant in scope owns, per table, in one set-based query."""
    tables = sorted(m._meta.db_table for m in tenant_models())
    sql = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM {t}" for t in tables)
    async with scoped_transaction() as conn:
        rows = await conn.execute_query_dict(sql)
    return {r["t"]: r["n"] for r in rows}
