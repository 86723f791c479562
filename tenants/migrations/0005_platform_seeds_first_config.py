from tortoise import migrations
from tortoise.migrations import operations as ops

# Creating a tenant with a preset is platform work: in the transaction that creates the tenant row (its xmin is
# this transaction), the platform path may insert that tenant's first configuration version, covering all
# periods, and the audit entry that records it. Nothing else: it still reads no tenant data, and every later
# version is the tenant's own.
CREATED_HERE = "EXISTS (SELECT 1 FROM tenant t WHERE t.id = tenant_id AND t.xmin = pg_current_xact_id()::xid)"
PLATFORM_SEED = f"""
CREATE POLICY platform_seed ON config_version FOR INSERT
    WITH CHECK (current_setting('app.platform', true) = 'on' AND version_no = 1
                AND effective_from = DATE '2000-01-01' AND {CREATED_HERE});
CREATE POLICY platform_seed ON audit_entry FOR INSERT
    WITH CHECK (current_setting('app.platform', true) = 'on' AND action = 'config.seed' AND {CREATED_HERE});
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0004_territory_rls')]

    initial = False

    operations = [
        ops.RunSQL(PLATFORM_SEED, reverse_sql="DROP POLICY platform_seed ON config_version; DROP POLICY platform_seed ON audit_entry;"),
    ]
