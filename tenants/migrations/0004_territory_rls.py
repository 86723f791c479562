from tortoise import migrations
from tortoise.migrations import operations as ops


TABLES = (
    "audit_entry", "street", "community", "grid", "compound", "building", "household",
    "property_company", "property_contract", "owners_committee", "unit", "person", "post",
)

POLICY = """
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table}
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""

# Entering a tenant sets its id and its parent's id (a district may read its city's row and configuration).
# The function runs as the caller, so row-level security applies to its own lookup of the tenant row.
ENTER_TENANT = """
CREATE FUNCTION civicgrid_enter_tenant(t bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('app.tenant_id', t::text, true);
    PERFORM set_config('app.tenant_parent_id',
                       COALESCE((SELECT parent_id::text FROM tenant WHERE id = t), ''), true);
END $$;
DROP POLICY tenant_read ON tenant;
CREATE POLICY tenant_read ON tenant FOR SELECT
    USING (current_setting('app.platform', true) = 'on'
           OR id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           OR id = NULLIF(current_setting('app.tenant_parent_id', true), '')::bigint
           OR parent_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint);
"""

# Configuration versions: a tenant writes its own; it reads its own, its parent's (inheritance) and its
# districts' (a city's change is checked against the districts that inherit it).
CONFIG_POLICY = """
ALTER TABLE config_version ENABLE ROW LEVEL SECURITY;
ALTER TABLE config_version FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON config_version
    USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on')
    WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint
                AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
CREATE POLICY parent_read ON config_version FOR SELECT
    USING (tenant_id = NULLIF(current_setting('app.tenant_parent_id', true), '')::bigint
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
CREATE POLICY child_read ON config_version FOR SELECT
    USING (tenant_id IN (SELECT id FROM tenant
                         WHERE parent_id = NULLIF(current_setting('app.tenant_id', true), '')::bigint)
           AND current_setting('app.platform', true) IS DISTINCT FROM 'on');
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0003_territory_config_audit')]

    initial = False

    operations = [
        ops.RunSQL(ENTER_TENANT, reverse_sql="DROP FUNCTION civicgrid_enter_tenant(bigint);"),
        ops.RunSQL(CONFIG_POLICY, reverse_sql="DROP POLICY child_read ON config_version; DROP POLICY parent_read ON config_version;"
                   " DROP POLICY tenant_isolation ON config_version;"
                   " ALTER TABLE config_version DISABLE ROW LEVEL SECURITY;"),
        *(
            ops.RunSQL(POLICY.format(table=t), reverse_sql=f"DROP POLICY tenant_isolation ON {t};"
                       f" ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;")
            for t in TABLES
        ),
    ]
