from tortoise import migrations
from tortoise.migrations import operations as ops

# Every tenant-owned table: ENABLE + FORCE row-level security and one policy on app.tenant_id, which the
# application sets per transaction. An unset setting reads as '' after a transaction, hence NULLIF.
TENANT_POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
"""

TENANT_TABLE_POLICY = """
ALTER TABLE tenant ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenant FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_visibility ON tenant
    USING (current_setting('app.platform', true) = 'on'
           OR id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
    WITH CHECK (current_setting('app.platform', true) = 'on');
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0001_initial')]

    initial = False

    operations = [
        ops.RunSQL(TENANT_TABLE_POLICY, reverse_sql="DROP POLICY tenant_visibility ON tenant; ALTER TABLE tenant DISABLE ROW LEVEL SECURITY;"),
        ops.RunSQL(TENANT_POLICY.format(table="job_run"), reverse_sql="DROP POLICY tenant_isolation ON job_run; ALTER TABLE job_run DISABLE ROW LEVEL SECURITY;"),
    ]
