from tortoise import migrations
from tortoise.migrations import operations as ops

# Every tenant-owned table: ENABLE + FORCE row-level security and one policy on app.tenant_id, which the
# application sets per transaction. An unset setting reads as '' after a transaction, hence NULLIF. The platform
# path (app.platform = 'on') sees no tenant data at all, even if a tenant id were also set.
TENANT_POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# The tenant table: a tenant's scope may read its own row; only the platform path reads all rows and writes.
TENANT_TABLE_POLICY = """
ALTER TABLE tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_read ON tenant FOR SELECT
    USING (current_setting('app.platform', true) = 'on'
           OR id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
CREATE POLICY tenant_insert ON tenant FOR INSERT
    WITH CHECK (current_setting('app.platform', true) = 'on');
CREATE POLICY tenant_update ON tenant FOR UPDATE
    USING (current_setting('app.platform', true) = 'on')
    WITH CHECK (current_setting('app.platform', true) = 'on');
CREATE POLICY tenant_delete ON tenant FOR DELETE
    USING (current_setting('app.platform', true) = 'on');
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0001_initial')]

    initial = False

    operations = [
        ops.RunSQL(
            TENANT_TABLE_POLICY,
            reverse_sql="DROP POLICY tenant_read ON tenant; DROP POLICY tenant_insert ON tenant;"
            " DROP POLICY tenant_update ON tenant; DROP POLICY tenant_delete ON tenant;"
            " ALTER TABLE tenant DISABLE ROW LEVEL SECURITY;",
        ),
        ops.RunSQL(
            TENANT_POLICY.format(table="job_run"),
            reverse_sql="DROP POLICY tenant_isolation ON job_run; ALTER TABLE job_run DISABLE ROW LEVEL SECURITY;",
        ),
    ]
