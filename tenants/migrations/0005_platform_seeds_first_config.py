from tortoise import migrations
from tortoise.migrations import operations as ops

# Creating a tenant with a preset is platform work: the platform path may insert a tenant's FIRST configuration
# version, and nothing else (it still reads no tenant data, and later versions are the tenant's own).
PLATFORM_SEED = """
CREATE POLICY platform_seed ON config_version FOR INSERT
    WITH CHECK (current_setting('app.platform', true) = 'on' AND version_no = 1);
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0004_territory_rls')]

    initial = False

    operations = [
        ops.RunSQL(PLATFORM_SEED, reverse_sql="DROP POLICY platform_seed ON config_version;"),
    ]
