"""Set-based seeding shared by the benchmarks: a tenant's territory and property companies in five statements."""

from __future__ import annotations


def territory(compounds: int, companies: int) -> list[str]:
    """10 streets, 100 communities, 600 grids, ``compounds`` compounds and ``companies`` companies ($1: tenant)."""
    return [
        "INSERT INTO street (tenant_id, code, name, is_active, created_at, updated_at)"
        " SELECT $1, 'S' || g, '街道' || g, true, now(), now() FROM generate_series(1, 10) g",
        "INSERT INTO community (tenant_id, street_id, code, name, is_active, created_at, updated_at)"
        " SELECT $1, s.id, 'C' || g, '社区' || g, true, now(), now() FROM generate_series(0, 99) g"
        " JOIN street s ON s.tenant_id = $1 AND s.code = 'S' || (g % 10 + 1)",
        "INSERT INTO grid (tenant_id, street_id, community_id, code, name, is_active, created_at, updated_at)"
        " SELECT $1, c.street_id, c.id, 'G' || g, '网格' || g, true, now(), now() FROM generate_series(0, 599) g"
        " JOIN community c ON c.tenant_id = $1 AND c.code = 'C' || (g % 100)",
        "INSERT INTO compound (tenant_id, street_id, community_id, grid_id, code, name, address, is_active,"
        " created_at, updated_at) SELECT $1, r.street_id, r.community_id, r.id, 'K' || g, '小区' || g, '', true,"
        f" now(), now() FROM generate_series(0, {compounds - 1}) g"
        " JOIN grid r ON r.tenant_id = $1 AND r.code = 'G' || (g % 600)",
        "INSERT INTO property_company (tenant_id, credit_code, name, contact_name, contact_phone, is_active,"
        " created_at, updated_at) SELECT $1, '9113' || lpad(g::text, 6, '0'), '物业' || g, '', '', true, now(),"
        f" now() FROM generate_series(0, {companies - 1}) g",
    ]
