from tortoise import migrations
from tortoise.migrations import operations as ops

# Shipped migrations 0004, 0005, 0011 and 0012 were edited after they first landed, so a database upgraded from
# those commits kept their first versions. This brings any such database to exactly the fresh schema (checked by
# tests/faults/test_upgraded_schema.py) and changes nothing on a fresh one: every statement is idempotent and
# restates today's definitions (the function body byte for byte, as pg_dump prints it).

# 0011: the frozen-ratings trigger also refuses inserts into a published snapshot.
FROZEN = """
CREATE OR REPLACE FUNCTION civicgrid_refuse_published() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'rating_snapshot' THEN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION 'rating snapshot % is published and cannot change', OLD.id;
        END IF;
    ELSIF EXISTS (SELECT 1 FROM rating_snapshot s
                  WHERE s.id = (CASE WHEN TG_OP = 'INSERT' THEN NEW.snapshot_id ELSE OLD.snapshot_id END)
                    AND s.status = 'published') THEN
        RAISE EXCEPTION 'ratings of a published snapshot cannot change';
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE OR REPLACE TRIGGER compound_rating_frozen BEFORE INSERT OR UPDATE OR DELETE ON compound_rating
    FOR EACH ROW EXECUTE FUNCTION civicgrid_refuse_published();
CREATE OR REPLACE TRIGGER company_rating_frozen BEFORE INSERT OR UPDATE OR DELETE ON company_rating
    FOR EACH ROW EXECUTE FUNCTION civicgrid_refuse_published();
"""

# 0012: an account's postings by id, a contract's bond history by (at, id) (index names as Tortoise derives them).
INDEXES = """
DROP INDEX IF EXISTS idx_ledger_post_tenant__1f0ebc;
CREATE INDEX IF NOT EXISTS idx_ledger_post_tenant__3a7fd5 ON ledger_posting (tenant_id, account, id);
DROP INDEX IF EXISTS idx_bond_transa_tenant__d848fe;
CREATE INDEX IF NOT EXISTS idx_bond_transa_tenant__85452f ON bond_transaction (tenant_id, contract_id, at, id);
"""

# 0004: a city reads its districts' tenant rows and configuration versions.
TERRITORY = """
DROP POLICY IF EXISTS tenant_read ON tenant;
CREATE POLICY tenant_read ON tenant FOR SELECT
    USING (current_setting('app.platform', true) = 'on'
           OR id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           OR id = NULLIF(current_setting('app.tenant_parent_id', true), '')::bigint
           OR parent_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
DROP POLICY IF EXISTS child_read ON config_version;
CREATE POLICY child_read ON config_version FOR SELECT
    USING (tenant_id IN (SELECT id FROM tenant
                         WHERE parent_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# 0005: the platform seeds only the first version of a tenant created in the same transaction, and its audit entry.
CREATED_HERE = "EXISTS (SELECT 1 FROM tenant t WHERE t.id = tenant_id AND t.xmin = pg_current_xact_id()::xid)"
PLATFORM_SEED = f"""
DROP POLICY IF EXISTS platform_seed ON config_version;
CREATE POLICY platform_seed ON config_version FOR INSERT
    WITH CHECK (current_setting('app.platform', true) = 'on' AND version_no = 1
                AND effective_from = DATE '2000-01-01' AND {CREATED_HERE});
DROP POLICY IF EXISTS platform_seed ON audit_entry;
CREATE POLICY platform_seed ON audit_entry FOR INSERT
    WITH CHECK (current_setting('app.platform', true) = 'on' AND action = 'config.seed' AND {CREATED_HERE});
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0020_idempotency_keys')]

    initial = False

    # Reversing leaves today's schema in place: it is what 0018 expects too.
    operations = [
        ops.RunSQL(FROZEN, reverse_sql=ops.RunSQL.noop),
        ops.RunSQL(INDEXES, reverse_sql=ops.RunSQL.noop),
        ops.RunSQL(TERRITORY, reverse_sql=ops.RunSQL.noop),
        ops.RunSQL(PLATFORM_SEED, reverse_sql=ops.RunSQL.noop),
    ]
