from tortoise import migrations
from tortoise.migrations import operations as ops

# A process that remembers configuration versions across requests (tenants/config/watch.py) hears of every change:
# the tenant's id when a version is added, withdrawn or removed, '*' when the table is truncated. NOTIFY is
# delivered at commit and carries no data beyond the tenant's id.
NOTIFY = """
CREATE FUNCTION civicgrid_config_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('civicgrid_config', '*');
    ELSE
        PERFORM pg_notify('civicgrid_config', (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id
                                                    ELSE NEW.tenant_id END)::text);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER config_version_changed AFTER INSERT OR UPDATE OR DELETE ON config_version
    FOR EACH ROW EXECUTE FUNCTION civicgrid_config_changed();
CREATE TRIGGER config_version_truncated AFTER TRUNCATE ON config_version
    FOR EACH STATEMENT EXECUTE FUNCTION civicgrid_config_changed();
"""

REVERSE = """
DROP TRIGGER config_version_truncated ON config_version;
DROP TRIGGER config_version_changed ON config_version;
DROP FUNCTION civicgrid_config_changed();
"""


class Migration(migrations.Migration):
    dependencies = [('civicgrid', '0023_config_documents_upgrade')]

    initial = False

    operations = [ops.RunSQL(NOTIFY, reverse_sql=REVERSE)]
