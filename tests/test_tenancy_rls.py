"""Tenant isolation: the scoped manager, row-level security underneath, and the role the app connects as."""

from __future__ import annotations

import pytest
from tortoise.exceptions import OperationalError

from tenants.db import check_app_role, connect, refuse_privileged_role
from tenants.errors import TenantScopeMissing
from tenants.jobruns.models import JobRun
from tenants.models import TenantManager
from tenants.scope import platform_transaction, scoped_transaction, tenant_context, tenant_transaction
from tenants.tenancy.models import Tenant
from tenants.tenancy.service import tenant_models
from tests.conftest import codes


async def _runs(tenant: Tenant, *kinds: str) -> None:
    async with tenant_transaction(tenant.id):
        for kind in kinds:
            await JobRun.create(kind=kind, period_key="2026-11")


async def test_raw_sql_in_a_scope_sees_only_that_tenants_rows(three_tenants):
    a, b, _ = three_tenants
    await _runs(a, "alpha", "beta")
    await _runs(b, "gamma")
    async with tenant_transaction(a.id) as conn:
        rows = await conn.execute_query_dict("SELECT tenant_id, kind FROM job_run ORDER BY kind")
        tenants = await conn.execute_query_dict("SELECT slug FROM tenant")
    assert [(r["tenant_id"], r["kind"]) for r in rows] == [(a.id, "alpha"), (a.id, "beta")]
    # Of the tenant rows: itself and its district (b sits under a); never the unrelated third tenant.
    assert sorted(t["slug"] for t in tenants) == sorted([a.slug, b.slug])


async def test_no_scope_fails_closed(three_tenants):
    a, _, _ = three_tenants
    await _runs(a, "alpha")
    with pytest.raises(TenantScopeMissing):
        await JobRun.all()
    with pytest.raises(TenantScopeMissing):
        await JobRun.create(kind="x", period_key="2026-11", tenant_id=a.id)
    # Underneath, the database itself returns nothing and refuses writes without the setting.
    from tortoise import Tortoise

    conn = Tortoise.get_connection("default")
    assert await conn.execute_query_dict("SELECT * FROM job_run") == []
    assert await conn.execute_query_dict("SELECT * FROM tenant") == []
    with pytest.raises(OperationalError, match="row-level security"):
        await conn.execute_query(
            "INSERT INTO job_run (tenant_id, kind, period_key, run_no, status, attempts, counts, created_at)"
            " VALUES ($1, 'x', 'p', 1, 'running', 0, '{}', now())",
            [a.id],
        )


async def test_a_scope_cannot_write_into_another_tenant(three_tenants):
    a, b, _ = three_tenants
    with pytest.raises(PermissionError):
        async with tenant_transaction(a.id):
            await JobRun.create(kind="x", period_key="p", tenant_id=b.id)
    with pytest.raises(OperationalError, match="row-level security"):
        async with tenant_transaction(a.id) as conn:
            await conn.execute_query(
                "INSERT INTO job_run (tenant_id, kind, period_key, run_no, status, attempts, counts, created_at)"
                " VALUES ($1, 'x', 'p', 1, 'running', 0, '{}', now())",
                [b.id],
            )
    async with tenant_transaction(b.id):
        assert await JobRun.all().count() == 0
    with tenant_context(a.id), pytest.raises(RuntimeError):
        with tenant_context(b.id):
            pass


async def test_scope_is_set_per_transaction(three_tenants):
    a, b, _ = three_tenants
    await _runs(a, "alpha")
    async with tenant_transaction(a.id) as conn:
        rows = await conn.execute_query_dict("SELECT current_setting('app.tenant_id', true) AS t")
        assert rows[0]["t"] == str(a.id)
    async with tenant_transaction(b.id) as conn:  # the next transaction carries its own scope, not a stale one
        assert (await conn.execute_query_dict("SELECT current_setting('app.tenant_id', true) AS t"))[0]["t"] == str(
            b.id
        )
        assert await conn.execute_query_dict("SELECT * FROM job_run") == []


async def test_tenant_and_platform_paths_do_not_mix(three_tenants):
    a, _, _ = three_tenants
    await _runs(a, "alpha")
    with tenant_context(a.id):
        async with platform_transaction() as conn:
            with pytest.raises(RuntimeError, match="platform transaction"):
                async with scoped_transaction():
                    pass
            # Even with a tenant id forced into the platform transaction, RLS shows no tenant data.
            await conn.execute_query("SELECT set_config('app.tenant_id', $1, true)", [str(a.id)])
            assert await conn.execute_query_dict("SELECT * FROM job_run") == []
            assert len(await conn.execute_query_dict("SELECT * FROM tenant")) == 3
    with pytest.raises(RuntimeError, match="tenant's transaction"):
        async with tenant_transaction(a.id):
            async with platform_transaction():
                pass


async def test_a_tenant_cannot_change_tenant_rows(three_tenants):
    a, _, _ = three_tenants
    async with tenant_transaction(a.id) as conn:
        await conn.execute_query("UPDATE tenant SET name = 'hijacked'")
        await conn.execute_query("DELETE FROM tenant WHERE id = $1", [a.id])
    async with platform_transaction():
        names = await Tenant.all().order_by("id").values_list("name", flat=True)
    assert names == ["张家口市", "下花园区", "临沭县"]


async def test_every_tenant_model_is_scoped_and_under_rls(services, app):
    models = tenant_models()
    assert JobRun in models
    conn = await connect(services.owner_url)
    try:
        for model in models:
            table = model._meta.db_table
            assert isinstance(model._meta.manager, TenantManager), f"{table} has no TenantManager"
            row = await conn.fetchrow(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname = $1", table
            )
            assert row["relrowsecurity"] and row["relforcerowsecurity"], f"{table} lacks ENABLE/FORCE RLS"
            policies = await conn.fetch(
                "SELECT policyname, cmd, qual, with_check FROM pg_policies WHERE tablename = $1", table
            )
            expected = [("tenant_isolation", "ALL")]
            if table == "config_version":  # inheritance: parent's and districts' readable; the platform seeds v1
                expected += [("parent_read", "SELECT"), ("child_read", "SELECT"), ("platform_seed", "INSERT")]
            if table == "audit_entry":  # the platform records the seeding of a new tenant's configuration
                expected += [("platform_seed", "INSERT")]
            assert sorted((p["policyname"], p["cmd"]) for p in policies) == sorted(expected), table
            isolation = next(p for p in policies if p["policyname"] == "tenant_isolation")
            for clause in (isolation["qual"], isolation["with_check"]):
                assert "app.tenant_id" in clause and "app.platform" in clause, (table, clause)
            # Indexes and unique constraints lead with tenant_id.
            indexes = await conn.fetch(
                "SELECT indexdef FROM pg_indexes WHERE tablename = $1 AND indexname NOT LIKE '%pkey'", table
            )
            for ix in indexes:
                assert "(tenant_id" in ix["indexdef"], ix["indexdef"]
        # Every table with a tenant_id column belongs to a scoped model.
        tables = {
            r["table_name"]
            for r in await conn.fetch(
                "SELECT table_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND column_name = 'tenant_id'"
            )
        }
        assert tables == {m._meta.db_table for m in models}
    finally:
        await conn.close()


async def test_the_app_role_cannot_bypass_rls(services):
    assert await check_app_role(services.app_url) == []
    assert "superuser" in " ".join(await check_app_role(services.owner_url))
    await refuse_privileged_role(services.app_url)
    with pytest.raises(RuntimeError, match="row-level security would not apply"):
        await refuse_privileged_role(services.owner_url)


async def test_second_tenant_reads_nothing_of_the_first_through_graphql(three_tenants, gql, token):
    a, b, _ = three_tenants
    await _runs(a, "alpha", "beta")
    query = "{ me { tenant { slug } } jobRuns { edges { node { kind } } } }"
    body_a = await gql(query, token(a.slug))
    body_b = await gql(query, token(b.slug))
    assert [e["node"]["kind"] for e in body_a["data"]["jobRuns"]["edges"]] == ["beta", "alpha"]
    assert body_b["data"] == {"me": {"tenant": {"slug": b.slug}}, "jobRuns": {"edges": []}}
    assert codes(body_b) == []
